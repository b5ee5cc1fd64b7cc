"""How an alert reads: one headline, source and time, watch and score, facts, evidence."""

from __future__ import annotations

import html
import re

from wirewatch.alerts.model import fact_line, payload_facts
from wirewatch.crawler.records import Fact

_CONTROL = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def one_line(text: str | None, limit: int = 200) -> str:
    """Header-safe: CR, LF and every other control character become a space."""
    cleaned = _CONTROL.sub(" ", text or "").strip()
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


LANGUAGE_NAMES = {"en": "English", "ko": "Korean", "ru": "Russian", "uk": "Ukrainian", "de": "German",
                  "fr": "French", "ja": "Japanese", "zh": "Chinese", "es": "Spanish", "pl": "Polish"}


def language_code(payload: dict) -> str | None:
    """The article's language when it is not English ('ko'), else None."""
    code = ((payload.get("article") or {}).get("language") or "").split("-")[0].lower()
    return code if code and code not in ("en", "und") else None


def language_line(payload: dict) -> str | None:
    """'Language: Korean (ko). Headline and evidence as published; facts in English.'"""
    code = language_code(payload)
    if code is None:
        return None
    return f"Language: {LANGUAGE_NAMES.get(code, code)} ({code}). Headline and evidence as published; facts in English."


def headline(payload: dict) -> str:
    """The article's own headline, in its own language, tagged with that language when not English."""
    kind = payload.get("type")
    if kind == "wirewatch.operational":
        return one_line(f"[wirewatch operational] {payload['source']}: {payload['event']}")
    if kind == "wirewatch.test":
        return "[wirewatch] test alert"
    title = payload["article"]["title"] or payload["article"]["url"]
    code = language_code(payload)
    return one_line(f"[{code.upper()}] {title}" if code else title)


def follow_up(payload: dict) -> str | None:
    """The first headline of the story this alert follows up, or None for a story's first alert."""
    story = payload.get("story") or {}
    first = story.get("first_alert_id")
    if payload.get("type") != "wirewatch.alert" or not first or first == payload.get("id"):
        return None
    return story.get("title") or f"story #{story.get('id')}"


def news_lines(payload: dict) -> list[str]:
    """'3,000 more troops (planned) — figure changed': what the follow-up adds, nothing else."""
    return [f"{fact_line(Fact.from_json(n))} — {n.get('why', 'new')}" for n in payload.get("new_facts") or []]


def evidence_sentence(payload: dict) -> str | None:
    evidence = payload.get("evidence") or []
    return evidence[0].get("sentence") if evidence else None


def text_body(payload: dict) -> str:
    kind = payload.get("type")
    if kind != "wirewatch.alert":
        return f"{headline(payload)}\n\n{payload.get('message', '')}\n"
    article = payload["article"]
    lines = [headline(payload), article["url"], "",
             f"Source: {article['source']}    Published: {article.get('published') or 'unknown'}",
             f"Watch: {payload['watch']}    Score: {payload['score']:.2f}"]
    if language_line(payload):
        lines.append(language_line(payload))
    update = follow_up(payload)
    if update:
        lines += ["", f"Update to: {update}", "New since the first report:"] + \
            [f"  - {line}" for line in news_lines(payload)]
    if payload.get("facts"):
        lines += ["", "Facts:"] + [f"  - {fact_line(f)}" for f in payload_facts(payload)]
    sentence = evidence_sentence(payload)
    if sentence:
        lines += ["", "Evidence:", f'  "{sentence}"']
    story = payload.get("story") or {}
    if story.get("articles", 1) > 1:
        lines += ["", f"Story #{story['id']}: {story['articles']} articles so far"]
    lines += ["", f"Alert id: {payload['id']}"]
    return "\n".join(lines) + "\n"


def html_body(payload: dict) -> str:
    e = html.escape
    if payload.get("type") != "wirewatch.alert":
        return f"<p><b>{e(headline(payload))}</b></p><p>{e(payload.get('message', ''))}</p>"
    article = payload["article"]
    parts = [f'<h2><a href="{e(article["url"], quote=True)}">{e(headline(payload))}</a></h2>',
             f"<p>Source: <b>{e(article['source'])}</b> &middot; Published: "
             f"{e(article.get('published') or 'unknown')}<br>"
             f"Watch: <b>{e(payload['watch'])}</b> &middot; Score: {payload['score']:.2f}</p>"]
    if language_line(payload):
        parts.append(f"<p>{e(language_line(payload))}</p>")
    update = follow_up(payload)
    if update:
        parts.append(f"<p><b>Update to:</b> {e(update)}</p><p>New since the first report:</p><ul>"
                     + "".join(f"<li>{e(line)}</li>" for line in news_lines(payload)) + "</ul>")
    if payload.get("facts"):
        parts.append("<ul>" + "".join(f"<li>{e(fact_line(f))}</li>" for f in payload_facts(payload)) + "</ul>")
    sentence = evidence_sentence(payload)
    if sentence:
        lang = language_code(payload)
        parts.append(f'<blockquote lang="{e(lang, quote=True)}">{e(sentence)}</blockquote>' if lang
                     else f"<blockquote>{e(sentence)}</blockquote>")
    parts.append(f'<p style="color:#888">Alert id: {e(payload["id"])}</p>')
    return "<html><body>" + "".join(parts) + "</body></html>"
