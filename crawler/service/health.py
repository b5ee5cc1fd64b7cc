"""Source health: last success, last error, consecutive failures, and the operator alerts that go
out (through the same channels, marked operational) when a source fails N times in a row, when it
recovers, and when it has produced no new article for `daemon.quiet_after`."""

from __future__ import annotations

import datetime as dt
import logging

from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.model import operational_alert
from wirewatch.alerts.outbox import enqueue
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.store.schema import SourceState, utcnow

log = logging.getLogger("wirewatch.health")


def record_health(config: Config, sessions: sessionmaker[Session], sources, notify: bool = True) -> None:
    """Update the health of each crawled source (SourceReports); operator alerts only when
    `notify` (not in a trial run). A source cut off by a shutdown is neither a success nor a failure."""
    if not notify:
        config = config.model_copy(update={"channels": []})
    now = utcnow()
    sources = [s for s in sources if s.status != "interrupted"]
    if not sources:
        return
    with sessions.begin() as session:
        for source in sources:
            state = session.get(SourceState, source.name)
            if state is None:
                state = SourceState(source=source.name, consecutive_failures=0, failing_alerted=False,
                                    quiet_alerted=False, last_new_article=None)
                session.add(state)
            state.last_attempt = now
            first_attempt = state.last_success or state.last_error_at or now
            if source.status == "ok":
                _succeeded(session, config, state, now)
            else:
                _failed(session, config, state, source.errors, now)
            if source.counts.new:
                state.quiet_alerted = False
            _check_quiet(session, config, state, now, first_attempt)


def notify_operators(session: Session, config: Config, source: str, event: str, message: str) -> bool:
    """An operator alert about `source`, queued in the caller's transaction unless it is muted;
    whether it was queued."""
    from wirewatch.crawler.store.mutes import mute_for
    message = redact(message)
    if mute_for(session, source=source) is not None:        # a muted source's health goes unsent too
        log.debug("operational (muted, not sent): %s: %s", source, message)
        return False
    log.warning("operational: %s: %s", source, message)
    from wirewatch.alerts.routing import Routes
    enqueue(session, operational_alert(source, event, message), Routes.of(config).operational(),
            kind="operational")
    return True


def _succeeded(session: Session, config: Config, state: SourceState, now: dt.datetime) -> None:
    if state.failing_alerted:
        notify_operators(session, config, state.source, "recovered",
                f"source {state.source} recovered after {state.consecutive_failures} failed crawls")
        state.failing_alerted = False
    state.last_success, state.consecutive_failures = now, 0


def _failed(session: Session, config: Config, state: SourceState, errors: list[str],
            now: dt.datetime) -> None:
    state.consecutive_failures = (state.consecutive_failures or 0) + 1
    state.last_error = redact(errors[0] if errors else "unknown error")[:1000]
    state.last_error_at = now
    threshold = config.daemon.failures_before_alert
    if state.consecutive_failures >= threshold and not state.failing_alerted:
        # marked only when it went out: a source muted while failing is reported by its first
        # failed crawl after the silence ends, not first heard of when it recovers
        state.failing_alerted = notify_operators(session, config, state.source, "failing",
                f"source {state.source} failed {state.consecutive_failures} times in a row; "
                f"last error: {state.last_error}")


def _check_quiet(session: Session, config: Config, state: SourceState, now: dt.datetime,
                 first_attempt: dt.datetime) -> None:
    quiet_after = config.daemon.quiet_after
    if not quiet_after or state.quiet_alerted:
        return
    since = state.last_new_article or first_attempt
    if now - since > dt.timedelta(seconds=quiet_after):
        state.quiet_alerted = notify_operators(session, config, state.source, "quiet",
                f"source {state.source} has produced no new article since {since:%Y-%m-%d %H:%M} UTC")
