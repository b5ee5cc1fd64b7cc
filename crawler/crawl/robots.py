"""robots.txt, fetched once per site and hour, shared by every spider of the crawl worker and,
through the database, by every worker on every machine: the downloader middleware obeys it and
the sitemap spider reads its `Sitemap:` lines from the same fetch.

A robots.txt that answers 4xx allows everything; one that answers 5xx or cannot be reached
forbids the whole site until it answers (RFC 9309 §2.3.1.3-4), asked again after a minute."""

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

    @property
    def unavailable(self) -> bool:
        """5xx or unreachable: the site is off limits until it answers (RFC 9309)."""
        return self.status is None or self.status >= 500

    def allows(self, url: str, user_agent: str) -> bool:
        """4xx: everything is allowed; 5xx or unreachable: nothing is."""
        if self.unavailable:
            return False
        return self.status != 200 or self.rules.can_fetch(url, user_agent)

    def refusal(self, url: str) -> str:
        if self.unavailable:
            said = f"answered {self.status}" if self.status else "could not be reached"
            return (f"{self.url} {said}: nothing on this site is fetched until it answers "
                    f"(RFC 9309), not {url}")
        return f"forbidden by robots.txt: {url}"


class RobotsCache:
    """robots.txt per site, shared by every crawl of the worker process and read again after
    `ttl` seconds; a fetch under way is awaited by every request that needs it."""

    def __init__(self, ttl: float = 3600.0, sessions=None):
        self.ttl = ttl
        self.sessions = sessions                 # the database's shared copy, when there is one
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
            stored = await self._stored(origin)
            if stored is not None:
                robots, age = stored
            else:
                robots, age = await self._fetch(origin, crawler), 0.0
                await self._store(origin, robots)
        finally:
            waiters = self._waiting.pop(origin)
        self._sites[origin] = (time.monotonic() - age, robots)
        if len(self._sites) > MAX_SITES:                  # a long-lived worker: forget the oldest
            del self._sites[min(self._sites, key=lambda o: self._sites[o][0])]
        for waiter in waiters:
            waiter.callback(robots)
        return robots

    def _ttl(self, robots: RobotsTxt) -> float:
        """An answer is kept `ttl`; a failure ("allowed" for now: unreachable, 5xx) a minute only."""
        return self.ttl if robots.status is not None and robots.status < 500 else min(self.ttl, FAILED_TTL)

    async def _stored(self, origin: str) -> tuple[RobotsTxt, float] | None:
        """The copy another worker (or this one, before a restart) fetched, if still fresh."""
        if self.sessions is None:
            return None
        from twisted.internet.threads import deferToThread
        try:
            found = await maybe_deferred_to_future(deferToThread(_read_stored, self.sessions, origin))
        except Exception:          # noqa: BLE001 - the database is away: fetch it ourselves
            return None
        if found is None:
            return None
        robots, age = found
        return (robots, age) if age < self._ttl(robots) else None

    async def _store(self, origin: str, robots: RobotsTxt) -> None:
        if self.sessions is None:
            return
        from twisted.internet.threads import deferToThread
        try:
            await maybe_deferred_to_future(deferToThread(_write_stored, self.sessions, origin, robots))
        except Exception:          # noqa: BLE001 - only the sharing is lost
            pass

    @staticmethod
    async def _fetch(origin: str, crawler) -> RobotsTxt:
        request = Request(f"{origin}/robots.txt", meta={"dont_obey_robotstxt": True},
                          callback=NO_CALLBACK, priority=1000, dont_filter=True)
        try:
            response = await crawler.engine.download_async(request)
        except Exception:          # noqa: BLE001 - unreachable robots.txt: forbidden, like a 5xx
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
            raise IgnoreRequest(robots.refusal(request.url))
        return None


def _read_stored(sessions, origin: str) -> tuple[RobotsTxt, float] | None:
    from wirewatch.crawler.store.schema import RobotsRow, utcnow
    with sessions() as session:
        row = session.get(RobotsRow, origin)
        if row is None:
            return None
        return RobotsTxt(f"{origin}/robots.txt", row.status, row.body), (utcnow() - row.fetched_at).total_seconds()


def _write_stored(sessions, origin: str, robots: RobotsTxt) -> None:
    from wirewatch.crawler.store.schema import RobotsRow, utcnow
    with sessions.begin() as session:
        session.merge(RobotsRow(origin=origin[:300], status=robots.status, body=robots.text, fetched_at=utcnow()))
