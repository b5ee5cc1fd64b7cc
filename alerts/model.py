"""The alert payload: the webhook body of DESIGN.md's contract, rendered by every channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from wirewatch.crawler.dates import iso
from wirewatch.crawler.records import Fact


def new_alert_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def build_alert(article, match, facts: tuple[Fact, ...], story) -> dict[str, Any]:
    """Everything a channel needs to render the alert, frozen at match time."""
    return {
        "id": None,                        # filled with the alert id by the outbox
        "type": "wirewatch.alert",
        "watch": match.watch,
        "score": round(match.score, 3),
        "article": {"url": article.url, "title": article.title, "published": iso(article.published_at),
                    "source": article.source},
        "facts": [f.as_json(detail=False) for f in facts],
        "evidence": match.evidence,
        "story": {"id": story.id, "articles": story.articles},
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


def fact_line(fact: Fact) -> str:
    """'North Korea → Russia: troops, ~11,000 (deployed)'."""
    quantity = fact.quantity
    amount = ""
    if quantity is not None:
        amount = f", {'~' if fact.approx else ''}{int(quantity):,}" if float(quantity).is_integer() \
            else f", {quantity:g}"
    item = FACT_ITEM_LABELS.get(fact.item, fact.item)
    if fact.detail:
        item = f"{item} ({fact.detail})"
    return f"{fact.supplier} → {fact.recipient}: {item}{amount} ({fact.status})"


def payload_facts(payload: dict) -> list[Fact]:
    """The facts of a stored alert payload, as values again."""
    return [Fact.from_json(f) for f in payload.get("facts") or []]
