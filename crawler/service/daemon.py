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
from wirewatch.crawler.service.queue import HEARTBEAT, STALLED_AFTER, defer_sites, ensure_schema, held_sources, retry_stalled
from wirewatch.crawler.service.schedule import claim_due, due_again
from wirewatch.crawler.service.workers import CrawlService
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.outage import Outage, is_outage
from wirewatch.crawler.store.schema import Run, RunSource, utcnow

log = logging.getLogger("wirewatch.daemon")
TICK = 0.5                      # seconds between two looks at what is due
REMOTE_ROOM = 5000              # queue mode: sources deferred at most per tick
SWEEP_EVERY = 5.0               # queue mode: seconds between two looks for silent workers
LOCK_RETRY = 2.0                # seconds between two attempts at the daemon lock


class Daemon:
    def __init__(self, config_path: Path, config: Config, log_level: str = "INFO", log_format: str = "text",
                 standby: bool = False):
        self.config_path = Path(config_path)
        self.config = config
        self.log_level, self.log_format = log_level, log_format
        self.standby = standby                   # wait for the lock rather than refuse to start
        self.sessions = open_database(config.storage, config.base_dir)
        self.lock = DaemonLock(config.storage, config.base_dir)
        self.outage = Outage()
        self.scheduling = threading.Event()      # set while this daemon holds the lock and schedules
        self.last_tick: float | None = None      # time.time() of the scheduler's last tick (/healthz)
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
        self._install_signals()
        if not self._take_lock():
            self.lock.release()
            return 0                              # stopped while standing by
        try:
            if self.config.workers.remote:           # the crawl job queue's tables, created once
                self.outage.guard("creating the job queue", ensure_schema, self.sessions.kw["bind"])
            self._close_interrupted_runs()
            released = release_leases(self.sessions)
            if released:
                log.warning("%d alert(s) claimed by a dispatcher that is gone are due again", released)
            self.dispatcher = Dispatcher(self.config, self.sessions, self.outage)
            if self.config.web is not None:         # the web view, in a thread of its own
                from wirewatch.crawler.web.server import WebThread
                self.web = WebThread(self.config, health=self.health).start()
            self.scheduling.set()
            self._schedule(self.config)
            self.scheduler.start()
            log.info("daemon started: %d source(s), %d channel(s), dispatch every %gs%s",
                     len(self.config.sources), len(self.config.channels), self.config.daemon.dispatch_every,
                     "; crawls go to `wirewatch worker`s through the job queue (workers.remote)"
                     if self.config.workers.remote else "")
            while not self.stop.wait(0.5):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
                if self._lock_lost():
                    break
            self._shutdown()
            return 1 if self.failed else 0
        finally:
            self.lock.release()

    def health(self) -> dict:
        """What /healthz says of the scheduler: when it last ticked, and whether it schedules."""
        return {"last_tick": self.last_tick, "scheduling": self.scheduling.is_set()}

    def _take_lock(self) -> bool:
        """The lock, at once or (standby) when the daemon holding it goes; False if stopped first."""
        if not (self.standby and self.lock.postgres):
            self.lock.acquire()
            return True
        said = False
        while not self.stop.is_set():
            try:
                if self.lock.try_advisory():
                    self.outage.ok()
                    if said:
                        log.warning("the other daemon is gone: this one holds the lock and takes over")
                    return True
                if not said:
                    log.info("standing by: another daemon holds the lock on this database; waiting for it")
                    said = True
            except Exception as exc:               # noqa: BLE001 - an unreachable server: wait calmly
                if not is_outage(exc):
                    raise
                self.outage.failed("waiting for the daemon lock", exc)
            self.stop.wait(LOCK_RETRY)
        return False

    def _lock_lost(self) -> bool:
        """True when the daemon must stop. SQLite: the database file deleted or replaced under us
        (writing on would go into the void). PostgreSQL: the advisory lock lost — scheduling stops
        at once; the daemon takes the lock back and schedules again, or stands by (--standby) or
        exits 1 when another daemon took it meanwhile."""
        reason = self.lock.lost()
        if reason is None:
            return False
        if not self.lock.postgres:
            self._tell_operators("storage", f"{reason}: the daemon stops rather than write into a file nobody reads")
            self.failed = True
            return True
        self.scheduling.clear()
        self._tell_operators("lock", f"{reason}; this daemon stopped scheduling until it holds the lock again")
        said_other = False
        while not self.stop.is_set():
            try:
                if self.lock.try_advisory():
                    self.outage.ok()
                    log.warning("the daemon lock is held again: scheduling resumes")
                    self.scheduling.set()
                    return False
                if not self.standby:
                    log.error("another daemon took the lock meanwhile: this one exits (run it with --standby "
                              "to wait instead)")
                    self.failed = True
                    return True
                if not said_other:
                    log.warning("another daemon took the lock meanwhile: standing by")
                    said_other = True
            except Exception as exc:                # noqa: BLE001 - the server is down: wait calmly
                if not is_outage(exc):
                    raise
                self.outage.failed("taking the daemon lock back", exc)
            self.stop.wait(LOCK_RETRY)
        return True

    def _tell_operators(self, event: str, message: str) -> None:
        log.error("%s", message)
        try:
            for channel, outcome in send_now(self.config, operational_alert("wirewatch", event, message)):
                log.info("operator alert to %s: %s", channel, outcome.status)
        except Exception as exc:                    # noqa: BLE001 - best effort, the message is logged
            log.warning("operator alert not sent: %s", exc)

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _shutdown(self) -> None:
        """Every step runs, and a database that went away meanwhile costs a line, not the exit code."""
        grace = self.config.daemon.grace
        log.info("stopping: no new crawls; waiting up to %gs for running crawls and sends", grace)
        self.scheduling.clear()
        for step in (self.scheduler.pause, lambda: self.crawls.shutdown(max(1.0, grace - 2)),
                     lambda: self.scheduler.shutdown(wait=True),
                     lambda: self.dispatcher is not None and self.dispatcher.close(),   # in-flight sends finish
                     lambda: self.web is not None and self.web.close()):
            try:
                step()
            except Exception as exc:               # noqa: BLE001 - stopping goes on
                if not is_outage(exc):
                    log.warning("while stopping: %s: %s", type(exc).__name__, exc)
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
        self.dispatcher = Dispatcher(new, self.sessions, self.outage)
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
        if config.workers.remote:
            self.scheduler.add_job(self._watch_workers, IntervalTrigger(seconds=SWEEP_EVERY), id="workers",
                                   name="watch the crawl workers", executor="dispatch", replace_existing=True,
                                   next_run_time=now)
        elif self.scheduler.get_job("workers") is not None:
            self.scheduler.remove_job("workers")
        self.scheduler.add_job(self._dispatch, IntervalTrigger(seconds=config.daemon.dispatch_every),
                               id="dispatch", name="deliver alerts", executor="dispatch",
                               replace_existing=True, next_run_time=now)

    def _tick(self) -> None:
        """Hand the due sources to the crawl worker as one job (at most `workers.crawls` at once),
        or in queue mode defer one job per site for the workers, only while this daemon holds the
        lock."""
        self.last_tick = time.time()
        if self.stop.is_set() or not self.scheduling.is_set():
            return
        config = self.config
        if config.workers.remote:
            self.outage.guard("queueing due sources", self._defer_due, config)
            return
        self.crawls.reap_stuck()
        with self._state_lock:
            busy = set(self._busy)
        names = self.outage.guard("looking for due sources", claim_due, self.sessions, config, busy,
                                  config.workers.crawls - len(busy), guard=self.lock.guard_sql())
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

    def _defer_due(self, config: Config) -> None:
        """Queue mode: the due sources, one job per site, deferred in the transaction that claims them."""
        with self.sessions() as session:
            held = held_sources(session)
        deferred: dict[str, list[str]] = {}

        def defer(session, names: list[str]) -> None:
            deferred.update(defer_sites(session, names, {n: config.find(n).url for n in names},
                                        config.network.crawl_timeout))
        names = claim_due(self.sessions, config, held, REMOTE_ROOM, then=defer, guard=self.lock.guard_sql())
        if names:
            log.debug("queued %d source(s) as %d site job(s)", len(names), len(deferred))

    def _watch_workers(self) -> None:
        """Queue mode: jobs of silent workers go to others; a worker silent past its heartbeat is
        reported to operators once (and when it is back)."""
        if self.stop.is_set() or not self.scheduling.is_set():
            return
        self.outage.guard("watching the crawl workers", self._sweep)

    def _sweep(self) -> None:
        from wirewatch.crawler.store.schema import WorkerRow
        # nobody could beat while the database was away: a heartbeat missed then says nothing
        calm = self.outage.recent(STALLED_AFTER + HEARTBEAT)
        with self.sessions.begin() as session:
            for job in retry_stalled(session, None if calm else STALLED_AFTER):
                log.warning("job %d (site %s: %s) was held by a worker that went silent; queued again as "
                            "attempt %d", job.job_id, job.site, ", ".join(job.sources), job.attempt + 1)
        silent_after = self.config.workers.silent_after
        if self.outage.recent(silent_after + HEARTBEAT):
            return
        cutoff = utcnow() - dt.timedelta(seconds=silent_after)
        with self.sessions.begin() as session:
            for worker in session.scalars(select(WorkerRow).where(WorkerRow.stopped_at.is_(None))):
                name = f"worker {worker.host}:{worker.pid}"
                if worker.last_heartbeat < utcnow() - dt.timedelta(hours=1):
                    worker.stopped_at = worker.last_heartbeat         # silent for an hour: presumed gone
                    log.warning("%s silent for an hour: presumed gone (it shows as stopped)", name)
                    continue
                if worker.last_heartbeat < cutoff and not worker.silent_alerted:
                    worker.silent_alerted = True
                    since = worker.last_heartbeat.strftime("%Y-%m-%d %H:%M:%S")
                    self._tell_operators("worker", f"{name} has been silent since {since} UTC (no heartbeat for "
                                                   f"{silent_after:g}s); its jobs go to the other workers")
                elif worker.last_heartbeat >= cutoff and worker.silent_alerted:
                    worker.silent_alerted = False
                    log.warning("%s is heart-beating again", name)

    def _source_done(self, job: CrawlJob, name: str) -> None:
        def read():
            with self.sessions() as session:
                return session.scalars(select(RunSource).where(RunSource.run_id == job.run_id,
                                                               RunSource.source == name)).first()
        row = self.outage.guard("recording a crawl", read)
        if row is not None:
            self.outage.guard("recording a crawl", self._finished, job.run_id, [source_report(row)])

    def _job_done(self, job: CrawlJob, error: str | None) -> None:
        with self._state_lock:
            started = self._started.pop(job.run_id, time.monotonic())
            unreported = [name for name in job.names if self._busy.get(name) == job.run_id]
        try:
            self.outage.guard("recording a crawl", self._record_job, job, error, started, unreported)
        finally:                                   # whatever the database says, the sources are free again
            with self._state_lock:
                for name in job.names:
                    if self._busy.get(name) == job.run_id:
                        del self._busy[name]

    def _record_job(self, job: CrawlJob, error: str | None, started: float, unreported: list[str]) -> None:
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
        report = self.outage.guard("applying retention", prune, self.sessions, self.config.retention)
        if report is not None:
            log.info("retention: %s", report.line(dry_run=False))

    def _dispatch(self) -> None:
        if self.dispatcher is not None and not self.stop.is_set():
            self.dispatcher.dispatch_due(wait_seconds=0)

    def _job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            log.debug("%s: previous run still under way; this one skipped", event.job_id)
        elif event.exception is not None and is_outage(event.exception):
            self.outage.failed(f"running {event.job_id}", event.exception)
        elif event.exception is not None:
            log.error("job %s failed: %s: %s", event.job_id, type(event.exception).__name__, event.exception)
