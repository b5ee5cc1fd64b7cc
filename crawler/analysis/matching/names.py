"""The specific names that tell one event from another — places, units, weapon models and the
agencies that report them — in a canonical form, so "Kursk region", "Kursk oblast" and "Kursk"
are one place, and a language's data can map its own spelling to the same name.

Stories use them: two reports of one event name the same places and models; two reports from one
template ("North Korea sent N X to Russia for use near P") name different ones."""

from __future__ import annotations

import re

from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer, Mention
from wirewatch.crawler.analysis.matching.phrases import fold

_UNIT = re.compile(r"\b(?:\d+(?:st|nd|rd|th)\s+(?:[A-Z][\w-]+\s+){0,3}(?:Corps|Brigade|Division|Regiment|Battalion|"
                   r"Army|Fleet|Detachment)|[A-Z][a-z]+\s+Corps)\b")
_MODEL = re.compile(r"\b(?:[A-Z]{1,4}-\d{1,4}[A-Za-z]{0,3}(?:-\d+)?|M\d{4}|Koksan|Pantsir(?:-S1)?|Bulsae(?:-\d)?|"
                    r"Hwasong-\d+[A-Za-z]*|Shahed(?:-\d+)?|Geran(?:-\d)?|Iskander(?:-M)?|Grad)\b")
_CONFIRMS = re.compile(r"\b(?:confirm(?:s|ed|ing)?|acknowledg(?:es|ed|ing|e)|admit(?:s|ted|ting)?|admission|"
                       r"confirmation|for\s+the\s+first\s+time\s+(?:said|says))\b", re.I)
# "the first time the Russian military has publicly referred to North Korean troops": a first mention
_FIRST_MENTION = re.compile(r"\b(?:publicly\s+)?(?:referred\s+to|mentioned|spoke\s+(?:of|about)|praised)\b", re.I)
# "declined to confirm", "neither confirms nor denies", "would not confirm": no confirmation
_NOT_CONFIRMED = re.compile(r"\b(?:not|never|neither|nor|declin\w*\s+to|refus\w*\s+to|won['’]t|wouldn['’]t|"
                            r"didn['’]t|doesn['’]t|no)\s+(?:\w+\s+)?$", re.I)
_FIRST_TIME = re.compile(r"\bfirst\s+time\b", re.I)
_PLACE_SUFFIX = re.compile(r"(?:['’]s)?(?:\s+(?:region|oblast|province|krai|district|area|border\s+area))?$", re.I)


def canonical_place(text: str) -> str:
    return _PLACE_SUFFIX.sub("", fold(text).strip()).strip()


def canonical_model(text: str) -> str:
    return re.sub(r"[\s‑-]+", "-", text.strip().upper()).removesuffix("S") if re.search(r"\d", text) \
        else text.strip().lower()


def specific_names(sentences: list[str], mentions: list[list[Mention]], gazetteer: Gazetteer,
                   parties: frozenset[str] = frozenset()) -> tuple[str, ...]:
    """'place:russia:kursk', 'model:KN-23', 'unit:11th corps', 'agency:nis' named in these
    sentences, and 'confirmed:north_korea' where a party itself confirms or admits it."""
    found: set[str] = set()
    for sentence, named in zip(sentences, mentions):
        for m in named:
            if m.kind == "location" and fold(m.text).strip() not in gazetteer.broad:     # not a capital: "Seoul says"
                found.add(f"place:{m.entity}:" + gazetteer.canonical(m.text, canonical_place))
            elif m.kind == "institution":
                found.add("agency:" + gazetteer.canonical(m.text, lambda t: fold(t).strip()))
        verbs = list(_CONFIRMS.finditer(sentence))
        if _FIRST_TIME.search(sentence):
            verbs += _FIRST_MENTION.finditer(sentence)
        for verb in verbs:                          # "North Korea confirms its troops fought": the party itself
            speaker = next((m for m in reversed(named) if m.end <= verb.start()), None)
            if speaker is not None and speaker.entity in parties and verb.start() - speaker.end <= 60 \
                    and speaker.kind in ("name", "institution", "leader", "capital") \
                    and not re.search(r"[,;]|\bthat\b|\bsays?\b|\bsaid\b", sentence[speaker.end:verb.start()]) \
                    and not _NOT_CONFIRMED.search(sentence[max(0, verb.start() - 30):verb.start()]):
                found.add(f"confirmed:{speaker.entity}")
        found.update("unit:" + fold(u.group()).strip() for u in _UNIT.finditer(sentence))
        found.update("model:" + canonical_model(m.group()) for m in _MODEL.finditer(sentence))
    return tuple(sorted(found))
