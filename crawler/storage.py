"""The database: the only hand-off between crawling and delivery.

SQLite by default (WAL, busy_timeout, write transactions begun IMMEDIATE so two processes never
deadlock upgrading a read lock); any SQLAlchemy URL, PostgreSQL included, for shared deployments.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

from sqlalchemy import (JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text,
                        UniqueConstraint, create_engine, event, select)
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class Base(DeclarativeBase):
    type_annotation_map = {dict: JSON, list: JSON}


class Article(Base):
    __tablename__ = "articles"
    id: Mapped[int] = mapped_column(primary_key=True)
    canonical_url: Mapped[str] = mapped_column(String(2048), unique=True)
    url: Mapped[str] = mapped_column(String(2048))
    source: Mapped[str] = mapped_column(String(200), index=True)
    title: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    published: Mapped[str | None] = mapped_column(String(40))
    author: Mapped[str | None] = mapped_column(Text)
    sitename: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SeenUrl(Base):
    """A downloaded URL that is not stored as an article (no text, duplicate) and why."""
    __tablename__ = "seen_urls"
    canonical_url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Story(Base):
    __tablename__ = "stories"
    id: Mapped[int] = mapped_column(primary_key=True)
    watch: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)
    signature: Mapped[list] = mapped_column(default=list)    # known facts, as keys
    terms: Mapped[list] = mapped_column(default=list)        # title terms, for same-story matching
    articles: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Match(Base):
    __tablename__ = "matches"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    watch: Mapped[str] = mapped_column(String(200))
    score: Mapped[float] = mapped_column(Float)
    severity: Mapped[str] = mapped_column(String(20))
    rule: Mapped[str] = mapped_column(Text)
    evidence: Mapped[list] = mapped_column(default=list)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Fact(Base):
    __tablename__ = "facts"
    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    supplier: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[float | None] = mapped_column(Float)
    approx: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(40))
    sentence: Mapped[str] = mapped_column(Text)


class Outbox(Base):
    """One row per alert and channel; an alert exists iff its row exists."""
    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("alert_id", "channel"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    alert_id: Mapped[str] = mapped_column(String(64), index=True)
    channel: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(20), default="alert")    # alert | operational | test
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id"))
    payload: Mapped[dict] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(20), default="pending", index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class FetchState(Base):
    """Validators of feeds and sitemaps, for conditional GET."""
    __tablename__ = "fetch_state"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class SourceState(Base):
    __tablename__ = "source_state"
    source: Mapped[str] = mapped_column(String(200), primary_key=True)
    last_attempt: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_success: Mapped[dt.datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_error_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    last_new_article: Mapped[dt.datetime | None] = mapped_column(DateTime)
    failing_alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    quiet_alerted: Mapped[bool] = mapped_column(Boolean, default=False)


class Run(Base):
    __tablename__ = "runs"
    id: Mapped[int] = mapped_column(primary_key=True)
    trigger: Mapped[str] = mapped_column(String(40), default="crawl")
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    duration: Mapped[float | None] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(20), default="running")
    error: Mapped[str | None] = mapped_column(Text)


class RunSource(Base):
    __tablename__ = "run_sources"
    __table_args__ = (UniqueConstraint("run_id", "source"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    source: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), default="running")   # ok | failed
    fetched: Mapped[int] = mapped_column(Integer, default=0)
    new: Mapped[int] = mapped_column(Integer, default=0)
    known: Mapped[int] = mapped_column(Integer, default=0)
    skipped: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    matches: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list] = mapped_column(default=list)
    duration: Mapped[float | None] = mapped_column(Float)


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


def open_database(url: str, base_dir: str = ".") -> sessionmaker[Session]:
    url = resolve_url(url, base_dir)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            os.makedirs(os.path.dirname(parsed.database) or ".", exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        _sqlite_pragmas(engine)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    Base.metadata.create_all(engine)
    return sessionmaker(engine, expire_on_commit=False)


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
