"""Triage and feedback on the command line: `mark`, `verdict`, `note`, `feedback export` and
`evaluate`. The web view writes the same rows (crawler.desk.queries)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from sqlalchemy import select

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.dates import iso
from wirewatch.crawler.desk import queries
from wirewatch.crawler.display import visible
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Article, MatchRow, Story, Verdict, utcnow


def _watch(config: Config, given: str | None) -> str:
    from wirewatch.crawler.analysis.matching import load_watch
    names = [load_watch(ref.include).name for ref in config.watches]
    if given:
        if given not in names:
            raise ConfigError(f"no watch named {given!r} in the config (have: {', '.join(names)})")
        return given
    if len(names) != 1:
        raise ConfigError(f"say which watch with --watch (the config has {', '.join(names)})")
    return names[0]


def _article(session, article_id: int) -> Article:
    article = session.get(Article, article_id)
    if article is None:
        raise ConfigError(f"no stored article #{article_id} (the id column of `wirewatch matches`)")
    return article


def mark_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions.begin() as session:
        article = _article(session, args.article)
        query = select(MatchRow).where(MatchRow.article_id == article.id)
        if args.watch:
            query = query.where(MatchRow.watch == args.watch)
        marked = list(session.scalars(query))
        if not marked:
            raise ConfigError(f"article #{article.id} has no match to mark")
        for match in marked:
            queries.mark(session, match.id, read=args.read, starred=args.starred)
        states = ", ".join(f"{m.watch}: {'read' if m.read else 'unread'}{', starred' if m.starred else ''}"
                           for m in marked)
    print(visible(f"#{article.id} {states}"))
    return 0


def verdict_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    label = args.label.replace("-", "_")
    with sessions.begin() as session:
        article = _article(session, args.article)
        try:
            verdict = queries.record_verdict(session, article, _watch(config, args.watch), label, args.by,
                                             args.fact, args.note)
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        session.flush()
        what = f" ({verdict.fact['item']}, {verdict.fact['supplier']} → {verdict.fact['recipient']})" \
            if verdict.fact else ""
    print(visible(f"#{article.id} {verdict.watch}: {shown(label)}{what} by {verdict.by}"))
    return 0


def note_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions.begin() as session:
        story = session.get(Story, args.story)
        if story is None:
            raise ConfigError(f"no story #{args.story} (see `wirewatch stories`)")
        queries.set_note(session, story, args.text, args.by)
        print(visible(f"story #{story.id}: " + (f"note by {story.note_by}" if story.note else "note cleared")))
    return 0


def export_command(config: Config, args) -> int:
    """Every verdict in range as JSON Lines in `classify`'s input format ({id, title, text}) with
    the analyst's label, newest verdict per article and watch (earlier ones are history)."""
    sessions = open_database(config.storage, config.base_dir)
    since = utcnow() - __import__("datetime").timedelta(seconds=args.since) if args.since else None
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    written = 0
    try:
        with sessions() as session:
            query = select(Verdict).order_by(Verdict.id)
            if since is not None:
                query = query.where(Verdict.created_at >= since)
            if args.watch:
                query = query.where(Verdict.watch == args.watch)
            latest: dict[tuple[int, str], Verdict] = {}
            for verdict in session.scalars(query):
                latest[(verdict.article_id, verdict.watch)] = verdict
            for (article_id, watch), verdict in sorted(latest.items()):
                article = session.get(Article, article_id)
                line = {"id": f"article-{article_id}", "title": article.title or "", "text": article.text or "",
                        "url": article.url, "source": article.source, "published": iso(article.published_at),
                        "watch": watch, "label": verdict.label, "fact": verdict.fact, "note": verdict.note,
                        "by": verdict.by, "at": iso(verdict.created_at)}
                out.write(json.dumps(line, ensure_ascii=False) + "\n")
                written += 1
    finally:
        if args.output:
            out.close()
    print(f"{written} verdict(s) exported" + (f" to {args.output}" if args.output else ""), file=sys.stderr)
    return 0


def shown(label: str) -> str:
    """A verdict as the command line spells it (wrong-fact), whatever it is stored as."""
    return label.replace("_", "-")


SHOULD_MATCH = {"relevant": True, "wrong_fact": True, "missed": True, "not_relevant": False}


def evaluate_command(config: Config | None, args) -> int:
    """The watches over a labelled file (what `feedback export` writes): precision and recall of
    matching, the wrong facts still given, and every disagreement."""
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    from wirewatch.crawler.commands.classify import _document
    refs = args.watch or ([ref.include for ref in config.watches] if config else ["nk-russia-aid"])
    matcher = Matcher([load_watch(ref) for ref in refs])
    names = {w.name for w in matcher.watches}
    tp = fp = fn = tn = 0
    wrong_kept = wrong_total = skipped = 0
    disagreements = []
    try:
        lines = Path(args.file).read_bytes().splitlines()
    except OSError as exc:
        raise ConfigError(f"cannot read {args.file}: {exc.strerror or exc}") from None
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        try:
            doc = _document(raw)
            label = doc["label"]
            expected = SHOULD_MATCH[label]
        except (ValueError, KeyError):
            print(f"wirewatch: {args.file}:{number}: not a labelled line (see `wirewatch feedback export`)",
                  file=sys.stderr)
            skipped += 1
            continue
        watch = doc.get("watch") if doc.get("watch") in names else None
        results = [r for r in matcher.match(doc.get("title") or "", doc.get("text") or "")
                   if watch is None or r.watch == watch]
        result = max(results, key=lambda r: (r.matched, r.score))
        got = result.matched
        tp += got and expected
        fp += got and not expected
        fn += expected and not got
        tn += not got and not expected
        why = ""
        if label == "wrong_fact" and doc.get("fact"):
            wrong_total += 1
            bad = doc["fact"]
            still = any(f.supplier == bad.get("supplier") and f.recipient == bad.get("recipient")
                        and f.item == bad.get("item") and f.quantity == bad.get("quantity") for f in result.facts)
            wrong_kept += still
            if still:
                why = f"still gives the wrong fact {bad.get('supplier')} → {bad.get('recipient')}: {bad.get('item')}"
        if got != expected or why:
            reason = why or (f"matched ({result.score:.2f})" if got else
                             f"no match: {(result.explanation or ('no transfer found',))[0]}")
            title = doc.get("title") or ""
            title = title if len(title) <= 70 else title[:69] + "…"
            disagreements.append(f"{doc.get('id')}: labelled {shown(label)}, {reason} — {title}")
    total = tp + fp + fn + tn
    precision = tp / (tp + fp) if tp + fp else 1.0
    recall = tp / (tp + fn) if tp + fn else 1.0
    print(f"{total} labelled article(s){f', {skipped} line(s) skipped' if skipped else ''}: "
          f"precision {precision:.3f} ({tp} of {tp + fp} matches right), recall {recall:.3f} "
          f"({tp} of {tp + fn} that should match)")
    if wrong_total:
        print(f"wrong facts still given: {wrong_kept} of {wrong_total}")
    for line in disagreements:
        print(visible(line))
    if not disagreements:
        print("no disagreements")
    return 0
