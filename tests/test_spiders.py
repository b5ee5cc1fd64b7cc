"""Fast tier: the spiders' parsing on recorded documents, called directly (no reactor, no child
process), and canonical URLs. A real SQLite file stands behind "already stored"."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scrapy import Request
from scrapy.http import HtmlResponse, Response
from scrapy.utils.test import get_crawler

from tests.spider_cases import cases, run_case
from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.crawl.context import CrawlContext
from wirewatch.crawler.crawl.urls import canonical_url
from wirewatch.crawler.records import ArticleItem, EntryHints
from wirewatch.crawler.store.database import open_database
from wirewatch.spiders import FeedSpider
from wirewatch.spiders.documents import robots_sitemaps


@pytest.mark.parametrize("case", cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_recorded_document_yields_what_its_expectation_says(case: Path, tmp_path):
    expected = json.loads(case.read_text(encoding="utf-8"))["expected"]
    assert run_case(case, tmp_path) == expected


def _spider(tmp_path, cls, source: dict):
    config = parse_config(json.dumps({"storage": f"sqlite:///{tmp_path / 's.db'}", "sources": [source]}))
    ctx = CrawlContext(config, open_database(config.storage), run_id=0)
    return cls.from_crawler(get_crawler(cls, {}), source=config.sources[0], ctx=ctx)


def _article_response(url: str, body: bytes, cls=HtmlResponse) -> Response:
    request = Request(url, meta={"canonical": canonical_url(url), "hints": EntryHints(title="From the feed")})
    return cls(url=url, body=body, request=request)


def test_article_page_becomes_a_typed_item_and_same_site_rel_canonical_wins(tmp_path):
    spider = _spider(tmp_path, FeedSpider, {"name": "f", "type": "feed", "url": "https://news.example/feed"})
    body = b'<html><head><link rel="canonical" href="/2026/11/story"></head><body>text</body></html>'
    [item] = spider.parse_article(_article_response("https://www.news.example/amp/story?utm_source=x", body))
    assert isinstance(item, ArticleItem)
    assert item.canonical == "https://www.news.example/2026/11/story"
    assert item.requested == "https://www.news.example/amp/story"
    assert item.hints.title == "From the feed" and item.html == body
    assert spider.stats.counts.fetched == 1


def test_rel_canonical_pointing_at_another_site_is_ignored(tmp_path):
    spider = _spider(tmp_path, FeedSpider, {"name": "f", "type": "feed", "url": "https://news.example/feed"})
    body = b'<html><head><link rel="canonical" href="https://rival.example/their-story"></head></html>'
    [item] = spider.parse_article(_article_response("https://news.example/our-story", body))
    assert item.canonical == "https://news.example/our-story"


def test_a_non_html_article_response_is_counted_as_skipped_not_stored(tmp_path):
    spider = _spider(tmp_path, FeedSpider, {"name": "f", "type": "feed", "url": "https://news.example/feed"})
    produced = list(spider.parse_article(_article_response("https://news.example/file.pdf", b"%PDF-1.7", Response)))
    assert produced == [] and spider.stats.counts.skipped == 1
    assert "not an HTML page" in spider.stats.errors[0]


def test_not_modified_feed_asks_for_nothing_and_keeps_no_new_validators(tmp_path):
    spider = _spider(tmp_path, FeedSpider, {"name": "f", "type": "feed", "url": "https://news.example/feed"})
    response = Response("https://news.example/feed", status=304, request=Request("https://news.example/feed"))
    assert list(spider.parse(response)) == []
    assert spider.stats.validators == {} and not spider.stats.source_failed


def test_robots_txt_sitemap_lines_in_every_spelling_search_engines_accept():
    text = ("User-agent: *\nDisallow: /search\nSitemap: https://news.example/news-sitemap.xml\n"
            "sitemap:/sitemap_index.xml\n  SITEMAP : https://news.example/archive.xml.gz\n"
            "Site-map: https://news.example/text-sitemap.txt\n# Sitemap: https://news.example/commented\n"
            "Sitemap: https://news.example/news-sitemap.xml\n")
    assert robots_sitemaps(text, "https://news.example/robots.txt") == [
        "https://news.example/news-sitemap.xml", "https://news.example/sitemap_index.xml",
        "https://news.example/archive.xml.gz", "https://news.example/text-sitemap.txt"]


@pytest.mark.parametrize("url, canonical", [
    ("HTTPS://News.Example:443/a/b?utm_source=x&id=7&fbclid=y#top", "https://news.example/a/b?id=7"),
    ("http://news.example:80/story?b=2&a=1", "http://news.example/story?a=1&b=2"),
    ("https://news.example:8443/story", "https://news.example:8443/story"),
    ("https://news.example", "https://news.example/"),
    ("https://news.example/story?ref=home&page=2", "https://news.example/story?page=2"),
    ("https://news.example./story", "https://news.example/story"),
    ("http://[2001:db8::1]/story", "http://[2001:db8::1]/story"),
])
def test_canonical_url_drops_tracking_and_keeps_what_names_the_article(url, canonical):
    assert canonical_url(url) == canonical


def test_a_source_url_longer_than_scrapy_accepts_fails_the_source_with_its_reason(tmp_path):
    import asyncio
    long_url = "https://news.example/feed?" + "x" * 3000
    spider = _spider(tmp_path, FeedSpider, {"name": "f", "type": "feed", "url": long_url})
    spider.crawler.settings.frozen = False
    spider.crawler.settings.set("URLLENGTH_LIMIT", 2083)

    async def entries():
        return [r async for r in spider.start()]
    assert asyncio.run(entries()) == []
    assert spider.stats.source_failed and "URL longer than 2083 characters" in spider.stats.errors[0]


def test_query_bytes_that_are_not_utf8_are_kept_as_they_came():
    assert canonical_url("https://news.example/view?id=%FF") != canonical_url("https://news.example/view?id=%FE")
    euc_kr = "https://news.example/search?q=%B9%DA%B0%E6%C8%A3&utm_source=x"     # EUC-KR bytes
    assert canonical_url(euc_kr) == "https://news.example/search?q=%B9%DA%B0%E6%C8%A3"
    assert canonical_url("https://news.example/view?q=%ED%95%9C") == "https://news.example/view?q=%ED%95%9C"
