"""Same-story clustering, so ten outlets repeating one report make one alert, and a later
article alerts again only when it brings facts the story did not have."""

from __future__ import annotations

import datetime as dt
import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from wirewatch.crawler.records import Fact
from wirewatch.crawler.store.schema import Article, Story, utcnow

STORY_WINDOW = dt.timedelta(days=7)
SAME_STORY = 0.5
_WORD = re.compile(r"[a-z0-9][a-z0-9'-]+")
_STOP = frozenset("the a an and or of to in on for with from by at as is are was were has have had "
                  "its it this that says said after over amid new more than into about".split())


def title_terms(title: str | None) -> list[str]:
    return sorted({w for w in _WORD.findall((title or "").lower()) if w not in _STOP and len(w) > 2})


def _similarity(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a and b else 0.0


def assign_story(session: Session, watch: str, article: Article,
                 facts: tuple[Fact, ...]) -> tuple[Story, bool]:
    """Return the story the article belongs to and whether it brings anything new to it."""
    terms = set(title_terms(article.title))
    keys = {f.key for f in facts}
    since = utcnow() - STORY_WINDOW
    best, best_score = None, 0.0
    recent = list(session.scalars(select(Story).where(Story.watch == watch, Story.updated_at >= since)))
    for story in recent:
        score = _similarity(terms, set(story.terms))
        if score > best_score:
            best, best_score = story, score
    if best is None or best_score < SAME_STORY:
        best = _duplicate_text(session, article) or _restated_figures(recent, keys)
    if best is None:
        story = Story(watch=watch, title=article.title, terms=sorted(terms), signature=sorted(keys))
        session.add(story)
        session.flush()
        return story, True
    new_keys = keys - set(best.signature)
    best.articles += 1
    best.signature = sorted(set(best.signature) | keys)
    best.updated_at = utcnow()
    return best, bool(new_keys)


def _duplicate_text(session: Session, article: Article) -> Story | None:
    """The same text published again (syndication, a second URL)."""
    story_id = session.scalar(select(Article.story_id).where(
        Article.content_hash == article.content_hash, Article.id != article.id, Article.story_id.is_not(None)))
    return session.get(Story, story_id) if story_id else None


def _restated_figures(recent: list[Story], keys: set[str]) -> Story | None:
    """A roundup that restates a story's figures ("11,000 troops") under another headline.
    Only figures count: a report without numbers may be news however similar it sounds."""
    figures = {k for k in keys if not k.endswith(":")}
    if not figures:
        return None
    for story in recent:
        if figures <= set(story.signature):
            return story
    return None
