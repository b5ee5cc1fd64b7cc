"""Numbers as news prose writes them: "11,000", "1.5 million", "five thousand", "thousands of",
with the hedges that make them approximate ("around", "an estimated", "up to")."""

from __future__ import annotations

import re

_SMALL = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_TENS = {w: 10 * (i + 2) for i, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split())}
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000}
_VAGUE = {"dozens": 12, "hundreds": 100, "thousands": 1_000, "tens of thousands": 10_000,
          "hundreds of thousands": 100_000, "millions": 1_000_000, "a dozen": 12, "several thousand": 1_000,
          "several hundred": 100, "a few thousand": 1_000, "a few hundred": 100}
_WORD_NUMBER = "|".join(sorted(list(_SMALL) + list(_TENS), key=len, reverse=True))
_APPROX = (r"around|about|approximately|approx\.|roughly|some|nearly|almost|up\s+to|more\s+than|over|"
           r"at\s+least|an\s+estimated|estimated|as\s+many\s+as|close\s+to|upwards\s+of|reportedly|~")
_VAGUE_RE = "|".join(sorted((re.escape(v).replace("\\ ", r"\s+") for v in _VAGUE), key=len, reverse=True))
NUMBER = (rf"(?P<vague>{_VAGUE_RE})"
          rf"|(?P<digits>\d{{1,3}}(?:,\d{{3}})+|\d+(?:\.\d+)?)(?:\s*(?P<dscale>hundred|thousand|million|billion)|(?P<k>k)\b)?"
          rf"|(?P<words>(?:(?:{_WORD_NUMBER})[\s-]*)+(?:hundred|thousand|million|billion)?(?:[\s-]+(?:{_WORD_NUMBER}))*)"
          r"|(?P<a>an?)\s+(?P<ascale>hundred|thousand|million|billion)")
_QUANTITY_BEFORE = re.compile(
    rf"(?:(?P<approx>{_APPROX})\s+)?(?:{NUMBER})(?:\s*(?:-|to|and)\s*\d[\d,.]*(?:\s*(?:thousand|million))?)?"
    r"(?P<of>\s+of)?(?:\s+(?!(?:km|kilometres?|kilometers?|miles?|mm|per|percent|years?|days?|tons?|tonnes?|"
    r"times|months?|weeks?|hours?)\b)[\w’'-]+){0,4}\s*$", re.I)
CASUALTY = re.compile(
    rf"(?:(?P<approx>{_APPROX})\s+)?(?:{NUMBER})\s+(?:(?:[\w’'-]+\s+){{0,3}}?)(?:have\s+been\s+|had\s+been\s+|"
    r"were\s+|have\s+|had\s+|are\s+|been\s+)?(?P<what>(?:killed|wounded|injured|captured|dead)"
    r"(?:\s+or\s+(?:killed|wounded|injured|captured))?)\b", re.I)


def _words_value(text: str) -> float | None:
    total, current = 0, 0
    for word in re.split(r"[\s-]+", text.lower().strip()):
        if word in _SMALL:
            current += _SMALL[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        elif word:
            return None
    value = total + current
    return float(value) if value else None


def value_of(m: re.Match) -> tuple[float | None, bool]:
    """(value, approximate) of a match of NUMBER with an optional approx group."""
    approx = bool(m.groupdict().get("approx"))
    if m.group("vague"):
        return float(_VAGUE[" ".join(m.group("vague").lower().split())]), True
    if m.group("digits"):
        value = float(m.group("digits").replace(",", ""))
        scale = m.group("dscale")
        if scale:
            value *= _SCALES[scale.lower()]
        elif m.group("k"):
            value *= 1000
        return value, approx
    if m.group("ascale"):
        return float(_SCALES[m.group("ascale").lower()]), approx
    if m.group("words"):
        return _words_value(m.group("words")), approx
    return None, approx


def quantity_before(text: str) -> tuple[float | None, bool]:
    """The quantity that ends just before an item: 'around 200 long range' → (200, True)."""
    value, approx, _ = quantity_span(text)
    return value, approx


def quantity_span(text: str) -> tuple[float | None, bool, tuple[int, int] | None]:
    """quantity_before, with where the number stands in `text` (for the evidence)."""
    window = text[-90:]
    best = None
    for start in [m.start() for m in re.finditer(r"(?<![\w,.])\S", window)]:
        m = _QUANTITY_BEFORE.match(window, start)
        if m and m.end() == len(window):
            best = m
            break
    if best is None:
        return None, False, None
    value, approx = value_of(best)
    if value is not None and value.is_integer() and 1900 <= value <= 2100 and not best.group("approx"):
        return None, False, None             # a year, not a count
    shift = len(text) - len(window)
    ends = [best.end(g) for g in ("vague", "digits", "dscale", "k", "words", "ascale") if best.group(g)]
    return value, approx, (shift + best.start(), shift + max(ends)) if value is not None and ends else None
