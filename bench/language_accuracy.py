"""The matcher in Korean, Russian and Ukrainian, on our own corpora (tests/data/lang/).

    python bench/language_accuracy.py            # per language and set: alerts, facts, figures, status
    python bench/language_accuracy.py --errors   # ... and every disagreement, by kind

Two sets per language: `<code>.yaml`, the one the language data was tuned on, and
`<code>_holdout.yaml`, written by a second writer who saw neither the data nor the tuning set. Figures
on our own corpora are a floor, not the goal: the held-aside real reports are the measure."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from wirewatch.crawler.analysis.evaluate import Scores, score
from wirewatch.crawler.analysis.matching import Matcher, load_watch

DATA = Path(__file__).resolve().parents[1] / "tests" / "data" / "lang"
LANGUAGES = ("ko", "ru", "uk")


def evaluate(matcher: Matcher, code: str, name: str) -> Scores:
    items = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    results = {i["id"]: matcher.match(i.get("title") or "", i.get("text") or "", code)[0] for i in items}
    return score(items, results)


def main() -> None:
    matcher = Matcher([load_watch("nk-russia-aid")])
    for code in LANGUAGES:
        for name in (code, f"{code}_holdout"):
            scores = evaluate(matcher, code, name)
            print(f"{name}:")
            for line in scores.lines():
                print("  " + line)
            if "--errors" in sys.argv:
                for d in sorted(scores.disagreements, key=lambda d: (d.kind, d.item_id)):
                    print(f"    {d.kind:18} {d.item_id:6} {d.detail}")


if __name__ == "__main__":
    main()
