"""A crawl as the parent sees it: a run record, a child process with a wall-clock timeout,
a per-source report, and the health bookkeeping of each source."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler import secrets
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.display import visible
from wirewatch.crawler.records import SourceCounts
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.service.child import crawl_main
from wirewatch.crawler.store.schema import Run, RunSource, utcnow

log = logging.getLogger("wirewatch.crawl")


@dataclass(frozen=True)
class SourceReport:
    name: str
    status: str
    counts: SourceCounts = field(default_factory=SourceCounts)
    errors: tuple[str, ...] = ()
    duration: float = 0.0

    def line(self) -> str:
        c = self.counts
        status = "interrupted" if self.status == "interrupted" else self.status.upper()
        text = (f"{self.name}: {status} fetched={c.fetched} new={c.new} known={c.known} "
                f"skipped={c.skipped} failed={c.failed} gone={c.gone} matches={c.matches}")
        held = c.held_back()
        if held:
            text += f" (held back: {', '.join(f'{n} {why}' for why, n in held.items())})"
        if c.left:
            text += f", {c.left} left for the next crawl"
        text += f" ({self.duration:.1f}s)"
        return visible(text + (f" - {self.errors[0]}" if self.errors else ""))


@dataclass
class CrawlReport:
    run_id: int
    sources: list[SourceReport]
    duration: float

    @property
    def ok(self) -> bool:
        return all(s.status == "ok" for s in self.sources)


def run_crawl(config: Config, sessions: sessionmaker[Session], names: list[str] | None = None,
              trigger: str = "crawl", timeout: float | None = None, log_level: str = "INFO",
              log_format: str = "text", trial: bool = False) -> CrawlReport:
    """Crawl `names` (all sources by default) in a child process. A trial run stores and
    matches but queues no alert, operational ones included."""
    names = names or [s.name for s in config.sources]
    for name in names:
        config.source(name)                       # unknown names are a usage error before we start
    timeout = timeout or config.network.crawl_timeout
    with sessions.begin() as session:
        run = Run(trigger=trigger)
        session.add(run)
        session.flush()
        run_id = run.id
    started = time.monotonic()
    error = _run_child(config, names, run_id, timeout, log_level, log_format, trial)
    report = _collect(sessions, run_id, names, error, time.monotonic() - started)
    if not SHUTTING_DOWN.is_set():           # a crawl cut short by shutdown is not a source failure
        from wirewatch.crawler.service.health import record_health
        record_health(config, sessions, report, notify=not trial)
    return report


SHUTTING_DOWN = threading.Event()
_PRELOAD = ["wirewatch.crawler.service.child", "wirewatch.crawler.crawl.context",
            "wirewatch.crawler.crawl.pipeline", "wirewatch.crawler.crawl.settings",
            "wirewatch.crawler.store.database", "scrapy.crawler", "wirewatch.spiders"]


def _context():
    """Crawl children fork from a single-threaded fork server that has Scrapy imported already:
    a fresh process (and Twisted reactor) per crawl without paying the imports each time, and
    safe to use from the daemon's threads (the fork happens in the server, not here)."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    # The fork server is started as `python -c ...`, which puts the working directory first on
    # sys.path: a stray xml.py where wirewatch was started would run inside every crawl.
    # PYTHONSAFEPATH (Python 3.11+) keeps it off, for the fork server and what it starts.
    os.environ["PYTHONSAFEPATH"] = "1"
    return context


ACTIVE: set = set()             # running crawl children, so a daemon can stop them on shutdown
_ACTIVE_LOCK = threading.Lock()


def stop_active(grace: float) -> None:
    """Let running crawls finish within `grace` seconds, then terminate (and at last kill) them."""
    SHUTTING_DOWN.set()
    deadline = time.monotonic() + grace
    with _ACTIVE_LOCK:
        children = list(ACTIVE)
    for child in children:
        child.join(max(0.0, deadline - time.monotonic()))
    for child in children:
        if child.is_alive():
            log.warning("stopping crawl %s: shutdown grace period over", child.name)
            child.terminate()
    for child in children:
        child.join(5)
        if child.is_alive():
            child.kill()


def _run_child(config: Config, names: list[str], run_id: int, timeout: float, log_level: str,
               log_format: str, trial: bool) -> str | None:
    child = _context().Process(target=crawl_main, name=f"wirewatch-crawl-{run_id}", args=(
        config, names, run_id, secrets.registered(), log_level, log_format, trial))
    child.start()
    with _ACTIVE_LOCK:
        ACTIVE.add(child)
    try:
        child.join(timeout)
    finally:
        with _ACTIVE_LOCK:
            ACTIVE.discard(child)
    if child.is_alive():
        log.error("crawl %d exceeded its %.0fs timeout; stopping it", run_id, timeout)
        child.terminate()
        child.join(10)
        if child.is_alive():
            child.kill()
            child.join()
        return f"crawl timed out after {timeout:.0f}s"
    if child.exitcode != 0:
        return f"crawl process exited with code {child.exitcode}"
    return None


def _collect(sessions: sessionmaker[Session], run_id: int, names: list[str], error: str | None,
             duration: float) -> CrawlReport:
    with sessions.begin() as session:
        rows = {r.source: r for r in session.scalars(select(RunSource).where(RunSource.run_id == run_id))}
        reports = []
        for name in names:
            row = rows.get(name)
            if row is None:
                row = RunSource(run_id=run_id, source=name, status="failed",
                                errors=[redact(error or "the crawl ended before this source finished")])
                session.add(row)
            reports.append(SourceReport(name, row.status, SourceCounts.of(row), tuple(row.errors or []),
                                        row.duration or 0.0))
        run = session.get(Run, run_id)
        run.finished_at, run.duration = utcnow(), round(duration, 3)
        run.status = "ok" if all(r.status == "ok" for r in reports) else "failed"
        run.error = error
    return CrawlReport(run_id, reports, duration)
