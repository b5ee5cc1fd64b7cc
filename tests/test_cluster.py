"""More than one machine: a scheduling daemon and its standby, crawl workers taking site jobs from
the queue in one real PostgreSQL, killed with SIGKILL as a lost machine would be. Hosts are
distinct loopback addresses; every process is a real `wirewatch` process.

What an operator relies on: no site is crawled by two workers at once (the per-host limit holds
across workers), robots.txt is fetched once per site, a server error on it keeps the site off
limits, a standby leads within seconds of the leader's death, a dead worker's sites are crawled by
another, and a new report alerts exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from sqlalchemy import func, select, text

from tests.conftest import PostgresServer
from tests.servers import Answer, Receiver, wait_for
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Article, Outbox, RunSource, SourceState

pytestmark = pytest.mark.slow

SITES, FEEDS, EVERY = 20, 10, 15          # 200 sources on 20 hosts, each checked every 15 s
PER_DOMAIN = 2
GAP = 1.0                                 # network.host_gap: seconds between two requests to the shared host
ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _article(title: str, body: str) -> bytes:
    filler = ("Officials gave no further details at a briefing on Monday, and reporters were told that a "
              "fuller statement would follow later in the week after the figures had been checked again.")
    return (f"<html lang='en'><head><title>{title}</title></head><body><article><h1>{title}</h1>"
            f"<p>{body}</p><p>{filler}</p><p>{filler.replace('Monday', 'Tuesday')}</p></article></body></html>").encode()


def _rss(base: str, links: list[tuple[str, str]]) -> bytes:
    items = "".join(f"<item><title>{t}</title><link>{u}</link><pubDate>Mon, 30 Nov 2026 08:00:00 GMT</pubDate></item>"
                    for t, u in links)
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>{base}/</link>'
            f"<description>d</description>{items}</channel></rss>").encode()


class Cluster:
    """The sites, the database, and the wirewatch processes started on them."""

    def __init__(self, tmp_path: Path):
        self.tmp = tmp_path
        self.pg = PostgresServer()
        self.sites = [LocalSite(host=f"127.0.0.{2 + i}").start() for i in range(SITES)]
        self.blocked = LocalSite(host="127.0.0.40").start()             # robots.txt answers 503
        self.cdn = LocalSite(host="127.0.0.41").start()                 # a host several sites link to
        self.cdn_times: list[float] = []
        self.receiver = Receiver()
        self.hook = self.receiver.script("/hook", Answer(200))
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs: list = []
        for i, site in enumerate(self.sites):
            site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /private/\n", "text/plain")
            for j in range(FEEDS):
                path = f"/a/{j}.html"
                if j == 0:                                               # its article on the shared host
                    self._on_cdn(f"/cdn/{i}.html", _article(f"Harbour works {i}", "Cranes were repaired."))
                    link = self.cdn.url(f"/cdn/{i}.html")
                else:
                    site.pages[path] = Page(_article(f"Local news {i}-{j}", "The council met on Monday."),
                                            delay=0.2)
                    link = site.url(path)
                # site 0 answers slowly: its job is long enough to be killed mid-crawl
                site.pages[f"/feed-{j}.xml"] = Page(_rss(site.base, [(f"item {j}", link)]), "application/rss+xml",
                                                    delay=1.5 if i == 0 else 0.0)
        self.blocked.pages["/robots.txt"] = Page(b"maintenance", status=503, etag=False)
        self.blocked.pages["/feed.xml"] = Page(_rss(self.blocked.base, [("x", self.blocked.url("/x.html"))]),
                                               "application/rss+xml")
        sources = [{"name": f"s{i:02}-{j}", "type": "feed", "url": site.url(f"/feed-{j}.xml"), "every": f"{EVERY}s"}
                   for i, site in enumerate(self.sites) for j in range(FEEDS)]
        sources.append({"name": "blocked", "type": "feed", "url": self.blocked.url("/feed.xml"), "every": f"{EVERY}s"})
        self.sources = [s["name"] for s in sources]
        self.config = self.write("wirewatch.yaml", sources)
        self.sessions = open_database(self.pg.url)

    def _on_cdn(self, path: str, body: bytes) -> None:
        page = Page(body)

        def answer(_handler) -> Page:
            self.cdn_times.append(time.monotonic())
            return page
        self.cdn.pages[path] = answer

    def write(self, name: str, sources: list[dict]) -> Path:
        path = self.tmp / name
        path.write_text(yaml.safe_dump({
            "storage": self.pg.url,
            "network": {"allow_private": True, "autothrottle": False, "timeout": "5s", "retries": 0,
                        "contact": "https://wirewatch.example/tests", "crawl_timeout": "20s",
                        "per_domain": PER_DOMAIN, "host_gap": f"{GAP}s"},
            "workers": {"remote": True, "analysis": 1},
            "daemon": {"grace": "5s", "dispatch_every": "1s"},
            "alerts": {"max_age": "30d"},
            "sources": sources, "channels": [{"type": "webhook", "url": self.hook}]}, sort_keys=False))
        return path

    def start(self, name: str, *command: str, config: Path | None = None) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "w")
        self.logs.append(log)
        self.processes[name] = subprocess.Popen(
            [sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config or self.config), *command],
            stdout=log, stderr=subprocess.STDOUT, env=ENV)
        return self.processes[name]

    def log(self, name: str) -> str:
        return (self.tmp / f"{name}.log").read_text(errors="replace")

    def checked(self) -> dict[str, object]:
        with self.sessions() as session:
            return dict(session.execute(select(SourceState.source, SourceState.last_attempt)).all())

    def close(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for log in self.logs:
            log.close()
        for site in self.sites + [self.blocked, self.cdn]:
            site.stop()
        self.receiver.close()
        self.sessions.kw["bind"].dispose()
        self.pg.close()


@pytest.fixture
def cluster(tmp_path):
    world = Cluster(tmp_path)
    yield world
    world.close()


def test_two_schedulers_and_three_workers_survive_kill_9_and_keep_every_promise(cluster):
    leader = cluster.start("leader", "run", "--standby")
    assert wait_for(lambda: "daemon started" in cluster.log("leader"), 30), cluster.log("leader")
    cluster.start("standby", "run", "--standby")
    workers = [cluster.start(f"worker{n}", "worker") for n in range(3)]
    assert wait_for(lambda: "standing by" in cluster.log("standby"), 20), cluster.log("standby")

    # every source checked once (its first crawl, a silent baseline), by whichever worker
    everyone = set(cluster.sources)
    assert wait_for(lambda: {s for s, at in cluster.checked().items() if at} >= everyone, 90), \
        sorted(everyone - {s for s, at in cluster.checked().items() if at})

    # a new report on site 5: it must alert exactly once, whatever dies meanwhile
    site = cluster.sites[5]
    site.pages["/a/3.html"] = Page(_article(
        "North Korea sends 3,000 more troops to Russia, Seoul says",
        "North Korea has sent about 3,000 more troops to Russia to fight in the Kursk region, South Korea's "
        "spy agency told lawmakers on Tuesday."))
    site.pages["/a/news.html"] = site.pages["/a/3.html"]
    site.pages["/feed-3.xml"] = Page(_rss(site.base, [("item 3", site.url("/a/3.html")),
                                                      ("news", site.url("/a/news.html"))]), "application/rss+xml")
    published = time.monotonic()

    # kill -9 the worker crawling the slow site, mid-crawl
    def holder():
        with cluster.sessions() as session:
            row = session.execute(text(
                "SELECT w.pid, j.args FROM procrastinate_jobs j JOIN workers w ON w.queue_worker = j.worker_id "
                "WHERE j.status = 'doing' AND j.args->>'site' = '127.0.0.2' AND w.stopped_at IS NULL")).first()
        return row
    found = wait_for(holder, 40, step=0.05)
    assert found, "no worker was seen crawling the slow site"
    victim_pid, job = found
    victim = next(p for p in workers if p.pid == victim_pid)
    killed_at_checks = cluster.checked()
    victim.send_signal(signal.SIGKILL)
    killed = time.monotonic()

    # kill -9 the leading scheduler: the standby leads within 10 s
    leader.send_signal(signal.SIGKILL)
    leader_killed = time.monotonic()
    assert wait_for(lambda: "takes over" in cluster.log("standby"), 10, step=0.1), cluster.log("standby")
    assert time.monotonic() - leader_killed <= 10

    # the dead worker's sources are crawled by another within the job timeout + 30 s
    def redone() -> bool:
        now = cluster.checked()
        return all(now[s] > killed_at_checks[s] for s in job["sources"])
    assert wait_for(redone, 20 + 30 + 5, step=0.5)
    assert time.monotonic() - killed <= 20 + 30 + 5
    assert "queued again as attempt" in cluster.log("standby") + cluster.log("leader") + "".join(
        cluster.log(f"worker{n}") for n in range(3))

    # the new report alerted exactly once, within its interval + 30 s
    def alerted():
        bodies = [json.loads(r.body) for r in cluster.receiver.at("/hook")]
        return [b for b in bodies if b["type"] == "wirewatch.alert"]
    assert wait_for(lambda: any("3,000 more troops" in a["article"]["title"] for a in alerted()),
                            max(1.0, EVERY + 30 - (time.monotonic() - published)), step=0.5), alerted()
    first = min(r.at for r in cluster.receiver.at("/hook") if "3,000 more troops" in r.body.decode())
    time.sleep(max(0.0, EVERY + 2 - (time.monotonic() - first)))   # a round after it: nothing alerts twice
    titles = [a["article"]["title"] for a in alerted()]
    assert titles.count("North Korea sends 3,000 more troops to Russia, Seoul says") == 1, titles

    # every source is still checked within its interval + 15 s
    now = wait_for(lambda: cluster.checked() and time.time(), 1)
    with cluster.sessions() as session:
        lag = session.execute(text("SELECT max(timezone('utc', now()) - last_attempt) FROM source_state "
                                   "WHERE source <> 'blocked'")).scalar()
        articles = session.scalar(select(func.count()).select_from(Article))
        distinct = session.scalar(select(func.count(func.distinct(Article.canonical_url))))
        sent = session.scalar(select(func.count()).select_from(Outbox).where(Outbox.kind == "alert"))
    assert now and lag.total_seconds() <= EVERY + 15, lag
    assert articles == distinct and articles >= SITES * FEEDS                 # nothing stored twice
    assert sent == 1                                                          # one alert row for the one channel

    # politeness held across workers: per-host limit, robots.txt once per site, the shared host's gap
    def crowded(site):
        return [(round(a, 2), round(b, 2), p) for a, b, p in site.spans
                if sum(1 for c, d, _ in site.spans if c <= a < d) > PER_DOMAIN]
    assert max(s.max_in_flight for s in cluster.sites) <= PER_DOMAIN, \
        {s.host: (crowded(s), killed, leader_killed) for s in cluster.sites if s.max_in_flight > PER_DOMAIN}
    assert [s.paths_requested().count("/robots.txt") for s in cluster.sites] == [1] * SITES
    # released a host_gap apart across workers; their arrival here carries the jitter of two cores
    # running five wirewatch processes and 23 servers in this one (without the gap: bursts)
    times = sorted(cluster.cdn_times)
    assert len(times) == SITES and times[-1] - times[0] >= (SITES - 1) * GAP * 0.9
    assert all(c - a >= GAP for a, c in zip(times, times[2:])), times          # never three within one gap
    # robots.txt answering 503: nothing else on that site is fetched
    assert set(cluster.blocked.paths_requested()) == {"/robots.txt"}
    with cluster.sessions() as session:
        errors = session.scalars(select(RunSource.errors).where(RunSource.source == "blocked")).first()
    assert "answered 503" in " ".join(errors)

    # status shows the workers (the killed one silent, not yet past the minute) and the queue
    status = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(cluster.config),
                             "status", "--format", "json"], capture_output=True, text=True, env=ENV)
    view = json.loads(status.stdout)
    assert {w["pid"] for w in view["workers"]} == {p.pid for p in workers}
    dead = next(w for w in view["workers"] if w["pid"] == victim.pid)
    assert dead["heartbeat_age_seconds"] >= time.monotonic() - killed - 6
    assert all(w["heartbeat_age_seconds"] < 10 for w in view["workers"] if w["pid"] != victim.pid)
    assert view["queue"] is not None and view["queue"]["waiting"] >= 0

    for process in [p for p in workers if p is not victim] + [cluster.processes["standby"]]:
        process.send_signal(signal.SIGTERM)
    for process in [p for p in workers if p is not victim] + [cluster.processes["standby"]]:
        assert process.wait(30) == 0


# ---- the queue's own rules, on the real server ------------------------------------------------

def test_sites_are_registrable_domains_and_addresses():
    from wirewatch.crawler.service.queue import site_of
    assert site_of("https://www.bbc.co.uk/news/world") == site_of("https://feeds.bbc.co.uk/x.rss") == "bbc.co.uk"
    assert site_of("http://127.0.0.2:8080/feed.xml") == "127.0.0.2"
    assert site_of("https://kyivindependent.com/feed/") != site_of("https://kyivpost.com/feed")


def test_a_job_taken_from_a_silent_worker_is_refused_to_it_and_held_sources_are_not_queued_twice(postgres_url):
    from wirewatch.crawler.service.queue import defer_sites, ensure_schema, held_sources, owns, retry_stalled
    admin = open_database(postgres_url).kw["bind"]
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("DROP DATABASE IF EXISTS fence"))
        connection.execute(text("CREATE DATABASE fence"))
    admin.dispose()
    sessions = open_database(postgres_url.rsplit("/", 1)[0] + "/fence")
    assert ensure_schema(sessions.kw["bind"]) is True and ensure_schema(sessions.kw["bind"]) is False
    with sessions.begin() as session:
        groups = defer_sites(session, ["world", "feeds", "kyiv"], {
            "world": "https://www.bbc.co.uk/news/world", "feeds": "https://feeds.bbc.co.uk/news/rss.xml",
            "kyiv": "https://kyivindependent.com/feed/"}, 60.0)
    assert groups == {"bbc.co.uk": ["world", "feeds"], "kyivindependent.com": ["kyiv"]}      # one job per site
    with sessions() as session:
        assert held_sources(session) == {"world", "feeds", "kyiv"}

    def worker() -> int:
        with sessions.begin() as session:
            return session.execute(text("SELECT worker_id FROM procrastinate_register_worker_v1()")).scalar()

    def fetch(worker_id: int):
        with sessions.begin() as session:
            return session.execute(text("SELECT id, attempts, args FROM procrastinate_fetch_job_v2(ARRAY['crawl'], :w)"),
                                   {"w": worker_id}).one()
    first, second = worker(), worker()
    job, attempt, args = fetch(first)
    with sessions.begin() as session:
        assert owns(session, job, first, attempt) and attempt == 0
        assert retry_stalled(session) == []                            # its worker is heart-beating
        session.execute(text("UPDATE procrastinate_workers SET last_heartbeat = now() - interval '40 seconds' "
                             "WHERE id = :w"), {"w": first})
    with sessions.begin() as session:
        [requeued] = retry_stalled(session)
    assert (requeued.job_id, requeued.attempt, requeued.sources) == (job, 1, tuple(args["sources"]))
    again, attempt_again, _ = fetch(second)
    while again != job:                                                # (the other site's job first)
        again, attempt_again, _ = fetch(second)
    with sessions.begin() as session:
        assert not owns(session, job, first, 0)                        # the silent worker's late result: refused
        assert owns(session, job, second, 1) and attempt_again == 1
    sessions.kw["bind"].dispose()


def test_a_worker_says_what_it_cannot_do_and_a_silent_one_is_reported(tmp_path):
    """A source missing from a worker's config fails loudly; a worker cut off from PostgreSQL stops
    taking jobs, says so, and takes them again when it is back; /metrics shows the workers and the
    queue; a worker killed outright is reported to operators once it is silent."""
    pg = PostgresServer()
    site = LocalSite(host="127.0.0.42").start()
    receiver = Receiver()
    hook = receiver.script("/hook", Answer(200))
    logs: list = []
    processes: list[subprocess.Popen] = []
    try:
        for j in range(2):
            site.pages[f"/feed-{j}.xml"] = Page(_rss(site.base, [(f"item {j}", site.url(f"/a/{j}.html"))]),
                                                "application/rss+xml")
            site.pages[f"/a/{j}.html"] = Page(_article(f"Local news {j}", "The council met on Monday."))
        sources = [{"name": f"s-{j}", "type": "feed", "url": site.url(f"/feed-{j}.xml"), "every": "5s"}
                   for j in range(2)]

        def write(name: str, listed: list[dict]) -> Path:
            path = tmp_path / name
            path.write_text(yaml.safe_dump({
                "storage": pg.url, "sources": listed, "channels": [{"type": "webhook", "url": hook}],
                "network": {"allow_private": True, "autothrottle": False, "timeout": "5s", "retries": 0,
                            "contact": "https://wirewatch.example/tests", "crawl_timeout": "20s"},
                "workers": {"remote": True, "analysis": 1, "silent_after": "10s"},
                "daemon": {"grace": "5s", "dispatch_every": "1s"},
                }, sort_keys=False))
            return path
        full, partial = write("wirewatch.yaml", sources), write("worker.yaml", sources[:1])

        def start(name: str, config: Path, *command: str) -> subprocess.Popen:
            log = open(tmp_path / f"{name}.log", "w")
            logs.append(log)
            processes.append(subprocess.Popen([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c",
                                               str(config), *command], stdout=log, stderr=subprocess.STDOUT, env=ENV))
            return processes[-1]

        def read(name: str) -> str:
            return (tmp_path / f"{name}.log").read_text(errors="replace")
        start("daemon", full, "run")
        worker = start("worker", partial, "worker")
        sessions = open_database(pg.url)

        def errors_of(source: str) -> list[str]:
            with sessions() as session:
                return [e for row in session.scalars(select(RunSource.errors).where(RunSource.source == source))
                        for e in row]
        wait_for(lambda: errors_of("s-1"), 40, 0.5)
        assert any("not in this worker's config" in e for e in errors_of("s-1"))
        assert "s-1: not in this worker's config" in read("worker")

        from tests.servers import WebView
        web = WebView(full)
        try:
            metrics = requests_get(web.base + "/metrics")
        finally:
            web.stop()
        assert 'wirewatch_workers{state="alive"} 1.0' in metrics
        assert "wirewatch_queue_waiting" in metrics and "wirewatch_worker_last_heartbeat_timestamp_seconds" in metrics

        sessions.kw["bind"].dispose()                                    # (this test's own connections)
        pg.stop()                                                        # PostgreSQL goes away
        wait_for(lambda: "takes no jobs until the database answers" in read("worker"), 20, 0.5)
        assert "this worker takes no jobs until the database answers" in read("worker")
        time.sleep(3)
        pg.start()
        sessions = open_database(pg.url)
        with sessions() as session:
            before = session.scalar(select(func.max(RunSource.id)))
        def resumed() -> bool:
            with sessions() as session:
                return (session.scalar(select(func.max(RunSource.id)).where(
                    RunSource.source == "s-0", RunSource.status == "ok")) or 0) > (before or 0)
        assert wait_for(resumed, 40, 0.5), read("worker")
        assert "database reachable again" in read("worker")

        def silent_alerts() -> list[dict]:
            said = [json.loads(r.body) for r in receiver.at("/hook")]
            return [s for s in said if s["type"] == "wirewatch.operational" and s["event"] == "worker"]
        time.sleep(8)                                                    # the outage is no silence
        assert silent_alerts() == [], silent_alerts()
        worker.send_signal(signal.SIGKILL)                               # a worker lost with its machine
        said = wait_for(silent_alerts, 60, 0.5)
        assert said and f":{worker.pid} has been silent" in said[0]["message"], read("daemon")
        sessions.kw["bind"].dispose()
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.wait(10)
        for log in logs:
            log.close()
        site.stop()
        receiver.close()
        pg.close()


def requests_get(url: str) -> str:
    import requests
    return requests.get(url, timeout=10).text


def test_the_claim_of_due_sources_is_one_indexed_query_however_many_sources_there_are(postgres_url):
    """The scheduler's claim, as it runs, read back through EXPLAIN: an index scan on next_due,
    never a scan of every source (5,000 here) at every tick."""
    import datetime as dt

    from sqlalchemy import event, insert

    from wirewatch.crawler.conf.load import parse_config
    from wirewatch.crawler.service.schedule import claim_due
    admin = open_database(postgres_url).kw["bind"]
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("DROP DATABASE IF EXISTS claims"))
        connection.execute(text("CREATE DATABASE claims"))
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/claims"
    sessions = open_database(url)
    n = 5_000
    config = parse_config(f"storage: {url}\nsources:\n" + "".join(
        f'  - {{name: s{i}, type: feed, url: "https://o{i}.example/feed", every: 5m}}\n' for i in range(n)))
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    with sessions.begin() as session:
        session.execute(insert(SourceState), [
            {"source": f"s{i}", "consecutive_failures": 0, "failing_alerted": False, "quiet_alerted": False,
             "next_due": now + dt.timedelta(seconds=300 * i / n), "schedule": "every 5m"} for i in range(n)])
        session.execute(text("ANALYZE source_state"))
    claim_due(sessions, config, set(), 10, now)                  # (the config's rows are in place)
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if "FROM source_state" in statement and "next_due" in statement:
            seen.append((statement, parameters))
    engine = sessions.kw["bind"]
    event.listen(engine, "before_cursor_execute", capture)
    try:
        later = now + dt.timedelta(seconds=3)
        claimed = claim_due(sessions, config, set(), 50, later)
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    assert 0 < len(claimed) <= 50 and len(seen) == 1                # one query
    statement, parameters = seen[0]
    with engine.connect() as connection:
        raw = connection.connection.driver_connection
        plan = "\n".join(row[0] for row in raw.execute("EXPLAIN " + statement, parameters).fetchall())
    assert "Index Scan using ix_source_state_next_due" in plan and "Seq Scan" not in plan, plan
    engine.dispose()
