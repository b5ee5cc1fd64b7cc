"""Stories: one real-world event, however many outlets report it and in whatever words, so an
analyst gets one alert per event, and another only when a report adds something material.

Same event is decided by content, not headlines:
  - the facts of the report's lead (direction, item, figures within a tolerance, status);
  - the specific names its lead gives: places, units, weapon models, the agency that reports it;
  - its text, as a MinHash over word shingles (datasketch: a fixed-size signature per story, so a
    rewrite of the same wire copy is found without comparing whole texts);
  - the time between **publication** dates (not when we crawled).
Two reports that name different places or different models are different events, however alike
their headlines (the over-merge guard). Background ("on top of the 11,000 troops sent last year")
is neither what pulls a report into a story nor its news.

Candidates come from an index in memory (`StoryIndex`: the item-and-name pairs and MinHash bands
the stories of the window carry), kept in step with the database, so assigning a report costs a
few lookups however many stories are open.

A report is news to its story when it brings a new item or direction, a figure that differs from
every known one by more than the watch's tolerance (20%), a plan that became a delivery (not a step
between plans: "planned" → "agreed" is often one claim read two ways), a new casualty figure or
kind, or a new place where people were deployed."""

from __future__ import annotations

import bisect
import datetime as dt
import re
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import delete, event, func, select, update
from sqlalchemy.orm import Session

from wirewatch.crawler.analysis.matching.phrases import fold
from wirewatch.crawler.analysis.matching.sentences import split_sentences
from wirewatch.crawler.records import Fact
from wirewatch.crawler.store.schema import Article, Story, utcnow

WINDOW = dt.timedelta(days=14)          # a report joins a story published at most this long before it
RECENT = dt.timedelta(days=2)           # ... or, naming nothing of its own, this long before it
PERMUTATIONS, BAND = 64, 4              # MinHash size; 16 bands of 4 rows index near-duplicate texts
STAGES = {"denied": -1, "reported": 0, "planned": 1, "pledged": 2, "agreed": 3, "delivered": 4, "deployed": 4,
          "in combat": 5}
_BACKGROUND = re.compile(
    r"\b(?:last\s+(?:year|autumn|fall|summer|winter|spring|month)|previously|earlier\s+(?:this|last)\s+\w+|"
    r"so\s+far|to\s+date|since\s+(?:\d{4}|last|the\s+start|then|early|late)|in\s+all|on\s+top\s+of|"
    r"in\s+addition\s+to|adds?\s+to|ha(?:s|ve)\s+long|for\s+(?:months|years)|(?:comes?|came)\s+as|amid|"
    r"ha(?:s|ve)\s+already\s+(?:been\s+)?(?:sent|deployed|delivered|dispatched|supplied|shipped)|"
    r"had\s+(?:already\s+)?(?:been\s+)?(?:sent|deployed|delivered|handed)|(?:sent|deployed|delivered)\s+"
    r"(?:last|earlier|in\s+(?:\d{4}|january|february|march|april|may|june|july|august|september|october|"
    r"november|december)))\b", re.I)


# a figure told as a revision of an earlier one, not as an event of its own
_REVISED = re.compile(
    r"\b(?:now|raised?|raises|revis\w*|up\s+from|down\s+from|updat\w*|latest|estimat\w*|ris(?:es|en|e)|rose|"
    r"climb\w*|grow\w*|grew|reach(?:ed|es)?|totals?|totalling|in\s+all|so\s+far|to\s+date|increas\w*|doubl\w*|"
    r"tripl\w*|correct\w*|lower\w*|toll|tally|count)\b",
    re.I)


@dataclass(frozen=True)
class NewFact:
    fact: Fact
    why: str                                # new item | new direction | figure changed | further along | ...

    def line(self) -> str:
        from wirewatch.alerts.model import fact_line
        return f"{fact_line(self.fact)} — {self.why}"


@dataclass(frozen=True)
class Profile:
    """What one report says about its event."""
    published: dt.datetime
    lead: tuple[Fact, ...]                  # the facts its headline and first sentences tell: its event
    told: tuple[Fact, ...]                  # every fact it tells that is not background: its news
    names: frozenset[str]
    signature: tuple[int, ...]              # MinHash of its title and lead text

    @cached_property
    def revisions(self) -> frozenset[str]:
        """The sentences of its facts that tell a figure as a revision ("now puts the total at")."""
        return frozenset(f.sentence for f in self.told if _REVISED.search(f.sentence))

    @cached_property
    def places(self) -> frozenset[str]:
        return frozenset(n for n in self.names if n.startswith("place:"))

    @property
    def models(self) -> frozenset[str]:
        return frozenset(n for n in self.names if n.startswith("model:"))

    @cached_property
    def pairs(self) -> frozenset[str]:
        return frozenset(_pair(f) for f in self.lead if f.status != "denied")

    @cached_property
    def specific(self) -> frozenset[str]:
        return frozenset(n for n in self.names if n.startswith(("place:", "model:", "unit:")))

    @cached_property
    def keys(self) -> frozenset[str]:
        """What finds the stories it may join: the same item told with the same name, or much the
        same text (`pair:` keys alone find the recent stories of its item)."""
        return frozenset({f"pn:{pair}|{name}" for pair in self.pairs for name in self.specific}
                         | _bands(self.signature))


def _pair(fact) -> str:
    """Direction and item; prisoners taken are another matter than the dead and wounded."""
    get = fact.get if isinstance(fact, dict) else lambda key: getattr(fact, key)
    item = get("item") + (":captured" if get("casualty") in ("captured", "missing") else "")
    return f"{get('supplier')}>{get('recipient')}:{item}"


_STOPWORDS = frozenset("""a an the and or but of to in on at for from by with as is are was were be been has have had
it its it's this that these those they their them he she his her we our you said says say told according
after before over under about into than more most also not no new would could will may might which who
what when where while since during up out so such some any other than then there here one two three""".split())


_PERMUTATIONS = None
SCHEME = "affine32"                     # stored signatures stay comparable: the scheme is fixed


def signature(text: str) -> tuple[int, ...]:
    """A MinHash of the text's content words (datasketch): reports of one event by different outlets
    share their names and nouns rather than their phrasing, so single words, not phrases, are hashed."""
    global _PERMUTATIONS
    from datasketch import MinHash
    words = {w.encode() for w in re.findall(r"[^\W\d_][\w'-]+", text.lower()) if w not in _STOPWORDS}
    if _PERMUTATIONS is None:                   # drawn once: the same seed gives the same ones
        _PERMUTATIONS = MinHash(num_perm=PERMUTATIONS, seed=7, scheme=SCHEME).permutations
    minhash = MinHash(num_perm=PERMUTATIONS, seed=7, permutations=_PERMUTATIONS, scheme=SCHEME)
    minhash.update_batch(sorted(words))
    return tuple(int(v) for v in minhash.hashvalues)


def similarity(a: tuple[int, ...], b: tuple[int, ...] | list[int] | None) -> float:
    if not a or not b or len(a) != len(b):
        return 0.0
    return sum(x == y for x, y in zip(a, b)) / len(a)


def profile(article: Article, facts: tuple[Fact, ...], names: tuple[str, ...]) -> Profile:
    """The lead is the headline and the first two sentences; a fact there that restates a known
    figure ("the 11,000 troops sent last year") is background, not the report's news."""
    sentences = [article.title or ""] + [s for _, s in split_sentences(article.text or "")]
    lead_text = " ".join(sentences[:3])
    told = tuple(f for f in facts if not _background(f, sentences)) or facts
    lead = tuple(f for f in told if f.sentence in lead_text) or told
    published = _aware(article.published_at or utcnow())
    return Profile(published, lead, told, frozenset(n for n in names if not _named_in_background(n, sentences)),
                   signature(lead_text))


def _named_in_background(name: str, sentences: list[str]) -> bool:
    """A place or model named only where the text looks back ("... sent to Kursk last year")."""
    if not name.startswith(("place:", "model:", "unit:")):
        return False
    word = name.rsplit(":", 1)[1].lower()
    said = [s for s in sentences if word in fold(s).lower()]
    return bool(said) and all(_BACKGROUND.search(s) for s in said)


def _background(fact: Fact, sentences: list[str]) -> bool:
    """A restated fact: a background cue in the words around its figure ("the 11,000 troops sent
    last year", "on top of the 11,000"), or, for a fact without one, in its sentence. A figure said
    a sentence after its report is read where it stands."""
    sentence = fact.sentence
    if fact.quantity_text and fact.quantity_text not in sentence:
        sentence = next((s for s in sentences if fact.quantity_text in s), sentence)
    if fact.quantity_text and fact.quantity_text in sentence:
        at = sentence.index(fact.quantity_text)
        sentence = sentence[max(0, at - 40):at + len(fact.quantity_text) + 60]
    return bool(_BACKGROUND.search(sentence))


# ---- the same event? ---------------------------------------------------------------------------

def _known(story: Story) -> list[dict]:
    return [dict(k) for k in story.known or []]          # copies: a change must show as one


def _names(story: Story) -> dict[str, int]:
    """Name → how many of the story's reports give it (its first report counts twice)."""
    names = story.names or {}
    return {n: 2 for n in names} if isinstance(names, list) else dict(names)


def _figures_agree(a: float, b: float, tolerance: float) -> bool:
    return abs(a - b) <= tolerance * max(abs(a), abs(b))


def same_event(p: Profile, story: Story, tolerance: float) -> float:
    """How strongly the report tells the story's event (0: a different event)."""
    text = similarity(p.signature, story.minhash)
    weights = story.names if isinstance(story.names, dict) else _names(story)
    names = weights.keys()
    if any(n.startswith("confirmed:") and n not in names for n in p.names):
        return 0.0                                  # a party's own first word on it is an event of its own
    # the places the story is about: its first report's, or named again; not one named in passing
    story_places = {n for n, w in weights.items() if n.startswith("place:") and w >= 2}
    if p.places and story_places and not p.places & story_places:
        return 0.0                                  # different places: a different event, however alike the words
    known = story.known or []
    keyed = [(_pair(k), k) for k in known]
    pairs = {pair for pair, k in keyed if k.get("lead", True)}      # what its reports lead with: the event
    told = {pair for pair, _ in keyed}                              # and what they say besides
    shared = [f for f in p.lead if _pair(f) in pairs and f.status != "denied"]
    mentioned = [f for f in p.lead if _pair(f) in told - pairs and f.status != "denied"]
    if not shared and not mentioned and (text < 0.35 or any(f.item != "weapons" for f in p.lead)):
        return 0.0                                  # it leads with something else: another event
    if text >= 0.7 and not _figures_conflict(p, known, tolerance):
        return 1.0 + text                           # the same copy, rewritten or syndicated
    # "weapons" alone is what every report of this aid says; a treaty (agreed both ways) is specific
    specific_items = [f for f in shared if f.item != "weapons" or (
        _mutual(f, p.lead) and f"{f.recipient}>{f.supplier}:{f.item}" in pairs)]
    evidence = 1.0 if specific_items else 0.5 if shared or mentioned else 0.0
    common = {n for n in p.names if n in names}
    specific = {n for n in common if not n.startswith("agency:")}
    evidence += min(1.5, 0.75 + 0.25 * len(specific)) if specific else 0.0
    evidence += 0.5 if common - specific else 0.0                     # the same reporting agency
    evidence += 1.0 if text >= 0.3 else 0.5 if text >= 0.18 else 0.0
    figured = [(f, k) for f in shared + mentioned if f.quantity is not None for pair, k in keyed
               if pair == _pair(f) and k.get("quantity") is not None and k.get("casualty") == f.casualty]
    if figured:
        if any(_figures_agree(f.quantity, k["quantity"], tolerance) for f, k in figured):
            evidence += 1.0
        elif not any(f.sentence in p.revisions for f, _ in figured):
            return 0.0                              # another figure, not told as a revision: another event
        else:                                       # the same event revised ("now puts the total at")
            evidence -= 0.5 if specific else 1.0
    days = abs((p.published - _aware(story.last_published or story.created_at)).total_seconds()) / 86400
    evidence += 0.5 if days <= 2 else -0.5 if days > 4 else 0.0
    if specific_items and not any(f.quantity is not None for f in p.lead) and all(n in names for n in p.specific):
        evidence += 0.5                             # nothing sets it apart: no figure, no name of its own
    return evidence if evidence >= 2.0 else 0.0


def _figures_conflict(p: Profile, known: list[dict], tolerance: float) -> bool:
    """The report's lead gives a figure for something the story counts, and no count agrees."""
    for fact in p.lead:
        counts = [k["quantity"] for k in known if _pair(k) == _pair(fact) and k.get("quantity") is not None
                  and k.get("casualty") == fact.casualty]
        if fact.quantity is not None and counts and not any(_figures_agree(fact.quantity, q, tolerance)
                                                            for q in counts):
            return True
    return False


def _mutual(fact: Fact, facts: tuple[Fact, ...]) -> bool:
    return any(f.item == fact.item and f.supplier == fact.recipient and f.recipient == fact.supplier for f in facts)


def _aware(when: dt.datetime) -> dt.datetime:
    return when if when.tzinfo else when.replace(tzinfo=dt.timezone.utc)


# ---- what is new -------------------------------------------------------------------------------

def news(p: Profile, story: Story, tolerance: float) -> list[NewFact]:
    """What the report adds to its story, material things only."""
    known = _known(story)
    found: list[NewFact] = []
    for fact in p.told:
        if fact.status == "denied":
            continue
        direction = [k for k in known if k["supplier"] == fact.supplier and k["recipient"] == fact.recipient]
        if fact.item == "weapons" and fact.quantity is None and direction:
            continue                        # "accused of arming Moscow": says nothing the story lacks
        same = [k for k in known if _pair(k) == _pair(fact) and k.get("casualty") == fact.casualty]
        if not same and fact.quantity is not None and any(k.get("quantity") == fact.quantity for k in direction):
            continue                        # "36 launchers" after "36 missile vehicles": one thing, named twice
        if fact.item == "casualties" and fact.quantity is None and any(k["item"] == "casualties" for k in direction):
            continue                        # "losses mount": a casualty report without a figure adds none
        if not same:
            kind = "new casualty figure" if fact.item == "casualties" else "new item" if direction else "new direction"
            found.append(NewFact(fact, kind))
            continue
        figures = [k["quantity"] for k in same if k.get("quantity") is not None]
        if fact.casualty == "total":        # "about 3,000 killed or wounded" after "300 killed and 2,700 wounded"
            hurt = [k for k in direction if k["item"] == "casualties" and k.get("casualty") in ("killed", "wounded")
                    and k.get("quantity") is not None]
            figures.append(sum(k["quantity"] for k in hurt)) if hurt else None
        if (fact.quantity or 0) > 1 and (not figures or all(not _figures_agree(fact.quantity, q, tolerance)
                                                             for q in figures)):
            found.append(NewFact(fact, "new casualty figure" if fact.item == "casualties"
                                 else "figure changed" if figures else "first figure"))
            continue
        stage = STAGES.get(fact.status, 0)
        if stage >= STAGES["delivered"] > max(STAGES.get(k.get("status"), 0) for k in same):
            before = max((k.get("status") for k in same), key=lambda s: STAGES.get(s, 0))
            found.append(NewFact(fact, f"{before} → {fact.status}"))
    placed = any(n.startswith("place:") for n in _names(story))        # a place is new against a known one:
    for fact in (f for f in p.told if placed and f.status != "denied" and f.item != "casualties"):
        if any(n.fact.item == fact.item for n in found):
            break
        home = fact.supplier.lower().replace(" ", "_")       # where they or it went, as their own sentence says,
        said = fold(fact.sentence).lower()                   # not where they came from or a place named in passing
        places = sorted(n.rsplit(":", 1)[1].title() for n in p.places - set(_names(story))
                        if n.split(":")[1] != home and n.rsplit(":", 1)[1] in said)
        if places:
            found.append(NewFact(fact, f"new place: {', '.join(places)}"))
            break
    for party in sorted(n.split(":", 1)[1] for n in p.names - set(_names(story)) if n.startswith("confirmed:")):
        if p.told:                           # first word from a party itself: Moscow or Pyongyang admits it
            found.append(NewFact(p.told[0], f"now confirmed by {party.replace('_', ' ').title()}"))
    return found


# ---- assigning -----------------------------------------------------------------------------------

@dataclass(frozen=True)
class Assignment:
    story: Story
    first: bool                              # the story starts with this report
    news: tuple[NewFact, ...]                # what it adds (empty for a repeat)

    @property
    def material(self) -> bool:
        return self.first or bool(self.news)


def assign_story(session: Session, watch: str, article: Article, facts: tuple[Fact, ...],
                 names: tuple[str, ...] = (), tolerance: float = 0.2, story_id: int | None = None) -> Assignment:
    """The story the report tells (a new one, numbered `story_id` if given, when none fits)."""
    p = profile(article, facts, names)
    index = StoryIndex.of(session)
    while True:
        best, best_score = None, 0.0
        for story in index.candidates(session, watch, p):
            score = same_event(p, story, tolerance)
            if score > best_score:
                best, best_score = story, score
        chosen = session.get(Story, best.id) if best is not None else None
        if best is None or chosen is not None:
            break
        index.drop(best.id)                  # gone from the database (regrouped elsewhere): look again
    if chosen is None:
        chosen = Story(id=story_id, watch=watch, title=article.title, articles=0, first_published=p.published,
                       last_published=p.published, known=[], names={}, minhash=list(p.signature), alerts=0)
        _absorb(chosen, p, facts)
        session.add(chosen)
        session.flush()                      # one INSERT, with what it learnt: its id for the index
        found: tuple[NewFact, ...] = ()
    else:
        found = tuple(news(p, chosen, tolerance))
        _absorb(chosen, p, facts)
    index.changed(session, chosen)
    return Assignment(chosen, best is None, found)


def _absorb(story: Story, p: Profile, facts: tuple[Fact, ...]) -> None:
    """The story learns the report's facts and names."""
    known = _known(story)
    for fact in facts:
        entry = {"supplier": fact.supplier, "recipient": fact.recipient, "item": fact.item,
                 "quantity": fact.quantity, "status": fact.status, "casualty": fact.casualty,
                 "lead": fact in p.lead}
        same = next((k for k in known if {**k, "lead": entry["lead"]} == entry), None)
        if same is None:
            known.append(entry)
        elif entry["lead"]:
            same["lead"] = True
    story.known = known
    weights = _names(story)
    for name in p.names:
        weights[name] = weights.get(name, 0) + (1 if story.articles else 2)
    story.names = dict(sorted(weights.items()))
    story.articles = (story.articles or 0) + 1
    published = _aware(p.published)
    story.last_published = max(_aware(story.last_published or published), published)
    story.first_published = min(_aware(story.first_published or published), published)
    story.updated_at = utcnow()


# ---- finding candidates --------------------------------------------------------------------------

@dataclass
class Open:
    """A story as the index holds it: what same_event reads, and the keys that find it."""
    id: int
    watch: str
    known: list
    names: dict
    minhash: list | None
    first_published: dt.datetime
    last_published: dt.datetime
    created_at: dt.datetime | None
    updated_at: dt.datetime | None
    keys: frozenset[str] = frozenset()

    @classmethod
    def of(cls, row) -> "Open":
        first = _aware(row.first_published or row.created_at or utcnow())
        story = cls(row.id, row.watch, list(row.known or []), dict(_names(row)), row.minhash, first,
                    _aware(row.last_published or first), row.created_at, row.updated_at)
        leads = {_pair(k) for k in story.known if k.get("lead", True) and k.get("status") != "denied"}
        specific = {n for n in story.names if n.startswith(("place:", "model:", "unit:"))}
        story.keys = frozenset({f"pn:{pair}|{name}" for pair in leads for name in specific}
                               | {f"pair:{_pair(k)}" for k in story.known if k.get("status") != "denied"}
                               | _bands(tuple(story.minhash or ())))
        return story


_COLUMNS = (Story.id, Story.watch, Story.known, Story.names, Story.minhash, Story.first_published,
            Story.last_published, Story.created_at, Story.updated_at)


class StoryIndex:
    """The stories of the window, in memory, found by key: the same item told with the same name
    ("pn:North Korea>Russia:troops|place:russia:kursk"), much the same text (MinHash bands), or the
    same item lately. Finding a report's candidates costs a few dictionary lookups however many
    stories are open.

    It follows the database, which stays the truth: at most once a second a lookup first reads the
    stories changed since the last look (by `updated_at`, with a margin for transactions that
    committed late), so several processes and machines writing stories see each other's within a
    second. Stories this transaction changed are held apart (an overlay for the session) until it
    commits, and dropped if it rolls back. A story is loaded when the window first reaches back to it, so a regrouping of last
    month's reports finds last month's stories."""

    MARGIN = dt.timedelta(seconds=10)
    EVERY = 1.0                                          # seconds between looks for others' changes
    _indexes: dict[str, "StoryIndex"] = {}
    _guard = threading.Lock()

    def __init__(self) -> None:
        self.stories: dict[int, Open] = {}
        self.by_key: dict[str, set[int]] = defaultdict(set)        # item-and-name keys, text bands
        self.timeline: dict[str, list[tuple[dt.datetime, int]]] = {}  # item → (last published, story)
        self.low: dt.datetime | None = None              # stories last published since then are loaded
        self.synced: dt.datetime | None = None           # changes up to this updated_at are read
        self.looked = 0.0                                # monotonic time of the last look
        self.lock = threading.Lock()

    @classmethod
    def of(cls, session: Session) -> "StoryIndex":
        url = session.get_bind().url.render_as_string(hide_password=True)
        with cls._guard:
            return cls._indexes.setdefault(url, cls())

    @classmethod
    def reset_all(cls) -> None:
        with cls._guard:
            cls._indexes.clear()

    @classmethod
    def reset(cls, session: Session) -> None:
        """Forget what is held for this database (after `rescan --restory` regrouped it)."""
        with cls._guard:
            cls._indexes.pop(session.get_bind().url.render_as_string(hide_password=True), None)

    # -- lookups --
    def candidates(self, session: Session, watch: str, p: Profile) -> list[Open]:
        low, high = p.published - WINDOW, p.published + dt.timedelta(days=2)
        overlay = _overlay(session)
        with self.lock:
            self._sync(session, low)
            pool = self._found(p, low, high)
        pool.update(overlay._found(p, low, high))          # this transaction's, newer
        keys = p.keys
        out = [s for s in pool.values() if s.watch == watch and s.last_published >= low and s.first_published <= high]
        shared = sorted((s for s in out if s.keys & keys), key=lambda s: (-len(s.keys & keys), s.id))[:15]
        recent = sorted((s for s in out if s not in shared and s.last_published >= p.published - RECENT),
                        key=lambda s: s.last_published, reverse=True)[:8]
        return shared + recent

    def _found(self, p: Profile, low: dt.datetime, high: dt.datetime) -> dict[int, Open]:
        """Stories sharing a key, and the latest few telling one of its items before `high`."""
        found: dict[int, Open] = {}
        for key in p.keys:
            found.update((i, self.stories[i]) for i in self.by_key.get(key, ()))
        for key in _pair_keys(p):
            line = self.timeline.get(key, [])
            at = bisect.bisect_right(line, (high, float("inf")))
            taken = 0
            while at > 0 and taken < 8:
                at -= 1
                when, story_id = line[at]
                if when < p.published - RECENT:
                    break
                found[story_id], taken = self.stories[story_id], taken + 1
        return found

    # -- keeping in step --
    def changed(self, session: Session, story: Story) -> None:
        """This transaction changed `story`: seen at once by its own later lookups, and by every
        lookup in this process once it commits."""
        _overlay(session)._put(Open.of(story))
        if not session.info.get("stories_hooked"):
            session.info["stories_hooked"] = True
            event.listen(session, "after_commit", lambda s: self._committed(s))

    def _committed(self, session: Session) -> None:
        held = session.info.pop("stories", None)
        if held:
            with self.lock:
                for story in held[1].stories.values():
                    self._put(story)

    def drop(self, story_id: int) -> None:
        with self.lock:
            self._remove(story_id)

    def _sync(self, session: Session, low: dt.datetime) -> None:
        if self.low is None or low < self.low:
            query = select(*_COLUMNS).where(Story.last_published >= low)
            if self.low is not None:
                query = query.where(Story.last_published < self.low)
            for row in session.execute(query):
                self._put(Open.of(row))
            self.low = low
            self.synced = self.synced or session.scalar(select(func.max(Story.updated_at)))
        if self.synced is None:
            self.synced = session.scalar(select(func.max(Story.updated_at)))
            if self.synced is None:
                self.synced = dt.datetime(1970, 1, 1)
            return
        if time.monotonic() - self.looked < self.EVERY:
            return                                       # this process's own changes are already here
        self.looked = time.monotonic()
        since = self.synced - self.MARGIN
        changed = [i for i, when in session.execute(select(Story.id, Story.updated_at)
                                                     .where(Story.updated_at > since))
                   if i not in self.stories or self.stories[i].updated_at != when]
        for chunk in (changed[i:i + 500] for i in range(0, len(changed), 500)):
            for row in session.execute(select(*_COLUMNS).where(Story.id.in_(chunk))):
                self._put(Open.of(row))
                self.synced = max(self.synced, row.updated_at)

    def _put(self, story: Open) -> None:
        self._remove(story.id)
        self.stories[story.id] = story
        for key in story.keys:
            if key.startswith("pair:"):                  # the stories of an item, by last report
                bisect.insort(self.timeline.setdefault(key, []), (story.last_published, story.id))
            else:
                self.by_key[key].add(story.id)

    def _remove(self, story_id: int) -> None:
        old = self.stories.pop(story_id, None)
        for key in old.keys if old is not None else ():
            if key.startswith("pair:"):
                line = self.timeline[key]
                at = bisect.bisect_left(line, (old.last_published, story_id))
                if at < len(line) and line[at] == (old.last_published, story_id):
                    del line[at]
            else:
                self.by_key[key].discard(story_id)


def _overlay(session: Session) -> StoryIndex:
    """Stories changed by the session's current transaction, not yet committed, indexed alike."""
    transaction = session.get_transaction()
    held = session.info.get("stories")
    if held is None or held[0] is not transaction:
        held = session.info["stories"] = (transaction, StoryIndex())
    return held[1]


def _bands(signature: tuple[int, ...]) -> set[str]:
    return {f"band:{i}:{hash(signature[i:i + BAND]) & 0xFFFFFFFF:x}"
            for i in range(0, PERMUTATIONS, BAND)} if len(signature) == PERMUTATIONS else set()


def _pair_keys(p: Profile) -> set[str]:
    return {f"pair:{pair}" for pair in p.pairs}


def forget_stories(session: Session, story_ids: list[int]) -> None:
    """Before regrouping (`rescan --restory`): these stories and every link to them go; their
    reports are assigned again."""
    from wirewatch.crawler.store.schema import MatchRow
    for chunk in (story_ids[i:i + 500] for i in range(0, len(story_ids), 500)):
        session.execute(update(MatchRow).where(MatchRow.story_id.in_(chunk)).values(story_id=None))
        session.execute(update(Article).where(Article.story_id.in_(chunk)).values(story_id=None))
        session.execute(delete(Story).where(Story.id.in_(chunk)))
    session.flush()
    StoryIndex.reset(session)
