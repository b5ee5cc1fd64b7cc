"""What the analyst's desk reads: matches, stories and articles as the command line and the web
view show them. One query per listing; every value that came from the web stays plain text here
(escaping is the renderer's job).

A match is listed as the webhook body of the contract (`alerts/model.build_alert`) plus
`alerted`, `held_back` (why it did not alert), `match_id` and `article_id`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wirewatch.alerts.model import build_alert, fact_line
from wirewatch.crawler.crawl.urls import canonical_url
from wirewatch.crawler.dates import iso
from wirewatch.crawler.desk.ids import row_id
from wirewatch.crawler.records import Fact
from wirewatch.crawler.store.schema import Article, FactRow, MatchRow, Outbox, Story, utcnow


@dataclass(frozen=True)
class Filters:
    """Listing filters, from command-line options or query parameters."""
    watch: str | None = None
    source: str | None = None
    since: float | None = None          # seconds back from now
    story: int | None = None
    limit: int = 50

    def cutoff(self) -> dt.datetime | None:
        return utcnow() - dt.timedelta(seconds=self.since) if self.since else None


def _facts(session: Session, match_ids: list[int]) -> dict[int, list[Fact]]:
    out: dict[int, list[Fact]] = {}
    for start in range(0, len(match_ids), 500):
        for row in session.scalars(select(FactRow).where(FactRow.match_id.in_(match_ids[start:start + 500]))
                                   .order_by(FactRow.id)):
            out.setdefault(row.match_id, []).append(row.fact())
    return out


def _alert_ids(session: Session, match_ids: list[int]) -> dict[int, str]:
    out: dict[int, str] = {}
    for start in range(0, len(match_ids), 500):
        for match_id, alert_id in session.execute(select(Outbox.match_id, Outbox.alert_id).where(
                Outbox.match_id.in_(match_ids[start:start + 500]))):
            out.setdefault(match_id, alert_id)
    return out


def matches(session: Session, filters: Filters = Filters()) -> list[dict[str, Any]]:
    """Matches newest first, each as the webhook body plus whether (or why not) it alerted."""
    query = (select(MatchRow, Article, Story).join(Article, MatchRow.article_id == Article.id)
             .outerjoin(Story, MatchRow.story_id == Story.id)
             .order_by(MatchRow.created_at.desc(), MatchRow.id.desc()).limit(max(1, filters.limit)))
    if filters.watch:
        query = query.where(MatchRow.watch == filters.watch)
    if filters.source:
        query = query.where(Article.source == filters.source)
    if filters.story:
        query = query.where(MatchRow.story_id == filters.story)
    if filters.cutoff():
        query = query.where(MatchRow.created_at >= filters.cutoff())
    rows = session.execute(query).all()
    ids = [match.id for match, _, _ in rows]
    facts, alert_ids = _facts(session, ids), _alert_ids(session, ids)
    return [match_body(match, article, story, facts.get(match.id, []), alert_ids.get(match.id))
            for match, article, story in rows]


def match_body(match: MatchRow, article: Article, story: Story | None, facts: list[Fact],
               alert_id: str | None) -> dict[str, Any]:
    body = build_alert(article, match, tuple(facts), story or _NO_STORY)
    body["id"] = alert_id
    body["time"] = iso(match.created_at)
    body.update(alerted=bool(match.alerted), held_back=match.held_back, match_id=match.id,
                article_id=article.id, severity=match.severity)
    return body


@dataclass(frozen=True)
class _NoStory:
    id: None = None
    articles: int = 0


_NO_STORY = _NoStory()


@dataclass
class StoryView:
    id: int
    watch: str
    title: str | None
    first_seen: dt.datetime
    last_seen: dt.datetime
    articles: int
    outlets: list[str]
    facts: list[str]                                    # every fact line the story has
    growth: list[dict[str, Any]] = field(default_factory=list)   # per article, in order: what it added

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "watch": self.watch, "title": self.title,
                "first_seen": iso(self.first_seen), "last_seen": iso(self.last_seen),
                "articles": self.articles, "outlets": self.outlets, "facts": self.facts,
                "growth": self.growth}


def stories(session: Session, filters: Filters = Filters(since=30 * 86400)) -> list[StoryView]:
    """Stories newest first (by their last article), with outlets and how their facts grew."""
    query = select(Story).order_by(Story.updated_at.desc(), Story.id.desc()).limit(max(1, filters.limit))
    if filters.watch:
        query = query.where(Story.watch == filters.watch)
    if filters.cutoff():
        query = query.where(Story.updated_at >= filters.cutoff())
    if filters.source:
        query = query.where(Story.id.in_(select(Article.story_id).where(Article.source == filters.source)))
    if filters.story:
        query = query.where(Story.id == filters.story)
    return [story_view(session, story) for story in session.scalars(query)]


def story_view(session: Session, story: Story) -> StoryView:
    rows = session.execute(select(MatchRow, Article).join(Article, MatchRow.article_id == Article.id)
                           .where(MatchRow.story_id == story.id)
                           .order_by(func.coalesce(Article.published_at, Article.fetched_at), MatchRow.id)).all()
    facts = _facts(session, [m.id for m, _ in rows])
    seen: set[str] = set()
    lines: list[str] = []
    growth = []
    for match, article in rows:
        for fact in facts.get(match.id, []):
            if fact.key not in seen:
                seen.add(fact.key)
                lines.append(fact_line(fact))
        first = match.news is None and not growth        # what the story rules judged it to add
        added = [fact_line(f) for f in facts.get(match.id, [])] if first else list(match.news or [])
        growth.append({"article_id": article.id, "title": article.title, "source": article.source,
                       "url": article.url, "time": iso(match.created_at), "published": iso(article.published_at),
                       "alerted": bool(match.alerted), "held_back": match.held_back, "first": first,
                       "added": added})
    outlets = sorted({article.source for _, article in rows})
    return StoryView(story.id, story.watch, story.title, story.created_at, story.updated_at,
                     len({article.id for _, article in rows}), outlets, lines, growth)


@dataclass
class ArticleView:
    article: Article
    spans: list[tuple[int, int, str]]                  # (start, end, role) in article.text
    matches: list[dict[str, Any]]                       # as `matches()` lists them
    deliveries: list[dict[str, Any]]                    # per alert and channel
    story: StoryView | None


def find_article(session: Session, ref: str) -> Article | None:
    """An article by id, or by URL however it was spelled: as crawled, or any spelling with the
    same canonical form (tracking parameters, a #fragment, an uppercase scheme or host)."""
    ref = ref.strip()
    if re.fullmatch(r"[0-9]+", ref):
        try:
            return session.get(Article, row_id(ref))
        except ValueError:
            return None
    try:
        canonical = canonical_url(ref)
    except ValueError:                       # not a URL at all (an unclosed IPv6 bracket ...)
        canonical = ref
    return session.scalars(select(Article).where(
        (Article.url == ref) | (Article.canonical_url.in_({ref, canonical})))).first()


def article_view(session: Session, article: Article) -> ArticleView:
    rows = session.execute(select(MatchRow, Story).outerjoin(Story, MatchRow.story_id == Story.id)
                           .where(MatchRow.article_id == article.id).order_by(MatchRow.id)).all()
    ids = [m.id for m, _ in rows]
    facts, alert_ids = _facts(session, ids), _alert_ids(session, ids)
    bodies = [match_body(m, article, story, facts.get(m.id, []), alert_ids.get(m.id)) for m, story in rows]
    spans = evidence_spans(article.text, [e for m, _ in rows for e in (m.evidence or [])])
    deliveries = [{"alert_id": o.alert_id, "channel": o.channel, "status": o.status, "attempts": o.attempts,
                   "last_error": o.last_error, "delivered_at": iso(o.delivered_at)}
                  for o in session.scalars(select(Outbox).where(Outbox.match_id.in_(ids or [-1]))
                                           .order_by(Outbox.id))]
    story = session.get(Story, article.story_id) if article.story_id else None
    return ArticleView(article, spans, bodies, deliveries, story_view(session, story) if story else None)


ROLES = ("supplier", "recipient", "item", "quantity", "transfer")


def evidence_spans(text: str, evidence: list[dict]) -> list[tuple[int, int, str]]:
    """The evidence's role spans placed in the article text (each sentence found where it
    stands), without overlaps, in order. Where two readings give one word different roles (in
    "A gave B shells in exchange for B's troops", B receives one and supplies the other), the
    stronger evidence (listed first) names it."""
    spans: list[tuple[int, int, int, str]] = []
    for rank, entry in enumerate(evidence):
        sentence = entry.get("sentence") or ""
        at = text.find(sentence) if sentence else -1
        if at < 0:
            continue
        for role, span in (entry.get("spans") or {}).items():
            start, end = at + int(span["start"]), at + int(span["end"])
            if role in ROLES and 0 <= start < end <= len(text) and text[start:end] == span.get("text", text[start:end]):
                spans.append((start, rank, end, role))
    spans.sort()
    kept: list[tuple[int, int, str]] = []
    for start, _, end, role in spans:
        if not kept or start >= kept[-1][1]:
            kept.append((start, end, role))
    return kept


def counts_by(session: Session, column, *where) -> dict[str, int]:
    query = select(column, func.count()).group_by(column)
    for clause in where:
        query = query.where(clause)
    return {key: n for key, n in session.execute(query).all()}


def source_health(session: Session, config) -> list[dict[str, Any]]:
    """What `status` prints per source: last check, next due time, lag, last success,
    consecutive failures, new articles in 24 h, last error (only while failing), and what the last
    successful crawl could not read (a partial failure's warning)."""
    from wirewatch.crawler.store.schema import SourceState
    states = {s.source: s for s in session.scalars(select(SourceState))}
    recent = counts_by(session, Article.source, Article.fetched_at >= utcnow() - dt.timedelta(hours=24))
    rows = []
    for source in config.sources:
        state = states.get(source.name)
        failures = (state.consecutive_failures or 0) if state else 0
        rows.append({"source": source.name, "type": source.type, "url": source.url,
                     "last_check": state.last_attempt if state else None,
                     "next_due": state.next_due if state else None,
                     "lag": state.last_lag if state else None,
                     "last_success": state.last_success if state else None,
                     "failures": failures, "new_24h": recent.get(source.name, 0),
                     "last_error": (state.last_error if state and failures else None),
                     "warning": (state.last_warning if state and not failures else None)})
    return rows


def queue_counts(session: Session) -> dict[str, int]:
    return counts_by(session, Outbox.status)
