"""A crawl as the parent sees it: a run record, a job for a crawl worker with a wall-clock
timeout, a per-source report, and the health bookkeeping of each source."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.display import visible
from wirewatch.crawler.records import CrawlJob, SourceCounts
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.service.workers import CrawlService
from wirewatch.crawler.store.schema import Run, RunSource, utcnow

log = logging.getLogger("wirewatch.crawl")


@dataclass(frozen=True)
class SourceReport:
    name: str
    status: str
    counts: SourceCounts = field(default_factory=SourceCounts)
    errors: tuple[str, ...] = ()
    duration: float = 0.0
    warnings: tuple[str, ...] = ()           # parts that failed in a crawl that succeeded

    def line(self) -> str:
        c = self.counts
        if self.status == "interrupted":          # cut off by a shutdown: counts would mislead
            return visible(f"{self.name}: interrupted by shutdown after {self.duration:.1f}s"
                           + (f" ({c.fetched} fetched, {c.new} new)" if c.fetched else ""))
        status = self.status.upper()
        text = (f"{self.name}: {status} fetched={c.fetched} new={c.new} known={c.known} "
                f"skipped={c.skipped} failed={c.failed} gone={c.gone} matches={c.matches}")
        held = c.held_back()
        if held:
            text += f" (held back: {', '.join(f'{n} {why}' for why, n in held.items())})"
        if c.left:
            text += f", {c.left} left for the next crawl"
        text += f" ({self.duration:.1f}s)"
        if self.warnings:
            return visible(f"{text} - partly failed: {self.warnings[0]}")
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
    """Crawl `names` (all sources by default) as one job of a crawl worker started for it. A
    trial run stores and matches but queues no alert, operational ones included."""
    names = names or [s.name for s in config.sources]
    for name in names:
        config.source(name)                       # unknown names are a usage error before we start
    timeout = timeout or config.network.crawl_timeout
    run_id = new_run(sessions, trigger)
    started = time.monotonic()
    finished: list[str | None] = []
    done = threading.Event()

    def job_done(job: CrawlJob, error: str | None) -> None:
        finished.append(error)
        done.set()

    service = CrawlService(config, on_source=lambda job, name: None, on_job=job_done,
                           log_level=log_level, log_format=log_format)
    service.submit(CrawlJob(run_id, tuple(names), trial, timeout))
    if not done.wait(timeout + 30):               # the worker stops a job at its timeout; this is the backstop
        log.error("crawl %d exceeded its %.0fs timeout; stopping it", run_id, timeout)
        service.kill()
        finished.insert(0, f"crawl timed out after {timeout:.0f}s")
    service.shutdown(grace=10)
    report = collect(sessions, run_id, names, finished[0] if finished else None, time.monotonic() - started)
    from wirewatch.crawler.service.health import record_health
    record_health(config, sessions, report.sources, notify=not trial)
    return report


def new_run(sessions: sessionmaker[Session], trigger: str) -> int:
    with sessions.begin() as session:
        run = Run(trigger=trigger)
        session.add(run)
        session.flush()
        return run.id


def source_report(row: RunSource) -> SourceReport:
    return SourceReport(row.source, row.status, SourceCounts.of(row), tuple(row.errors or []), row.duration or 0.0,
                        tuple(row.warnings or []))


def collect(sessions: sessionmaker[Session], run_id: int, names: list[str] | tuple[str, ...], error: str | None,
            duration: float, interrupted: bool = False) -> CrawlReport:
    """The run's outcome per source; a source with no record (the worker died or was stopped
    first) gets one: failed with `error`, or interrupted by a shutdown."""
    with sessions.begin() as session:
        rows = {r.source: r for r in session.scalars(select(RunSource).where(RunSource.run_id == run_id))}
        reports = []
        for name in names:
            row = rows.get(name)
            if row is None:
                row = RunSource(run_id=run_id, source=name, status="interrupted" if interrupted else "failed",
                                errors=[redact(error or "the crawl ended before this source finished")],
                                **SourceCounts().as_dict())
                session.add(row)
            reports.append(source_report(row))
        run = session.get(Run, run_id)
        run.finished_at, run.duration = utcnow(), round(duration, 3)
        run.status = "ok" if all(r.status == "ok" for r in reports) else \
            "interrupted" if any(r.status == "interrupted" for r in reports) else "failed"
        run.error = error
    return CrawlReport(run_id, reports, duration)
