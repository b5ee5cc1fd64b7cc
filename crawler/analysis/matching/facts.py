"""From scored events to the facts an analyst reads: one fact per direction, item and figure
(each figure the text gives for an item is a fact of its own: "raised from 3,000 to 10,000" is
two), figures stated a sentence later attached to their report, and casualties as facts of their
own kind, never a deployment figure.

Every step is linear in the number of events and sentences (indexes, not nested scans), so a
page made only of matching sentences costs no more per sentence than a normal one."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import replace

from wirewatch.crawler.analysis.matching.amounts import Amount, amount_before, figure_for_previous
from wirewatch.crawler.analysis.matching.casualties import Casualties, read_casualties
from wirewatch.crawler.analysis.matching.events import Analysis, Event
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer
from wirewatch.crawler.analysis.matching.lexicon import Lexicon
from wirewatch.crawler.records import Fact

# how far a transfer has got; a later sentence saying more of the same fact raises it
_STAGE = {"denied": -1, "reported": 0, "planned": 1, "pledged": 2, "agreed": 3}


def _key(fact: Fact) -> tuple:
    return fact.supplier, fact.recipient, fact.item, fact.quantity, fact.quantity_text if fact.quantity is None \
        else None, fact.casualty


_HURT = {"kill": "killed", "die": "killed", "wound": "wounded", "injure": "wounded", "capture": "captured"}
_HURT_NEAR = re.compile(r"\b(?:(?P<captured>captured|taken\s+prisoner|took\s+\S+\s+prisoner|prisoners?|"
                        r"POWs?|captive)|(?P<killed>killed|dead|slain|fallen)|(?P<wounded>wounded|injured))\b", re.I)


def _casualty_kind(e: Event) -> str | None:
    """Killed, wounded or captured people: by the verb acting on them ('captured two soldiers'),
    or by the word right before them or right after ('the captured soldiers', 'soldiers killed')."""
    if e.anchor is not None and e.anchor.lemma in _HURT:
        return _HURT[e.anchor.lemma]
    near = e.sentence[max(0, e.item.start - 40):e.item.start] + " | " + e.sentence[e.item.end:e.item.end + 30]
    found = _HURT_NEAR.search(near)
    return found.lastgroup if found else None


def with_amount(fact: Fact, amount: Amount | None) -> Fact:
    if amount is None:
        return fact
    bounds = (amount.low, amount.high) if amount.range else None
    return replace(fact, quantity=amount.value, approx=amount.approx and amount.value is not None,
                   quantity_text=(amount.english or amount.text).strip(), quantity_range=bounds)


class FactBuilder:
    def __init__(self, gazetteer: Gazetteer, lexicon: Lexicon):
        self.gaz = gazetteer
        self.lex = lexicon

    def build(self, events: list[Event], orphans: list[Analysis], sentences: list[str]) -> list[Fact]:
        casualties = self._casualty_readings(events, sentences)
        events = self._named_better(events)
        facts = self._distinct([f for e in events for f in self._facts(e, casualties.get(e.sentence_index, []))])
        facts = self._attach_later_figures(facts, events, orphans, sentences)
        return facts + self._casualty_facts(casualties, events, sentences)

    @staticmethod
    def _named_better(events: list[Event]) -> list[Event]:
        """'Pyongyang's guns reach the front' over '166 anti-aircraft guns have reached Russia': the
        bare word, without a figure, is the fuller name's thing, not another class of item."""
        def words(e: Event) -> list[str]:
            return e.sentence[e.item.start:e.item.end].lower().split()
        fuller = {(e.supplier.entity, e.recipient.entity, words(e)[-1]): e.item.kind for e in events
                  if len(words(e)) > 1}
        return [e for e in events if e.amounts or len(words(e)) != 1
                or fuller.get((e.supplier.entity, e.recipient.entity, words(e)[0]), e.item.kind) == e.item.kind]

    # ---- transfers -----------------------------------------------------------------------------
    def _facts(self, e: Event, casualties: list[Casualties]) -> list[Fact]:
        """One fact per figure the text gives for the event's item (or one without a figure).
        People whose words a casualty figure read, or whom the verb kills, wounds or captures, are
        casualties, not a deployment."""
        supplier, recipient = self.gaz.label(e.supplier.entity), self.gaz.label(e.recipient.entity)
        if e.item.kind in self.lex.personnel:
            if e.denied and _casualty_kind(e) is not None:
                return []                     # "no North Korean soldiers have been captured": nothing
            counted = [c for c in casualties if c.start <= e.item.start < c.end or
                       (e.anchor is not None and c.start <= e.anchor.start < c.end)]
            if any(not c.amount.share for c in counted):
                return []                     # the people the casualty figure counts
            if counted:                       # "40% of the 11,000 soldiers sent": the 11,000 were sent
                e = replace(e, status="deployed")
            kind = _casualty_kind(e) or ("total" if e.item.kind == "casualties" else None)
            if kind is not None:
                base = Fact(supplier, recipient, "casualties", None, False, "in combat", e.sentence, casualty=kind)
                return [with_amount(base, amount) for amount in e.amounts] or [base]
        base = Fact(supplier, recipient, e.item.kind, None, False, e.status, e.sentence)
        return [with_amount(base, amount) for amount in e.amounts] or [base]

    def _distinct(self, facts: list[Fact]) -> list[Fact]:
        """One fact per (direction, item, figure); a figureless fact gives way to one with a figure."""
        out: list[Fact] = []
        position: dict[tuple, int] = {}          # fact key → its index in `out`
        for fact in facts:
            key = _key(fact)
            if key in position:                  # the same fact again: keep the most advanced status
                known = out[position[key]]
                stronger = _STAGE.get(fact.status, 4) > _STAGE.get(known.status, 4)
                hedged = fact.approx and not known.approx     # "about 3,000" says more than a headline's "3,000"
                out[position[key]] = replace(known, approx=known.approx or fact.approx,
                                             quantity_text=fact.quantity_text if hedged else known.quantity_text,
                                             status=fact.status if stronger else known.status)
            else:
                position[key] = len(out)
                out.append(fact)
        with_words = {(f.item, f.supplier) for f in out if f.quantity is not None or f.quantity_text}
        out = [f for f in out if f.quantity is not None or f.quantity_text or (f.item, f.supplier) not in with_words]
        vague: set[tuple] = set()               # "millions of shells" then "several million shells": one claim
        kept = []
        for f in out:
            if f.quantity is None and f.quantity_text:
                key = (f.supplier, f.recipient, f.item, f.casualty)
                if key in vague:
                    continue
                vague.add(key)
            kept.append(f)
        # "military assistance, including 200 artillery pieces and ammunition": the umbrella is its items
        named = {(f.supplier, f.recipient, f.sentence) for f in kept if f.item != "weapons"}
        return [f for f in kept if not (f.item == "weapons" and f.quantity is None and not f.quantity_text
                                        and (f.supplier, f.recipient, f.sentence) in named)]

    def _attach_later_figures(self, facts: list[Fact], events: list[Event], orphans: list[Analysis],
                              sentences: list[str]) -> list[Fact]:
        """'The ministry put the new deployment at around 3,000 troops.' / 'Twenty arrived in the
        past month.' - a figure without parties continues the report of the sentence or two before."""
        by_sentence: dict[int, Event] = {}
        by_kind: dict[tuple[int, str], Event] = {}
        for e in events:
            by_sentence.setdefault(e.sentence_index, e)
            by_kind.setdefault((e.sentence_index, e.item.kind), e)
        figureless: dict[tuple[str, str], list[int]] = defaultdict(list)
        for index, f in enumerate(facts):
            if f.quantity is None and not f.quantity_text:
                figureless[(f.item, f.supplier)].append(index)
        extra: list[Fact] = []
        keys = {_key(f) for f in facts}
        for a in orphans:
            amount = amount_before(sentences[a.sentence], a.item.start)
            e = next((by_kind[(a.sentence - back, a.item.kind)] for back in (2, 1)
                      if (a.sentence - back, a.item.kind) in by_kind), None)
            if amount is not None and e is not None:
                self._place(facts, extra, figureless, keys, e, amount)
        for index, sentence in enumerate(sentences):
            if index in by_sentence or index - 1 not in by_sentence:
                continue
            amount = figure_for_previous(sentence)
            if amount is not None:
                self._place(facts, extra, figureless, keys, by_sentence[index - 1], amount)
        return facts + extra

    def _place(self, facts: list[Fact], extra: list[Fact], figureless, keys: set, e: Event,
               amount: Amount) -> None:
        if e.item.kind == "casualties":          # casualty figures are read where they stand
            return
        waiting = figureless[(e.item.kind, self.gaz.label(e.supplier.entity))]
        if waiting:
            index = waiting.pop(0)
            facts[index] = with_amount(facts[index], amount)
            keys.add(_key(facts[index]))
            return
        base = Fact(self.gaz.label(e.supplier.entity), self.gaz.label(e.recipient.entity), e.item.kind, None,
                    False, e.status, e.sentence)
        fact = with_amount(base, amount)
        if _key(fact) not in keys:
            keys.add(_key(fact))
            extra.append(fact)

    # ---- casualties ----------------------------------------------------------------------------
    def _casualty_readings(self, events: list[Event], sentences: list[str]) -> dict[int, list[Casualties]]:
        """Casualty figures in sentences about people the watch follows: in a sentence with (or up
        to two after) a report of people, or after the first one."""
        people = [e for e in events if e.item.kind in self.lex.personnel and not e.denied]
        if not people:
            return {}
        first = min(e.sentence_index for e in people)
        near = {e.sentence_index + d for e in people for d in (0, 1, 2)}
        return {index: readings for index, sent in enumerate(sentences)
                if (index in near or index > first) and (readings := read_casualties(sent))}

    def _casualty_facts(self, casualties: dict[int, list[Casualties]], events: list[Event],
                        sentences: list[str]) -> list[Fact]:
        people = sorted((e for e in events if e.item.kind in self.lex.personnel and not e.denied),
                        key=lambda e: e.sentence_index)
        found: list[Fact] = []
        seen: set[tuple] = set()
        at = 0                                    # the last report of people at or before the sentence
        for index, readings in sorted(casualties.items()):
            while at + 1 < len(people) and people[at + 1].sentence_index <= index:
                at += 1
            near = people[at]
            for reading in readings:
                amount = reading.amount
                key = (amount.value, amount.text.lower(), reading.kind)
                if key in seen:
                    continue
                seen.add(key)
                base = Fact(self.gaz.label(near.supplier.entity), self.gaz.label(near.recipient.entity),
                            "casualties", None, False, "in combat", sentences[index], casualty=reading.kind)
                found.append(with_amount(base, amount))
        return found
