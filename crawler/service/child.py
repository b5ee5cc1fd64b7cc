"""The crawl child process: a fresh Twisted reactor per crawl, memory returned to the OS on exit."""

from __future__ import annotations

import logging

from wirewatch.crawler import secrets
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.logs import setup_logging

log = logging.getLogger("wirewatch.crawl")


def crawl_main(config: Config, names: list[str], run_id: int, secret_values: list[str],
               log_level: str, log_format: str, trial: bool = False) -> None:
    """Entry point of the child: crawl `names` with one spider each, all in one reactor."""
    for value in secret_values:
        secrets.register(value)
    setup_logging(log_level, log_format)
    from scrapy import signals
    from scrapy.crawler import CrawlerProcess

    from wirewatch.crawler.crawl.context import CrawlContext
    from wirewatch.crawler.crawl.settings import build_settings
    from wirewatch.crawler.store.database import open_database
    from wirewatch.spiders import SPIDERS

    sessions = open_database(config.storage, config.base_dir)
    ctx = CrawlContext(config, sessions, run_id, trial=trial)
    process = CrawlerProcess(build_settings(config.network))
    setup_logging(log_level, log_format)        # Scrapy adjusts logging when it starts; ours wins
    for name in names:
        source = config.source(name)
        crawler = process.create_crawler(SPIDERS[source.type])
        crawler.signals.connect(_closer(ctx, name), signal=signals.spider_closed, weak=False)
        crawler.signals.connect(_warm_up(ctx), signal=signals.request_scheduled, weak=False)
        process.crawl(crawler, source=source, ctx=ctx)
    try:
        process.start()
    finally:
        ctx.close()


def _closer(ctx, name: str):
    def closed(spider, reason: str) -> None:
        ctx.finish_source(name, reason)
        stats = ctx.stats[name]
        log.info("%s: done: %d fetched, %d new, %d matches", name, stats.counts.fetched,
                 stats.counts.new, stats.counts.matches)
    return closed


def _warm_up(ctx):
    def scheduled(request, spider) -> None:
        """The first article request starts the analysis workers, so they import while pages
        download; a crawl that finds nothing new never starts them."""
        if "canonical" in request.meta:
            ctx.pool()
    return scheduled
