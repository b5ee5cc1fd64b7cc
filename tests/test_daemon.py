"""The daemon as users run it: real `wirewatch run` processes against a local site, 1-2 s intervals."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import write_config
from tests.servers import Answer, Receiver, wait_for
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site, load_articles
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Outbox, Run, RunSource

pytestmark = pytest.mark.slow            # real crawls in child processes, daemons, servers

NEW_ARTICLE = {
    "slug": "2026/11/pyongyang-sends-rocket-launchers",
    "date": (dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)).isoformat(timespec="seconds"),
    "author": "Staff", "title": "Pyongyang ships 50 rocket launchers to Moscow, Kyiv says",
    "paragraphs": ["Ukraine's military intelligence said on Thursday that North Korea has shipped about 50 "
                   "multiple rocket launchers to Russia in the past month, along with crews to operate them.",
                   "The launchers were seen on trains crossing the Tumen river, officials said."]}


class DaemonProcess:
    def __init__(self, config: Path, log: Path):
        self.log = log
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "run"], cwd=config.parent,
                start_new_session=True,
                stdout=subprocess.DEVNULL, stderr=stderr)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def signal(self, sig: int) -> None:
        os.kill(self.process.pid, sig)

    def kill9(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()



@pytest.fixture
def world(tmp_path):
    site, receiver = LocalSite().start(), Receiver()
    articles = load_articles()
    site.pages.update(build_site(articles, site.base))
    hook = receiver.script("/hook", Answer(200))
    config = write_config(
        tmp_path, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml"), "every": "1s",
                    "backlog": "alert"}],
        channels=[{"type": "webhook", "url": hook}],
        daemon={"dispatch_every": "1s", "grace": "10s", "failures_before_alert": 2, "quiet_after": None})
    daemons: list[DaemonProcess] = []

    def start() -> DaemonProcess:
        daemon = DaemonProcess(config, tmp_path / "daemon.log")
        daemons.append(daemon)
        return daemon

    yield {"site": site, "receiver": receiver, "config": config, "start": start, "articles": articles,
           "sessions": open_database(f"sqlite:///{tmp_path / 'wirewatch.db'}")}
    for daemon in daemons:
        daemon.stop()
    site.stop()
    receiver.close()


def alert_titles(receiver) -> list[str]:
    return [json.loads(r.body).get("article", {}).get("title") for r in receiver.at("/hook")]


def test_new_article_alerts_within_interval_and_sigterm_exits_cleanly(world):
    daemon = world["start"]()
    receiver, site = world["receiver"], world["site"]
    assert wait_for(lambda: len(receiver.at("/hook")) >= 2, 30), daemon.output()

    articles = world["articles"] + [NEW_ARTICLE]
    site.pages.update(build_site(articles, site.base))
    added = time.monotonic()
    assert wait_for(lambda: NEW_ARTICLE["title"] in alert_titles(receiver), 15), daemon.output()
    assert time.monotonic() - added <= 1 + 5 + 2        # interval + 5 s (+ crawl start-up)

    started = time.monotonic()
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=15) == 0
    assert time.monotonic() - started < 10                 # within the grace period
    assert "stopped" in daemon.output()


def test_kill9_then_restart_loses_nothing_and_repeats_nothing(world):
    receiver, sessions = world["receiver"], world["sessions"]
    first = world["start"]()
    # killed once both alerts are recorded as delivered: what was recorded is never sent again
    # (a kill between a send and its record resends it, with the same webhook-id: at-least-once)
    assert wait_for(lambda: len(receiver.at("/hook")) >= 2 and _delivered(sessions) >= 2, 30), first.output()
    first.kill9()

    world["site"].pages.update(build_site(world["articles"] + [NEW_ARTICLE], world["site"].base))
    second = world["start"]()
    assert wait_for(lambda: NEW_ARTICLE["title"] in alert_titles(receiver), 20), second.output()
    time.sleep(2)
    second.signal(signal.SIGTERM)
    assert second.process.wait(timeout=15) == 0

    ids = [r.headers["webhook-id"] for r in receiver.at("/hook")]
    assert len(ids) == len(set(ids)) == 3                      # no duplicate delivery, none lost
    with sessions() as session:
        assert {r.status for r in session.scalars(select(Outbox))} == {"delivered"}
        spans = sorted((run.started_at, run.finished_at or run.started_at) for run in session.scalars(
            select(Run).join(RunSource, RunSource.run_id == Run.id).where(RunSource.source == "ledger")))
    assert all(a[1] <= b[0] for a, b in zip(spans, spans[1:]))  # never two crawls of a source at once


def test_alerts_claimed_by_a_killed_daemon_go_out_within_the_dispatch_interval_after_restart(world):
    receiver, sessions = world["receiver"], world["sessions"]
    receiver.script("/hook", Answer(200, hang=60))              # the first send hangs mid-batch
    first = world["start"]()
    assert wait_for(lambda: receiver.at("/hook"), 30), first.output()
    first.kill9()                                               # dies holding the batch's leases
    with sessions() as session:
        leased = [r for r in session.scalars(select(Outbox)) if r.lease_owner and r.status == "pending"]
    assert leased

    receiver.script("/hook", Answer(200))
    restarted = time.monotonic()
    second = world["start"]()
    assert wait_for(lambda: _all_delivered(sessions), 10), second.output()
    assert time.monotonic() - restarted < 8                     # not the old 5-minute lease
    assert "claimed by a dispatcher that is gone are due again" in second.output()


def _delivered(sessions) -> int:
    with sessions() as session:
        return sum(r.status == "delivered" for r in session.scalars(select(Outbox)))


def _all_delivered(sessions) -> bool:
    with sessions() as session:
        statuses = {r.status for r in session.scalars(select(Outbox))}
    return statuses == {"delivered"}


def test_a_second_daemon_is_refused_and_a_stale_lock_does_not_block(world):
    first = world["start"]()
    assert wait_for(lambda: "daemon started" in first.output(), 20), first.output()
    second = world["start"]()
    assert second.process.wait(timeout=20) == 2
    assert "already running" in second.output()
    first.kill9()
    third = world["start"]()
    assert wait_for(lambda: third.output().count("daemon started") >= 2, 20), third.output()
    third.signal(signal.SIGTERM)
    assert third.process.wait(timeout=15) == 0


def test_failing_source_sends_one_operator_alert_and_one_on_recovery(world):
    site, receiver = world["site"], world["receiver"]
    site.pages["/feed.xml"] = Page(b"down for maintenance", status=500, etag=False)
    daemon = world["start"]()
    operational = lambda: [json.loads(r.body) for r in receiver.at("/hook")
                           if json.loads(r.body)["type"] == "wirewatch.operational"]
    assert wait_for(lambda: operational(), 30), daemon.output()
    time.sleep(3)                                             # more failures, still one alert
    assert [o["event"] for o in operational()] == ["failing"]
    assert "HTTP 500" in operational()[0]["message"]

    site.pages.update(build_site(world["articles"], site.base))
    assert wait_for(lambda: len(operational()) == 2, 20), daemon.output()
    time.sleep(2)
    assert [o["event"] for o in operational()] == ["failing", "recovered"]


def test_sighup_with_a_broken_config_keeps_the_old_schedule(world):
    site, config = world["site"], world["config"]
    daemon = world["start"]()
    assert wait_for(lambda: "daemon started" in daemon.output(), 20)
    original = config.read_text()
    config.write_text(original.replace("type: feed", "type: fed"))
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: "config reload rejected" in daemon.output(), 10), daemon.output()
    site.clear_log()
    assert wait_for(lambda: site.paths_requested().count("/feed.xml") >= 2, 10)   # still crawling

    config.write_bytes(original.encode() + "# caf\xe9 in Latin-1\n".encode("latin-1"))
    daemon.signal(signal.SIGHUP)                                    # a non-UTF-8 file must not kill it
    assert wait_for(lambda: "not UTF-8 text" in daemon.output(), 10), daemon.output()
    assert daemon.process.poll() is None

    config.write_text(original)
    daemon.signal(signal.SIGHUP)
    assert wait_for(lambda: "config reloaded" in daemon.output(), 10), daemon.output()
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=15) == 0


def test_quiet_source_sends_one_operational_alert(world):
    config = world["config"]
    config.write_text(config.read_text().replace("quiet_after: null", "quiet_after: 2s"))
    daemon = world["start"]()
    receiver = world["receiver"]

    def quiet():
        return [b for b in (json.loads(r.body) for r in receiver.at("/hook")) if b.get("event") == "quiet"]

    assert wait_for(quiet, 20), daemon.output()
    time.sleep(3)
    assert len(quiet()) == 1 and "no new article since" in quiet()[0]["message"]
