"""robots.txt, fetched once per site and hour, shared by every spider of the crawl worker: the
downloader middleware obeys it and the sitemap spider reads its `Sitemap:` lines from the same
fetch (Scrapy's own middleware and the spider used to fetch it twice, once per source)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from functools import cached_property
from urllib.parse import urlsplit

from protego import Protego
from scrapy import Request
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

MAX_SITES = 10_000
FAILED_TTL = 60.0


@dataclass(frozen=True)
class RobotsTxt:
    url: str
    status: int | None              # None: it could not be fetched
    text: str = ""

    @cached_property
    def rules(self) -> Protego:
        return Protego.parse(self.text)

    def allows(self, url: str, user_agent: str) -> bool:
        """4xx, 5xx or unreachable: everything is allowed, as search engines read it."""
        return self.status != 200 or self.rules.can_fetch(url, user_agent)


class RobotsCache:
    """robots.txt per site, shared by every crawl of the worker process and read again after
    `ttl` seconds; a fetch under way is awaited by every request that needs it."""

    def __init__(self, ttl: float = 3600.0):
        self.ttl = ttl
        self._sites: dict[str, tuple[float, RobotsTxt]] = {}
        self._waiting: dict[str, list[Deferred]] = {}     # requests waiting for a fetch under way

    async def get(self, url: str, crawler) -> RobotsTxt:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._sites.get(origin)
        if cached is not None and time.monotonic() - cached[0] < self._ttl(cached[1]):
            return cached[1]
        if origin in self._waiting:
            waiter: Deferred = Deferred()
            self._waiting[origin].append(waiter)
            return await maybe_deferred_to_future(waiter)
        self._waiting[origin] = []
        try:
            robots = await self._fetch(origin, crawler)
        finally:
            waiters = self._waiting.pop(origin)
        self._sites[origin] = (time.monotonic(), robots)
        if len(self._sites) > MAX_SITES:                  # a long-lived worker: forget the oldest
            del self._sites[min(self._sites, key=lambda o: self._sites[o][0])]
        for waiter in waiters:
            waiter.callback(robots)
        return robots

    def _ttl(self, robots: RobotsTxt) -> float:
        """An answer is kept `ttl`; a failure ("allowed" for now: unreachable, 5xx) a minute only."""
        return self.ttl if robots.status is not None and robots.status < 500 else min(self.ttl, FAILED_TTL)

    @staticmethod
    async def _fetch(origin: str, crawler) -> RobotsTxt:
        request = Request(f"{origin}/robots.txt", meta={"dont_obey_robotstxt": True},
                          callback=NO_CALLBACK, priority=1000, dont_filter=True)
        try:
            response = await crawler.engine.download_async(request)
        except Exception:          # noqa: BLE001 - unreachable robots.txt: allowed, like a 5xx
            return RobotsTxt(request.url, None)
        text = response.body.decode("utf-8", "replace") if response.status == 200 else ""
        return RobotsTxt(request.url, response.status, text[:500_000])


class SharedRobotsMiddleware:
    """Obeys robots.txt through the crawl's shared cache (replaces Scrapy's RobotsTxtMiddleware)."""

    def __init__(self, crawler):
        if not crawler.settings.getbool("ROBOTSTXT_OBEY"):
            raise NotConfigured
        self.crawler = crawler
        self.user_agent = crawler.settings["USER_AGENT"]

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_request(self, request: Request, spider=None):
        if request.meta.get("dont_obey_robotstxt"):
            return None
        robots = await self.crawler.spider.ctx.robots.get(request.url, self.crawler)
        if not robots.allows(request.url, self.user_agent):
            raise IgnoreRequest(f"forbidden by robots.txt: {request.url}")
        return None
