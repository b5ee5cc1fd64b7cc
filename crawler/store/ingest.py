"""Store an extracted article with its matches, story and outbox rows in ONE transaction,
so a crash anywhere leaves either all of it or none of it.

A match alerts unless something holds it back, and then the reason is stored with it:
`trial run` (crawl --no-alerts), `baseline` (the source's first crawl), `too old` (published
before alerts.max_age), `same story` (nothing the story did not have), `no channel`, `status` (the
watch's `statuses` data holds facts of those statuses back, e.g. plans), `denied` (no match: the
transfers it reports are denied ones, kept for the record)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.model import build_alert, new_alert_id
from wirewatch.alerts.outbox import enqueue
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.dates import published_at
from wirewatch.crawler.records import AlertPolicy, ArticleItem, MatchResult, PageAnalysis
from wirewatch.crawler.store.database import is_known
from wirewatch.crawler.store.mutes import mute_for
from wirewatch.crawler.store.schema import Article, FactRow, MatchRow, SeenUrl, SourceState, utcnow
from wirewatch.crawler.store.stories import assign_story


@dataclass(frozen=True)
class IngestResult:
    new: bool
    article_id: int | None = None
    matches: tuple[MatchResult, ...] = ()
    held_back: tuple[str | None, ...] = ()        # per match: why it did not alert, or None
    alerts: int = 0


def content_hash(text: str) -> str:
    return hashlib.sha256(" ".join(text.split()).lower().encode()).hexdigest()


def record_seen(sessions: sessionmaker[Session], canonical: str, source: str, reason: str) -> None:
    """Remember a downloaded non-article so the next crawl does not download it again."""
    try:
        with sessions.begin() as session:
            session.merge(SeenUrl(canonical_url=canonical, source=source, reason=reason[:500]))
    except IntegrityError:
        pass


def ingest(sessions: sessionmaker[Session], item: ArticleItem, analysis: PageAnalysis,
           channels: Routes, policy: AlertPolicy = AlertPolicy()) -> IngestResult:
    """Store what the analysis workers made of a page that is an article."""
    extracted, results = analysis.extracted, analysis.matches
    assert extracted is not None, "only articles are ingested"
    now = dt.datetime.now(dt.timezone.utc)
    with sessions.begin() as session:
        if is_known(session, item.canonical):
            return IngestResult(new=False)
        article = Article(
            canonical_url=item.canonical, url=item.canonical, source=item.source,
            title=extracted.title or item.hints.title, text=extracted.text,
            published=extracted.published or item.hints.published,
            published_at=published_at(extracted.published, item.hints.published, now),
            author=extracted.author, sitename=extracted.sitename, language=extracted.language,
            content_hash=content_hash(extracted.text), analysed_chars=analysis.analysed_chars)
        session.add(article)
        session.flush()
        held = tuple(store_match(session, article, result, channels, policy, now) for result in results)
        state = session.get(SourceState, item.source) or SourceState(source=item.source)
        state.last_new_article = utcnow()
        session.merge(state)
    return IngestResult(new=True, article_id=article.id, matches=results, held_back=held,
                        alerts=sum(len(channels.alert(r.watch, r.severity)) for r, reason in zip(results, held)
                                   if reason is None))


def hold_back(policy: AlertPolicy, source: str, published: dt.datetime, now: dt.datetime,
              news: bool, channels: list[str]) -> str | None:
    """Why a match must not alert, or None when it should."""
    if policy.trial:
        return "trial run"
    if source in policy.baseline:
        return "baseline"
    if now - published > dt.timedelta(seconds=policy.max_age):
        return "too old"
    if not news:
        return "same story"
    if not channels:
        return "no channel"
    return None


def store_match(session: Session, article: Article, result: MatchResult, routes: Routes,
                policy: AlertPolicy, now: dt.datetime, hold: str | None = None,
                found: dt.datetime | None = None) -> str | None:
    """Store one match with its facts and story; queue its alert unless something holds it back
    (`hold` forces a reason, e.g. a rescan without --alert). `found`: when the report was found,
    if not now (a rescan matches what an earlier crawl found). Returns the reason, or None."""
    channels = routes.alert(result.watch, result.severity)     # "no channel" when none takes it
    placed = assign_story(session, result.watch, article, result.facts, result.names,
                          policy.tolerance(result.watch))
    story = placed.story
    article.story_id = article.story_id or story.id
    reason = "denied" if not result.matched else \
        hold or hold_back(policy, article.source, article.published_at, now, placed.material, channels)
    if reason is None and not result.alert:
        reason = "status"                 # the watch holds facts of these statuses back
    if reason is None:
        mute = mute_for(session, story_id=story.id, source=article.source, watch=result.watch)
        reason = mute.held_back() if mute is not None else None
    match = MatchRow(article_id=article.id, watch=result.watch, score=result.score,
                     severity=result.severity, rule=result.rule,
                     evidence=[e.as_json() for e in result.evidence],
                     story_id=story.id, alerted=reason is None, held_back=reason,
                     news=None if placed.first else [n.line() for n in placed.news],
                     **({"created_at": found} if found is not None else {}))
    session.add(match)
    session.flush()
    session.add_all(FactRow.of(match.id, fact) for fact in result.facts)
    if reason is None:
        alert_id = new_alert_id()
        story.first_alert_id = story.first_alert_id or alert_id
        story.alerts = (story.alerts or 0) + 1
        enqueue(session, build_alert(article, match, result.facts, story, placed.news), channels,
                match_id=match.id, alert_id=alert_id)
    return reason
