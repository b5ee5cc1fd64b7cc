"""/alerts.atom: the alerts that went out (one entry per alert, newest first), for any feed
reader or Slack's RSS app."""

from __future__ import annotations

import datetime as dt
import re

from feedgen.feed import FeedGenerator
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from wirewatch.alerts.model import fact_line, payload_facts
from wirewatch.crawler.store.schema import MatchRow, Outbox
from wirewatch.crawler.web.app import http_link

ENTRIES = 50
# what XML 1.0 cannot carry (C0 controls but tab/LF/CR, surrogates, U+FFFE/FFFF), and bidi
# overrides, which a feed reader would obey: stripped, so one crafted title cannot break the feed
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
                      "\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def xml_text(value: str) -> str:
    return _NOT_XML.sub("", value)


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
    related: dict[str, str] = {}          # entry id → its page on the desk
    for row in reversed(rows):            # feedgen lists the last added first
        body = row.payload or {}
        article = body.get("article") or {}
        entry = feed.add_entry()
        entry.id(f"urn:wirewatch:{row.alert_id}")
        entry.title(xml_text(f"[{body.get('watch', '')}] {article.get('title') or 'untitled report'}"))
        entry.updated(_utc(row.created_at))
        link = http_link(article.get("url"))
        if link:
            entry.link(href=xml_text(link), rel="alternate")
        if row.match_id in articles:
            related[entry.id()] = root.rstrip("/") + url_for("article_page", article_id=articles[row.match_id])
        facts = "; ".join(fact_line(f) for f in payload_facts(body)) or "no facts"
        entry.summary(xml_text(f"{article.get('source', '')}: {facts} (score {body.get('score', 0):.2f})"))
    return _with_rels(feed.atom_str(pretty=True), related)


def _with_rels(atom: bytes, related: dict[str, str]) -> bytes:
    """feedgen 1.0 writes entry links without their `rel`, so a reader takes each as an alternate
    and may open the desk's own address instead of the article: the article link is marked
    alternate, the desk page added as related."""
    from lxml import etree
    ns = "{http://www.w3.org/2005/Atom}"
    tree = etree.fromstring(atom)
    for entry in tree.iter(f"{ns}entry"):
        for link in entry.findall(f"{ns}link"):
            link.set("rel", "alternate")
        desk = related.get(entry.findtext(f"{ns}id"))
        if desk:
            etree.SubElement(entry, f"{ns}link", href=desk, rel="related")
    return etree.tostring(tree, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _utc(when: dt.datetime) -> dt.datetime:
    return when.replace(tzinfo=dt.timezone.utc) if when.tzinfo is None else when
