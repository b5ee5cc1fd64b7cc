"""What every source kind shares: the entry request, article requests, failures and counters."""

from __future__ import annotations

import datetime
import html
import re
from typing import Any, Iterator
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Response, TextResponse
from twisted.python.failure import Failure

from wirewatch.crawler.conf.sections import Source
from wirewatch.crawler.crawl.context import CrawlContext
from wirewatch.crawler.crawl.resolver import REFUSALS
from wirewatch.crawler.crawl.urls import canonical_url, is_http_url
from wirewatch.crawler.dates import parse_date
from wirewatch.crawler.records import ArticleItem, EntryHints
from wirewatch.spiders.documents import Document

_UNDATED = datetime.datetime.min.replace(tzinfo=datetime.timezone.utc)


def describe_failure(failure: Failure) -> str:
    """One line for the log: what went wrong with which URL."""
    request = getattr(failure, "request", None)
    url = request.url if request is not None else "?"
    value = failure.value
    response = getattr(value, "response", None)
    if response is not None:
        return f"HTTP {response.status} for {url}"
    name = type(value).__name__
    text = str(value).strip() or name
    host = urlsplit(url).hostname or ""
    if name in ("DNSLookupError", "CannotResolveHostError") and host in REFUSALS:
        reason = REFUSALS[host]
        return reason if reason.startswith("cannot resolve") else f"refused {url}: {reason}"
    if "TimeoutError" in name or "timeout" in text.lower():
        return f"timed out fetching {url}: {text}"
    if name == "IgnoreRequest" and text.startswith("refused"):
        return text
    return f"{name} for {url}: {text}"


class SourceSpider(scrapy.Spider):
    """One source entry of the config, crawled once."""

    kind = "source"
    custom_settings: dict[str, Any] = {}

    def __init__(self, source: Source, ctx: CrawlContext, **kwargs: Any):
        super().__init__(name=source.name, **kwargs)
        self.source = source
        self.ctx = ctx
        self.stats = ctx.stats[source.name]
        self.follow = re.compile(source.follow) if source.follow else None
        self._queued = 0

    async def start(self) -> Any:
        for request in self.entry_requests():
            if self.fits(request.url, document=True):
                yield request

    def fits(self, url: str, document: bool) -> bool:
        """Scrapy drops a URL past URLLENGTH_LIMIT without a word; we say so."""
        limit = self.crawler.settings.getint("URLLENGTH_LIMIT") if hasattr(self, "crawler") else 0
        if not limit or len(url) <= limit:
            return True
        message = f"URL longer than {limit} characters, not fetched: {url[:100]}…"
        if document:
            self.stats.fail_source(message)
        else:
            self.stats.counts.failed += 1
            self.stats.error(message)
        return False

    def entry_requests(self) -> Iterator[scrapy.Request]:
        yield self.document_request(self.source.url, self.parse)

    def document_request(self, url: str, callback, **meta: Any) -> scrapy.Request:
        """A feed, sitemap or listing page: conditional GET, failures count against the source."""
        return scrapy.Request(url, callback=callback, errback=self.on_document_error,
                              meta={"conditional": True, "handle_httpstatus_list": [304], **meta},
                              dont_filter=True, priority=10)

    def child_request(self, url: str, callback, **meta: Any) -> scrapy.Request:
        """A document the source's own documents point to (a child sitemap, a further listing
        page): its failure is a warning of the crawl, not the source's failure."""
        self.stats.children.setdefault(url, None)
        return self.document_request(url, callback, child=url, **meta)

    def on_document_error(self, failure: Failure) -> None:
        child = failure.request.meta.get("child")
        if child:
            self.stats.child_failed(child, describe_failure(failure))
        else:
            self.stats.fail_source(describe_failure(failure))

    def document_problem(self, response: Response, message: str) -> None:
        """A document that arrived but cannot be used: the source's own fails it, a child's is a warning."""
        self.stats.validators.pop(response.url, None)      # read it again next time, in full
        child = response.meta.get("child")
        if child:
            self.stats.child_failed(child, message)
        else:
            self.stats.fail_source(message)

    def document_read(self, response: Response, entries: bool = True) -> None:
        """A document that worked; `entries`: it gave (or, unchanged, still has) article links,
        rather than only pointing to further documents (an index)."""
        self.stats.usable += entries
        child = response.meta.get("child")
        if child:
            self.stats.children[child] = None

    def not_modified(self, response: Response) -> bool:
        if response.status == 304:
            self.logger.info("%s: %s not modified", self.source.name, response.url)
            self.document_read(response)
            return True
        self.stats.validators[response.url] = (
            _header(response, b"ETag"), _header(response, b"Last-Modified"))
        return False

    def read_entries(self, document: Document, response: Response) -> list[scrapy.Request]:
        """The article requests of a feed or sitemap document; an unusable one fails the source
        (or, for a child document, is a warning). Entries without a usable link are counted."""
        url = response.url
        if document.problem:
            self.document_problem(response, f"unusable {document.kind} {url}: {document.problem}")
            return []
        self.document_read(response)
        self.stats.entries_without_link += document.skipped
        if document.warning:
            self.logger.warning("%s: %s has errors, entries kept: %s", self.source.name, url, document.warning)
        return self.article_requests(document.entries)

    def article_requests(self, candidates: list[tuple[str, EntryHints]]) -> list[scrapy.Request]:
        """Requests for the article pages not stored yet: what is known is never downloaded.
        One database query for the whole document's links."""
        wanted: dict[str, tuple[str, EntryHints]] = {}
        for url, hints in candidates:
            if not url or not is_http_url(url):
                continue
            if self.follow is not None and self.kind != "listing" and not self.follow.search(url):
                continue
            wanted.setdefault(canonical_url(url), (url, hints))
        known = self.ctx.known(list(wanted))
        fresh = []
        for canonical, (url, hints) in wanted.items():
            if canonical in known or not self.ctx.claim(canonical):
                self.stats.counts.known += 1
            elif self.fits(url, document=False):
                fresh.append((canonical, url, hints))
        room = max(0, self.source.max_articles - self._queued)
        if len(fresh) > room:             # newest first, by the entries' own dates; the rest waits
            fresh.sort(key=lambda c: parse_date(c[2].published) or _UNDATED, reverse=True)
            self.stats.counts.left += len(fresh) - room
            for canonical, _, _ in fresh[room:]:
                self.ctx.unclaim(canonical)
            fresh = fresh[:room]
        self._queued += len(fresh)
        return [scrapy.Request(url, callback=self.parse_article, errback=self.on_article_error,
                               meta={"hints": hints, "canonical": canonical}) for canonical, url, hints in fresh]

    def parse_article(self, response: Response) -> Iterator[ArticleItem]:
        self.stats.counts.fetched += 1
        if not isinstance(response, TextResponse):
            self.stats.counts.skipped += 1
            self.stats.error(f"not an HTML page: {response.url}")
            return
        yield ArticleItem(
            source=self.source.name, url=response.url,
            canonical=self._declared_canonical(response) or response.meta["canonical"],
            requested=response.meta["canonical"], html=response.body,
            hints=response.meta.get("hints") or EntryHints())

    @staticmethod
    def _declared_canonical(response: Response) -> str | None:
        """rel=canonical, honoured on the page's own site only: a page may merge its own
        duplicates, but never claim (and so suppress) another site's article."""
        link = _canonical_link(response.body[:200_000])
        if not link:
            return None
        declared = canonical_url(response.urljoin(link.strip()))
        same_site = lambda url: (urlsplit(url).hostname or "").removeprefix("www.")  # noqa: E731
        if not is_http_url(declared) or same_site(declared) != same_site(response.url):
            return None
        return declared

    def on_article_error(self, failure: Failure) -> None:
        """404 / 410: gone, remembered and never asked again. Anything else (5xx, timeouts) is
        tried again on later crawls, up to a few times, and then remembered as failed."""
        message = describe_failure(failure)
        canonical = failure.request.meta["canonical"]
        response = getattr(failure.value, "response", None)
        if response is not None and response.status in (404, 410):
            self.stats.counts.gone += 1
            self.ctx.remember_gone(canonical, self.source.name, message)
            return
        self.stats.counts.failed += 1
        self.stats.error(message)
        self.ctx.count_failure(canonical, self.source.name, message)


_LINK_TAG = re.compile(rb"<link\b[^>]*>", re.I)
_REL_CANONICAL = re.compile(rb"""\brel\s*=\s*["']?canonical\b""", re.I)
_HREF = re.compile(rb"""\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


def _canonical_link(head: bytes) -> str | None:
    """The href of <link rel=canonical>, found without parsing the whole page (the worker
    processes parse it for extraction; the crawl's event loop should stay light)."""
    for tag in _LINK_TAG.finditer(head):
        if _REL_CANONICAL.search(tag.group()):
            href = _HREF.search(tag.group())
            if href:
                value = next(g for g in href.groups() if g is not None)
                return html.unescape(value.decode("utf-8", "replace")).strip()
    return None


def _header(response: Response, name: bytes) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None
