"""One daemon per database. The lock is held by the OS for the life of the process (flock on a
file beside the SQLite database, or a PostgreSQL session advisory lock), so a daemon that
crashed leaves nothing behind that could keep a new one out."""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from wirewatch.crawler.errors import LockedError
from wirewatch.crawler.store.database import resolve_url

_ADVISORY_KEY = 0x77697265      # "wire"


class DaemonLock:
    def __init__(self, storage: str, base_dir: str = "."):
        self.url = resolve_url(storage, base_dir)
        self._file = None
        self._connection = None
        self._database: tuple[Path, int, int] | None = None   # the SQLite file's (path, device, inode)

    def lost(self) -> str | None:
        """Why the lock no longer guards the database we write, or None. The SQLite file deleted or
        replaced (we would write into an unlinked inode while a new daemon opens the path), or our
        lock file removed from its path (a second daemon could lock a new one)."""
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

    def lock_path(self) -> Path:
        parsed = make_url(self.url)
        if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
            return Path(parsed.database + ".daemon.lock")
        digest = hashlib.sha256(self.url.encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / f"wirewatch-{digest}.daemon.lock"

    def acquire(self) -> None:
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
        if parsed.get_backend_name() == "postgresql":
            self._advisory()

    def _advisory(self) -> None:
        engine = create_engine(self.url, poolclass=NullPool)
        self._connection = engine.connect()
        if not self._connection.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": _ADVISORY_KEY}):
            self._connection.close()
            self.release()
            raise LockedError("another wirewatch daemon is already running on this database "
                              "(PostgreSQL advisory lock held)")

    def release(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
        if self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
            self._file.close()
            self._file = None
