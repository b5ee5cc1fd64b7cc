"""`wirewatch classify`: the matcher over JSON Lines on stdin, no config or database needed."""

from __future__ import annotations

import json
import sys
from typing import Callable

from wirewatch.crawler.analysis.language import language_of
from wirewatch.crawler.analysis.matching import Matcher, load_watch


def classify(args, load_config: Callable | None) -> int:
    """The matcher over JSON Lines: one line out per line in, in order; a bad line gets an error
    line and the rest go on."""
    refs = args.watch
    if not refs and load_config is not None:
        refs = load_config(args)
    matcher = Matcher([load_watch(ref) for ref in refs or ["nk-russia-aid"]])
    out = sys.stdout
    stdin = getattr(sys.stdin, "buffer", None) or (line.encode("utf-8", "surrogateescape") for line in sys.stdin)
    for number, raw in enumerate(stdin, 1):
        try:
            doc = _document(raw)
        except ValueError as exc:
            print(f"wirewatch: line {number}: {exc}", file=sys.stderr)
            out.write(json.dumps({"id": None, "error": f"line {number}: {exc}"}) + "\n")
            continue
        try:
            title, text = doc.get("title") or "", doc.get("text") or ""
            language = language_of(title, text, doc.get("language"))
            results = matcher.match(title, text, language)
        except Exception as exc:           # noqa: BLE001 - one line's failure never loses the next
            out.write(json.dumps({"id": doc.get("id"), "error": f"line {number}: could not be matched "
                                  f"({type(exc).__name__})"}) + "\n")
            continue
        best = max(results, key=lambda r: (r.matched, r.score))
        body = {**best.as_json(doc.get("id"), args.explain), "language": language}
        try:
            line = json.dumps(body, ensure_ascii=False, allow_nan=False)
            line.encode("utf-8")
        except UnicodeEncodeError:         # a lone surrogate ("\udcff") in the id or the text: escaped
            line = json.dumps(body, ensure_ascii=True, allow_nan=False)
        out.write(line + "\n")
        out.flush()
    return 0


def _no_constants(name: str):
    raise ValueError(f"{name} is not valid JSON")


def _document(raw: bytes) -> dict:
    """One input line as {"id", "title", "text", "language"}; ValueError says what is wrong with it."""
    try:
        line = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"not UTF-8 (byte 0x{raw[exc.start]:02x} at column {exc.start + 1})") from None
    try:
        doc = json.loads(line, parse_constant=_no_constants)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except ValueError as exc:
        raise ValueError(f"not a JSON object with text: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("text", ""), str) \
            or not isinstance(doc.get("title") or "", str):
        raise ValueError("not a JSON object with text: expected an object with a string 'text'")
    if not isinstance(doc.get("id"), (str, int, float, type(None))) or isinstance(doc.get("id"), bool):
        raise ValueError("'id' must be a string, a number or null")
    if not isinstance(doc.get("language") or "", str) or len(doc.get("language") or "") > 20:
        raise ValueError("'language' must be a language code such as 'ko', or null")
    return doc
