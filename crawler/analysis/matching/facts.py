"""From scored events to the facts an analyst reads: one fact per direction, item and figure,
figures stated a sentence later attached to their report, casualty counts of deployed people.

Every step is linear in the number of events and sentences (indexes, not nested scans), so a
page made only of matching sentences costs no more per sentence than a normal one."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace

from wirewatch.crawler.analysis.matching.events import Analysis, Event
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer
from wirewatch.crawler.analysis.matching.lexicon import Lexicon
from wirewatch.crawler.analysis.matching.quantities import CASUALTY, quantity_before, value_of
from wirewatch.crawler.records import Fact

# how far a transfer has got; a later sentence saying more of the same fact raises it
_STAGE = {"reported": 0, "planned": 1, "pledged": 2, "agreed": 3}


def _key(fact: Fact) -> tuple:
    return fact.supplier, fact.recipient, fact.item, fact.quantity


class FactBuilder:
    def __init__(self, gazetteer: Gazetteer, lexicon: Lexicon):
        self.gaz = gazetteer
        self.lex = lexicon

    def build(self, events: list[Event], orphans: list[Analysis], sentences: list[str]) -> list[Fact]:
        facts = self._distinct(events) + self._casualties(events, sentences)
        return self._attach_orphan_quantities(facts, events, orphans, sentences)

    def _fact(self, e: Event) -> Fact:
        return Fact(self.gaz.label(e.supplier.entity), self.gaz.label(e.recipient.entity), e.item.kind,
                    e.quantity, e.approx, e.status, e.sentence)

    def _distinct(self, events: list[Event]) -> list[Fact]:
        """One fact per (direction, item, figure); a figureless fact gives way to one with a figure."""
        facts: list[Fact] = []
        position: dict[tuple, int] = {}          # fact key → its index in `facts`
        for e in sorted(events, key=lambda e: (e.sentence_index, e.item.start)):
            fact = self._fact(e)
            key = _key(fact)
            if key in position:                  # the same fact again: keep the most advanced status
                known = facts[position[key]]
                stronger = _STAGE.get(fact.status, 4) > _STAGE.get(known.status, 4)
                facts[position[key]] = replace(known, approx=known.approx or fact.approx,
                                               status=fact.status if stronger else known.status)
            elif fact.quantity is not None or (fact.supplier, fact.recipient, fact.item, None) not in position:
                position[key] = len(facts)
                facts.append(fact)
        with_figure = {(f.item, f.supplier) for f in facts if f.quantity is not None}
        return [f for f in facts if f.quantity is not None or (f.item, f.supplier) not in with_figure]

    def _attach_orphan_quantities(self, facts: list[Fact], events: list[Event], orphans: list[Analysis],
                                  sentences: list[str]) -> list[Fact]:
        """'The ministry put the new deployment at around 3,000 troops.' - a count without parties
        continues the report of the same item in the sentence or two before."""
        by_sentence: dict[tuple[int, str], Event] = {}
        for e in events:
            by_sentence.setdefault((e.sentence_index, e.item.kind), e)
        figureless: dict[tuple[str, str], list[int]] = defaultdict(list)   # in order, first served
        for index, f in enumerate(facts):
            if f.quantity is None:
                figureless[(f.item, f.supplier)].append(index)
        for a in orphans:
            quantity, approx = quantity_before(sentences[a.sentence][:a.item.start])
            if quantity is None:
                continue
            e = next((by_sentence[(a.sentence - back, a.item.kind)] for back in (2, 1)
                      if (a.sentence - back, a.item.kind) in by_sentence), None)
            if e is None:
                continue
            waiting = figureless[(a.item.kind, self.gaz.label(e.supplier.entity))]
            if waiting:
                index = waiting.pop(0)
                facts[index] = replace(facts[index], quantity=quantity, approx=approx)
        return facts

    def _casualties(self, events: list[Event], sentences: list[str]) -> list[Fact]:
        people = [e for e in events if e.item.kind in self.lex.personnel]
        if not people:
            return []
        first_in: dict[int, Event] = {}
        for e in people:
            first_in.setdefault(e.sentence_index, e)
        found: list[Fact] = []
        seen: set[tuple] = set()
        for index, sent in enumerate(sentences):
            near = next((first_in[i] for i in range(index - 2, index + 1) if i in first_in), None)
            if near is None and index > people[0].sentence_index:
                near = people[0]
            if near is None:
                continue
            for m in CASUALTY.finditer(sent):
                value, approx = value_of(m)
                detail = m.group("what").lower()
                if value is None or (value, detail) in seen:
                    continue
                seen.add((value, detail))
                found.append(Fact(self.gaz.label(near.supplier.entity), self.gaz.label(near.recipient.entity),
                                  "casualties", value, approx, "in combat", sent, detail=detail))
        return found
