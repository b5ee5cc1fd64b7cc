"""Alembic's environment for wirewatch: migrations run on the connection wirewatch hands over
(`wirewatch db upgrade`, or the automatic upgrade of a SQLite database); there is no alembic.ini."""

from __future__ import annotations

from alembic import context

from wirewatch.crawler.store.schema import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata,
                  render_as_batch=connection.dialect.name == "sqlite")   # SQLite alters by copying tables
with context.begin_transaction():
    context.run_migrations()
