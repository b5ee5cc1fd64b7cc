"""The bundled demo site: article pages in a realistic template, a home page, an RSS feed, a
Google News sitemap and robots.txt, built from articles.yaml."""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from pathlib import Path

import yaml

from wirewatch.crawler.conf.durations import parse_duration
from wirewatch.crawler.demo.localsite import Page

SITE_DIR = Path(__file__).resolve().parent
SITE_NAME = "The Defence Ledger"

_TEMPLATE = """<!DOCTYPE html>
<html lang="{lang}"><head><meta charset="utf-8"><title>{title} | {site}</title>
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


def load_articles(later: bool | str = False, now: datetime | None = None) -> list[dict]:
    """The site's articles with a publication `date` computed from their `age`: those there from
    the start, or those that appear `later` (True), or `"last"`."""
    now = now or datetime.now(timezone.utc)
    articles = yaml.safe_load((SITE_DIR / "articles.yaml").read_text(encoding="utf-8"))
    stage = {False: None, True: "later"}.get(later, later)
    chosen = [a for a in articles if a.get("appears") == stage]
    for article in chosen:
        article["date"] = (now - timedelta(seconds=parse_duration(article["age"]))).isoformat(timespec="seconds")
    return chosen


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
                                            related=related, lang=a.get("lang", "en")).encode())
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
        f"</news:name><news:language>{a.get('lang', 'en')}</news:language></news:publication><news:publication_date>"
        f"{a['date']}</news:publication_date><news:title>{html.escape(a['title'])}</news:title>"
        f"</news:news></url>" for a in articles)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">' + urls + "</urlset>").encode()


