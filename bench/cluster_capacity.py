"""What queue mode (workers.remote) carries: the control plane at 50,000 sources, and real checks
per crawl worker. Needs Debian's PostgreSQL server binaries (a throwaway server is started).

    python bench/cluster_capacity.py control [SOURCES] [INTERVAL] [MINUTES] [PER_SITE] [burst]  (50000 300 5 5)
    python bench/cluster_capacity.py checks [SOURCES] [INTERVAL] [SECONDS]              (1000 10 60)
    python bench/cluster_capacity.py                                                     (both)

control: the real scheduler (`wirewatch run` with workers.remote) and the real queue, with crawls
stubbed by a procrastinate worker that answers each site job at once (it records the check as a
crawl would). After one full interval of warm-up it watches for MINUTES and prints the
scheduling lag (how late a due source was claimed) p50/p95/max, the due checks done, and the CPU
of PostgreSQL and of the scheduler.

checks: SOURCES feed sources on distinct loopback hosts (127.0.x.y, 304 Not Modified after the first
fetch), due every INTERVAL seconds (more than the workers can do, so the rate is their capacity),
crawled by 1, 2 and then 3 real `wirewatch worker`s on this machine. Prints checks a second and
CPU per check for each, and from these how many 2-core machines 50,000 sources every 5 minutes
need."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._rss import descendants  # noqa: E402
from bench.daemon_capacity import ARTICLE, FEED, cpu_seconds, percentile  # noqa: E402

ENV = {**os.environ, "PYTHONUNBUFFERED": "1"}


def _postgres():
    from tests.conftest import PostgresServer
    return PostgresServer()


def _postgres_cpu(server) -> float:
    """CPU seconds of every process of this PostgreSQL server (the postmaster and its backends)."""
    pid = int((server.data / "postmaster.pid").read_text().split()[0])
    return cpu_seconds([pid] + descendants(pid))


def _database(server, name: str) -> str:
    import sqlalchemy
    engine = sqlalchemy.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    engine.dispose()
    return server.url.rsplit("/", 1)[0] + "/" + name


def _write(path: Path, storage: str, sources: list[str], extra: str = "") -> Path:
    lines = [f"storage: {storage}", "network: {allow_private: true, autothrottle: false, retries: 0, "
             "contact: 'https://wirewatch.example/bench', crawl_timeout: 60s}",
             "workers: {remote: true, analysis: 1}", "daemon: {dispatch_every: 5s, quiet_after: null}", extra,
             "sources:"] + sources
    path.write_text("\n".join(lines) + "\n")
    return path


def _wirewatch(config: Path, log: Path, *command: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config),
                             "--log-level", "WARNING", *command], stdout=subprocess.DEVNULL,
                            stderr=open(log, "ab"), env=ENV, start_new_session=True)


def _stop(processes: list[subprocess.Popen]) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    for process in processes:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)


# ---- the control plane -------------------------------------------------------------------------

STUB = r'''
import asyncio, sys
from procrastinate import App, PsycopgConnector
from sqlalchemy import create_engine, text
dsn, storage = sys.argv[1], sys.argv[2]
engine = create_engine(storage, pool_size=4)
app = App(connector=PsycopgConnector(conninfo=dsn, min_size=1, max_size=8))

@app.task(name="wirewatch.crawl_site", queue="crawl")
def crawl_site(site, sources, timeout=900.0):
    with engine.begin() as c:        # what a crawl records: the check, per source
        c.execute(text("UPDATE source_state SET last_attempt = timezone('utc', now()), "
                       "last_success = timezone('utc', now()), consecutive_failures = 0 "
                       "WHERE source = ANY(:s)"), {"s": sources})
        c.execute(text("INSERT INTO bench_checks (n) VALUES (:n)"), {"n": len(sources)})

async def main():
    async with app.open_async():
        await app.run_worker_async(queues=["crawl"], concurrency=16, install_signal_handlers=True,
                                   fetch_job_polling_interval=1.0, delete_jobs="successful")
asyncio.run(main())
'''


def control(sources: int = 50_000, interval: float = 300, minutes: float = 5, per_site: int = 5,
            burst: bool = False) -> None:
    """Steady state: the sources' next times spread over the interval, as a deployment that grew
    over time has them. `burst`: all new at once (they are all due together, and stay in step)."""
    import datetime as dt

    import sqlalchemy
    from wirewatch.crawler.conf.durations import format_duration
    from wirewatch.crawler.service.queue import conninfo
    from wirewatch.crawler.store.database import open_database
    from wirewatch.crawler.store.schema import SourceState
    server = _postgres()
    processes: list[subprocess.Popen] = []
    try:
        storage = _database(server, "control")
        if not burst:
            sessions = open_database(storage)
            now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None) + dt.timedelta(seconds=90)
            with sessions.begin() as session:
                session.execute(sqlalchemy.insert(SourceState), [
                    {"source": f"s{i}", "consecutive_failures": 0, "failing_alerted": False, "quiet_alerted": False,
                     "next_due": now + dt.timedelta(seconds=interval * i / sources),
                     "schedule": f"every {format_duration(interval)}"} for i in range(sources)])
            sessions.kw["bind"].dispose()
        with tempfile.TemporaryDirectory() as tmp:
            names = [f'  - {{name: s{i}, type: feed, url: "https://outlet{i // per_site}.example/feed-{i % per_site}.xml",'
                     f' every: {interval:g}s}}' for i in range(sources)]
            config = _write(Path(tmp) / "wirewatch.yaml", storage, names)
            started = time.monotonic()
            scheduler = _wirewatch(config, Path(tmp) / "scheduler.log", "run")
            processes.append(scheduler)
            engine = sqlalchemy.create_engine(storage)
            while True:                                 # the schema and the queue's tables
                time.sleep(1)
                with engine.connect() as connection:
                    if connection.execute(sqlalchemy.text("SELECT to_regclass('procrastinate_jobs')")).scalar():
                        break
                if scheduler.poll() is not None:
                    sys.exit((Path(tmp) / "scheduler.log").read_text()[-2000:])
            with engine.begin() as connection:
                connection.execute(sqlalchemy.text("CREATE TABLE bench_checks (at timestamptz DEFAULT clock_timestamp(), "
                                                   "n int)"))
            script = Path(tmp) / "stub.py"
            script.write_text(STUB)
            for n in range(2):
                processes.append(subprocess.Popen([sys.executable, str(script), conninfo(storage), storage],
                                                  stdout=subprocess.DEVNULL, stderr=open(Path(tmp) / f"stub{n}.log", "ab"),
                                                  env=ENV, start_new_session=True))
            print(f"control plane: {sources} sources every {interval:g}s ({sources / interval:.0f} checks/s) on "
                  f"{sources // per_site} sites, {'all due at once' if burst else 'due times spread'}, crawls "
                  f"stubbed; scheduler up after {time.monotonic() - started:.0f}s; "
                  f"warming up one interval, then measuring {minutes:g} min", flush=True)
            time.sleep(interval)
            tree = [scheduler.pid] + descendants(scheduler.pid)
            cpu_pg, cpu_scheduler, t0 = _postgres_cpu(server), cpu_seconds(tree), time.monotonic()
            with engine.connect() as connection:
                since = connection.execute(sqlalchemy.text("SELECT clock_timestamp()")).scalar()
            time.sleep(minutes * 60)
            window = time.monotonic() - t0
            cpu_pg, cpu_scheduler = _postgres_cpu(server) - cpu_pg, cpu_seconds(tree) - cpu_scheduler
            with engine.connect() as connection:
                done = connection.execute(sqlalchemy.text("SELECT coalesce(sum(n), 0) FROM bench_checks WHERE at >= :t"),
                                          {"t": since}).scalar()
                lags = [float(v) for v in connection.execute(sqlalchemy.text(
                    "SELECT last_lag FROM source_state WHERE last_lag IS NOT NULL")).scalars()]
                waiting = connection.execute(sqlalchemy.text(
                    "SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")).scalar()
            engine.dispose()
    finally:
        _stop(processes)
        server.close()
    due = sources * window / interval
    print(f"scheduling lag (how late a due source was claimed): p50 {percentile(lags, 0.5):.2f}s  "
          f"p95 {percentile(lags, 0.95):.2f}s  max {max(lags, default=float('nan')):.2f}s")
    print(f"due checks done: {done} of {due:.0f} = {100 * done / due:.1f}% ({done / window:.0f} checks/s); "
          f"{waiting} site job(s) waiting at the end")
    print(f"CPU over {window:.0f}s: PostgreSQL {100 * cpu_pg / window:.0f}% of one core, scheduler "
          f"{100 * cpu_scheduler / window:.0f}% of one core")


# ---- real checks per worker ------------------------------------------------------------------

def _hosts(n: int) -> list[str]:
    return [f"127.0.{1 + i // 250}.{2 + i % 250}" for i in range(n)]


def _serve(hosts: list[str]):
    """One server on every loopback address: each host its own feed and article."""
    from wirewatch.crawler.demo.localsite import LocalSite, Page
    site = LocalSite(host="0.0.0.0").start()
    port = site._server.server_address[1]
    checks: dict[str, list[float]] = defaultdict(list)
    lock = threading.Lock()
    pages = {}
    for i, host in enumerate(hosts):
        base = f"http://{host}:{port}"
        pages[host] = (Page(FEED.format(i=i, base=base).encode(), content_type="application/rss+xml"),
                       Page(ARTICLE.format(i=i).encode()))

    def feed(handler):
        host = handler.headers.get("Host", "").split(":")[0]
        with lock:
            checks[host].append(time.monotonic())
        return pages[host][0]

    def article(handler):
        return pages[handler.headers.get("Host", "").split(":")[0]][1]
    site.pages["/feed.xml"] = feed
    for i in range(len(hosts)):
        site.pages[f"/a/{i}.html"] = article
    return site, port, checks


def checks(sources: int = 1000, interval: float = 10, seconds: float = 60) -> None:
    hosts = _hosts(sources)
    site, port, seen = _serve(hosts)
    server = _postgres()
    rates = []
    try:
        for workers in (1, 2, 3):
            storage = _database(server, f"checks{workers}")
            seen.clear()
            with tempfile.TemporaryDirectory() as tmp:
                names = [f'  - {{name: s{i}, type: feed, url: "http://{h}:{port}/feed.xml", every: {interval:g}s}}'
                         for i, h in enumerate(hosts)]
                config = _write(Path(tmp) / "wirewatch.yaml", storage, names)
                processes = [_wirewatch(config, Path(tmp) / "scheduler.log", "run")]
                time.sleep(3)
                processes += [_wirewatch(config, Path(tmp) / f"worker{n}.log", "worker") for n in range(workers)]
                try:
                    set_up = time.monotonic()
                    while len(seen) < sources and time.monotonic() - set_up < 600:
                        time.sleep(1)
                    time.sleep(interval)                   # past the first fetches (and extraction)
                    trees = [p.pid for p in processes[1:]]
                    trees += [c for p in processes[1:] for c in descendants(p.pid)]
                    cpu0, t0 = cpu_seconds(trees), time.monotonic()
                    count0 = sum(len(v) for v in seen.values())
                    time.sleep(seconds)
                    window = time.monotonic() - t0
                    done = sum(len(v) for v in seen.values()) - count0
                    cpu = cpu_seconds(trees) - cpu0
                finally:
                    _stop(processes)
            rate = done / window
            rates.append(rate)
            print(f"{workers} worker(s): {rate:.1f} checks/s ({done} in {window:.0f}s; demanded "
                  f"{sources / interval:.0f}/s), CPU per check {1000 * cpu / max(1, done):.1f} ms "
                  f"(workers and their crawl and analysis processes)", flush=True)
    finally:
        site.stop()
        server.close()
    best = max(rates)
    need = 50_000 / 300
    print(f"50,000 sources every 5 min = {need:.0f} checks/s; this 2-core machine did at most {best:.1f}/s "
          f"(with the scheduler, PostgreSQL and the test server on it too): about {need / best:.1f} such "
          f"machines of workers, plus PostgreSQL")


if __name__ == "__main__":
    what = sys.argv[1] if len(sys.argv) > 1 else "both"
    numbers = [float(a) for a in sys.argv[2:]]
    if what in ("control", "both"):
        burst = "burst" in sys.argv[2:]
        numbers = [float(a) for a in sys.argv[2:] if a != "burst"]
        control(*(int(a) if i in (0, 3) else a for i, a in enumerate(numbers if what == "control" else [])),
                burst=burst)
    if what in ("checks", "both"):
        checks(*(int(a) if i == 0 else a for i, a in enumerate(numbers if what == "checks" else [])))
