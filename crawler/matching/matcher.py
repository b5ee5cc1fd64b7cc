"""The matcher: every watch over one article, in one pass over its text.

Output per watch: matched, score, the rule that fired, evidence (sentence + the span of each role)
and facts {supplier, recipient, item, quantity, approx, status, sentence}."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from crawler.matching.events import Analysis, EventReader
from crawler.matching.gazetteer import Gazetteer, Mention
from crawler.matching.lexicon import Lexicon
from crawler.matching.quantities import CASUALTY, quantity_before, value_of
from crawler.matching.query import TermIndex, terms_of
from crawler.matching.sentences import split_sentences
from crawler.matching.watches import Watch

_NEGATION = re.compile(r"\b(?:not|never|no evidence|den(?:y|ied|ies|ying)|rejected|dismissed|refuted|"
                       r"no sign|unfounded|false claims?|doubts?|doubted|unlikely|if ever)\b", re.I)
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|whether|in case|were to|in the event)\b", re.I)
_HEADLINE_TO = re.compile(r"^\s+to\s", re.I)      # "Russia to share technology with ..."


@dataclass
class MatchResult:
    watch: str
    matched: bool
    score: float
    severity: str
    rule: str
    facts: list[dict] = field(default_factory=list)
    evidence: list[dict] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)

    def as_json(self, article_id=None, explain: bool = False) -> dict:
        out = {"id": article_id, "matched": self.matched, "score": round(self.score, 3),
               "watch": self.watch, "facts": self.facts, "evidence": self.evidence}
        if explain:
            out["explanation"] = self.explanation
        return out


class Matcher:
    def __init__(self, watches: list[Watch], gazetteer: Gazetteer | None = None,
                 lexicon: Lexicon | None = None):
        self.watches = watches
        self.gaz = gazetteer or Gazetteer.load()
        self.lex = lexicon or Lexicon.load()
        self.reader = EventReader(self.gaz, self.lex)
        self.index = TermIndex(set().union(*(terms_of(w.query) for w in watches if w.query)))
        self._parties = set().union(*(set(p) for w in watches for p in w.directions)) if watches else set()
        # shared, read-only answers for watches whose keyword query does not hold
        self._unsatisfied = {w.name: MatchResult(w.name, False, 0.0, w.spec.severity, "",
                                                 explanation=["keyword query not satisfied"])
                             for w in watches}

    def match(self, title: str, text: str) -> list[MatchResult]:
        document = f"{title}\n{text}" if title else text
        hits = self.index.scan(document)
        candidates = [w for w in self.watches if w.holds is None or w.holds(hits)]
        results = dict(self._unsatisfied)
        if candidates:
            sentences = [s for _, s in split_sentences(document)]
            analysed = [self.reader.analyse(i, s) for i, s in enumerate(sentences)]
            for watch in candidates:
                results[watch.name] = self._judge(watch, sentences, analysed)
        return [results[w.name] for w in self.watches]

    # ---- one watch ---------------------------------------------------------------------------
    def _judge(self, watch: Watch, sentences: list[str], analysed) -> MatchResult:
        events, notes, orphans = [], [], []
        for index, (_, analyses) in enumerate(analysed):
            for a in analyses:
                if a.item[2] not in watch.items:
                    continue
                if a.supplier is None and a.recipient is None:
                    orphans.append(a)
                event, note = self._complete(watch, a, sentences, analysed)
                if event:
                    events.append(event)
                elif note:
                    notes.append(f"sentence {index}: {note}: {sentences[index][:160]}")
        result = MatchResult(watch.name, False, 0.0, watch.spec.severity, "", explanation=notes)
        if not events:
            result.explanation = notes or ["no transfer between the watched parties found"]
            return result
        best = max(events, key=lambda e: e["score"])
        supporting = {e["sentence_index"] for e in events if e["score"] >= watch.spec.threshold * 0.8}
        result.score = min(1.0, best["score"] + 0.05 * (len(supporting) - 1))
        result.rule = best["rule"]
        result.matched = result.score >= watch.spec.threshold
        result.facts = self._facts(events, sentences)
        self._attach_orphan_quantities(result.facts, events, orphans, sentences)
        result.evidence = [self._evidence(e) for e in sorted(events, key=lambda e: -e["score"])[:5]]
        if not result.matched:
            result.explanation.insert(0, f"score {result.score:.2f} below threshold {watch.spec.threshold}")
        return result

    def _complete(self, watch: Watch, a: Analysis, sentences, analysed) -> tuple[dict | None, str]:
        supplier, recipient, base, how = a.supplier, a.recipient, a.base, a.rule
        sent = sentences[a.sentence]
        if supplier is not None and recipient is not None and supplier.entity == recipient.entity:
            recipient = None
        if supplier is not None and supplier.entity not in self._parties:
            return None, f"supplier {self.gaz.label(supplier.entity)} is not a watched party"
        if recipient is not None and recipient.entity not in self._parties:
            return None, f"recipient {self.gaz.label(recipient.entity)} is not a watched party"
        if supplier is not None and recipient is None and a.may_borrow_recipient:
            recipient, factor, where = self._borrow(watch, supplier.entity, a, sentences, analysed, True)
            base, how = base * factor, f"{how}; recipient from {where}" if recipient else how
        elif recipient is not None and supplier is None and a.may_borrow_supplier:
            supplier, factor, where = self._borrow(watch, recipient.entity, a, sentences, analysed, False)
            weaker = 0.7 if a.anchor is not None and a.anchor.kind == "receive" else 1.0
            base, how = base * factor * weaker, f"{how}; supplier from {where}" if supplier else how
        if supplier is None or recipient is None:
            missing = "supplier" if supplier is None else "recipient"
            return None, f"{a.item[2]} without a {missing}"
        pair = (supplier.entity, recipient.entity)
        if pair not in watch.directions:
            return None, f"{self.gaz.label(pair[0])} → {self.gaz.label(pair[1])} is not a watched direction"
        start = a.anchor.start if a.anchor else a.item[0]
        if _NEGATION.search(sent[max(0, start - 60):start]):
            base *= 0.5
            how += "; negated"
        elif _HYPOTHETICAL.search(sent[max(0, start - 80):start]):
            base *= 0.5
            how += "; hypothetical"
        quantity, approx = quantity_before(sent[:a.item[0]])
        return {"sentence_index": a.sentence, "sentence": sent, "supplier": supplier,
                "recipient": recipient, "item": a.item, "anchor": a.anchor, "score": round(base, 3),
                "rule": how, "quantity": quantity, "approx": approx,
                "status": self._status(sent, a)}, ""

    def _borrow(self, watch: Watch, known: str, a: Analysis, sentences, analysed, want_recipient: bool):
        """The counterpart of `known` from the same sentence, then the adjacent ones, then the title."""
        partners = {r if want_recipient else s for s, r in watch.directions if (s if want_recipient else r) == known}
        order = [(a.sentence, 0.85, "the same sentence"), (a.sentence - 1, 0.75, "the previous sentence"),
                 (a.sentence + 1, 0.7, "the next sentence"), (0, 0.7, "the headline")]
        for index, factor, where in order:
            if not 0 <= index < len(sentences):
                continue
            mentions: list[Mention] = analysed[index][0]
            for m in mentions:
                before = sentences[index][max(0, m.start - 12):m.start].lower()
                if m.entity in partners and "against" not in before:
                    return m, factor, where
        return None, 1.0, ""

    def _status(self, sent: str, a: Analysis) -> str:
        start = a.anchor.start if a.anchor else a.item[0]
        before = sent[max(0, start - 45):start]
        window = sent[max(0, start - 60):min(len(sent), a.item[1] + 80)]
        status = self.lex.status
        if status["pledged"].search(before) or (a.supplier is not None and a.anchor is not None and
                                                _HEADLINE_TO.match(sent[a.supplier.end:a.anchor.start])):
            return "pledged"
        troops = a.item[2] == "troops"
        if troops and a.anchor is not None and a.anchor.lemma in ("deploy", "station", "dispatch"):
            return "deployed"
        if troops and a.anchor is not None and a.anchor.kind == "fight":
            return "in combat"
        if troops and status["in combat"].search(window):
            return "in combat"
        if troops and status["deployed"].search(window):
            return "deployed"
        anchor_text = a.anchor.text if a.anchor else ""
        if status["delivered"].search(anchor_text) or re.search(r"\b(?:has|have|had)\s+(?:\w+\s+)?$", before):
            return "delivered"
        return "reported"

    def _facts(self, events: list[dict], sentences: list[str]) -> list[dict]:
        facts, seen = [], set()
        for e in sorted(events, key=lambda e: (e["sentence_index"], e["item"][0])):
            fact = {"supplier": self.gaz.label(e["supplier"].entity),
                    "recipient": self.gaz.label(e["recipient"].entity), "item": e["item"][2],
                    "quantity": e["quantity"], "approx": e["approx"], "status": e["status"],
                    "sentence": e["sentence"]}
            key = (fact["supplier"], fact["recipient"], fact["item"], fact["quantity"])
            twin = next((f for f in facts if key == (f["supplier"], f["recipient"], f["item"], f["quantity"])), None)
            if twin is not None:
                twin["approx"] = twin["approx"] or fact["approx"]
                if twin["status"] == "reported":
                    twin["status"] = fact["status"]
            if key not in seen and (fact["quantity"] is not None or
                                    (fact["supplier"], fact["recipient"], fact["item"], None) not in seen):
                seen.add(key)
                facts.append(fact)
        facts = [f for f in facts if f["quantity"] is not None or not any(
            g is not f and g["quantity"] is not None and g["item"] == f["item"] and
            g["supplier"] == f["supplier"] for g in facts)]
        return facts + self._casualties(events, sentences)

    def _attach_orphan_quantities(self, facts, events, orphans, sentences) -> None:
        """'The ministry put the new deployment at around 3,000 troops.' - a count without parties
        continues the report of the same item in the sentence or two before."""
        for a in orphans:
            quantity, approx = quantity_before(sentences[a.sentence][:a.item[0]])
            if quantity is None:
                continue
            for e in events:
                if e["item"][2] == a.item[2] and 0 < a.sentence - e["sentence_index"] <= 2:
                    supplier = self.gaz.label(e["supplier"].entity)
                    fact = next((f for f in facts if f["item"] == a.item[2] and f["supplier"] == supplier
                                 and f["quantity"] is None), None)
                    if fact is not None:
                        fact.update(quantity=quantity, approx=approx)
                    break

    def _casualties(self, events: list[dict], sentences: list[str]) -> list[dict]:
        troop_events = [e for e in events if e["item"][2] == "troops"]
        found = []
        for index, sent in enumerate(sentences):
            near = [e for e in troop_events if 0 <= index - e["sentence_index"] <= 2] or \
                   ([troop_events[0]] if troop_events and index > troop_events[0]["sentence_index"] else [])
            if not near:
                continue
            for m in CASUALTY.finditer(sent):
                value, approx = value_of(m)
                detail = m.group("what").lower()
                twin = next((f for f in found if (f["quantity"], f["detail"]) == (value, detail)), None)
                if value is None or twin is not None:
                    continue
                found.append({"supplier": self.gaz.label(near[0]["supplier"].entity),
                              "recipient": self.gaz.label(near[0]["recipient"].entity),
                              "item": "casualties", "quantity": value, "approx": approx,
                              "status": "in combat", "detail": detail, "sentence": sent})
        return found

    def _evidence(self, e: dict) -> dict:
        def span(start: int, end: int) -> dict:
            return {"start": start, "end": end, "text": e["sentence"][start:end]}
        spans = {"supplier": span(e["supplier"].start, e["supplier"].end),
                 "item": span(e["item"][0], e["item"][1]),
                 "recipient": span(e["recipient"].start, e["recipient"].end)}
        if e["anchor"] is not None and e["supplier"] is not None:
            spans["transfer"] = span(e["anchor"].start, e["anchor"].end)
        return {"sentence": e["sentence"], "score": e["score"], "rule": e["rule"], "spans": spans}
