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


def test_two_dispatchers_racing_deliver_each_of_200_alerts_exactly_once(postgres_url, tmp_path):
    """A one-off crawl delivering while the daemon delivers: claims carry an owner, rows are taken
    with FOR UPDATE SKIP LOCKED, and a result is written only while the lease is still ours."""
    import threading
    from collections import Counter

    import sqlalchemy

    from tests.servers import Answer, Receiver
    from wirewatch.alerts.model import operational_alert
    from wirewatch.alerts.outbox import Dispatcher, enqueue
    from wirewatch.crawler.conf.load import parse_config
    from wirewatch.crawler.store.database import open_database
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("DROP DATABASE IF EXISTS race")
        connection.exec_driver_sql("CREATE DATABASE race")
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/race"
    receiver, sessions, dispatchers = Receiver(), None, []
    try:
        hook = receiver.script("/race", Answer(200))
        config = parse_config(f'storage: "{url}"\nnetwork: {{allow_private: true}}\n'
                              f'channels: [{{type: webhook, url: "{hook}"}}]\n')
        sessions = open_database(config.storage)
        with sessions.begin() as session:
            for i in range(200):
                enqueue(session, operational_alert(f"source-{i}", "failing", f"alert {i}"), ["webhook"],
                        kind="operational")
        dispatchers = [Dispatcher(config, open_database(config.storage)) for _ in range(2)]
        start = threading.Barrier(2)

        def deliver(dispatcher):
            start.wait()
            dispatcher.drain(60)

        threads = [threading.Thread(target=deliver, args=(d,)) for d in dispatchers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(90)
        for dispatcher in dispatchers:
            dispatcher.close()
        ids = Counter(r.headers["webhook-id"] for r in receiver.at("/race"))
        assert len(ids) == 200 and set(ids.values()) == {1}          # every alert, each exactly once
        with sessions() as session:
            rows = list(session.scalars(select(Outbox)))
        assert {r.status for r in rows} == {"delivered"} and {r.attempts for r in rows} == {1}
        assert {r.lease_owner for r in rows} == {None}
    finally:
        receiver.close()
        for made in [sessions] + [d.sessions for d in dispatchers]:
            if made is not None:
                made.kw["bind"].dispose()
