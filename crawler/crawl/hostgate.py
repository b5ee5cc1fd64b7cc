"""Politeness across sources: every spider in the crawl worker shares one limit per host.

Scrapy keeps its per-domain concurrency per crawler, and the worker runs one crawler per source,
so fifty sources on one outlet would each allow `network.per_domain` requests there at once. This
downloader middleware, last before the download, holds a request until its host has a free slot
in a process-wide gate, and frees the slot when the request leaves the downloader (answered,
failed or cancelled: Scrapy's `request_left_downloader` signal fires for every one).

In queue mode (workers.remote) a site is crawled by one worker at a time, so the gate holds across
machines for the site's own hosts. A request that leaves the site (a redirect, a feed host, a CDN
that several sites share) also takes the host's next slot in the database (`host_gaps`), at least
`network.host_gap` after the previous one from any worker."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from scrapy import signals
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import DeferredSemaphore

_GATES: dict[str, DeferredSemaphore] = {}
MAX_HOSTS = 5000
_HELD = "_wirewatch_host_slot"


def gate(host: str, limit: int) -> DeferredSemaphore:
    if len(_GATES) > MAX_HOSTS:                # a long-lived worker: forget idle hosts
        for idle in [h for h, s in _GATES.items() if s.tokens == s.limit and not s.waiting]:
            del _GATES[idle]
    semaphore = _GATES.get(host)
    if semaphore is None or semaphore.limit != limit:
        if semaphore is not None and semaphore.tokens != semaphore.limit:
            return semaphore                 # in use: keep it until it is idle
        semaphore = _GATES[host] = DeferredSemaphore(limit)
    return semaphore


def in_use() -> dict[str, int]:
    """Requests in flight per host (for tests and diagnostics)."""
    return {host: s.limit - s.tokens for host, s in _GATES.items() if s.tokens != s.limit}


class HostGateMiddleware:
    def __init__(self, crawler):
        self.crawler = crawler
        self.limit = crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        crawler.signals.connect(self._left, signal=signals.request_left_downloader)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request, spider=None):
        host = (urlsplit(request.url).hostname or "").lower()
        await self._shared_gap(request.url, host)
        semaphore = gate(host, self.limit)
        await maybe_deferred_to_future(semaphore.acquire())
        if not self.crawler.crawling:          # stopped while it waited: let the next one in at once
            semaphore.release()
            raise IgnoreRequest(f"crawl stopped before {request.url} was sent")
        request.meta[_HELD] = semaphore
        return None

    async def _shared_gap(self, url: str, host: str) -> None:
        spider = self.crawler.spider
        ctx, source = getattr(spider, "ctx", None), getattr(spider, "source", None)
        if ctx is None or source is None or not ctx.config.workers.remote:
            return
        from wirewatch.crawler.service.queue import site_of
        if site_of(url) == site_of(source.url):
            return
        from twisted.internet import reactor, task
        from twisted.internet.threads import deferToThread
        try:
            slot = await maybe_deferred_to_future(deferToThread(take_slot, ctx.sessions, host,
                                                                ctx.config.network.host_gap))
        except Exception:                      # noqa: BLE001 - the database is away: the local gate only
            return
        wait = slot - time.time()              # (machines keep their clocks in step: NTP)
        if wait > 0:
            await maybe_deferred_to_future(task.deferLater(reactor, min(wait, 60.0), lambda: None))

    @staticmethod
    def _left(request, spider=None) -> None:
        semaphore = request.meta.pop(_HELD, None)
        if semaphore is not None:
            semaphore.release()


def take_slot(sessions, host: str, gap: float) -> float:
    """The host's next free slot across every worker, as Unix time."""
    from sqlalchemy import text
    with sessions.begin() as session:
        return float(session.execute(text(
            "INSERT INTO host_gaps (host, next_at) VALUES (:host, timezone('utc', clock_timestamp()) "
            "+ make_interval(secs => :gap)) ON CONFLICT (host) DO UPDATE SET next_at = "
            "GREATEST(host_gaps.next_at, timezone('utc', clock_timestamp())) + make_interval(secs => :gap) "
            "RETURNING EXTRACT(EPOCH FROM host_gaps.next_at - make_interval(secs => :gap))"),
            {"host": host[:255], "gap": gap}).scalar() or 0.0)
