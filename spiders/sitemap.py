"""Sitemaps: indexes (nested, depth-capped), urlsets, Google News sitemaps, gzip, robots.txt discovery."""

from __future__ import annotations

from typing import Iterator
from urllib.parse import urlsplit

import scrapy
from lxml import etree
from scrapy.http import Response
from scrapy.utils.gz import gunzip
from scrapy.utils.sitemap import sitemap_urls_from_robots

from wirewatch.crawler.crawl.urls import canonical_url
from wirewatch.crawler.records import EntryHints
from wirewatch.spiders.base import SourceSpider


class SitemapSpider(SourceSpider):
    kind = "sitemap"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._visited: set[str] = set()         # sitemap documents asked for in this crawl

    def sitemap_request(self, url: str, depth: int) -> Iterator[scrapy.Request]:
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
        yield self.document_request(url, self.parse, depth=depth)

    def entry_requests(self) -> Iterator[scrapy.Request]:
        parts = urlsplit(self.source.url)
        if parts.path in ("", "/") and not parts.query:
            robots = f"{parts.scheme}://{parts.netloc}/robots.txt"
            yield scrapy.Request(robots, callback=self.parse_robots, errback=self.on_document_error,
                                 dont_filter=True, meta={"dont_obey_robotstxt": True})
        else:
            yield from self.sitemap_request(self.source.url, 0)

    def parse_robots(self, response: Response) -> Iterator[scrapy.Request]:
        urls = list(sitemap_urls_from_robots(response.body, base_url=response.url)) \
            if response.status == 200 else []
        if not urls:
            urls = [response.urljoin("/sitemap.xml")]
        for url in urls:
            yield from self.sitemap_request(url, 0)

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        root = self._root(response)
        if root is None:
            return
        tag = etree.QName(root).localname
        depth = response.meta.get("depth", 0)
        self._visited.add(canonical_url(response.url))      # also where a redirect ended
        if tag == "sitemapindex":
            if depth >= self.source.max_depth:
                self.stats.error(f"sitemap index {response.url} nested deeper than "
                                 f"max_depth={self.source.max_depth}; not followed")
                return
            for loc in root.iterfind("{*}sitemap/{*}loc"):
                if loc.text:
                    yield from self.sitemap_request(response.urljoin(loc.text.strip()), depth + 1)
        elif tag == "urlset":
            yield from self._urls(root, response)
        else:
            self.stats.fail_source(f"not a sitemap {response.url}: root element <{tag}>")

    def _root(self, response: Response):
        body = response.body
        if body[:2] == b"\x1f\x8b":
            try:
                body = gunzip(body, max_size=self.crawler.settings.getint("DOWNLOAD_MAXSIZE"))
            except (OSError, EOFError) as exc:
                self.stats.fail_source(f"broken gzip sitemap {response.url}: {exc}")
                return None
            except ValueError as exc:      # _DecompressionMaxSizeExceeded
                self.stats.fail_source(f"sitemap {response.url} too large when decompressed: {exc}")
                return None
        parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
        try:
            root = etree.fromstring(body, parser=parser)
        except etree.XMLSyntaxError as exc:
            root, error = None, str(exc)
        else:
            error = "empty document"
        fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
        if root is not None and fatal and (e := next((e for e in fatal if "LIMIT" in e.type_name), None)):
            root, error = None, f"{e.message.split(',')[0]} (line {e.line})"     # e.g. nested too deep
        elif root is not None and fatal and not len(root):
            root, error = None, fatal[0].message
        if root is None:
            self.stats.fail_source(f"unusable sitemap {response.url}: {error}")
        return root

    def _urls(self, root, response: Response) -> Iterator[scrapy.Request]:
        candidates = []
        for url in root.iterfind("{*}url"):
            loc = url.findtext("{*}loc")
            if loc:
                candidates.append((response.urljoin(loc.strip()), EntryHints(
                    title=_text(url, "{*}news/{*}title"),
                    published=_text(url, "{*}news/{*}publication_date") or _text(url, "{*}lastmod"))))
        yield from self.article_requests(candidates)


def _text(element, path: str) -> str | None:
    value = element.findtext(path)
    return value.strip() if value and value.strip() else None
