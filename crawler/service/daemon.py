"""`wirewatch run`: the daemon.

Twice a second a scheduler tick (APScheduler 3) reads which sources are due from the database and
hands them, as one job, to the crawl worker: a long-lived process running Scrapy (service/worker.py)
that crawls many sources at once and reports each as it finishes. The daemon records each source's
health as it comes back, and the alert dispatcher runs every few seconds. SIGHUP reloads the
config (the next jobs go to a worker started with it), SIGTERM / SIGINT stop it within the grace
period; the database keeps everything else."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
import time
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import select, update

from wirewatch.alerts.model import operational_alert
from wirewatch.alerts.outbox import Dispatcher, release_leases, send_now
from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.records import CrawlJob
from wirewatch.crawler.service.health import record_health
from wirewatch.crawler.service.lock import DaemonLock
from wirewatch.crawler.service.runner import collect, new_run, source_report
from wirewatch.crawler.service.schedule import claim_due, due_again
from wirewatch.crawler.service.workers import CrawlService
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Run, RunSource, utcnow

log = logging.getLogger("wirewatch.daemon")
TICK = 0.5                      # seconds between two looks at what is due


class Daemon:
    def __init__(self, config_path: Path, config: Config, log_level: str = "INFO", log_format: str = "text"):
        self.config_path = Path(config_path)
        self.config = config
        self.log_level, self.log_format = log_level, log_format
        self.sessions = open_database(config.storage, config.base_dir)
        self.lock = DaemonLock(config.storage, config.base_dir)
        self.stop = threading.Event()
        self.failed = False                      # stopped because the database is gone: exit 1
        self.reload_requested = threading.Event()
        self.dispatcher: Dispatcher | None = None
        self.web = None
        self.crawls = CrawlService(config, self._source_done, self._job_done, log_level, log_format)
        self._busy: dict[str, int] = {}          # source → run id of the job crawling it
        self._started: dict[int, float] = {}     # run id → when its job was handed out
        self._retried: set[str] = set()          # sources retried once after a worker died
        self._state_lock = threading.Lock()
        self.scheduler = BackgroundScheduler(
            timezone=dt.timezone.utc,
            executors={"default": ThreadPoolExecutor(1), "dispatch": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60})
        self.scheduler.add_listener(self._job_event, EVENT_JOB_MAX_INSTANCES | EVENT_JOB_ERROR)

    # ---- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        self.lock.acquire()
        try:
            self._install_signals()
            self._close_interrupted_runs()
            released = release_leases(self.sessions)
            if released:
                log.warning("%d alert(s) claimed by a dispatcher that is gone are due again", released)
            self.dispatcher = Dispatcher(self.config, self.sessions)
            if self.config.web is not None:         # the read-only web view, in a thread of its own
                from wirewatch.crawler.web.server import WebThread
                self.web = WebThread(self.config).start()
            self._schedule(self.config)
            self.scheduler.start()
            log.info("daemon started: %d source(s), %d channel(s), dispatch every %gs",
                     len(self.config.sources), len(self.config.channels), self.config.daemon.dispatch_every)
            while not self.stop.wait(0.5):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if self._storage_lost():
                    break
            self._shutdown()
            return 1 if self.failed else 0
        finally:
            self.lock.release()

    def _storage_lost(self) -> bool:
        """The database file deleted or replaced under us: writing on would go into the void while
        `status` and a second daemon see another database. Say so everywhere, then stop."""
        reason = self.lock.lost()
        if reason is None:
            return False
        message = f"{reason}: the daemon stops rather than write into a file nobody reads"
        log.error("%s", message)
        for channel, outcome in send_now(self.config, operational_alert("wirewatch", "storage", message)):
            log.info("operator alert to %s: %s", channel, outcome.status)
        self.failed = True
        return True

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _shutdown(self) -> None:
        grace = self.config.daemon.grace
        log.info("stopping: no new crawls; waiting up to %gs for running crawls and sends", grace)
        self.scheduler.pause()
        self.crawls.shutdown(max(1.0, grace - 2))
        self.scheduler.shutdown(wait=True)
        if self.dispatcher is not None:
            self.dispatcher.close()                 # in-flight sends finish; rows stay consistent
        if self.web is not None:
            self.web.close()
        log.info("stopped")

    def _close_interrupted_runs(self) -> None:
        """Scheduled runs left 'running' by a daemon that died are marked, not left dangling."""
        with self.sessions.begin() as session:
            session.execute(update(Run).where(Run.status == "running", Run.trigger == "schedule")
                            .values(status="interrupted", finished_at=utcnow()))

    def reload(self) -> None:
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config reload rejected, keeping the running config: %s", exc)
            return
        except Exception:               # noqa: BLE001 - a reload must never stop the daemon
            log.exception("config reload failed, keeping the running config")
            return
        if new.storage != self.config.storage:
            log.error("config reload rejected: storage cannot change while running (restart instead)")
            return
        old_dispatcher = self.dispatcher
        self.crawls.reconfigure(new)            # before the tick can hand out a new source
        self.config = new
        with self._state_lock:
            self._retried &= {s.name for s in new.sources}
        self.dispatcher = Dispatcher(new, self.sessions)
        self._schedule(new)
        if old_dispatcher is not None:
            old_dispatcher.close()
        log.info("config reloaded: %d source(s), %d channel(s)", len(new.sources), len(new.channels))

    # ---- jobs --------------------------------------------------------------------------------
    def _schedule(self, config: Config) -> None:
        now = dt.datetime.now(dt.timezone.utc)
        self.scheduler.add_job(self._tick, IntervalTrigger(seconds=TICK), id="crawl", name="crawl due sources",
                               replace_existing=True, next_run_time=now)
        self.scheduler.add_job(self._prune, IntervalTrigger(days=1), id="prune", name="apply retention",
                               executor="dispatch", replace_existing=True,
                               next_run_time=now + dt.timedelta(minutes=10))
        self.scheduler.add_job(self._dispatch, IntervalTrigger(seconds=config.daemon.dispatch_every),
                               id="dispatch", name="deliver alerts", executor="dispatch",
                               replace_existing=True, next_run_time=now)

    def _tick(self) -> None:
        """Hand the due sources to the crawl worker as one job (at most `workers.crawls` at once)."""
        if self.stop.is_set():
            return
        self.crawls.reap_stuck()
        config = self.config
        with self._state_lock:
            busy = set(self._busy)
        names = claim_due(self.sessions, config, busy, config.workers.crawls - len(busy))
        if not names:
            return
        run_id = new_run(self.sessions, "schedule")
        with self._state_lock:
            for name in names:
                self._busy[name] = run_id
            self._started[run_id] = time.monotonic()
        job = CrawlJob(run_id, tuple(names), False, config.network.crawl_timeout)
        try:
            self.crawls.submit(job)
        except Exception as exc:                  # noqa: BLE001 - no worker: the job fails, nothing stays busy
            log.error("crawl %d could not start: %s", run_id, exc)
            self._job_done(job, f"the crawl worker could not start: {exc}")

    def _source_done(self, job: CrawlJob, name: str) -> None:
        with self.sessions() as session:
            row = session.scalars(select(RunSource).where(RunSource.run_id == job.run_id,
                                                          RunSource.source == name)).first()
        if row is not None:
            self._finished(job.run_id, [source_report(row)])

    def _job_done(self, job: CrawlJob, error: str | None) -> None:
        with self._state_lock:
            started = self._started.pop(job.run_id, time.monotonic())
            unreported = [name for name in job.names if self._busy.get(name) == job.run_id]
        report = collect(self.sessions, job.run_id, job.names, error, time.monotonic() - started,
                         interrupted=self.stop.is_set())
        self._finished(job.run_id, [s for s in report.sources if s.name in unreported])
        interrupted = [s.name for s in report.sources if s.status == "interrupted"]
        if interrupted:                            # cut off by the shutdown: first thing after a restart
            due_again(self.sessions, interrupted)
        if error and not self.stop.is_set():
            retry = [name for name in unreported if name not in self._retried]
            if retry:                              # once: a source that kills workers waits its turn
                self._retried.update(retry)
                due_again(self.sessions, retry)
                log.warning("crawl %d was lost (%s); %d source(s) due again now", job.run_id, error, len(retry))

    def _finished(self, run_id: int, reports) -> None:
        if not reports:
            return
        record_health(self.config, self.sessions, reports)
        for source in reports:
            quiet = source.status == "ok" and not (source.counts.new or source.counts.matches or source.counts.failed)
            log.log(logging.DEBUG if quiet else logging.INFO, "%s", source.line(),
                    extra={"source": source.name, "run_id": run_id, "counts": source.counts.as_dict()})
            with self._state_lock:
                if self._busy.get(source.name) == run_id:
                    del self._busy[source.name]
                if source.status == "ok":
                    self._retried.discard(source.name)

    def _prune(self) -> None:
        """Retention, once a day (the freed space is reused; `wirewatch prune` also vacuums)."""
        from wirewatch.crawler.store.retention import prune
        log.info("retention: %s", prune(self.sessions, self.config.retention).line(dry_run=False))

    def _dispatch(self) -> None:
        if self.dispatcher is not None and not self.stop.is_set():
            self.dispatcher.dispatch_due(wait_seconds=0)

    def _job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.debug("%s: previous run still under way; this one skipped", event.job_id)
        elif event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)
