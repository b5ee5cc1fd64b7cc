"""/alerts.atom: the alerts that went out (one entry per alert, newest first), for any feed
reader or Slack's RSS app."""

from __future__ import annotations

import datetime as dt

from feedgen.feed import FeedGenerator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wirewatch.alerts.model import fact_line, payload_facts
from wirewatch.crawler.store.schema import MatchRow, Outbox
from wirewatch.crawler.web.app import http_link

ENTRIES = 50


def alerts_atom(session: Session, root: str, url_for) -> bytes:
    first = (select(func.min(Outbox.id)).where(Outbox.kind == "alert").group_by(Outbox.alert_id)
             .order_by(func.min(Outbox.id).desc()).limit(ENTRIES))
    rows = list(session.scalars(select(Outbox).where(Outbox.id.in_(first)).order_by(Outbox.id.desc())))
    articles = dict(session.execute(select(MatchRow.id, MatchRow.article_id).where(
        MatchRow.id.in_([r.match_id for r in rows if r.match_id is not None]))).all())
    feed = FeedGenerator()
    feed.id(root.rstrip("/") + "/alerts.atom")
    feed.title("wirewatch alerts")
    feed.subtitle("Reports of military aid transfers flagged by wirewatch")
    feed.link(href=root.rstrip("/") + "/alerts.atom", rel="self")
    feed.link(href=root, rel="alternate")
    feed.updated(_utc(rows[0].created_at) if rows else dt.datetime.now(dt.timezone.utc))
    for row in reversed(rows):            # feedgen lists the last added first
        body = row.payload or {}
        article = body.get("article") or {}
        entry = feed.add_entry()
        entry.id(f"urn:wirewatch:{row.alert_id}")
        entry.title(f"[{body.get('watch', '')}] {article.get('title') or 'untitled report'}")
        entry.updated(_utc(row.created_at))
        link = http_link(article.get("url"))
        if link:
            entry.link(href=link, rel="alternate")
        if row.match_id in articles:
            entry.link(href=root.rstrip("/") + url_for("article_page", article_id=articles[row.match_id]),
                       rel="related")
        facts = "; ".join(fact_line(f) for f in payload_facts(body)) or "no facts"
        entry.summary(f"{article.get('source', '')}: {facts} (score {body.get('score', 0):.2f})")
    return feed.atom_str(pretty=True)


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when
