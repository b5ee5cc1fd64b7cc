"""`wirewatch rescan`: the current watches over stored articles again, after a watch, gazetteer
or lexicon change. Matching only: the stored text is read, nothing is downloaded or extracted.

Per article and watch the new verdict replaces the stored one: a match gained is stored (with its
story), a match lost is removed (its alert rows stay, unlinked), a match kept is updated in place.
Gained matches alert only when asked, and then `alerts.max_age` and story novelty still hold."""

from __future__ import annotations

import datetime as dt
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching.watches import tolerances
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.records import AlertPolicy, MatchResult
from wirewatch.crawler.store.ingest import store_match
from wirewatch.crawler.store.schema import Article, FactRow, MatchRow, Outbox, Story, utcnow

BATCH = 200


@dataclass
class RescanReport:
    articles: int = 0
    gained: list[tuple[int, str, str | None, str | None]] = field(default_factory=list)  # (article, watch, title, held back)
    lost: list[tuple[int, str, str | None]] = field(default_factory=list)
    changed: int = 0
    seconds: float = 0.0


def rescan(config: Config, sessions: sessionmaker[Session], since: float, watch: str | None = None,
           alert: bool = False) -> RescanReport:
    from wirewatch.crawler.analysis.language import language_of
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    refs = [ref.include for ref in config.watches]
    watches = [load_watch(ref) for ref in refs]
    if watch is not None:
        watches = [w for w in watches if w.name == watch]
        if not watches:
            from wirewatch.crawler.errors import ConfigError
            raise ConfigError(f"no watch named {watch!r} in the config (have: "
                              f"{', '.join(w.name for w in (load_watch(r) for r in refs))})")
    matcher = Matcher(watches)
    names = {w.name for w in watches}
    cutoff = utcnow() - dt.timedelta(seconds=since)
    policy = AlertPolicy(frozenset(), config.alerts.max_age,
                         tolerances=tolerances([w.include for w in config.watches]))
    channels = Routes.of(config)
    report, started, last_id = RescanReport(), time.monotonic(), 0
    while True:
        with sessions.begin() as session:
            articles = list(session.scalars(select(Article).where(Article.fetched_at >= cutoff, Article.id > last_id)
                                            .order_by(Article.id).limit(BATCH)))
            if not articles:
                break
            last_id = articles[-1].id
            stored = {(m.article_id, m.watch): m for m in session.scalars(select(MatchRow).where(
                MatchRow.article_id.in_([a.id for a in articles]), MatchRow.watch.in_(names)))}
            now = dt.datetime.now(dt.timezone.utc)
            for article in articles:
                report.articles += 1
                text = article.text[:config.analysis.max_text]
                for result in matcher.match(article.title or "", text,
                                            language_of(article.title, article.text, article.language)):
                    _apply(session, article, result, stored.get((article.id, result.watch)), policy, channels,
                           now, report, alert)
    report.seconds = time.monotonic() - started
    return report


def _apply(session: Session, article: Article, result: MatchResult, before: MatchRow | None,
           policy: AlertPolicy, channels: Routes, now: dt.datetime, report: RescanReport,
           alert: bool) -> None:
    if result.stored and before is None:
        reason = store_match(session, article, result, channels, policy, now,
                             hold=None if alert else "rescan", found=article.fetched_at)
        report.gained.append((article.id, result.watch, article.title, reason))
    elif not result.stored and before is not None:
        session.execute(update(Outbox).where(Outbox.match_id == before.id).values(match_id=None))
        session.execute(delete(FactRow).where(FactRow.match_id == before.id))
        session.delete(before)
        report.lost.append((article.id, result.watch, article.title))
    elif result.stored and before is not None:
        evidence = [e.as_json() for e in result.evidence]
        facts = [f.as_json() for f in result.facts]
        old = [r.fact().as_json() for r in session.scalars(
            select(FactRow).where(FactRow.match_id == before.id).order_by(FactRow.id))]
        if before.score != result.score or before.evidence != evidence or old != facts:
            before.score, before.severity, before.rule = result.score, result.severity, result.rule
            before.evidence = evidence
            session.execute(delete(FactRow).where(FactRow.match_id == before.id))
            session.add_all(FactRow.of(before.id, fact) for fact in result.facts)
            report.changed += 1


# ---- regrouping stories ------------------------------------------------------------------------

@dataclass
class RestoryReport:
    matches: int = 0
    before: int = 0                                   # stories touched
    after: int = 0
    changes: list[str] = field(default_factory=list)  # one line per story that changed
    seconds: float = 0.0


def restory(config: Config, sessions: sessionmaker[Session], since: float, watch: str | None = None) -> RestoryReport:
    """Regroup stored matches into stories under the current rules, in publication order, as if
    they had arrived in that order; nothing is sent. A story keeps its number when the report that
    starts it started it before; what each report added (its `news`) is worked out again."""
    from wirewatch.crawler.analysis.language import language_of
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    from wirewatch.crawler.store.stories import assign_story, forget_stories
    watches = [w for w in (load_watch(ref.include) for ref in config.watches) if watch in (None, w.name)]
    matcher = Matcher(watches)
    names = {w.name for w in watches}
    policy = AlertPolicy(frozenset(), config.alerts.max_age,
                         tolerances=tolerances([w.include for w in config.watches]))
    cutoff = utcnow() - dt.timedelta(seconds=since)
    report, started = RestoryReport(), time.monotonic()
    with sessions.begin() as session:
        touched = select(MatchRow.story_id).join(Article, Article.id == MatchRow.article_id).where(
            MatchRow.watch.in_(names), Article.fetched_at >= cutoff, MatchRow.story_id.is_not(None))
        story_ids = sorted(set(session.scalars(touched)))
        scope = or_(MatchRow.story_id.in_(story_ids), and_(MatchRow.story_id.is_(None), Article.fetched_at >= cutoff))
        rows = list(session.execute(
            select(MatchRow, Article).join(Article, Article.id == MatchRow.article_id)
            .where(MatchRow.watch.in_(names), scope)
            .order_by(func.coalesce(Article.published_at, Article.fetched_at), MatchRow.id)))
        before = {match.id: match.story_id for match, _ in rows}
        titles = {i: t for i, t in session.execute(select(Story.id, Story.title).where(Story.id.in_(story_ids)))}
        kept = {row.id: row for row in session.execute(       # what the desk wrote on a story stays with its number
            select(Story.id, Story.note, Story.note_by, Story.note_at, Story.created_at).where(Story.id.in_(story_ids)))}
        first_alerts = _first_alerts(session, [match.id for match, _ in rows if match.alerted])
        forget_stories(session, story_ids)
        taken: set[int] = set()
        for match, article in rows:
            result = next((r for r in matcher.match(article.title or "", (article.text or "")[:config.analysis.max_text],
                                                    language_of(article.title, article.text, article.language))
                           if r.watch == match.watch), None)
            if result is not None and result.stored:
                facts, found = result.facts, result.names
            else:                                     # a match the rules no longer make: as stored
                facts = tuple(r.fact() for r in session.scalars(
                    select(FactRow).where(FactRow.match_id == match.id).order_by(FactRow.id)))
                found = ()
            wanted = before[match.id] if before[match.id] not in taken else None
            placed = assign_story(session, match.watch, article, facts, found, policy.tolerance(match.watch),
                                  story_id=wanted)
            taken.add(placed.story.id)
            match.story_id = placed.story.id
            article.story_id = article.story_id or placed.story.id
            match.news = None if placed.first else [n.line() for n in placed.news]
            if match.alerted:
                placed.story.alerts = (placed.story.alerts or 0) + 1
                placed.story.first_alert_id = placed.story.first_alert_id or first_alerts.get(match.id)
        found: dict[int, list] = {}
        for match, _ in rows:
            found.setdefault(match.story_id, []).append(match.created_at)
        for story in session.scalars(select(Story).where(Story.id.in_(list(found)))):
            old = kept.get(story.id)
            story.created_at = old.created_at if old is not None else min(found[story.id])
            if old is not None:
                story.note, story.note_by, story.note_at = old.note, old.note_by, old.note_at
        after = {match.id: match.story_id for match, _ in rows}
        report.matches, report.before = len(rows), len(story_ids)
        report.after = len(set(after.values()))
        titles.update((i, t) for i, t in session.execute(select(Story.id, Story.title).where(
            Story.id.in_(sorted(set(after.values()))))) if i not in titles)
        report.changes = _changes(before, after, titles)
    report.seconds = time.monotonic() - started
    return report


def _first_alerts(session: Session, match_ids: list[int]) -> dict[int, str]:
    found: dict[int, str] = {}
    for chunk in (match_ids[i:i + 500] for i in range(0, len(match_ids), 500)):
        for match_id, alert_id in session.execute(select(Outbox.match_id, Outbox.alert_id).where(
                Outbox.match_id.in_(chunk)).order_by(Outbox.id)):
            found.setdefault(match_id, alert_id)
    return found


def _changes(before: dict[int, int | None], after: dict[int, int], titles: dict[int, str | None]) -> list[str]:
    """'story 12 "…": 5 reports → 3 (2 to story 40)' for each story whose reports changed."""
    old_groups: dict[int | None, set[int]] = defaultdict(set)
    new_groups: dict[int, set[int]] = defaultdict(set)
    for match_id, story in before.items():
        old_groups[story].add(match_id)
    for match_id, story in after.items():
        new_groups[story].add(match_id)
    lines = []
    for old, members in sorted(old_groups.items(), key=lambda kv: (kv[0] is None, kv[0] or 0)):
        if old is None:
            continue
        moved = Counter(after[m] for m in members)
        if set(moved) == {old} and new_groups.get(old) == members:
            continue
        where = ", ".join(f"{n} to story {s}" for s, n in sorted(moved.items()) if s != old)
        lines.append(f'story {old} "{titles.get(old) or ""}": {len(members)} report(s) → '
                     f"{len(new_groups.get(old, set()))}" + (f" ({where})" if where else ""))
    for new, members in sorted(new_groups.items()):
        if new not in old_groups:
            came = Counter(before[m] for m in members)
            whence = ", ".join(f"{n} from story {s}" if s is not None else f"{n} without a story"
                               for s, n in sorted(came.items(), key=lambda kv: kv[0] or 0))
            lines.append(f'new story {new} "{titles.get(new) or ""}": {len(members)} report(s) ({whence})')
    return lines
