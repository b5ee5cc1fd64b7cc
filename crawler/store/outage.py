"""Calm logging while the database is away: one line when it goes, at most one a minute while it
stays away, one when it is back — never a traceback per attempt. Shared by everything in a
process that touches the database on a timer (the scheduler tick, the dispatcher, recording
crawls), so an outage of a minute is three lines, not thousands."""

from __future__ import annotations

import logging
import threading
import time

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

log = logging.getLogger("wirewatch.database")
EVERY = 60.0                     # seconds between two "still unreachable" lines


def is_outage(exc: BaseException) -> bool:
    """An error that says the database cannot be reached or the session was cut (not a bug):
    a connection refused or reset, the server shutting down, a session terminated."""
    if isinstance(exc, DBAPIError):
        return bool(exc.connection_invalidated) or type(exc.orig).__name__ in _DRIVER_OUTAGES \
            or "server closed the connection" in str(exc)
    if isinstance(exc, SQLAlchemyError):
        return "connection" in str(exc).lower()
    # the job queue's own errors (procrastinate, psycopg's pool) wrap the driver's
    if type(exc).__name__ in _DRIVER_OUTAGES + ("PoolTimeout",):
        return True
    cause = exc.__cause__ or exc.__context__
    return type(exc).__name__ == "ConnectorException" and cause is not None and is_outage(cause)


_DRIVER_OUTAGES = ("OperationalError", "AdminShutdown", "InterfaceError", "ConnectionFailure", "CannotConnectNow",
                   "ConnectionDoesNotExist")


class Outage:
    def __init__(self, consequence: str = "retrying quietly") -> None:
        self._lock = threading.Lock()
        self.down_since: float | None = None
        self._said = 0.0
        self.consequence = consequence           # what the process does meanwhile, said once
        self.back_at: float | None = None        # when it answered again (monotonic)

    def failed(self, doing: str, exc: BaseException) -> None:
        now = time.monotonic()
        with self._lock:
            if self.down_since is None:
                self.down_since, self._said = now, now
                line = f"database unreachable while {doing}: {_first_line(exc)}; {self.consequence}"
            elif now - self._said >= EVERY:
                self._said = now
                line = f"database still unreachable ({now - self.down_since:.0f}s)"
            else:
                return
        log.error("%s", line)

    def ok(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is None:
                return
            gone, self.down_since = time.monotonic() - self.down_since, None
            self.back_at = time.monotonic()
        log.warning("database reachable again after %.0fs", gone)

    def recent(self, seconds: float) -> bool:
        """Down now, or back less than `seconds` ago: heartbeats written meanwhile say nothing."""
        return self.down_since is not None or (self.back_at is not None and time.monotonic() - self.back_at < seconds)

    def guard(self, doing: str, work, *args, **kwargs):
        """Run `work`; a database outage is noted (calmly) and None returned, anything else raises."""
        try:
            result = work(*args, **kwargs)
        except Exception as exc:
            if not is_outage(exc):
                raise
            self.failed(doing, exc)
            return None
        self.ok()
        return result


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0][:300]
