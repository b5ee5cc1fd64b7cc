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
    """1. the first crawl of the bundled site is a silent baseline; 2. the site's Korean edition
    publishes a fresh report (it alerts, facts in English) and surfaces a 40-day-old one (held
    back as too old); 3. the English report of the same event joins its story (no second alert);
    4. a crawl with nothing new downloads nothing."""
    from wirewatch.crawler.service.runner import run_crawl
    from wirewatch.crawler.store.database import open_database

    before = _earlier_port(db)
    site = _start_site(before)
    articles = load_articles()
    site.pages.update(build_site(articles, site.base))
    with tempfile.TemporaryDirectory(prefix="wirewatch-demo-") as tmp:
        db_path = os.path.abspath(db) if db else os.path.join(tmp, "demo.db")
        if before is not None:
            print(f"wirewatch demo: {db_path} already holds the demo site's articles; the site is served on the "
                  f"same address again, so they are known, not stored twice")
        config = demo_config(site.base, db_path)
        sessions = open_database(config.storage)
        print(f"wirewatch demo: serving a bundled news site at {site.base} (feed, sitemap, robots.txt)")
        print(f"database: {db_path}\n")
        if before is None:
            print("1. First crawl. A source's first crawl is a silent baseline: what the site already has is\n"
                  "   stored and matched, but nothing alerts (set `backlog: alert` on a source to change that).")
        else:
            print("1. The site again: every article is already stored (known), so nothing is stored or alerted.")
        first = run_crawl(config, sessions, log_level=log_level)
        _summary(first)
        if before is None:
            _show_articles(sessions)

        later, last = load_articles(later=True), load_articles(later="last")
        second = _step(site, config, sessions, articles + later, later, before,
                       "\n2. Seoul's briefing breaks in the site's Korean edition, and an archive page surfaces a "
                       "report\n   from 40 days ago.", "\n   (Both are stored already from the earlier run.)",
                       f"\n   Alerts (console channel; the Korean report's facts in English; reports older than "
                       f"alerts.max_age = {config.alerts.max_age / 86400:g} days are stored, not alerted):")
        third = _step(site, config, sessions, articles + later + last, last, before,
                      "\n3. The English report of the same event follows: it joins the Korean report's story and "
                      "adds\n   nothing new, so it does not alert again (one event, one alert).",
                      "\n   (Stored already from the earlier run.)")

        site.clear_log()
        again = run_crawl(config, sessions, log_level="WARNING")
        article_hits = [p for p in site.paths_requested() if p.endswith(".html")]
        print(f"\n4. Fourth crawl (incremental): {sum(s.counts.new for s in again.sources)} new, "
              f"{len(article_hits)} article downloads, feeds/sitemaps answered 304 Not Modified.")
        if db:
            print(f"\nLook around the analyst's desk on this database (no config file needed):\n"
                  f"   export WIREWATCH_STORAGE=sqlite:///{db_path}\n"
                  f"   wirewatch matches; wirewatch stories; wirewatch show ID; wirewatch web")
    site.stop()
    return 0 if first.ok and second.ok and third.ok else 1


def _step(site, config, sessions, on_site: list[dict], new: list[dict], before, heading: str, again: str,
          then: str | None = None):
    """The site publishes `new`; a crawl, what it stored, and the alerts it queued delivered."""
    from wirewatch.crawler.commands.operator import deliver_due
    from wirewatch.crawler.service.runner import run_crawl
    site.pages.update(build_site(on_site, site.base))
    print(heading + (again if before is not None else ""))
    report = run_crawl(config, sessions, log_level="WARNING")
    _summary(report)
    if before is None:
        _show_articles(sessions, only=[a["title"] for a in new])
        if then:
            print(then)
    deliver_due(config, sessions)
    return report


def _earlier_port(db: str | None) -> int | None:
    """The port an earlier demo run on this database served its site on (its article URLs name it)."""
    if not db or not os.path.exists(db):
        return None
    import sqlite3
    from urllib.parse import urlsplit
    try:
        with sqlite3.connect(f"file:{os.path.abspath(db)}?mode=ro", uri=True) as connection:
            row = connection.execute("SELECT url FROM articles WHERE url LIKE 'http://127.0.0.1:%' LIMIT 1").fetchone()
    except sqlite3.Error:
        return None
    return urlsplit(row[0]).port if row else None


def _start_site(port: int | None) -> LocalSite:
    if port is not None:
        try:
            return LocalSite().start(port)
        except OSError:
            print(f"wirewatch demo: port {port} of the earlier run is busy: its articles will be found again "
                  "under a new address")
    return LocalSite().start()


def _summary(report) -> None:
    print("   Crawl summary:")
    for source in report.sources:
        print(f"     {source.line()}")


def _show_articles(sessions, only: list[str] | None = None) -> None:
    from wirewatch.alerts.model import fact_line
    from wirewatch.crawler.dates import iso
    from wirewatch.crawler.store.schema import Article, FactRow, MatchRow
    with sessions() as session:
        articles = [a for a in session.scalars(select(Article).order_by(Article.published_at.desc()))
                    if only is None or a.title in only]
        print(f"\n   Stored {len(articles)} {'new ' if only else ''}articles:")
        for article in articles:
            match = session.scalar(select(MatchRow).where(MatchRow.article_id == article.id))
            flag = f"MATCH {match.watch} score={match.score:.2f}" if match else "no match"
            status = ("ALERTED" if match.alerted else f"held back: {match.held_back}") if match else ""
            print(visible(f"     [{flag}] {article.title}  (published {iso(article.published_at)}"
                          f"{', ' + status if status else ''})"))
            if match:
                for row in session.scalars(select(FactRow).where(FactRow.match_id == match.id)):
                    print(visible(f"         - {fact_line(row.fact())}"))
