"""The alert payload: the webhook body of DESIGN.md's contract, rendered by every channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from wirewatch.crawler.dates import iso
from wirewatch.crawler.records import Fact


def new_alert_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def build_alert(article, match, facts: tuple[Fact, ...], story, news=()) -> dict[str, Any]:
    """Everything a channel needs to render the alert, frozen at match time. A follow-up in a
    story says what is new since its first report (`new_facts`) and names that first alert."""
    return {
        "id": None,                        # filled with the alert id by the outbox
        "type": "wirewatch.alert",
        "watch": match.watch,
        "score": round(match.score, 3),
        "article": {"url": article.url, "title": article.title, "published": iso(article.published_at),
                    "source": article.source, "language": getattr(article, "language", None)},
        "facts": [f.as_json() for f in facts],
        "new_facts": [{**n.fact.as_json(), "why": n.why} for n in news],
        "evidence": match.evidence,
        "story": {"id": story.id, "articles": story.articles, "title": story.title,
                  "first_alert_id": getattr(story, "first_alert_id", None), "alerts": getattr(story, "alerts", 0)},
    }


def operational_alert(source: str, event: str, message: str) -> dict[str, Any]:
    return {"id": None, "type": "wirewatch.operational", "source": source, "event": event,
            "message": message}


def test_alert() -> dict[str, Any]:
    return {"id": None, "type": "wirewatch.test",
            "message": "Test alert from wirewatch: this channel is configured correctly."}


@dataclass(frozen=True)
class Outcome:
    """What a channel's send returned: delivered, retry (after N s), or a permanent failure."""
    status: str                    # delivered | retry | dead
    reason: str = ""
    retry_after: float | None = None

    @classmethod
    def delivered(cls) -> "Outcome":
        return cls("delivered")

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> "Outcome":
        return cls("retry", reason, after)

    @classmethod
    def dead(cls, reason: str) -> "Outcome":
        return cls("dead", reason)


FACT_ITEM_LABELS = {"shells": "shells/ammunition", "rocket_launchers": "rocket launchers",
                    "air_defence": "air defence", "weapons": "weapons/military aid",
                    "labour": "workers for arms production"}


CASUALTY_WORDS = {"killed": "killed", "wounded": "wounded", "captured": "captured", "missing": "missing",
                  "total": "killed or wounded"}


def amount_words(fact: Fact) -> str:
    """The amount as the text gave it ('about 11,000', 'millions of', 'a third of'), with the figure
    beside words that spell one ('Twelve thousand (12,000)'); '' when the text gave none."""
    text = (fact.quantity_text or "").strip()
    if text[:1].isupper() and text[1:2].islower() and not any(ch.isdigit() for ch in text.split()[0]) \
            and len(text.split()) > 1:
        text = text[0].lower() + text[1:]        # "Around 300" began its sentence: "around 300" mid-line
    if fact.quantity is not None:
        if not text:
            return f"{'~' if fact.approx else ''}{fact.quantity:,}"
        if not any(ch.isdigit() for ch in text):
            return f"{text} ({fact.quantity:,})"
    return text


def fact_line(fact: Fact) -> str:
    """'North Korea → Russia: about 11,000 troops (deployed)', 'North Korea → Russia: millions of
    shells/ammunition (delivered)', 'North Korean troops in Russia's war: about 2,700 killed or wounded'."""
    amount = amount_words(fact)
    if fact.item == "casualties":
        words = CASUALTY_WORDS.get(fact.casualty or "total", fact.casualty or "casualties")
        counted = amount.removesuffix(" of").strip()
        return f"{demonym(fact.supplier)} troops in {fact.recipient}'s war: " + \
            (f"{counted} {words}" if counted else f"casualties ({words})")
    item = FACT_ITEM_LABELS.get(fact.item, fact.item)
    return f"{fact.supplier} → {fact.recipient}: {amount + ' ' if amount else ''}{item} ({fact.status})"


def demonym(label: str) -> str:
    """'North Korea' → 'North Korean', from the gazetteer."""
    from wirewatch.crawler.analysis.matching.gazetteer import demonym_of
    return demonym_of(label)


def payload_facts(payload: dict) -> list[Fact]:
    """The facts of a stored alert payload, as values again."""
    return [Fact.from_json(f) for f in payload.get("facts") or []]
