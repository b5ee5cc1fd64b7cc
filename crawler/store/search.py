"""Full-text search over articles' titles and text, kept in step by the database itself:

- SQLite: an FTS5 table over `articles` (external content: the text is stored once) with triggers
  that follow every insert, update (the text cleared by retention) and delete;
- PostgreSQL: a GIN index on the `tsvector` of title and text, which the server maintains.

Both use language-neutral tokenising (Unicode words, diacritics folded on SQLite; the `simple`
configuration on PostgreSQL), so a search for a name finds it in any language the watches read.
Created with the schema (a new database) or by migration 0006 (an existing one)."""

from __future__ import annotations

import re

from sqlalchemy import func, literal_column, select, text
from sqlalchemy.engine import Connection

_SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(title, text, content='articles', "
    "content_rowid='id', tokenize='unicode61 remove_diacritics 2')",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_insert AFTER INSERT ON articles BEGIN "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_delete AFTER DELETE ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); END",
    "CREATE TRIGGER IF NOT EXISTS articles_fts_update AFTER UPDATE OF title, text ON articles BEGIN "
    "INSERT INTO articles_fts(articles_fts, rowid, title, text) VALUES ('delete', old.id, old.title, old.text); "
    "INSERT INTO articles_fts(rowid, title, text) VALUES (new.id, new.title, new.text); END",
]
_DOCUMENT = "to_tsvector('simple', coalesce(title, '') || ' ' || coalesce(text, ''))"
_POSTGRES = [f"CREATE INDEX IF NOT EXISTS ix_articles_search ON articles USING gin ({_DOCUMENT})"]


def install(connection: Connection, rebuild: bool = False) -> None:
    """Create the search index for this database (idempotent); `rebuild` fills it from the rows."""
    dialect = connection.dialect.name
    for statement in _SQLITE if dialect == "sqlite" else _POSTGRES if dialect == "postgresql" else []:
        connection.exec_driver_sql(statement)
    if rebuild and dialect == "sqlite":
        connection.exec_driver_sql("INSERT INTO articles_fts(articles_fts) VALUES ('rebuild')")


def sqlite_query(terms: str) -> str:
    """An FTS5 query from what an analyst types: words and "quoted phrases", all required; every
    token quoted, so no input is FTS5 syntax (a stray quote, AND, NEAR, a column filter)."""
    parts = re.findall(r'"([^"]+)"|(\S+)', terms)
    tokens = []
    for phrase, word in parts:
        words = re.findall(r"\w+", phrase or word)
        if words:
            tokens.append('"' + " ".join(words) + '"')
    return " ".join(tokens)


def matching_ids(dialect: str, terms: str):
    """A SELECT of the ids of articles whose title or text contains all the terms."""
    from wirewatch.crawler.store.schema import Article
    if dialect == "postgresql":
        return select(Article.id).where(literal_column(_DOCUMENT).op("@@")(func.websearch_to_tsquery("simple", terms)))
    query = sqlite_query(terms)
    if not query:
        return select(Article.id).where(text("0"))
    return select(literal_column("rowid")).select_from(text("articles_fts")).where(
        text("articles_fts MATCH :fts_query").bindparams(fts_query=query))


def ignored(name: str) -> bool:
    """The search index's own tables, which the models do not describe (for schema comparisons)."""
    return name.startswith("articles_fts")
