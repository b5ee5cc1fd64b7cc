"""Listing pages (a section front, a tag page): links matching `follow` are articles;
links matching `next` are further listing pages, up to `max_pages`."""

from __future__ import annotations

import re
from typing import Iterator

import scrapy
from scrapy.http import Response, TextResponse

from wirewatch.crawler.records import EntryHints
from wirewatch.spiders.base import SourceSpider


class ListingSpider(SourceSpider):
    kind = "listing"

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.stats.child_kind = "further listing pages"

    def parse(self, response: Response) -> Iterator[scrapy.Request]:
        if self.not_modified(response):
            return
        if not isinstance(response, TextResponse):
            self.document_problem(response, f"listing {response.url} is not an HTML page")
            return
        self.document_read(response)
        page = response.meta.get("page", 1)
        links = [response.urljoin(href) for href in response.css("a::attr(href)").getall()]
        next_pattern = re.compile(self.source.next) if self.source.next else None
        articles = [(link, EntryHints()) for link in dict.fromkeys(links) if self.follow.search(link)]
        yield from self.article_requests(articles)
        if next_pattern and page < self.source.max_pages:
            following = next((link for link in links if not self.follow.search(link)
                              and next_pattern.search(link) and link != response.url), None)
            if following:
                yield self.child_request(following, self.parse, page=page + 1)
