"""Crawl the 181 corpus pages end to end (feed → Scrapy → trafilatura → matcher → SQLite) from a
local server, and time trafilatura extraction alone on the same pages, in the same run.

    python bench/crawl_throughput.py

Goal: crawl throughput >= 0.8 x extraction-alone throughput (crawling is extraction-bound)."""

from __future__ import annotations

import resource
import statistics
import sys
import tempfile
import time
from html import escape
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # bench._corpus; wirewatch is installed
# Imports live inside the functions: crawl children are spawned, and a spawned child re-imports
# the main module, so top-level imports here would be paid again by every crawl process.


def extraction_alone(corpus: dict[str, bytes]) -> float:
    from wirewatch.crawler.analysis.extract import extract
    from wirewatch.crawler.errors import NotAnArticle
    started = time.perf_counter()
    for page_id, html in corpus.items():
        try:
            extract(html, f"http://127.0.0.1/a/{page_id}.html")
        except NotAnArticle:
            pass
    return time.perf_counter() - started


def crawl(corpus: dict[str, bytes]) -> tuple[float, int, float]:
    from wirewatch.crawler.conf.load import parse_config
    from wirewatch.crawler.demo.localsite import LocalSite, Page
    from wirewatch.crawler.service.runner import run_crawl
    from wirewatch.crawler.store.database import open_database
    with LocalSite() as site, tempfile.TemporaryDirectory() as tmp:
        links = []
        for page_id, html in corpus.items():
            site.pages[f"/a/{page_id}.html"] = Page(html)
            links.append(f"<item><title>{page_id}</title><link>{escape(site.base)}/a/{page_id}.html</link></item>")
        site.pages["/feed.xml"] = Page(('<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>'
                                        + "".join(links) + "</channel></rss>").encode(), "application/rss+xml")
        config = parse_config(f"""
storage: sqlite:///{tmp}/bench.db
network: {{allow_private: true, per_domain: 8, autothrottle: false}}
sources: [{{name: bench, type: feed, url: "{site.base}/feed.xml"}}]
""")
        sessions = open_database(config.storage)
        started = time.perf_counter()
        report = run_crawl(config, sessions, log_level="WARNING")
        elapsed = time.perf_counter() - started
        source = report.sources[0]
        child_time = source.duration
        return elapsed, source.counts.fetched, child_time


def main(repeat: int = 3) -> None:
    """Each measurement `repeat` times, interleaved; the median is reported (2 shared cores are noisy)."""
    from bench._corpus import pages
    from wirewatch.crawler.logs import setup_logging
    setup_logging("WARNING")
    corpus = pages()
    n = len(corpus)
    extraction_alone(dict(list(corpus.items())[:10]))            # warm imports and caches
    from bench._rss import PeakSampler
    alones, crawls = [], []
    with PeakSampler() as sampler:
        for _ in range(repeat):
            alones.append(extraction_alone(corpus))
            crawls.append(crawl(corpus))
    alone = statistics.median(alones)
    elapsed, fetched, spider_time = sorted(crawls)[len(crawls) // 2]
    print(f"runs: extraction alone {', '.join(f'{a:.2f}' for a in alones)} s; "
          f"crawl {', '.join(f'{c[0]:.2f}' for c in crawls)} s (medians below)")
    crawl_rate, alone_rate = fetched / elapsed, n / alone
    print(f"pages: {n}, crawled: {fetched}")
    print(f"extraction alone : {alone:6.2f} s  {alone_rate:6.1f} pages/s")
    print(f"crawl end to end : {elapsed:6.2f} s  {crawl_rate:6.1f} pages/s  "
          f"(of which the spiders ran {spider_time:.2f} s: {fetched / spider_time:.1f} pages/s; "
          "the rest is child-process start-up and bookkeeping)")
    print(f"ratio crawl / extraction alone: {crawl_rate / alone_rate:.2f} (goal >= 0.80); "
          f"spider phase only: {fetched / spider_time / alone_rate:.2f}")
    print(f"peak RSS: this process (site server + extraction alone) "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB; largest crawl process "
          f"(crawl child, fork server or extraction worker) {max(sampler.peaks.values(), default=0):.0f} MB")
    print("note: the first crawl also starts the fork server (imports Scrapy once); later crawls fork from it")


if __name__ == "__main__":
    main()
