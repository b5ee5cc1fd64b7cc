"""Opening the database: SQLite by default (WAL, busy_timeout, write transactions begun
IMMEDIATE so two processes never deadlock upgrading a read lock); any SQLAlchemy URL, PostgreSQL
included, for shared deployments."""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import create_engine, event, select
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.crawler.errors import SchemaOutOfDate, SchemaTooNew, StorageError
from wirewatch.crawler.store.schema import Article, Base, SeenUrl


def resolve_url(url: str, base_dir: str = ".") -> str:
    """Relative SQLite paths resolve against the config file's folder, not the caller's cwd."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute():
            path = Path(base_dir) / path
        return str(parsed.set(database=str(path.resolve())))
    return url


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record):
        dbapi_connection.isolation_level = None     # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def open_database(url: str, base_dir: str = ".", check_schema: bool = True) -> sessionmaker[Session]:
    """Sessions on the database at `url`. An empty database gets this release's schema; one at an
    older revision is refused with a hint to run `wirewatch db upgrade` (unless `check_schema`
    is off: that command itself)."""
    url, engine = _open_engine(url, base_dir)
    try:
        if check_schema:
            _schema_ready(engine, url)
    except DBAPIError as exc:
        raise StorageError(f"cannot open the database {_shown(url)}: {_first_line(exc)}") from None
    return sessionmaker(engine, expire_on_commit=False)


def _open_engine(url: str, base_dir: str) -> tuple[str, Engine]:
    """(the resolved URL, its engine), or one StorageError line for every way a URL can be wrong:
    an unknown driver, a missing module, a folder that cannot be made, a NUL in the path."""
    try:
        url = resolve_url(url, base_dir)
        return url, _engine(url, make_url(url))
    except ImportError as exc:
        raise StorageError(f"storage {_shown(url)} needs its database driver ({exc}); for PostgreSQL: "
                           "pip install 'wirewatch[postgres]'") from None
    except ArgumentError as exc:
        raise StorageError(f"storage {_shown(url)} is not a usable database URL: {exc}") from None
    except ValueError as exc:
        raise StorageError(f"storage {_shown(url)} is not a usable database URL: {exc}") from None
    except OSError as exc:
        raise StorageError(f"storage {_shown(url)}: cannot create its folder: {exc.strerror}") from None


def _schema_ready(engine: Engine, url: str) -> None:
    from wirewatch.crawler.store import migrations
    revision, head = migrations.current(engine), migrations.head()
    if revision == head:
        return
    _not_newer(revision, url)
    if revision is None:                        # a new database: this release's schema, stamped
        Base.metadata.create_all(engine)
        if migrations.current(engine) in (None, migrations.BEFORE_MIGRATIONS):
            migrations.stamp(engine, head)
        return
    raise SchemaOutOfDate(f"the database {_shown(url)} has schema {revision}, this release needs {head}: "
                          "back it up, then run `wirewatch db upgrade`")


def _not_newer(revision: str | None, url: str) -> None:
    """A schema this release does not know was made by a newer release: refuse it, never touch it."""
    from wirewatch.crawler.store import migrations
    if revision is not None and revision not in migrations.known():
        raise SchemaTooNew(f"the database {_shown(url)} was made by a newer wirewatch (schema {revision}); "
                           f"this release knows up to {migrations.head()}: upgrade wirewatch, do not "
                           "downgrade the database")


def schema_revisions(url: str, base_dir: str = ".") -> tuple[str | None, str]:
    """`wirewatch db current`: (the database's revision or None when empty, this release's)."""
    from wirewatch.crawler.store import migrations
    url, engine = _open_engine(url, base_dir)
    try:
        return migrations.current(engine), migrations.head()
    except DBAPIError as exc:
        raise StorageError(f"cannot open the database {_shown(url)}: {_first_line(exc)}") from None
    finally:
        engine.dispose()


def upgrade_database(url: str, base_dir: str = ".") -> tuple[str | None, str]:
    """`wirewatch db upgrade`: (the revision before, the revision now)."""
    from wirewatch.crawler.store import migrations
    url, engine = _open_engine(url, base_dir)
    try:
        revision = migrations.current(engine)
        if revision is None:
            _schema_ready(engine, url)
            return None, migrations.head()
        _not_newer(revision, url)
        return migrations.upgrade(engine)
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot upgrade the database {_shown(url)} (it is unchanged: each step runs in "
                           f"a transaction): {_first_line(exc)}") from None
    finally:
        engine.dispose()


def _engine(url: str, parsed) -> Engine:
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(parsed.database) or ".", exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_pragmas(engine)
        return engine
    return create_engine(url, pool_pre_ping=True)


def _shown(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(unreadable URL)"


def _first_line(exc: Exception) -> str:
    return str(getattr(exc, "orig", exc)).strip().splitlines()[0][:300]


def is_known(session: Session, canonical: str) -> bool:
    """An article URL already stored (or already judged not an article) is not downloaded again."""
    return bool(known_urls(session, [canonical]))


def known_urls(session: Session, canonicals: list[str]) -> set[str]:
    """Which of these canonical URLs are stored or already judged, in a few queries."""
    found: set[str] = set()
    for start in range(0, len(canonicals), 500):
        chunk = canonicals[start:start + 500]
        found.update(session.scalars(select(Article.canonical_url).where(Article.canonical_url.in_(chunk))))
        found.update(session.scalars(select(SeenUrl.canonical_url).where(SeenUrl.canonical_url.in_(chunk))))
    return found
