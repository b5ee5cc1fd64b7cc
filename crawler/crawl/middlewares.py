"""Downloader middlewares: the address guard and conditional GET for feeds and sitemaps."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit

from scrapy import Request
from scrapy.exceptions import IgnoreRequest

from wirewatch.crawler.errors import SourceError
from wirewatch.crawler.netguard import AddressPolicy, check_scheme, resolve


class SourceAuthMiddleware:
    """HTTP basic auth for a source whose URL carried `user:password@` (or `auth:`): sent only to
    the source's own host; Scrapy drops the header on a redirect to another origin."""

    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_request(self, request: Request, spider=None):
        source = getattr(self.crawler.spider, "source", None)
        credentials = getattr(source, "basic_auth", None)
        if credentials and b"Authorization" not in request.headers \
                and urlsplit(request.url).hostname == urlsplit(source.url).hostname:
            from w3lib.http import basic_auth_header
            request.headers[b"Authorization"] = basic_auth_header(*credentials)
        return None


class AddressGuardMiddleware:
    """Refuse non-http(s) URLs, and IP-literal hosts the policy refuses, before any connection.

    Redirects re-enter the downloader middleware chain, so every hop is checked. Host names are
    checked where they are resolved, at connect time (crawler.crawl.resolver)."""

    def __init__(self, policy: AddressPolicy):
        self.policy = policy

    @classmethod
    def from_crawler(cls, crawler):
        from wirewatch.crawler.crawl.settings import address_policy
        return cls(address_policy(crawler.settings))

    def process_request(self, request: Request, spider=None):
        try:
            check_scheme(request.url)
            host = urlsplit(request.url).hostname or ""
            if _is_literal(host):
                resolve(host, 0, self.policy)
        except SourceError as exc:
            message = str(exc)
            raise IgnoreRequest(message if message.startswith("refused") else f"refused {request.url}: {message}")
        return None


def _is_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


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
