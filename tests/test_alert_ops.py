"""Crash safety, same-story dedup and the operator commands for the outbox."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
from sqlalchemy import select

from tests.conftest import rss, write_config
from tests.servers import Answer, Receiver
from tests.test_alerts import MATCHER, TEXT, TITLE, make, store_match
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site, load_articles
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Outbox


def outbox(sessions) -> list[Outbox]:
    with sessions() as session:
        return list(session.scalars(select(Outbox)))


def test_same_story_from_another_outlet_alerts_once_new_facts_alert_again(tmp_path):
    config, sessions = make(tmp_path, "  - {type: console}")
    store_match(config, sessions)
    from wirewatch.crawler.records import ArticleItem, Extracted, PageAnalysis
    from wirewatch.crawler.store.ingest import ingest

    def another(url: str, title: str, text: str) -> int:
        item = ArticleItem(source="other-outlet", url=url, canonical=url, requested=url, html=b"")
        matches = tuple(r for r in MATCHER.match(title, text) if r.matched)
        return ingest(sessions, item, PageAnalysis(Extracted(text, title, None, None, None, "en"), matches=matches),
                      Routes.of(config)).alerts

    assert another("https://b.example/1", TITLE + " - report", TEXT) == 0           # same story, nothing new
    assert another("https://c.example/2", TITLE + " - update",
                   TEXT + " Pyongyang has also supplied 50 KN-23 missiles to Moscow.") == 1   # new fact
    assert len(outbox(sessions)) == 2
    roundup = ("Ukraine war, day 1,000: what we know. Russia keeps up strikes on the power grid. North Korea "
               "has sent approximately 11,000 troops to Russia, Seoul says.")
    assert another("https://d.example/3", "Ukraine war at 1,000 days", roundup) == 0     # figures restated
    assert another("https://e.example/4", "Ukraine war at 1,001 days", roundup.replace("11,000", "14,000")) == 1


@pytest.mark.slow
def test_crash_after_match_commit_before_send_delivers_exactly_once(tmp_path):
    receiver = Receiver()
    site = LocalSite().start()
    try:
        articles = load_articles()[:1]
        site.pages.update(build_site(articles, site.base))
        slow = "/slow/article.html"
        site.pages[slow] = Page(site.pages[f"/{articles[0]['slug']}.html"].body.replace(b"200", b"300"),
                                delay=30)
        site.pages["/crash.xml"] = Page(rss(site.base, [f"/{articles[0]['slug']}.html", slow]),
                                        "application/rss+xml")
        hook = receiver.script("/hook", Answer(200))
        config = write_config(tmp_path, [{"name": "crash", "type": "feed", "url": site.url("/crash.xml"),
                                                 "backlog": "alert"}],
                              channels=[{"type": "webhook", "url": hook}],
                              network={"timeout": "60s", "per_domain": 4})
        command = [sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "--log-level", "WARNING", "crawl"]
        env = dict(os.environ)
        process = subprocess.Popen(command, cwd=tmp_path, env=env, start_new_session=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sessions = open_database(f"sqlite:///{tmp_path / 'wirewatch.db'}")
        deadline = time.monotonic() + 60
        while not outbox(sessions) and time.monotonic() < deadline:
            time.sleep(0.1)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

        [row] = outbox(sessions)
        assert row.status == "pending" and receiver.at("/hook") == []

        site.pages[slow].delay = 0
        rerun = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=120)
        assert rerun.returncode == 0, rerun.stderr.decode()[-500:]
        subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, timeout=120)

        deliveries = receiver.at("/hook")
        assert len(deliveries) == 1
        assert deliveries[0].headers["webhook-id"] == row.alert_id
    finally:
        site.stop()
        receiver.close()


@pytest.mark.slow
def test_alerts_test_list_and_retry_commands(tmp_path, capsys, monkeypatch):
    receiver = Receiver()
    try:
        monkeypatch.setenv("HOOK_SECRET", "whsec_c2VjcmV0LXZhbHVlLWZvci10ZXN0cw==")
        monkeypatch.setenv("SLACK_URL", receiver.url("/slack/T0001/B0001/tokenXYZsecret"))
        receiver.script("/slack/T0001/B0001/tokenXYZsecret", Answer(200))
        receiver.script("/gone", Answer(410, b"gone"))
        config = write_config(tmp_path, [], channels=[
            {"type": "slack", "url": "${SLACK_URL}"},
            {"type": "webhook", "url": receiver.url("/gone"), "secret": "${HOOK_SECRET}"}])

        assert main(["-c", str(config), "alerts", "test"]) == 1
        out = capsys.readouterr().out
        assert "slack: slack http://127.0.0.1" in out and ": DELIVERED" in out
        assert "webhook: webhook" in out and "DEAD - HTTP 410" in out
        assert "tokenXYZsecret" not in out

        from wirewatch.crawler.conf.load import load_config
        real = load_config(config)
        store_match(real, open_database(real.storage))
        main(["-c", str(config), "crawl"])                       # delivers what is due, then exits
        capsys.readouterr()
        assert main(["-c", str(config), "alerts", "list", "--status", "dead"]) == 0
        listing = capsys.readouterr().out
        assert "webhook" in listing and "dead" in listing and "HTTP 410" in listing
        assert "tokenXYZsecret" not in listing

        receiver.script("/gone", Answer(200))
        assert main(["-c", str(config), "alerts", "retry", "--dead"]) == 0
        assert "1 alert row(s) queued again" in capsys.readouterr().out
        main(["-c", str(config), "crawl"])
        assert main(["-c", str(config), "alerts", "list", "--status", "dead"]) == 0
        assert "no alerts" in capsys.readouterr().out
    finally:
        receiver.close()
