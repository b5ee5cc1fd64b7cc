"""The real news stream: backlogs, dates, feed links, caps, dead links, sitemaps as sites publish
them, and the live probe. Each reproduces a case against a local server."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, write_config
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.dates import parse_date, published_at
from wirewatch.crawler.demo.localsite import LocalSite
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
    ("yesterday", None), ("", None), (None, None),
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
        _ledger(site, articles + load_articles(later=True))
        second, _ = crawl_config(config)
        assert (second.sources[0].counts.matches, second.sources[0].counts.held_too_old) == (2, 1)
        with sessions() as session:
            held = {m.held_back for m in session.scalars(select(MatchRow))}
            run_rows = list(session.scalars(select(RunSource).order_by(RunSource.id)))
            outbox = list(session.scalars(select(Outbox)))
            old = session.scalar(select(Article).where(Article.title.like("Pyongyang shipped millions%")))
        assert held == {"baseline", "too old", None}
        assert [(r.held_baseline, r.held_too_old) for r in run_rows] == [(2, 0), (0, 1)]   # the run record
        assert len(outbox) == 1 and "6,000 military engineers" in outbox[0].payload["article"]["title"]
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
        _ledger(site, load_articles() + load_articles(later=True))
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl"]) == 0
        out = capsys.readouterr().out
        assert out.count("Alert id: msg_") == 1            # backlog: alert - the fresh report alerts
