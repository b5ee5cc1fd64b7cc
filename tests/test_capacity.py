"""The long-lived crawl worker: many sources on one host share its limit and its robots.txt, a
killed or recycled worker is replaced, and a shutdown says which sources it interrupted."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, write_config
from tests.test_daemon import NEW_ARTICLE, DaemonProcess, alert_titles, wait_for
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site
from wirewatch.crawler.store.schema import RunSource, SourceState

pytestmark = pytest.mark.slow

FEED = ("<?xml version='1.0'?><rss version='2.0'><channel><title>t</title><link>{base}/</link>"
        "</channel></rss>")


class Gauge:
    """Requests in flight at the server, and the most there ever were."""

    def __init__(self):
        self.now = self.peak = 0
        self.lock = threading.Lock()

    def page(self, body: bytes, delay: float):
        def answer(handler) -> Page:
            with self.lock:
                self.now += 1
                self.peak = max(self.peak, self.now)
            time.sleep(delay)
            with self.lock:
                self.now -= 1
            return Page(body, "application/rss+xml", etag=False)
        return answer


def test_fifty_sources_on_one_host_share_its_limit_and_its_robots_txt(tmp_path):
    gauge = Gauge()
    with LocalSite() as site:
        sources = []
        for i in range(50):
            site.pages[f"/feeds/{i}.xml"] = gauge.page(FEED.format(base=site.base).encode(), 0.15)
            sources.append({"name": f"desk-{i}", "type": "feed", "url": site.url(f"/feeds/{i}.xml")})
        site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
        config = write_config(tmp_path, sources, network={"per_domain": 2})
        started = time.monotonic()
        report, _ = crawl_config(config)
        took = time.monotonic() - started
        paths = site.paths_requested()
    assert report.ok and len(report.sources) == 50
    assert gauge.peak <= 2                                    # the host's limit, across 50 spiders
    assert gauge.peak == 2 and took >= 50 * 0.15 / 2          # ... and used, not one at a time
    assert paths.count("/robots.txt") == 1                    # read once for all of them


def _worker_pids(daemon_pid: int) -> list[int]:
    """The crawl worker: a child of the fork server the daemon started."""
    from bench._rss import descendants
    servers = [p for p in descendants(daemon_pid)
               if b"forkserver" in Path(f"/proc/{p}/cmdline").read_bytes()]
    return [p for server in servers for p in descendants(server)
            if Path(f"/proc/{p}/status").read_text().split("PPid:\t")[1].split()[0] == str(server)]


@pytest.fixture
def slow_world(tmp_path):
    site = LocalSite().start()
    site.pages.update(build_site([], site.base))
    config = write_config(tmp_path, [{"name": "slow", "type": "feed", "url": site.url("/feed.xml"), "every": "1s"}],
                          daemon={"dispatch_every": "1s", "grace": "3s", "quiet_after": None})
    daemons: list[DaemonProcess] = []
    yield site, config, daemons
    for daemon in daemons:
        daemon.stop()
    site.stop()


def test_a_killed_worker_is_replaced_and_its_sources_crawled_again(slow_world, tmp_path):
    site, config, daemons = slow_world
    feed = site.pages["/feed.xml"]
    site.pages["/feed.xml"] = Page(feed.body, feed.content_type, delay=3)     # a crawl under way
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemons.append(daemon)
    assert wait_for(lambda: "/feed.xml" in site.paths_requested() and _worker_pids(daemon.process.pid), 30)
    [worker] = _worker_pids(daemon.process.pid)
    site.clear_log()
    os.kill(worker, signal.SIGKILL)
    assert wait_for(lambda: "died (SIGKILL) while crawling" in daemon.output(), 10), daemon.output()
    assert "WARNING" in next(line for line in daemon.output().splitlines() if "died (SIGKILL)" in line)
    assert "due again now" in daemon.output()
    site.pages["/feed.xml"] = feed
    assert wait_for(lambda: "/feed.xml" in site.paths_requested(), 10), daemon.output()   # retried at once
    assert wait_for(lambda: _worker_pids(daemon.process.pid) and _worker_pids(daemon.process.pid) != [worker], 10)
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=15) == 0


def test_shutdown_during_a_crawl_says_interrupted_and_counts_no_failure(slow_world, tmp_path):
    site, config, daemons = slow_world
    feed = site.pages["/feed.xml"]
    site.pages["/feed.xml"] = Page(feed.body, feed.content_type, delay=20)
    daemon = DaemonProcess(config, tmp_path / "daemon.log")
    daemons.append(daemon)
    assert wait_for(lambda: "/feed.xml" in site.paths_requested(), 30), daemon.output()
    daemon.signal(signal.SIGTERM)
    assert daemon.process.wait(timeout=15) == 0
    out = daemon.output()
    assert "slow: interrupted by shutdown" in out and "fetched=None" not in out
    from wirewatch.crawler.store.database import open_database
    sessions = open_database(f"sqlite:///{tmp_path / 'wirewatch.db'}")
    with sessions() as session:
        assert [r.status for r in session.scalars(select(RunSource))] == ["interrupted"]
        state = session.get(SourceState, "slow")
        assert state is None or not state.consecutive_failures


def test_a_recycled_worker_hands_over_and_alerts_still_arrive(tmp_path, capsys):
    from tests.servers import Answer, Receiver
    from wirewatch.crawler.demo.site import load_articles
    site, receiver = LocalSite().start(), Receiver()
    try:
        articles = load_articles()
        site.pages.update(build_site(articles[:2], site.base))
        hook = receiver.script("/hook", Answer(200))
        config = write_config(tmp_path, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml"),
                                          "every": "1s"}],
                              channels=[{"type": "webhook", "url": hook}],
                              daemon={"dispatch_every": "1s", "grace": "5s", "quiet_after": None},
                              workers={"recycle_after": 2})
        daemon = DaemonProcess(config, tmp_path / "daemon.log")
        try:
            assert wait_for(lambda: daemon.output().count("retiring (2 jobs done)") >= 2, 40), daemon.output()
            site.pages.update(build_site(articles[:2] + [NEW_ARTICLE], site.base))
            assert wait_for(lambda: NEW_ARTICLE["title"] in alert_titles(receiver), 15), daemon.output()
            # status shows the schedule the daemon keeps in the database
            assert main(["-c", str(config), "status"]) == 0
            line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("ledger"))
            assert "s ago" in line and ("in " in line or " now " in line)
            daemon.signal(signal.SIGTERM)
            assert daemon.process.wait(timeout=15) == 0
        finally:
            daemon.stop()
    finally:
        site.stop()
        receiver.close()
