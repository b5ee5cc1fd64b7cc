"""When each source is due. The schedule lives in the database (`source_state.next_due`, with
`last_lag`, how late the last check started), so a restart, `wirewatch status` and any later
scheduler on another machine all read the same times.

A source never checked, or overdue, is due at once; after a check starts, the next one is due one
interval after the time this one was due (so the daemon's tick adds no drift), or at the cron
expression's next time."""

from __future__ import annotations

import datetime as dt
from typing import Callable

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Source
from wirewatch.crawler.store.schema import SourceState, utcnow

NEVER = dt.datetime(9999, 1, 1)


def next_after(source: Source, when: dt.datetime) -> dt.datetime:
    """The source's next time after `when` (naive UTC, as stored)."""
    if source.cron:
        fire = CronTrigger.from_crontab(source.cron, timezone=dt.timezone.utc).get_next_fire_time(
            None, when.replace(tzinfo=dt.timezone.utc))
        if fire is None:                  # an expression with no next time (the config refuses those)
            return NEVER
        return fire.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return when + dt.timedelta(seconds=source.interval)


def first_due(source: Source, state: SourceState | None, now: dt.datetime) -> dt.datetime:
    """For a source with no stored next time: now if never crawled or overdue since its last
    success, else one interval (or the next cron time) after that success."""
    if state is None or state.last_success is None:
        return now
    due = next_after(source, state.last_success)
    return due if due > now else now


_SYNCED: dict[int, Config] = {}          # per database: the config its state rows were last set from


def sync_states(sessions: sessionmaker[Session], config: Config, now: dt.datetime | None = None) -> None:
    """Give every configured source its next time in the database, so that claiming is one indexed
    query: a new source is due now; a changed `every` or `cron` counts from the last success; a
    source no longer configured is never due."""
    now = now or utcnow()
    sources = {s.name: s for s in config.sources}
    with sessions.begin() as session:
        states = {s.source: s for s in session.scalars(select(SourceState))}
        for name, source in sources.items():
            state = states.get(name)
            if state is None:
                session.add(SourceState(source=name, consecutive_failures=0, failing_alerted=False,
                                        quiet_alerted=False, next_due=first_due(source, None, now),
                                        schedule=source.schedule))
            elif state.next_due is None or state.schedule != source.schedule:
                state.next_due, state.schedule = first_due(source, state, now), source.schedule
        for name, state in states.items():
            if name not in sources and state.next_due is not None:
                state.next_due = None
    _SYNCED[id(sessions)] = config


def claim_due(sessions: sessionmaker[Session], config: Config, busy: set[str], room: int,
              now: dt.datetime | None = None, then: Callable[[Session, list[str]], object] | None = None,
              guard=None) -> list[str]:
    """The due sources not already being crawled (most overdue first, at most `room`), their next
    times moved on and their lag recorded, in one transaction: one query on the `next_due` index
    (rows locked with SKIP LOCKED on PostgreSQL), however many sources there are. `then` runs in
    the same transaction with the chosen names (queue mode defers their jobs there). `guard`: a
    statement that must count at least one row (the daemon still holds its lock) for anything to
    be claimed."""
    now = now or utcnow()
    if room <= 0:
        return []
    if _SYNCED.get(id(sessions)) is not config:
        sync_states(sessions, config, now)
    with sessions.begin() as session:
        if guard is not None and not session.scalar(guard):
            return []                             # the daemon lock was lost: not ours to schedule
        query = (select(SourceState).where(SourceState.next_due <= now).order_by(SourceState.next_due)
                 .limit(room + len(busy) + 16))
        if session.get_bind().dialect.name == "postgresql":
            query = query.with_for_update(skip_locked=True)
        chosen = []
        for state in session.scalars(query):
            source = config.find(state.source)
            if source is None or state.source in busy:
                continue
            when = state.next_due
            state.next_due = _following(source, when, now)
            state.last_lag = round((now - when).total_seconds(), 3)
            state.schedule = source.schedule
            chosen.append(state.source)
            if len(chosen) >= room:
                break
        if then is not None and chosen:
            then(session, chosen)
    return chosen


def _following(source: Source, due: dt.datetime, now: dt.datetime) -> dt.datetime:
    """The next time after a check that was due at `due` and starts `now`: one interval after the
    due time, so the cadence does not drift by the tick; one after now if it fell a whole interval
    behind. A cron source takes the expression's next time."""
    if source.cron:
        return next_after(source, now)
    following = next_after(source, due)
    return following if following > now else next_after(source, now)


def due_again(sessions: sessionmaker[Session], names: list[str]) -> None:
    """Check these sources again at once (their crawl was lost with a crashed worker)."""
    with sessions.begin() as session:
        session.execute(update(SourceState).where(SourceState.source.in_(names)).values(next_due=utcnow()))
