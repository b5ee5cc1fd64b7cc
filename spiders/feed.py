"""RSS 0.9x/1.0/2.0 and Atom feeds, through feedparser (tolerant of wrong charsets and broken XML)."""

from __future__ import annotations

from typing import Iterator

import scrapy
from scrapy.http import Response

from wirewatch.spiders.base import SourceSpider
from wirewatch.spiders.documents import read_feed


class FeedSpider(SourceSpider):
    kind = "feed"

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        headers = {k.decode("latin-1").lower(): b",".join(v).decode("latin-1")
                   for k, v in response.headers.items()}
        document = read_feed(response.body, response.url, headers)
        yield from self.read_entries(document, response)
