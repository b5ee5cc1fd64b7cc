"""`wirewatch worker`: a crawl worker on any machine, taking crawl jobs from the queue in the
shared PostgreSQL (service/queue.py) and running them with the daemon's own crawl machinery: one
long-lived Scrapy process with one reactor, many sources at once, the analysis processes kept
(service/workers.py). Results go straight to the database; each source's health is recorded as
it finishes.

procrastinate's worker runs in this process's asyncio loop; a job waits for its crawl without
holding the loop, so `workers.crawls` site jobs run at once. Every few seconds the worker writes
its heartbeat row (`workers`: host, pid, jobs done, the sites it is crawling) for `status`,
/metrics and the daemon, which reports a worker gone silent.

A job is this worker's only while the queue says so: before it records a result it checks, with
the job's row locked, that the job is still `doing` here at the same attempt. A worker frozen past
the heartbeat timeout whose jobs went to others refuses its own late results and restarts itself
(systemd brings it back), rather than let the queue finish another worker's run."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.records import CrawlJob, SourceCounts
from wirewatch.crawler.service.health import record_health
from wirewatch.crawler.service.queue import (HEARTBEAT, QUEUE, STALLED_AFTER, SWEEP_TASK, TASK, conninfo, ensure_schema, owns,
                                             retry_own, retry_stalled)
from wirewatch.crawler.service.runner import collect, new_run, source_report
from wirewatch.crawler.service.schedule import due_again
from wirewatch.crawler.service.workers import CrawlService
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.outage import Outage, is_outage
from wirewatch.crawler.store.schema import RunSource, WorkerRow, utcnow

log = logging.getLogger("wirewatch.worker")
RESTART_AFTER = 5.0              # seconds before the queue worker is started again after a failure


@dataclass
class _Job:
    """A queue job under way here: which attempt of which job, and the crawl run it became."""
    job_id: int
    attempt: int
    queue_worker: int
    site: str
    names: tuple[str, ...]
    run_id: int
    started: float = field(default_factory=time.monotonic)
    reported: set[str] = field(default_factory=set)
    done: asyncio.Future | None = None


class RemoteWorker:
    def __init__(self, config_path: Path, config: Config, log_level: str = "INFO", log_format: str = "text"):
        self.config_path = Path(config_path)
        self.config = config
        self.sessions = open_database(config.storage, config.base_dir)
        self.crawls = CrawlService(config, self._source_done, self._crawl_done, log_level, log_format)
        self.outage = Outage("this worker takes no jobs until the database answers")
        self.jobs: dict[int, _Job] = {}          # run id → job
        self.lock = threading.Lock()
        self.row_id: int | None = None
        self.queue_worker: int | None = None
        self.jobs_done = 0
        self.retried: set[str] = set()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopping: asyncio.Event | None = None
        self.exit_code = 0

    # ---- lifecycle ---------------------------------------------------------------------------
    def run(self) -> int:
        return asyncio.run(self._main())

    async def _main(self) -> int:
        self.loop = asyncio.get_running_loop()
        self.stopping = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            self.loop.add_signal_handler(sig, self.stopping.set)
        self.loop.add_signal_handler(signal.SIGHUP, self._reload)
        while not self.stopping.is_set():             # the database may be away as we start
            try:
                await asyncio.to_thread(self._register)
                break
            except Exception as exc:                  # noqa: BLE001 - wait for it calmly
                if not is_outage(exc):
                    raise
                self.outage.failed("starting the worker", exc)
                await self._wait(RESTART_AFTER)
        log.info("worker %s:%d started: up to %d site job(s) at once from the queue in %s", socket.gethostname(),
                 os.getpid(), self.config.workers.crawls, self.sessions.kw["bind"].url.render_as_string())
        beating = asyncio.create_task(self._heartbeats())
        try:
            while not self.stopping.is_set():
                await self._take_jobs()
                if not self.stopping.is_set():
                    await self._wait(RESTART_AFTER)
        finally:
            beating.cancel()
            await asyncio.to_thread(self.crawls.shutdown, 1.0)     # nothing is left when it stopped cleanly
            await asyncio.to_thread(self._unregister)
            log.info("stopped")
        return self.exit_code

    async def _wait(self, seconds: float) -> None:
        try:
            await asyncio.wait_for(self.stopping.wait(), seconds)
        except asyncio.TimeoutError:
            pass

    async def _take_jobs(self) -> None:
        """Run procrastinate's worker until we stop; it ends by itself when the database goes
        away (this worker then takes no jobs until it answers, and says so)."""
        from procrastinate import App, PsycopgConnector
        from procrastinate.exceptions import ConnectorException
        if self.queue_worker is not None:           # the previous queue worker of this process is gone
            try:
                again = await asyncio.to_thread(self._retry_own, self.queue_worker)
            except Exception as exc:                # noqa: BLE001 - still away: the timeout hands them on
                if not is_outage(exc):
                    raise
                again = []
            if again:
                log.warning("the jobs this worker held when its queue connection ended are queued again: %s",
                            ", ".join(map(str, again)))
            self.queue_worker = None
        app = App(connector=PsycopgConnector(conninfo=conninfo(self.config.storage), min_size=1, max_size=4,
                                             timeout=10, kwargs={"connect_timeout": 5}))
        self._tasks(app)
        try:
            async with app.open_async():
                worker = asyncio.create_task(app.run_worker_async(
                    queues=[QUEUE], name=f"{socket.gethostname()}:{os.getpid()}",
                    concurrency=self.config.workers.crawls, install_signal_handlers=False, listen_notify=True,
                    fetch_job_polling_interval=1.0, update_heartbeat_interval=HEARTBEAT,
                    stalled_worker_timeout=30.0, delete_jobs="successful",
                    shutdown_graceful_timeout=max(1.0, self.config.daemon.grace - 2)))
                stop = asyncio.create_task(self.stopping.wait())
                await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
                if self.stopping.is_set() and not worker.done():
                    # the crawls under way finish (or are cut off, their sources due again) while
                    # their jobs can still be finished; then the queue worker stops
                    log.info("stopping: no new jobs; waiting up to %gs for the crawls under way",
                             self.config.daemon.grace)
                    await asyncio.to_thread(self.crawls.shutdown, max(1.0, self.config.daemon.grace - 2))
                if not worker.done():
                    worker.cancel()
                try:
                    await worker
                except asyncio.CancelledError:
                    pass
                stop.cancel()
                if not self.stopping.is_set():
                    log.error("the job queue worker stopped (a connection to the database was lost): this "
                              "worker takes no jobs until it is back; starting it again in %gs", RESTART_AFTER)
            self.outage.ok()
        except (ConnectorException, OSError) as exc:
            self.outage.failed("taking crawl jobs", exc)
        except Exception as exc:                      # noqa: BLE001 - psycopg's own errors when it is down
            if not is_outage(exc) and not isinstance(exc.__cause__, OSError):
                raise
            self.outage.failed("taking crawl jobs", exc)

    def _tasks(self, app) -> None:
        @app.task(name=TASK, queue=QUEUE, pass_context=True)
        async def crawl_site(context, site: str, sources: list[str], timeout: float = 900.0) -> dict:
            return await self._crawl(context.job, site, sources, timeout)

        # procrastinate watches its side tasks only while one periodic task exists; this one also
        # hands on the jobs of a silent worker when no daemon does
        @app.periodic(cron="* * * * *", periodic_id="sweep")
        @app.task(name=SWEEP_TASK, queue=QUEUE, pass_context=False)
        async def sweep(timestamp: int) -> None:
            await asyncio.to_thread(self._sweep)

    def _retry_own(self, queue_worker: int) -> list[int]:
        with self.sessions.begin() as session:
            return retry_own(session, queue_worker)

    def _sweep(self) -> None:
        calm = self.outage.recent(STALLED_AFTER + HEARTBEAT)     # nobody could beat while it was away
        with self.sessions.begin() as session:
            for job in retry_stalled(session, None if calm else STALLED_AFTER):
                log.warning("job %d (site %s) was held by a worker that went silent; queued again as attempt %d",
                            job.job_id, job.site, job.attempt + 1)

    def _reload(self) -> None:
        try:
            new = load_config(self.config_path)
        except ConfigError as exc:
            log.error("config reload rejected, keeping the running config: %s", exc)
            return
        if new.storage != self.config.storage:
            log.error("config reload rejected: storage cannot change while running (restart instead)")
            return
        self.crawls.reconfigure(new)
        self.config = new
        log.info("config reloaded: %d source(s)", len(new.sources))

    # ---- the heartbeat row -------------------------------------------------------------------
    def _register(self) -> None:
        ensure_schema(self.sessions.kw["bind"])
        with self.sessions.begin() as session:
            row = WorkerRow(host=socket.gethostname()[:255], pid=os.getpid(), jobs_done=0, sites=[],
                            silent_alerted=False)
            session.add(row)
            session.flush()
            self.row_id = row.id

    async def _heartbeats(self) -> None:
        while True:
            try:
                await asyncio.to_thread(self._beat)
                self.outage.ok()
            except Exception as exc:                  # noqa: BLE001 - the database is away: said once
                if not is_outage(exc):
                    log.exception("heartbeat failed")
                else:
                    self.outage.failed("writing the heartbeat", exc)
            await asyncio.sleep(HEARTBEAT)

    def _beat(self) -> None:
        with self.lock:
            sites = sorted({job.site for job in self.jobs.values()})
        with self.sessions.begin() as session:
            row = session.get(WorkerRow, self.row_id)
            if row is not None:
                row.last_heartbeat, row.sites, row.jobs_done = utcnow(), sites, self.jobs_done
                row.queue_worker = self.queue_worker
                row.stopped_at = None

    def _unregister(self) -> None:
        try:
            with self.sessions.begin() as session:
                row = session.get(WorkerRow, self.row_id)
                if row is not None:
                    row.stopped_at, row.sites, row.jobs_done = utcnow(), [], self.jobs_done
        except Exception as exc:                      # noqa: BLE001 - stopping goes on
            log.warning("could not mark this worker stopped: %s", exc)

    # ---- jobs ----------------------------------------------------------------------------------
    async def _crawl(self, queued, site: str, sources: list[str], timeout: float) -> dict:
        self.queue_worker = queued.worker_id
        config = self.config
        names = tuple(n for n in sources if config.find(n) is not None)
        missing = [n for n in sources if config.find(n) is None]
        run_id = await asyncio.to_thread(new_run, self.sessions, "worker")
        job = _Job(queued.id, queued.attempts, queued.worker_id, site, tuple(sources), run_id)
        job.done = self.loop.create_future()
        with self.lock:
            self.jobs[run_id] = job
        try:
            if missing:
                await asyncio.to_thread(self._missing, job, missing)
            if names:
                log.debug("job %d: site %s, %d source(s), attempt %d", job.job_id, site, len(names), job.attempt)
                await asyncio.to_thread(self.crawls.submit, CrawlJob(run_id, names, False, timeout))
                error = await job.done
            else:
                error = None
            await asyncio.to_thread(self._finish, job, error)
        finally:
            with self.lock:
                self.jobs.pop(run_id, None)
        self.jobs_done += 1
        return {"run_id": run_id, "sources": len(sources)}

    def _missing(self, job: _Job, missing: list[str]) -> None:
        """Sources the scheduler knows and this worker's config does not: failed, loudly."""
        error = (f"not in this worker's config ({self.config_path}): the scheduler and this worker "
                 "run different configs; deploy the same config to every machine")
        for name in missing:
            log.error("%s: %s", name, error)
        with self.sessions.begin() as session:
            for name in missing:
                session.add(RunSource(run_id=job.run_id, source=name, status="failed", errors=[error],
                                      **SourceCounts().as_dict()))
        self._record(job, missing)

    def _source_done(self, crawl: CrawlJob, name: str) -> None:
        """A source finished (from the crawl service's reader thread): its health, if the job is ours."""
        with self.lock:
            job = self.jobs.get(crawl.run_id)
        if job is not None:
            self.outage.guard("recording a crawl", self._record, job, [name])

    def _crawl_done(self, crawl: CrawlJob, error: str | None) -> None:
        with self.lock:
            job = self.jobs.get(crawl.run_id)
        if job is not None and job.done is not None:
            self.loop.call_soon_threadsafe(lambda: job.done.done() or job.done.set_result(error))

    def _record(self, job: _Job, names: list[str]) -> None:
        with self.sessions.begin() as session:
            if not owns(session, job.job_id, job.queue_worker, job.attempt):
                self._not_ours(job)
            rows = session.scalars(select(RunSource).where(RunSource.run_id == job.run_id,
                                                           RunSource.source.in_(names))).all()
            reports = [source_report(r) for r in rows if r.source not in job.reported]
            job.reported.update(r.name for r in reports)
            record_health(self.config, self.sessions, reports)     # the job row stays locked meanwhile
        for source in reports:
            quiet = source.status == "ok" and not (source.counts.new or source.counts.matches or source.counts.failed)
            log.log(logging.DEBUG if quiet else logging.INFO, "%s", source.line(),
                    extra={"source": source.name, "run_id": job.run_id, "site": job.site})

    def _finish(self, job: _Job, error: str | None) -> None:
        report = collect(self.sessions, job.run_id, job.names, error, time.monotonic() - job.started,
                         interrupted=self.stopping.is_set())
        self._record(job, [s.name for s in report.sources if s.name not in job.reported])
        again = [s.name for s in report.sources if s.status == "interrupted"]
        if error and not self.stopping.is_set():
            again += [s.name for s in report.sources if s.status == "failed" and s.name not in self.retried]
            self.retried.update(again)
            log.warning("job %d (site %s) was lost (%s); its sources are due again now", job.job_id, job.site, error)
        if again:
            due_again(self.sessions, again)

    def _not_ours(self, job: _Job):
        """The job went to another worker while this one was silent: refuse the late result, and
        restart rather than let the queue finish the other worker's attempt as ours."""
        log.error("job %d (site %s) attempt %d is no longer this worker's: it went silent past the heartbeat "
                  "timeout and the job was queued again; its late results are refused and this worker restarts",
                  job.job_id, job.site, job.attempt)
        logging.shutdown()
        os._exit(3)
