"""The item pipeline: extract, then match and store in one transaction (crawler.ingest)."""

from __future__ import annotations

import logging

from sqlalchemy.exc import IntegrityError

from crawler.extract import NotAnArticle, extract
from crawler.ingest import ingest, record_seen

log = logging.getLogger("wirewatch.crawl")


class ArticlePipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item: dict) -> dict:
        spider = self.crawler.spider
        ctx, stats = spider.ctx, spider.stats
        if item["canonical"] != item["requested"] and ctx.is_known(item["canonical"]):
            stats.skipped += 1
            record_seen(ctx.sessions, item["requested"], item["source"],
                        f"duplicate of {item['canonical']} (rel=canonical)")
            return item
        try:
            extracted = extract(item["html"], item["url"])
        except NotAnArticle as exc:
            stats.skipped += 1
            record_seen(ctx.sessions, item["requested"], item["source"], str(exc))
            log.info("%s: skipped %s: %s", item["source"], item["url"], exc)
            return item
        try:
            result = ingest(ctx.sessions, item, extracted, ctx.matcher, ctx.channels)
        except IntegrityError:            # the same article reached us by two links in one crawl
            stats.skipped += 1
            return item
        if result.new:
            stats.new += 1
            stats.matches += len(result.matches)
            flag = f" [MATCH {', '.join(m.watch for m in result.matches)}]" if result.matches else ""
            log.info("%s: new: %s%s", item["source"], extracted.title or item["url"], flag)
        else:
            stats.skipped += 1
        return item
