"""From scored events to the facts an analyst reads: one fact per direction, item and figure,
figures stated a sentence later attached to their report, casualty counts of deployed people."""

from __future__ import annotations

from dataclasses import replace

from wirewatch.crawler.analysis.matching.events import Analysis, Event
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer
from wirewatch.crawler.analysis.matching.lexicon import Lexicon
from wirewatch.crawler.analysis.matching.quantities import CASUALTY, quantity_before, value_of
from wirewatch.crawler.records import Fact


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
        seen: set[tuple] = set()
        key = lambda f: (f.supplier, f.recipient, f.item, f.quantity)  # noqa: E731
        for e in sorted(events, key=lambda e: (e.sentence_index, e.item.start)):
            fact = self._fact(e)
            twin = next((i for i, f in enumerate(facts) if key(f) == key(fact)), None)
            if twin is not None:             # the same fact again: keep the most advanced status
                known = facts[twin]
                facts[twin] = replace(known, approx=known.approx or fact.approx,
                                      status=fact.status if known.status == "reported" else known.status)
            if key(fact) not in seen and (fact.quantity is not None or
                                          (fact.supplier, fact.recipient, fact.item, None) not in seen):
                seen.add(key(fact))
                facts.append(fact)
        return [f for f in facts if f.quantity is not None or not any(
            g is not f and g.quantity is not None and g.item == f.item and g.supplier == f.supplier
            for g in facts)]

    def _attach_orphan_quantities(self, facts: list[Fact], events: list[Event], orphans: list[Analysis],
                                  sentences: list[str]) -> list[Fact]:
        """'The ministry put the new deployment at around 3,000 troops.' - a count without parties
        continues the report of the same item in the sentence or two before."""
        for a in orphans:
            quantity, approx = quantity_before(sentences[a.sentence][:a.item.start])
            if quantity is None:
                continue
            for e in events:
                if e.item.kind == a.item.kind and 0 < a.sentence - e.sentence_index <= 2:
                    supplier = self.gaz.label(e.supplier.entity)
                    index = next((i for i, f in enumerate(facts) if f.item == a.item.kind
                                  and f.supplier == supplier and f.quantity is None), None)
                    if index is not None:
                        facts[index] = replace(facts[index], quantity=quantity, approx=approx)
                    break
        return facts

    def _casualties(self, events: list[Event], sentences: list[str]) -> list[Fact]:
        people = [e for e in events if e.item.kind in self.lex.personnel]
        found: list[Fact] = []
        for index, sent in enumerate(sentences):
            near = [e for e in people if 0 <= index - e.sentence_index <= 2] or \
                   ([people[0]] if people and index > people[0].sentence_index else [])
            if not near:
                continue
            for m in CASUALTY.finditer(sent):
                value, approx = value_of(m)
                detail = m.group("what").lower()
                if value is None or any((f.quantity, f.detail) == (value, detail) for f in found):
                    continue
                found.append(Fact(self.gaz.label(near[0].supplier.entity),
                                  self.gaz.label(near[0].recipient.entity), "casualties", value, approx,
                                  "in combat", sent, detail=detail))
        return found
