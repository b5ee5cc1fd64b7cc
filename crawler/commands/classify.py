"""`wirewatch classify`: the matcher over JSON Lines on stdin, no config or database needed."""

from __future__ import annotations

import json
import sys
from typing import Callable

from wirewatch.crawler.analysis.matching import Matcher, load_watch


def classify(args, load_config: Callable | None) -> int:
    """The matcher over JSON Lines: one line out per line in, in order; a bad line gets an error
    line and the rest go on."""
    refs = args.watch
    if not refs and load_config is not None:
        refs = [w.include for w in load_config(args).watches]
    matcher = Matcher([load_watch(ref) for ref in refs or ["nk-russia-aid"]])
    out = sys.stdout
    for number, line in enumerate(sys.stdin, 1):
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict) or not isinstance(doc.get("text", ""), str):
                raise ValueError("expected an object with a string 'text'")
        except ValueError as exc:
            print(f"wirewatch: line {number}: not a JSON object with text: {exc}", file=sys.stderr)
            out.write(json.dumps({"id": None, "error": f"line {number}: {exc}"}) + "\n")
            continue
        results = matcher.match(doc.get("title") or "", doc.get("text") or "")
        best = max(results, key=lambda r: (r.matched, r.score))
        out.write(json.dumps(best.as_json(doc.get("id"), args.explain), ensure_ascii=False) + "\n")
        out.flush()
    return 0
