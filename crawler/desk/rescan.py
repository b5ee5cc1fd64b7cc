"""`wirewatch rescan`: the current watches over stored articles again, after a watch, gazetteer
or lexicon change. Matching only: the stored text is read, nothing is downloaded or extracted.

Per article and watch the new verdict replaces the stored one: a match gained is stored (with its
story), a match lost is removed (its alert rows stay, unlinked), a match kept is updated in place.
Gained matches alert only when asked, and then `alerts.max_age` and story novelty still hold."""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from wirewatch.alerts.routing import Routes
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.records import AlertPolicy, MatchResult
from wirewatch.crawler.store.ingest import store_match
from wirewatch.crawler.store.schema import Article, FactRow, MatchRow, Outbox, utcnow

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
    policy = AlertPolicy(frozenset(), config.alerts.max_age)
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
                for result in matcher.match(article.title or "", text):
                    _apply(session, article, result, stored.get((article.id, result.watch)), policy, channels,
                           now, report, alert)
    report.seconds = time.monotonic() - started
    return report


def _apply(session: Session, article: Article, result: MatchResult, before: MatchRow | None,
           policy: AlertPolicy, channels: Routes, now: dt.datetime, report: RescanReport,
           alert: bool) -> None:
    if result.stored and before is None:
        reason = store_match(session, article, result, channels, policy, now,
                             hold=None if alert else "rescan")
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
