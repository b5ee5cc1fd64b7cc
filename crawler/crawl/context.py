"""What the spiders and the pipeline of one crawl share: the database, the counters, the matcher."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.records import AlertPolicy, SourceCounts
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.store.database import is_known, known_urls
from wirewatch.crawler.store.schema import FetchState, RunSource, UrlFailure, utcnow

log = logging.getLogger("wirewatch.crawl")
FAILED_ATTEMPTS = 3         # crawls an article URL may fail (5xx, timeout) before it is given up


@dataclass
class SourceStats:
    """One source's progress in this crawl: its counters, errors and feed validators."""
    source: str
    started: float = field(default_factory=time.monotonic)
    counts: SourceCounts = field(default_factory=SourceCounts)
    errors: list[str] = field(default_factory=list)
    source_failed: bool = False
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)

    def fail_source(self, message: str) -> None:
        self.source_failed = True
        self.error(message)

    def error(self, message: str) -> None:
        message = redact(message)           # errors are stored, printed and sent to operators
        if len(self.errors) < 20:
            self.errors.append(message)
        log.warning("%s: %s", self.source, message)


class CrawlContext:
    def __init__(self, config: Config, sessions: sessionmaker[Session], run_id: int, trial: bool = False):
        self.config = config
        self.sessions = sessions
        self.run_id = run_id
        self.alert_policy = AlertPolicy(self._baseline_sources(), config.alerts.max_age, trial)
        from wirewatch.crawler.crawl.robots import RobotsCache  # Scrapy side only (child process)
        self.robots = RobotsCache()
        self._pool = None
        self.channels = config.channel_names()
        self.stats: dict[str, SourceStats] = {s.name: SourceStats(s.name) for s in config.sources}
        self._claimed: set[str] = set()

    def _baseline_sources(self) -> frozenset[str]:
        """Sources never crawled successfully whose backlog is only stored, not alerted."""
        with self.sessions() as session:     # crawled once in full: ok, and nothing left for later
            done = set(session.scalars(select(RunSource.source).where(
                RunSource.status == "ok", (RunSource.left.is_(None)) | (RunSource.left == 0))))
        return frozenset(s.name for s in self.config.sources if s.backlog == "store" and s.name not in done)

    def pool(self):
        """Worker processes for extraction and matching, started when the first article is queued
        (a crawl that finds nothing new never starts them)."""
        if self._pool is None:
            from wirewatch.crawler.analysis.pool import start_pool
            self._pool = start_pool([ref.include for ref in self.config.watches],
                                    self.config.workers.analysis_processes, self.config.analysis)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def claim(self, canonical: str) -> bool:
        """True for the first source of this crawl that asks for an article; two sources listing
        the same article (a feed and a sitemap) download it once."""
        if canonical in self._claimed:
            return False
        self._claimed.add(canonical)
        return True

    def unclaim(self, canonical: str) -> None:
        """An article left for the next crawl may still come from another source in this one."""
        self._claimed.discard(canonical)

    def remember_gone(self, canonical: str, source: str, reason: str) -> None:
        from wirewatch.crawler.store.ingest import record_seen
        record_seen(self.sessions, canonical, source, f"gone: {reason}")

    def count_failure(self, canonical: str, source: str, reason: str) -> None:
        """One more failed attempt; at FAILED_ATTEMPTS the URL is remembered and not tried again."""
        from wirewatch.crawler.store.ingest import record_seen
        with self.sessions.begin() as session:
            row = session.get(UrlFailure, canonical) or UrlFailure(canonical_url=canonical, source=source, failures=0)
            row.failures, row.last_error, row.last_at = row.failures + 1, reason[:1000], utcnow()
            session.merge(row)
            give_up = row.failures >= FAILED_ATTEMPTS
        if give_up:
            record_seen(self.sessions, canonical, source, f"failed {FAILED_ATTEMPTS} times, not tried again: {reason}")

    def is_known(self, canonical: str) -> bool:
        with self.sessions() as session:
            return is_known(session, canonical)

    def known(self, canonicals: list[str]) -> set[str]:
        with self.sessions() as session:
            return known_urls(session, canonicals)

    def validators(self, url: str) -> tuple[str | None, str | None]:
        with self.sessions() as session:
            state = session.get(FetchState, url)
            return (state.etag, state.last_modified) if state else (None, None)

    def finish_source(self, name: str, reason: str) -> None:
        """Record the source's counts; keep conditional-GET validators only if it went well."""
        stats = self.stats[name]
        if reason not in ("finished", "closespider_itemcount"):
            stats.fail_source(f"crawl ended early: {reason}")
        with self.sessions.begin() as session:
            session.add(RunSource(
                run_id=self.run_id, source=name, status="failed" if stats.source_failed else "ok",
                errors=stats.errors, duration=round(time.monotonic() - stats.started, 3),
                **stats.counts.as_dict()))
            # validators are kept only when the source went well and nothing was left over: the
            # next crawl must read the document in full to find the entries it still owes
            if not stats.source_failed and not stats.counts.left and not stats.counts.failed:
                for url, (etag, last_modified) in stats.validators.items():
                    state = session.get(FetchState, url) or FetchState(url=url, source=name)
                    state.etag, state.last_modified, state.updated_at = etag, last_modified, utcnow()
                    session.merge(state)
