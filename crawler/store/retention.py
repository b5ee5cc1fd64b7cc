"""Retention: what `wirewatch prune` (and the daemon, once a day) removes.

- `article_text`: the text of articles fetched longer ago goes (and nothing else: the canonical URL,
  title, dates, content hash, matches, facts and story stay, so dedup, stories, listings and the
  facts of old reports still work; `show` says the text was pruned);
- `runs`: crawl records (runs and their per-source rows) older than this;
- `delivered_alerts`: outbox rows delivered longer ago (pending and dead rows always stay).

SQLite reuses the freed pages for new data, so the file stops growing; `prune` (not the daemon)
also runs VACUUM to give the space back to the disk."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass

from sqlalchemy import case, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler.store.schema import Article, CounterTotal, Outbox, Run, RunSource, utcnow


@dataclass(frozen=True)
class PruneReport:
    article_texts: int
    runs: int
    run_sources: int
    delivered_alerts: int

    def line(self, dry_run: bool) -> str:
        verb = "would prune" if dry_run else "pruned"
        return (f"{verb}: {self.article_texts} article text(s), {self.runs} run(s) with {self.run_sources} "
                f"source record(s), {self.delivered_alerts} delivered alert row(s)")


def prune(sessions: sessionmaker[Session], retention, dry_run: bool = False) -> PruneReport:
    now = utcnow()
    cut = {name: (now - dt.timedelta(seconds=value)) if value else None
           for name, value in (("article_text", retention.article_text), ("runs", retention.runs),
                               ("delivered_alerts", retention.delivered_alerts))}
    with sessions.begin() as session:
        texts = _texts(session, cut["article_text"], dry_run)
        runs, records = _runs(session, cut["runs"], dry_run)
        alerts = _alerts(session, cut["delivered_alerts"], dry_run)
    return PruneReport(texts, runs, records, alerts)


def _texts(session: Session, cutoff: dt.datetime | None, dry_run: bool) -> int:
    if cutoff is None:
        return 0
    old = (Article.fetched_at < cutoff) & (Article.text != "")
    if dry_run:
        return session.scalar(select(func.count()).select_from(Article).where(old)) or 0
    return session.execute(update(Article).where(old).values(text="", author=None, sitename=None)).rowcount


def _runs(session: Session, cutoff: dt.datetime | None, dry_run: bool) -> tuple[int, int]:
    if cutoff is None:
        return 0, 0
    old = select(Run.id).where(Run.started_at < cutoff, Run.status != "running")
    records = session.scalar(select(func.count()).select_from(RunSource).where(RunSource.run_id.in_(old))) or 0
    runs = session.scalar(select(func.count()).select_from(Run).where(Run.id.in_(old))) or 0
    if not dry_run:
        gone = RunSource.run_id.in_(old)              # what /metrics counted from these rows stays counted
        keep_counts(session, "crawls", select(RunSource.source, RunSource.status, func.count())
                    .where(gone).group_by(RunSource.source, RunSource.status))
        from wirewatch.crawler.web.metrics import BUCKETS
        under = session.execute(select(*[func.sum(case((RunSource.duration <= b, 1), else_=0)) for b in BUCKETS],
                                       func.count(RunSource.duration), func.sum(RunSource.duration))
                                .where(gone)).one()
        *buckets, total, seconds = under
        add_totals(session, [("crawl_duration_bucket", [str(b)], n or 0) for b, n in zip(BUCKETS, buckets)]
                   + [("crawl_duration_count", [], total or 0), ("crawl_duration_sum", [], seconds or 0.0)])
        session.execute(delete(RunSource).where(RunSource.run_id.in_(old)))
        session.execute(delete(Run).where(Run.id.in_(old)))
    return runs, records


def _alerts(session: Session, cutoff: dt.datetime | None, dry_run: bool) -> int:
    if cutoff is None:
        return 0
    old = (Outbox.status == "delivered") & (Outbox.delivered_at < cutoff)
    if dry_run:
        return session.scalar(select(func.count()).select_from(Outbox).where(old)) or 0
    keep_counts(session, "alerts", select(Outbox.channel, Outbox.kind, Outbox.status, func.count())
                .where(old).group_by(Outbox.channel, Outbox.kind, Outbox.status))
    return session.execute(delete(Outbox).where(old)).rowcount


def keep_counts(session: Session, metric: str, grouped) -> None:
    """Add the counts of rows about to be deleted (label values..., count) to the totals."""
    add_totals(session, [(metric, list(row[:-1]), row[-1]) for row in session.execute(grouped)])


def add_totals(session: Session, entries) -> None:
    for metric, labels, value in entries:
        if not value:
            continue
        key = json.dumps([str(v) for v in labels])
        row = session.get(CounterTotal, (metric, key))
        if row is None:
            session.add(CounterTotal(metric=metric, labels=key, value=float(value)))
        else:
            row.value = (row.value or 0.0) + float(value)
    session.flush()
