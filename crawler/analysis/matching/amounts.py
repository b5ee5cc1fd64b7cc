"""Amounts as news prose writes them: a dimension of their own (after Duckling), read right to
left from the noun they count.

    "about 11,000" → 11000, approx          "1.5 million" → 1500000        "twelve thousand" → 12000
    "thousands of" → words, [2000, 9999]    "millions of" → words, [2000000, —]
    "a third of" / "40% of" → a share        "10,000 to 11,000" → words, [10000, 11000]
    "20,000 containers of" → words (the containers are counted, not the shells)

A number is a figure only where the text gives one. Model numbers and calibres (MiG-29, KN-23,
S-400, 240mm), times (06:14), ordinals (11th), years (2024), money ($20 billion) and dates are
never amounts: the tokenizer keeps them whole, and the grammar refuses them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_WORD_VALUES = {w: i for i, w in enumerate(
    "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen "
    "sixteen seventeen eighteen nineteen".split())}
_WORD_VALUES.update({w: 10 * (i + 2) for i, w in enumerate(
    "twenty thirty forty fifty sixty seventy eighty ninety".split())})
_SCALES = {"hundred": 100, "thousand": 1_000, "million": 1_000_000, "billion": 1_000_000_000,
           "mln": 1_000_000, "bn": 1_000_000_000, "k": 1_000}
# vague amounts: the words, and the range a reader takes from them
_VAGUE = {
    ("dozens",): (24, 99), ("scores",): (40, 99), ("hundreds",): (200, 999), ("thousands",): (2000, 9999),
    ("tens", "of", "thousands"): (20000, 99999), ("hundreds", "of", "thousands"): (200000, 999999),
    ("millions",): (2_000_000, None), ("tens", "of", "millions"): (20_000_000, None),
    ("several",): (3, 9), ("a", "few"): (2, 9), ("a", "handful"): (2, 9), ("several", "dozen"): (24, 99),
    ("a", "few", "dozen"): (24, 99), ("several", "hundred"): (200, 999), ("a", "few", "hundred"): (200, 999),
    ("several", "thousand"): (2000, 9999), ("a", "few", "thousand"): (2000, 9999),
    ("several", "hundred", "thousand"): (200000, 999999), ("a", "few", "hundred", "thousand"): (200000, 999999),
    ("several", "million"): (2_000_000, 9_999_999), ("a", "few", "million"): (2_000_000, 9_999_999),
    ("many",): (None, None), ("numerous",): (None, None), ("countless",): (None, None),
    ("large", "quantities"): (None, None), ("large", "numbers"): (None, None), ("a", "large", "number"): (None, None),
    ("vast", "quantities"): (None, None), ("huge", "quantities"): (None, None),
    ("large", "amounts"): (None, None), ("a", "number"): (None, None),
}
_SHARES = {("half",), ("a", "half"), ("a", "third"), ("two", "thirds"), ("two-thirds",), ("a", "quarter"),
           ("three", "quarters"), ("three-quarters",), ("one", "third"), ("one-third",), ("most",), ("all",),
           ("the", "majority"), ("a", "majority"), ("the", "bulk"), ("a", "fraction"), ("a", "portion"),
           ("nearly", "all"), ("almost", "all"), ("the", "rest"), ("some",), ("part",), ("much",)}
_HEDGES = [h.split() for h in (
    "about", "around", "approximately", "approx.", "roughly", "some", "nearly", "almost", "up to",
    "more than", "over", "at least", "an estimated", "estimated", "as many as", "close to", "upwards of",
    "fewer than", "less than", "under", "just over", "just under", "well over", "at most", "no fewer than",
    "no more than", "in excess of", "reportedly", "another", "an additional", "a further", "an extra",
    "a total of", "a further estimated", "at least another", "some other", "the first", "the last",
    "only", "just", "barely", "~")]
_EXACT_HEDGES = {"another", "an additional", "a further", "an extra", "a total of", "the first", "the last",
                 "only", "just"}
UNITS = {"containers", "container", "shipments", "shipment", "trainloads", "truckloads", "wagons", "wagonloads",
         "railcars", "carriages", "tons", "tonnes", "batches", "boxes", "crates", "consignments", "cargoes",
         "pallets", "loads", "deliveries", "ships", "vessels", "flights", "trains", "convoys"}
# nouns that count what follows them: "1.5 million rounds of ammunition" counts the ammunition
COUNTERS = {"rounds", "pieces", "units", "sets", "items", "examples", "systems"}
_MONEY = {"dollars", "dollar", "euros", "euro", "won", "roubles", "rubles", "rouble", "ruble", "yuan", "usd",
          "eur", "pounds", "yen"}
_MONTHS = {"jan", "jan.", "january", "feb", "feb.", "february", "mar", "mar.", "march", "apr", "apr.", "april",
           "may", "jun", "june", "jul", "july", "aug", "aug.", "august", "sep", "sept", "sep.", "sept.",
           "september", "oct", "oct.", "october", "nov", "nov.", "november", "dec", "dec.", "december"}
_TOKEN = re.compile(
    r"(?P<time>\d{1,2}:\d{2}(?::\d{2})?)"
    r"|(?P<ordinal>\d+(?:st|nd|rd|th)\b)"
    r"|(?P<calibre>\d+(?:\.\d+)?[\s-]?(?:mm|millimet(?:re|er)s?|cm|in(?:ch)?)\b)"
    r"|(?P<strong>\d{1,3}(?:,\d{3})+-strong|\d+-strong)"
    r"|(?P<number>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w-]*[A-Za-z])"
    r"|(?P<designator>[A-Za-z]+[-‑]?\d[\w-]*|\d+[A-Za-z][\w-]*)"
    r"|(?P<word>[A-Za-z]+(?:[-’'][A-Za-z]+)*)"
    r"|(?P<percent>%)|(?P<money>[$€£₩₽])"
    r"|(?P<other>\S)")


@dataclass(frozen=True)
class Amount:
    value: int | None             # only when the text gives a number
    text: str                     # the words as written: "about 11,000", "millions of", "a third of"
    start: int                    # span of the amount in the text it was read from
    end: int
    approx: bool = False
    low: int | None = None        # a vague or ranged amount's bounds
    high: int | None = None
    share: bool = False           # "a third of", "40% of": a part of something, not a count
    english: str = ""             # the amount in English when the text is in another language

    @property
    def range(self) -> list[int | None] | None:
        return [self.low, self.high] if (self.low is not None or self.high is not None) else None


@dataclass(frozen=True)
class _Tok:
    kind: str
    text: str
    start: int
    end: int

    @property
    def low(self) -> str:
        return self.text.lower()


def tokens(text: str) -> list[_Tok]:
    return [_Tok(m.lastgroup or "other", m.group(), m.start(), m.end()) for m in _TOKEN.finditer(text)]


def _number(tok: _Tok) -> float | None:
    try:
        return float(tok.text.replace(",", ""))
    except ValueError:
        return None


def _is_year(tok: _Tok) -> bool:
    return tok.kind == "number" and re.fullmatch(r"(?:19|20)\d\d", tok.text) is not None


class _Reader:
    """Reads an amount backwards from a token index (the amount's last token)."""

    def __init__(self, text: str, toks: list[_Tok]):
        self.text, self.toks = text, toks

    def words(self, i: int, n: int) -> tuple[str, ...] | None:
        if i - n + 1 < 0:
            return None
        span = self.toks[i - n + 1:i + 1]
        return tuple(t.low for t in span) if all(t.kind in ("word", "designator") for t in span) else None

    def read(self, last: int) -> Amount | None:
        """The amount ending at token `last`, hedges included."""
        core = self._core(last)
        if core is None:
            return None
        first, value, low, high, share = core
        first, approx = self._hedge(first, value is not None and not share)
        if value is not None and _is_year(self.toks[last]) and not approx and first == last:
            return None                        # "2024 shipments": a year
        if first > 0 and self.toks[first - 1].kind == "money":
            return None
        if last + 1 < len(self.toks) and self.toks[last + 1].low in _MONEY:
            return None
        if value is not None and (self._dated(first, last)):
            return None
        start, end = self.toks[first].start, self.toks[last].end
        value_int = int(round(value)) if value is not None else None
        return Amount(value_int, self.text[start:end], start, end, approx, low, high, share)

    def _dated(self, first: int, last: int) -> bool:
        """'4 November', 'Nov. 4', 'Nov 4, 2024': a day of a month is no amount."""
        back = first - 1
        if back >= 0 and self.toks[back].text == ".":
            back -= 1
        before = self.toks[back].low if back >= 0 else ""
        after = self.toks[last + 1].low if last + 1 < len(self.toks) else ""
        return before in _MONTHS or after in _MONTHS

    def _core(self, i: int):
        """(first token, value, low, high, share) of the bare amount ending at token i."""
        tok = self.toks[i]
        if tok.kind == "percent" or tok.low in ("percent", "pc") or self.words(i, 2) == ("per", "cent"):
            j = i - (2 if self.words(i, 2) == ("per", "cent") else 1)
            if j >= 0 and self.toks[j].kind == "number":
                return j, None, None, None, True
            return None
        if tok.kind == "strong":                 # "11,000-strong", "1,500-strong"
            value = float(tok.text.rsplit("-", 1)[0].replace(",", ""))
            return i, value, None, None, False
        for n in (4, 3, 2, 1):                   # vague words and shares, longest first
            words = self.words(i, n)
            if words in _VAGUE:
                low, high = _VAGUE[words]
                return i - n + 1, None, low, high, False
            if words in _SHARES:
                return i - n + 1, None, None, None, True
        if tok.kind == "word" and tok.low in ("in",) and i >= 2 and self.toks[i - 1].kind == "number":
            return None
        # "one in five"
        if tok.kind in ("number", "word") and i >= 2 and self.toks[i - 1].low == "in" and \
                (self._value_at(i - 2) or 99) < 10 and (self._value_at(i) or 0) > (self._value_at(i - 2) or 99):
            return i - 2, None, None, None, True     # "one in five", "two in three": a share
        single = self._figure(i)
        if single is None:
            return None
        first, value = single
        ranged = self._range(first, value)
        if ranged is not None:
            return ranged
        return first, value, None, None, False

    def _value_at(self, i: int) -> float | None:
        found = self._figure(i)
        return found[1] if found else None

    def _figure(self, i: int) -> tuple[int, float] | None:
        """A number ending at token i: digits with an optional scale ('1.5 million', '5m'), or
        number words ('twelve thousand', 'twenty-four', 'a dozen', 'two dozen')."""
        tok = self.toks[i]
        if tok.kind == "number":
            return i, _number(tok)
        if tok.kind != "word":
            return None
        low = tok.low
        if low in _SCALES and i >= 1:
            prev = self.toks[i - 1]
            if prev.kind == "number" and prev.end == tok.start and low not in ("k", "bn", "mln"):
                return None                      # "5million": not how news writes it
            inner = self._figure(i - 1)
            if inner is not None:
                return inner[0], inner[1] * _SCALES[low]
            if prev.low in ("a", "one"):
                return i - 1, float(_SCALES[low])
            return None
        if low == "dozen":
            if i >= 1 and self.toks[i - 1].low in ("a", "one"):
                return i - 1, 12.0
            inner = self._figure(i - 1) if i >= 1 else None
            return (inner[0], inner[1] * 12) if inner else None
        value = _word_number(low)
        if value is None:
            return None
        first, total = i, value
        if "-" not in low and i >= 1 and self.toks[i - 1].kind == "word":     # "twenty four" = 24
            prev = _word_number(self.toks[i - 1].low)
            if prev is not None and prev >= 20 and prev % 10 == 0 and value < 10:
                first, total = i - 1, prev + value
        return first, float(total)

    def _range(self, first: int, high: float):
        """'10,000 to 11,000', '10,000-11,000', 'between 1,000 and 3,000': a range, no single figure."""
        if first >= 2 and self.toks[first - 1].low in ("to", "-", "–", "and", "or"):
            lower = self._figure(first - 2)
            if lower is not None:
                start = lower[0]
                if self.toks[first - 1].low == "and":
                    if start == 0 or self.toks[start - 1].low != "between":
                        return None
                    start -= 1
                elif start > 0 and self.toks[start - 1].low == "from":
                    return None                   # "from 3,000 to 10,000": two figures, not a range
                return start, None, int(lower[1]), int(high), False
        return None

    def _hedge(self, first: int, figure: bool) -> tuple[int, bool]:
        for hedge in sorted(_HEDGES, key=len, reverse=True):
            n = len(hedge)
            if first - n >= 0 and tuple(t.low for t in self.toks[first - n:first]) == tuple(hedge):
                exact = " ".join(hedge) in _EXACT_HEDGES
                return first - n, not exact
        return first, False


def _word_number(word: str) -> int | None:
    if word in _WORD_VALUES:
        return _WORD_VALUES[word]
    if "-" in word:                               # "twenty-four"
        tens, _, unit = word.partition("-")
        if tens in _WORD_VALUES and unit in _WORD_VALUES and _WORD_VALUES[tens] >= 20:
            return _WORD_VALUES[tens] + _WORD_VALUES[unit]
    return None


# the words between an amount and the noun it counts: adjectives, nouns, names and models; what
# stops a noun phrase (a conjunction, a preposition, a verb, a clause) ends the search
_STOP = {"and", "or", "but", "nor", "plus", "with", "without", "including", "as", "to", "from", "by", "for",
         "in", "on", "at", "than", "while", "which", "who", "that", "were", "was", "is", "are", "have", "has",
         "had", "been", "be", "will", "would", "could", "should", "may", "might", "can", "said", "says",
         "says", "say", "told", "since", "after", "before", "into", "onto", "over", "under", "against",
         "about", "around", "through", "via", "per", "each", "every", "if", "when", "where", "because", "not",
         "also", "alongside", "among", "between", "within", "across", "near", "toward", "towards", "up",
         "down", "off", "out", "this", "these", "those", "there", "here", "it", "they", "he", "she", "we"}
_DETERMINERS = {"the", "its", "their", "his", "her", "our", "those", "these"}
_MORE = {"more", "additional", "extra", "fresh", "further", "new", "other"}


def amount_before(text: str, end: int, max_modifiers: int = 5) -> Amount | None:
    """The amount counting the noun phrase whose head starts at `end`: 'about 200 long-range
    artillery pieces', 'thousands of North Korean troops', 'the 20 Koksan guns', never across
    'and' or a preposition ('5 million shells and 20 guns' gives the guns 20, not 5 million)."""
    window_start = max(0, end - 160)
    toks = tokens(text[window_start:end])
    reader = _Reader(text[window_start:end], toks)
    i = len(toks) - 1
    modifiers = 0
    while i >= 0 and modifiers <= max_modifiers:
        tok = toks[i]
        if tok.low == "of":
            return _partitive(reader, i, toks, window_start)
        found = _amount_at(reader, i, toks)
        if found is not None:
            return _shifted(found, window_start)
        if tok.kind in ("word", "designator", "calibre") and tok.low not in _STOP and tok.low not in _DETERMINERS:
            modifiers += 1
            i -= 1
            continue
        if tok.low in ("and", "or", ",", "/") and 0 < i < len(toks) - 1 and \
                toks[i - 1].kind == "designator" and toks[i + 1].kind == "designator":
            i -= 1                                # "KN-23 and KN-24 missiles": one noun phrase
            continue
        if tok.kind == "other" and (tok.text in ("'", "’", "\"", "“", "”", "(", ")") or (
                tok.text == "." and i >= 1 and len(toks[i - 1].text) == 1 and toks[i - 1].text.isupper())):
            i -= 1                                # quotes, and "N." in "300 N. Korean soldiers"
            continue
        if tok.low in _DETERMINERS:               # "a third of the troops", "11,000 of its soldiers"
            if i >= 1 and toks[i - 1].low == "of":
                i -= 1
                continue
            return None
        return None
    return None


def _amount_at(reader: _Reader, i: int, toks: list[_Tok]) -> Amount | None:
    """An amount whose last token is i, optionally followed by 'more' / 'additional'."""
    tok = toks[i]
    if tok.low in ("more", "so") and i >= 2 and toks[i - 1].low == "or":     # "100 or more soldiers"
        inner = reader.read(i - 2)
        if inner is not None and inner.value is not None:
            return Amount(inner.value, reader.text[inner.start:tok.end], inner.start, tok.end, True)
        return None
    if tok.low in _MORE and i >= 1:
        inner = _amount_at(reader, i - 1, toks)
        if inner is not None and inner.value is not None:
            return Amount(inner.value, reader.text[inner.start:tok.end], inner.start, tok.end, inner.approx)
        return None
    if tok.kind not in ("number", "word", "strong", "percent"):
        return None
    amount = reader.read(i)
    if amount is not None and amount.share and " in " not in f" {amount.text.lower()} ":
        return None                      # a share counts through "of" ("a third of"), or "one in five"
    return amount


def _partitive(reader: _Reader, of: int, toks: list[_Tok], shift: int) -> Amount | None:
    """'thousands of', 'a third of', '20,000 containers of', '11,000 of its' - the amount before 'of'."""
    if of == 0:
        return None
    j = of - 1
    unit, counter = toks[j].low in UNITS, toks[j].low in COUNTERS
    if unit or counter:
        j -= 1
    if j < 0:
        return None
    amount = reader.read(j)
    if amount is None:
        return None
    if unit:                              # the containers are counted, not what is in them
        return _shifted(Amount(None, reader.text[amount.start:toks[of - 1].end], amount.start,
                               toks[of - 1].end, amount.approx), shift)
    # a figure reads without its "of" ('about 100 of them' → 'about 100'; '1.5 million rounds of'
    # → '1.5 million rounds'); vague words and shares keep it ('thousands of', 'a third of')
    end = toks[of - 1].end if amount.value is not None else toks[of].end
    return _shifted(Amount(amount.value, reader.text[amount.start:end], amount.start, end, amount.approx,
                           amount.low, amount.high, amount.share), shift)


def _shifted(amount: Amount, shift: int) -> Amount:
    return Amount(amount.value, amount.text, amount.start + shift, amount.end + shift, amount.approx,
                  amount.low, amount.high, amount.share)


def amounts_in(text: str) -> list[Amount]:
    """Every figure in a stretch of text, left to right (for figures said after their noun:
    'rose from about 4,000 to some 15,000', 'put their number at 3,000')."""
    toks = tokens(text)
    reader = _Reader(text, toks)
    found: list[Amount] = []
    i = len(toks) - 1
    while i >= 0:
        tok = toks[i]
        amount = reader.read(i) if tok.kind in ("number", "word", "strong") else None
        if amount is not None and (amount.value is not None or amount.range is not None) and not amount.share:
            found.append(amount)
            i = next(k for k, t in enumerate(toks) if t.start == amount.start) - 1
            continue
        i -= 1
    return found[::-1]


# a figure said after its noun: "a force of 12,000", "troops numbering 11,000", "raised its
# estimate to 10,000, up from 3,000", "the number was likely more than 11,000"
_AFTER_MARKERS = {"to", "from", "at", "numbering", "totalling", "totaling", "reaching", "was", "is", "are",
                  "were", "reached", "passed", "exceeded", "topped", "surpassed", "numbered", "totalled",
                  "totaled", "stands", "stood", "of", "totals", "total", "numbers", "number", "reaches", "hits"}
_ADVERBS = {"now", "likely", "probably", "already", "since", "well", "still", "then", "currently"}
_AFTER_NEXT = {"", "on", "in", "last", "this", "a", "an", "the", "since", "as", "according", "by", "and", "at",
               "up", "from", "to", "earlier", "ago", "now", "so", "strong", "men", "soldiers", "troops",
               "personnel", "workers", "killed", "wounded", "or", "in", "over", "during", "before", "after",
               "within", "while", "but", "with", "mostly", "seoul", "kyiv", "officials", "said", "says"}


def amounts_after(text: str, start: int, stop: int) -> list[Amount]:
    """Figures for the noun ending at `start`, said after it and before `stop` (the next item or
    the sentence's end): each introduced by a word that ties it to the count, and followed by
    nothing it could be counting instead."""
    tail = text[start:stop]
    found = []
    for amount in amounts_in(tail):
        if amount.value is None and amount.range is None:
            continue
        words = re.findall(r"[\w’'-]+", tail[:amount.start].lower())
        while words and words[-1] in _ADVERBS:
            words.pop()
        marker = words[-1] if words else ""
        following = re.match(r"\s*([\w’'-]*)", tail[amount.end:]).group(1).lower()
        if following == "strong" and len(words) <= 3:      # "troops, about 1,500 strong,"
            found.append(_shifted(Amount(amount.value, tail[amount.start:amount.end + tail[amount.end:].index("strong")
                                                                   + 6], amount.start, amount.end, amount.approx),
                                  start))
            continue
        if marker not in _AFTER_MARKERS or (marker == "of" and len(words) > 2):
            continue
        if following not in _AFTER_NEXT:
            continue
        found.append(_shifted(amount, start))
    return found


# a sentence whose figure stands for the item of the sentence before: "Twenty arrived in the past
# month.", "About 4,000 are already at construction sites.", "The total has since grown to 11,000."
_LEADING_FIGURE = re.compile(r"^\s*(?P<amount>[\w,.\s-]{1,40}?)\s+(?:more\s+)?(?:have|has|had|are|were|is|was|"
                             r"arrived|reached|landed|crossed|came|followed|went|joined)\b", re.I)
_TOTAL = re.compile(r"\b(?:the|their|its)\s+(?:total|number|count|tally|contingent|figure|force|deployment)\s+"
                    r"(?:\w+\s+){0,3}?(?:grown|risen|rose|climbed|reached|passed|increased|stands|stood|is|was|"
                    r"grew|swelled|jumped)\s+(?:to\s+|at\s+)?"
                    r"|\b(?:puts?|putting|estimates?|estimated|places?|placed)\s+(?:the|their|its)\s+"
                    r"(?:total|number|count|tally|figure)\s+at\s+"
                    r"|\b(?:counted|counts|tallied|recorded|confirmed)\s+(?=[\w,.\s-]{1,30}[.!]?\s*$)", re.I)


def figure_for_previous(sentence: str) -> Amount | None:
    """The figure a sentence gives without naming what it counts (the previous sentence did)."""
    total = _TOTAL.search(sentence)
    if total is not None:
        rest = [a for a in amounts_in(sentence[total.end():total.end() + 40]) if a.value is not None]
        if rest and rest[0].start == 0 or rest and not sentence[total.end():total.end() + rest[0].start].strip():
            return _shifted(rest[0], total.end())
    lead = _LEADING_FIGURE.match(sentence)
    if lead is not None:
        candidates = amounts_in(lead.group("amount"))
        if len(candidates) == 1 and candidates[0].start == 0 and candidates[0].value is not None and \
                candidates[0].end == len(lead.group("amount").rstrip()):
            return _shifted(candidates[0], lead.start("amount"))
    return None
