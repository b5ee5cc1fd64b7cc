"""Fact accuracy on our own gold facts (tests/data/gold_facts.yaml, written before the rules).

    python bench/fact_accuracy.py                 # totals, then per shape
    python bench/fact_accuracy.py --errors        # ... and every disagreement, by kind

Prints, per the issue's fields: direction + item precision and recall, reversed directions,
figures right of figures shown, figures the text gives that are not shown, status agreement, and
the alert precision and recall of the same items. The iran shape is scored with the
iran-russia-aid watch, everything else with nk-russia-aid. Figures on our own corpus are a floor,
not the goal: the held-aside real reports are the measure."""

from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

import yaml

from wirewatch.crawler.analysis.evaluate import Scores, score
from wirewatch.crawler.analysis.matching import Matcher, load_watch

GOLD = Path(__file__).resolve().parents[1] / "tests" / "data" / "gold_facts.yaml"


def evaluate(items: list[dict]) -> tuple[Scores, dict[str, Scores]]:
    matcher = Matcher([load_watch("nk-russia-aid"), load_watch("iran-russia-aid")])
    results = {}
    for item in items:
        nk, iran = matcher.match(item.get("title") or "", item["text"])
        results[item["id"]] = iran if item["shape"] == "iran" else nk
    shapes: dict[str, list[dict]] = defaultdict(list)
    for item in items:
        shapes[item["shape"]].append(item)
    per_shape = {shape: score(group, results, "matched_iran" if shape == "iran" else "matched")
                 for shape, group in sorted(shapes.items())}
    everything = Scores()
    for part in per_shape.values():
        for name in vars(everything):
            if name != "disagreements":
                setattr(everything, name, getattr(everything, name) + getattr(part, name))
        everything.disagreements += part.disagreements
    return everything, per_shape


def main() -> None:
    items = yaml.safe_load(GOLD.read_text(encoding="utf-8"))
    total, per_shape = evaluate(items)
    facts = sum(len(i["facts"]) for i in items)
    print(f"gold: {len(items)} items, {facts} facts, {sum(1 for i in items for f in i['facts'] if f.get('quantity') is not None)} with a figure")
    for line in total.lines():
        print("  " + line)
    print(f"\n{'shape':22} {'items':>5} {'P(dir+item)':>11} {'R(dir+item)':>11} {'figures':>9} {'status':>7} {'alerts P/R':>11}")
    for shape, s in per_shape.items():
        print(f"{shape:22} {s.items:5d} {s.pair_precision:11.2f} {s.pair_recall:11.2f} "
              f"{s.figures_right:4d}/{s.figures:<4d} {s.status_agreement:7.2f} {s.precision:5.2f}/{s.recall:.2f}")
    if "--errors" in sys.argv:
        print()
        for d in sorted(total.disagreements, key=lambda d: (d.kind, d.item_id)):
            print(f"{d.kind:18} {d.item_id:6} {d.detail}")


if __name__ == "__main__":
    main()
