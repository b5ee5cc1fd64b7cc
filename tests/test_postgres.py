"""The shared deployment: the same crawl, alerts and daemon lock on a real PostgreSQL server
(a throwaway cluster started by the `postgres_url` fixture in conftest.py on 127.0.0.1)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, rss, write_config
from wirewatch.crawler.demo.localsite import Page
from wirewatch.crawler.errors import LockedError
from wirewatch.crawler.service.lock import DaemonLock
from wirewatch.crawler.store.schema import Article, Outbox

pytestmark = pytest.mark.slow            # real crawls in child processes, daemons, servers


def test_crawl_matches_and_alerts_into_postgresql(site, corpus, tmp_path, postgres_url):
    from wirewatch.crawler.demo.site import build_site, load_articles
    articles = load_articles()[:2]
    pages = build_site(articles, site.base)
    paths = [f"/pg/{a['slug']}.html" for a in articles]
    for path, article in zip(paths, articles):
        site.pages[path] = pages[f"/{article['slug']}.html"]
    site.pages["/pg.xml"] = Page(rss(site.base, paths), "application/rss+xml")
    config = write_config(tmp_path, [{"name": "pg", "type": "feed", "url": site.url("/pg.xml"), "backlog": "alert"}],
                          storage=postgres_url, channels=[{"type": "console"}])

    report, sessions = crawl_config(config)
    again, again_sessions = crawl_config(config)
    try:
        assert report.ok and report.sources[0].counts.new == 2 and report.sources[0].counts.matches == 2
        assert again.sources[0].counts.fetched == 0
        with sessions() as session:
            assert len(session.scalars(select(Article)).all()) == 2
            assert {row.status for row in session.scalars(select(Outbox))} == {"pending"}
    finally:
        for factory in (sessions, again_sessions):
            factory.kw["bind"].dispose()


def test_one_daemon_per_postgresql_database(postgres_url):
    first = DaemonLock(postgres_url)
    first.acquire()
    try:
        with pytest.raises(LockedError, match="already running"):
            DaemonLock(postgres_url).acquire()
    finally:
        first.release()
    again = DaemonLock(postgres_url)
    again.acquire()
    again.release()
