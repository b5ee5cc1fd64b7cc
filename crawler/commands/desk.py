"""The analyst's desk on the command line: `matches`, `stories`, `show`, `rescan`."""

from __future__ import annotations

import json
import os
import re
import sys

from wirewatch.alerts.model import fact_line, payload_facts
from wirewatch.alerts.render import LANGUAGE_NAMES
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.dates import iso
from wirewatch.crawler.desk import queries
from wirewatch.crawler.desk.formats import Column, table_lines, write
from wirewatch.crawler.display import visible
from wirewatch.crawler.store.database import open_database


def _fate(body: dict) -> str:
    return "alerted" if body["alerted"] else f"held: {body['held_back'] or '?'}"


def _triage(b: dict) -> str:
    marks = ("★" if b.get("starred") else "") + ("" if b.get("read") else "•")
    verdict = b.get("verdict")
    return marks + (f" {verdict['label']}" if verdict else "")


MATCH_COLUMNS = [
    Column("id", lambda b: b["article_id"], 6, right=True),
    Column("published (UTC)", lambda b: _minute(b["article"]["published"] or b["time"]), 16),
    Column("found", lambda b: _minute(b["time"]), 16),
    Column("source", lambda b: b["article"]["source"], 14),
    Column("lang", lambda b: b["article"].get("language") or "", 4),
    Column("title", lambda b: b["article"]["title"]),
    Column("sev", lambda b: b["severity"], 6),
    Column("facts", lambda b: "; ".join(fact_line(f) for f in payload_facts(b))),
    Column("alert", _fate, 18),
    Column("triage", _triage, 14),
]
MATCH_CSV = [
    Column("article_id", lambda b: b["article_id"]), Column("published", lambda b: b["article"]["published"]),
    Column("found", lambda b: b["time"]),
    Column("source", lambda b: b["article"]["source"]), Column("language", lambda b: b["article"].get("language")),
    Column("title", lambda b: b["article"]["title"]),
    Column("url", lambda b: b["article"]["url"]), Column("watch", lambda b: b["watch"]),
    Column("score", lambda b: b["score"]), Column("severity", lambda b: b["severity"]),
    Column("facts", lambda b: "; ".join(fact_line(f) for f in payload_facts(b))),
    Column("alerted", lambda b: b["alerted"]), Column("held_back", lambda b: b["held_back"]),
    Column("story", lambda b: b["story"]["id"]), Column("read", lambda b: b["read"]),
    Column("starred", lambda b: b["starred"]),
    Column("verdict", lambda b: (b.get("verdict") or {}).get("label")),
    Column("verdict_by", lambda b: (b.get("verdict") or {}).get("by")),
]


def _minute(value: str | None) -> str:
    return (value or "")[:16].replace("T", " ")


def filters_of(args, default_since: float | None) -> queries.Filters:
    """The listing options: a table shows 50 rows a page by default, an export every row;
    `--limit 0` means every row in a table too."""
    limit = getattr(args, "limit", None)
    if limit is None:
        limit = 50 if getattr(args, "format", "table") == "table" else None
    limit = limit or None
    page = getattr(args, "page", None) or 1
    alerted = "alerted" if getattr(args, "alerted", False) else "held" if getattr(args, "held", False) else None
    return queries.Filters(watch=getattr(args, "watch", None), source=getattr(args, "source", None),
                           language=getattr(args, "language", None),
                           since=getattr(args, "since", None) if getattr(args, "since", None) is not None else default_since,
                           until=getattr(args, "until", None), story=getattr(args, "story", None),
                           search=getattr(args, "search", None), direction=getattr(args, "direction", None),
                           country=getattr(args, "country", None), item=getattr(args, "item", None),
                           status=getattr(args, "status", None), severity=getattr(args, "severity", None),
                           alerted=alerted, unread=getattr(args, "unread", False),
                           starred=getattr(args, "starred", False), limit=limit,
                           offset=(page - 1) * (limit or 0))


def page_note(page: queries.Page, noun: str, fmt: str, window: str | None = None) -> None:
    """Nothing is cut silently: a table says where it stands and which publication window it
    shows by default, an export that stops early says so."""
    scope = f" published in the last {window} (--since for older)" if window else ""
    if fmt == "table":
        if page.total and not page.complete:
            nxt = page.next_offset()
            more = f" · --page {nxt // page.limit + 1} for the next" if nxt is not None and page.limit else ""
            print(f"{page.describe(noun)}{scope}{more} · --limit 0 for all")
        elif page.total or window:
            print(f"{page.describe(noun)}{scope}")
    elif not page.complete:
        print(f"wirewatch: {page.describe(noun)} written (--limit/--page); "
              f"{page.total - len(page.rows)} left out", file=sys.stderr)


def _window(args, default: str) -> str | None:
    """The default publication window, when the listing applied it."""
    return default if getattr(args, "since", None) is None else None


def matches_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions() as session:
        page = queries.matches(session, filters_of(args, 7 * 86400))
    write(page.rows, MATCH_CSV if args.format == "csv" else MATCH_COLUMNS, args.format, sys.stdout)
    if not page.rows and args.format == "table":
        print("no matches" + _unknown(sessions, args))
    page_note(page, "matches", args.format, _window(args, "7d"))
    return 0


def _unknown(sessions, args) -> str:
    """A typo looks like 'no results': say when no stored match has that watch or source at all."""
    from sqlalchemy import select

    from wirewatch.crawler.store.schema import Article, MatchRow
    from wirewatch.crawler.store.schema import FactRow
    with sessions() as session:
        for name, column in (("watch", MatchRow.watch), ("source", Article.source)):
            value = getattr(args, name, None)
            if value and not session.scalars(select(column).where(column == value).limit(1)).first():
                known = sorted(set(session.scalars(select(column).distinct().limit(20))))
                return visible(f" (no stored match has {name} {value!r}; known: {', '.join(known) or 'none'})")
        parties = set(session.scalars(select(FactRow.supplier).distinct())) | \
            set(session.scalars(select(FactRow.recipient).distinct()))
        named = re.split(r"\s*(?:->|>|→)\s*", getattr(args, "direction", None) or "") + [getattr(args, "country", None) or ""]
        for value in filter(None, (v.strip() for v in named)):
            if queries.label_key(value) not in {queries.label_key(p) for p in parties}:
                return visible(f" (no stored fact names {value!r}; known: {', '.join(sorted(parties)) or 'none'})")
    return ""


STORY_COLUMNS = [Column("story", lambda v: v.id, 6, right=True),
                 Column("first published", lambda v: _minute(iso(v.first_published)), 16),
                 Column("latest", lambda v: _minute(iso(v.last_published)), 16),
                 Column("reports", lambda v: v.articles, 7, right=True),
                 Column("alerts", lambda v: v.alerts, 6, right=True),
                 Column("outlets", lambda v: f"{len(v.outlets)}: {', '.join(v.outlets)}"),
                 Column("title", lambda v: v.title)]


def stories_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions() as session:
        page = queries.stories(session, filters_of(args, 30 * 86400))
    views = page.rows
    if args.format == "json":
        write(views, [], "json", sys.stdout, as_json=lambda v: v.as_json())
    elif args.format == "csv":
        write(views, [Column("story", lambda v: v.id), Column("first_published", lambda v: iso(v.first_published)),
                      Column("latest_published", lambda v: iso(v.last_published)),
                      Column("first_found", lambda v: iso(v.first_seen)), Column("reports", lambda v: v.articles),
                      Column("alerts", lambda v: v.alerts), Column("outlets", lambda v: ", ".join(v.outlets)),
                      Column("title", lambda v: v.title), Column("facts", lambda v: "; ".join(v.lines)),
                      Column("note", lambda v: v.note)], "csv", sys.stdout)
    else:
        header, *lines = table_lines(views, STORY_COLUMNS)
        if views:
            print(header)
        for view, text in zip(views, lines):
            print(text)
            if view.note:
                print(visible(f"        note ({view.note_by}): {view.note}"))
            for step in view.growth:                 # what each report added, in order of publication
                added = ("first report: " if step["first"] else "new: " if step["added"] else "") + \
                    ("; ".join(step["added"]) or "nothing new")
                print(visible(f"        + #{step['article_id']} {step['source']}: {step['title'] or ''} → {added}"))
        if not views:
            print("no stories")
    page_note(page, "stories", args.format, _window(args, "30d"))
    return 0


ARTICLE_COLUMNS = [
    Column("id", lambda r: r["article_id"], 6, right=True),
    Column("published (UTC)", lambda r: _minute(r["published"] or r["found"]), 16),
    Column("found", lambda r: _minute(r["found"]), 16),
    Column("source", lambda r: r["source"], 14),
    Column("lang", lambda r: r.get("language") or "", 4),
    Column("title", lambda r: r["title"]),
    Column("matched", lambda r: ", ".join(f"{m['watch']} ({'alerted' if m['alerted'] else m['held_back']})"
                                          for m in r["matches"]) or "no"),
    Column("why not", lambda r: r.get("reason") or ""),
]
ARTICLE_CSV = [Column("article_id", lambda r: r["article_id"]), Column("published", lambda r: r["published"]),
               Column("found", lambda r: r["found"]), Column("source", lambda r: r["source"]),
               Column("language", lambda r: r.get("language")),
               Column("title", lambda r: r["title"]), Column("url", lambda r: r["url"]),
               Column("matched", lambda r: ", ".join(m["watch"] for m in r["matches"])),
               Column("reason", lambda r: r.get("reason")),
               Column("verdicts", lambda r: ", ".join(f"{v['watch']}: {v['label']}" for v in r["verdicts"]))]


def articles_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    matched = True if args.matched else False if args.unmatched else None
    with sessions() as session:
        page = queries.articles(session, filters_of(args, 7 * 86400), matched)
        queries.reasons(config, page.rows, session)
    write(page.rows, ARTICLE_CSV if args.format == "csv" else ARTICLE_COLUMNS, args.format, sys.stdout)
    if not page.rows and args.format == "table":
        print("no articles")
    page_note(page, "articles", args.format, _window(args, "7d"))
    return 0


_COLOURS = {"supplier": "\x1b[1;34m", "recipient": "\x1b[1;32m", "item": "\x1b[1;33m",
            "quantity": "\x1b[1;35m", "transfer": "\x1b[4m"}


def marked(text: str, spans: list[tuple[int, int, str]], colour: bool) -> str:
    """The text with each evidence span marked: coloured on a terminal, [role: text] otherwise."""
    out, at = [], 0
    for start, end, role in spans:
        out.append(visible(text[at:start], keep_newlines=True))
        piece = visible(text[start:end])
        out.append(f"{_COLOURS[role]}{piece}\x1b[0m" if colour else f"[{role}: {piece}]")
        at = end
    out.append(visible(text[at:], keep_newlines=True))
    return "".join(out)


def show_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions() as session:
        article = queries.find_article(session, args.ref)
        if article is None:
            print(f"wirewatch: no stored article {visible(args.ref)}", file=sys.stderr)
            return 1
        view = queries.article_view(session, article)
    if args.format == "json":
        json.dump({"article": {"id": article.id, "url": article.url, "title": article.title,
                               "source": article.source, "language": article.language,
                               "published": iso(article.published_at), "text": article.text},
                   "spans": [{"start": s, "end": e, "role": r} for s, e, r in view.spans],
                   "matches": view.matches, "deliveries": view.deliveries,
                   "story": view.story.as_json() if view.story else None},
                  sys.stdout, ensure_ascii=False, indent=2)
        print()
        return 0
    colour = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    if colour:
        print("evidence: " + " ".join(f"{_COLOURS[r]}{r}\x1b[0m" for r in _COLOURS))
    print(visible(f"#{article.id} {article.title or '(untitled)'}"))
    print(visible(f"{article.source} · {article.url} · published {iso(article.published_at) or 'unknown'}"))
    if article.language and article.language.split("-")[0] not in ("en", "und"):
        print(visible(f"language: {LANGUAGE_NAMES.get(article.language.split('-')[0], article.language)} "
                      f"({article.language}) · evidence marked in the original, facts in English"))
    print()
    print(marked(article.text, view.spans, colour) if article.text else "(text pruned by retention)")
    print()
    verdicts = {}
    with sessions() as session:
        verdicts = queries.latest_verdicts(session, [(article.id, None)])
    for body in view.matches:
        marks = ", ".join(m for m, on in (("read", body.get("read")), ("starred", body.get("starred"))) if on)
        print(visible(f"watch {body['watch']}: score {body['score']:.2f} ({body['severity']}), "
                      f"{'alerted' if body['alerted'] else 'held back: ' + str(body['held_back'])}"
                      f" · {marks or 'unread'}"))
        for number, fact in enumerate(payload_facts(body), 1):         # `verdict ID wrong-fact --fact N`
            print(visible(f"  fact {number}: {fact_line(fact)}"))
    for (_, watch), verdict in verdicts.items():
        what = f" (fact {verdict['fact']['item']}, {verdict['fact']['supplier']} → {verdict['fact']['recipient']})" \
            if verdict.get("fact") else ""
        print(visible(f"verdict {watch}: {verdict['label'].replace('_', '-')}{what} by {verdict['by']}, "
                      f"{(verdict['at'] or '')[:16].replace('T', ' ')}" + (f": {verdict['note']}" if verdict["note"] else "")))
    if view.story:
        print(visible(f"story #{view.story.id}: {view.story.title or ''} — {view.story.articles} article(s) from "
                      f"{len(view.story.outlets)} outlet(s): {', '.join(view.story.outlets)}"))
    for d in view.deliveries:
        print(visible(f"delivery {d['channel']}: {d['status']} after {d['attempts']} attempt(s)"
                      + (f" — {d['last_error']}" if d["last_error"] and d["status"] != "delivered" else "")))
    if not view.matches:
        with sessions() as session:
            row = {"article_id": article.id, "matches": []}
            queries.reasons(config, [row], session)
        print(visible(f"no match for this article: {row.get('reason') or 'no watch matched it'}"))
    return 0


def rescan_command(config: Config, args) -> int:
    from wirewatch.crawler.desk.rescan import rescan, restory
    sessions = open_database(config.storage, config.base_dir)
    report = rescan(config, sessions, args.since or 30 * 86400, args.watch, args.alert)
    for article_id, watch, title, held in report.gained:
        print(visible(f"+ #{article_id} {watch}: {title or ''}"
                      + (f" (held back: {held})" if held else " (alert queued)")))
    for article_id, watch, title in report.lost:
        print(visible(f"- #{article_id} {watch}: {title or ''}"))
    print(f"rescanned {report.articles} article(s) in {report.seconds:.1f}s: {len(report.gained)} gained, "
          f"{len(report.lost)} lost, {report.changed} changed")
    if args.restory:
        regrouped = restory(config, sessions, args.since or 30 * 86400, args.watch)
        for line in regrouped.changes:
            print(visible(line))
        print(f"regrouped {regrouped.matches} match(es) in {regrouped.seconds:.1f}s: {regrouped.before} "
              f"stories before, {regrouped.after} after, {len(regrouped.changes)} changed; nothing was sent")
    if args.alert and report.gained:
        from wirewatch.crawler.commands.operator import deliver_due
        deliver_due(config, sessions)
    return 0
