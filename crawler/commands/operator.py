"""What an operator runs besides crawling: check, status, and the alert outbox commands."""

from __future__ import annotations

import datetime as dt
import json
import sys

from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.dates import iso
from wirewatch.crawler.desk.formats import Column, write
from wirewatch.crawler.display import visible
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Outbox, utcnow

ONE_OFF_DELIVERY_SECONDS = 30.0


def deliver_due(config: Config, sessions, max_seconds: float = ONE_OFF_DELIVERY_SECONDS) -> None:
    """What is due now (or within a few seconds) goes out before a one-off command exits."""
    if not config.channels:
        return
    from wirewatch.alerts.outbox import Dispatcher
    dispatcher = Dispatcher(config, sessions)
    try:
        dispatcher.drain(max_seconds)
    finally:
        dispatcher.close()


def describe_channel(name: str, spec, config: Config) -> str:
    """The channel's own description, secrets masked (each channel module knows what to show)."""
    from wirewatch.alerts.channel import build_channel
    channel = build_channel(name, spec, config.channel_env)
    try:
        return channel.describe()
    finally:
        channel.close()


def print_plan(config: Config) -> int:
    from wirewatch.crawler.analysis.matching import load_watch
    from wirewatch.crawler.store.database import resolve_url
    storage = make_url(resolve_url(config.storage, config.base_dir)).render_as_string(hide_password=True)
    print(f"storage: {storage}")
    print(f"network: allow_private={config.network.allow_private} timeout={config.network.timeout:g}s "
          f"max_bytes={config.network.max_bytes} per_domain={config.network.per_domain}")
    if config.workers.remote:
        print(f"workers: queue mode: `wirewatch run` queues one job per site in PostgreSQL and crawls nothing; "
              f"each `wirewatch worker` runs {config.workers.crawls} site jobs at once with "
              f"{config.workers.analysis_processes} analysis processes (silent after "
              f"{config.workers.silent_after:g}s)")
    else:
        print(f"workers: one crawl worker, {config.workers.crawls} sources at once, "
              f"{config.workers.analysis_processes} analysis processes")
    print(f"sources ({len(config.sources)}):")
    for s in config.sources:
        extra = f" follow={s.follow!r}" if s.follow else ""
        print(f"  {s.name}: {s.type} {s.url} {s.schedule}{extra}")
    print(f"watches ({len(config.watches)}):")
    for ref in config.watches:
        watch = load_watch(ref.include)
        print(f"  {watch.name}: threshold {watch.spec.threshold}, severity {watch.spec.severity}"
              f" - {watch.spec.description}")
    print(f"channels ({len(config.channels)}):")
    for name, spec in config.named_channels():
        print(f"  {describe_channel(name, spec, config)}")
    if config.channels:
        from wirewatch.alerts.routing import Routes
        names = {load_watch(ref.include).name for ref in config.watches}
        print("routes:")
        for route in Routes.of(config).routes:
            print(f"  {route.describe()}")
            for unknown in sorted((route.watches or set()) - names):
                print(f"    warning: {route.channel} routes watch {unknown!r}, which the config does not run")
    if not config.sources:
        print("warning: no sources: nothing will be crawled")
    if not config.channels:
        print("warning: no channels: matches are stored and listed, nothing alerts")
    if config.network.contact_warning:
        print(f"warning: {config.network.contact_warning}")
    print("config OK")
    return 0


def _ago(when: dt.datetime | None) -> str:
    if when is None:
        return "never"
    seconds = int((utcnow() - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return f"{seconds}s ago"


def _due(when: dt.datetime | None) -> str:
    """When the daemon checks the source next: 'in 40s', 'now' when it is due or overdue."""
    if when is None:
        return "-"
    seconds = int((when - utcnow()).total_seconds())
    if seconds <= 0:
        return "now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"in {seconds // size}{unit}"
    return f"in {seconds}s"


def print_status(config: Config, as_json: bool = False) -> int:
    """Per-source health and schedule, the alert queue and the mutes in force. Exit 1 when some
    source has failed `daemon.failures_before_alert` times in a row or some alert is dead."""
    from wirewatch.crawler.desk.queries import queue_counts, source_health
    from wirewatch.crawler.store.mutes import active_mutes
    sessions = open_database(config.storage, config.base_dir)
    from wirewatch.crawler.service.queue import cluster
    with sessions() as session:
        health = source_health(session, config)
        queue = queue_counts(session)
        mutes = active_mutes(session)
        workers = cluster(session, config.workers.silent_after)
    failing = [row["source"] for row in health if row["failures"] >= config.daemon.failures_before_alert]
    silent = [f"{w['host']}:{w['pid']}" for w in (workers or {}).get("workers", []) if w["state"] == "silent"]
    unhealthy = bool(failing or queue.get("dead") or silent)
    if as_json:
        print(json.dumps({
            "healthy": not unhealthy, "failing": failing,
            "sources": [{**row, **{k: iso(row[k]) for k in ("last_check", "next_due", "last_success")}}
                        for row in health],
            "alerts": {k: queue.get(k, 0) for k in ("pending", "dead", "delivered")},
            "mutes": [m.as_json() for m in mutes],
            **({"workers": [{**w, "started": iso(w["started"]), "last_heartbeat": iso(w["last_heartbeat"])}
                            for w in workers["workers"]], "queue": workers["queue"], "silent_workers": silent}
               if workers is not None else {})}, ensure_ascii=False, indent=2))
        return 1 if unhealthy else 0
    print(f"{'source':24} {'last check':12} {'next due':12} {'lag':>6} {'last success':13} {'failures':>8} "
          f"{'new 24h':>8}  last error (or warning)")
    if not health:
        print("(no sources in the config)")
    for row in health:
        lag = f"{row['lag']:.1f}s" if row["lag"] is not None else "-"
        print(visible(f"{row['source']:24} {_ago(row['last_check']):12} {_due(row['next_due']):12} {lag:>6} "
                      f"{_ago(row['last_success']):13} {row['failures']:>8} {row['new_24h']:>8}  "
                      f"{(row['last_error'] or ('warning: ' + row['warning'] if row['warning'] else ''))[:110]}"))
    print(f"alerts: {queue.get('pending', 0)} pending, {queue.get('dead', 0)} dead, "
          f"{queue.get('delivered', 0)} delivered")
    for mute in mutes:
        print(visible(f"muted: {mute.line()}"))
    if workers is not None:
        _print_cluster(workers)
    if unhealthy:
        print(f"unhealthy: {len(failing)} source(s) failing, {queue.get('dead', 0)} dead alert(s)"
              + (f", {len(silent)} silent worker(s): {', '.join(silent)}" if silent else ""))
    return 1 if unhealthy else 0


def _print_cluster(view: dict) -> None:
    queue = view["queue"]
    if queue is not None:
        oldest = f" (the oldest for {queue['oldest_wait_seconds']:g}s)" if queue["oldest_wait_seconds"] else ""
        print(f"job queue: {queue['waiting']} site job(s) waiting{oldest}, {queue['running']} running")
    print(f"workers ({sum(w['state'] != 'stopped' for w in view['workers'])} running):" if view["workers"]
          else "workers: none (start `wirewatch worker` on each crawl machine)")
    for w in view["workers"]:
        sites = ", ".join(w["sites"][:5]) + (f" and {len(w['sites']) - 5} more" if len(w["sites"]) > 5 else "")
        print(visible(f"  {w['host']}:{w['pid']:<8} {w['state']:7} started {_ago(w['started'])}, heartbeat "
                      f"{_ago(w['last_heartbeat'])}, {w['jobs_done']} job(s) done"
                      + (f", crawling {sites}" if sites else "")))


def alerts_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    if args.alerts_command == "list":
        return _list(sessions, args)
    if args.alerts_command == "retry":
        return _retry(sessions, args.alert_id, args.dead)
    return _test(config, sessions)


ALERT_COLUMNS = [
    Column("alert", lambda r: r.alert_id, 36), Column("channel", lambda r: r.channel, 12),
    Column("status", lambda r: r.status, 9), Column("attempts", lambda r: r.attempts, 8, right=True),
    Column("kind", lambda r: r.kind, 11),
    Column("what", lambda r: (r.payload.get("article") or {}).get("title") or r.payload.get("message") or ""),
    Column("last error", lambda r: r.last_error if r.status != "delivered" else ""),
]
ALERT_CSV = ALERT_COLUMNS + [Column("created", lambda r: iso(r.created_at)),
                             Column("delivered", lambda r: iso(r.delivered_at))]


def _list(sessions, args) -> int:
    from wirewatch.crawler.commands.desk import filters_of, page_note
    from wirewatch.crawler.desk.queries import Page
    paging = filters_of(args, None)
    with sessions() as session:
        where = [Outbox.status == args.status] if args.status else []
        query = select(Outbox).where(*where).order_by(Outbox.id.desc())
        if paging.limit:
            query = query.limit(paging.limit).offset(paging.offset)
        rows = list(session.scalars(query))
        total = session.scalar(select(func.count(Outbox.id)).where(*where)) or 0
    page = Page(rows, total, paging.offset, paging.limit)
    write(rows, ALERT_CSV if args.format == "csv" else ALERT_COLUMNS, args.format, sys.stdout,
          as_json=lambda r: {"alert_id": r.alert_id, "channel": r.channel, "status": r.status,
                             "attempts": r.attempts, "kind": r.kind, "last_error": r.last_error,
                             "created": iso(r.created_at), "delivered": iso(r.delivered_at), "payload": r.payload})
    if not rows and args.format == "table":
        print("no alerts")
    page_note(page, "alert rows", args.format)
    return 0


def _retry(sessions, alert_id: str | None, dead: bool) -> int:
    from wirewatch.alerts.outbox import requeue
    count = requeue(sessions, alert_id, dead)
    print(f"{count} alert row(s) queued again")
    return 0 if count or dead else 1


def _test(config: Config, sessions) -> int:
    """Send directly, not through the outbox, so the operator sees each channel's answer now."""
    from wirewatch.alerts.channel import build_channel
    from wirewatch.alerts.model import new_alert_id, test_alert
    if not config.channels:
        print("no channels configured")
        return 1
    failures = 0
    for name, spec in config.named_channels():
        channel = build_channel(name, spec, config.channel_env)
        try:
            outcome = channel.send({**test_alert(), "id": new_alert_id()})
        finally:
            channel.close()
        failures += outcome.status != "delivered"
        print(visible(f"{channel.describe()}: {outcome.status.upper()}"
                      f"{' - ' + outcome.reason if outcome.reason else ''}"))
    return 1 if failures else 0
