"""The tables. The database is the only hand-off between crawling and delivery: a crash
anywhere loses nothing, and an alert exists iff its outbox row exists."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from wirewatch.crawler.dates import iso
from wirewatch.crawler.records import Fact


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


class UtcDateTime(TypeDecorator):
    """Stored as naive UTC like every other time here; read back timezone-aware (UTC)."""
    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is not None and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        return value.replace(tzinfo=dt.timezone.utc) if value is not None else None


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
    published: Mapped[str | None] = mapped_column(String(40))          # as the page or feed gave it
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)  # the rule's UTC time
    author: Mapped[str | None] = mapped_column(Text)
    sitename: Mapped[str | None] = mapped_column(Text)
    language: Mapped[str | None] = mapped_column(String(20))
    content_hash: Mapped[str] = mapped_column(String(64), index=True)
    analysed_chars: Mapped[int | None] = mapped_column(Integer)   # matcher read only this much (cap)
    story_id: Mapped[int | None] = mapped_column(ForeignKey("stories.id"))
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class SeenUrl(Base):
    """A downloaded URL that is not stored as an article (no text, duplicate) and why."""
    __tablename__ = "seen_urls"
    canonical_url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    seen_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class UrlFailure(Base):
    """An article URL that failed for a passing reason (5xx, timeout): tried again on later
    crawls until ATTEMPTS, then remembered in seen_urls as failed."""
    __tablename__ = "url_failures"
    canonical_url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class Story(Base):
    """One real-world event, told by one or many reports (crawler.store.stories)."""
    __tablename__ = "stories"
    id: Mapped[int] = mapped_column(primary_key=True)
    watch: Mapped[str] = mapped_column(String(200))
    title: Mapped[str | None] = mapped_column(Text)                  # the first report's headline
    known: Mapped[list] = mapped_column(default=list)                # facts its reports gave
    names: Mapped[dict] = mapped_column(JSON, default=dict)          # name → reports giving it (places, models ...)
    minhash: Mapped[list | None] = mapped_column(JSON)               # its first report's text signature
    articles: Mapped[int] = mapped_column(Integer, default=1)
    first_published: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    last_published: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, index=True)
    first_alert_id: Mapped[str | None] = mapped_column(String(64))  # follow-ups thread to it
    alerts: Mapped[int] = mapped_column(Integer, default=0)
    note: Mapped[str | None] = mapped_column(Text)                   # the desk's note on it
    note_by: Mapped[str | None] = mapped_column(String(100))
    note_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)   # what the index re-reads


class MatchRow(Base):
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
    held_back: Mapped[str | None] = mapped_column(String(80))   # why it did not alert
    news: Mapped[list | None] = mapped_column(JSON)             # what it added to its story (lines)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    read: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())      # triage
    starred: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class Verdict(Base):
    """An analyst's word on a match or an article: relevant, not relevant, a wrong fact (which one),
    or missed (an article the watch should have matched). The newest per article and watch counts;
    earlier ones stay as the record."""
    __tablename__ = "verdicts"
    id: Mapped[int] = mapped_column(primary_key=True)
    article_id: Mapped[int] = mapped_column(ForeignKey("articles.id"), index=True)
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id"))
    watch: Mapped[str] = mapped_column(String(200))
    label: Mapped[str] = mapped_column(String(20))          # relevant | not_relevant | wrong_fact | missed
    fact: Mapped[dict | None] = mapped_column(JSON)         # the fact a wrong_fact verdict names
    note: Mapped[str | None] = mapped_column(Text)
    by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)


class CounterTotal(Base):
    """What retention deleted, still counted: /metrics adds these to the rows that remain, so its
    counters never go down when `prune` removes old runs and delivered alerts."""
    __tablename__ = "counter_totals"
    metric: Mapped[str] = mapped_column(String(60), primary_key=True)
    labels: Mapped[str] = mapped_column(String(400), primary_key=True)     # JSON list of label values
    value: Mapped[float] = mapped_column(Float, default=0.0)


class FactRow(Base):
    """A stored `Fact`: a figure only where the text gave one, the words as written, a vague
    amount's bounds, and which casualties a casualties fact counts."""
    __tablename__ = "facts"
    id: Mapped[int] = mapped_column(primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    supplier: Mapped[str] = mapped_column(String(100))
    recipient: Mapped[str] = mapped_column(String(100))
    item: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int | None] = mapped_column(BigInteger)
    quantity_text: Mapped[str | None] = mapped_column(String(200))
    quantity_low: Mapped[int | None] = mapped_column(BigInteger)
    quantity_high: Mapped[int | None] = mapped_column(BigInteger)
    approx: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(40))
    casualty: Mapped[str | None] = mapped_column(String(20))
    sentence: Mapped[str] = mapped_column(Text)

    @classmethod
    def of(cls, match_id: int, fact: Fact) -> "FactRow":
        low, high = fact.quantity_range or (None, None)
        return cls(match_id=match_id, supplier=fact.supplier, recipient=fact.recipient, item=fact.item,
                   quantity=fact.quantity, quantity_text=(fact.quantity_text or None) and fact.quantity_text[:200],
                   quantity_low=low, quantity_high=high, approx=fact.approx, status=fact.status,
                   casualty=fact.casualty, sentence=fact.sentence)

    def fact(self) -> Fact:
        bounds = (self.quantity_low, self.quantity_high) if (self.quantity_low, self.quantity_high) != (None, None) \
            else None
        return Fact(self.supplier, self.recipient, self.item,
                    int(self.quantity) if self.quantity is not None else None, self.approx, self.status,
                    self.sentence, quantity_text=self.quantity_text, quantity_range=bounds, casualty=self.casualty)


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
    lease_owner: Mapped[str | None] = mapped_column(String(100))      # the dispatcher sending it now
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(DateTime)


class Mute(Base):
    """A silence: matches of a story, a source or a watch do not alert until it ends."""
    __tablename__ = "mutes"
    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))          # story | source | watch
    value: Mapped[str] = mapped_column(String(200))
    until: Mapped[dt.datetime] = mapped_column(DateTime, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    def held_back(self) -> str:
        """What a match it holds back records (the column holds 80 characters)."""
        text = f"muted ({self.reason or f'mute #{self.id}'})"
        return text if len(text) <= 80 else text[:78] + "…)"

    def line(self) -> str:
        return (f"#{self.id} {self.kind} {self.value} until {self.until:%Y-%m-%d %H:%M} UTC"
                + (f" — {self.reason}" if self.reason else ""))

    def as_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "value": self.value, "reason": self.reason,
                "until": iso(self.until)}


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
    # the schedule: when the daemon checks the source next, and how late the last check started
    next_due: Mapped[dt.datetime | None] = mapped_column(DateTime, index=True)   # the claim is one indexed query
    last_lag: Mapped[float | None] = mapped_column(Float)
    schedule: Mapped[str | None] = mapped_column(String(200))     # the `every` / `cron` next_due was set by
    # crawled once in full (ok, nothing left over): its backlog no longer counts as a baseline
    backlog_done: Mapped[bool | None] = mapped_column(Boolean)
    # what the last successful crawl could not read (a dead child sitemap ...): success with warnings
    last_warning: Mapped[str | None] = mapped_column(Text)


class DocumentFailure(Base):
    """A child document of a source (a sitemap an index lists) failing crawl after crawl while the
    source itself works: counted, and reported to operators once it keeps failing."""
    __tablename__ = "document_failures"
    url: Mapped[str] = mapped_column(String(2048), primary_key=True)
    source: Mapped[str] = mapped_column(String(200), index=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    alerted: Mapped[bool] = mapped_column(Boolean, default=False)
    last_error: Mapped[str | None] = mapped_column(Text)
    last_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


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
    gone: Mapped[int | None] = mapped_column(Integer)
    left: Mapped[int | None] = mapped_column(Integer)
    held_baseline: Mapped[int | None] = mapped_column(Integer)
    held_too_old: Mapped[int | None] = mapped_column(Integer)
    held_trial: Mapped[int | None] = mapped_column(Integer)
    errors: Mapped[list] = mapped_column(default=list)
    warnings: Mapped[list | None] = mapped_column(JSON)      # parts that failed in a crawl that succeeded
    duration: Mapped[float | None] = mapped_column(Float)


class WorkerRow(Base):
    """A crawl worker taking jobs from the queue (`wirewatch worker`): what `status` and /metrics
    show of it, written by the worker itself every few seconds."""
    __tablename__ = "workers"
    id: Mapped[int] = mapped_column(primary_key=True)
    host: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    last_heartbeat: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow, index=True)
    stopped_at: Mapped[dt.datetime | None] = mapped_column(DateTime)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    sites: Mapped[list] = mapped_column(default=list)            # the sites it is crawling now
    queue_worker: Mapped[int | None] = mapped_column(Integer)     # its id in the job queue (procrastinate)
    silent_alerted: Mapped[bool] = mapped_column(Boolean, default=False)


class RobotsRow(Base):
    """robots.txt per origin, shared by every crawl worker on every machine (kept at most an hour;
    a failure, which forbids the site, a minute)."""
    __tablename__ = "robots_cache"
    origin: Mapped[str] = mapped_column(String(300), primary_key=True)
    status: Mapped[int | None] = mapped_column(Integer)           # None: it could not be fetched
    body: Mapped[str] = mapped_column(Text, default="")
    fetched_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)


class HostGap(Base):
    """When each host may next be asked, across machines: a request that leaves its job's site
    (a redirect, a feed host, a CDN) takes the next slot here."""
    __tablename__ = "host_gaps"
    host: Mapped[str] = mapped_column(String(255), primary_key=True)
    next_at: Mapped[dt.datetime] = mapped_column(DateTime)


@event.listens_for(Base.metadata, "after_create")
def _search_index(_target, connection, **_kw) -> None:
    """A new database gets the full-text index with its tables (crawler.store.search)."""
    from wirewatch.crawler.store.search import install
    install(connection)
