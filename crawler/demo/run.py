"""`wirewatch demo`: the whole flow on a bundled local site, with no internet and no server to set up."""

from __future__ import annotations

import os
import tempfile

from sqlalchemy import select

from wirewatch.crawler.demo.localsite import LocalSite
from wirewatch.crawler.demo.site import build_site, load_articles
from wirewatch.crawler.display import visible


def demo_config(base: str, db_path: str):
    from wirewatch.crawler.conf.load import parse_config
    return parse_config(f"""
storage: sqlite:///{db_path}
network: {{allow_private: true, autothrottle: false, crawl_timeout: 120s, timeout: 10s}}
sources:
  - {{name: ledger-feed, type: feed, url: "{base}/feed.xml", every: 15m}}
  - {{name: ledger-sitemap, type: sitemap, url: "{base}/", every: 1h}}
watches:
  - include: nk-russia-aid
channels:
  - type: console
""", origin="demo config")


def run_demo(db: str | None, log_level: str = "INFO") -> int:
    from wirewatch.crawler.commands.operator import deliver_due
    from wirewatch.crawler.service.runner import run_crawl
    from wirewatch.crawler.store.database import open_database

    site = LocalSite()
    site.start()
    site.pages.update(build_site(load_articles(), site.base))
    with tempfile.TemporaryDirectory(prefix="wirewatch-demo-") as tmp:
        db_path = os.path.abspath(db) if db else os.path.join(tmp, "demo.db")
        config = demo_config(site.base, db_path)
        sessions = open_database(config.storage)
        print(f"wirewatch demo: serving a bundled news site at {site.base} (feed, sitemap, robots.txt)")
        print(f"database: {db_path}\n")
        report = run_crawl(config, sessions, log_level=log_level)
        print("\nCrawl summary:")
        for source in report.sources:
            print(f"  {source.line()}")
        _show_articles(sessions)
        print("\nAlerts (console channel):")
        deliver_due(config, sessions)
        site.clear_log()
        again = run_crawl(config, sessions, log_level="WARNING")
        article_hits = [p for p in site.paths_requested() if p.endswith(".html")]
        print(f"\nSecond crawl (incremental): {sum(s.counts.new for s in again.sources)} new, "
              f"{len(article_hits)} article downloads, feeds/sitemaps answered 304 Not Modified.")
    site.stop()
    return 0 if report.ok else 1


def _show_articles(sessions) -> None:
    from wirewatch.alerts.model import fact_line
    from wirewatch.crawler.store.schema import Article, FactRow, MatchRow
    with sessions() as session:
        articles = list(session.scalars(select(Article).order_by(Article.published.desc())))
        print(f"\nStored {len(articles)} articles:")
        for article in articles:
            match = session.scalar(select(MatchRow).where(MatchRow.article_id == article.id))
            flag = f"MATCH {match.watch} score={match.score:.2f}" if match else "no match"
            print(visible(f"  [{flag}] {article.title}  ({article.published}, {len(article.text)} chars)"))
            if match:
                for row in session.scalars(select(FactRow).where(FactRow.match_id == match.id)):
                    print(visible(f"      - {fact_line(row.fact())}"))
