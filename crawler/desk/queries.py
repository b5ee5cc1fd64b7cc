"""What the analyst's desk reads: matches, stories and articles as the command line and the web
view show them. One query per listing; every value that came from the web stays plain text here
(escaping is the renderer's job).

A match is listed as the webhook body of the contract (`alerts/model.build_alert`) plus
`alerted`, `held_back` (why it did not alert), `match_id` and `article_id`."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field, replace
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from wirewatch.alerts.model import build_alert, fact_line
from wirewatch.crawler.crawl.urls import canonical_url
from wirewatch.crawler.dates import iso
from wirewatch.crawler.desk.ids import row_id
from wirewatch.crawler.records import Fact
from wirewatch.crawler.store import search
from wirewatch.crawler.store.schema import Article, FactRow, MatchRow, Outbox, Story, Verdict, utcnow


ALERTED = ("alerted", "held")
LABELS = ("relevant", "not_relevant", "wrong_fact", "missed")


@dataclass(frozen=True)
class Filters:
    """Listing filters, from command-line options or query parameters. Times select by publication
    (found time where a report gave none); `limit` None means every row."""
    watch: str | None = None
    source: str | None = None
    language: str | None = None         # "ko", "ru" ... (an article stored as "en-US" is "en")
    since: float | None = None          # seconds back from now, by publication
    until: float | None = None          # ... up to this many seconds back
    story: int | None = None
    search: str | None = None           # words and "phrases" in the title or text
    direction: str | None = None        # "North Korea>Russia" (labels; case, _ and - ignored)
    country: str | None = None          # either party
    item: str | None = None
    status: str | None = None
    severity: str | None = None
    alerted: str | None = None          # alerted | held
    unread: bool = False
    starred: bool = False
    limit: int | None = 50
    offset: int = 0

    def cutoff(self) -> dt.datetime | None:
        return utcnow() - dt.timedelta(seconds=self.since) if self.since else None

    def upto(self) -> dt.datetime | None:
        return utcnow() - dt.timedelta(seconds=self.until) if self.until else None


@dataclass
class Page:
    """One page of a listing and where it stands in the whole: "1–50 of 215"."""
    rows: list
    total: int
    offset: int
    limit: int | None

    @property
    def first(self) -> int:
        return self.offset + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.offset + len(self.rows)

    @property
    def complete(self) -> bool:
        return self.first <= 1 and self.last >= self.total

    def describe(self, noun: str) -> str:
        if not self.total:
            return f"no {noun}"
        if not self.rows:                          # a page past the end
            return f"none on this page: {self.total} {noun} in all"
        return f"{self.first}–{self.last} of {self.total} {noun}"

    def next_offset(self) -> int | None:
        return self.last if self.last < self.total else None

    def previous_offset(self) -> int | None:
        return max(0, self.offset - (self.limit or 0)) if self.offset > 0 else None


def published():
    """When a report came out: its publication time, or when we found it if it gave none."""
    return func.coalesce(Article.published_at, Article.fetched_at)


def label_key(value: str) -> str:
    """A party as typed ("north_korea", "North Korea") and as stored compare alike."""
    return re.sub(r"[\s_-]+", " ", value).strip().lower()


_label = label_key


def _fact_filter(filters: Filters):
    """Matches having a fact of the direction, country, item and status asked for (or None)."""
    clauses = []
    if filters.direction:
        parts = re.split(r"\s*(?:->|>|→)\s*", filters.direction.strip(), maxsplit=1)
        supplier, recipient = parts[0], parts[1] if len(parts) > 1 else ""
        clauses.append(func.lower(FactRow.supplier) == _label(supplier))
        if recipient:
            clauses.append(func.lower(FactRow.recipient) == _label(recipient))
    if filters.country:
        country = _label(filters.country)
        clauses.append(or_(func.lower(FactRow.supplier) == country, func.lower(FactRow.recipient) == country))
    if filters.item:
        clauses.append(FactRow.item == filters.item.strip().lower().replace(" ", "_"))
    if filters.status:
        clauses.append(FactRow.status == filters.status.strip().lower())
    if not clauses:
        return None
    return select(FactRow.match_id).where(*clauses)


def language_is(code: str):
    """Articles in this language: 'ko' is 'ko' and 'ko-KR'."""
    code = code.strip().lower()
    return or_(func.lower(Article.language) == code, func.lower(Article.language).like(f"{code}-%"))


def _match_conditions(session: Session, filters: Filters) -> list:
    where = []
    if filters.watch:
        where.append(MatchRow.watch == filters.watch)
    if filters.source:
        where.append(Article.source == filters.source)
    if filters.language:
        where.append(language_is(filters.language))
    if filters.story:
        where.append(MatchRow.story_id == filters.story)
    if filters.cutoff():
        where.append(published() >= filters.cutoff())
    if filters.upto():
        where.append(published() <= filters.upto())
    if filters.severity:
        where.append(MatchRow.severity == filters.severity.strip().lower())
    if filters.alerted == "alerted":
        where.append(MatchRow.alerted.is_(True))
    elif filters.alerted == "held":
        where.append(MatchRow.alerted.is_(False))
    if filters.unread:
        where.append(MatchRow.read.is_(False))
    if filters.starred:
        where.append(MatchRow.starred.is_(True))
    facts = _fact_filter(filters)
    if facts is not None:
        where.append(MatchRow.id.in_(facts))
    if filters.search:
        where.append(Article.id.in_(search.matching_ids(session.get_bind().dialect.name, filters.search)))
    return where


def _paged(session: Session, query, count_query, filters: Filters) -> tuple[list, int]:
    total = session.scalar(count_query) or 0
    if filters.limit is not None:
        query = query.limit(max(1, filters.limit))
    if filters.offset:
        query = query.offset(filters.offset)
    return session.execute(query).all(), total


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


def matches(session: Session, filters: Filters = Filters()) -> Page:
    """Matches newest first by publication, each as the webhook body plus whether (or why not) it
    alerted, its triage marks and its latest verdict; the page and the total in range."""
    where = _match_conditions(session, filters)
    base = (select(MatchRow, Article, Story).join(Article, MatchRow.article_id == Article.id)
            .outerjoin(Story, MatchRow.story_id == Story.id).where(*where))
    count = select(func.count(MatchRow.id)).join(Article, MatchRow.article_id == Article.id).where(*where)
    rows, total = _paged(session, base.order_by(published().desc(), MatchRow.id.desc()), count, filters)
    ids = [match.id for match, _, _ in rows]
    facts, alert_ids = _facts(session, ids), _alert_ids(session, ids)
    verdicts = latest_verdicts(session, [(a.id, m.watch) for m, a, _ in rows])
    bodies = []
    for match, article, story in rows:
        body = match_body(match, article, story, facts.get(match.id, []), alert_ids.get(match.id))
        body["verdict"] = verdicts.get((article.id, match.watch))
        bodies.append(body)
    return Page(bodies, total, filters.offset, filters.limit)


def match_body(match: MatchRow, article: Article, story: Story | None, facts: list[Fact],
               alert_id: str | None) -> dict[str, Any]:
    body = build_alert(article, match, tuple(facts), story or _NO_STORY)
    body["id"] = alert_id or f"held-{match.id}"           # a held match has no alert: a stable id of its own
    body["time"] = iso(match.created_at)
    body.update(alerted=bool(match.alerted), held_back=match.held_back, match_id=match.id,
                article_id=article.id, severity=match.severity, read=bool(match.read),
                starred=bool(match.starred))
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
    first_published: dt.datetime | None                 # its first and latest report's publication
    last_published: dt.datetime | None
    first_seen: dt.datetime                             # when we found its first report, and its latest
    last_seen: dt.datetime
    articles: int
    outlets: list[str]
    facts: list[Fact]                                   # every fact the story has, once
    growth: list[dict[str, Any]] = field(default_factory=list)   # per report, in order: what it added
    alerts: int = 0
    note: str | None = None
    note_by: str | None = None
    note_at: dt.datetime | None = None

    @property
    def lines(self) -> list[str]:
        return [fact_line(f) for f in self.facts]

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "watch": self.watch, "title": self.title,
                "first_published": iso(self.first_published), "last_published": iso(self.last_published),
                "first_seen": iso(self.first_seen), "last_seen": iso(self.last_seen),
                "articles": self.articles, "outlets": self.outlets, "alerts": self.alerts,
                "facts": [f.as_json() for f in self.facts], "growth": self.growth,
                "note": self.note and {"text": self.note, "by": self.note_by, "at": iso(self.note_at)}}


def stories(session: Session, filters: Filters = Filters(since=30 * 86400)) -> Page:
    """Stories newest first by their latest report's publication, with outlets, facts and what
    each report added; filtered by what their matches are (search, facts, source, triage)."""
    match_level = replace(filters, since=None, until=None, story=None, watch=None, limit=None, offset=0)
    where = []
    if filters.watch:
        where.append(Story.watch == filters.watch)
    if filters.story:
        where.append(Story.id == filters.story)
    if filters.cutoff():
        where.append(func.coalesce(Story.last_published, Story.updated_at) >= filters.cutoff())
    if filters.upto():
        where.append(func.coalesce(Story.first_published, Story.created_at) <= filters.upto())
    conditions = _match_conditions(session, match_level)
    if conditions:
        where.append(Story.id.in_(select(MatchRow.story_id).join(Article, MatchRow.article_id == Article.id)
                                  .where(*conditions)))
    query = select(Story).where(*where).order_by(
        func.coalesce(Story.last_published, Story.updated_at).desc(), Story.id.desc())
    rows, total = _paged(session, query, select(func.count(Story.id)).where(*where), filters)
    return Page([story_view(session, story) for (story,) in rows], total, filters.offset, filters.limit)


def story_view(session: Session, story: Story) -> StoryView:
    rows = session.execute(select(MatchRow, Article).join(Article, MatchRow.article_id == Article.id)
                           .where(MatchRow.story_id == story.id)
                           .order_by(func.coalesce(Article.published_at, Article.fetched_at), MatchRow.id)).all()
    facts = _facts(session, [m.id for m, _ in rows])
    seen: set[str] = set()
    told: list[Fact] = []
    growth = []
    for match, article in rows:
        for fact in facts.get(match.id, []):
            if fact.key not in seen:
                seen.add(fact.key)
                told.append(fact)
        first = match.news is None and not growth        # what the story rules judged it to add
        added = [fact_line(f) for f in facts.get(match.id, [])] if first else list(match.news or [])
        growth.append({"article_id": article.id, "title": article.title, "source": article.source,
                       "language": article.language, "url": article.url, "time": iso(match.created_at), "published": iso(article.published_at),
                       "alerted": bool(match.alerted), "held_back": match.held_back, "first": first,
                       "added": added})
    outlets = sorted({article.source for _, article in rows})
    found = [match.created_at for match, _ in rows] or [story.created_at]   # when its reports were found
    return StoryView(story.id, story.watch, story.title, story.first_published, story.last_published,
                     min(found), max(found), len({article.id for _, article in rows}), outlets, told,
                     growth, story.alerts or 0, story.note, story.note_by, story.note_at)


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


CHOICES = {
    "items": ["troops", "labour", "artillery", "shells", "missiles", "rocket_launchers", "drones", "air_defence",
              "aircraft", "weapons", "technology", "casualties"],
    "statuses": ["reported", "planned", "pledged", "agreed", "delivered", "deployed", "in combat", "denied"],
    "severities": ["low", "medium", "high"],
}


def stored_sources(session: Session) -> list[str]:
    """The sources a database knows (with no config to name them): those it has crawled or stored."""
    from wirewatch.crawler.store.schema import SourceState
    names = set(session.scalars(select(SourceState.source))) | set(session.scalars(select(Article.source).distinct()))
    return sorted(names)


def outbox(session: Session, status: str | None, filters: Filters) -> Page:
    """Alert rows newest first, every status or one (delivered ones too), paged."""
    where = [Outbox.status == status] if status else []
    query = select(Outbox).where(*where).order_by(Outbox.id.desc())
    rows, total = _paged(session, query, select(func.count(Outbox.id)).where(*where), filters)
    return Page([r for (r,) in rows], total, filters.offset, filters.limit)


def source_health(session: Session, config) -> list[dict[str, Any]]:
    """What `status` prints per source: last check, next due time, lag, last success,
    consecutive failures, new articles in 24 h, last error (only while failing), and what the last
    successful crawl could not read (a partial failure's warning). With no sources in the config
    (only WIREWATCH_STORAGE set), the sources the database knows."""
    from types import SimpleNamespace

    from wirewatch.crawler.store.schema import SourceState
    states = {s.source: s for s in session.scalars(select(SourceState))}
    recent = counts_by(session, Article.source, Article.fetched_at >= utcnow() - dt.timedelta(hours=24))
    rows = []
    sources = config.sources or [SimpleNamespace(name=name, type="(stored)", url=None)
                                 for name in stored_sources(session)]
    for source in sources:
        state = states.get(source.name)
        failures = (state.consecutive_failures or 0) if state else 0
        rows.append({"source": source.name, "type": source.type, "url": source.url,
                     "last_check": state.last_attempt if state else None,
                     "next_due": _next_due(source, state),
                     "lag": state.last_lag if state else None,
                     "last_success": state.last_success if state else None,
                     "failures": failures, "new_24h": recent.get(source.name, 0),
                     "last_error": (state.last_error if state and failures else None),
                     "warning": (state.last_warning if state and not failures else None)})
    return rows


def _next_due(source, state) -> dt.datetime | None:
    """When the daemon checks it next: its schedule in the database, or (crawled by one-off
    crawls, or never) one interval after its last success; unknown for a source not in the config."""
    if getattr(source, "schedule", None) is None:
        return None
    if state is not None and state.next_due is not None and state.schedule == source.schedule:
        return state.next_due
    from wirewatch.crawler.service.schedule import first_due
    return first_due(source, state, utcnow())


def queue_counts(session: Session) -> dict[str, int]:
    return counts_by(session, Outbox.status)


# ---- all articles ----------------------------------------------------------------------------

def articles(session: Session, filters: Filters = Filters(since=7 * 86400), matched: bool | None = None) -> Page:
    """Every stored article newest first by publication, matched or not, with its matches (per
    watch: alerted or why held) and its latest verdicts; `matched` keeps only one kind."""
    where = []
    if filters.source:
        where.append(Article.source == filters.source)
    if filters.language:
        where.append(language_is(filters.language))
    if filters.cutoff():
        where.append(published() >= filters.cutoff())
    if filters.upto():
        where.append(published() <= filters.upto())
    if filters.search:
        where.append(Article.id.in_(search.matching_ids(session.get_bind().dialect.name, filters.search)))
    if matched is not None:
        having = Article.id.in_(select(MatchRow.article_id))
        where.append(having if matched else ~having)
    query = select(Article).where(*where).order_by(published().desc(), Article.id.desc())
    rows, total = _paged(session, query, select(func.count(Article.id)).where(*where), filters)
    ids = [a.id for (a,) in rows]
    by_article: dict[int, list[MatchRow]] = {}
    for match in session.scalars(select(MatchRow).where(MatchRow.article_id.in_(ids or [-1])).order_by(MatchRow.id)):
        by_article.setdefault(match.article_id, []).append(match)
    verdicts = latest_verdicts(session, [(i, None) for i in ids])
    out = []
    for (article,) in rows:
        found = by_article.get(article.id, [])
        out.append({"article_id": article.id, "title": article.title, "url": article.url, "source": article.source,
                    "published": iso(article.published_at), "found": iso(article.fetched_at),
                    "language": article.language, "story": article.story_id,
                    "matches": [{"watch": m.watch, "match_id": m.id, "alerted": bool(m.alerted),
                                 "held_back": m.held_back, "severity": m.severity} for m in found],
                    "verdicts": [v for (a, _), v in verdicts.items() if a == article.id]})
    return Page(out, total, filters.offset, filters.limit)


def reasons(config, rows: list[dict], session: Session) -> None:
    """For each unmatched article of a page: why the watches did not match it, as the matcher
    says now (`classify --explain`), added as `reason`."""
    from wirewatch.crawler.analysis.language import language_of
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    if not any(not r["matches"] for r in rows):
        return
    matcher = Matcher([load_watch(ref.include) for ref in config.watches])
    texts = {a.id: a for a in session.scalars(select(Article).where(
        Article.id.in_([r["article_id"] for r in rows if not r["matches"]])))}
    for row in rows:
        article = texts.get(row["article_id"])
        if article is None:
            continue
        if not article.text:
            row["reason"] = "text pruned by retention"
            continue
        results = matcher.match(article.title or "", article.text[:config.analysis.max_text],
                                language_of(article.title, article.text, article.language))
        row["reason"] = "; ".join(f"{r.watch}: {_first_reason(r)}" for r in results)


def _first_reason(result) -> str:
    if result.matched:
        return "matches now (rescan to store it)"
    if result.kept:
        return "only denials"
    return (result.explanation or ("no transfer between the watched parties found",))[0]


# ---- triage and verdicts -----------------------------------------------------------------------

def latest_verdicts(session: Session, keys: list[tuple[int, str | None]]) -> dict[tuple[int, str], dict]:
    """The newest verdict per (article, watch) for these articles (watch None: every watch)."""
    ids = sorted({a for a, _ in keys})
    out: dict[tuple[int, str], dict] = {}
    for start in range(0, len(ids), 500):
        for v in session.scalars(select(Verdict).where(Verdict.article_id.in_(ids[start:start + 500]))
                                 .order_by(Verdict.id)):
            out[(v.article_id, v.watch)] = verdict_json(v)
    wanted = {(a, w) for a, w in keys}
    return {k: v for k, v in out.items() if k in wanted or (k[0], None) in wanted}


def verdict_json(v: Verdict) -> dict[str, Any]:
    return {"label": v.label, "watch": v.watch, "fact": v.fact, "note": v.note, "by": v.by,
            "at": iso(v.created_at), "match_id": v.match_id}


def mark(session: Session, match_id: int, read: bool | None = None, starred: bool | None = None) -> MatchRow | None:
    match = session.get(MatchRow, match_id)
    if match is not None:
        if read is not None:
            match.read = read
        if starred is not None:
            match.starred = starred
    return match


def record_verdict(session: Session, article: Article, watch: str, label: str, by: str,
                   fact_index: int | None = None, note: str | None = None) -> Verdict:
    """Store an analyst's verdict. A wrong-fact verdict names one of the match's facts (by its
    number, 1 first); a missed verdict is for an article the watch did not match."""
    if label not in LABELS:
        raise ValueError(f"unknown verdict {label!r} (one of relevant, not-relevant, wrong-fact, missed)")
    match = session.scalars(select(MatchRow).where(MatchRow.article_id == article.id,
                                                   MatchRow.watch == watch)).first()
    if label == "missed" and match is not None and match.held_back != "denied":
        raise ValueError(f"article {article.id} did match {watch}: use relevant, not-relevant or wrong-fact")
    if label in ("relevant", "not_relevant", "wrong_fact") and match is None:
        raise ValueError(f"article {article.id} has no match for {watch}: a verdict on it is 'missed'")
    fact = None
    if label == "wrong_fact":
        facts = _facts(session, [match.id]).get(match.id, [])
        if fact_index is None or not 1 <= fact_index <= len(facts):
            raise ValueError(f"say which fact is wrong: a number from 1 to {len(facts)}" if facts
                             else "this match has no facts to call wrong")
        fact = facts[fact_index - 1].as_json()
    verdict = Verdict(article_id=article.id, match_id=match.id if match else None, watch=watch, label=label,
                      fact=fact, note=(note or "").strip()[:2000] or None, by=by)
    session.add(verdict)
    if match is not None:
        match.read = True
    return verdict


def set_note(session: Session, story: Story, text: str, by: str) -> None:
    story.note = text.strip()[:5000] or None
    story.note_by = by if story.note else None
    story.note_at = utcnow() if story.note else None
