"""Downloader middlewares: the address guard and conditional GET for feeds and sitemaps."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from wirewatch.crawler.errors import SourceError
from wirewatch.crawler.netguard import check_url


class AddressGuardMiddleware:
    """Refuse non-http(s) URLs and, unless allowed, URLs resolving to private addresses.

    Redirects re-enter the downloader middleware chain, so every hop is checked."""

    def __init__(self, allow_private: bool):
        self.allow_private = allow_private
        self._verdicts: dict[str, str | None] = {}

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getbool("WIREWATCH_ALLOW_PRIVATE"))

    def process_request(self, request: Request, spider=None):
        parts = urlsplit(request.url)
        key = f"{parts.scheme}://{parts.netloc}"       # one DNS check per origin and crawl
        if key not in self._verdicts:
            try:
                check_url(request.url, self.allow_private)
                self._verdicts[key] = None
            except SourceError as exc:
                self._verdicts[key] = str(exc)
        if self._verdicts[key]:
            raise IgnoreRequest(self._verdicts[key])
        return None


class ConditionalGetMiddleware:
    """Send If-None-Match / If-Modified-Since for requests marked `conditional` in meta.

    The validators are saved by the spider only when the source finished well, so a crawl
    that failed half-way fetches the document in full next time."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None):
        spider = spider or self.crawler.spider
        if not request.meta.get("conditional"):
            return None
        etag, last_modified = spider.ctx.validators(request.url)
        if etag:
            request.headers.setdefault("If-None-Match", etag)
        if last_modified:
            request.headers.setdefault("If-Modified-Since", last_modified)
        return None
