"""One scheduling daemon per database.

SQLite: flock on a file beside the database, held by the OS for the life of the process, and a
check each tick that the database file and the lock file are still the ones we opened.

PostgreSQL: a session advisory lock on a connection of its own in autocommit mode (no transaction
stays open, so it holds back no VACUUM), checked at every tick in `pg_locks`. A server restart, a
session killed by `idle_session_timeout` or by an operator, or a broken network loses it; the
daemon then stops scheduling at once, says so once, and tries to take it again — it goes on only
if it gets it back (another daemon may have taken it meanwhile: then this one stands by, or exits).

A daemon started with `--standby` waits for the lock instead of refusing to start: the second
daemon of a pair, on another host, that takes over when the first one's session ends."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from wirewatch.crawler.errors import LockedError
from wirewatch.crawler.store.database import resolve_url

ADVISORY_KEY = 0x77697265      # "wire"
_HELD = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
             "AND objid = :k AND granted")


class DaemonLock:
    def __init__(self, storage: str, base_dir: str = "."):
        self.url = resolve_url(storage, base_dir)
        self._file = None
        self._engine = None
        self._connection = None
        self._database: tuple[Path, int, int] | None = None   # the SQLite file's (path, device, inode)
        self.postgres = make_url(self.url).get_backend_name() == "postgresql"

    # ---- taking it ---------------------------------------------------------------------------
    def acquire(self) -> None:
        """Take the lock or raise LockedError saying who holds it."""
        if self.postgres:
            if not self.try_advisory():
                raise LockedError("another wirewatch daemon is already running on this database "
                                  "(PostgreSQL advisory lock held); start this one with --standby to wait")
            return
        path = self.lock_path()
        self._file = open(path, "a+")
        try:
            fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self._file.seek(0)
            holder = self._file.read().strip() or "unknown"
            self._file.close()
            self._file = None
            raise LockedError(f"another wirewatch daemon (pid {holder}) is already running on this "
                              f"database; lock: {path}") from None
        self._file.seek(0)
        self._file.truncate()
        self._file.write(str(os.getpid()))
        self._file.flush()
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            info = os.stat(parsed.database)
            self._database = (Path(parsed.database), info.st_dev, info.st_ino)

    def try_advisory(self) -> bool:
        """One attempt at the PostgreSQL lock on a fresh autocommit connection; False when another
        session holds it. Errors reaching the server propagate (the caller decides how to wait)."""
        self._close_connection()
        if self._engine is None:
            self._engine = create_engine(self.url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
        connection = self._engine.connect()
        try:
            got = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}))
        except BaseException:
            connection.close()
            raise
        if not got:
            connection.close()
            return False
        self.backend = connection.scalar(text("SELECT pg_backend_pid()"))
        self._connection = connection
        return True

    def guard_sql(self):
        """PostgreSQL: a statement true only while this daemon's lock session still holds the
        lock, for a claim to run in its own transaction (a claim after the lock was lost, before
        the main loop notices, claims nothing). None on SQLite or when not held."""
        if not self.postgres or getattr(self, "backend", None) is None:
            return None
        return text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted "
                    "AND pid = :pid").bindparams(k=ADVISORY_KEY, pid=self.backend)

    # ---- keeping it ----------------------------------------------------------------------------
    def lost(self) -> str | None:
        """Why the lock no longer guards the database we write, or None. SQLite: the database file
        deleted or replaced (we would write into an unlinked inode while a new daemon opens the
        path), or our lock file removed from its path. PostgreSQL: our session no longer holds the
        advisory lock (the server restarted, the session was ended, the network broke)."""
        if self.postgres:
            return self._advisory_lost()
        if self._database is not None:
            path, device, inode = self._database
            try:
                now = os.stat(path)
            except FileNotFoundError:
                return f"the database file {path} was deleted"
            except OSError as exc:
                return f"the database file {path} cannot be read: {exc.strerror}"
            if (now.st_dev, now.st_ino) != (device, inode):
                return f"the database file {path} was replaced by another file"
        if self._file is not None:
            try:
                mine, there = os.fstat(self._file.fileno()), os.stat(self.lock_path())
            except OSError:
                return f"the lock file {self.lock_path()} was removed"
            if (mine.st_dev, mine.st_ino) != (there.st_dev, there.st_ino):
                return f"the lock file {self.lock_path()} was replaced"
        return None

    def _advisory_lost(self) -> str | None:
        if self._connection is None:
            return "the PostgreSQL advisory lock is not held"
        try:
            if self._connection.scalar(_HELD, {"k": ADVISORY_KEY}):
                return None
            reason = "its session no longer holds it"
        except DBAPIError as exc:
            reason = f"its session ended ({_first_line(exc)})"
        self._close_connection()
        return f"the PostgreSQL advisory lock was lost: {reason}"

    def lock_path(self) -> Path:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            return Path(parsed.database + ".daemon.lock")
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"wirewatch-{digest}.daemon.lock"

    # ---- letting go ------------------------------------------------------------------------------
    def _close_connection(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            try:
                connection.close()              # a session the server already ended closes quietly
            except Exception:                   # noqa: BLE001 - nothing to release on a dead session
                pass

    def release(self) -> None:
        self._close_connection()
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None


def _first_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None) or exc
    return (str(orig).strip().splitlines() or [type(orig).__name__])[0]
