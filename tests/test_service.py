"""Running wirewatch like a service on a real PostgreSQL that these tests stop and restart under
it: one scheduler whatever happens to the server, no transaction left open, calm logs while the
database is away, clean exits, no orphaned processes, counters that never go down, and a database
from a newer release refused in one line."""

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
import requests
import sqlalchemy

from tests.conftest import PostgresServer, write_config
from tests.servers import Answer, Receiver, free_port, wait_for
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site, load_articles

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def server():
    pg = PostgresServer()
    yield pg
    pg.close()


@pytest.fixture
def database(server, request):
    """A fresh database on the shared server for each test."""
    name = "svc_" + request.node.name[:40].lower().replace("[", "_").replace("]", "")
    admin = sqlalchemy.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        connection.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return server.url.rsplit("/", 1)[0] + "/" + name


@pytest.fixture
def site():
    s = LocalSite().start()
    s.pages.update(build_site(load_articles(), s.base))
    yield s
    s.stop()


class Daemon:
    """`wirewatch --log-format json run` in its own process group, its log lines as JSON."""

    def __init__(self, config: Path, log: Path, *args: str):
        self.log = log
        with open(log, "ab") as stderr:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "--log-format", "json",
                 "run", *args], cwd=config.parent, start_new_session=True, stdout=subprocess.DEVNULL, stderr=stderr)

    def lines(self) -> list[str]:
        return [line for line in self.log.read_text(errors="replace").splitlines() if line.strip()]

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.lines()]

    def said(self, text: str) -> bool:
        return any(text in r["message"] for r in self.records())

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                os.killpg(self.process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.process.wait()



def _config(tmp_path: Path, database: str, site: LocalSite, **sections) -> Path:
    return write_config(tmp_path, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml"), "every": "2s"}],
                        storage=database, daemon={"dispatch_every": "1s", "grace": "5s", "quiet_after": None},
                        **sections)


def _holders(database: str) -> int:
    engine = sqlalchemy.create_engine(database, poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.connect() as connection:
            return connection.scalar(sqlalchemy.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = 2003399269 AND granted"))
    finally:
        engine.dispose()


def _active_spans(daemon: Daemon) -> list[tuple[float, float]]:
    """When this daemon scheduled: from its start (or resuming) to losing the lock or stopping."""
    spans, since = [], None
    for record in daemon.records():
        message = record["message"]
        if message.startswith("daemon started") or "scheduling resumes" in message:
            since = record["ts"]
        elif since is not None and ("advisory lock was lost" in message or message.startswith("stopping")):
            spans.append((since, record["ts"]))
            since = None
    if since is not None:
        spans.append((since, time.time()))
    return spans


def test_a_postgres_restart_never_leaves_two_schedulers(server, database, site, tmp_path):
    config = _config(tmp_path, database, site)
    first = Daemon(config, tmp_path / "first.log", "--standby")
    second = None
    try:
        assert wait_for(lambda: first.said("daemon started"), 30), first.lines()
        second = Daemon(config, tmp_path / "second.log", "--standby")
        assert wait_for(lambda: second.said("standing by"), 30), second.lines()
        assert _holders(database) == 1
        for _ in range(2):                                   # twice: whoever holds it, it moves cleanly
            server.restart()
            assert wait_for(lambda: first.said("advisory lock was lost") or second.said("advisory lock was lost"), 20)
            assert wait_for(lambda: _holders(database) == 1, 30)
            time.sleep(3)
        assert first.process.poll() is None and second.process.poll() is None    # both alive: one stands by
        assert _holders(database) == 1
        spans = sorted(_active_spans(first) + _active_spans(second))
        assert len(spans) >= 2
        # never two schedulers at once: a leader that lost the lock claims nothing from that moment
        # (each claim checks the lock session in its own transaction); its log line saying so may
        # come up to one look (0.5 s) after the other daemon started
        for (_, end), (start, _) in zip(spans, spans[1:]):
            assert end <= start + 0.6, spans
        for daemon in (first, second):
            daemon.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=30) == 0 and second.process.wait(timeout=30) == 0
        for daemon in (first, second):
            assert not any("Traceback" in line for line in daemon.lines())
    finally:
        first.stop()
        if second is not None:
            second.stop()


def test_no_transaction_stays_open_and_vacuum_removes_dead_rows(server, database, site, tmp_path):
    config = _config(tmp_path, database, site)
    daemon = Daemon(config, tmp_path / "daemon.log")
    admin = sqlalchemy.create_engine(database, isolation_level="AUTOCOMMIT")
    try:
        assert wait_for(lambda: daemon.said("daemon started"), 30), daemon.lines()
        assert wait_for(lambda: _holders(database) == 1, 10)
        time.sleep(3)                                        # a few ticks and crawls
        with admin.connect() as connection:
            connection.exec_driver_sql("CREATE TABLE churn (id int primary key, n int)")
            connection.exec_driver_sql("INSERT INTO churn SELECT g, 0 FROM generate_series(1, 500) g")
            connection.exec_driver_sql("UPDATE churn SET n = n + 1")
            # a tick's claim is a transaction of a few milliseconds; none may stay open for a second
            idle = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                "state = 'idle in transaction' AND state_change < now() - interval '1 second'").scalar()
            holding = connection.exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND "
                "backend_xmin IS NOT NULL AND pid <> pg_backend_pid() "
                "AND xact_start < now() - interval '1 second'").scalar()
            connection.exec_driver_sql("VACUUM churn")
            dead = connection.exec_driver_sql(
                "SELECT n_dead_tup FROM pg_stat_user_tables WHERE relname = 'churn'").scalar()
        assert idle == 0 and holding == 0 and dead == 0
    finally:
        admin.dispose()
        daemon.stop()


def test_postgres_down_for_30s_costs_a_few_calm_lines_then_everything_resumes(server, database, site, tmp_path):
    receiver = Receiver()
    hook = receiver.script("/hook", Answer(200))
    config = _config(tmp_path, database, site, channels=[{"type": "webhook", "url": hook}], web=None)
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        assert wait_for(lambda: daemon.said("daemon started"), 30), daemon.lines()
        assert wait_for(lambda: "/feed.xml" in site.paths_requested(), 15)
        before = len(daemon.lines())
        server.stop()
        time.sleep(30)
        during = daemon.lines()[before:]
        server.start()
        assert wait_for(lambda: daemon.said("database reachable again") or daemon.said("scheduling resumes"), 30), \
            daemon.lines()[before:]
        site.clear_log()
        assert wait_for(lambda: "/feed.xml" in site.paths_requested(), 20), daemon.lines()[before:]   # crawling again
        assert len(during) <= 8, during                           # not one line per tick
        assert not any("Traceback" in line or "traceback" in json.loads(line) for line in daemon.lines())
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=30) == 0               # a clean exit after the restart
        for line in daemon.lines():                               # every line a log shipper reads is JSON
            json.loads(line)
    finally:
        if server_down(server):
            server.start()
        daemon.stop()
        receiver.close()


def server_down(server: PostgresServer) -> bool:
    try:
        engine = sqlalchemy.create_engine(server.url, poolclass=sqlalchemy.pool.NullPool)
        with engine.connect():
            pass
        engine.dispose()
        return False
    except sqlalchemy.exc.OperationalError:
        return True


def _children(pid: int) -> list[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_a_crawl_worker_killed_by_signal_leaves_no_orphans(database, site, tmp_path):
    for path, page in list(site.pages.items()):               # article pages answer slowly: a crawl under way
        if path.endswith(".html"):
            site.pages[path] = Page(page.body, page.content_type, delay=4)
    config = _config(tmp_path, database, site, workers={"analysis": 2})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        def worker_with_pool():
            for pid in _children(daemon.process.pid):         # the fork server, then the worker under it
                for worker in [pid] + _children(pid):
                    pool = [c for c in _children(worker) if _alive(c)]
                    if len(pool) >= 2:
                        return worker, pool
            return None
        found = wait_for(worker_with_pool, 40)
        assert found, daemon.lines()
        worker, pool = found
        os.kill(worker, signal.SIGKILL)
        assert wait_for(lambda: not any(_alive(p) for p in pool), 10), [p for p in pool if _alive(p)]
        assert wait_for(lambda: daemon.said("died (SIGKILL) while crawling ledger"), 10), daemon.lines()
        warning = next(r for r in daemon.records() if "died (SIGKILL)" in r["message"])
        assert warning["level"] == "WARNING"
        daemon.process.send_signal(signal.SIGTERM)
        assert daemon.process.wait(timeout=30) == 0
        leftovers = [p for p in pool + [worker] if _alive(p)]
        assert leftovers == []
    finally:
        daemon.stop()


def test_counters_never_go_down_across_prune(database, tmp_path):
    from wirewatch.crawler.conf.sections import Retention
    from wirewatch.crawler.store.database import open_database
    from wirewatch.crawler.store.retention import prune
    from wirewatch.crawler.store.schema import Outbox, Run, RunSource, utcnow
    from wirewatch.crawler.web.metrics import DatabaseCollector
    sessions = open_database(database)
    request_cleanup = sessions.kw["bind"].dispose
    old = utcnow() - dt.timedelta(days=400)
    with sessions.begin() as session:
        for i in range(6):
            run = Run(trigger="schedule", status="ok", started_at=old if i < 4 else utcnow())
            session.add(run)
            session.flush()
            session.add(RunSource(run_id=run.id, source="ledger", status="ok" if i % 3 else "failed",
                                  duration=0.4 * (i + 1)))
            session.add(Outbox(alert_id=f"a{i}", channel="hook", kind="match", payload={}, status="delivered",
                               delivered_at=old if i < 4 else utcnow()))

    def scrape() -> dict[tuple, float]:
        values = {}
        for family in DatabaseCollector(type("NoSources", (), {"sources": []})(), sessions).collect():
            if family.type in ("counter", "histogram"):
                for sample in family.samples:
                    values[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return values

    before = scrape()
    report = prune(sessions, Retention(runs=30 * 86400.0, delivered_alerts=30 * 86400.0))
    assert report.run_sources == 4 and report.delivered_alerts == 4
    after = scrape()
    assert before and before.keys() == after.keys()
    assert all(after[key] >= before[key] for key in before), {k: (before[k], after[k]) for k in before}
    with sessions() as session:                    # the rows are gone; the counts are not
        assert session.query(RunSource).count() == 2 and session.query(Outbox).count() == 2
    assert after[("wirewatch_crawls_total", (("outcome", "ok"), ("source", "ledger")))] == 4
    request_cleanup()


def test_a_database_from_a_newer_release_is_refused_in_one_line(database, tmp_path):
    from wirewatch.crawler.store.database import open_database
    open_database(database).kw["bind"].dispose()              # this release's schema
    engine = sqlalchemy.create_engine(database)
    with engine.begin() as connection:
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = '0999'")
    engine.dispose()
    config = write_config(tmp_path, [], storage=database, auto_upgrade=False)
    for command in (["crawl"], ["run"], ["status"], ["db", "upgrade"], ["matches"]):
        result = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), *command],
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 2, (command, result.stderr)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "made by a newer wirewatch (schema 0999)" in lines[0], (command, lines)
        assert "do not downgrade the database" in lines[0]


def test_healthz_in_the_daemon_says_when_the_scheduler_last_ticked(database, site, tmp_path):
    port = free_port()
    config = _config(tmp_path, database, site, web={"listen": f"127.0.0.1:{port}"})
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        answer = wait_for(lambda: _get(f"http://127.0.0.1:{port}/healthz"), 30)
        assert answer is not None and answer.status_code == 200, daemon.lines()
        assert "scheduler: last tick" in answer.text and "scheduling" in answer.text
    finally:
        daemon.stop()
    from wirewatch.crawler.conf.load import load_config
    from wirewatch.crawler.store.database import open_database
    from wirewatch.crawler.web.app import create_app
    loaded = load_config(config)
    sessions = open_database(database)
    try:
        client = create_app(loaded, sessions, health=lambda: {"last_tick": time.time() - 120,
                                                              "scheduling": True}).test_client()
        stalled = client.get("/healthz")
        assert stalled.status_code == 503 and "scheduler stalled: last tick 120s ago" in stalled.text
    finally:
        sessions.kw["bind"].dispose()


def _get(url: str):
    try:
        return requests.get(url, timeout=2)
    except requests.ConnectionError:
        return None
