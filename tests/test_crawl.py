"""Engine tier: real crawls (child process, real Scrapy) against a real local HTTP server."""

from __future__ import annotations

import gzip
import json
import os
import re
import subprocess
import sys

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, rss, write_config
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.store.schema import Article, FetchState, SeenUrl

pytestmark = pytest.mark.slow            # real crawls in child processes, daemons, servers


def _serve_corpus(site, corpus, prefix: str, count: int, start: int = 0) -> list[str]:
    paths = []
    for page_id in corpus.ids[start:start + count]:
        path = f"/{prefix}/{page_id[:12]}.html"
        site.pages[path] = Page(corpus.html(page_id))
        paths.append(path)
    return paths


def _requests(site, prefix: str) -> list[str]:
    return [p for p in site.paths_requested() if p.startswith(f"/{prefix}/")]


def _articles(sessions) -> list[Article]:
    with sessions() as session:
        return list(session.scalars(select(Article)))


def _first_words(text: str, n: int = 8) -> str:
    return " ".join(re.findall(r"\w+", text)[:n]).lower()


def test_feed_crawl_stores_clean_articles_and_recrawl_downloads_none(site, corpus, tmp_path):
    paths = _serve_corpus(site, corpus, "feed1", 6)
    site.pages["/feed1.xml"] = Page(rss(site.base, [p + "?utm_source=rss&fbclid=x" for p in paths]),
                                    "application/rss+xml")
    config = write_config(tmp_path, [{"name": "f1", "type": "feed", "url": site.url("/feed1.xml")}])

    report, sessions = crawl_config(config)

    assert report.ok and report.sources[0].counts.new == 6
    stored = {a.canonical_url: a for a in _articles(sessions)}
    assert set(stored) == {site.url(p) for p in paths}      # tracking parameters dropped
    found = 0
    for path, page_id in zip(paths, corpus.ids[:6]):
        article = stored[site.url(path)]
        assert article.title and len(article.text) > 200
        found += _first_words(corpus.truth[page_id]["articleBody"]) in _first_words(article.text, 400)
    assert found >= 5                                       # the text is the article, not the chrome

    before = len(site.requests)
    report, _ = crawl_config(config)
    second = site.requests[before:]
    assert [p for _, p, _ in second if p.startswith("/feed1/")] == []
    feed_request = [h for _, p, h in second if p == "/feed1.xml"][0]
    assert feed_request.get("If-None-Match")                 # conditional GET
    assert report.ok and report.sources[0].counts.new == 0 and report.sources[0].counts.fetched == 0


def test_atom_rss1_and_broken_charset_feeds_all_yield_entries(site, corpus, tmp_path):
    paths = _serve_corpus(site, corpus, "feeds2", 3, start=6)
    base = site.base
    site.pages["/atom.xml"] = Page((
        '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>a</title>'
        f'<entry><title>One</title><link rel="alternate" href="{base}{paths[0]}"/><id>x1</id>'
        "<updated>2026-11-20T10:00:00Z</updated></entry></feed>").encode(), "application/atom+xml")
    site.pages["/rdf.xml"] = Page((
        '<?xml version="1.0"?><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" '
        'xmlns="http://purl.org/rss/1.0/"><channel rdf:about="x"><title>r</title><link>x</link>'
        f'<description>d</description></channel><item rdf:about="{base}{paths[1]}"><title>Two</title>'
        f"<link>{base}{paths[1]}</link></item></rdf:RDF>").encode(), "application/rdf+xml")
    # declared UTF-8, actually Latin-1, with an unescaped ampersand: recoverable
    site.pages["/latin.xml"] = Page((
        '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Défense & co</title>'
        f"<item><title>Caf\xe9 & news</title><link>{base}{paths[2]}</link></item></channel></rss>"
    ).encode("latin-1"), "application/rss+xml")
    config = write_config(tmp_path, [
        {"name": "atom", "type": "feed", "url": site.url("/atom.xml")},
        {"name": "rdf", "type": "feed", "url": site.url("/rdf.xml")},
        {"name": "latin", "type": "feed", "url": site.url("/latin.xml")}])

    report, sessions = crawl_config(config)

    assert {s.name: (s.status, s.counts.new) for s in report.sources} == {
        "atom": ("ok", 1), "rdf": ("ok", 1), "latin": ("ok", 1)}


def test_sitemap_index_nested_gzip_and_google_news(site, corpus, tmp_path):
    paths = _serve_corpus(site, corpus, "sm", 4, start=9)
    base = site.base
    urlset = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
              + "".join(f"<url><loc>{base}{p}</loc></url>" for p in paths[:2]) + "</urlset>")
    news = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            f"<url><loc>{base}{paths[2]}</loc><news:news><news:publication_date>2026-11-20T10:00:00Z"
            "</news:publication_date><news:title>News title</news:title></news:news></url></urlset>")
    index = lambda *locs: ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                           + "".join(f"<sitemap><loc>{base}{loc}</loc></sitemap>" for loc in locs)
                           + "</sitemapindex>").encode()
    site.pages["/sm/index.xml"] = Page(index("/sm/child.xml.gz", "/sm/news.xml", "/sm/deeper.xml"), "application/xml")
    site.pages["/sm/child.xml.gz"] = Page(gzip.compress(urlset.encode()), "application/x-gzip")
    site.pages["/sm/news.xml"] = Page(news.encode(), "application/xml")
    site.pages["/sm/deeper.xml"] = Page(index("/sm/deepest.xml"), "application/xml")
    site.pages["/sm/deepest.xml"] = Page(index("/sm/never.xml"), "application/xml")
    config = write_config(tmp_path, [{"name": "sm", "type": "sitemap", "url": site.url("/sm/index.xml"),
                                      "max_depth": 2}])

    report, sessions = crawl_config(config)

    assert report.sources[0].counts.new == 3
    assert "/sm/never.xml" not in site.paths_requested()       # depth cap
    assert any("max_depth=2" in e for e in report.sources[0].errors)
    titles = {a.title for a in _articles(sessions)}
    assert len(titles) == 3


def test_robots_sitemap_discovery_and_disallow(corpus, tmp_path):
    with LocalSite() as own:
        ok_path, private_path = "/news/one.html", "/private/two.html"
        own.pages[ok_path] = Page(corpus.html(corpus.ids[13]))
        own.pages[private_path] = Page(corpus.html(corpus.ids[14]))
        own.pages["/robots.txt"] = Page(
            f"User-agent: *\nDisallow: /private/\nSitemap: {own.base}/maps/main.xml\n".encode(), "text/plain")
        own.pages["/maps/main.xml"] = Page((
            '<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{own.base}{ok_path}</loc></url><url><loc>{own.base}{private_path}</loc></url>"
            "</urlset>").encode(), "application/xml")
        config = write_config(tmp_path, [{"name": "root", "type": "sitemap", "url": own.base + "/"}])

        report, sessions = crawl_config(config)

        assert report.sources[0].counts.new == 1
        assert "/maps/main.xml" in own.paths_requested()
        assert private_path not in own.paths_requested()


def test_listing_follows_article_links_and_paginates_up_to_the_cap(site, corpus, tmp_path):
    paths = _serve_corpus(site, corpus, "list/2026/11", 3, start=15)
    page = lambda links, nxt: Page(("<html><body><nav><a href='/about/'>About</a></nav>"
                                    + "".join(f"<a href='{p}'>story</a>" for p in links)
                                    + (f"<a href='{nxt}'>Older</a>" if nxt else "") + "</body></html>").encode())
    site.pages["/list/"] = page(paths[:1], "/list/?page=2")
    site.pages["/list/?page=2"] = page(paths[1:2], "/list/?page=3")
    site.pages["/list/?page=3"] = page(paths[2:], None)
    config = write_config(tmp_path, [{"name": "l", "type": "listing", "url": site.url("/list/"),
                                      "follow": r"/20\d\d/\d\d/", "next": r"page=\d+", "max_pages": 2}])

    report, sessions = crawl_config(config)

    assert report.sources[0].counts.new == 2
    assert "/list/?page=3" not in site.paths_requested()
    assert "/about/" not in site.paths_requested()


def test_failing_sources_are_reported_and_the_others_complete(site, corpus, tmp_path, capsys):
    good = _serve_corpus(site, corpus, "mixed", 2, start=18)
    site.pages["/ok.xml"] = Page(rss(site.base, good), "application/rss+xml")
    site.pages["/broken.xml"] = Page(b"<html><body>Service temporarily unavailable</body></html>")
    site.pages["/stalled.xml"] = Page(rss(site.base, good), "application/rss+xml", delay=4)
    site.pages["/huge.xml"] = Page(b"<rss>" + b" " * 300_000 + b"</rss>", "application/rss+xml")
    site.pages["/bomb.xml"] = Page(gzip.compress(b"\0" * 30_000_000), "application/rss+xml",
                                   headers={"Content-Encoding": "gzip"})
    sources = [{"name": n, "type": "feed", "url": site.url(u)} for n, u in [
        ("ok", "/ok.xml"), ("broken", "/broken.xml"), ("missing", "/missing.xml"),
        ("stalled", "/stalled.xml"), ("huge", "/huge.xml"), ("bomb", "/bomb.xml")]]
    config = write_config(tmp_path, sources, network={"timeout": "1s", "max_bytes": "200kb"})

    code = main(["-c", str(config), "--log-level", "WARNING", "crawl"])

    out = capsys.readouterr().out
    lines = {line.split(":")[0]: line for line in out.splitlines() if ": " in line}
    assert code == 1
    assert "OK" in lines["ok"] and "new=2" in lines["ok"]
    assert "unusable feed" in lines["broken"]
    assert "HTTP 404" in lines["missing"]
    assert "timed out" in lines["stalled"]
    assert "max_bytes" in lines["huge"] or "larger than" in lines["huge"]
    assert "decompression" in lines["bomb"] or "max_bytes" in lines["bomb"]


def test_private_addresses_are_refused_unless_allowed(site, tmp_path):
    site.pages["/refused.xml"] = Page(rss(site.base, []), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "local", "type": "feed", "url": site.url("/refused.xml")}],
                          network={"allow_private": False})

    report, _ = crawl_config(config)

    assert report.sources[0].status == "failed"
    assert "loopback" in report.sources[0].errors[0] and "allow_private" in report.sources[0].errors[0]
    assert "/refused.xml" not in site.paths_requested()


def test_page_without_text_is_skipped_with_reason_and_canonical_duplicates_stored_once(site, corpus, tmp_path):
    empty = "/thin/gallery.html"
    site.pages[empty] = Page(b"<html><head><title>Gallery</title></head><body><img src='a.jpg'></body></html>")
    body = corpus.truth[corpus.ids[21]]["articleBody"]
    canonical = site.url("/thin/canonical-story.html")
    with_link = (f'<html><head><title>Story</title><link rel="canonical" href="{canonical}"></head><body>'
                 f'<article><h1>Story</h1>{"".join(f"<p>{p}</p>" for p in body.split(chr(10)) if p)}</article>'
                 "</body></html>").encode()
    site.pages["/thin/story-a.html"] = Page(with_link)
    site.pages["/thin/story-b.html"] = Page(with_link)
    site.pages["/thin.xml"] = Page(rss(site.base, [empty, "/thin/story-a.html"]), "application/rss+xml")
    site.pages["/thin2.xml"] = Page(rss(site.base, ["/thin/story-b.html"]), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "thin", "type": "feed", "url": site.url("/thin.xml")}])

    report, sessions = crawl_config(config)
    config2 = write_config(tmp_path, [{"name": "thin", "type": "feed", "url": site.url("/thin2.xml")}])
    report2, _ = crawl_config(config2)

    assert report.sources[0].counts.new == 1 and report.sources[0].counts.skipped == 1
    with sessions() as session:
        reason = session.get(SeenUrl, site.url(empty)).reason
    assert "no article text" in reason
    assert [a.canonical_url for a in _articles(sessions)] == [canonical]
    assert report2.sources[0].counts.new == 0 and report2.sources[0].counts.skipped == 1
    with sessions() as session:
        assert session.scalars(select(FetchState)).first() is not None


def test_status_shows_source_health_and_the_alert_queue(site, corpus, tmp_path, capsys):
    good = _serve_corpus(site, corpus, "status", 2, start=22)
    site.pages["/status-ok.xml"] = Page(rss(site.base, good), "application/rss+xml")
    config = write_config(tmp_path, [
        {"name": "healthy", "type": "feed", "url": site.url("/status-ok.xml")},
        {"name": "broken", "type": "feed", "url": site.url("/status-missing.xml")}])
    assert main(["-c", str(config), "--log-level", "ERROR", "crawl"]) == 1
    assert main(["-c", str(config), "--log-level", "ERROR", "crawl"]) == 1
    capsys.readouterr()

    assert main(["-c", str(config), "status"]) == 0

    out = capsys.readouterr().out
    healthy = next(line for line in out.splitlines() if line.startswith("healthy"))
    broken = next(line for line in out.splitlines() if line.startswith("broken"))
    assert "s ago" in healthy and healthy.split()[-2:] == ["0", "2"]     # 0 failures, 2 new in 24 h
    assert "never" in broken and " 2 " in broken and "HTTP 404" in broken
    assert "alerts: 0 pending, 0 dead" in out


def test_json_logs_carry_counts_and_never_a_secret(site, corpus, tmp_path):
    paths = _serve_corpus(site, corpus, "jsonlog", 1, start=24)
    site.pages["/jsonlog.xml"] = Page(rss(site.base, paths), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "j", "type": "feed", "url": site.url("/jsonlog.xml")}],
                          channels=[{"type": "webhook", "url": "${HOOK_URL}"}])
    env = {**os.environ, "HOOK_URL": site.url("/hooks/secret-token-abc123")}

    done = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "--log-format", "json",
                           "crawl"], env=env, capture_output=True, text=True, timeout=120)

    err = done.stderr
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records and all({"time", "level", "message"} <= set(r) for r in records)
    assert any("new:" in r["message"] for r in records)
    assert "secret-token-abc123" not in err
