"""Casualties are their own facts, never a deployment figure: "about 1,000 North Korean soldiers
have been killed", "captured two North Korean soldiers", "losses at 3,800 killed or wounded",
"4,700 casualties, including 1,000 deaths". Each reading says what it counts (killed, wounded,
captured, missing, or a total of casualties) and which words it read, so the troops those words
name are not also reported as sent."""

from __future__ import annotations

import re
from dataclasses import dataclass

from wirewatch.crawler.analysis.matching.amounts import Amount, amount_before, amounts_in

# the words, and which casualties they count
_KINDS = (("killed or wounded", "total"), ("killed and wounded", "total"), ("dead or wounded", "total"),
          ("dead and wounded", "total"), ("killed or injured", "total"), ("killed and injured", "total"),
          ("wounded or killed", "total"), ("killed or captured", "total"), ("casualties", "total"),
          ("casualty", "total"), ("losses", "total"), ("killed", "killed"), ("dead", "killed"),
          ("deaths", "killed"), ("died", "killed"), ("fatalities", "killed"), ("death toll", "killed"),
          ("lost their lives", "killed"), ("perished", "killed"), ("wounded", "wounded"),
          ("injured", "wounded"), ("captured", "captured"), ("taken prisoner", "captured"),
          ("taken captive", "captured"), ("prisoners of war", "captured"), ("prisoners", "captured"),
          ("pows", "captured"), ("pow", "captured"), ("in captivity", "captured"), ("missing", "missing"),
          ("captures", "captured"), ("capture", "captured"), ("capturing", "captured"), ("kills", "killed"),
          ("killing", "killed"), ("wounding", "wounded"))
_KIND = dict(_KINDS)
_WORDS = "|".join(re.escape(w).replace(r"\ ", r"\s+") for w, _ in _KINDS)
_CUE = re.compile(rf"(?<![\w-])(?:{_WORDS})(?![\w-])", re.I)
# "have been killed", "were captured": a participle whose subject came before it
_BE = re.compile(r"(?:(?:have|has|had)\s+(?:now\s+|since\s+|already\s+|reportedly\s+)?(?:been|become)|were|was|"
                 r"are|is|went|got|being|became|become)\s+(?:\w+ly\s+)?$", re.I)
# "captured two North Korean soldiers", "killed 200 North Korean soldiers": the verb acts on them
_ACTIVE = re.compile(r"\b(?:killed|captured|wounded|injured|took|taken|taking|capture|captures|kill|kills|"
                     r"wound|wounds|capturing|killing|wounding|detained|seized)\s+(?:prisoner\s+)?$", re.I)
# "casualties ... at 4,700": the amount after the count's noun
_AT = re.compile(r"^[^.;]{0,80}?\b(?:at|to|of|reached|passed|topped|exceeded|surpassed|numbered|totalled|"
                 r"totaled|number|stood\s+at|stand\s+at|stands\s+at)\s+$", re.I)
_SHARE_OF = re.compile(r"(?P<share>(?:(?:nearly|about|around|almost|some|roughly|over|more\s+than|up\s+to)\s+)?"
                       r"(?:\d+(?:\.\d+)?\s*(?:%|percent|per\s+cent)|half|a\s+third|two-thirds|a\s+quarter|most|"
                       r"the\s+majority)\s+of)\s+(?:the\s+|its\s+|their\s+)?(?:estimated\s+)?$", re.I)
PEOPLE = re.compile(r"\b(?:soldiers?|troops|servicemen|fighters|infantrymen|men|personnel|conscripts|"
                    r"gunners|scouts|of\s+them|them|those|others|another|more)\b", re.I)
NOT_THEM = re.compile(r"\b(?:civilians?|people|residents?|children|passengers|workers|Ukrainians?|Ukrainian|"
                      r"Russians?|Russian|police|rescuers|firefighters|patients)\b", re.I)


@dataclass(frozen=True)
class Casualties:
    amount: Amount
    kind: str                      # killed | wounded | captured | missing | total
    start: int                     # the words read, amount to cue: troops inside them are casualties
    end: int


def read_casualties(sentence: str) -> list[Casualties]:
    """Every casualty figure in a sentence, left to right, each amount once."""
    found: list[Casualties] = []
    used: set[tuple[int, int]] = set()
    for cue in _CUE.finditer(sentence):
        kind = _KIND[" ".join(cue.group().lower().split())]
        for reading in (_before_cue(sentence, cue), _after_verb(sentence, cue), _after_noun(sentence, cue)):
            if reading is None or (reading.start, reading.end) in used:
                continue
            amount, start, end = reading
            span = sentence[min(start, amount.start):max(end, amount.end)]
            if NOT_THEM.search(span):
                continue
            used.add((amount.start, amount.end))
            found.append(Casualties(amount, kind, min(start, amount.start), max(end, amount.end)))
            break
    return sorted(found, key=lambda c: c.start)


class _Reading(tuple):
    @property
    def start(self) -> int:
        return self[0].start

    @property
    def end(self) -> int:
        return self[0].end


def _before_cue(sentence: str, cue: re.Match) -> _Reading | None:
    """'1,000 North Korean soldiers have been killed', 'about 3,000 killed or wounded', '2 POWs'."""
    head = cue.start()
    be = _BE.search(sentence[:head])
    if be is not None:
        head = be.start()
    amount = None
    # the subject ends at the verb, or before a place or a participle said after it ("... troops in
    # Kursk have been", "... soldiers sent to Russia have been")
    lo = max(0, head - 60)
    for end in [head] + [lo + m.start() for m in re.finditer(
            r"\b(?:in|near|on|at|inside|sent|deployed|dispatched|stationed|based|fighting|who|that)\b",
            sentence[lo:head]) if be is not None][::-1]:
        amount = amount_before(sentence, end)
        if amount is not None:
            break
    if amount is None:
        return None
    share = _SHARE_OF.search(sentence[:amount.start])
    if share is not None:                      # "nearly 40% of the 11,000 soldiers ... have been killed"
        amount = Amount(None, share.group("share").strip(), share.start("share"), share.end("share"),
                        share=True)
    between = sentence[amount.end:cue.start()]
    if len(re.findall(r"\w+", between)) > 8 or re.search(r"[;:]|\b(?:and|but|while|after|since)\b", between):
        if not _BE.search(sentence[:cue.start()]) or re.search(r"[;:]", between):
            return None
    if between.strip() and not PEOPLE.search(between) and not re.search(r"\bNorth\s+Korean?\b|\bKPA\b", between):
        if not re.fullmatch(r"\s*(?:(?:have|has|had)\s+)?(?:been\s+|become\s+|became\s+)?(?:were\s+)?", between, re.I):
            return None
    return _Reading((amount, amount.start, cue.end()))


def _after_verb(sentence: str, cue: re.Match) -> _Reading | None:
    """'Ukrainian forces captured two North Korean soldiers', 'killed 200 North Korean soldiers'."""
    if not _ACTIVE.search(sentence[:cue.end()] + " "):
        return None
    tail = sentence[cue.end():cue.end() + 120]
    person = PEOPLE.search(tail)
    if person is None or person.group().lower() in ("another", "more", "others"):
        found = amounts_in(tail[:40])
        if found and found[0].start < 3 and (person is not None):     # "wounded another 100"
            amount = found[0]
            return _Reading((_shift(amount, cue.end()), cue.start(), cue.end() + amount.end))
        return None
    amount = amount_before(sentence, cue.end() + person.start())
    if amount is None or amount.start < cue.end():
        return None
    return _Reading((amount, cue.start(), cue.end() + person.end()))


def _after_noun(sentence: str, cue: re.Match) -> _Reading | None:
    """'North Korean casualties are estimated at 4,700', 'put its losses at 3,800'."""
    if cue.group().lower() not in ("casualties", "losses", "deaths", "death toll", "dead", "fatalities"):
        return None
    tail = sentence[cue.end():cue.end() + 120]
    for amount in amounts_in(tail):
        if _AT.match(tail[:amount.start]):
            return _Reading((_shift(amount, cue.end()), cue.start(), cue.end() + amount.end))
        break
    return None


def _shift(amount: Amount, by: int) -> Amount:
    return Amount(amount.value, amount.text, amount.start + by, amount.end + by, amount.approx, amount.low,
                  amount.high, amount.share)
