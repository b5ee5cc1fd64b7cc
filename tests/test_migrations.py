"""Schema migrations: a database the last release created and filled (its demo, kept in
tests/resources/databases/) is refused by `crawl` and `run` until `wirewatch db upgrade`; the
upgrade loses nothing, and every command works afterwards — on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy
from sqlalchemy import MetaData, create_engine, func, select, text

from tests.conftest import write_config
from wirewatch.crawler.demo.localsite import LocalSite
from wirewatch.crawler.demo.site import build_site, load_articles
from wirewatch.crawler.store import migrations

pytestmark = pytest.mark.slow
RELEASE = Path(__file__).parent / "resources" / "databases" / "release-0001.sqlite3"
HEAD = migrations.head()
TABLES = ("articles", "stories", "matches", "facts", "outbox", "runs", "run_sources", "source_state", "fetch_state")


def _counts(url: str) -> dict[str, int]:
    engine = create_engine(url)
    with engine.connect() as connection:
        counts = {t: connection.execute(text(f"SELECT count(*) FROM {t}")).scalar() for t in TABLES}
        counts["text"] = connection.execute(select(func.sum(func.length(text("text")))).select_from(
            text("articles"))).scalar()
    engine.dispose()
    return counts


def _same_schema_as_a_new_database(url: str) -> None:
    """The migrations lead where the models are: Alembic finds nothing to add, drop or change
    between the upgraded database and this release's tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from wirewatch.crawler.store.schema import Base
    from wirewatch.crawler.store.search import ignored
    engine = create_engine(url)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = [d for d in compare_metadata(context, Base.metadata)
                       if not (isinstance(d, tuple) and d[0] == "remove_table"
                               and (d[1].name == "alembic_version" or ignored(d[1].name)))
                       and not (isinstance(d, tuple) and d[0] == "remove_index" and d[1].name == "ix_articles_search")]
    engine.dispose()
    assert differences == []


def _cli(config: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), *args],
                          capture_output=True, text=True, timeout=120)


def _upgrade_then_everything_works(config: Path, url: str, site: LocalSite) -> None:
    before = _counts(url)
    for command in (["crawl"], ["run"]):
        refused = _cli(config, *command)
        assert refused.returncode == 2, refused.stderr
        assert refused.stderr.strip().count("\n") == 0 and "wirewatch db upgrade" in refused.stderr
    assert f"database: 0001; this release: {HEAD}" in _cli(config, "db", "current").stdout
    upgraded = _cli(config, "db", "upgrade")
    assert upgraded.returncode == 0 and f"schema 0001 -> {HEAD}" in upgraded.stdout, upgraded.stderr
    assert _counts(url) == before                                     # nothing lost
    assert f"schema already at {HEAD}" in _cli(config, "db", "upgrade").stdout
    _same_schema_as_a_new_database(url)
    for args in (["status"], ["matches", "--since", "400d", "--format", "json"], ["stories", "--since", "400d"],
                 ["show", "1"], ["alerts", "list"], ["mutes"], ["rescan", "--since", "400d"], ["check"]):
        answer = _cli(config, *args)
        assert answer.returncode == 0, (args, answer.stderr)
    matches = json.loads(_cli(config, "matches", "--since", "400d", "--format", "json").stdout)
    assert len(matches) == before["matches"]
    assert _cli(config, "mute", "--source", "ledger-feed", "--for", "1h", "--reason", "after upgrade").returncode == 0
    crawled = _cli(config, "crawl")                                   # the old database crawls on
    assert crawled.returncode == 0, crawled.stderr
    assert "ledger-feed: OK" in crawled.stdout


@pytest.fixture
def site():
    running = LocalSite().start()
    running.pages.update(build_site(load_articles(), running.base))
    yield running
    running.stop()


def _config(tmp_path: Path, url: str, site: LocalSite) -> Path:
    config = write_config(tmp_path, [{"name": "ledger-feed", "type": "feed", "url": site.url("/feed.xml")},
                                     {"name": "ledger-sitemap", "type": "sitemap", "url": site.url("/sitemap.xml")}])
    config.write_text(config.read_text().replace(f"sqlite:///{tmp_path / 'wirewatch.db'}", url))
    return config


def test_a_release_sqlite_database_upgrades_and_keeps_working(tmp_path, site):
    database = tmp_path / "old.sqlite3"
    shutil.copy(RELEASE, database)
    url = f"sqlite:///{database}"
    _upgrade_then_everything_works(_config(tmp_path, url, site), url, site)


def test_auto_upgrade_lets_crawl_upgrade_a_sqlite_database_itself(tmp_path, site):
    database = tmp_path / "old.sqlite3"
    shutil.copy(RELEASE, database)
    config = _config(tmp_path, f"sqlite:///{database}", site)
    config.write_text(config.read_text() + "auto_upgrade: true\n")
    crawled = _cli(config, "crawl")
    assert crawled.returncode == 0 and f"schema upgraded: 0001 -> {HEAD}" in crawled.stderr, crawled.stderr


def test_a_release_postgresql_database_upgrades_and_keeps_working(tmp_path, site, postgres_url):
    """The release's schema on the real server (revision 0001, as its create_all made it, with no
    alembic_version), filled with the rows the release's own demo stored."""
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("DROP DATABASE IF EXISTS release_upgrade")
        connection.exec_driver_sql("CREATE DATABASE release_upgrade")
    admin.dispose()
    url = postgres_url.rsplit("/", 1)[0] + "/release_upgrade"
    from alembic import command
    engine = create_engine(url)
    with engine.begin() as connection:
        command.upgrade(migrations._config(connection), "0001")
        connection.exec_driver_sql("DROP TABLE alembic_version")
    source = create_engine(f"sqlite:///{RELEASE}")
    old = MetaData()
    old.reflect(source)
    with source.connect() as reading, engine.begin() as writing:
        for table in old.sorted_tables:
            rows = [dict(r._mapping) for r in reading.execute(table.select())]
            if rows:
                writing.execute(sqlalchemy.Table(table.name, MetaData(), autoload_with=writing).insert(), rows)
        for table in old.sorted_tables:           # the serial sequences past the copied ids
            if "id" in table.c:
                writing.exec_driver_sql(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                        f"COALESCE((SELECT max(id) FROM {table.name}), 0) + 1, false)")
    source.dispose()
    engine.dispose()
    _upgrade_then_everything_works(_config(tmp_path, url, site), url, site)
