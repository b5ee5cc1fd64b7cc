"""The event pattern: within a sentence (or adjacent sentences) a supplier, a transfer expression,
a military item and a recipient, read the way news prose writes them.

Roles come from English word order, not from fitted examples: the subject before an active
transfer verb gives ("Pyongyang has supplied ..."), the subject of a receiving verb receives
("Russia has used North Korean missiles"), a demonym on the item names its origin ("North Korean
troops"), and a marker before a later mention names the recipient ("to Moscow", "for Russia",
"in Kursk"). A missing role may be taken from the same or an adjacent sentence, at a lower score."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import NamedTuple

from wirewatch.crawler.analysis.matching.amounts import Amount
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer, Mention
from wirewatch.crawler.analysis.matching.lexicon import Lexicon
from wirewatch.crawler.analysis.matching.phrases import fold

_HEAD_NOUN = re.compile(
    r"^\s+(?:government|military|army|armed forces|forces|regime|leader|leadership|authorities|officials|"
    r"navy|air force|defen[cs]e ministry|ministry of defen[cs]e|ministry|state|side|troops|leaders|"
    r"administration|president|dictator|ally|units|commanders|soldiers|officials|"
    r"(?:decision|plan|move|readiness|willingness|bid|effort|attempt|offer|pledge|promise)\s+to)\b", re.I)
_PREP_BEFORE = re.compile(r"(?:\b(?:to|for|from|with|against|by|of|in|on|at|between|into|toward|towards|"
                          r"alongside|than|like|about|over|near|across|inside|within|through|via))\s+"
                          r"(?:(?:the|its|a|an)\s+)?$", re.I)
_USER_BREAK = re.compile(r";|:|\bbut\b|\bwhereas\b|\bhowever\b|\bseparately\b|—|–|\(|\)", re.I)
_CLAUSE_BREAK = re.compile(r";|:|\bbut\b|\bwhile\b|\bwhereas\b|\bhowever\b|—|–|\(|\)", re.I)
_ORIGIN_GAP = re.compile(r"^(?:['’]s)?[\s-]*(?:[\w,.-]+\s+){0,4}$", re.I)   # "'s newly made", "-built"
_ORIGIN_BLOCK = re.compile(r"\b(?:to|for|from|with|by|and|or|in|at|on|that|which|who|has|have|had|is|"
                           r"are|was|were|said|says|after|before|as|against|what|whose|where|when|while|than|but|because|if)\b", re.I)
# a pronoun or a definite description as the subject, a few words before the verb
_PRONOUN_SUBJECT = re.compile(r"(?:^|[,;]\s+)(?:yet\s+|but\s+|and\s+)?(?:they|it|he|she|(?:the|this)\s+(?:country|regime|state|"
                              r"north|isolated\s+state))\b(?:\s+[\w'’-]+){0,3}\s*$", re.I)
_MADE_IN = re.compile(r"\b(?:(?:made|produced|manufactured|built|assembled)\s+(?:in|by)|"
                      r"(?:bought|purchased|acquired|obtained|received|sourced|imported)\s+from|"
                      r"(?:is|are|was|were)\s+(?:\w+\s+)?of)\s+(?:the\s+)?$", re.I)
_MAKE = re.compile(r"^(?:['’]s)?\s*(?:manufacture|make|origin|design|production)\b", re.I)   # "of North Korean make"
_ORIGIN_AFTER = re.compile(r"\s+(?:from|of|made\s+in|produced\s+in|supplied\s+by|provided\s+by)\s+(?:the\s+)?",
                           re.I)
# "to" that introduces a source, a cause or a comparison, not a recipient
_NOT_RECIPIENT = re.compile(r"\b(?:according|due|thanks|close|next|similar|compared|addition|prior|owing|"
                            r"up|referring|response|relation|regard|contrary|linked|tied|attributed)\s+to\s+"
                            r"(?:(?:the|a|an)\s+)?(?:\w+\s+)?$", re.I)
# the parties help each other: "give the other military assistance", "come to each other's aid"
_MUTUAL = re.compile(r"\b(?:each\s+other|one\s+another|each\s+(?:country|state|side|party|nation|signatory)\b"
                     r".{0,60}\bthe\s+other)(?:['’]s?)?\s+(?:[\w-]+\s+){0,3}$", re.I)
_INTO_ORBIT = re.compile(r"\b(put|puts|putting|placed|places|placing)\b(?=[^.;]{1,80}?\binto\s+(?:an?\s+)?orbit\b)",
                         re.I)
_MUTUAL_AFTER = re.compile(r"\s+(?:to|for)\s+(?:the\s+other|each\s+other|one\s+another)\b", re.I)
# a comma-enclosed aside right after an item, and the words in it that give its origin
_APPOSITIVE = re.compile(r"\s*,(?:[^,;:()—–]){3,160},\s*")
_BELONGS = re.compile(r"\b(?:from|of|belong(?:s|ing)?\s+to|serv(?:e|es|ed|ing)\s+(?:in|with)|sent\s+by|members\s+of)"
                      r"\s+(?:(?:the|a|an)\s+)?(?:[\w-]+\s+){0,4}$", re.I)
_PRONOUN_ITEM = re.compile(r"\s+(?:(?:about|around|nearly|roughly|almost|at\s+least|more\s+than|over)\s+)?"
                           r"(?:(?!none\b|neither\b|no\b|few\b)(?:a\s+few|[\w,]+(?:\s+(?:dozen|hundred|thousand))?)"
                           r"\s+of\s+)?(?P<them>them|those)\b", re.I)
_A_MAKE = re.compile(r"\s*,\s*(?:an?\s+)?")            # "The 170mm howitzer, a North Korean design,"
_POSSESSIVE = re.compile(r"^['’]s?")
_BY_MARKER = re.compile(r"\bby\s+(?:the\s+)?$", re.I)        # "supplied by (the) X"
_OWN_ITEM = re.compile(r"\b(?:its|their|his|her|our|own)\b", re.I)
# the words before people one fights or trains beside, and before the units others are put into
_NP_TAIL = r"\s+(?:(?:the|their|its|a|an)\s+)?(?:[\w'’.-]+\s+){0,3}$"
_PARTNER_BEFORE = re.compile(r"\b(?:alongside|together\s+with|side\s+by\s+side\s+with|beside|jointly\s+with|"
                             r"along\s+with|shoulder\s+to\s+shoulder\s+with|(?:fight\w*|fought|train\w*|serv\w*|"
                             r"operat\w*)\s+with)" + _NP_TAIL, re.I)
# what an item is for, not what moved: "rockets for Russia's Grad launchers", "technology for its tanks"
_FOR_WHOSE = re.compile(r"\bfor\s+(?:the\s+)?(?:its|their|his|her|[\w.-]+['’]s)\s+(?:[\w-]+\s+){0,3}"
                        r"(?:(?:and|or)\s+(?:[\w-]+\s+){0,2})?$", re.I)
# whose units people join: a named side's units ("into Russian units", "joined Russia's 810th
# brigade", "for Russian forces"), not a verb's object ("plans to send troops")
# what is being improved is the purpose, not what moved: "sharing data to improve North Korean missile guidance"
_IMPROVED = re.compile(r"\b(?:improv|upgrad|moderni[sz]|refin|enhanc|boost)\w*\s+(?:the\s+)?(?:its\s+|their\s+|"
                       r"[\w.-]+['’]s\s+|[A-Z][\w-]*\s+){1,3}(?:[a-z][\w-]*\s+){0,2}$")
# what gains from the item is no item moved: "give Moscow's artillery extra reach"
_GAINS = re.compile(r"\s+(?:extra|more|greater|added|longer|new|much-needed)\s+(?:reach|range|firepower|punch|"
                    r"capabilit(?:y|ies)|edge|boost|accuracy)\b", re.I)
_HOST_BEFORE = re.compile(r"\b(?i:into|in|within|among|under|to|with|for|join(?:s|ed|ing)?)\s+(?:(?i:the|their|its|a|an)\s+)?"
                          r"(?:[A-Z][\w'’.-]*\s+){1,3}(?:[a-z][\w-]*\s+)?$")
_HOST_UNITS = {"unit", "units", "brigade", "brigades", "battalion", "battalions", "formation", "formations",
               "regiment", "regiments", "rank", "ranks", "division", "divisions", "military unit", "military units",
               "crew", "crews", "force", "forces", "troop", "troops", "army", "armed force", "armed forces"}


@dataclass(frozen=True)
class Anchor:
    start: int
    end: int
    kind: str           # give | receive | fight | nominal
    lemma: str
    text: str


class ItemHit(NamedTuple):
    """A military item named in a sentence: its span and its class (troops, shells ...)."""
    start: int
    end: int
    kind: str


@dataclass(frozen=True)
class Event:
    """A complete transfer read from one sentence: the unit the matcher scores and turns into facts."""
    sentence_index: int
    sentence: str
    supplier: Mention
    recipient: Mention
    item: ItemHit
    anchor: Anchor | None
    score: float
    rule: str
    amounts: tuple[Amount, ...]                # the figures counting the item, in the order written
    status: str
    denied: bool = False                       # the text says it did not happen ("denied sending")
    mutual: bool = False                       # each party helps the other: a fact both ways


@dataclass
class Analysis:
    """What one item in one sentence resolved to, complete or not (for --explain)."""
    sentence: int
    item: ItemHit
    anchor: Anchor | None
    supplier: Mention | None = None
    recipient: Mention | None = None
    origin: Mention | None = None
    rule: str = ""
    basis: str = "verb_before_item"       # a base score named in Scoring
    may_borrow_recipient: bool = True
    may_borrow_supplier: bool = False
    user: Mention | None = None       # a party seen using weapons in the sentence ("fired by Russian forces")
    pronoun_subject: bool = False     # "They / The country has delivered ...": the subject is in an earlier sentence
    carried_item: bool = False        # the item is a pronoun for the previous sentence's ("dozens of them")
    partner: bool = False             # "fighting alongside Russian troops": the item is whom they fight with
    mutual: bool = False              # "each country to give the other military assistance": both ways, parties from context


def _tokens(text: str) -> int:
    return len(re.findall(r"\w+", text))


class EventReader:
    def __init__(self, gazetteer: Gazetteer, lexicon: Lexicon):
        self.gaz = gazetteer
        self.lex = lexicon

    # ---- one sentence -------------------------------------------------------------------------
    def analyse(self, index: int, sent: str, previous: tuple[str, ...] = (),
                previous_origin: Mention | None = None) -> tuple[list[Mention], list[Analysis]]:
        """`previous`: the item classes of the sentence before, for "received dozens of them";
        `previous_origin`: whose its last item was, which "them" keeps ("The howitzers came from
        North Korea. Russia has deployed them": Russia is not their supplier)."""
        mentions = self.gaz.mentions(sent)
        folded = fold(sent)
        # a gated class passes in a sentence that shows its purpose, or right after one that did
        # ("... workers at Russia's Alabuga drone plant. About 1,000 workers arrived there.")
        items = [ItemHit(*i) for i in self.lex.items.find(sent, folded)
                 if not any(m.start <= i[0] and i[1] <= m.end for m in mentions)
                 and not self.lex.modifier_heads.match(sent, i[1])
                 and (i[2] not in self.lex.gated_items or self.lex.gated_items[i[2]].search(sent)
                      or self.lex.item_class_of.get(i[2], i[2]) in previous)]
        items = [ItemHit(i.start, i.end, self.lex.item_class_of.get(i.kind, i.kind)) for i in items]
        anchors = [Anchor(s, e, kind, lemma, sent[s:e]) for s, e, (kind, lemma) in self.lex.verbs.find(sent, folded)]
        agents = [Anchor(s, e, kind, lemma, sent[s:e]) for s, e, (kind, lemma) in self.lex.agents.find(sent, folded)]
        anchors += [Anchor(s, e, "nominal", lemma, sent[s:e]) for s, e, lemma in self.lex.nominals.find(sent, folded)]
        for orbit in _INTO_ORBIT.finditer(sent):     # "put two Iranian satellites into orbit"
            anchors.append(Anchor(orbit.start(1), orbit.end(1), "receive", "put into orbit", orbit.group(1)))
        anchors = [a for a in anchors if not any(i.start <= a.start < i.end for i in items)
                   and not any(m.start <= a.start < m.end for m in mentions)
                   and not (a.kind != "nominal" and self._noun_position(sent, a, mentions))]
        anchors += [a for a in agents if not any(a.start < x.end and x.start < a.end for x in anchors)]
        for a in anchors:                       # "North Korea has been arming Russia": weapons implied
            implied = self.lex.implicit_item.get(a.lemma) if a.kind != "nominal" else None
            if implied in self.lex.gated_items and not self.lex.gated_items[implied].search(sent):
                implied = None                  # "help" is technology only where the sentence says what for
            if implied and not any(i.start >= a.end and _tokens(sent[a.end:i.start]) <= 4
                                   and not _IMPROVED.search(sent[max(0, i.start - 60):i.start]) for i in items):
                items.append(ItemHit(a.start, a.end, self.lex.item_class_of.get(implied, implied)))
        carried = set()
        if previous:                            # "received several dozen of them": the last sentence's item
            for a in anchors:
                them = _PRONOUN_ITEM.match(sent, a.end) if a.kind in ("give", "receive") else None
                if them and not any(a.end <= i.start <= them.end() for i in items):
                    items.append(ItemHit(them.end() - len(them.group("them")), them.end(), previous[-1]))
                    carried.add(items[-1])
        analyses = [self._analyse_item(index, sent, item, anchors, mentions,
                                       previous_origin if item in carried else None) for item in items]
        for analysis in analyses:
            analysis.carried_item = analysis.item in carried
        user = self._user(sent, anchors, mentions) if analyses else None
        for analysis in analyses:             # the user must be in the item's clause or a while-clause
            if user is not None:
                lo, hi = sorted((user.start, analysis.item.start))
                analysis.user = None if _USER_BREAK.search(sent[lo:hi]) else user
        return mentions, analyses

    def _analyse_item(self, index: int, sent: str, item, anchors: list[Anchor],
                      mentions: list[Mention], carried_origin: Mention | None = None) -> Analysis:
        origin = self._origin(sent, item, mentions)
        if origin is None and carried_origin is not None:     # no span here: it was named a sentence ago
            origin = Mention(item.start, item.end, carried_origin.entity, "carried", "")
        implied = next((a for a in anchors if (a.start, a.end) == (item.start, item.end) and a.kind != "nominal"), None)
        if implied is not None:
            return self._active(index, sent, item, implied, mentions, origin)
        before = [a for a in anchors if a.end <= item.start and _tokens(sent[a.end:item.start]) <= 12
                  and not _CLAUSE_BREAK.search(sent[a.end:item.start])]
        after = self._anchors_after(sent, item.end, anchors)
        aside = _APPOSITIVE.match(sent, item.end)
        if not after and aside:                             # "The soldiers, thought to be from ..., are"
            after = self._anchors_after(sent, aside.end(), anchors)
        if before:
            tries = [self._active(index, sent, item, anchor, mentions, origin)
                     for anchor in sorted(before, key=lambda a: -a.end)[:3]]
            result = next((r for r in tries if r.supplier is not None and r.recipient is not None),
                          next((r for r in tries if r.supplier is not None), tries[0]))
        elif after:
            anchor = min(after, key=lambda a: a.start)
            result = self._after_item(index, sent, item, anchor, mentions, origin)
        else:
            result = Analysis(index, item, None, origin=origin, rule="item without verb",
                              basis="item_without_verb")
            result.supplier = origin
            # people are where a place is said in their clause ("engineers ... clearing mines in
            # Russia's Kursk region"); a thing only right after it ("shells for Russia")
            result.recipient = self._marked_recipient(sent, item.end, mentions, "nominal", "", max_gap=4)
            if result.recipient is None and item.kind in self.lex.personnel:
                far = self._marked_recipient(sent, item.end, mentions, "nominal", "", max_gap=12)
                if far is not None and self.lex.duties.search(sent[item.end:far.start]):
                    result.recipient = far
            result.may_borrow_recipient = False
        result.mutual = bool(_MUTUAL.search(sent[max(0, item.start - 120):item.start]) or (
            _MUTUAL_AFTER.match(sent, item.end) and re.search(r"\beach\b", sent[max(0, item.start - 80):item.start]))
            or fold(sent[item.start:item.end]) in self.lex.mutual_phrases)      # "ratified the defence treaty"
        if (item.kind in self.lex.personnel and self._partnered(sent, item)) or (
                item.kind != "technology" and _FOR_WHOSE.search(sent[max(0, item.start - 60):item.start])) \
                or _IMPROVED.search(sent[max(0, item.start - 60):item.start]) or _GAINS.match(sent, item.end):
            result.partner = True               # "together with North Korean units", "for Russia's Grad launchers"
        if sent[item.start:item.end].lower() in self.lex.gated_phrases:
            result.may_borrow_recipient = True       # its purpose is the evidence ("assistance from Russia")
        if result.supplier is None and origin is not None and result.anchor is not None \
                and result.anchor.kind != "receive":
            result.supplier = origin
        if result.supplier is None and (result.anchor is None or result.anchor.kind != "receive"):
            source = self._marked(sent, item.end, mentions, re.compile(r"\bfrom\s+(?:the\s+)?$", re.I))
            if source is not None:             # "ammunition shipments from the DPRK to Russia"
                result.supplier = source
                result.recipient = result.recipient or self._marked_recipient(
                    sent, source.end, mentions, "give", "", max_gap=3)
        return result

    @staticmethod
    def _partnered(sent: str, item: ItemHit) -> bool:
        """People named as those others fight or train beside, or the units others join: a
        partner or a host, not the people moved ("alongside Russian marines", "side by side with
        Russian crews", "folded into Russian units")."""
        before = sent[max(0, item.start - 80):item.start]
        if _PARTNER_BEFORE.search(before):
            return True
        return _HOST_BEFORE.search(before) is not None and \
            sent[item.start:item.end].lower().rstrip("s") in _HOST_UNITS

    @staticmethod
    def _anchors_after(sent: str, start: int, anchors: list[Anchor]) -> list[Anchor]:
        return [a for a in anchors if a.start >= start and a.kind != "nominal"
                and _tokens(sent[start:a.start]) <= 10 and not _CLAUSE_BREAK.search(sent[start:a.start])]

    def _active(self, index, sent, item, anchor: Anchor, mentions, origin) -> Analysis:
        result = Analysis(index, item, anchor, origin=origin)
        if item.start == anchor.start:                     # an implied item: the verb's object is the recipient
            result.rule = "transfer verb implying the item"
            result.supplier = self._subject(sent, anchor, mentions)
            result.recipient = self._object(sent, anchor, mentions)
            result.may_borrow_recipient = False
            return result
        between = sent[anchor.end:item.start]
        if _OWN_ITEM.search(between) and origin is None and \
                not any(anchor.end <= m.start and m.end <= item.start for m in mentions):
            # "Russia is arming its troops": the subject's own item goes to nobody unless a
            # recipient is named ("sharing its know-how with North Korea")
            result.may_borrow_recipient = False
        if anchor.lemma in self.lex.service_verbs and fold(sent[item.start:item.end]) in self.lex.service_items \
                and origin is not None:
            # "Russia launched an Iranian satellite": the launcher serves the item's owner
            result.rule = "a service done on the other party's item"
            result.supplier = self._subject(sent, anchor, mentions) or next(      # "A Russian Soyuz rocket launched"
                (m for m in reversed(mentions) if m.end <= anchor.start and m.entity != origin.entity), None)
            result.recipient = origin
            result.item = ItemHit(item.start, item.end, "technology")
            result.may_borrow_recipient = result.may_borrow_supplier = False
            return result
        if anchor.kind == "receive":
            result.rule = "receiver uses or obtains the item"
            result.recipient = self._subject(sent, anchor, mentions)
            result.pronoun_subject = result.recipient is None \
                and bool(_PRONOUN_SUBJECT.search(sent[:anchor.start]))     # "He is expected to secure ..."
            result.supplier = origin or self._marked(sent, item.end, mentions, self.lex.from_markers)
            if anchor.lemma in self.lex.roles.supplier_is_object:
                result.supplier = result.supplier or self._object(sent, anchor, mentions)
            result.may_borrow_recipient = False
            result.may_borrow_supplier = anchor.lemma in self.lex.roles.obtains
            result.basis = "receiver_verb"
            return result
        if anchor.kind == "fight":
            if re.search(r"\b(?:alongside|with|against|for|beside|among)\b", sent[anchor.end:item.start], re.I):
                # "fight alongside Russian forces": the item is who they fight with, not the fighters
                result.rule = "combat verb before item"
                result.may_borrow_recipient = False
                result.partner = item.kind in self.lex.personnel
                return result
            result.rule = "troops in combat"           # "captured two North Korean soldiers in Kursk"
            result.supplier = origin
            result.recipient = self._marked_recipient(sent, item.end, mentions, "fight", anchor.lemma)
            result.basis = "combat"
            return result
        subject = self._possessor(sent, anchor, mentions) if anchor.kind == "nominal" \
            else self._subject(sent, anchor, mentions)
        result.pronoun_subject = subject is None and anchor.kind == "give" and origin is None \
            and bool(_PRONOUN_SUBJECT.search(sent[:anchor.start]))
        result.rule = "transfer noun" if anchor.kind == "nominal" else "supplier transfers item to recipient"
        result.supplier = origin or subject
        if anchor.kind == "nominal" and result.supplier is None:
            result.supplier = self._marked(sent, anchor.end, mentions, self.lex.from_markers, limit=item.end + 40)
        indirect = self._object(sent, anchor, mentions) if anchor.kind != "nominal" else \
            self._marked(sent, anchor.end, mentions, re.compile(r"^\s*of\s+(?:the\s+)?$", re.I),
                         limit=anchor.end + 12, first_only=True)    # "backing of Moscow with troops"
        result.recipient = indirect or self._marked_recipient(sent, item.end, mentions, anchor.kind, anchor.lemma)
        if result.recipient is None and origin is not None and subject is not None \
                and subject.entity != origin.entity and anchor.kind != "nominal":
            result.recipient = subject          # "Russia has deployed North Korean troops"
        if anchor.kind == "nominal":
            result.basis = "transfer_noun"
            result.may_borrow_supplier = True        # "the dispatch of troops to Russia"
        return result

    def _after_item(self, index, sent, item, anchor: Anchor, mentions, origin) -> Analysis:
        result = Analysis(index, item, anchor, origin=origin, basis="item_before_verb")
        relative = self._relative_subject(sent, item, anchor, mentions)
        if relative is not None and anchor.kind in ("give", "receive"):
            # "the 14,000 troops Pyongyang has sent to Moscow", "shells that Russia received from ..."
            result.rule = "item, then who moved it"
            marker = self.lex.from_markers if anchor.kind == "receive" else None
            other = self._marked(sent, anchor.end, mentions, marker) if marker else \
                self._marked_recipient(sent, anchor.end, mentions, anchor.kind, anchor.lemma)
            result.supplier, result.recipient = (origin or other, relative) if anchor.kind == "receive" \
                else (relative, other)
            result.may_borrow_supplier = anchor.kind == "receive"
            return result
        passive = bool(self.lex.passive.search(anchor.text)) and anchor.text.lower() != anchor.lemma
        if anchor.kind == "receive":
            result.rule = "item used by receiver"
            by = self._marked(sent, anchor.end, mentions, _BY_MARKER)
            result.recipient = by if passive else None
            result.supplier = origin
            result.may_borrow_recipient = False
            return result
        if anchor.kind == "fight":
            result.rule = "troops in combat"
            result.supplier = origin or self._subject(sent, Anchor(item.start, item.end, "", "", ""), mentions)
            joined = self._object(sent, anchor, mentions) if anchor.lemma in self.lex.roles.joins else None
            result.recipient = joined or self._marked_recipient(sent, anchor.end, mentions, "fight", anchor.lemma)
            result.basis = "combat"
            return result
        result.rule = "item transferred to recipient"
        by = self._marked(sent, anchor.end, mentions, _BY_MARKER,
                          first_only=True) if passive else None
        result.supplier = origin or by
        result.may_borrow_supplier = passive          # "1,500 special forces sent to Russia"
        direct = None if passive else self._object(sent, anchor, mentions)
        result.recipient = direct or self._marked_recipient(sent, anchor.end, mentions, anchor.kind, anchor.lemma)
        if result.recipient is None and item.kind in self.lex.personnel:   # "losses in Kursk have reached"
            result.recipient = self._marked_recipient(sent, item.end, mentions, "nominal", "", max_gap=3)
        return result

    @staticmethod
    def _relative_subject(sent: str, item, anchor: Anchor, mentions: list[Mention]) -> Mention | None:
        """The subject of a relative clause on the item: 'troops (that) Pyongyang has sent'."""
        inside = [m for m in mentions if item.end <= m.start and m.end <= anchor.start]
        if len(inside) != 1 or inside[0].possessive or inside[0].kind in ("demonym", "location"):
            return None
        m = inside[0]
        lead, rest = sent[item.end:m.start], sent[m.end:anchor.start]
        if not re.fullmatch(r"\s*(?:,\s*)?(?:that|which)?\s*(?:the\s+)?", lead, re.I):
            return None
        if not re.fullmatch(r"\s+(?:(?:has|have|had|is|was|were|are|will|would|may|could|reportedly|"
                            r"already|also|now|been|allegedly|since|so\s+far)\s+)*", rest, re.I):
            return None
        return m

    def _noun_position(self, sent: str, anchor: Anchor, mentions: list[Mention]) -> bool:
        """'Russian help', 'its support', 'the transfer': a determiner or demonym makes it a noun
        (but "said that sending ..." is a conjunction before a gerund)."""
        before = sent[:anchor.start]
        determiner = re.search(r"\b(?:the|a|an|its|their|his|her|this|that|such|technical|military|further|more)\s+$",
                               before, re.I)
        if determiner and not (determiner.group().lower().startswith("that")
                               and self.lex.reporting.search(before[max(0, determiner.start() - 30):determiner.start()])):
            return True
        return any(m.kind == "demonym" and not before[m.end:].strip() for m in mentions if m.end <= anchor.start)

    # ---- roles ---------------------------------------------------------------------------------
    def _origin(self, sent: str, item, mentions: list[Mention]) -> Mention | None:
        """'North Korean troops', "Pyongyang's shells", 'KN-23 missiles from North Korea'."""
        for m in reversed(mentions):
            if m.end <= item.start or (m.start < item.start < m.end):
                gap = sent[m.end:item.start] if m.end <= item.start else ""
                if m.kind == "location" or _ORIGIN_BLOCK.search(gap) or not _ORIGIN_GAP.match(gap):
                    break
                if m.kind == "demonym" or m.possessive or m.start < item.start < m.end or \
                        (m.kind in ("name", "capital") and not gap.strip() and not self._indirect_object(sent, m)):
                    return m                     # "DPRK ammunition", but not "give North Korea fighter jets"
                break
        after = next((m for m in mentions if m.start >= item.end), None)      # "troops from North Korea"
        if after is not None and after.kind != "location" and _ORIGIN_AFTER.fullmatch(sent[item.end:after.start]):
            return after
        for later in (m for m in mentions if m.start >= item.end and m.kind != "location"):
            gap = sent[item.end:later.start]       # "... was manufactured in North Korea", "are of North Korean make"
            if _tokens(gap) > 14 or _CLAUSE_BREAK.search(gap):
                break
            made = _MADE_IN.search(gap)
            if made and (not made.group().lower().rstrip().endswith(("of", "of the")) or _MAKE.match(sent[later.end:])):
                return later                   # "a missile that prosecutors say was manufactured in North Korea"
        aside = _APPOSITIVE.match(sent, item.end)
        if aside is not None:             # "The two men, who officials say belong to North Korea's 11th Corps,"
            named = next((m for m in mentions if aside.start() <= m.start and m.end <= aside.end()
                          and m.kind != "location" and (_BELONGS.search(sent[aside.start():m.start]) or (
                              _A_MAKE.fullmatch(sent[aside.start():m.start]) and _MAKE.match(sent[m.end:])))), None)
            if named is not None:
                return named
        maker = self.lex.made_by.get(fold(sent[item.start:item.end]))
        if maker is not None:              # a model only one state makes: "KN-23", "Koksan"
            return Mention(item.start, item.end, maker, "model", sent[item.start:item.end])
        return None

    def _indirect_object(self, sent: str, m: Mention) -> bool:
        """'give North Korea fighter jets': the name right after a giving verb receives."""
        before = sent[max(0, m.start - 30):m.start]
        return any(kind == "give" and re.fullmatch(r"\s*(?:the\s+)?", before[end:])
                   for _, end, (kind, _) in self.lex.verbs.find(before, fold(before)))

    def _user(self, sent: str, anchors: list[Anchor], mentions: list[Mention]) -> Mention | None:
        """Who the sentence shows using weapons: the subject of a use verb ("Russian gunners are
        firing ..."), its agent ("fired by Russian forces", "the use of ... by Russia"), or a party
        named with a military noun ("after Sunday's Russian attack", "its Russian crew")."""
        for anchor in anchors:
            if anchor.kind == "receive" and anchor.lemma in self.lex.use_verbs:
                agent = self._subject(sent, anchor, mentions) or self._marked(sent, anchor.end, mentions, _BY_MARKER)
                if agent is not None and agent.kind != "location":
                    return agent
        for m in mentions:
            if m.kind != "location" and (self.lex.user_heads.match(sent, m.end) or self.lex.attacks_with.match(sent, m.end)):
                return m
            if re.search(r"\b(?:use|used|fired|launched)\b[^;:]*\bby\s+(?:the\s+)?$", sent[:m.start], re.I):
                return m
        return None

    def _subject(self, sent: str, anchor: Anchor, mentions: list[Mention]) -> Mention | None:
        for m in reversed([m for m in mentions if m.end <= anchor.start]):
            gap = sent[m.end:anchor.start]
            if _CLAUSE_BREAK.search(gap) and not re.fullmatch(r"\s*,[^,]*,\s*", gap) or _tokens(gap) > 12:
                return None
            if self.lex.reporting.search(gap) and not re.search(r"\bthat\s*$", gap):
                return None                 # "KCNA said, praising ...": the source, not the actor
            if _PREP_BEFORE.search(sent[:m.start]):
                continue
            if m.possessive and not _HEAD_NOUN.match(_POSSESSIVE.sub("", sent[m.end:m.end + 40])):
                continue
            if m.kind == "demonym" and not (m.text.lower().endswith("ns") or _HEAD_NOUN.match(sent[m.end:])):
                continue
            return m
        return None

    def _possessor(self, sent: str, anchor: Anchor, mentions: list[Mention]) -> Mention | None:
        """'North Korea's deployment', 'the North Korean deployment', 'Pyongyang's supply'."""
        for m in mentions:
            if m.end <= anchor.start and re.fullmatch(r"(?:\s+(?:military|arms|weapons|troop|continued|"
                                                      r"large-scale|massive|latest|new|reported))*\s*",
                                                      sent[m.end:anchor.start], re.I):
                if m.possessive or m.kind == "demonym":
                    return m
        return self._marked(sent, anchor.end, mentions, _BY_MARKER,
                            limit=anchor.end + 40)

    def _object(self, sent: str, anchor: Anchor, mentions: list[Mention]) -> Mention | None:
        """'supplied Russia with shells', 'sent Moscow 1 million shells', 'reinforce Russian forces'."""
        for m in mentions:
            if m.start >= anchor.end:
                gap = sent[anchor.end:m.start]
                if re.fullmatch(r"\s+(?:(?:the|its|a|an|their)\s+)?", gap):
                    return m
                return None
        return None

    def _marked(self, sent: str, start: int, mentions: list[Mention], marker: re.Pattern,
                limit: int | None = None, first_only: bool = False) -> Mention | None:
        for m in mentions:
            if m.start >= start and (limit is None or m.start <= limit):
                gap = sent[start:m.start]
                if _CLAUSE_BREAK.search(gap) or _tokens(gap) > 10:
                    return None
                if marker.search(" " + gap):
                    return m
                if first_only:
                    return None
        return None

    def _marked_recipient(self, sent: str, start: int, mentions: list[Mention], kind: str,
                          lemma: str, max_gap: int = 10) -> Mention | None:
        for m in mentions:
            if m.start < start:
                continue
            gap = " " + sent[start:m.start]
            if _CLAUSE_BREAK.search(gap) or _tokens(gap) > max_gap or re.search(r"\bagainst\s+(?:the\s+)?$", gap):
                return None
            if re.search(r"\bin\s+(?:the\s+|its\s+)?$", gap):
                if m.kind == "location" or (m.possessive and m.kind == "name") or \
                        (kind != "fight" and m.kind == "name"):
                    return m
                continue
            if re.search(r"\bwith\s+(?:the\s+)?$", gap) and kind != "fight" and lemma not in self.lex.roles.with_recipient:
                continue
            if self.lex.to_markers.search(gap) and not _NOT_RECIPIENT.search(gap):
                return m
        return None
