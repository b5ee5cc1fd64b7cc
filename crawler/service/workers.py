"""The parent's side of the crawl worker: start it, hand it jobs, hear back as sources finish,
replace it when it retires or dies.

Jobs go down one pipe, events come back up another, read by a thread per worker. A worker that
retires (recycled) finishes its jobs while the next one takes new ones; a job it never started
moves to the next worker. A worker that dies (killed, crashed) fails its unfinished jobs with the
exit code, and the next job starts a new worker."""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
import time
from typing import Callable

from wirewatch.crawler import secrets
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.records import CrawlJob, JobDone, SourceDone
from wirewatch.crawler.service.children import signal_name
from wirewatch.crawler.service.worker import DRAIN, GOODBYE, STOP, Retiring, worker_main

log = logging.getLogger("wirewatch.crawl")

_PRELOAD = ["wirewatch.crawler.service.worker", "wirewatch.crawler.crawl.context",
            "wirewatch.crawler.crawl.pipeline", "wirewatch.crawler.crawl.settings",
            "wirewatch.crawler.store.database", "scrapy.crawler", "wirewatch.spiders"]


def _context():
    """Workers fork from a single-threaded fork server that has Scrapy imported already: safe to
    start from the daemon's threads (the fork happens in the server, not here), and quick."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(_PRELOAD)
    # The fork server is started as `python -c ...`, which puts the working directory first on
    # sys.path: a stray xml.py where wirewatch was started would run inside every crawl.
    # PYTHONSAFEPATH (Python 3.11+) keeps it off, for the fork server and what it starts.
    os.environ["PYTHONSAFEPATH"] = "1"
    return context


class CrawlWorker:
    """One worker process and the jobs it holds."""

    def __init__(self, service: "CrawlService", config: Config):
        context = _context()
        jobs_out, self._jobs = context.Pipe(duplex=False)
        self._events, events_in = context.Pipe(duplex=False)
        self.service = service
        self.process = context.Process(target=worker_main, name="wirewatch-crawl-worker", daemon=False, args=(
            config, secrets.registered(), service.log_level, service.log_format, jobs_out, events_in))
        self.process.start()
        jobs_out.close()
        events_in.close()
        self.jobs: dict[int, tuple[CrawlJob, set[str]]] = {}
        self.handed: dict[int, float] = {}      # run id → when the job was handed over (monotonic)
        self.retired = False
        self.drained = False                # asked to retire (reload, shutdown), not by itself
        self.killed = False                 # reaped as stuck: its reader reports its jobs
        self.said_goodbye = False           # it exited cleanly (its exit code, read racily, may say 255)
        self.ended = threading.Event()      # the process has exited and its events are read
        self._send_lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True, name=f"worker-{self.process.pid}")
        self._reader.start()

    def submit(self, job: CrawlJob) -> None:
        self.jobs[job.run_id] = (job, set())
        self.handed[job.run_id] = time.monotonic()
        self.send(job)

    def stuck(self, slack: float) -> bool:
        """A job is far past its own timeout: the worker no longer answers."""
        now = time.monotonic()
        return any(now - self.handed.get(run_id, now) > job.timeout + slack
                   for run_id, (job, _) in list(self.jobs.items()))

    def send(self, message) -> None:
        with self._send_lock:
            try:
                self._jobs.send(message)
            except (OSError, EOFError):
                pass                            # it is gone; the reader thread reports its jobs

    def _read(self) -> None:
        while True:
            try:
                event = self._events.recv()
            except (EOFError, OSError):
                break
            try:
                self._handle(event)
            except Exception:                  # noqa: BLE001 - a failing callback must not stop the reading
                log.exception("crawl worker %d: handling %s failed", self.process.pid, type(event).__name__)
        self.process.join()                    # only this thread waits on the process (see `ended`)
        self._events.close()
        self._jobs.close()
        self.ended.set()
        self.service.exited(self, 0 if self.said_goodbye else self.process.exitcode)

    def _handle(self, event) -> None:
        if isinstance(event, SourceDone) and event.run_id in self.jobs:
            job, done = self.jobs[event.run_id]
            done.add(event.name)
            self.service.source_done(job, event.name)
        elif isinstance(event, JobDone) and event.run_id in self.jobs:
            job, _ = self.jobs.pop(event.run_id)
            self.handed.pop(event.run_id, None)
            self.service.job_done(job, None)
        elif isinstance(event, Retiring):
            self.retired = True
            self.service.retiring(self, event.reason)
        elif event == GOODBYE:
            self.said_goodbye = True

    def alive(self) -> bool:
        return not self.ended.is_set()


class CrawlService:
    """Hands jobs to the current worker and reports each finished source and job through the
    callbacks (called from the workers' reader threads)."""

    def __init__(self, config: Config, on_source: Callable[[CrawlJob, str], None],
                 on_job: Callable[[CrawlJob, str | None], None], log_level: str = "INFO",
                 log_format: str = "text"):
        self.config = config
        self.on_source, self.on_job = on_source, on_job
        self.log_level, self.log_format = log_level, log_format
        self._lock = threading.RLock()
        self._current: CrawlWorker | None = None
        self._workers: set[CrawlWorker] = set()
        self._stopping = False

    def submit(self, job: CrawlJob) -> None:
        with self._lock:
            if self._stopping:
                self.on_job(job, "not started: shutting down")
                return
            if self._current is None or self._current.retired or not self._current.alive():
                self._current = CrawlWorker(self, self.config)
                self._workers.add(self._current)
            self._current.submit(job)

    def reconfigure(self, config: Config) -> None:
        """New jobs go to a worker started with `config`; the old one finishes what it has."""
        with self._lock:
            self.config = config
            if self._current is not None:
                self._current.retired = self._current.drained = True
                self._current.send(DRAIN)
                self._current = None

    def reap_stuck(self, slack: float = 60.0) -> None:
        """Kill a worker whose jobs overran their timeout by `slack` (its reactor is stuck): its
        jobs fail with the exit code like any crash, and the next job starts a new worker."""
        with self._lock:
            stuck = [w for w in self._workers if not w.killed and w.stuck(slack)]
        for worker in stuck:
            log.error("crawl worker %d stopped answering; killing it", worker.process.pid)
            worker.killed = True
            worker.process.kill()

    def busy(self) -> int:
        """Jobs under way in all workers."""
        with self._lock:
            return sum(len(w.jobs) for w in self._workers)

    # ---- events from the reader threads ------------------------------------------------------
    def source_done(self, job: CrawlJob, name: str) -> None:
        self.on_source(job, name)

    def job_done(self, job: CrawlJob, error: str | None) -> None:
        self.on_job(job, error)

    def retiring(self, worker: CrawlWorker, reason: str) -> None:
        with self._lock:
            if self._current is worker:
                self._current = None
        if not self._stopping and not worker.drained:
            log.info("crawl worker %d retiring (%s); a new one takes the next jobs", worker.process.pid, reason)

    def exited(self, worker: CrawlWorker, code: int | None) -> None:
        with self._lock:
            self._workers.discard(worker)
            if self._current is worker:
                self._current = None
            left = list(worker.jobs.values())
            worker.jobs.clear()
            worker.handed.clear()
        if code != 0 and not self._stopping:
            held = sorted({name for job, done in left for name in job.names if name not in done})
            log.warning("crawl worker %d died (%s)%s; the next crawl starts a new one", worker.process.pid,
                        signal_name(code), f" while crawling {', '.join(held)}" if held else "")
        for job, done in left:
            try:
                if code == 0 and not done and not self._stopping:
                    self.submit(job)            # sent while it was retiring: the next worker runs it
                    continue
                self.on_job(job, f"crawl worker ended by {signal_name(code)}")
            except Exception:                   # noqa: BLE001 - the other jobs are still reported
                log.exception("crawl %d: reporting the end of its worker failed", job.run_id)

    # ---- shutdown ----------------------------------------------------------------------------
    def shutdown(self, grace: float) -> None:
        """Let the crawls under way finish within `grace` seconds, then stop them (their sources
        are interrupted), then kill what is left."""
        with self._lock:
            self._stopping = True
            workers = list(self._workers)
        for worker in workers:
            worker.drained = True
            worker.send(DRAIN)
        deadline = time.monotonic() + max(0.0, grace - 8)
        for worker in workers:
            worker.ended.wait(max(0.0, deadline - time.monotonic()))
        for worker in workers:
            if not worker.ended.is_set():
                log.warning("stopping the crawls under way: shutdown grace period over")
                worker.send(STOP)
        deadline = time.monotonic() + 7
        for worker in workers:
            if not worker.ended.wait(max(0.0, deadline - time.monotonic())):
                worker.process.kill()
                worker.ended.wait(5)

    def kill(self) -> None:
        """Stop at once (a one-off crawl past its timeout)."""
        with self._lock:
            self._stopping = True
            workers = list(self._workers)
        for worker in workers:
            worker.process.kill()
        for worker in workers:
            worker.ended.wait(10)
