"""The crawl worker: one long-lived process that keeps a Twisted reactor and Scrapy running and
crawls whatever sources it is given, job after job.

A job (`CrawlJob`: a run id and source names) arrives over a pipe; each of its sources runs as its
own Scrapy crawler in the shared reactor, many at once, all sharing the per-host limit
(crawl/hostgate.py), robots.txt (kept an hour) and the extraction and matching processes. As each
source finishes, its run record is stored and `SourceDone` goes back; when all are done, `JobDone`.

The worker retires itself after `workers.recycle_after` jobs or past `workers.max_rss`: it says so,
takes no more jobs, finishes the ones it has and exits (the parent has already started the next
one), so a leak cannot grow without bound. It exits too when its parent goes away (the pipe ends)."""

from __future__ import annotations

import logging
import os
import signal
import threading
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError

from wirewatch.crawler import secrets
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.errors import ConfigError, WirewatchError
from wirewatch.crawler.logs import setup_logging
from wirewatch.crawler.records import CrawlJob, JobDone, SourceDone

log = logging.getLogger("wirewatch.crawl")


@dataclass(frozen=True)
class Retiring:
    """The worker takes no more jobs (recycled): start another."""
    reason: str


DRAIN = "drain"          # finish the jobs under way, then exit
STOP = "stop"            # stop every crawl now (its sources are interrupted), then exit
PARENT_GONE = "the daemon went away"
GOODBYE = "goodbye"      # the worker's last word: it is exiting cleanly


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker_main(config: Config, secret_values: list[str], log_level: str, log_format: str,
                jobs, events) -> None:
    """Entry point of the worker process: `jobs` brings CrawlJob / DRAIN / STOP, `events` takes
    SourceDone / JobDone / Retiring."""
    for value in secret_values:
        secrets.register(value)
    setup_logging(log_level, log_format)
    from scrapy.utils.reactor import install_reactor

    from wirewatch.crawler.crawl.settings import build_settings
    settings = build_settings(config.network)
    install_reactor(settings["TWISTED_REACTOR"])
    signal.signal(signal.SIGINT, signal.SIG_IGN)     # Ctrl-C reaches the daemon, which drains us
    try:
        worker = _Worker(config, settings, events)
    except WirewatchError as exc:               # the database went away as it started: one line
        log.error("crawl worker could not start: %s", exc)
        raise SystemExit(1) from None
    setup_logging(log_level, log_format)        # Scrapy may have adjusted logging; ours wins
    threading.Thread(target=_read_jobs, args=(jobs, worker), daemon=True, name="jobs").start()
    worker.run()
    worker._send(GOODBYE)


def _read_jobs(jobs, worker: "_Worker") -> None:
    from twisted.internet import reactor
    while True:
        try:
            message = jobs.recv()
        except (EOFError, OSError):            # the parent is gone: stop everything
            reactor.callFromThread(worker.stop_all, PARENT_GONE)
            return
        if isinstance(message, CrawlJob):
            reactor.callFromThread(worker.start_job, message)
        elif message == DRAIN:
            reactor.callFromThread(worker.drain, "asked to")
        elif message == STOP:
            reactor.callFromThread(worker.stop_all, "shutdown")


class _Worker:
    def __init__(self, config: Config, settings, events):
        from scrapy.crawler import CrawlerRunner
        from scrapy.utils.misc import build_from_crawler, load_object
        from twisted.internet import reactor

        from wirewatch.crawler.crawl.context import Shared
        from wirewatch.crawler.store.database import open_database
        self.config = config
        self.events = events
        self.runner = CrawlerRunner(settings)
        # What CrawlerProcess would do and CrawlerRunner leaves to us: every connection's address
        # goes through the address guard's resolver (crawl/resolver.py), never the system's.
        resolver = build_from_crawler(load_object(settings["TWISTED_DNS_RESOLVER"]), self.runner, reactor=reactor)
        resolver.install_on_reactor()
        reactor.getThreadPool().adjustPoolsize(maxthreads=settings.getint("REACTOR_THREADPOOL_MAXSIZE"))
        self.sessions = open_database(config.storage, config.base_dir)
        self.shared = Shared(config, self.sessions)
        self.active: dict[int, tuple] = {}      # run id → (context, crawlers)
        self.jobs_done = 0
        self.retiring = False
        self._stopping = False

    def run(self) -> None:
        from twisted.internet import reactor
        try:
            reactor.run(installSignalHandlers=False)
        finally:
            self.shared.close()
            self.sessions.kw["bind"].dispose()

    def _send(self, message) -> None:
        try:
            self.events.send(message)
        except (OSError, EOFError):            # the parent is gone; nothing to tell
            pass

    # ---- jobs --------------------------------------------------------------------------------
    def start_job(self, job: CrawlJob) -> None:
        try:
            self._start_job(job)
        except Exception as exc:               # noqa: BLE001 - the job ends, reported, whatever happened
            log.exception("crawl %d could not start", job.run_id)
            self.active.pop(job.run_id, None)
            for name in job.names:
                self._send(SourceDone(job.run_id, name))
            self._send(JobDone(job.run_id))
            if isinstance(exc, SQLAlchemyError):      # a fresh worker gets fresh connections
                self.drain("database error")

    def _start_job(self, job: CrawlJob) -> None:
        from scrapy import signals
        from twisted.internet import defer, reactor

        from wirewatch.crawler.crawl.context import CrawlContext
        from wirewatch.spiders import SPIDERS
        ctx = CrawlContext(self.config, self.sessions, job.run_id, trial=job.trial, names=job.names,
                           shared=self.shared)
        crawlers, finished = [], []
        for name in job.names:
            try:
                source = self.config.source(name)
            except ConfigError:                # handed out just as the config changed: failed, loudly
                error = "not in this crawl worker's config (it changed, or differs from the scheduler's)"
                log.error("%s: %s", name, error)
                ctx.stats[name].fail_source(error)
                try:
                    ctx.finish_source(name, "not in the config")
                except Exception:              # noqa: BLE001 - the parent records it as failed
                    log.exception("%s: could not record its run", name)
                ctx.stats[name].finished = True
                self._send(SourceDone(job.run_id, name))
                continue
            crawler = self.runner.create_crawler(SPIDERS[source.type])
            crawler.signals.connect(self._closer(ctx, name), signal=signals.spider_closed, weak=False)
            crawler.signals.connect(self._warm_up(ctx), signal=signals.request_scheduled, weak=False)
            crawlers.append(crawler)
            finished.append(self.runner.crawl(crawler, source=source, ctx=ctx))
        timer = reactor.callLater(job.timeout, self._time_out, job.run_id, job.timeout)
        self.active[job.run_id] = (ctx, crawlers, timer)
        done = defer.DeferredList(finished, consumeErrors=True)
        done.addBoth(lambda _: self._job_done(job.run_id))

    def _job_done(self, run_id: int) -> None:
        ctx, crawlers, timer = self.active.pop(run_id)
        if timer.active():
            timer.cancel()
        for name in ctx.names:                 # a crawler that failed to start never closed its spider
            if not ctx.stats[name].finished:
                ctx.stats[name].fail_source("the crawl of this source did not start")
                try:
                    ctx.finish_source(name, "not started")
                except Exception:              # noqa: BLE001 - the parent records it as failed
                    log.exception("%s: could not record its run", name)
                self._send(SourceDone(run_id, name))
        self._send(JobDone(run_id))
        self.jobs_done += 1
        if not self.retiring:
            limits = self.config.workers
            if self.jobs_done >= limits.recycle_after:
                self.drain(f"{self.jobs_done} jobs done")
            elif rss_bytes() > limits.max_rss:
                self.drain(f"{rss_bytes() / 2**20:.0f} MB resident")
        self._maybe_exit()

    def _time_out(self, run_id: int, seconds: float) -> None:
        if run_id in self.active:
            ctx, crawlers, _ = self.active[run_id]
            log.error("crawl %d exceeded its %.0fs timeout; stopping its sources", run_id, seconds)
            ctx.timed_out = seconds
            for crawler in crawlers:
                crawler.stop()

    def _closer(self, ctx, name: str):
        def closed(spider, reason: str) -> None:
            try:
                ctx.finish_source(name, reason)
            except Exception:                  # noqa: BLE001 - the parent records it as failed
                log.exception("%s: could not record its run", name)
            ctx.stats[name].finished = True
            self._send(SourceDone(ctx.run_id, name))
        return closed

    @staticmethod
    def _warm_up(ctx):
        def scheduled(request, spider) -> None:
            """The first article request starts the analysis processes (once per worker), so
            they import while pages download; a worker that finds nothing new never starts them."""
            if "canonical" in request.meta:
                ctx.pool()
        return scheduled

    # ---- retiring and stopping ---------------------------------------------------------------
    def drain(self, why: str) -> None:
        if not self.retiring:
            self.retiring = True
            log.debug("crawl worker %d retiring (%s)", os.getpid(), why)
            self._send(Retiring(why))
        self._maybe_exit()

    def stop_all(self, why: str) -> None:
        from twisted.internet import reactor
        self.drain(why)
        if why == PARENT_GONE:                 # nobody to wait for us: never linger
            reactor.callLater(30, os._exit, 1)
        for ctx, crawlers, _ in list(self.active.values()):
            ctx.interrupted = True
            for crawler in crawlers:
                crawler.stop()
        self._maybe_exit()

    def _maybe_exit(self) -> None:
        from twisted.internet import reactor
        if self.retiring and not self.active and reactor.running and not self._stopping:
            self._stopping = True
            reactor.stop()
