"""Store an extracted article with its matches, story and outbox rows in ONE transaction,
so a crash anywhere leaves either all of it or none of it."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from alerts.model import build_alert
from alerts.outbox import enqueue
from crawler.article import Extracted
from crawler.novelty import assign_story
from crawler.storage import Article, Fact, Match, SeenUrl, SourceState, is_known, utcnow


@dataclass
class IngestResult:
    new: bool
    article_id: int | None = None
    matches: list = field(default_factory=list)
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


def ingest(sessions: sessionmaker[Session], item: dict, extracted: Extracted, results: list,
           channels: list[str]) -> IngestResult:
    """`results` are the matched MatchResults of the article (crawler.analyse computes them)."""
    hints = item.get("hints") or {}
    title = extracted.title or hints.get("title")
    with sessions.begin() as session:
        if is_known(session, item["canonical"]):
            return IngestResult(new=False)
        article = Article(
            canonical_url=item["canonical"], url=item["canonical"], source=item["source"], title=title,
            text=extracted.text, published=extracted.published or hints.get("published"),
            author=extracted.author, sitename=extracted.sitename, language=extracted.language,
            content_hash=content_hash(extracted.text))
        session.add(article)
        session.flush()
        outcome = IngestResult(new=True, article_id=article.id, matches=results)
        for result in results:
            outcome.alerts += _store_match(session, article, result, channels)
        state = session.get(SourceState, item["source"]) or SourceState(source=item["source"])
        state.last_new_article = utcnow()
        session.merge(state)
    return outcome


def _store_match(session: Session, article: Article, result, channels: list[str]) -> int:
    story, news = assign_story(session, result.watch, article, result.facts)
    article.story_id = article.story_id or story.id
    match = Match(article_id=article.id, watch=result.watch, score=result.score,
                  severity=result.severity, rule=result.rule, evidence=result.evidence,
                  story_id=story.id, alerted=bool(news and channels))
    session.add(match)
    session.flush()
    for fact in result.facts:
        session.add(Fact(match_id=match.id, supplier=fact["supplier"], recipient=fact["recipient"],
                         item=fact["item"], quantity=fact.get("quantity"),
                         approx=bool(fact.get("approx")), status=fact["status"],
                         sentence=fact["sentence"]))
    if not match.alerted:
        return 0
    payload = build_alert(article, match, result.facts, story)
    return enqueue(session, payload, channels, match_id=match.id)
