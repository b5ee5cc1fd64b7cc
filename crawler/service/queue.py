"""The crawl job queue for more than one machine: procrastinate, in the same PostgreSQL.

With `workers.remote: true` the scheduling daemon does not crawl. At each tick it claims the due
sources, groups them by site (registrable domain: every source of bbc.co.uk is one site) and
defers one job per site, in the same transaction that moved their next times on. Each job carries
its site as procrastinate's `lock`, so no two workers crawl one site at once, whatever machine
they are on: the per-host limit and robots.txt hold across the cluster. `wirewatch worker`
processes (service/remote.py) take the jobs.

A worker that stops heart-beating (killed, frozen, cut off) leaves its jobs `doing`; the daemon
and every worker look for such stalled jobs and queue them again with the attempt number raised,
and a worker whose job was taken from it refuses its own late result (`owns`).

Why procrastinate's `queueing_lock` is not used: a stalled job retried while another job of the
same site waits hits the queueing lock's unique index inside procrastinate's completion path and
stays `doing` for good. Instead the daemon never defers a source that a waiting or running job
already holds (`held_sources`)."""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import text
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

log = logging.getLogger("wirewatch.queue")

TASK = "wirewatch.crawl_site"
SWEEP_TASK = "wirewatch.retry_stalled"
QUEUE = "crawl"
STALLED_AFTER = 30.0             # seconds without a heartbeat before a worker's jobs go to others
HEARTBEAT = 5.0                  # how often a worker says it is alive


@functools.lru_cache(maxsize=1)
def _extract():
    import tldextract
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)     # the list shipped in the package


@functools.lru_cache(maxsize=50_000)
def site_of(url: str) -> str:
    """A URL's site: its registrable domain ('www.bbc.co.uk' → 'bbc.co.uk'), or the host itself
    for an address or a name with no public suffix ('127.0.0.2', 'localhost')."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    if not host:
        return url
    parts = _extract()(host)
    return parts.top_domain_under_public_suffix or host


def ensure_schema(engine: Engine) -> bool:
    """The queue's tables and functions (procrastinate's schema, in the database's default schema),
    created once; safe when several processes start at once. True when created now."""
    from procrastinate.schema import SchemaManager
    with engine.begin() as connection:
        connection.execute(text("SELECT pg_advisory_xact_lock(hashtext('wirewatch:queue-schema'))"))
        if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is not None:
            return False
        connection.exec_driver_sql(SchemaManager.get_schema().replace("%", "%%"))
        log.info("created the crawl job queue's tables (procrastinate)")
        return True


def conninfo(storage: str) -> str:
    """The libpq connection string of a `postgresql+psycopg://…` storage URL."""
    from sqlalchemy.engine import make_url
    url = make_url(storage).set(drivername="postgresql")
    return url.render_as_string(hide_password=False)


# ---- the scheduler's side ---------------------------------------------------------------------

def held_sources(session: Session) -> set[str]:
    """Sources in a job that waits or runs: not deferred again until it ends."""
    rows = session.execute(text(
        "SELECT args FROM procrastinate_jobs WHERE status IN ('todo', 'doing') AND task_name = :task"),
        {"task": TASK}).scalars()
    return {name for args in rows for name in (args or {}).get("sources", [])}


def defer_sites(session: Session, names: list[str], urls: dict[str, str], timeout: float) -> dict[str, list[str]]:
    """One job per site for these sources, in the caller's transaction: it commits or rolls back
    with the claim that chose them. Returns site → sources."""
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(site_of(urls[name]), []).append(name)
    if not groups:
        return groups
    now = dt.datetime.now(dt.timezone.utc)
    jobs = [(QUEUE, TASK, 0, f"site:{site}", None,
             json.dumps({"site": site, "sources": sources, "timeout": timeout}), now)
            for site, sources in groups.items()]
    raw = session.connection().connection.driver_connection
    with raw.cursor() as cursor:
        cursor.execute("SELECT unnest(procrastinate_defer_jobs_v1(%s::procrastinate_job_to_defer_v1[]))", (jobs,))
    return groups


@dataclass(frozen=True)
class Requeued:
    job_id: int
    site: str
    sources: tuple[str, ...]
    attempt: int                   # the attempt number it will run as (0 is the first)


def retry_stalled(connection: Connection | Session, seconds: float | None = STALLED_AFTER) -> list[Requeued]:
    """Jobs left `doing` by a worker silent for `seconds` (or gone: always) are queued again,
    attempt + 1. `seconds=None`: only the jobs of workers that are gone (heartbeats written during
    a database outage say nothing)."""
    stale = "OR w.last_heartbeat < now() - make_interval(secs => :seconds)" if seconds is not None else ""
    rows = connection.execute(text(
        "SELECT j.id, j.args, j.attempts FROM procrastinate_jobs j "
        "LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
        f"WHERE j.status = 'doing' AND j.task_name = :task AND (w.id IS NULL {stale}) "
        "FOR UPDATE OF j SKIP LOCKED"), {"task": TASK, "seconds": seconds or 0}).all()
    _retry(connection, [job_id for job_id, _, _ in rows])
    return [Requeued(job_id, args.get("site", "?"), tuple(args.get("sources", [])), attempts + 1)
            for job_id, args, attempts in rows]


def _retry(connection: Connection | Session, ids: list[int]) -> None:
    """Queue these `doing` jobs again at once, attempt + 1 (procrastinate's own retry)."""
    for job_id in ids:
        connection.execute(text("SELECT procrastinate_retry_job_v2(:id, now(), NULL, NULL, NULL)"), {"id": job_id})


def retry_own(connection: Connection | Session, queue_worker: int) -> list[int]:
    """A worker's queue connection ended and is starting again: the jobs its previous queue
    worker held are queued again at once (they are known dead; no need to wait for the timeout)."""
    ids = connection.execute(text(
        "SELECT j.id FROM procrastinate_jobs j LEFT JOIN procrastinate_workers w ON w.id = j.worker_id "
        "WHERE (j.worker_id = :worker OR w.id IS NULL) AND j.status = 'doing' AND j.task_name = :task "
        "FOR UPDATE OF j SKIP LOCKED"), {"worker": queue_worker, "task": TASK}).scalars().all()
    _retry(connection, list(ids))
    return list(ids)


def owns(session: Session, job_id: int, queue_worker: int, attempt: int) -> bool:
    """Whether this worker still holds this attempt of the job; the row stays locked until the
    caller's transaction ends, so the job cannot be taken from it meanwhile."""
    row = session.execute(text(
        "SELECT 1 FROM procrastinate_jobs WHERE id = :id AND status = 'doing' AND worker_id = :worker "
        "AND attempts = :attempt FOR UPDATE"), {"id": job_id, "worker": queue_worker, "attempt": attempt}).first()
    return row is not None


@dataclass(frozen=True)
class QueueStats:
    waiting: int
    running: int
    oldest_wait: float | None       # seconds the oldest waiting job has waited

    def as_json(self) -> dict:
        return {"waiting": self.waiting, "running": self.running, "oldest_wait_seconds": self.oldest_wait}


def queue_stats(connection: Connection | Session) -> QueueStats | None:
    """How deep the queue is; None when the database has no queue (never ran with workers.remote)."""
    if connection.execute(text("SELECT to_regclass('procrastinate_jobs')")).scalar() is None:
        return None
    waiting, running, oldest = connection.execute(text(
        "SELECT count(*) FILTER (WHERE status = 'todo'), count(*) FILTER (WHERE status = 'doing'), "
        "EXTRACT(EPOCH FROM now() - min(scheduled_at) FILTER (WHERE status = 'todo')) "
        "FROM procrastinate_jobs WHERE status IN ('todo', 'doing') AND task_name = :task"), {"task": TASK}).one()
    return QueueStats(int(waiting), int(running), round(float(oldest), 1) if oldest is not None else None)


def cluster(session: Session, silent_after: float = 60.0) -> dict | None:
    """The workers (running, or stopped within the hour) and the queue, for `status` and /metrics;
    None for a database that never had a worker or a queue."""
    from sqlalchemy import or_, select

    from wirewatch.crawler.store.schema import WorkerRow, utcnow
    if session.get_bind().dialect.name != "postgresql":
        return None
    now = utcnow()
    rows = session.scalars(select(WorkerRow).where(or_(WorkerRow.stopped_at.is_(None),
                                                       WorkerRow.stopped_at > now - dt.timedelta(hours=1)))
                           .order_by(WorkerRow.host, WorkerRow.started_at)).all()
    stats = queue_stats(session)
    if not rows and stats is None:
        return None
    workers = []
    for row in rows:
        silent = (now - row.last_heartbeat).total_seconds()
        state = "stopped" if row.stopped_at is not None else "silent" if silent > silent_after else "alive"
        workers.append({"host": row.host, "pid": row.pid, "state": state, "started": row.started_at,
                        "last_heartbeat": row.last_heartbeat, "heartbeat_age_seconds": round(silent, 1),
                        "jobs_done": row.jobs_done, "sites": list(row.sites or [])})
    return {"workers": workers, "queue": stats.as_json() if stats is not None else None}
