"""Listing pages (a section front, a tag page): links matching `follow` are articles;
links matching `next` are further listing pages, up to `max_pages`."""

from __future__ import annotations

import re
from typing import Iterator

import scrapy
from scrapy.http import Response, TextResponse

from spiders.base import SourceSpider


class ListingSpider(SourceSpider):
    kind = "listing"

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        if not isinstance(response, TextResponse):
            self.stats.fail_source(f"listing {response.url} is not an HTML page")
            return
        page = response.meta.get("page", 1)
        links = [response.urljoin(href) for href in response.css("a::attr(href)").getall()]
        next_pattern = re.compile(self.source.next) if self.source.next else None
        seen: set[str] = set()
        for link in links:
            if link in seen:
                continue
            seen.add(link)
            if self.follow.search(link):
                request = self.article_request(link)
                if request is not None:
                    yield request
            elif next_pattern and page < self.source.max_pages and next_pattern.search(link):
                yield self.document_request(link, self.parse, page=page + 1)
                next_pattern = None          # one next page per page
