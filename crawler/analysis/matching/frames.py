"""Reading reports in Korean, Russian and Ukrainian, as data (config/lang/<code>.yaml).

English word order says who gives and who receives; these languages say it with endings. So each
sentence is read into units that carry what their endings tell:

- Russian and Ukrainian: every word's lemmas and grammatical cases from pymorphy3 (with its
  Russian and Ukrainian dictionaries, shipped in their packages), and the preposition before it:
  КНДР передала России (dative: to whom), отправила в Россию / до Росії (to), снаряды из КНДР (from),
  северокорейские ракеты (whose), на стороне России (whose side);
- Korean: each word read as known stems from its start and the particle after them (no analyser:
  kiwipiepy's model costs ~330 MB per analysis process, over the budget, and the vocabulary here is
  closed): 북한이 (who acts) 러시아에 (to whom) 포탄을 (what) 보냈다; 북한군 (North Korea's soldiers),
  북한제 미사일 (made in North Korea), 러시아로부터 (from Russia).

Then, per item named (troops, shells, missiles ...), the nearest transfer, use, fight or casualty
word, and the parties by their roles give supplier and recipient; the statuses come from the
words around (planned, agreed, denied ...); the amounts from the language's number grammar. The
events are the English reader's Events: facts come out in English, evidence spans point into the
original text, and the same watch, statuses and stories apply."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field, replace

from wirewatch.crawler.analysis.matching.amounts import Amount
from wirewatch.crawler.analysis.matching.events import Anchor, Event, ItemHit
from wirewatch.crawler.analysis.matching.gazetteer import Mention
from wirewatch.config import CONFIG_DIR
from wirewatch.crawler.conf.files import read_yaml

LANG_DIR = CONFIG_DIR / "lang"
LANGUAGES = ("ko", "ru", "uk")
_PEOPLE = {"troops", "labour", "casualties"}
# words opening a subordinate or another clause after a comma: its verb is not the item's
_CLAUSE_WORDS = frozenset({"что", "который", "где", "когда", "чтобы", "если", "хотя", "но", "однако", "пока",
                           "що", "який", "котрий", "де", "коли", "щоб", "якщо", "хоча", "але", "проте", "поки"})
_RELATIVE = frozenset({"который", "який", "котрий"})
_ABBREVIATED = frozenset({"тыс", "млн", "млрд", "ед", "чел"})
_CASES = frozenset({"nomn", "gent", "datv", "accs", "ablt", "loct"})
_TAGS = {g: g for g in ("VERB", "INFN", "PRTF", "PRTS", "NOUN", "ADJF", "ADJS", "NUMR", "PREP", "futr", "past",
                        "pres", "Fixd", "GRND", "plur", "sing")} | {"infn": "INFN"}
_WORD = re.compile(r"\d+[.,]\d+(?![\d.,])|\d{1,3}(?:[ \u00a0]\d{3})+(?![\d])|[\w’'ʼ.-]*\w|[^\w\s]", re.UNICODE)


@dataclass
class Unit:
    start: int
    end: int
    text: str
    keys: frozenset[str]                    # what phrases match: lemmas (ru/uk), stems (ko)
    cases: frozenset[str] = frozenset()      # ru/uk grammatical cases this word may be in
    tags: frozenset[str] = frozenset()       # ru/uk parts of speech, tense ...
    role: str | None = None                  # ko: from the particle; ru/uk: from the preposition
    word: int = 0                            # ko: which written word it belongs to
    last: bool = True                        # ko: the last stem of its word (its particle is its own)
    suffix: str = ""                         # ko: what follows the stems in the word


@dataclass
class Hit:
    first: int
    last: int                                # unit indices, inclusive
    category: str                            # party | demonym | place | model | item | verb | cue
    value: str                               # the entity, class or kind
    detail: str = ""                         # a place's canonical name, a model's, a cue's kind
    role: str | None = None
    army: bool = False                       # a party's soldiers named as its army (북한군, 조선인민군)


# ---- the language's data ------------------------------------------------------------------------

@dataclass
class LanguageData:
    code: str
    analyser: str
    phrases: dict[str, list[tuple[tuple[str, ...], str, str, str]]]      # first word → entries
    stems: set[str]                                                      # ko: every stem
    verb_stems: set[str] = field(default_factory=set)                   # ko: verbs and cues, conjugated
    party_stems: set[str] = field(default_factory=set)                  # ko: one-word party names
    longest: int = 14                                                    # ko: the longest stem
    origin_suffixes: tuple[str, ...] = ()
    army_suffix: tuple[str, ...] = ()
    particles: dict[str, tuple[str, ...]] = field(default_factory=dict)
    prepositions: dict[str, frozenset[str]] = field(default_factory=dict)
    quantity: dict = field(default_factory=dict)
    reporting_objects: frozenset[str] = frozenset()
    with_verbs: frozenset[str] = frozenset()                          # give verbs whose "with" is the recipient
    whole_words: frozenset[str] = frozenset()                         # ko: stems that count only as whole words
    bound_nouns: frozenset[str] = frozenset()                         # ko: nouns after an army that keep it soldiers

    @classmethod
    def load(cls, code: str) -> "LanguageData":
        data = read_yaml(LANG_DIR / f"{code}.yaml", f"language data {code}")
        entries: list[tuple[str, str, str, str]] = []            # (phrase, category, value, detail)
        for entity, kinds in data["parties"].items():
            for kind, names in kinds.items():
                for name in names or []:
                    entries.append((name, "demonym" if kind == "demonym" else "party", entity, kind))
                    # kind `army`: the party's armed forces, a party and its soldiers at once
        for entity, places in (data.get("places") or {}).items():
            for canonical, names in places.items():
                for name in names:
                    entries.append((name, "place", entity, canonical))
        for canonical, model in (data.get("models") or {}).items():
            for name in model["names"]:
                entries.append((name, "model", model["maker"], f"{canonical}|{model['item']}"))
        for item, names in data["items"].items():
            for name in names:
                entries.append((name, "item", item, ""))
        for kind, names in data["verbs"].items():
            for name in names:
                entries.append((name, "verb", kind, ""))
        for name in data.get("reporting") or []:
            entries.append((name, "verb", "reporting", ""))
        for kind, names in data["status"].items():
            for name in names:
                entries.append((name, "cue", kind, ""))
        for name in data.get("modifiers") or []:
            entries.append((name, "cue", "modifier", ""))
        for name in data.get("modified_before") or []:
            entries.append((name, "cue", "modified_before", ""))
        phrases: dict[str, list] = {}
        stems: set[str] = set()
        verb_stems: set[str] = set()
        for phrase, category, value, detail in entries:
            words = tuple(_fold(w) for w in phrase.split())
            phrases.setdefault(words[0], []).append((words, category, value, detail))
            stems.update(words)
            if category in ("verb", "cue"):
                verb_stems.update(words)
        for options in phrases.values():
            options.sort(key=lambda e: -len(e[0]))
        party_stems = {words[0] for key, options in phrases.items() for words, category, _, _ in options
                       if category == "party" and len(words) == 1}
        return cls(code, data.get("analyser", "pymorphy3"), phrases, stems, verb_stems=verb_stems,
                   party_stems=party_stems, longest=max(map(len, stems), default=1),
                   origin_suffixes=tuple(data.get("origin_suffixes") or ()),
                   army_suffix=tuple(data.get("army_suffix") or ()),
                   particles={role: tuple(sorted(ps, key=len, reverse=True))
                              for role, ps in (data.get("particles") or {}).items()},
                   prepositions={role: frozenset(_fold(p) for p in ps)
                                 for role, ps in (data.get("prepositions") or {}).items()},
                   quantity=data.get("quantity") or {},
                   reporting_objects=frozenset(_fold(w) for w in data.get("reporting_objects") or []),
                   with_verbs=frozenset(_fold(w) for w in data.get("with_verbs") or []),
                   whole_words=frozenset(data.get("whole_words") or []),
                   bound_nouns=frozenset(data.get("bound_nouns") or []))


def _without_final(syllable: str) -> str:
    """A Hangul syllable without its final consonant (올 → 오, 냈 → 내)."""
    code = ord(syllable) - 0xAC00
    if 0 <= code < 11172 and code % 28:
        return chr(0xAC00 + code - code % 28)
    return syllable


def _fold(text: str) -> str:
    return text.lower().replace("ё", "е").replace("’", "'").replace("ʼ", "'")


# ---- reading words ------------------------------------------------------------------------------

class SlavicWords:
    """Russian and Ukrainian words with every lemma and case pymorphy3 allows."""

    def __init__(self, code: str):
        import pymorphy3
        self.morph = pymorphy3.MorphAnalyzer(lang=code)

    @functools.lru_cache(maxsize=200_000)
    def analyse(self, word: str) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        folded = _fold(word)
        keys, cases, tags = {folded}, set(), set()
        if re.search(r"\d", folded) or not re.search(r"[а-яіїєґ]", folded):
            return frozenset(keys), frozenset(), frozenset({"NUMB"} if re.fullmatch(r"[\d\s\u00a0.,]+", folded) else ())
        for parse in self.morph.parse(folded)[:6]:
            keys.add(_fold(parse.normal_form))
            grammemes = parse.tag.grammemes         # Ukrainian tags spell a few grammemes differently
            cases.update(grammemes & _CASES)
            tags.update(_TAGS.get(g, g) for g in grammemes & set(_TAGS))
        return frozenset(keys), frozenset(cases), frozenset(tags)

    def units(self, sentence: str, data: LanguageData) -> list[Unit]:
        out: list[Unit] = []
        for m in _WORD.finditer(sentence):
            if m.group() == "." and out and _fold(out[-1].text) in _ABBREVIATED and out[-1].end == m.start():
                out[-1].end, out[-1].text = m.end(), out[-1].text + "."     # "10 тыс. военных"
                continue
            keys, cases, tags = self.analyse(m.group())
            out.append(Unit(m.start(), m.end(), m.group(), keys, cases, tags))
        return out


class KoreanWords:
    """Korean words read as known stems from their start, then the particle or ending after."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple] = {}             # word → (pieces, rest, role): words repeat

    def units(self, sentence: str, data: LanguageData) -> list[Unit]:
        out: list[Unit] = []
        for index, m in enumerate(re.finditer(r"[^\s,.;:!?\"'“”‘’()\[\]…·]+|[,.;:!?]", sentence)):
            word, start = m.group(), m.start()
            if word in ",.;:!?":
                out.append(Unit(start, m.end(), word, frozenset({word}), word=index, role="punct"))
                continue
            known = self._seen.get(word)
            if known is None:
                known = self._word(word, data)
                if len(self._seen) < 200_000:
                    self._seen[word] = known
            pieces, rest, role = known
            if not pieces:
                out.append(Unit(start, m.end(), word, frozenset({word}), word=index, suffix=word))
                continue
            for n, (a, b, stem) in enumerate(pieces):
                last = n == len(pieces) - 1
                out.append(Unit(start + a, start + b, word[a:b], frozenset({stem}), word=index, last=last,
                                role=role if last else "compound", suffix=rest if last else ""))
        return out

    def _word(self, word: str, data: LanguageData) -> tuple:
        """The stems a word starts with, what follows them, and the role that gives."""
        pieces, at = [], 0
        while at < len(word):
            stem = self._longest(word, at, data)
            if stem is None or (len(stem) == 1 and self._party(stem, data)
                                and not self._short_party_ok(word, at, pieces, data)) \
                    or (stem in data.whole_words and word != stem):
                break                                     # 안 (not) is a word, 안팎 (about) is not it
            pieces.append((at, at + len(stem), stem))         # a verb stem with a final: same length
            at += len(stem)
            army = next((a for a in data.army_suffix if word.startswith(a, at)), None)
            if army and self._party(stem, data) and not self._longest(word, at, data):
                pieces.append((at, at + len(army), "§army"))          # 북한군, 北軍
                at += len(army)
            elif self._party(stem, data):
                suffix = next((s for s in data.origin_suffixes if word.startswith(s, at)
                               and (at + len(s) == len(word) or word[at + len(s):] in ("의", "이", "가", "을", "를"))), None)
                if suffix:
                    pieces.append((at, at + len(suffix), "§origin"))
                    at += len(suffix)
        rest = word[at:]
        return tuple(pieces), rest, (self._role(rest, data) if pieces else None)

    @staticmethod
    def _longest(word: str, at: int, data: LanguageData) -> str | None:
        """The longest known stem at `at`; a verb stem also where its last syllable takes a final
        consonant of the ending (보내 in 보낸, 보낼, 보냈; 들여오 in 들여올)."""
        for length in range(min(len(word) - at, data.longest), 0, -1):
            piece = word[at:at + length]
            if piece in data.stems:
                return piece
            bare = _without_final(piece[-1])
            if bare != piece[-1] and piece[:-1] + bare in data.verb_stems:
                return piece[:-1] + bare
        return None

    def _short_party_ok(self, word: str, at: int, pieces: list, data: LanguageData) -> bool:
        """北, 러, 한 are parties only as words of their own: '북, 러에 포탄' yes; '수출한', '북부',
        '한편' no. Inside a word, only beside another party ('한미')."""
        if pieces:
            return self._party(pieces[-1][2], data)
        rest = word[at + 1:]
        return not rest or rest.startswith(data.army_suffix or ("\0",)) or any(
            rest.startswith(p) for ps in data.particles.values() for p in ps) or \
            self._longest(word, at + 1, data) is not None and len(self._longest(word, at + 1, data)) > 1

    @staticmethod
    def _party(stem: str, data: LanguageData) -> bool:
        return stem in data.party_stems

    @staticmethod
    def _role(rest: str, data: LanguageData) -> str | None:
        if not rest:
            return None
        for role in ("from", "at", "to", "subj", "obj", "of", "and"):
            for particle in data.particles.get(role, ()):
                if rest.startswith(particle):
                    if role == "subj" and particle in ("이", "가") and len(rest) > len(particle) + 1:
                        continue                   # a longer ending (이라고, 가운데), not the particle
                    return role
        return None


# ---- the reader -----------------------------------------------------------------------------------

@dataclass
class Read:
    """One sentence, read: its units and what was found in them."""
    units: list[Unit]
    hits: list[Hit]

    def of(self, category: str) -> list[Hit]:
        return [h for h in self.hits if h.category == category]


class FrameReader:
    def __init__(self, code: str):
        self.code = code
        self.data = LanguageData.load(code)
        self.words = KoreanWords() if self.data.analyser == "stems" else SlavicWords(code)

    def read(self, sentence: str) -> Read:
        units = self.words.units(sentence, self.data)
        hits = self._phrases(units)
        if self.data.analyser != "stems":
            self._slavic_roles(units, hits)
        else:
            self._korean_roles(units, hits)
        for hit in hits:                     # "Пентагон: ...", "국정원: ...": who speaks, not who acts
            if hit.category in ("party", "place") and hit.first <= 1 and hit.last + 1 < len(units) \
                    and units[hit.last + 1].text == ":":
                hit.role = "speaker"
        return Read(units, hits)

    @staticmethod
    def _korean_roles(units: list[Unit], hits: list[Hit]) -> None:
        """A word's role is its particle's. A bare party or place takes the particle of the noun
        phrase it opens ('러시아 극동 지역으로': to; '러시아 쿠르스크 전선에': to), unless an item
        follows it (then it is the item's origin: '북한 노동자'); a bare party before a comma opens
        a headline as its subject ('北, 러에 포탄 ...')."""
        items = {i for h in hits if h.category == "item" for i in range(h.first, h.last + 1)}
        verbs = {i for h in hits if h.category == "verb" for i in range(h.first, h.last + 1)}
        for hit in hits:
            hit.role = units[hit.last].role
            if hit.detail == "army" and hit.last + 1 < len(units) and "§army" in units[hit.last + 1].keys:
                hit.role = units[hit.last + 1].role            # 러시아군이: the army's particle
            if hit.role is not None or hit.category not in ("party", "place"):
                continue
            nxt = hit.last + 1
            if nxt < len(units) and units[nxt].text == ",":
                hit.role = "subj" if hit.category == "party" else None
                continue
            for k in range(nxt, min(nxt + 3, len(units))):
                if k in items or k in verbs or units[k].role in ("punct", "compound"):
                    break
                if units[k].role in ("to", "at", "from"):
                    hit.role = units[k].role
                    break
                if units[k].role is not None:
                    break

    def _phrases(self, units: list[Unit]) -> list[Hit]:
        """Every phrase of the data, longest first per category, words matched by any key."""
        found: list[Hit] = []
        taken: dict[str, set[int]] = {}
        for i, unit in enumerate(units):
            if unit.text == "§army":
                continue
            candidates = [e for key in unit.keys for e in self.data.phrases.get(key, ())]
            for words, category, value, detail in sorted(candidates, key=lambda e: -len(e[0])):
                end = i + len(words) - 1
                if end >= len(units) or any(j in taken.get(category, set()) for j in range(i, end + 1)):
                    continue
                if all(words[k] in units[i + k].keys for k in range(len(words))):
                    found.append(Hit(i, end, category, value, detail))
                    taken.setdefault(category, set()).update(range(i, end + 1))
        for hit in list(found):                             # 조선인민군, Корейская народная армия
            if hit.category == "party" and hit.detail == "army":
                found.append(Hit(hit.first, hit.last, "item", "troops", f"origin:{hit.value}", hit.role, army=True))
        for i, unit in enumerate(units):                   # 북한군: a party's soldiers
            if unit.keys == frozenset({"§army"}) and i > 0:
                party = next((h for h in found if h.category == "party" and h.last == i - 1), None)
                if party is not None:
                    found.append(Hit(i, i, "item", "troops", f"origin:{party.value}", unit.role, army=True))
                    party.detail = "army"
            if unit.keys == frozenset({"§origin"}) and i > 0:
                party = next((h for h in found if h.category == "party" and h.last == i - 1), None)
                if party is not None:
                    party.category, party.detail = "demonym", "origin"
        return found

    def _slavic_roles(self, units: list[Unit], hits: list[Hit]) -> None:
        """A party's or place's role from the preposition before it, else from its case."""
        preps = self.data.prepositions
        for hit in hits:
            if hit.category not in ("party", "demonym", "place", "model", "item"):
                continue
            if hit.category == "demonym":
                hit.role = self._demonym_role(units, hit)
                continue
            first = units[hit.first]
            back = [u for u in units[max(0, hit.first - 3):hit.first]]
            prep, between = None, []
            for u in reversed(back):
                folded = _fold(u.text)
                if folded in preps.get("to", ()) | preps.get("from", ()) | preps.get("for", ()) \
                        | preps.get("with", ()) | preps.get("against", ()) | {"на", "у", "в"}:
                    prep = folded
                    break
                if not (u.tags & {"ADJF", "PRTF", "NUMR", "NUMB"}) and u.text not in ("-", "«", "»"):
                    break
                between.append(u)
            if hit.first >= 2 and _fold(units[hit.first - 1].text) in ("стороне", "боці", "стороні") \
                    and _fold(units[hit.first - 2].text) == "на":
                hit.role = "side"
                continue
            cases = first.cases or units[hit.last].cases
            for unit in units[hit.first:hit.last + 1]:        # "Курской области": the cases both allow
                if unit.cases and cases & unit.cases:
                    cases = cases & unit.cases
            if prep is not None:
                hit.role = self._prep_role(prep, cases)
                continue
            fixed = "Fixd" in first.tags or not cases
            if fixed:
                hit.role = None                  # indeclinable (КНДР, РФ): its place decides, later
            elif cases <= {"datv"} or cases == {"datv", "loct"}:
                hit.role = "to"
            elif cases <= {"nomn", "accs"} and "nomn" in cases:
                hit.role = "subj"
            elif cases <= {"ablt"}:
                hit.role = "by"
            elif cases <= {"gent"}:
                hit.role = "of"
            elif "datv" in cases and "nomn" not in cases and "gent" not in cases:
                hit.role = "to"
            elif "nomn" in cases:
                hit.role = "subj"
            elif "gent" in cases and "datv" in cases:
                hit.role = "of|to"               # Росії: of or to
            else:
                hit.role = None

    @staticmethod
    def _demonym_role(units: list[Unit], hit: Hit) -> str | None:
        """A demonym stands for its state only as the subject ('российский президент заявил') or
        the addressee ('північнокорейському лідерові'), by its case; 'российскими военными
        билетами' is no party acting."""
        cases = units[hit.first].cases
        if cases and cases <= {"nomn", "accs"} and "nomn" in cases:
            return "subj"
        if cases and cases <= {"datv", "loct"} and "datv" in cases:
            return "to"
        return None

    def _prep_role(self, prep: str, cases: frozenset[str]) -> str:
        preps = self.data.prepositions
        if prep in ("в", "во", "у", "на"):
            if cases and (cases <= {"loct"} or "accs" not in cases and len(cases) < 5):
                return "at"                     # в Северной Корее (not accusative: where, not whither)
            if "accs" in cases and "loct" not in cases:
                return "to"
            if prep == "у" and self.code == "ru":
                return "from"                   # закупает у КНДР
            if prep == "у" and "gent" in cases and "loct" not in cases:
                return "from"
            return "to|at"
        if prep in preps.get("against", ()) and prep in ("по", "проти", "против"):
            return "against"
        if prep in preps.get("to", ()):
            return "to"
        if prep in preps.get("for", ()):
            return "to"
        if prep in preps.get("with", ()) and cases and cases <= {"ablt"}:
            return "with"
        if prep in preps.get("with", ()) and len(cases) >= 5:            # an indeclinable: с КНДР, з КНДР
            return "from|with" if prep in preps.get("from", ()) else "with"
        if prep in preps.get("from", ()):
            return "from"
        return "other"


# ---- events ----------------------------------------------------------------------------------------

class FrameMatcher:
    """Events of a watch in one language's sentences."""

    def __init__(self, code: str, gazetteer):
        self.reader = FrameReader(code)
        self.code = code
        self.gaz = gazetteer
        self._states = None
        q = self.reader.data.quantity
        self._units = {_fold(k): v for k, v in (q.get("units") or {}).items()}
        self._words = {_fold(k): v for k, v in (q.get("words") or {}).items()}
        self._approx = sorted((_fold(a) for a in q.get("approx") or []), key=len, reverse=True)
        self._vague = sorted((_fold(a) for a in q.get("vague") or []), key=len, reverse=True)
        self._share = [_fold(a) for a in q.get("share") or []]
        self._in_english = [(self._key(word), english) for kind in ("vague", "share", "approx")
                            for word, english in (q.get(kind) or {}).items()]
        self._in_english.sort(key=lambda pair: -len(" ".join(pair[0])))
        self._counters = tuple(sorted(q.get("counters") or [], key=len, reverse=True))
        self._people_counters = frozenset(_fold(w) for w in q.get("people") or [])
        self._formations = frozenset(_fold(w) for w in q.get("formations") or [])
        self._prepositions = frozenset(p for ps in self.reader.data.prepositions.values() for p in ps)

    def read_all(self, sentences: list[str]) -> list[Read]:
        return [self.reader.read(s) for s in sentences]

    def states_named(self, text: str) -> set[str]:
        """The states a text may name, by the stems of their names, demonyms, places and models
        (one pass, no analysis): a page naming no watched pair is not read at all."""
        if self._states is None:
            import ahocorasick
            automaton = ahocorasick.Automaton()
            for first, options in self.reader.data.phrases.items():
                for words, category, value, _ in options:
                    if category in ("party", "demonym", "place", "model"):
                        stem = first if self.code == "ko" else first[:max(4, len(first) - 2)]
                        known = automaton.get(stem, set()) if stem in automaton else set()
                        automaton.add_word(stem, known | {value})
            automaton.make_automaton()
            self._states = automaton
        found: set[str] = set()
        for _, values in self._states.iter(_fold(text)):
            found |= values
        return found

    @staticmethod
    def named(reads: list[Read]) -> set[str]:
        """The states a document names: by name, demonym, a place in them or a model they make
        (the keyword gate of a watch, in this language)."""
        return {h.value for read in reads for h in read.hits if h.category in ("party", "demonym", "place", "model")}

    def denial_lead(self, reads: list[Read], lead: int) -> bool:
        """The headline or first sentence denies: '김여정, 對러 무기수출설 부인', 'Песков опроверг ...'."""
        return any(h.value == "denied" for read in reads[:lead + 1] for h in read.of("cue"))

    def events(self, watch, sentences: list[str], reads: list[Read]) -> tuple[list[Event], list[str]]:
        """(events, notes) of `watch` in these sentences."""
        parties = {p for pair in watch.directions for p in pair}
        events: list[Event] = []
        notes: list[str] = []
        for index, (sentence, read) in enumerate(zip(sentences, reads)):
            made = self._sentence(watch, parties, index, sentence, read, reads)
            if not made and read.of("item") and len(notes) < 5:
                notes.append(f"sentence {index}: no transfer between the watched parties: {sentence[:160]}")
            events += made
        return events, notes

    @staticmethod
    def names(reads: list[Read]) -> tuple[str, ...]:
        """The places and models named, in the English reader's canonical form ('place:russia:kursk',
        'model:KN-23'), so a story joins reports of one event in any language."""
        out = set()
        for read in reads:
            for hit in read.of("place"):
                out.add(f"place:{hit.value}:{hit.detail}")
            for hit in read.of("model"):
                out.add(f"model:{hit.detail.split('|')[0]}")
        return tuple(sorted(out))

    # ---- one sentence ----
    def _sentence(self, watch, parties: set[str], index: int, sentence: str, read: Read, reads) -> list[Event]:
        units = read.units
        verbs = [h for h in read.of("verb") if h.value != "reporting" and not self._reporting_use(h, units)]
        out: list[Event] = []
        items = self._items(read)
        mutual_done = False
        for item in items:
            kind = item.value
            if kind == "defence_treaty":
                if not mutual_done:
                    out += self._treaty(watch, index, sentence, read, item, reads)
                    mutual_done = True
                continue
            if kind not in watch.items and kind != "casualties":
                continue
            if self._modified(item, read):
                anchor = self._anchor(item, verbs, units)
                if anchor is None or anchor.value != "give" or kind == "technology":
                    continue               # "a missile test", "drone production": not an item moved ...
                item = Hit(item.first, item.last, "item", "technology", item.detail, item.role)
                kind = "technology"        # ... unless given: "поможет наладить выпуск беспилотников"
            anchor = self._anchor(item, verbs, units)
            if self._actor(item, anchor, items):
                continue
            event = self._resolve(watch, parties, index, sentence, read, item, anchor, reads)
            if event is not None:
                out.append(event)
        return out

    @staticmethod
    def _actor(item: Hit, anchor: Hit | None, items: list[Hit]) -> bool:
        """Soldiers who act, not soldiers sent: '러시아군이 북한제 미사일을 쐈다', 'российские военные
        применяют северокорейские снаряды' (the subject of using, giving or receiving another item),
        and soldiers beside whom others fight ('러시아군과 함께')."""
        if item.value != "troops":
            return False
        if item.role in ("and", "with"):
            return True
        return item.role == "subj" and anchor is not None and anchor.value in ("use", "give", "receive") \
            and any(other.value != "troops" for other in items)

    def _reporting_use(self, verb: Hit, units: list[Unit]) -> bool:
        """'передаёт ТАСС': a give verb before a news agency reports."""
        nxt = units[verb.last + 1] if verb.last + 1 < len(units) else None
        return nxt is not None and bool(nxt.keys & self.reader.data.reporting_objects)

    def _items(self, read: Read) -> list[Hit]:
        items = [h for h in read.of("item") if not self._attributive(h, read) and not self._army_modifier(h, read)]
        covered = {i for h in items for i in range(h.first, h.last + 1)}
        for model in read.of("model"):                    # a model names its item and its maker
            if model.first not in covered:
                _, item = model.detail.split("|")
                items.append(Hit(model.first, model.last, "item", item, f"origin:{model.value}", model.role))
        items += self._counted_people(read, covered)
        return sorted(items, key=lambda h: h.first)

    def _army_modifier(self, item: Hit, read: Read) -> bool:
        """'러시아군 군복', '러시아군 총참모장', '북한군 발사장': an army named as the owner of the
        next noun, not soldiers. '북한군 가운데', '북한군 1만 명', '북한군 병력' stay soldiers."""
        units = read.units
        if self.code != "ko" or not item.army or units[item.last].role is not None or units[item.last].suffix:
            return False
        nxt = item.last + 1
        if nxt >= len(units) or units[nxt].role == "punct" or units[nxt].text[:1].isdigit() \
                or any(units[nxt].text.startswith(n) for n in self.reader.data.bound_nouns):
            return False
        return not any(h.first <= nxt <= h.last for h in read.hits if h.category in ("item", "verb", "cue", "party"))

    def _attributive(self, item: Hit, read: Read) -> bool:
        """'військових супутників', 'военные объекты': the adjective of another noun, not soldiers."""
        units = read.units
        if self.code == "ko" or item.first != item.last or "ADJF" not in units[item.last].tags:
            return False
        nxt = item.last + 1
        if nxt >= len(units) or "NOUN" not in units[nxt].tags or "PREP" in units[nxt].tags \
                or _fold(units[nxt].text) in self._prepositions or not units[nxt].cases & units[item.last].cases:
            return False
        return not any(h.first <= nxt <= h.last for h in read.hits if h.category in ("party", "place", "demonym"))

    def _counted_people(self, read: Read, covered: set[int]) -> list[Hit]:
        """People counted without a noun for them: '1500여 명이 먼저 도착했다', '1만 5000명을 파병했다',
        'около 3 тысяч человек'. They are the sentence's soldiers (or its dead, by the verb), read
        only where no item word stands beside the figure ('병력 약 1만 2000명' is the item's own)."""
        units, out = read.units, []
        people = self._people_counters
        if self.code == "ko":
            return self._korean_counted(read, covered)
        for i, unit in enumerate(units):
            if i in covered or not (unit.keys & people):
                continue
            j = i - 1
            while j >= 0 and (self._number(units[j]) is not None or units[j].keys & set(self._units)
                              or units[j].text in ("여", "약", "최소")) and i - j <= 4:
                j -= 1
            if j == i - 1:
                continue                                   # no figure before the counter
            near = range(max(0, j - 1), min(len(units), i + 3))
            if any(k in covered for k in near):
                continue
            out.append(Hit(j + 1, i, "item", "troops", "counted", unit.role))
        return out

    def _korean_counted(self, read: Read, covered: set[int]) -> list[Hit]:
        units, out = read.units, []
        if not units:
            return out
        sentence_start = units[0].start
        text = "".join(" " * (u.start - (units[k - 1].end if k else sentence_start)) + u.text
                       for k, u in enumerate(units)).replace("§", " ")
        counters = "|".join(re.escape(c) for c in sorted(self._people_counters, key=len, reverse=True)) or "명"
        for m in re.finditer(self._KO_NUMBER.format(counters=counters), text):
            a, b = m.start("amt") + sentence_start, m.end("amt") + sentence_start
            first = next((k for k, u in enumerate(units) if u.end > a), None)
            last = max((k for k, u in enumerate(units) if u.start < b), default=None)
            if first is None or last is None:
                continue
            near = range(max(0, first - 1), min(len(units), last + 3))
            if any(k in covered for k in near):
                continue
            out.append(Hit(first, last, "item", "troops", "counted", units[last].role))
        return out

    def _modified(self, item: Hit, read: Read) -> bool:
        if item.army:
            return False                  # 조선인민군 부대: the army's units, still its soldiers
        for cue in read.of("cue"):
            if cue.value == "modifier" and cue.first in (item.last + 1, item.last + 2) \
                    and (self.code == "ko" or cue.first == item.last + 1):
                return True
            if cue.value == "modified_before" and cue.last in (item.first - 1, item.first - 2) \
                    and (self.code != "ko" or cue.last == item.first - 1):
                return True
        return False

    def _anchor(self, item: Hit, verbs: list[Hit], units: list[Unit]) -> Hit | None:
        """The verb that says what happened to the item: the nearest in its clause (a participle
        agreeing with it first); a subordinate clause's verb ('..., что составляет ...') is not."""
        verbs = [v for v in verbs if not self._clause_between(units, v, item)]
        if not verbs:
            return None
        def distance(v: Hit) -> float:
            d = v.first - item.last if v.first > item.last else item.first - v.last
            behind = v.first > item.last
            if self.code == "ko" and v.role in ("subj", "obj", "of"):
                d += 5                                  # 운용이 가능한: a verb noun with a particle is an argument
            return d + (0 if behind == (self.code == "ko") else 0.5)     # ko verbs come last
        if self.code != "ko":                     # "Переброшенные в Курск северокорейские солдаты": the
            for verb in verbs:                     # participle that agrees with the item is its verb
                unit = units[verb.last]
                if "PRTF" in unit.tags and 0 < item.first - verb.last <= 6 and unit.cases & units[item.last].cases \
                        and not any(u.text in (",", ";", ":") for u in units[verb.last + 1:item.first]):
                    return verb
        best = min(verbs, key=distance)
        return best if distance(best) <= 14 else None

    def _clause_between(self, units: list[Unit], verb: Hit, item: Hit) -> bool:
        if self.code == "ko":
            return False
        lo, hi = (verb.last, item.first) if verb.last < item.first else (item.last, verb.first)
        for k in range(lo + 1, hi):
            if units[k].text in (",", ";", "—", "–") and k + 1 < len(units) and units[k + 1].keys & _CLAUSE_WORDS:
                if k == item.last + 1 and units[k + 1].keys & _RELATIVE:
                    continue                   # "РСЗВ, які росіяни отримали": the clause is about the item
                return True
        return False

    # ---- roles ----
    def _party_hits(self, read: Read) -> list[Hit]:
        out = []
        for hit in read.hits:
            if hit.category in ("party", "demonym"):
                out.append(hit)
            elif hit.category == "place":
                out.append(Hit(hit.first, hit.last, "place", hit.value, hit.detail, hit.role))
        return out

    def _origin(self, item: Hit, read: Read) -> str | None:
        if item.detail.startswith("origin:"):
            return item.detail.split(":", 1)[1]
        units = read.units
        verbs = {i for h in read.hits if h.category == "verb" for i in range(h.first, h.last + 1)}
        for hit in read.hits:                                   # северокорейские ракеты, 북한제 미사일
            if hit.category == "demonym" and 0 <= item.first - hit.last <= 3 and hit.last < item.first \
                    and not any(k in verbs or units[k].text in (",", ";", ":") or
                                (self.code != "ko" and "NOUN" in units[k].tags and "ADJF" not in units[k].tags)
                                for k in range(hit.last + 1, item.first)):
                return hit.value
        for hit in read.hits:                                   # военные КНДР, снаряды из КНДР, 북한의 미사일
            if hit.category != "party":
                continue
            if self.code == "ko":
                if (hit.role in ("of", "compound") or hit.detail == "army") and 0 < item.first - hit.last <= 2:
                    return hit.value                            # 북한의 미사일, 북한군 사상자
                if hit.role is None and item.first - hit.last == 1:
                    return hit.value                            # 북한 노동자
            elif 0 < hit.first - item.last <= 2 and hit.role in ("of", "of|to", "from", None) and \
                    all(units[k].tags & {"ADJF", "NOUN"} or _fold(units[k].text) in ("из", "з", "із", "зі", "от", "від")
                        for k in range(item.last + 1, hit.first)):
                return hit.value
        return None

    def _clauses(self, read: Read) -> list[int]:
        """Which clause each unit is in. Korean joins clauses with verb endings (넘기면, 보내고,
        보냈으며, 했지만) and commas: to whom and from where belong to their own clause's verb
        ('러, 北에 기술 넘기면 우크라 무기지원 재검토'). Other languages: one clause (their verbs
        are chosen by clause words already)."""
        units = read.units
        if self.code != "ko":
            return [0] * len(units)
        ends = {h.last for h in read.hits if h.category == "verb"
                and re.match(r"(?:[으]?면(?!서)|고|며|으며|지만|는데|은데|어서|아서|해서|니까|면서|거나)", units[h.last].suffix)}
        out, at = [], 0
        for k, unit in enumerate(units):
            out.append(at)
            if k in ends or unit.text == ",":
                at += 1
        return out

    def _owner(self, item: Hit, read: Read) -> str | None:
        """Whose the item is, by a genitive party right after it ('снаряды РФ', 'снарядів рф')."""
        if self.code == "ko":
            return None
        for hit in read.hits:
            if hit.category == "party" and 0 < hit.first - item.last <= 1 and hit.role in ("of", "of|to", None):
                return hit.value
        return None

    def _resolve(self, watch, parties: set[str], index: int, sentence: str, read: Read, item: Hit,
                 anchor: Hit | None, reads) -> Event | None:
        units = read.units
        kind = anchor.value if anchor is not None else None
        people = item.value in _PEOPLE
        origin = self._origin(item, read)
        roles = [h for h in self._party_hits(read) if not (h.first <= item.first <= h.last)]
        pivot = anchor.first if anchor is not None else item.first

        clause = self._clauses(read)

        def pick(wanted: tuple[str, ...], places: bool = False, near: int = pivot) -> Hit | None:
            cands = [h for h in roles if h.role is not None and any(w in h.role.split("|") for w in wanted)
                     and (places or h.category != "place")
                     and (wanted == ("subj",) or clause[h.first] == clause[pivot])
                     and (self.code != "ko" or anchor is None or h.first < anchor.first)]   # Korean: all before the verb
            return min(cands, key=lambda h: abs(h.first - near)) if cands else None

        subj = pick(("subj",))
        if subj is None and self.code != "ko":               # КНДР передала ...: an indeclinable before the verb
            before = [h for h in roles if h.category == "party" and h.role is None and h.last < pivot]
            subj = before[-1] if before else None
        to = pick(("to", "side")) or pick(("to", "side", "at"), places=True)
        frm = pick(("from", "by")) if kind != "receive" else pick(("from",))
        by = pick(("by",))
        at = pick(("at", "to|at"), places=True)
        against = pick(("against",), places=True)
        supplier = recipient = None
        how = kind or "item named"
        with_ = pick(("with",))
        if frm is not None and frm.role == "from|with" and anchor is not None \
                and units[anchor.first].keys & self.reader.data.with_verbs:
            frm, with_ = None, frm                               # "Росія поділиться з КНДР": with, not from
        if subj is not None and subj.category == "demonym" and subj.value not in parties:
            subj = None                                          # "Південнокорейські аналітики": not a party acting
        if kind in ("give", "deploy", None):
            # their own soldiers or shells are theirs to send, whoever the sentence's subject is
            supplier = self._entity(frm) or (origin if origin in parties else None) or self._entity(subj) or origin
            recipient = self._entity(to) or (self._entity(at) if people or kind == "deploy" else None)
            if recipient is None and kind == "give" and with_ is not None and with_.value != supplier \
                    and units[anchor.first].keys & self.reader.data.with_verbs:
                recipient = self._entity(with_)                   # "поделиться с КНДР технологиями"
            if kind == "deploy" and subj is not None and self._entity(subj) != supplier and supplier == origin:
                recipient = recipient or self._entity(subj)
        elif kind == "receive":                                 # "закупки Россией снарядов у КНДР"
            recipient = self._entity(subj) or self._entity(by) or self._entity(to)
            supplier = self._entity(frm) or origin
        elif kind == "use":
            recipient = self._entity(subj) if subj is not None and self._entity(subj) != origin else None
            supplier = origin or self._entity(frm)
            if recipient is None and (against is not None or at is not None):
                recipient = self._entity(against or at)
        elif kind in ("fight", "killed", "wounded", "captured", "missing"):
            supplier = origin or self._entity(subj)
            recipient = self._entity(pick(("side",))) or (self._entity(with_) if with_ is not None and
                                                          with_.value != supplier else None) \
                or self._entity(at) or self._entity(to)          # "разом із росіянами обороняли"
        if kind is None and not people and item.value != "casualties":
            owner = self._owner(item, read) if frm is not None else None
            if owner is None or owner == self._entity(frm):
                return None                                   # a thing named without a verb moves nowhere
            supplier, recipient, how = self._entity(frm), owner, "whose, from where"   # "снарядів рф — з КНДР"
        if kind is None and people and not (origin and (at or to)):
            return None
        if supplier is not None and recipient is not None and (supplier, recipient) not in watch.directions \
                and self._ally(watch, supplier, recipient) is None:
            # "... в Пекине ... сражались при освобождении Курской области": the place the sentence
            # puts them that is in a watched war, nearest the verb
            where = sorted((h for h in roles if h.role and set(h.role.split("|")) & {"to", "at", "side"}
                            and h.category != "demonym"), key=lambda h: abs(h.first - pivot))
            recipient = next((self._entity(h) for h in where if (supplier, self._entity(h)) in watch.directions
                              or self._ally(watch, supplier, self._entity(h))), None)
        # the war: what a party sends against Ukraine goes to the party at war with it
        for side in ("supplier", "recipient"):
            entity = supplier if side == "supplier" else recipient
            if side == "recipient" and entity is not None and entity not in parties:
                ally = self._ally(watch, supplier, entity)
                if ally is not None:
                    recipient = ally
        if supplier is not None and recipient is None:        # the other watched party the sentence names
            others = {self._entity(h) for h in roles if self._entity(h) in parties} - {supplier, None}
            if len(others) == 1 and self._nearby(others, roles, pivot):
                recipient, how = others.pop(), f"{how}; recipient from the sentence"
        if recipient is not None and supplier is None:
            others = {self._entity(h) for h in roles if self._entity(h) in parties} - {recipient, None}
            if len(others) == 1:
                supplier, how = others.pop(), f"{how}; supplier from the sentence"
        borrowed = None
        if (supplier is None) != (recipient is None) and kind is not None:
            known = supplier or recipient
            found = self._borrow(watch, known, supplier is None, index, reads)
            if found is not None:
                other, borrowed = found
                supplier, recipient = (other, recipient) if supplier is None else (supplier, other)
                how = f"{how}; {'supplier' if recipient == known else 'recipient'} from {borrowed.replace('_', ' ')}"
        if (supplier is None or recipient is None) and item.value in _PEOPLE and origin:
            supplier = supplier or origin
            if recipient is None:                             # the war they are in, from a place in it
                places = {h.value for h in roles if h.category == "place"} | \
                    {self._entity(h) for h in roles if h.category == "party"}
                recipient = next((self._ally(watch, supplier, p) or p for p in places
                                  if p and p != supplier and ((supplier, p) in watch.directions
                                                              or self._ally(watch, supplier, p))), None)
        if supplier is None or recipient is None or supplier == recipient:
            return None
        if (supplier, recipient) not in watch.directions:
            return None
        casualty = kind if kind in ("killed", "wounded", "captured", "missing") else None
        if item.value == "casualties" or (people and casualty):
            item_kind = "casualties"
        else:
            item_kind = item.value
        denied = self._denied(read, anchor, item)
        status = "denied" if denied else self._status(read, anchor, item, item_kind, kind)
        if self._hypothetical(read, anchor, item) and not denied:
            return None
        scoring = watch.scoring
        score = {"give": scoring.verb_before_item, "deploy": scoring.verb_before_item, "receive": scoring.receiver_verb,
                 "use": scoring.used_by_recipient, None: scoring.item_without_verb}.get(kind, scoring.combat)
        if "from the sentence" in how:
            score *= scoring.same_sentence
        if borrowed:
            score *= scoring.base(borrowed)
        amounts = self._amounts(sentence, units, item)
        supplier_hit = self._span_of(roles, supplier, units, item) or _implied(supplier)
        recipient_hit = self._span_of(roles, recipient, units, item) or _implied(recipient)
        item_span = ItemHit(units[item.first].start, units[item.last].end, item_kind)
        anchor_span = Anchor(units[anchor.first].start, units[anchor.last].end, "give", _LEMMAS.get(casualty, kind or ""),
                             sentence[units[anchor.first].start:units[anchor.last].end]) if anchor is not None else None
        return Event(index, sentence, supplier_hit, recipient_hit, item_span, anchor_span, score, how, amounts,
                     status, denied, False)

    def _borrow(self, watch, known: str, want_supplier: bool, index: int, reads) -> tuple[str, str] | None:
        """The other party of a transfer from the previous sentence, else the headline: a state
        named there (not a place) that the watch follows to or from `known`."""
        fits = {s for s, r in watch.directions if r == known} if want_supplier else \
            {r for s, r in watch.directions if s == known}
        for at, weight in ((index - 1, "previous_sentence"), (0, "headline")):
            if 0 <= at < index:
                named = [h.value for h in reads[at].hits if h.category in ("party", "demonym") and h.value in fits
                         and h.role != "speaker"]
                if named:
                    return named[0], weight
        return None

    def _nearby(self, others: set[str], roles: list[Hit], pivot: int) -> bool:
        return True

    def _entity(self, hit: Hit | None) -> str | None:
        return hit.value if hit is not None else None

    def _ally(self, watch, supplier: str | None, place_entity: str) -> str | None:
        """A state at war with a watched party: the party at war with it (Ukraine → Russia)."""
        for ally in self.gaz.enemies.get(place_entity, ()):
            if ally != supplier and supplier is not None and (supplier, ally) in watch.directions:
                return ally
        return None

    def _span_of(self, roles: list[Hit], entity: str, units: list[Unit], item: Hit) -> Mention | None:
        hits = [h for h in roles if h.value == entity]
        if not hits:
            return None
        hit = min(hits, key=lambda h: abs(h.first - item.first))
        return Mention(units[hit.first].start, units[hit.last].end, entity, "name",
                       "".join(u.text for u in units[hit.first:hit.last + 1]))

    # ---- status ----
    def _cues(self, read: Read, kind: str) -> list[Hit]:
        return [h for h in read.of("cue") if h.value == kind]

    def _denied(self, read: Read, anchor: Hit | None, item: Hit) -> bool:
        if self._cues(read, "denied"):
            return True
        units = read.units
        if units and units[0].keys & {"никакой", "жодний", "жоден"}:
            return True                                   # "Никаких ... нет": the sentence says none
        if anchor is None:
            anchor = item
            if self.code == "ko":
                return False
        if self.code == "ko":
            suffix = units[anchor.last].suffix
            following = []
            for u in units[anchor.last + 1:anchor.last + 5]:      # 팔거나 공개할 생각이 전혀 없으며
                if u.role == "punct":
                    break
                following.append(u)
            return bool(re.search(r"않|없|아니", suffix)) or any(
                u.text.startswith(("않", "없", "아니")) or u.text in ("안",) for u in following) or \
                any(u.text == "안" for u in units[max(0, anchor.first - 1):anchor.first])
        before = units[max(0, anchor.first - 3):anchor.first]
        negations = {h.first for h in self._cues(read, "negation")}
        if any(i in negations for i in range(max(0, anchor.first - 3), anchor.first)) or \
                any(_fold(u.text) in ("не", "ні", "ни") for u in before[-2:]):
            return True
        # "вопрос о поставках ... не стоит", "поставок не будет": a negated verb later in the clause
        end = max(anchor.last, item.last)
        for k in range(end + 1, min(len(units), end + 8)):
            if units[k].text in (",", ";", ":", "—") or units[k].keys & {"который", "котрий", "что", "що"}:
                break
            if _fold(units[k].text) in ("не", "ні") and k + 1 < len(units) and units[k + 1].tags & {"VERB", "INFN"}:
                return True
        return False

    def _hypothetical(self, read: Read, anchor: Hit | None, item: Hit) -> bool:
        """A question, a condition or a scenario: 'Росія погодилася б', 'если КНДР отправит',
        '러시아가 만약 ... 이전한다면', '병력을 보낼까'."""
        units = read.units
        if units and units[-1].text == "?" or (len(units) > 1 and units[-2].text == "?"):
            return True
        cues = self._cues(read, "hypothetical")
        if self.code != "ko":
            return bool(cues)
        at = anchor if anchor is not None else item
        if any(h.first <= at.first or h.first <= 2 for h in cues if h.value == "hypothetical"
               and units[h.first].text.startswith(("만약", "만일"))):
            return True
        if any(at.last < h.first <= at.last + 2 for h in cues):      # 보낼 경우
            return True
        return bool(re.match(r"(?:[는한]?다면|라면|으면|면(?!서)|[을를]?까)", units[at.last].suffix))

    def _status(self, read: Read, anchor: Hit | None, item: Hit, item_kind: str, kind: str | None) -> str:
        """How far it got: an intent cue near the verb and the item (planned, pledged, agreed: the
        strongest), a future verb, else done: people deployed (in combat where they fight), things
        delivered."""
        units = read.units
        first = min(item.first, anchor.first if anchor is not None else item.first)
        last = max(item.last, anchor.last if anchor is not None else item.last)
        low, high = (first - 3, last + 4) if self.code == "ko" else (first - 5, last + 3)
        if self.code == "ko" and anchor is not None:
            high = max(high, self._korean_chain_end(units, anchor.last))
        for status in ("agreed", "pledged", "planned"):
            if any(low <= cue.first <= high for cue in self._cues(read, status)):
                if status == "planned" and kind in ("use", "killed", "wounded", "captured") :
                    continue
                return status
        if anchor is not None:
            u = units[anchor.first]
            if self.code != "ko" and "futr" in u.tags and "past" not in u.tags and "pres" not in u.tags:
                return "planned"
            if self.code == "ko" and self._korean_future(units, anchor):
                return "planned"
        if item_kind in _PEOPLE:
            if item_kind == "casualties" or kind in ("fight", "killed", "wounded", "captured", "missing") \
                    or self._cues(read, "in_combat"):
                return "in combat"
            return "deployed"
        return "delivered"

    @staticmethod
    def _korean_chain_end(units: list[Unit], at: int) -> int:
        """A verb in its linking form (보내, 보내어, 보내서) shares the tense of the predicate that
        ends the chain: '6천 명을 보내 복구를 맡길 예정' plans the sending too. The unit that
        closes the chain, at most eight on."""
        text = units[at].text if at < len(units) else ""
        if not text.endswith(("내", "해", "어", "아", "여", "서")):
            return at
        for i in range(at + 1, min(len(units), at + 9)):
            if units[i].text.endswith(("다", "다고", "라고", "며", "고", "면서", "다.", "다며")):
                return i
        return at

    @staticmethod
    def _korean_future(units: list[Unit], anchor: Hit) -> bool:
        """보낼 (것/예정/계획), 보내기로: a future form of the verb."""
        unit = units[anchor.last]
        suffix = unit.suffix
        if "기로" in suffix or suffix.startswith(("ㄹ", "을", "할", "될")):
            return True
        last = unit.text[-1] if unit.text else ""
        jong = (ord(last) - 0xAC00) % 28 if "가" <= last <= "힣" else 0
        nxt = units[anchor.last + 1].text if anchor.last + 1 < len(units) else ""
        return jong == 8 and not suffix and nxt.startswith(("것", "예정", "계획", "수", "방침"))   # ㄹ final

    # ---- amounts ----
    def _amounts(self, sentence: str, units: list[Unit], item: Hit) -> tuple:
        found = self._korean_amounts(sentence, units, item) if self.code == "ko" else \
            self._slavic_amounts(sentence, units, item)
        return tuple(replace(a, english=self._english(a, units)) for a in found)

    def _key(self, phrase: str) -> tuple[str, ...]:
        """An amount word as it is looked up: its lemmas (ru/uk), itself (ko)."""
        if self.code == "ko":
            return (phrase,)
        return tuple(sorted(self.reader.words.analyse(w)[0], key=len)[0] for w in phrase.split())

    def _english(self, amount: Amount, units: list[Unit]) -> str:
        """The amount in English, as an alert shows it: 'about 6,000' for '약 6천 명', 'more than
        10,000' for 'понад 10 тисяч', 'thousands of' for '수천 명', '2,000–3,000' for 'от двух до
        трех тысяч'. The original words stay in the evidence."""
        if amount.value is None and amount.low is not None and amount.high is not None:
            return f"{amount.low:,}–{amount.high:,}"
        said = self._amount_words(amount, units)
        if amount.value is not None:
            cue = next((english for key, english in self._in_english if english in self._approx_english
                        and self._says(said, key)), "about" if amount.approx else "")
            figure = f"{amount.value / 1e6:g} million" if amount.value >= 1_000_000 and not amount.value % 100_000 \
                else f"{amount.value:,}"
            return f"{cue} {figure}".strip()
        return next((english for key, english in self._in_english if self._says(said, key)), "")

    @functools.cached_property
    def _approx_english(self) -> frozenset[str]:
        return frozenset((self.reader.data.quantity.get("approx") or {}).values())

    def _amount_words(self, amount: Amount, units: list[Unit]) -> list[frozenset[str]] | str:
        if self.code == "ko":
            return amount.text
        return [u.keys for u in units if amount.start <= u.start and u.end <= amount.end]

    @staticmethod
    def _says(said: list[frozenset[str]] | str, key: tuple[str, ...]) -> bool:
        if isinstance(said, str):
            return key[0] in said
        return any(all(any(k == w or k.startswith(w) and len(w) >= 4 for k in said[i + n]) for n, w in enumerate(key))
                   for i in range(len(said) - len(key) + 1))

    def _slavic_amounts(self, sentence: str, units: list[Unit], item: Hit) -> tuple:
        """[approx] number [тысяч|млн] [adjectives] ITEM ('около 11 тысяч военных', '1,5 млн снарядов',
        'тысячу саперов'), a range ('от тысячи до трех тысяч', '10–12 тысяч'), or a vague amount or
        share ('миллионы снарядов', 'сотни ракет', 'треть'). Counts of formations (бригады) are no
        headcount."""
        if units[item.last].keys & self._formations:
            return ()
        i = item.first - 1
        while i >= 0 and units[i].tags & {"ADJF", "PRTF"} and not units[i].tags & {"NUMR", "NUMB"} and item.first - i <= 3:
            i -= 1
        if i < 0:
            return ()
        end = units[i].end
        figure = self._figure_at(units, i, alone=False)
        if figure is None:
            return self._vague_amount(sentence, units, i, end)
        value, j = figure
        if j >= 2 and _fold(units[j - 1].text) in ("до", "-", "–", "—"):
            low = self._figure_at(units, j - 2, alone=True)
            scale = value / (self._number(units[j]) or value) if j < i else 1     # "от двух до трех тысяч"
            if low is not None and low[1] == j - 2 and self._number(units[j - 2]) is not None \
                    and not units[j - 2].keys & set(self._units) and low[0] * scale < value:
                low = (low[0] * scale, low[1])
            if low is not None and low[0] < value and (_fold(units[j - 1].text) != "до"
                                                       or low[1] > 0 and _fold(units[low[1] - 1].text) in ("от", "від", "з")):
                start = units[low[1] - 1].start if _fold(units[j - 1].text) == "до" else units[low[1]].start
                text = sentence[start:end].strip()
                return (Amount(None, text, start, start + len(text), True, int(low[0]), int(value)),)
        start = units[j].start
        approx_text = self._approx_before(sentence, start)
        if approx_text:
            start -= len(approx_text)
        text = sentence[start:end].strip()
        if value <= 0 or value > 10_000_000:
            return ()
        return (Amount(int(value), text, start, end, bool(approx_text)),)

    def _figure_at(self, units: list[Unit], i: int, alone: bool) -> tuple[float, int] | None:
        """The figure ending at unit i and its first unit: '12', '1,5 млн', 'трех тысяч', 'тысячу'.
        A plural scale word alone ('тысячи', 'миллионы') is vague, not one thousand, unless `alone`
        (the low end of a range: 'от тысячи до ...')."""
        if i < 0:
            return None
        scale = next((self._units[k] for k in units[i].keys if k in self._units), None)
        if scale is None:
            number = self._number(units[i])
            return (number, i) if number is not None else None
        number = self._number(units[i - 1]) if i >= 1 else None
        if number is not None:
            return number * scale, i - 1
        if "plur" in units[i].tags and not alone:
            return None                                    # "тысячи", "миллионы": many, no figure
        return float(scale), i                             # "тысячу саперов", "миллион снарядов"

    def _number(self, unit: Unit) -> float | None:
        text = unit.text.replace("\u00a0", " ").replace(" ", "")
        if re.fullmatch(r"\d+([.,]\d+)?", text):
            if re.fullmatch(r"(19|20)\d\d", text):
                return None                        # a year
            return float(text.replace(",", "."))
        for key in unit.keys:
            if key in self._words:
                return float(self._words[key])
        return None

    def _approx_before(self, sentence: str, start: int) -> str:
        before = _fold(sentence[max(0, start - 24):start])
        for approx in self._approx:
            if re.search(rf"(?:^|\s){re.escape(approx)}\s+$", before):
                m = re.search(rf"{re.escape(approx)}\s+$", before)
                return sentence[start - (len(before) - m.start()):start]
        return ""

    def _vague_amount(self, sentence: str, units: list[Unit], i: int, end: int) -> tuple:
        """'сотни ракет', 'несколько тысяч военных', 'третину снарядів' (by lemma, in any case)."""
        words = set(self._vague) | set(self._share)
        if units[i].keys & words:
            start = units[i - 1].start if i >= 1 and units[i - 1].keys & words else units[i].start
            text = sentence[start:end].strip()
            return (Amount(None, text, start, start + len(text), True),)
        window = _fold(sentence[max(0, units[i].start - 30):end])
        for vague in self._vague + self._share:
            m = re.search(rf"(?:^|\s){re.escape(vague)}\S*\s*$", window)
            if m:
                text = sentence[end - (len(window) - m.start()):end].strip()
                return (Amount(None, text, end - len(text), end, True),)
        return ()

    _KO_NUMBER = (r"(?P<amt>(?:(?:약|최소|최대|적어도)\s*)?(?P<lead>\d[\d,]*(?:\.\d+)?)\s*(?P<big>만|천|백|억)?\s*"
                  r"(?:(?P<tail>\d[\d,]*)\s*(?P<small>천|백)?)?\s*(?P<many>여)?\s*(?P<counter>{counters})"
                  r"(?P<more>\s*(?:가량|이상|넘게|남짓|안팎|정도|쯤)|가량|여)?)")
    _KO_VAGUE = r"(?P<amt>(?:수십만|수백만|수천|수백|수만|수십|여러|수)\s*(?:명|발|기|문|대|개|척))"

    def _korean_amounts(self, sentence: str, units: list[Unit], item: Hit) -> tuple:
        """포탄 100만 발, 병력 약 1만 2000명, 1500여 명의 병력, 미사일 수십 발, 수천 명."""
        end, start0 = units[item.last].end, units[item.first].start
        while start0 > 0 and "가" <= sentence[start0 - 1] <= "힣":
            start0 -= 1                          # the army of '북한군': the amount is before the word
        after, before = sentence[end:end + 28], sentence[max(0, start0 - 28):start0]
        counters = "|".join(re.escape(c) for c in self._counters) or "명|발"
        number = self._KO_NUMBER.format(counters=counters)
        tail = r"^\s*(?:을|를|이|가|은|는|도)?\s*"
        for pattern, text, offset in ((tail + number, after, end), (number + r"(?:의)?\s*$", before, start0 - len(before)),
                                      (tail + self._KO_VAGUE, after, end), (self._KO_VAGUE + r"(?:의)?\s*$", before,
                                                                           start0 - len(before))):
            m = re.search(pattern, text)
            if m is None:
                continue
            start, stop = offset + m.start("amt"), offset + m.end("amt")
            said = sentence[start:stop].strip()
            if "lead" not in m.groupdict():
                return (Amount(None, said, start, start + len(said), True),)
            lead = m.group("lead")
            if re.fullmatch(r"(19|20)\d\d", lead) and not m.group("big"):
                return ()
            scale = {"만": 10_000, "천": 1000, "백": 100, "억": 100_000_000}
            value = float(lead.replace(",", "")) * (scale[m.group("big")] if m.group("big") else 1)
            if m.group("big") and m.group("tail"):
                value += float(m.group("tail").replace(",", "")) * (scale[m.group("small")] if m.group("small") else 1)
            approx = bool(m.group("many") or m.group("more")) or said.startswith(("약", "최소", "적어도"))
            if 0 < value <= 10_000_000:
                return (Amount(int(value), said, start, start + len(said), approx),)
            return ()
        return ()

    # ---- treaties ----
    def _treaty(self, watch, index: int, sentence: str, read: Read, item: Hit, reads) -> list[Event]:
        """A mutual-defence treaty signed or ratified: agreed aid both ways, between two watched
        parties: both named in the sentence, or one here and the other just before (the
        previous sentence or the headline), and no other state a party to it here."""
        parties = {p for pair in watch.directions for p in pair}
        named = {h.value for h in read.hits if h.category in ("party", "demonym")}
        if named - parties:
            return []                                       # another state's treaty ("Russia and Iran signed")
        pair = sorted(named & parties)
        if len(pair) == 1 and index > 0:
            before = {h.value for r in (reads[index - 1], reads[0]) for h in r.hits
                      if h.category in ("party", "demonym") and h.value in parties}
            pair = sorted(set(pair) | before)
        signed = [c for c in self._cues(read, "agreed") + self._cues(read, "pledged")   # the treaty's own name
                  if not item.first <= c.first <= item.last]                         # is no signing
        if len(pair) != 2 or not signed or self._cues(read, "denied"):
            return []
        a, b = pair
        status = "agreed" if any(c.value == "agreed" for c in signed) else "pledged"
        span = ItemHit(read.units[item.first].start, read.units[item.last].end, "weapons")
        out = []
        for supplier, recipient in ((a, b), (b, a)):
            if (supplier, recipient) in watch.directions:
                out.append(Event(index, sentence, Mention(span.start, span.start, supplier, "implied", ""),
                                 Mention(span.start, span.start, recipient, "implied", ""), span, None, 1.0,
                                 "treaty: aid both ways", (), status, False, True))
        return out


def _implied(entity: str) -> Mention:
    """A party the sentence implies but does not name: no span in it."""
    return Mention(0, 0, entity, "implied", "(implied)")


_LEMMAS = {"killed": "kill", "wounded": "wound", "captured": "capture", "missing": "missing"}


@functools.lru_cache(maxsize=None)
def frame_matcher(code: str, gazetteer) -> FrameMatcher:
    return FrameMatcher(code, gazetteer)
