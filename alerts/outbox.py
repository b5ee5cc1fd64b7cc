"""The transactional outbox and its dispatcher.

Rows are written in the same transaction as the match (crawler.ingest). The dispatcher claims due
rows with a lease, sends them channel by channel in parallel threads (a slow channel never holds
back another), and records delivered / retry with backoff / dead."""

from __future__ import annotations

import datetime as dt
import logging
import os
import random
import socket
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import replace

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.channel import build_channel
from wirewatch.alerts.model import Outcome, new_alert_id
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.store.outage import Outage, is_outage
from wirewatch.crawler.store.schema import Outbox, utcnow

log = logging.getLogger("wirewatch.alerts")

CLAIM_BATCH = 10                         # rows claimed at once per channel (a digest takes all due)
DIGEST_BATCH = 500


def enqueue(session: Session, payload: dict, channels: list[str], match_id: int | None = None,
            kind: str = "alert", alert_id: str | None = None) -> int:
    """One row per channel, same alert id for all, inside the caller's transaction."""
    alert_id = alert_id or new_alert_id()
    body = {**payload, "id": alert_id}
    for channel in channels:
        session.add(Outbox(alert_id=alert_id, channel=channel, kind=kind, match_id=match_id,
                           payload=body, next_attempt_at=utcnow()))
    return len(channels)


def backoff(attempts: int, retry_after: float | None = None, base: float = 5.0,
            ceiling: float = 3600.0) -> float:
    """Exponential backoff with jitter; Retry-After wins when the peer gives one."""
    if retry_after is not None:
        return max(0.0, retry_after)
    top = min(ceiling, base * 2 ** max(0, attempts - 1))
    return random.uniform(top / 2, top)


def requeue(sessions: sessionmaker[Session], alert_id: str | None = None, dead: bool = False) -> int:
    """Queue alerts again (by id, or every dead one); delivered rows are never sent twice."""
    condition = Outbox.status == "dead" if dead else Outbox.alert_id == alert_id
    with sessions.begin() as session:
        result = session.execute(update(Outbox).where(condition, Outbox.status != "delivered").values(
            status="pending", next_attempt_at=utcnow(), last_error=None, lease_owner=None))
    return result.rowcount


def send_now(config: Config, payload: dict) -> list[tuple[str, Outcome]]:
    """An operator alert sent straight through every channel that takes them, for when the outbox
    itself cannot be trusted (the database file deleted under the daemon). Best effort, once."""
    from wirewatch.alerts.routing import Routes
    body = {**payload, "id": new_alert_id()}
    outcomes = []
    for name, spec in config.named_channels():
        if name not in Routes.of(config).operational():
            continue
        channel = build_channel(name, spec, config.channel_env)
        try:
            outcomes.append((name, Dispatcher._send(channel, Outbox(alert_id=body["id"], channel=name,
                                                                   payload=body))))
        finally:
            channel.close()
    return outcomes


def release_leases(sessions: sessionmaker[Session]) -> int:
    """Rows claimed by a dispatcher that is gone are due again now. Only the daemon calls this,
    at start: one daemon per database means no live daemon holds them."""
    with sessions.begin() as session:
        result = session.execute(update(Outbox).where(
            Outbox.status == "pending", Outbox.lease_owner.is_not(None)).values(
            lease_owner=None, next_attempt_at=utcnow()))
    return result.rowcount


class Dispatcher:
    def __init__(self, config: Config, sessions: sessionmaker[Session], outage: Outage | None = None):
        self.config = config
        self.sessions = sessions
        self.outage = outage or Outage()
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.channels = {name: build_channel(name, spec, config.channel_env)
                         for name, spec in config.named_channels()}
        self._busy: dict[str, threading.Lock] = {name: threading.Lock() for name in self.channels}
        self._pool = ThreadPoolExecutor(max_workers=max(1, len(self.channels)),
                                        thread_name_prefix="channel")

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for channel in self.channels.values():
            channel.close()

    def dispatch_due(self, wait_seconds: float | None = None) -> None:
        """Send what is due on every channel, each channel in its own thread."""
        futures = [self._pool.submit(self._run_channel, name) for name in self.channels
                   if not self._busy[name].locked()]
        wait(futures, timeout=wait_seconds)

    def drain(self, max_seconds: float) -> None:
        """Deliver what is due now, and what falls due within `max_seconds` (a one-off crawl)."""
        deadline = time.monotonic() + max_seconds
        while True:
            self.dispatch_due(wait_seconds=max(0.1, deadline - time.monotonic()))
            remaining = deadline - time.monotonic()
            next_due = self.next_due()
            if next_due is None or remaining <= 0:
                return
            delay = (next_due - utcnow()).total_seconds()
            if delay > remaining:
                return
            time.sleep(max(0.05, delay))

    def next_due(self) -> dt.datetime | None:
        with self.sessions() as session:
            return session.scalar(select(func.min(Outbox.next_attempt_at)).where(
                Outbox.status == "pending", Outbox.channel.in_(list(self.channels))))

    def _run_channel(self, name: str) -> None:
        lock = self._busy[name]
        if not lock.acquire(blocking=False):
            return
        try:
            channel = self.channels[name]
            rows = self._claim(name, channel)
            if not rows:
                return
            if channel.digest:
                outcome = channel.send_digest([r.payload for r in rows])
                for row in rows:
                    self._record(row, outcome)
                return
            for row in rows:
                self._record(row, self._send(channel, row))
        except Exception as exc:                # a channel bug must not kill the dispatcher
            if is_outage(exc):
                self.outage.failed("dispatching alerts", exc)       # calm: one line, not one per try
            else:
                log.exception("channel %s: unexpected error while sending", name)
        else:
            self.outage.ok()
        finally:
            lock.release()

    @staticmethod
    def _send(channel, row: Outbox) -> Outcome:
        """One send; a channel that raises makes this row a retry (and, in time, dead), so one
        bad row can neither stop the dispatcher nor hold its channel's queue."""
        try:
            return channel.send(row.payload)
        except Exception as exc:                # noqa: BLE001 - recorded on the row, not lost
            log.exception("channel %s: unexpected error sending alert %s", row.channel, row.alert_id)
            return Outcome.retry(f"unexpected error: {type(exc).__name__}: {exc}"[:300])

    def _claim(self, name: str, channel) -> list[Outbox]:
        """Take a small batch of due rows under a lease owned by this dispatcher. The lease lasts
        as long as sending the batch may take; a dispatcher that dies leaves rows due again soon
        after (and at once for a restarted daemon, which releases them)."""
        now = utcnow()
        digest = channel.digest
        batch = DIGEST_BATCH if digest else CLAIM_BATCH
        lease = dt.timedelta(seconds=(1 if digest else batch) * channel.send_timeout + 10)
        with self.sessions.begin() as session:
            query = (select(Outbox).where(Outbox.channel == name, Outbox.status == "pending",
                                          Outbox.next_attempt_at <= now)
                     .order_by(Outbox.id).limit(batch).with_for_update(skip_locked=True))
            rows = list(session.scalars(query))
            if digest and rows and min(r.created_at for r in rows) > now - dt.timedelta(seconds=digest):
                return []
            for row in rows:
                row.attempts += 1
                row.next_attempt_at = now + lease
                row.lease_owner = self.owner
            return rows

    def _record(self, row: Outbox, outcome: Outcome) -> None:
        now = utcnow()
        outcome = replace(outcome, reason=redact(outcome.reason))
        values: dict = {"last_error": outcome.reason or None, "lease_owner": None}
        if outcome.status == "delivered":
            values.update(status="delivered", delivered_at=now, last_error=None)
            log.info("alert %s delivered to %s", row.alert_id, row.channel)
        elif outcome.status == "dead" or now - row.created_at > dt.timedelta(
                seconds=self.config.alerts.give_up_after):
            reason = outcome.reason if outcome.status == "dead" else f"gave up: {outcome.reason}"
            values.update(status="dead", last_error=reason)
            log.error("alert %s to %s is dead: %s", row.alert_id, row.channel, reason)
        else:
            delay = backoff(row.attempts, outcome.retry_after, self.config.alerts.backoff,
                            self.config.alerts.backoff_max)
            values.update(next_attempt_at=now + dt.timedelta(seconds=delay))
            log.warning("alert %s to %s failed (attempt %d), retry in %.0fs: %s",
                        row.alert_id, row.channel, row.attempts, delay, outcome.reason)
        with self.sessions.begin() as session:
            result = session.execute(update(Outbox).where(
                Outbox.id == row.id, Outbox.lease_owner == self.owner).values(**values))
        if result.rowcount == 0:         # the lease ran out and another dispatcher took the row
            log.warning("alert %s to %s: lease lost before the outcome was recorded (%s)",
                        row.alert_id, row.channel, outcome.status)
