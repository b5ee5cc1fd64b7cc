"""The item pipeline: analyse (extract + match, in a worker process), then store the article,
its matches and its outbox rows in one transaction (crawler.ingest)."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.exc import IntegrityError

from wirewatch.crawler.analysis.pool import analyse_page
from wirewatch.crawler.records import ArticleItem, PageAnalysis
from wirewatch.crawler.store.ingest import ingest, record_seen

log = logging.getLogger("wirewatch.crawl")


class ArticlePipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    async def process_item(self, item: ArticleItem) -> ArticleItem:
        spider = self.crawler.spider
        ctx, counts = spider.ctx, spider.stats.counts
        if item.canonical != item.requested and ctx.is_known(item.canonical):
            counts.skipped += 1
            record_seen(ctx.sessions, item.requested, item.source,
                        f"duplicate of {item.canonical} (rel=canonical)")
            return item
        future = ctx.pool().submit(analyse_page, item.html, item.url, item.hints)
        analysis: PageAnalysis = await asyncio.wrap_future(future)
        if analysis.extracted is None:
            counts.skipped += 1
            record_seen(ctx.sessions, item.requested, item.source, analysis.skipped or "skipped")
            log.info("%s: skipped %s: %s", item.source, item.url, analysis.skipped)
            return item
        if analysis.analysed_chars is not None:
            log.info("%s: %s: matched the first %d of %d characters (analysis.max_text)", item.source,
                     item.url, analysis.analysed_chars, len(analysis.extracted.text))
        try:
            result = ingest(ctx.sessions, item, analysis, ctx.channels, ctx.alert_policy)
        except IntegrityError:            # the same article reached us by two links in one crawl
            counts.skipped += 1
            return item
        if result.new:
            counts.new += 1
            counts.matches += len(result.matches)
            for reason in result.held_back:
                counts.hold(reason or "")
            flag = f" [MATCH {', '.join(m.watch for m in result.matches)}]" if result.matches else ""
            log.info("%s: new: %s%s", item.source, analysis.extracted.title or item.url, flag)
        else:
            counts.skipped += 1
        return item
