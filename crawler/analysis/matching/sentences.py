"""Sentence splitting for news prose: abbreviations (U.S., Mr., Jan.; г., тыс.) do not end a
sentence, and a line without end punctuation (a headline, a fact box entry) is a sentence of its
own. A sentence starts with a capital in Latin or Cyrillic script, a digit, or Hangul (Korean has
no capitals)."""

from __future__ import annotations

import re

_ABBREV = re.compile(r"(?:\b(?:Mr|Mrs|Ms|Dr|Gen|Lt|Col|Maj|Capt|Sgt|Adm|Rep|Sen|Gov|Pres|St|Jr|Sr|No|Jan|Feb|"
                     r"Mar|Apr|Jun|Jul|Aug|Sep|Sept|Oct|Nov|Dec|Vol|vs|approx|est|Inc|Corp|Ltd|Co)\.|"
                     r"\b(?:[A-Z]\.){1,4}|\bN\.|(?<!\w)(?:г|гг|им|ул|тыс|млн|млрд|руб|грн|см|т\.е|т\.д|т\.п|св|проф|ген|ст)\.)$")
_BOUNDARY = re.compile(r"[.!?]+[\"”’)\]»]*\s+(?=[\"“‘(\[«]?[A-Z0-9А-ЯЁІЇЄҐ\uac00-\ud7a3])")


def split_sentences(text: str) -> list[tuple[int, str]]:
    """(offset, sentence) pairs covering the text."""
    sentences = []
    for line in re.finditer(r"[^\n]+", text):
        start, chunk = line.start(), line.group()
        last = 0
        for m in _BOUNDARY.finditer(chunk):
            if _ABBREV.search(chunk[last:m.start() + 1]):
                continue
            piece = chunk[last:m.end()].strip()
            if piece:
                sentences.append((start + chunk.index(piece, last), piece))
            last = m.end()
        piece = chunk[last:].strip()
        if piece:
            sentences.append((start + chunk.index(piece, last), piece))
    return sentences
