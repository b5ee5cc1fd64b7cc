"""The item pipeline: analyse (extract + match, in a worker process), then store the article,
its matches and its outbox rows in one transaction (crawler.ingest)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError

from crawler.analyse import analyse_page
from crawler.ingest import ingest, record_seen

log = logging.getLogger("wirewatch.crawl")


class ArticlePipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item: dict) -> dict:
        spider = self.crawler.spider
        ctx, stats = spider.ctx, spider.stats
        if item["canonical"] != item["requested"] and ctx.is_known(item["canonical"]):
            stats.skipped += 1
            record_seen(ctx.sessions, item["requested"], item["source"],
                        f"duplicate of {item['canonical']} (rel=canonical)")
            return item
        future = ctx.pool().submit(analyse_page, item.pop("html"), item["url"],
                                   (item.get("hints") or {}).get("title"))
        analysis = await asyncio.wrap_future(future)
        if analysis.extracted is None:
            stats.skipped += 1
            record_seen(ctx.sessions, item["requested"], item["source"], analysis.skipped)
            log.info("%s: skipped %s: %s", item["source"], item["url"], analysis.skipped)
            return item
        try:
            result = ingest(ctx.sessions, item, analysis.extracted, analysis.matches, ctx.channels)
        except IntegrityError:            # the same article reached us by two links in one crawl
            stats.skipped += 1
            return item
        if result.new:
            stats.new += 1
            stats.matches += len(result.matches)
            flag = f" [MATCH {', '.join(m.watch for m in result.matches)}]" if result.matches else ""
            log.info("%s: new: %s%s", item["source"], analysis.extracted.title or item["url"], flag)
        else:
            stats.skipped += 1
        return item
