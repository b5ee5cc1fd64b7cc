"""Scoring the matcher against labelled texts, field by field (CoNLL / ACE habits): relevance
(precision and recall of what alerts), direction + item, figures, status, with an error table by
kind, so the next rule to write is the one that fixes the most.

A labelled item is {"id", "title", "text", "matched": bool, "facts": [{"supplier", "recipient",
"item", "quantity", "status", ...}]}; the facts compared are those a result shows (a match, or a
denial kept with its denied facts). Pure: no database, no network."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable

from wirewatch.crawler.records import Fact, MatchResult


@dataclass
class Disagreement:
    kind: str            # extra fact | missed fact | reversed direction | wrong figure | missed figure | ...
    item_id: str
    detail: str


@dataclass
class Scores:
    items: int = 0
    alerts_right: int = 0           # items the watch alerts on that should alert
    alerts: int = 0
    should_alert: int = 0
    pairs: int = 0                  # direction + item shown
    gold_pairs: int = 0
    pairs_right: int = 0
    reversed: int = 0
    figures: int = 0                # facts shown with a number
    figures_right: int = 0
    gold_figures: int = 0
    figures_missed: int = 0
    statuses: int = 0               # facts paired with a gold fact
    statuses_right: int = 0
    disagreements: list[Disagreement] = field(default_factory=list)

    @staticmethod
    def _ratio(a: int, b: int) -> float:
        return a / b if b else 1.0

    @property
    def precision(self) -> float:
        return self._ratio(self.alerts_right, self.alerts)

    @property
    def recall(self) -> float:
        return self._ratio(self.alerts_right, self.should_alert)

    @property
    def pair_precision(self) -> float:
        return self._ratio(self.pairs_right, self.pairs)

    @property
    def pair_recall(self) -> float:
        return self._ratio(self.pairs_right, self.gold_pairs)

    @property
    def figure_accuracy(self) -> float:
        return self._ratio(self.figures_right, self.figures)

    @property
    def status_agreement(self) -> float:
        return self._ratio(self.statuses_right, self.statuses)

    def lines(self) -> list[str]:
        errors = Counter(d.kind for d in self.disagreements)
        return [f"items {self.items}: alerts precision {self.precision:.3f} recall {self.recall:.3f} "
                f"({self.alerts_right} right of {self.alerts} alerts, {self.should_alert} should alert)",
                f"direction + item: precision {self.pair_precision:.3f} recall {self.pair_recall:.3f} "
                f"({self.pairs_right} right of {self.pairs} shown, {self.gold_pairs} in the gold); "
                f"{self.reversed} reversed",
                f"figures: {self.figures_right} of {self.figures} shown are right ({self.figure_accuracy:.3f}); "
                f"{self.figures_missed} of {self.gold_figures} given by the text not shown",
                f"status agreement {self.status_agreement:.3f} ({self.statuses_right} of {self.statuses})",
                "errors by kind: " + (", ".join(f"{k} {n}" for k, n in errors.most_common()) or "none")]


def _pair(fact) -> tuple[str, str, str]:
    return (fact["supplier"], fact["recipient"], fact["item"]) if isinstance(fact, dict) \
        else (fact.supplier, fact.recipient, fact.item)


def _same_figure(a: float | None, b: float | None) -> bool:
    return a is not None and b is not None and abs(a - b) <= 0.005 * max(abs(a), abs(b), 1)


def shown_facts(result: MatchResult) -> tuple[Fact, ...]:
    """The facts a result puts in front of an analyst: those of a match, or the denied facts of a
    denial kept for the record."""
    return result.facts if result.stored else ()


def score(items: Iterable[dict], results: dict[str, MatchResult], alert_key: str = "matched") -> Scores:
    """`results`: item id → the watch's result on it."""
    s = Scores()
    for item in items:
        s.items += 1
        result = results[item["id"]]
        alerts = result.matched and result.alert
        should = bool(item.get(alert_key, item.get("matched")))
        s.alerts += alerts
        s.should_alert += should
        s.alerts_right += alerts and should
        if alerts != should:
            s.disagreements.append(Disagreement("false alert" if alerts else "missed alert", item["id"],
                                                (item.get("title") or item["text"])[:100]))
        _score_facts(s, item["id"], list(shown_facts(result)), item.get("facts") or [])
    return s


def _score_facts(s: Scores, item_id: str, shown: list[Fact], gold: list[dict]) -> None:
    gold_pairs = Counter(_pair(f) for f in gold)
    shown_pairs = Counter(_pair(f) for f in shown)
    right = gold_pairs & shown_pairs
    s.pairs += sum(shown_pairs.values())
    s.gold_pairs += sum(gold_pairs.values())
    s.pairs_right += sum(right.values())
    for pair, count in (shown_pairs - gold_pairs).items():
        flipped = (pair[1], pair[0], pair[2])
        if gold_pairs[flipped] > shown_pairs[flipped]:
            s.reversed += count
            s.disagreements.append(Disagreement("reversed direction", item_id, " → ".join(pair)))
        else:
            s.disagreements.append(Disagreement("extra fact", item_id, " → ".join(pair)))
    for pair in (gold_pairs - shown_pairs):
        s.disagreements.append(Disagreement("missed fact", item_id, " → ".join(pair)))
    # figures: a number shown is right only on a fact of the gold with that number
    unclaimed = [f for f in gold if f.get("quantity") is not None]
    s.gold_figures += len(unclaimed)
    for fact in shown:
        if fact.quantity is None:
            continue
        s.figures += 1
        match = next((g for g in unclaimed if _pair(g) == _pair(fact) and _same_figure(g["quantity"], fact.quantity)),
                     None)
        if match is not None:
            unclaimed.remove(match)
            s.figures_right += 1
        else:
            words = next((g.get("quantity_text") for g in gold if _pair(g) == _pair(fact)), None)
            s.disagreements.append(Disagreement("wrong figure", item_id, f"{' → '.join(_pair(fact))}: shown "
                                                f"{fact.quantity:,.0f}, the text gives {words or 'no number'}"))
    s.figures_missed += len(unclaimed)
    for g in unclaimed:
        s.disagreements.append(Disagreement("missed figure", item_id, f"{' → '.join(_pair(g))}: {g['quantity']:,}"))
    # status: each shown fact paired with a gold fact of its direction and item (same figure first)
    pool = list(gold)
    for fact in shown:
        candidates = [g for g in pool if _pair(g) == _pair(fact)]
        if not candidates:
            continue
        g = next((c for c in candidates if _same_figure(c.get("quantity"), fact.quantity)), candidates[0])
        pool.remove(g)
        s.statuses += 1
        if g["status"] == fact.status:
            s.statuses_right += 1
        else:
            s.disagreements.append(Disagreement("wrong status", item_id, f"{' → '.join(_pair(fact))}: shown "
                                                f"{fact.status}, gold {g['status']}"))
