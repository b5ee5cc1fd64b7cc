"""`wirewatch demo`: the whole flow on a bundled local site, with no internet and no server to set up."""

from __future__ import annotations

import html
import os
import tempfile
from email.utils import format_datetime
from datetime import datetime
from pathlib import Path

import yaml
from sqlalchemy import select

from crawler.localsite import LocalSite, Page

SITE_DIR = Path(__file__).resolve().parent / "demo_site"
SITE_NAME = "The Defence Ledger"

_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title} | {site}</title>
<link rel="canonical" href="{url}">
<meta property="og:title" content="{title}"><meta property="og:site_name" content="{site}">
<meta name="author" content="{author}"><meta property="article:published_time" content="{date}">
</head><body>
<header><nav><a href="/">Home</a> | <a href="/world/">World</a> | <a href="/defence/">Defence</a> |
<a href="/asia/">Asia</a> | <a href="/subscribe/">Subscribe</a> | <a href="/login/">Log in</a></nav>
<div class="breaking">Breaking: markets close higher - live updates</div></header>
<main><article>
<h1>{title}</h1><p class="byline">By <span class="author">{author}</span> |
<time datetime="{date}">{date}</time></p>
<div class="share"><a href="#">Share on X</a> <a href="#">Facebook</a> <a href="#">Email</a> <a href="#">Copy link</a></div>
<div class="article-body">{body}</div>
</article>
<aside class="related"><h3>Related</h3><ul>{related}</ul></aside>
<section class="comments"><h3>Comments (3)</h3>
<div class="comment"><b>reader42</b>: First! Who else saw this coming?</div>
<div class="comment"><b>hawk_eye</b>: Sources please.</div>
<div class="comment"><b>anon</b>: Leave a reply. Your email address will not be published.</div></section>
</main><footer>&copy; 2026 {site}. All rights reserved. <a href="/privacy/">Privacy</a> <a href="/terms/">Terms</a></footer>
</body></html>"""


def load_articles() -> list[dict]:
    return yaml.safe_load((SITE_DIR / "articles.yaml").read_text(encoding="utf-8"))


def build_site(articles: list[dict], base: str) -> dict[str, Page]:
    """Article pages, a home page, an RSS feed, a Google News sitemap and robots.txt."""
    e = html.escape
    pages: dict[str, Page] = {}
    for a in articles:
        path = f"/{a['slug']}.html"
        related = "".join(f'<li><a href="/{o["slug"]}.html">{e(o["title"])}</a></li>'
                          for o in articles if o is not a)[:2000]
        body = "".join(f"<p>{e(p)}</p>" for p in a["paragraphs"])
        pages[path] = Page(_TEMPLATE.format(title=e(a["title"]), site=SITE_NAME, url=base + path,
                                            author=e(a["author"]), date=a["date"], body=body,
                                            related=related).encode())
    links = "".join(f'<li><a href="/{a["slug"]}.html">{e(a["title"])}</a></li>' for a in articles)
    pages["/"] = Page(f"<html><body><h1>{SITE_NAME}</h1><ul>{links}</ul></body></html>".encode())
    pages["/robots.txt"] = Page(f"User-agent: *\nDisallow: /login/\nSitemap: {base}/sitemap.xml\n".encode(),
                                "text/plain")
    pages["/feed.xml"] = Page(rss_feed(articles, base), "application/rss+xml")
    pages["/sitemap.xml"] = Page(news_sitemap(articles, base), "application/xml")
    return pages


def rss_feed(articles: list[dict], base: str) -> bytes:
    items = "".join(
        f"<item><title>{html.escape(a['title'])}</title><link>{base}/{a['slug']}.html?utm_source=rss</link>"
        f"<pubDate>{format_datetime(datetime.fromisoformat(a['date']))}</pubDate></item>" for a in articles)
    return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>{SITE_NAME}</title>'
            f"<link>{base}/</link><description>Defence news</description>{items}</channel></rss>").encode()


def news_sitemap(articles: list[dict], base: str) -> bytes:
    urls = "".join(
        f"<url><loc>{base}/{a['slug']}.html</loc><news:news><news:publication><news:name>{SITE_NAME}"
        f"</news:name><news:language>en</news:language></news:publication><news:publication_date>"
        f"{a['date']}</news:publication_date><news:title>{html.escape(a['title'])}</news:title>"
        f"</news:news></url>" for a in articles)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>").encode()


def demo_config(base: str, db_path: str):
    from crawler.config import parse_config
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
    from crawler.operator import deliver_due
    from crawler.runner import run_crawl
    from crawler.storage import open_database

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
        print(f"\nSecond crawl (incremental): {sum(s.new for s in again.sources)} new, "
              f"{len(article_hits)} article downloads, feeds/sitemaps answered 304 Not Modified.")
    site.stop()
    return 0 if report.ok else 1


def _show_articles(sessions) -> None:
    from crawler.storage import Article, Fact, Match
    from alerts.model import fact_line
    with sessions() as session:
        articles = list(session.scalars(select(Article).order_by(Article.published.desc())))
        print(f"\nStored {len(articles)} articles:")
        for article in articles:
            match = session.scalar(select(Match).where(Match.article_id == article.id))
            flag = f"MATCH {match.watch} score={match.score:.2f}" if match else "no match"
            print(f"  [{flag}] {article.title}  ({article.published}, {len(article.text)} chars)")
            if match:
                for fact in session.scalars(select(Fact).where(Fact.match_id == match.id)):
                    print(f"      - {fact_line({'supplier': fact.supplier, 'recipient': fact.recipient, 'item': fact.item, 'quantity': fact.quantity, 'approx': fact.approx, 'status': fact.status})}")
