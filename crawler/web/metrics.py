"""/metrics for Prometheus, read from the database at each scrape (so the daemon, one-off crawls
and any other process writing the same database are all counted, and a restart loses nothing).
Counters are the rows that remain plus what retention deleted (`counter_totals`), so `prune`
never makes one go down."""

from __future__ import annotations

import json
from collections import Counter

from prometheus_client.core import (
    CollectorRegistry,
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
)
from sqlalchemy import case, func, select

from wirewatch.crawler.store.schema import Article, CounterTotal, MatchRow, Outbox, RunSource, SourceState

BUCKETS = (0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900)


class DatabaseCollector:
    def __init__(self, config, sessions):
        self.config, self.sessions = config, sessions

    def collect(self):
        with self.sessions() as session:
            kept: dict[str, dict[tuple, float]] = {}
            for row in session.scalars(select(CounterTotal)):
                kept.setdefault(row.metric, {})[tuple(json.loads(row.labels))] = row.value
            crawls = CounterMetricFamily("wirewatch_crawls", "Crawls of a source, by outcome",
                                         labels=["source", "outcome"])
            counted = Counter(kept.get("crawls", {}))
            for source, status, n in session.execute(select(RunSource.source, RunSource.status, func.count())
                                                     .group_by(RunSource.source, RunSource.status)):
                counted[(source, status)] += n
            for labels, n in sorted(counted.items()):
                crawls.add_metric(list(labels), n)
            yield crawls
            articles = CounterMetricFamily("wirewatch_articles", "New articles stored, by source", labels=["source"])
            for source, n in session.execute(select(Article.source, func.count()).group_by(Article.source)):
                articles.add_metric([source], n)
            yield articles
            matches = CounterMetricFamily("wirewatch_matches", "Matches stored, by watch", labels=["watch"])
            for watch, n in session.execute(select(MatchRow.watch, func.count()).group_by(MatchRow.watch)):
                matches.add_metric([watch], n)
            yield matches
            alerts = CounterMetricFamily("wirewatch_alerts", "Alert rows, by channel, kind and status",
                                         labels=["channel", "kind", "status"])
            queue = {"pending": 0, "dead": 0}
            counted = Counter(kept.get("alerts", {}))
            for channel, kind, status, n in session.execute(
                    select(Outbox.channel, Outbox.kind, Outbox.status, func.count())
                    .group_by(Outbox.channel, Outbox.kind, Outbox.status)):
                counted[(channel, kind, status)] += n
                if status in queue:
                    queue[status] += n
            for labels, n in sorted(counted.items()):
                alerts.add_metric(list(labels), n)
            yield alerts
            yield GaugeMetricFamily("wirewatch_outbox_pending", "Alert rows waiting to be sent", value=queue["pending"])
            yield GaugeMetricFamily("wirewatch_outbox_dead", "Alert rows given up on", value=queue["dead"])
            counts = session.execute(select(*[func.sum(case((RunSource.duration <= b, 1), else_=0)) for b in BUCKETS],
                                            func.count(RunSource.duration), func.sum(RunSource.duration))).one()
            *under, total, seconds = counts
            buckets = kept.get("crawl_duration_bucket", {})
            under = [int((n or 0) + buckets.get((str(b),), 0)) for b, n in zip(BUCKETS, under)]
            total = int((total or 0) + kept.get("crawl_duration_count", {}).get((), 0))
            seconds = float((seconds or 0.0) + kept.get("crawl_duration_sum", {}).get((), 0.0))
            histogram = HistogramMetricFamily("wirewatch_crawl_duration_seconds", "Time to crawl one source")
            histogram.add_metric([], [(str(b), n) for b, n in zip(BUCKETS, under)] + [("+Inf", total)],
                                 sum_value=seconds)
            yield histogram
            last = GaugeMetricFamily("wirewatch_source_last_success_timestamp_seconds",
                                     "When each source was last crawled successfully (Unix time)", labels=["source"])
            names = {s.name for s in self.config.sources}
            for state in session.scalars(select(SourceState)):
                if state.source in names and state.last_success is not None:
                    from datetime import timezone
                    last.add_metric([state.source], state.last_success.replace(tzinfo=timezone.utc).timestamp())
            yield last
            workers = getattr(self.config, "workers", None)
            yield from _cluster_metrics(session, workers.silent_after if workers is not None else 60.0)


def _cluster_metrics(session, silent_after: float):
    """Crawl workers and the job queue (PostgreSQL with workers.remote)."""
    from wirewatch.crawler.service.queue import cluster
    view = cluster(session, silent_after)
    if view is None:
        return
    states = Counter(w["state"] for w in view["workers"])
    workers = GaugeMetricFamily("wirewatch_workers", "Crawl workers, by state (alive, silent, stopped)",
                                labels=["state"])
    for state in ("alive", "silent", "stopped"):
        workers.add_metric([state], states.get(state, 0))
    yield workers
    beat = GaugeMetricFamily("wirewatch_worker_last_heartbeat_timestamp_seconds",
                             "When each crawl worker last said it was alive (Unix time)", labels=["worker"])
    jobs = CounterMetricFamily("wirewatch_worker_jobs", "Site jobs done by each crawl worker", labels=["worker"])
    sites = GaugeMetricFamily("wirewatch_worker_sites", "Sites each crawl worker is crawling now", labels=["worker"])
    from datetime import timezone
    for w in view["workers"]:
        name = f"{w['host']}:{w['pid']}"
        beat.add_metric([name], w["last_heartbeat"].replace(tzinfo=timezone.utc).timestamp())
        jobs.add_metric([name], w["jobs_done"])
        sites.add_metric([name], len(w["sites"]))
    yield from (beat, jobs, sites)
    queue = view["queue"]
    if queue is not None:
        yield GaugeMetricFamily("wirewatch_queue_waiting", "Site jobs waiting for a worker", value=queue["waiting"])
        yield GaugeMetricFamily("wirewatch_queue_running", "Site jobs being crawled", value=queue["running"])
        yield GaugeMetricFamily("wirewatch_queue_oldest_wait_seconds", "How long the oldest waiting job has waited",
                                value=queue["oldest_wait_seconds"] or 0.0)


def registry_for(config, sessions) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DatabaseCollector(config, sessions))
    return registry
