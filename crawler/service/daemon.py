"""`wirewatch run`: the daemon. APScheduler 3 runs one crawl job per source on its own schedule
(each crawl in a child process), and the alert dispatcher every few seconds. SIGHUP reloads the
config, SIGTERM / SIGINT stop it within the grace period; the database keeps everything else."""

from __future__ import annotations

import datetime as dt
import logging
import signal
import threading
from pathlib import Path

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES, JobExecutionEvent
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import update

from wirewatch.alerts.outbox import Dispatcher, release_leases
from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Source
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.service.lock import DaemonLock
from wirewatch.crawler.service.runner import run_crawl, stop_active
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Run, SourceState, utcnow

log = logging.getLogger("wirewatch.daemon")
MISFIRE_GRACE = 3600            # a crawl that could not start on time still runs within the hour


class Daemon:
    def __init__(self, config_path: Path, config: Config, log_level: str = "INFO", log_format: str = "text"):
        self.config_path = Path(config_path)
        self.config = config
        self.log_level, self.log_format = log_level, log_format
        self.sessions = open_database(config.storage, config.base_dir)
        self.lock = DaemonLock(config.storage, config.base_dir)
        self.stop = threading.Event()
        self.reload_requested = threading.Event()
        self.dispatcher: Dispatcher | None = None
        self.scheduler = BackgroundScheduler(
            timezone=dt.timezone.utc,
            executors={"default": ThreadPoolExecutor(config.workers.crawl_processes),
                       "dispatch": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": MISFIRE_GRACE})
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
            self._schedule(self.config)
            self.scheduler.start()
            log.info("daemon started: %d source(s), %d channel(s), dispatch every %gs",
                     len(self.config.sources), len(self.config.channels), self.config.daemon.dispatch_every)
            while not self.stop.wait(0.5):
                if self.reload_requested.is_set():
                    self.reload_requested.clear()
                    self.reload()
            self._shutdown()
            return 0
        finally:
            self.lock.release()

    def _install_signals(self) -> None:
        signal.signal(signal.SIGTERM, lambda *_: self.stop.set())
        signal.signal(signal.SIGINT, lambda *_: self.stop.set())
        signal.signal(signal.SIGHUP, lambda *_: self.reload_requested.set())

    def _shutdown(self) -> None:
        grace = self.config.daemon.grace
        log.info("stopping: no new crawls; waiting up to %gs for running crawls and sends", grace)
        self.scheduler.pause()
        stop_active(max(1.0, grace - 5))
        self.scheduler.shutdown(wait=True)
        if self.dispatcher is not None:
            self.dispatcher.close()                 # in-flight sends finish; rows stay consistent
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
        self.config = new
        self.dispatcher = Dispatcher(new, self.sessions)
        self._schedule(new)
        if old_dispatcher is not None:
            old_dispatcher.close()
        log.info("config reloaded: %d source(s), %d channel(s)", len(new.sources), len(new.channels))

    # ---- jobs --------------------------------------------------------------------------------
    def _schedule(self, config: Config) -> None:
        wanted = {f"crawl:{s.name}" for s in config.sources}
        for job in self.scheduler.get_jobs():
            if job.id.startswith("crawl:") and job.id not in wanted:
                job.remove()
        states = self._states()
        for source in config.sources:
            trigger = CronTrigger.from_crontab(source.cron, timezone=dt.timezone.utc) if source.cron \
                else IntervalTrigger(seconds=source.interval, timezone=dt.timezone.utc)
            first = self._first_run(source, trigger, states.get(source.name))
            self.scheduler.add_job(self._crawl, trigger, args=[source.name], id=f"crawl:{source.name}",
                                   name=f"crawl {source.name}", replace_existing=True,
                                   next_run_time=first)
        self.scheduler.add_job(self._dispatch, IntervalTrigger(seconds=config.daemon.dispatch_every),
                               id="dispatch", name="deliver alerts", executor="dispatch",
                               replace_existing=True, next_run_time=dt.datetime.now(dt.timezone.utc))

    def _states(self) -> dict[str, SourceState]:
        with self.sessions() as session:
            return {s.source: s for s in session.query(SourceState).all()}

    @staticmethod
    def _first_run(source: Source, trigger, state: SourceState | None) -> dt.datetime:
        """Overdue sources (never crawled, or last success older than the interval) run now;
        the others wait for their next time."""
        now = dt.datetime.now(dt.timezone.utc)
        if state is None or state.last_success is None:
            return now
        last = state.last_success.replace(tzinfo=dt.timezone.utc)
        due = trigger.get_next_fire_time(None, last) if source.cron else \
            last + dt.timedelta(seconds=source.interval)
        return now if due is None or due <= now else due

    def _crawl(self, name: str) -> None:
        if self.stop.is_set():
            return
        config = self.config
        if name not in {s.name for s in config.sources}:
            return
        report = run_crawl(config, self.sessions, [name], trigger="schedule",
                           log_level=self.log_level, log_format=self.log_format)
        for source in report.sources:
            log.info("%s", source.line(), extra={"source": source.name, "run_id": report.run_id,
                                                 "counts": source.counts.as_dict()})

    def _dispatch(self) -> None:
        if self.dispatcher is not None and not self.stop.is_set():
            self.dispatcher.dispatch_due(wait_seconds=0)

    def _job_event(self, event: JobExecutionEvent) -> None:
        if event.code == EVENT_JOB_MAX_INSTANCES:
            if event.job_id.startswith("crawl:"):
                log.warning("%s: previous crawl still running; this run skipped", event.job_id[6:])
        elif event.exception is not None:
            log.error("job %s failed: %s", event.job_id, event.exception)
