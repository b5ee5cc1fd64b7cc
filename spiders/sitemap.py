"""Sitemaps as sites publish them: indexes (nested, depth-capped, each document once per crawl,
at most `max_sitemaps`), urlsets, Google News sitemaps, gzip, plain-text sitemaps, and RSS/Atom
feeds given as a sitemap. A site root is discovered through robots.txt `Sitemap:` lines (the
crawl's shared fetch), and when robots.txt names none or cannot be had, through the well-known
locations (/sitemap.xml, /sitemap_index.xml, /sitemap-news.xml, /news-sitemap.xml)."""

from __future__ import annotations

from typing import Any, Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response
from twisted.python.failure import Failure

from wirewatch.crawler.crawl.urls import canonical_url
from wirewatch.spiders.base import SourceSpider, describe_failure
from wirewatch.spiders.documents import WELL_KNOWN_SITEMAPS, read, robots_sitemaps


class SitemapSpider(SourceSpider):
    kind = "sitemap"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stats.child_kind = "child sitemaps"
        self._visited: set[str] = set()         # sitemap documents asked for in this crawl
        self._guesses: dict[str, str | None] = {}   # well-known locations tried: url → failure

    async def start(self) -> Any:
        parts = urlsplit(self.source.url)
        if parts.path not in ("", "/") or parts.query:
            for request in self.sitemap_request(self.source.url, 0):
                yield request
            return
        robots = await self.ctx.robots.get(self.source.url, self.crawler)
        if robots.unavailable:                     # RFC 9309: nothing on the site until it answers
            self.stats.fail_source(robots.refusal(self.source.url))
            return
        named = robots_sitemaps(robots.text, robots.url) if robots.status == 200 else []
        if named:
            for url in named:
                for request in self.sitemap_request(url, 0):
                    yield request
            return
        origin = f"{parts.scheme}://{parts.netloc}"
        for path in WELL_KNOWN_SITEMAPS:
            self._guesses[origin + path] = None
            for request in self.sitemap_request(origin + path, 0, guess=True):
                yield request

    def sitemap_request(self, url: str, depth: int, guess: bool = False) -> Iterator[scrapy.Request]:
        """Each sitemap document once per crawl, and at most `max_sitemaps` of them."""
        key = canonical_url(url)
        if key in self._visited or not self.fits(url, document=depth == 0):
            return
        if len(self._visited) >= self.source.max_sitemaps:
            if len(self._visited) == self.source.max_sitemaps:
                self._visited.add("")              # report the cap once
                self.stats.error(f"sitemap cap reached: {self.source.max_sitemaps} documents "
                                 f"(max_sitemaps); {url} and any further ones not fetched")
            return
        self._visited.add(key)
        request = self.child_request(url, self.parse, depth=depth) if depth else \
            self.document_request(url, self.parse, depth=depth)
        yield request.replace(errback=self.on_guess_error, meta={**request.meta, "guess": url}) if guess \
            else request

    def on_guess_error(self, failure: Failure) -> None:
        self._guess_failed(failure.request.meta.get("guess", failure.request.url), describe_failure(failure))

    def _guess_failed(self, url: str, reason: str) -> None:
        """A well-known location that is not there is expected; all of them missing is not."""
        self._guesses[url] = reason
        if all(self._guesses.values()):
            self.stats.fail_source(f"no sitemap: robots.txt names none and none of "
                                   f"{', '.join(WELL_KNOWN_SITEMAPS)} answered ({reason})")

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        self._visited.add(canonical_url(response.url))      # also where a redirect ended
        document = read(response.body, response.url, max_bytes=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
        if response.meta.get("guess") and document.problem:
            self._guess_failed(response.meta["guess"], f"{response.url}: {document.problem}")
            return
        if document.kind == "sitemap index":
            # an index is read in full every time: its children change while it may not, and a 304
            # would hide them (each child keeps its own conditional GET)
            self.stats.validators.pop(response.url, None)
            self.document_read(response, entries=False)
            depth = response.meta.get("depth", 0)
            if depth >= self.source.max_depth:
                self.stats.error(f"sitemap index {response.url} nested deeper than "
                                 f"max_depth={self.source.max_depth}; not followed")
                return
            for url in document.sitemaps:
                yield from self.sitemap_request(url, depth + 1)
            return
        yield from self.read_entries(document, response)
