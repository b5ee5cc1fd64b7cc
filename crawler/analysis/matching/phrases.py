"""Find many phrases in one pass: an Aho-Corasick automaton over case- and space-folded text,
with word-boundary checks and leftmost-longest selection (so "artillery shells" beats "shells",
and "South Korea" beats "Korea")."""

from __future__ import annotations

import re
from typing import Any, Callable, Iterable

import ahocorasick

_FOLD = re.compile(r"\s")
_WORDCHAR = re.compile(r"\w")


def fold(text: str) -> str:
    """Lowercase, typographic apostrophes and every white-space character folded, length preserved."""
    lowered = text.lower()
    if len(lowered) != len(text):                     # e.g. 'İ': keep offsets aligned
        lowered = "".join(c.lower() if len(c.lower()) == 1 else c for c in text)
    return _FOLD.sub(" ", lowered.replace("’", "'"))


class PhraseIndex:
    def __init__(self, phrases: Iterable[tuple[str, Any]], hyphen_joins: bool = True):
        """hyphen_joins: a hyphen and a letter after a phrase continue the word ("artillery-heavy"
        is not artillery); names set it False ("North Korean-built" is North Korean)."""
        self.hyphen_joins = hyphen_joins
        self.automaton = ahocorasick.Automaton()
        for phrase, value in phrases:
            key = fold(" ".join(phrase.split()))
            entries = self.automaton.get(key) if key in self.automaton else []
            self.automaton.add_word(key, entries + [(len(key), value)])
        self.empty = len(self.automaton) == 0
        if not self.empty:
            self.automaton.make_automaton()

    def candidates(self, text: str, folded: str | None = None,
                   accept: Callable[[str, int, int, Any], bool] | None = None) -> list[tuple[int, int, Any]]:
        """Every bounded occurrence (start, end, value), overlapping ones included."""
        if self.empty:
            return []
        found = []
        for last, entries in self.automaton.iter(folded if folded is not None else fold(text)):
            for length, value in entries:
                start, end = last - length + 1, last + 1
                if start > 0 and (_WORDCHAR.match(text[start - 1]) or (
                        self.hyphen_joins and text[start - 1] == "-" and text[start - 2:start - 1].isalpha())):
                    continue                  # "anti-aircraft" is not aircraft
                if end < len(text) and (_WORDCHAR.match(text[end]) or (
                        self.hyphen_joins and text[end] == "-" and text[end + 1:end + 2].isalpha())):
                    continue
                if accept is None or accept(text, start, end, value):
                    found.append((start, end, value))
        return found

    def find(self, text: str, folded: str | None = None, accept=None) -> list[tuple[int, int, Any]]:
        return leftmost_longest(self.candidates(text, folded, accept))


def leftmost_longest(candidates: list[tuple[int, int, Any]]) -> list[tuple[int, int, Any]]:
    chosen, last_end = [], -1
    for start, end, value in sorted(candidates, key=lambda c: (c[0], c[0] - c[1])):
        if start >= last_end:
            chosen.append((start, end, value))
            last_end = end
    return chosen
