"""The real news stream: backlogs, dates, feed links, caps, dead links, sitemaps as sites publish
them, and the live probe. Each reproduces a case against a local server."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, rss, write_config
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.dates import parse_date, published_at
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site, load_articles
from wirewatch.crawler.store.schema import Article, MatchRow, Outbox, RunSource

UTC = dt.timezone.utc
NOW = dt.datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("text, expected", [
    ("2026-11-24T06:10:00+09:00", dt.datetime(2026, 11, 23, 21, 10, tzinfo=UTC)),
    ("2026-11-24T06:10:00Z", dt.datetime(2026, 11, 24, 6, 10, tzinfo=UTC)),
    ("2026-11-24T06:10:00+0900", dt.datetime(2026, 11, 23, 21, 10, tzinfo=UTC)),
    ("Tue, 24 Nov 2026 06:10:00 +0000", dt.datetime(2026, 11, 24, 6, 10, tzinfo=UTC)),
    ("Tue, 24 Nov 2026 06:10:00 GMT", dt.datetime(2026, 11, 24, 6, 10, tzinfo=UTC)),
    ("Tue, 24 Nov 2026 01:10:00 EST", dt.datetime(2026, 11, 24, 6, 10, tzinfo=UTC)),
    ("2026-11-24", dt.datetime(2026, 11, 24, tzinfo=UTC)),
    ("2026-11-24T06:10:00", dt.datetime(2026, 11, 24, 6, 10, tzinfo=UTC)),        # no zone: UTC
    ("yesterday", None), ("", None), (None, None), ("0001-01-01T00:00:00+01:00", None),
])
def test_dates_in_every_form_sites_use_become_utc(text, expected):
    assert parse_date(text) == expected


def test_which_date_wins_and_a_future_date_is_clipped_to_the_fetch_time():
    page, entry = "2026-11-25T08:00:00+00:00", "Wed, 25 Nov 2026 09:30:00 +0000"
    assert published_at(page, entry, NOW) == dt.datetime(2026, 11, 25, 8, tzinfo=UTC)      # page first
    assert published_at(None, entry, NOW) == dt.datetime(2026, 11, 25, 9, 30, tzinfo=UTC)  # then entry
    assert published_at(None, None, NOW) == NOW                                            # then first seen
    assert published_at("2026-11-25", entry, NOW) == dt.datetime(2026, 11, 25, 9, 30, tzinfo=UTC)
    assert published_at("2027-01-01T00:00:00Z", None, NOW) == NOW                           # clipped


def _ledger(site: LocalSite, articles: list[dict]) -> None:
    site.pages.update(build_site(articles, site.base))


@pytest.mark.slow
def test_first_crawl_is_a_baseline_then_new_reports_alert_and_old_ones_are_held_back(tmp_path):
    with LocalSite() as site:
        articles = load_articles()
        _ledger(site, articles)
        config = write_config(tmp_path, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml")}],
                              channels=[{"type": "console"}])
        first, sessions = crawl_config(config)
        assert first.sources[0].counts.held_baseline == 2
        assert "matches=2 (held back: 2 baseline)" in first.sources[0].line()
        _ledger(site, articles + load_articles(later=True) + load_articles(later="last"))
        second, _ = crawl_config(config)
        assert (second.sources[0].counts.matches, second.sources[0].counts.held_too_old) == (3, 1)
        with sessions() as session:
            held = {m.held_back for m in session.scalars(select(MatchRow))}
            run_rows = list(session.scalars(select(RunSource).order_by(RunSource.id)))
            outbox = list(session.scalars(select(Outbox)))
            old = session.scalar(select(Article).where(Article.title.like("Pyongyang shipped millions%")))
        assert held == {"baseline", "too old", "same story", None}     # the Korean edition's report joins
        assert [(r.held_baseline, r.held_too_old) for r in run_rows] == [(2, 0), (0, 1)]   # the run record
        assert len(outbox) == 1                                        # one event, one alert, either report
        assert any(words in outbox[0].payload["article"]["title"] for words in ("6,000 military engineers", "공병 6천명"))
        assert outbox[0].payload["article"]["published"].endswith("+00:00")
        assert old.published_at.tzinfo is not None and (dt.datetime.now(UTC) - old.published_at).days >= 39


@pytest.mark.slow
def test_a_trial_run_stores_and_matches_but_queues_nothing_and_backlog_alert_opts_in(tmp_path, capsys):
    with LocalSite() as site:
        _ledger(site, load_articles())
        source = {"name": "ledger", "type": "feed", "url": site.url("/feed.xml"), "backlog": "alert"}
        config = write_config(tmp_path, [source], channels=[{"type": "console"}])
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl", "--no-alerts"]) == 0
        out = capsys.readouterr().out
        assert "(held back: 2 trial run)" in out and "no alert queued or sent" in out and "Alert id" not in out
        _ledger(site, load_articles() + load_articles(later=True) + load_articles(later="last"))
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl"]) == 0
        out = capsys.readouterr().out
        assert out.count("Alert id: msg_") == 1            # backlog: alert - the fresh report alerts


def _dated_rss(base: str, items: list[tuple[str, str]]) -> bytes:
    entries = "".join(f"<item><title>{path}</title><link>{base}{path}</link><pubDate>{date}</pubDate></item>"
                      for path, date in items)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{entries}</channel></rss>').encode()


@pytest.mark.slow
def test_past_max_articles_the_newest_entries_go_first_and_the_summary_says_what_is_left(tmp_path, corpus):
    with LocalSite() as site:
        days = [f"Mon, {d:02d} Nov 2026 10:00:00 +0000" for d in (3, 17, 9, 21, 5, 12)]
        items = [(f"/cap/{i}.html", day) for i, day in enumerate(days)]
        for i, (path, _) in enumerate(items):
            site.pages[path] = Page(corpus.html(corpus.ids[9 + i]))
        site.pages["/cap.xml"] = Page(_dated_rss(site.base, items), "application/rss+xml")
        config = write_config(tmp_path, [{"name": "cap", "type": "feed", "url": site.url("/cap.xml"),
                                          "max_articles": 2}])
        report, _ = crawl_config(config)
        fetched = sorted(p for p in site.paths_requested() if p.startswith("/cap/"))
        assert fetched == ["/cap/1.html", "/cap/3.html"]                 # 17 and 21 November
        assert report.sources[0].counts.left == 4 and "4 left for the next crawl" in report.sources[0].line()
        site.clear_log()
        crawl_config(config)
        assert sorted(p for p in site.paths_requested() if p.startswith("/cap/")) == ["/cap/2.html", "/cap/5.html"]


@pytest.mark.slow
def test_gone_articles_are_remembered_and_failing_ones_are_retried_a_few_times(tmp_path, corpus):
    with LocalSite() as site:
        site.pages["/dead/ok.html"] = Page(corpus.html(corpus.ids[13]))
        site.pages["/dead/gone.html"] = Page(b"gone", status=410, etag=False)
        site.pages["/dead/flaky.html"] = Page(b"oops", status=503, etag=False)
        site.pages["/dead.xml"] = Page(rss(site.base, ["/dead/ok.html", "/dead/gone.html", "/dead/flaky.html",
                                                       "/dead/missing.html"]), "application/rss+xml")
        config = write_config(tmp_path, [{"name": "dead", "type": "feed", "url": site.url("/dead.xml")}])
        site.pages["/dead.xml"].etag = False                             # the feed is fetched in full each time
        first, _ = crawl_config(config)
        counts = first.sources[0].counts
        assert (counts.new, counts.gone, counts.failed) == (1, 2, 1) and "gone=2" in first.sources[0].line()
        for _ in range(3):
            site.clear_log()
            crawl_config(config)
            asked = [p for p in site.paths_requested() if p.startswith("/dead/")]
            assert "/dead/gone.html" not in asked and "/dead/missing.html" not in asked
        assert asked == []                       # the 503 was tried on three crawls, then given up


@pytest.mark.slow
@pytest.mark.parametrize("robots", [None, Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")])
def test_a_site_root_falls_back_to_the_well_known_sitemaps(tmp_path, corpus, robots):
    with LocalSite() as site:
        if robots is not None:
            site.pages["/robots.txt"] = robots
        site.pages["/root/a.html"] = Page(corpus.html(corpus.ids[15]))
        site.pages["/sitemap-news.xml"] = Page(
            f'<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f"<url><loc>{site.base}/root/a.html</loc></url></urlset>".encode(), "application/xml")
        config = write_config(tmp_path, [{"name": "root", "type": "sitemap", "url": site.url("/")}])
        report, _ = crawl_config(config)
        assert report.ok and report.sources[0].counts.new == 1, report.sources[0].errors


@pytest.mark.slow
def test_a_robots_txt_answering_503_keeps_the_whole_site_off_limits_until_it_answers(tmp_path, corpus):
    """RFC 9309 §2.3.1.4: a server error on robots.txt means the site may not be crawled at all."""
    with LocalSite() as site:
        site.pages["/robots.txt"] = Page(b"down for maintenance", status=503, etag=False)
        site.pages["/latest.rss"] = Page(rss(site.base, ["/r/one.html"]), "application/rss+xml")
        site.pages["/r/one.html"] = Page(corpus.html(corpus.ids[18]))
        config = write_config(tmp_path, [{"name": "root", "type": "sitemap", "url": site.url("/")},
                                         {"name": "feed", "type": "feed", "url": site.url("/latest.rss")}])
        report, sessions = crawl_config(config)
        assert not report.ok and sum(s.counts.new for s in report.sources) == 0
        assert site.paths_requested() == ["/robots.txt"]                  # asked once, shared, nothing else
        assert all("answered 503" in " ".join(s.errors) for s in report.sources), [s.errors for s in report.sources]

        site.pages["/robots.txt"] = Page(f"User-agent: *\nAllow: /\nSitemap: {site.base}/latest.rss\n".encode(),
                                         "text/plain")
        from wirewatch.crawler.store.schema import RobotsRow
        with sessions.begin() as session:                                 # a minute on: asked again
            session.get(RobotsRow, site.base).fetched_at -= dt.timedelta(seconds=61)
        report, _ = crawl_config(config)
        assert report.ok and sum(s.counts.new for s in report.sources) == 1


@pytest.mark.slow
def test_robots_txt_is_fetched_once_per_crawl_and_may_list_a_feed_and_a_text_sitemap(tmp_path, corpus):
    with LocalSite() as site:
        site.pages["/robots.txt"] = Page(
            f"User-agent: *\nDisallow: /private/\nsitemap : {site.base}/latest.rss\n"
            f"Sitemap: {site.base}/urls.txt\n".encode(), "text/plain")
        site.pages["/latest.rss"] = Page(rss(site.base, ["/r/one.html", "/private/secret.html"]), "application/rss+xml")
        site.pages["/urls.txt"] = Page(f"{site.base}/r/two.html\n{site.base}/r/one.html\n".encode(), "text/plain")
        for i, name in enumerate(("one", "two")):
            site.pages[f"/r/{name}.html"] = Page(corpus.html(corpus.ids[18 + i]))
        site.pages["/private/secret.html"] = Page(corpus.html(corpus.ids[20]))
        config = write_config(tmp_path, [{"name": "root", "type": "sitemap", "url": site.url("/")},
                                         {"name": "feed", "type": "feed", "url": site.url("/latest.rss")}])
        report, _ = crawl_config(config)
        assert report.ok and sum(s.counts.new for s in report.sources) == 2
        requested = site.paths_requested()
        assert requested.count("/robots.txt") == 1 and "/private/secret.html" not in requested


@pytest.mark.slow
def test_probe_reports_each_source_live_and_stores_nothing(tmp_path, capsys):
    with LocalSite() as site:
        _ledger(site, load_articles())
        site.pages["/section/"] = Page(b'<html><body><a href="/2026/11/a.html">A</a> <a href="/about/">About</a>'
                                       b'<a href="/2026/11/b.html">B</a></body></html>')
        site.pages["/old-feed.xml"] = Page(b"", status=301, headers={"Location": "/feed.xml"}, etag=False)
        config = write_config(tmp_path, [
            {"name": "moved-feed", "type": "feed", "url": site.url("/old-feed.xml")},
            {"name": "root", "type": "sitemap", "url": site.url("/")},
            {"name": "section", "type": "listing", "url": site.url("/section/"), "follow": r"/\d{4}/\d\d/"},
            {"name": "missing", "type": "feed", "url": site.url("/nope.xml")}],
            channels=[{"type": "console"}])
        assert main(["-c", str(config), "probe"]) == 1
        out = capsys.readouterr().out
        moved = out.split("moved-feed: ")[1].split("\nroot: ")[0]
        assert moved.startswith("USABLE") and f"HTTP 200  {site.url('/feed.xml')}" in moved
        assert "type: feed  entries: 6  newest: " in moved and "robots.txt: allows this URL" in moved
        assert "root: USABLE" in out and "type: sitemap  entries: 6" in out
        assert f"follows: {site.url('/2026/11/a.html')}" in out and "/about/" not in out
        assert "missing: NOT USABLE - HTTP 404" in out and "3 of 4 source(s) usable" in out
        assert main(["-c", str(config), "probe", "section"]) == 0
        assert not (tmp_path / "wirewatch.db").exists() or _nothing_stored(tmp_path)


def _nothing_stored(tmp_path) -> bool:
    from wirewatch.crawler.store.database import open_database
    with open_database(f"sqlite:///{tmp_path / 'wirewatch.db'}")() as session:
        return session.scalar(select(Article.id)) is None and session.scalar(select(Outbox.id)) is None


@pytest.mark.slow
def test_a_source_stays_a_baseline_until_its_backlog_is_fetched_and_robots_redirects_are_followed(tmp_path):
    with LocalSite() as site:
        articles = load_articles()
        _ledger(site, articles)
        site.pages["/robots.txt"] = Page(b"", status=301, headers={"Location": "/real-robots.txt"}, etag=False)
        site.pages["/real-robots.txt"] = Page(f"User-agent: *\nSitemap: {site.base}/feed.xml\n".encode(), "text/plain")
        config = write_config(tmp_path, [{"name": "root", "type": "sitemap", "url": site.url("/"),
                                          "max_articles": 4}], channels=[{"type": "console"}])
        first, sessions = crawl_config(config)
        assert first.ok and first.sources[0].counts.left == 2          # found through the redirected robots.txt
        second, _ = crawl_config(config)
        assert second.sources[0].counts.new == 2
        with sessions() as session:
            assert {m.held_back for m in session.scalars(select(MatchRow))} == {"baseline"}
            assert session.scalar(select(Outbox.id)) is None           # the backlog never alerted
