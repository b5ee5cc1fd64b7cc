"""RSS 0.9x/1.0/2.0 and Atom feeds, through feedparser (tolerant of wrong charsets and broken XML)."""

from __future__ import annotations

from typing import Iterator

import feedparser
import scrapy
from scrapy.http import Response

from wirewatch.crawler.records import EntryHints
from wirewatch.spiders.base import SourceSpider


class FeedSpider(SourceSpider):
    kind = "feed"

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        parsed = feedparser.parse(response.body, response_headers={
            k.decode("latin-1").lower(): b",".join(v).decode("latin-1")
            for k, v in response.headers.items()})
        if not parsed.entries:
            problem = parsed.get("bozo_exception") or "no entries"
            if parsed.get("bozo") or not parsed.get("version"):
                self.stats.fail_source(f"unusable feed {response.url}: {problem}")
            return
        if parsed.get("bozo"):
            self.logger.warning("%s: feed has errors, entries kept: %s",
                                self.source.name, parsed.get("bozo_exception"))
        candidates = []
        for entry in parsed.entries:
            link = entry.get("link") or _alternate(entry)
            if link:
                candidates.append((response.urljoin(link), EntryHints(
                    title=entry.get("title"), published=entry.get("published") or entry.get("updated"))))
        if not candidates:                 # entries, but nothing to fetch: say so, do not pass as OK
            problem = f" ({parsed.get('bozo_exception')})" if parsed.get("bozo") else ""
            self.stats.fail_source(f"unusable feed {response.url}: {len(parsed.entries)} entries, "
                                   f"none with an article link{problem}")
            return
        yield from self.article_requests(candidates)


def _alternate(entry: dict) -> str | None:
    for link in entry.get("links", []):
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    return entry.get("id") if str(entry.get("id", "")).startswith("http") else None
