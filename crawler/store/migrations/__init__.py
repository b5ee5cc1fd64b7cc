"""Schema migrations (Alembic). `current()` says where a database stands, `upgrade()` takes it to
this release's schema; `wirewatch db upgrade` runs it, and `run` / `crawl` refuse an out-of-date
schema (or upgrade a SQLite one themselves with `auto_upgrade: true`)."""

from __future__ import annotations

import functools
from pathlib import Path

from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect
from sqlalchemy.engine import Connection, Engine

HERE = Path(__file__).resolve().parent
BEFORE_MIGRATIONS = "0001"        # a database with tables but no alembic_version is at this revision


def _config(connection: Connection | None = None) -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(HERE))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@functools.cache
def head() -> str:
    """This release's revision (read once: every open_database asks)."""
    return ScriptDirectory.from_config(_config()).get_current_head()


@functools.cache
def known() -> frozenset[str]:
    """Every revision this release's migrations name."""
    return frozenset(r.revision for r in ScriptDirectory.from_config(_config()).walk_revisions())


def current(engine: Engine) -> str | None:
    """The database's revision: None for an empty database, BEFORE_MIGRATIONS for one made by
    the release before migrations."""
    with engine.connect() as connection:
        revision = MigrationContext.configure(connection).get_current_revision()
        if revision is None and inspect(connection).has_table("articles"):
            return BEFORE_MIGRATIONS
        return revision


def stamp(engine: Engine, revision: str) -> None:
    from alembic import command
    with engine.begin() as connection:
        command.stamp(_config(connection), revision)


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Take the database to this release's schema; (from, to)."""
    from alembic import command
    before = current(engine)
    if before == BEFORE_MIGRATIONS and not _stamped(engine):
        stamp(engine, BEFORE_MIGRATIONS)
    with engine.connect() as connection:
        sqlite = connection.dialect.name == "sqlite"
        if sqlite:                         # tables are rebuilt by copying: references are checked after
            _pragma(connection, "PRAGMA foreign_keys=OFF")      # (outside a transaction, or it is ignored)
        try:
            with connection.begin():
                command.upgrade(_config(connection), "head")
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall() if sqlite else []
                if broken:
                    raise RuntimeError(f"the upgrade would leave {len(broken)} broken reference(s), "
                                       f"e.g. in table {broken[0][0]}")
        finally:
            if sqlite:
                _pragma(connection, "PRAGMA foreign_keys=ON")
    return before, head()


def _pragma(connection: Connection, statement: str) -> None:
    connection.connection.driver_connection.execute(statement)


def _stamped(engine: Engine) -> bool:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision() is not None
