"""The event lexicon (config/lexicon.yaml) compiled to patterns: transfer verbs with their
inflections, nominal transfers, item classes, recipient markers and status cues."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from wirewatch.config import CONFIG_DIR
from wirewatch.crawler.analysis.matching.phrases import PhraseIndex, fold
from wirewatch.crawler.errors import ConfigError


def inflect(lemma: str, doubles: frozenset[str] = frozenset()) -> set[str]:
    """send → send, sends, sending, sended (harmless); supply → supplies, supplied, supplying."""
    head, _, rest = lemma.partition(" ")
    tail = f" {rest}" if rest else ""
    forms = {head}
    if head.endswith("e"):
        forms |= {head + "s", head + "d", head[:-1] + "ing"}
    elif re.search(r"[^aeiou]y$", head):
        forms |= {head[:-1] + "ies", head[:-1] + "ied", head + "ing"}
    elif re.search(r"(s|sh|ch|x)$", head):
        forms |= {head + "es", head + "ed", head + "ing"}
    else:
        double = head + head[-1] if head in doubles else head
        forms |= {head + "s", double + "ed", double + "ing"}
        if head.endswith("l") and not head.endswith("ll"):      # British: funnelled, channelling
            forms |= {head + "led", head + "ling"}
    return {f + tail for f in forms}


def _alternation(phrases: list[str]) -> str:
    ordered = sorted({p for p in phrases if p}, key=len, reverse=True)
    return "|".join(re.escape(p).replace(r"\ ", r"\s+") for p in ordered)


def _bounded(phrases: list[str]) -> re.Pattern:
    return re.compile(rf"(?<![\w-])(?:{_alternation(phrases)})(?![\w-])", re.I)


@dataclass(frozen=True)
class VerbRoles:
    """How particular verbs place the parties (lemmas; lexicon.yaml `verb_roles`)."""
    obtains: frozenset[str]             # a receiver whose missing supplier may come from context
    supplier_is_object: frozenset[str]  # "Russia turned to North Korea for shells"
    with_recipient: frozenset[str]      # "share technology with Pyongyang": `with` marks the recipient
    joins: frozenset[str]               # "joined Russian forces": the object is whom they joined
    deploys: frozenset[str]             # people moved by these verbs are `deployed`


@dataclass(frozen=True)
class Lexicon:
    verbs: PhraseIndex                  # inflected form → (give | receive | fight, lemma)
    nominals: PhraseIndex               # → lemma
    items: PhraseIndex                  # → class
    agents: PhraseIndex                 # "a key supplier of shells" → read as the verb "supply"
    modifier_heads: re.Pattern          # "missile factory": the item word only modifies the noun after it
    to_markers: re.Pattern              # a recipient marker ending right before a mention
    from_markers: re.Pattern
    status: dict[str, re.Pattern]
    implicit_item: dict[str, str]       # verb lemma → the item it implies ("arm" → weapons)
    roles: VerbRoles
    personnel: frozenset[str]          # item classes that are people: deployed, in combat, casualties
    reporting: re.Pattern               # "KCNA said, praising ...": who reports is not who acts
    made_by: dict[str, str]             # folded model name → the state that makes it ("kn-23" → north_korea)
    use_verbs: frozenset[str]           # receive verbs that mean using weapons (fire, launch, use)
    user_heads: re.Pattern              # "Russian forces / attack / crew": a party seen using weapons
    attacks_with: re.Pattern            # "Russia struck Kharkiv with ...": after a party, it attacks with something
    gated_items: dict[str, re.Pattern]  # item class → the purpose its sentence must show
    item_class_of: dict[str, str]       # a gated class counted as another ("technical_help" → technology)
    gated_phrases: frozenset[str]       # item phrases of the gated classes (lowercase): their purpose is
                                        # the evidence, so they may take a recipient from their sentence
    passive: re.Pattern                 # a verb form that may be a passive participle ("sent", "-ed")
    duties: re.Pattern                  # what people sent do where they are ("clearing mines", "fighting")
    mutual_phrases: frozenset[str]      # items that bind both parties to help each other (a defence treaty)
    service_verbs: frozenset[str]       # lemmas of a service done on another's item ("launch" a satellite)
    service_items: frozenset[str]       # items such a service is done on (folded)

    @classmethod
    def load(cls, path: str | Path | None = None, extra: dict | None = None) -> "Lexicon":
        """The shipped lexicon (or `path`), extended with a watch's own entries (`extra`)."""
        path = Path(path) if path else CONFIG_DIR / "lexicon.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls.build(merge(data, extra or {}))
        except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError, re.error) as exc:
            raise ConfigError(f"lexicon {path}: {exc}") from None

    @classmethod
    def build(cls, data: dict) -> "Lexicon":
        verb_class, verb_lemma = {}, {}
        doubles = frozenset(data.get("double_final", []))
        for klass, lemmas in data["verbs"].items():
            for lemma in lemmas:
                for form in inflect(lemma, doubles) | set(data.get("irregular", {}).get(lemma, [])):
                    verb_class[form.lower()] = klass
                    verb_lemma[form.lower()] = lemma
        item_class = {p.lower(): k for k, phrases in data["items"].items() for p in phrases}
        marker = lambda words: re.compile(  # noqa: E731 - a marker must END the gap text
            rf"(?:^|\s)(?:{_alternation(words)})\s+(?:(?:the|its|a|an|their|his|her)\s+)?$", re.I)
        return cls(
            verbs=PhraseIndex((form, (verb_class[form], verb_lemma[form])) for form in verb_class),
            nominals=PhraseIndex((n, n.lower()) for n in data["nominal"]),
            items=PhraseIndex(item_class.items()),
            agents=PhraseIndex((a, ("give", "supply")) for a in data.get("agent", [])),
            modifier_heads=re.compile(rf"[\s-]+(?:{_alternation(data.get('modified_by', []))})(?![\w-])", re.I),
            to_markers=marker(data["to_recipient"]), from_markers=marker(data["from_supplier"]),
            status={k: _bounded(v) for k, v in data["status"].items()},
            implicit_item=dict(data.get("implicit_item") or {}),
            roles=VerbRoles(**{role: frozenset(data["verb_roles"].get(role, [])) for role in
                               ("obtains", "supplier_is_object", "with_recipient", "joins", "deploys")}),
            personnel=frozenset(data.get("personnel", [])),
            reporting=re.compile(rf"\b(?:{_alternation(data['reporting'])})\b", re.I),
            made_by={fold(model): state for state, models in (data.get("made_by") or {}).items()
                     for model in models},
            use_verbs=frozenset(data["verb_roles"].get("uses", [])),
            gated_items={kind: _bounded(words) for kind, words in (data.get("gated_items") or {}).items()},
            item_class_of=dict(data.get("item_class_of") or {}),
            gated_phrases=frozenset(p.lower() for kind in (data.get("gated_items") or {})
                                    for p in data["items"].get(kind, [])),
            user_heads=re.compile(rf"(?:['’]s)?[\s-]+(?:\w+\s+)?(?:{_alternation(data.get('user_heads', ['forces']))})\b", re.I),
            attacks_with=re.compile(
                r"(?:['’]s\s+[\w-]+)?\s+(?:(?:has|have|had|again|also|reportedly|repeatedly)\s+)*(?:"
                + _alternation(sorted({f for lemma in data.get("attack_verbs", []) for f in
                                       inflect(lemma, doubles) | set(data.get("irregular", {}).get(lemma, []))}))
                + r")\s+[^.;:()\s][^.;:()]{0,80}?\bwith\b", re.I)     # with a target before "with"
            if data.get("attack_verbs") else re.compile(r"(?!)"),
            passive=re.compile(rf"(?:ed|en|{_alternation(data['irregular_participles'])})$", re.I),
            duties=_bounded(data.get("duties") or ["fighting"]),
            mutual_phrases=frozenset(fold(p) for p in data["items"].get("defence_treaty", [])),
            service_verbs=frozenset((data.get("service") or {}).get("verbs", [])),
            service_items=frozenset(fold(i) for i in (data.get("service") or {}).get("items", [])))


def merge(base: dict, extra: dict) -> dict:
    """A watch's additions on top of the shared data: lists are extended, mappings merged."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merged[key] = merge(base[key], value)
        elif isinstance(value, list) and isinstance(base.get(key), list):
            merged[key] = base[key] + [v for v in value if v not in base[key]]
        else:
            merged[key] = value
    return merged
