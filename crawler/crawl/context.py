"""What the spiders and the pipeline of one crawl share: the database, the counters, the matcher."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.routing import Routes
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.records import AlertPolicy, SourceCounts
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.store.database import is_known, known_urls
from wirewatch.crawler.store.schema import (
    DocumentFailure,
    FetchState,
    RunSource,
    SourceState,
    UrlFailure,
    utcnow,
)

log = logging.getLogger("wirewatch.crawl")
FAILED_ATTEMPTS = 3         # crawls an article URL may fail (5xx, timeout) before it is given up
ROBOTS_TTL = 3600.0         # a site's robots.txt is read again after an hour


@dataclass
class SourceStats:
    """One source's progress in this crawl: its counters, errors and feed validators.

    A source fails only when it yields nothing usable. Parts that fail beside usable ones (a dead
    child sitemap, entries without an article link) are warnings of a crawl that succeeded."""
    source: str
    started: float = field(default_factory=time.monotonic)
    counts: SourceCounts = field(default_factory=SourceCounts)
    errors: list[str] = field(default_factory=list)
    source_failed: bool = False
    validators: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    finished: bool = False              # its run record is stored
    usable: int = 0                     # documents read (or answered 304) this crawl
    children: dict[str, str | None] = field(default_factory=dict)   # child document → why it failed, or None
    entries_without_link: int = 0
    child_kind: str = "child documents"  # what the children are, for the warning ("child sitemaps")

    def fail_source(self, message: str) -> None:
        self.source_failed = True
        self.error(message)

    def error(self, message: str) -> None:
        message = redact(message)           # errors are stored, printed and sent to operators
        if len(self.errors) < 20:
            self.errors.append(message)
        log.warning("%s: %s", self.source, message)

    def child_failed(self, url: str, reason: str) -> None:
        """A document the source's own index pointed to could not be read: a warning, unless in
        the end nothing of the source was usable."""
        self.children[url] = redact(reason)
        log.info("%s: child document failed: %s", self.source, redact(reason))

    def warnings(self) -> list[str]:
        """What failed beside what worked, one line each: '1 of 6 child sitemaps failed: HTTP 404
        for …/sitemap-2019.xml'."""
        failed = [(url, why) for url, why in self.children.items() if why]
        out = []
        if failed:
            out.append(f"{len(failed)} of {len(self.children)} {self.child_kind} failed: {failed[0][1]}"
                       + (f" (and {len(failed) - 1} more)" if len(failed) > 1 else ""))
        if self.entries_without_link:
            out.append(f"{self.entries_without_link} entries without an article link")
        return out


class Shared:
    """What the crawls of one worker process share, job after job: robots.txt per site (kept for
    an hour) and the extraction and matching processes (started with the first article)."""

    def __init__(self, config: Config, sessions: sessionmaker[Session] | None = None):
        from wirewatch.crawler.crawl.robots import RobotsCache  # Scrapy side only (worker process)
        self.config = config
        self.robots = RobotsCache(ttl=ROBOTS_TTL, sessions=sessions)     # shared through the database
        self._pool = None

    def pool(self):
        if self._pool is None:
            from wirewatch.crawler.analysis.pool import start_pool
            self._pool = start_pool([ref.include for ref in self.config.watches],
                                    self.config.workers.analysis_processes, self.config.analysis)
        return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


class CrawlContext:
    """One crawl job: its sources' counters, the articles it has claimed, its alert policy."""

    def __init__(self, config: Config, sessions: sessionmaker[Session], run_id: int, trial: bool = False,
                 names: list[str] | tuple[str, ...] | None = None, shared: Shared | None = None):
        self.config = config
        self.sessions = sessions
        self.run_id = run_id
        self.names = tuple(names) if names is not None else tuple(s.name for s in config.sources)
        from wirewatch.crawler.analysis.matching.watches import tolerances
        self.alert_policy = AlertPolicy(self._baseline_sources(), config.alerts.max_age, trial,
                                        tolerances([w.include for w in config.watches]))
        self._own = shared is None
        self.shared = shared or Shared(config, sessions)
        self.robots = self.shared.robots
        self.channels = Routes.of(config)              # which channels get which matches
        self.stats: dict[str, SourceStats] = {name: SourceStats(name) for name in self.names}
        self._claimed: set[str] = set()
        self.interrupted = False            # stopped by a shutdown: its sources say "interrupted"
        self.timed_out: float | None = None  # stopped by the job's timeout (seconds)

    def _baseline_sources(self) -> frozenset[str]:
        """Sources of this job never crawled in full whose backlog is only stored, not alerted."""
        store = [s.name for s in self.config.sources if s.backlog == "store" and s.name in self.names]
        if not store:
            return frozenset()
        with self.sessions.begin() as session:
            done = {state.source: state.backlog_done for state in session.scalars(
                select(SourceState).where(SourceState.source.in_(store)))}
            unknown = [name for name in store if done.get(name) is None]
            if unknown:                    # a database from before backlog_done: read the run records once
                complete = set(session.scalars(select(RunSource.source).where(
                    RunSource.source.in_(unknown), RunSource.status == "ok",
                    (RunSource.left.is_(None)) | (RunSource.left == 0)).distinct()))
                for name in unknown:
                    done[name] = name in complete
                    if name in complete:
                        _state(session, name).backlog_done = True
        return frozenset(name for name in store if not done[name])

    def pool(self):
        """Worker processes for extraction and matching, started when the first article is queued
        (a crawl that finds nothing new never starts them)."""
        return self.shared.pool()

    def close(self) -> None:
        if self._own:
            self.shared.close()

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
        failed_children = [why for why in stats.children.values() if why]
        if failed_children and not stats.usable and not stats.source_failed:
            stats.fail_source(f"nothing usable: every document failed; {failed_children[0]}")
        status = "ok"
        if reason not in ("finished", "closespider_itemcount"):
            if self.interrupted:
                status = "interrupted"
                stats.error("interrupted by shutdown")
            elif self.timed_out is not None:
                stats.fail_source(f"crawl timed out after {self.timed_out:.0f}s")
            else:
                stats.fail_source(f"crawl ended early: {reason}")
        if stats.source_failed and status != "interrupted":   # its request cut off by the stop is no failure
            status = "failed"
        warnings = stats.warnings() if status == "ok" else []
        for line in warnings:
            log.warning("%s: %s", name, line)
        with self.sessions.begin() as session:
            session.add(RunSource(
                run_id=self.run_id, source=name, status=status, errors=stats.errors, warnings=warnings or None,
                duration=round(time.monotonic() - stats.started, 3), **stats.counts.as_dict()))
            # the baseline is done by the first crawl that stored anything (or succeeded), whatever
            # failed beside it, as long as it left nothing for the next crawl
            if (status == "ok" or stats.counts.new) and not stats.counts.left:
                state = _state(session, name)
                if not state.backlog_done:
                    state.backlog_done = True
            if status == "ok":
                _state(session, name).last_warning = warnings[0] if warnings else None
                self._child_health(session, name, stats)
            # validators are kept only when the source went well and nothing was left over: the
            # next crawl must read the document in full to find the entries it still owes
            if status == "ok" and not stats.counts.left and not stats.counts.failed:
                for url, (etag, last_modified) in stats.validators.items():
                    state = session.get(FetchState, url) or FetchState(url=url, source=name)
                    state.etag, state.last_modified, state.updated_at = etag, last_modified, utcnow()
                    session.merge(state)


    def _child_health(self, session: Session, name: str, stats: SourceStats) -> None:
        """A child document failing `daemon.failures_before_alert` crawls in a row is reported once
        to operators, naming it; one that answers again is forgotten."""
        threshold = self.config.daemon.failures_before_alert
        for url, why in stats.children.items():
            row = session.get(DocumentFailure, url)
            if why is None:
                if row is not None:
                    session.delete(row)
                continue
            row = row or DocumentFailure(url=url, source=name, failures=0, alerted=False)
            row.failures, row.last_error, row.last_at = row.failures + 1, why[:1000], utcnow()
            session.merge(row)
            if row.failures >= threshold and not row.alerted and not self.alert_policy.trial:
                from wirewatch.crawler.service.health import notify_operators
                notify_operators(session, self.config, name, "degraded",
                                 f"source {name}: child document {url} failed {row.failures} crawls in a row "
                                 f"while the rest of the source works; last error: {why}")
                row.alerted = True


def _state(session: Session, name: str) -> SourceState:
    state = session.get(SourceState, name)
    if state is None:
        state = SourceState(source=name, consecutive_failures=0, failing_alerted=False, quiet_alerted=False)
        session.add(state)
    return state
