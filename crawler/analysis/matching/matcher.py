"""The matcher: every watch over one article, in one pass over its text.

Output per watch (`MatchResult`): matched, score, the rule that fired, evidence (sentence + the
span of each role) and facts {supplier, recipient, item, quantity, quantity_text, quantity_range,
approx, status, casualty, sentence}. A transfer the text denies is a fact of status `denied`: an
article whose only reports are denied (or whose lead is a denial and whose transfers are only
background) is no match, but is kept with its denied facts for the record. Pure: no Scrapy, no
database."""

from __future__ import annotations

import re
from dataclasses import replace

from wirewatch.crawler.analysis.matching.amounts import amount_before, amounts_after
from wirewatch.crawler.analysis.matching.events import (
    _PRONOUN_SUBJECT,
    Analysis,
    Event,
    EventReader,
)
from wirewatch.crawler.analysis.matching.facts import FactBuilder
from wirewatch.crawler.analysis.matching.frames import LANGUAGES as FRAME_LANGUAGES
from wirewatch.crawler.analysis.matching.frames import frame_matcher
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer, Mention
from wirewatch.crawler.analysis.matching.lexicon import Lexicon
from wirewatch.crawler.analysis.matching.names import specific_names
from wirewatch.crawler.analysis.matching.query import TermIndex, terms_of
from wirewatch.crawler.analysis.matching.sentences import split_sentences
from wirewatch.crawler.analysis.matching.watches import SEVERITY_RANK, Watch
from wirewatch.crawler.records import Evidence, MatchResult, Span

_WITH_PARTNER = re.compile(r"^[^.;]{0,25}?\bwith\s+(?:the\s+)?$", re.I)   # "... treaty with (the) DPRK"
_NEGATION = re.compile(r"\b(?:not|never|no evidence|den(?:y|ied|ies|ying)|denials?|rejected|rejects?|dismissed|"
                       r"dismisses|refuted|refutes|no sign|unfounded|false claims?|doubts?|doubted|unlikely|"
                       r"if ever)\b", re.I)
# a lead that denies: "X denied reports ...", "called the allegations disinformation"; in such a story
# the transfers other sentences mention are background, not the news
_DENIAL_LEAD = re.compile(r"\b(?:den(?:y|ied|ies|ying)|denials?|rejected|rejects?|dismissed|dismisses|refuted|"
                          r"refutes|denounced|denounces|branded|called)\b[^.;]{0,80}?\b(?:reports?|claims?|"
                          r"allegations?|accusations?|rumou?rs|speculation|deployment|trade|transfers?|"
                          r"shipments?|supplies|sending|dispatch|absurd|lies|fake|fabricat\w+|disinformation|"
                          r"baseless|groundless|false|nonsense|provocation)\b", re.I)
_HYPOTHETICAL = re.compile(r"\b(?:if|unless|whether|in case|were to|in the event|fears?|feared|worries|worried|"
                           r"concerns?|concerned|speculat\w+|signs?\s+(?:yet\s+)?of|"
                           r"(?:warn|warns|warned|warning|caution|cautions|cautioned)\s+(?:\w+\s+)?against)\b", re.I)
_HEADLINE_TO = re.compile(r"^\s+to\s", re.I)
# weapons seen in use: fired, launched, struck, hit ... (the war they are used in names their user)
_USED_ON = re.compile(r"\b(?:fired|launched|struck|strikes?|hit|hitting|shelled|shelling|pounded|targeted|"
                      r"rained|used|firing|launching|aimed|downed|shot\s+down|intercepted)\b", re.I)      # "Russia to share technology with ..."
_EXCHANGE = re.compile(r"\s+(?:[\w-]+\s+){0,2}(?:in\s+exchange\s+for|in\s+return\s+for)\s+(?:[\w-]+\s+){0,3}", re.I)
_COORDINATED = re.compile(r"\s*(?:,\s*)?(?:and|or|as\s+well\s+as|plus)?\s*(?:[\w-]+\s+){0,2}", re.I)
_EXCHANGE_WORD = re.compile(r"\bin\s+(?:exchange|return)\s+for\b", re.I)
_NO_ITEM = re.compile(r"\bno\s+(?:\w+\s+){0,2}$", re.I)                  # "no weapons had been sent"
_ANY_BEFORE = re.compile(r"\bany\s+(?:\w+\s+)?$", re.I)                  # "any transfer ... would"
_NEGATED_AFTER = re.compile(r"^(?:(?!\b(?:who|which|that|though|although|according|while)\b)[^;:,]){0,40}?"
                            r"\b(?:was|were|is|are|has|have|had|would|will|did|does|do)\s+(?:not|never)\b", re.I)                     # "... was not on the agenda"
# where a missing party may be borrowed from: (sentence offset or None for the headline, Scoring field)
_BORROW_FROM = ((0, "same_sentence", "the same sentence"), (-1, "previous_sentence", "the previous sentence"),
                (1, "next_sentence", "the next sentence"), (None, "headline", "the headline"))


class Matcher:
    def __init__(self, watches: list[Watch], gazetteer: Gazetteer | None = None,
                 lexicon: Lexicon | None = None):
        self.watches = watches
        self.gaz = gazetteer or Gazetteer.load(extra=_merged(w.spec.entities for w in watches))
        self.lex = lexicon or Lexicon.load(extra=_merged(w.spec.lexicon for w in watches))
        self.reader = EventReader(self.gaz, self.lex)
        self.facts = FactBuilder(self.gaz, self.lex)
        self.index = TermIndex(set().union(*(terms_of(w.query) for w in watches if w.query)))
        self._parties = set().union(*(set(p) for w in watches for p in w.directions)) if watches else set()
        # shared, read-only answers for watches whose keyword query does not hold
        self._unsatisfied = {w.name: MatchResult(w.name, False, 0.0, w.spec.severity, "",
                                                 explanation=("keyword query not satisfied",))
                             for w in watches}

    def load_languages(self) -> None:
        """Load every language's data and analysers now (an analysis process does it once, before
        its first page, so no page pays for it)."""
        from wirewatch.crawler.analysis.language import detect
        for code in FRAME_LANGUAGES:
            frame_matcher(code, self.gaz)
        detect("warm up the language identifier")

    def match(self, title: str, text: str, language: str | None = None) -> list[MatchResult]:
        """Every watch's verdict on one article. `language` ('en', 'ko', 'ru', 'uk' ...) picks the
        reader: English word order, or a language's own data (frames.py); a language without data
        is read as English, which finds nothing in another script."""
        language = (language or "").split("-")[0].lower()
        if language in FRAME_LANGUAGES:
            return self._match_frames(title, text, language)
        document = f"{title}\n{text}" if title else text
        hits = self.index.scan(document)
        candidates = [w for w in self.watches if w.holds is None or w.holds(hits)]
        results = dict(self._unsatisfied)
        if candidates:
            sentences = [s for _, s in split_sentences(document)]
            analysed: list = []
            for i, sentence in enumerate(sentences):
                before = tuple(a.item.kind for a in analysed[-1][1]) if analysed else ()
                last = analysed[-1][1][-1] if analysed and analysed[-1][1] else None
                origin = (last.origin or last.supplier) if last is not None else None
                analysed.append(self.reader.analyse(i, sentence, before, origin))
            exchanges = {i for i, sentence in enumerate(sentences) if _EXCHANGE_WORD.search(sentence)}
            lead = 1 if title and title.strip() else 0      # the headline and the first sentence
            for watch in candidates:
                events, notes, orphans = self._events(watch, sentences, analysed, exchanges)
                results[watch.name] = self._verdict(watch, events, notes, orphans, sentences, lead,
                                                    denial_lead=any(_DENIAL_LEAD.search(sentences[i])
                                                                    for i in range(min(lead + 1, len(sentences)))))
            if any(r.stored for r in results.values()):     # what tells this event from another
                top = lead + 12                               # the body's first paragraphs
                names = specific_names(sentences[:top], [m for m, _ in analysed[:top]], self.gaz, self._parties)
                results = {k: replace(r, names=names) if r.stored else r for k, r in results.items()}
        return [results[w.name] for w in self.watches]

    def _match_frames(self, title: str, text: str, language: str) -> list[MatchResult]:
        """A Korean, Russian or Ukrainian article: the language's reader gives the same Events,
        and the same verdict, facts and statuses follow. The keyword gate is the language's own:
        the watched parties (or a state at war with one) named in it."""
        frames = frame_matcher(language, self.gaz)
        document = f"{title}\n{text}" if title else text
        results = dict(self._unsatisfied)
        may_name = frames.states_named(document)
        if not any(self._pair_named(watch, may_name) for watch in self.watches):
            return [results[w.name] for w in self.watches]        # names no watched pair: not read
        sentences = [s for _, s in split_sentences(document)]
        reads = frames.read_all(sentences)
        named = frames.named(reads)
        lead = 1 if title and title.strip() else 0
        top = lead + 12
        for watch in self.watches:
            if not self._pair_named(watch, named):
                continue
            events, notes = frames.events(watch, sentences, reads)
            result = self._verdict(watch, events, notes, [], sentences, lead,
                                   denial_lead=frames.denial_lead(reads, lead))
            if result.stored:
                result = replace(result, names=frames.names(reads[:top]))
            results[watch.name] = result
        return [results[w.name] for w in self.watches]

    # ---- one watch ---------------------------------------------------------------------------
    def _events(self, watch: Watch, sentences: list[str], analysed, exchanges: set[int]):
        """The watch's events in English sentences, the notes on what was not one, and the items
        no party could be found for (their figures may belong to a report nearby)."""
        events, notes, orphans = [], [], []
        for index, (_, analyses) in enumerate(analysed):
            made: dict[int, Event] = {}
            for a in analyses:
                if a.item.kind not in watch.items:
                    continue
                if a.supplier is None and a.recipient is None:
                    orphans.append(a)
                event, note = self._complete(watch, a, sentences, analysed)
                if event:
                    made[id(a)] = event
                elif note:
                    notes.append(f"sentence {index}: {note}: {sentences[index][:160]}")
            if index in exchanges:                          # rare: only where "in exchange for" stands
                made.update(self._exchanged(watch, index, sentences, analysed, made))
            events += made.values()
            events += [replace(e, supplier=e.recipient, recipient=e.supplier) for e in made.values()  # both ways
                       if e.mutual and (e.recipient.entity, e.supplier.entity) in watch.directions]
        return events, notes, orphans

    def _pair_named(self, watch: Watch, named: set[str]) -> bool:
        """The watch's keyword gate in another language: a supplier it follows and its recipient (or
        a state at war with the recipient) are both named."""
        return any(s in named and (r in named or any(r in self.gaz.enemies.get(n, ()) for n in named))
                   for s, r in watch.directions)

    def _verdict(self, watch: Watch, events: list[Event], notes: list[str], orphans, sentences: list[str],
                 lead: int, denial_lead: bool) -> MatchResult:
        """Matched or not, kept or not, with facts and severity, from a watch's events in any language.
        `denial_lead`: the headline or first sentence denies something (then the transfers the
        story mentions elsewhere are background, unless the lead reports one itself)."""
        if not events:
            return MatchResult(watch.name, False, 0.0, watch.spec.severity, "",
                               explanation=tuple(notes or ["no transfer between the watched parties found"]))
        threshold = watch.spec.threshold
        denials_alert = bool(watch.spec.statuses.get("denied") and watch.spec.statuses["denied"].alert)
        counted = [e for e in events if denials_alert or not e.denied]
        score = self._score(watch, counted)
        matched, kept = score >= threshold, False
        denial_lead = denial_lead or any(e.denied and e.sentence_index <= lead for e in events)
        if matched and not denials_alert and denial_lead \
                and not any(not e.denied and e.sentence_index <= lead for e in events):
            matched, kept = False, True       # a denial story: its other transfers are background
            notes.insert(0, "the lead is a denial; the transfers it mentions are background: kept, not a match")
        elif not matched and any(e.denied and e.score >= threshold for e in events):
            kept = True
            notes.insert(0, "only denied transfers: kept with their denied facts, not a match")
        elif not matched:
            notes.insert(0, f"score {score:.2f} below threshold {threshold}")
        best = max(counted or events, key=lambda e: e.score)
        facts = tuple(self.facts.build(events, orphans, sentences)) if matched or kept else ()
        severity, alert = _by_status(watch, facts)
        shown = score if matched or not kept else max(e.score for e in events)
        return MatchResult(
            watch.name, matched, shown, severity, best.rule, alert=alert and matched, facts=facts, kept=kept,
            evidence=tuple(_evidence(e) for e in sorted(events, key=lambda e: -e.score)[:5]),
            explanation=tuple(notes))

    @staticmethod
    def _score(watch: Watch, events: list[Event]) -> float:
        if not events:
            return 0.0
        scoring, threshold = watch.scoring, watch.spec.threshold
        best = max(events, key=lambda e: e.score)
        supporting = {e.sentence_index for e in events if e.score >= threshold * scoring.support_share}
        return min(1.0, best.score + scoring.support_bonus * max(0, len(supporting) - 1))

    def _complete(self, watch: Watch, a: Analysis, sentences, analysed) -> tuple[Event | None, str]:
        scoring = watch.scoring
        supplier, recipient, base, how = a.supplier, a.recipient, scoring.base(a.basis), a.rule
        sent = sentences[a.sentence]
        if a.partner:
            return None, f"{a.item.kind} a partner, host or purpose, not moved"
        if supplier is not None and recipient is not None and supplier.entity == recipient.entity:
            recipient = None
        if supplier is not None and supplier.entity not in self._parties and a.origin is not None \
                and a.origin.entity in self._parties:
            supplier = a.origin           # "Ukrainian forces captured North Korean soldiers": the item's origin
        if recipient is not None and recipient.kind == "location" and recipient.entity not in self._parties \
                and a.user is not None:
            recipient = None              # "a KN-23 found in Kharkiv after a Russian strike": where it hit
        # casualties are where a place or a war says they fell, never borrowed ("Russian losses" are no aid)
        borrows = a.may_borrow_recipient and a.item.kind != "casualties"
        if (recipient is None or recipient.entity not in self._parties) and a.origin is not None \
                and a.origin.entity in self._parties and a.item.kind in self.lex.personnel \
                and a.item.kind != "casualties" \
                and (supplier is None or supplier.entity not in self._parties or supplier.entity == a.origin.entity) \
                and self.lex.status["in combat"].search(sent):
            supplier = a.origin           # "... took North Korean soldiers prisoner": the captor receives nothing
            recipient, factor, where = self._borrow(watch, supplier.entity, a, sentences, analysed, True,
                                                    weapons_origin=True)
            base, how = base * factor, f"{how}; in combat, recipient from {where}" if recipient else how
        if supplier is not None and recipient is None and a.user is not None and a.origin is not None \
                and supplier.entity == a.origin.entity and a.user.entity != supplier.entity \
                and not self._maker_acts(sent, a, analysed[a.sentence][0]):
            recipient = a.user            # "a KN-23 fired by Russian forces": who uses it received it
            base, how = scoring.used_by_recipient, f"{how}; used by {self.gaz.label(a.user.entity)}"
        if a.carried_item:
            base, how = base * scoring.pronoun_subject, f"{how}; item carried from the previous sentence"
        receives = a.anchor is not None and a.anchor.kind == "receive"
        if a.pronoun_subject and (recipient if receives else supplier) is None:
            carried = self._antecedent(watch, a, supplier if receives else recipient, analysed, receives)
            if carried is not None:       # "... Kim met Putin. They discussed supplying Moscow with shells"
                supplier, recipient = (supplier, carried) if receives else (carried, recipient)
                base, how = base * scoring.pronoun_subject, f"{how}; subject carried from the previous sentence"
        if a.mutual and (supplier is None or recipient is None):
            pair = self._mutual_parties(watch, a, sent, analysed)
            if pair is not None:          # "a clause obliging each country to give the other military aid"
                (supplier, recipient), how = pair, f"{how}; mutual, parties from the sentence"
        if supplier is not None and supplier.entity not in self._parties and a.origin is not None \
                and a.origin.entity in self._parties and a.anchor is not None and a.anchor.kind == "fight":
            supplier = a.origin           # "Ukrainian forces captured North Korean soldiers": theirs, not the captor's
        if supplier is not None and supplier.entity in self._parties and \
                (recipient is None or recipient.entity not in self._parties):
            war = self._war_of(watch, supplier.entity, a, sent, analysed[a.sentence][0])
            if war is not None:           # "North Korean missiles fired at Ukraine": in Russia's war
                (recipient, enemy), base = war, base * scoring.used_by_recipient
                how += f"; used against {self.gaz.label(enemy)}, in {self.gaz.label(recipient.entity)}'s war"
        if supplier is not None and supplier.entity in self._parties and recipient is not None \
                and recipient.kind == "location" and recipient.entity not in self._parties:
            ally = self._ally_at_war(watch, supplier.entity, recipient)
            if ally is not None:          # "deployed to the Zaporizhzhia front": a place in the war zone
                how += f"; sent to {recipient.text}, in {self.gaz.label(ally.entity)}'s war"
                recipient = ally
        if recipient is not None and recipient.entity not in self._parties and recipient.end <= a.item.start \
                and any(self.lex.reporting.fullmatch(w) for w in re.findall(r"\w+", sent[recipient.end:])[:4]):
            recipient = None              # "Ukraine's military said ... soldiers were deployed": who speaks
        if supplier is not None and supplier.entity not in self._parties:
            return None, f"supplier {self.gaz.label(supplier.entity)} is not a watched party"
        if recipient is not None and recipient.entity not in self._parties:
            return None, f"recipient {self.gaz.label(recipient.entity)} is not a watched party"
        if supplier is not None and supplier.entity in self._parties and recipient is None:
            here = self._seen_in(watch, supplier.entity, a, sent, analysed[a.sentence][0])
            if here is not None:          # "a North Korean Koksan gun firing in Russia's Kursk region"
                recipient, how = here, f"{how}; seen in {self.gaz.label(here.entity)}"
        if supplier is not None and recipient is None and borrows:
            recipient, factor, where = self._borrow(watch, supplier.entity, a, sentences, analysed, True)
            base, how = base * factor, f"{how}; recipient from {where}" if recipient else how
        elif recipient is not None and supplier is None and a.may_borrow_supplier:
            supplier, factor, where = self._borrow(watch, recipient.entity, a, sentences, analysed, False)
            weaker = scoring.supplier_for_receiver if a.anchor is not None and a.anchor.kind == "receive" else 1.0
            base, how = base * factor * weaker, f"{how}; supplier from {where}" if supplier else how
        if supplier is None or recipient is None:
            missing = "supplier" if supplier is None else "recipient"
            return None, f"{a.item.kind} without a {missing}"
        pair = (supplier.entity, recipient.entity)
        if pair not in watch.directions:
            return None, f"{self.gaz.label(pair[0])} → {self.gaz.label(pair[1])} is not a watched direction"
        start = a.anchor.start if a.anchor else a.item.start
        end = max(a.item.end, supplier.end, recipient.end, a.anchor.end if a.anchor else 0)
        denied = bool(_NEGATION.search(sent[max(0, start - 60):start]) or _NO_ITEM.search(sent[:a.item.start])
                      or _NEGATED_AFTER.search(sent[end:]))
        if denied:
            how += "; denied"
        elif _HYPOTHETICAL.search(sent[max(0, start - 80):start]) or _ANY_BEFORE.search(sent[:start]):
            base *= scoring.hypothetical
            how += "; hypothetical"
        return Event(a.sentence, sent, supplier, recipient, a.item, a.anchor, round(base, 3), how,
                     self._amounts(sent, a, analysed), "denied" if denied else self._status(sent, a),
                     denied, a.mutual), ""

    def _seen_in(self, watch: Watch, supplier: str, a: Analysis, sent: str,
                 mentions: list[Mention]) -> Mention | None:
        """A party's weapon seen, filmed or used in the other party's territory got there: the
        place after it ("in Russia's Kursk region", "near Tikhoretsk") names the recipient."""
        if not (_SEEN_PEOPLE if a.item.kind in self.lex.personnel else _SEEN).search(sent):
            return None
        for m in mentions:
            if m.start < a.item.end or m.start - a.item.end > 100 or m.entity == supplier \
                    or not _IN_PLACE.search(sent[max(a.item.end, m.start - 30):m.start]):
                continue
            if (supplier, m.entity) in watch.directions:
                return m
            if m.kind == "location":      # "working on defences around occupied Tokmak": in Russia's war
                ally = self._ally_at_war(watch, supplier, m)
                if ally is not None:
                    return ally
        return None

    def _ally_at_war(self, watch: Watch, supplier: str, place: Mention) -> Mention | None:
        """For a place in a state at war with a watched party: that party, if the supplier's aid to
        it is watched (Ukraine's Zaporizhzhia region → Russia, for North Korean troops)."""
        for ally in self.gaz.enemies.get(place.entity, ()):
            if ally != supplier and (supplier, ally) in watch.directions:
                return Mention(place.start, place.end, ally, "implied", "")
        return None

    @staticmethod
    def _amounts(sent: str, a: Analysis, analysed) -> tuple:
        """The figures counting the item: the one before it ('about 3,000 troops'), then any said
        after it before the next item ('raised its estimate of troops to 10,000, up from 3,000')."""
        before = amount_before(sent, a.item.start)
        following = [x.item.start for x in analysed[a.sentence][1] if x.item.start > a.item.end]
        after = amounts_after(sent, a.item.end, min(following, default=len(sent)))
        return tuple(([before] if before is not None else []) + after)

    def _war_of(self, watch: Watch, supplier: str, a: Analysis, sent: str,
                mentions: list[Mention]) -> tuple[Mention, str] | None:
        """A watched party's weapon used against, or its soldiers fighting, a state at war with
        another watched party: that party is the recipient ("24 North Korean missiles fired at
        Ukraine", "Ukraine captured two North Korean soldiers"). Only when the sentence shows the
        item in use or in combat, and the item is the supplier's own."""
        if a.origin is None or a.origin.entity != supplier:
            return None
        people = a.item.kind in self.lex.personnel
        fighting = a.anchor is not None and (a.anchor.kind == "fight" or a.anchor.lemma in self.lex.use_verbs)
        near = sent[max(0, a.item.start - 30):a.item.start] + " " + sent[a.item.end:a.item.end + 30]
        if not fighting and not (people and self.lex.status["in combat"].search(sent)) \
                and not _USED_ON.search(near):
            return None
        for m in mentions:
            for ally in self.gaz.enemies.get(m.entity, ()):
                if (supplier, ally) in watch.directions and ally != m.entity:   # no span: implied
                    return Mention(m.start, m.end, ally, "implied", ""), m.entity
        return None

    def _antecedent(self, watch: Watch, a: Analysis, other: Mention | None, analysed,
                    receives: bool) -> Mention | None:
        """Who 'they', 'he' or 'the country' is: the first watched party the previous sentence names
        (not a place) that can take the subject's role opposite `other`."""
        if a.sentence == 0:
            return None
        fits = {(r if receives else s) for s, r in watch.directions
                if other is None or (s if receives else r) == other.entity}
        return next((m for m in analysed[a.sentence - 1][0] if m.entity in fits and m.kind != "location"), None)

    @staticmethod
    def _maker_acts(sent: str, a: Analysis, mentions: list[Mention]) -> bool:
        """'North Korea tested a KN-23': the item's own state acts on it a few words before, so the
        weapon is not the one the sentence's user fired."""
        return any(m.entity == a.origin.entity and m.end <= a.item.start and not m.possessive
                   and m.kind in ("name", "capital") and re.fullmatch(r"\s+(?:[\w-]+\s+){1,4}", sent[m.end:a.item.start])
                   for m in mentions)

    def _exchanged(self, watch: Watch, index: int, sentences, analysed, made: dict[int, Event]) -> dict[int, Event]:
        """'A in exchange for B': what one side gives, the other gives back. A side the sentence
        resolved sets the other; with neither, "They negotiated shells in exchange for technology"
        takes the two parties of the previous sentence in the order it names them."""
        sent, analyses = sentences[index], [a for a in analysed[index][1] if a.item.kind in watch.items]
        out: dict[int, Event] = {}
        for first, second in zip(analyses, analyses[1:]):
            if not _EXCHANGE.fullmatch(sent[first.item.end:second.item.start]):
                continue
            known = made.get(id(first)) or made.get(id(second))
            if known is not None:              # the verb's reading holds for the side it governs
                other = second if known is made.get(id(first)) else first
                made.pop(id(other), None)
                pair = (known.recipient, known.supplier)
                score, rule = known.score * watch.scoring.same_sentence, "given in exchange"
            elif _PRONOUN_SUBJECT.search(sent[:first.item.start]) and index > 0:
                named = [m for m in analysed[index - 1][0] if m.kind != "location"]
                giver = next((m for m in named if any(m.entity == s for s, _ in watch.directions)), None)
                taker = next((m for m in named if giver and (giver.entity, m.entity) in watch.directions), None)
                if giver is None or taker is None:
                    continue
                made[id(first)] = self._event(watch, first, index, sent, giver, taker, "exchange, parties carried",
                                              analysed)
                pair, score, rule = (taker, giver), made[id(first)].score, "exchange, parties carried"
                out[id(first)] = made[id(first)]
            else:
                continue
            sides = [first, second]
            for later in analyses[analyses.index(second) + 1:]:    # "... for North Korean troops and shells"
                if not _COORDINATED.fullmatch(sent[sides[-1].item.end:later.item.start]):
                    break
                sides.append(later)
            for side in sides:
                if id(side) not in made and (pair[0].entity, pair[1].entity) in watch.directions:
                    out[id(side)] = self._event(watch, side, index, sent, pair[0], pair[1], rule, analysed, score)
        return out

    def _event(self, watch: Watch, a: Analysis, index: int, sent: str, supplier: Mention, recipient: Mention,
               rule: str, analysed, score: float | None = None) -> Event:
        if score is None:
            score = watch.scoring.item_without_verb * watch.scoring.pronoun_subject
        return Event(index, sent, supplier, recipient, a.item, a.anchor, round(score, 3), rule,
                     self._amounts(sent, a, analysed), self._status(sent, a))

    def _mutual_parties(self, watch: Watch, a: Analysis, sent: str, analysed) -> tuple[Mention, Mention] | None:
        """The two parties of a mutual clause: the last two states named before it (in its sentence,
        else with the previous one), or the one before it and the one it is made with ("Russia
        ratified the defence treaty with North Korea"), if the watch follows aid between them."""
        named = [m for m in analysed[a.sentence][0] if m.kind != "location"]
        mentions = [m for m in named if m.end <= a.item.start]
        partner = next((m for m in named if a.item.end <= m.start <= a.item.end + 40
                        and _WITH_PARTNER.search(sent[a.item.end:m.start])), None)
        if partner is not None and any(m.entity != partner.entity for m in mentions):
            mentions.append(partner)
        if a.sentence > 0 and len({m.entity for m in mentions}) < 2:
            mentions = [m for m in analysed[a.sentence - 1][0] if m.kind != "location"] + mentions
        last: list[Mention] = []
        for m in reversed(mentions):
            if all(m.entity != x.entity for x in last):
                last.append(m)
        if len(last) >= 2 and (last[1].entity, last[0].entity) in watch.directions:
            return last[1], last[0]
        return None

    def _borrow(self, watch: Watch, known: str, a: Analysis, sentences, analysed, want_recipient: bool,
                weapons_origin: bool = False):
        """The counterpart of `known` from the same sentence, then the adjacent ones, then the title.
        With `weapons_origin`, a state named only as another item's maker is no counterpart
        ("Russian troops shelled Kupiansk with North Korean guns" sends no troops to North Korea)."""
        partners = {r if want_recipient else s for s, r in watch.directions if (s if want_recipient else r) == known}
        for offset, weight, where in _BORROW_FROM:
            index = 0 if offset is None else a.sentence + offset
            if not 0 <= index < len(sentences):
                continue
            mentions: list[Mention] = analysed[index][0]
            makers = {(x.origin.start, x.origin.end) for x in analysed[index][1]
                      if x.origin is not None and x.item.kind not in self.lex.personnel} if weapons_origin else set()
            if a.item.kind in self.lex.personnel:   # other people's origin: partners, not whom these went to
                makers |= {(x.origin.start, x.origin.end) for x in analysed[index][1]
                           if x.origin is not None and x is not a and x.item.kind in self.lex.personnel
                           and x.partner}
            for m in mentions:
                before = sentences[index][max(0, m.start - 12):m.start].lower()
                if m.entity in partners and "against" not in before and (m.start, m.end) not in makers:
                    return m, watch.scoring.base(weight), where
        return None, 1.0, ""

    def _status(self, sent: str, a: Analysis) -> str:
        """How far the transfer has got. Intent words before the verb make it planned, pledged or
        agreed (the strongest wins); otherwise it happened: people are deployed (in combat when
        the sentence shows them fighting), things delivered. `reported` is left for a transfer the
        sentence only names without saying it took place."""
        start = a.anchor.start if a.anchor else a.item.start
        before = sent[:start] if a.mutual else sent[max(0, start - 45):start]   # a clause: the treaty's status
        window = sent[max(0, start - 60):min(len(sent), a.item.end + 80)]
        status = self.lex.status
        if _UNDER_DEAL.match(sent):            # "Under an agreement reached this week, ... is to send"
            return "agreed"
        if not _PAST_GUESS.search(before):     # "may have sent", "were likely shipped": a guess about the past
            said = before + (a.anchor.text if a.anchor is not None and a.anchor.kind != "nominal" else "")
            for intent in ("agreed", "pledged", "planned"):   # not done yet: the strongest word wins
                if status[intent].search(said):
                    return intent
        if a.supplier is not None and a.anchor is not None and _HEADLINE_TO.match(sent[a.supplier.end:a.anchor.start]):
            return "planned"                              # "Russia to share technology with ..."
        people = a.item.kind in self.lex.personnel
        lemma = a.anchor.lemma if a.anchor is not None else ""
        if people and lemma in self.lex.roles.deploys:
            return "deployed"
        if people and a.anchor is not None and a.anchor.kind == "fight" and lemma not in ("serve", "join"):
            return "in combat"
        if people and status["in combat"].search(window):
            return "in combat"
        if people:
            return "deployed"
        if a.anchor is None and not a.origin:
            return "reported"
        if a.anchor is not None and _CLAIM_OF.search(sent[max(0, start - 60):start]):
            return "reported"                             # "Kyiv's claim of a Russian drone technology transfer"
        return "delivered"


_PAST_GUESS = re.compile(r"\b(?:may|might|could|must|would)\s+have\s+(?:\w+\s+)?$|\b(?:were|was|have|has|had|been)\s+"
                         r"(?:likely|probably|reportedly|apparently|allegedly)\s+$", re.I)
_CLAIM_OF = re.compile(r"\b(?:claims?|assertions?|allegations?|accusations?|rumou?rs?|reports?)\s+(?:of|about)\s+"
                       r"(?:[\w'’-]+\s+){0,5}$", re.I)
_SEEN = re.compile(r"\b(?:fir(?:e|es|ed|ing)|spotted|seen|sighted|photographed|pictured|filmed|geolocated|"
                   r"stationed|operat(?:es|ed|ing)|in\s+service|arrived|reached)\b", re.I)
_SEEN_PEOPLE = re.compile(r"\b(?:deployed|stationed|positioned|posted|seen|spotted|working|work|digging|dig|"
                          r"building|fighting|fought|operating|based)\b", re.I)
_IN_PLACE = re.compile(r"\b(?:in|at|near|inside|outside|around|by|to|through|across|into|towards?)\s+(?:the\s+)?"
                       r"(?:[\w-]+\s+){0,2}$", re.I)
_UNDER_DEAL = re.compile(r"^\s*(?:under|as\s+part\s+of|in\s+line\s+with)\s+(?:an?|the|their|its)\s+(?:\w+\s+){0,3}?"
                         r"(?:agreement|deal|treaty|accord|pact)\b", re.I)


def _by_status(watch: Watch, facts: tuple) -> tuple[str, bool]:
    """The match's severity and whether it alerts, as the watch's `statuses` data says for the
    statuses of its facts (the strongest severity; it alerts if any fact's status does)."""
    rules = watch.spec.statuses
    if not rules or not facts:
        return watch.spec.severity, True
    chosen = [rules.get(f.status) for f in facts]
    severities = [(rule.severity if rule and rule.severity else watch.spec.severity) for rule in chosen]
    return max(severities, key=SEVERITY_RANK.__getitem__), any(rule is None or rule.alert for rule in chosen)


def _merged(extensions) -> dict:
    from wirewatch.crawler.analysis.matching.lexicon import merge
    out: dict = {}
    for extra in extensions:
        out = merge(out, extra)
    return out


def _evidence(e: Event) -> Evidence:
    def span(start: int, end: int) -> Span:
        return Span(start, end, e.sentence[start:end])
    spans = {"item": span(e.item.start, e.item.end)}
    for role, party in (("supplier", e.supplier), ("recipient", e.recipient)):
        if e.sentence[party.start:party.end] == party.text:     # a party borrowed from elsewhere has no span here
            spans[role] = span(party.start, party.end)
    if e.anchor is not None:
        spans["transfer"] = span(e.anchor.start, e.anchor.end)
    if e.amounts:
        spans["quantity"] = span(e.amounts[0].start, e.amounts[0].end)
    return Evidence(e.sentence, e.score, e.rule, spans)
