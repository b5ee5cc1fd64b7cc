"""The gazetteer: which state a name, demonym, capital, leader or place refers to.

Every alias is found in one pass; the leftmost-longest alias wins, so "South Korea" is never
read as "Korea" and "North Korean" never as "North Korea" + "n"."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from wirewatch.config import CONFIG_DIR
from wirewatch.crawler.analysis.matching.lexicon import merge
from wirewatch.crawler.analysis.matching.phrases import PhraseIndex, fold, leftmost_longest
from wirewatch.crawler.errors import ConfigError

_POSSESSIVE = re.compile(r"'s?(?!\w)")
KINDS = ("name", "demonym", "capital", "leader", "institution", "location")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    entity: str
    kind: str
    text: str
    possessive: bool = False


class Gazetteer:
    """Aliases found in one pass (crawler.matching.phrases), acronyms only in capitals; the few
    aliases that need context are regular expressions (`re:` prefix)."""

    def __init__(self, entities: dict[str, dict]):
        self.labels: dict[str, str] = {}
        self.enemies: dict[str, frozenset[str]] = {}      # state → the states it is at war with
        self.same: dict[str, str] = {}                     # folded alias → its canonical name (places, agencies)
        self.broad: set[str] = set()                       # folded places too wide to tell events apart
        phrases, self.patterns = [], []
        for key, spec in entities.items():
            self.labels[key] = spec.get("label", key)
            self.enemies[key] = frozenset(spec.get("at_war_with") or ())
            self.same.update({fold(alias): name for alias, name in (spec.get("same_as") or {}).items()})
            self.broad.update(fold(place) for place in spec.get("broad") or [])
            for kind in KINDS:
                for alias in spec.get(kind, []) or []:
                    if alias.startswith("re:"):
                        self.patterns.append((re.compile(alias[3:], re.I), key, kind))
                    else:
                        exact = alias if re.fullmatch(r"[A-Z][A-Z.]{1,5}", alias) else None
                        phrases.append((alias, (key, kind, exact)))
        self.index = PhraseIndex(phrases, hyphen_joins=False)

    @staticmethod
    def _case_ok(text: str, start: int, end: int, value) -> bool:
        exact = value[2]
        return exact is None or text[start:end] == exact

    def mentions(self, text: str) -> list[Mention]:
        folded = fold(text)
        candidates = self.index.candidates(text, folded, self._case_ok)
        for pattern, entity, kind in self.patterns:
            for m in pattern.finditer(text):
                if (m.start() == 0 or not text[m.start() - 1].isalnum()) and \
                        (m.end() >= len(text) or not text[m.end()].isalnum()):   # same bounds as phrases
                    candidates.append((m.start(), m.end(), (entity, kind, None)))
        return [Mention(start, end, value[0], value[1], text[start:end], bool(_POSSESSIVE.match(folded, end)))
                for start, end, value in leftmost_longest(candidates)]

    @staticmethod
    @functools.cache
    def shipped_entities() -> dict:
        return yaml.safe_load((CONFIG_DIR / "entities.yaml").read_text(encoding="utf-8"))["entities"]

    @classmethod
    def load(cls, path: str | Path | None = None, extra: dict | None = None) -> "Gazetteer":
        """The shipped gazetteer (or `path`), extended with a watch's own entities (`extra`:
        new entities, or more aliases for known ones)."""
        path = Path(path) if path else CONFIG_DIR / "entities.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(merge(data["entities"], extra or {}))
        except (OSError, KeyError, TypeError, AttributeError, yaml.YAMLError, re.error) as exc:
            raise ConfigError(f"gazetteer {path}: {exc}") from None

    def label(self, entity: str) -> str:
        return self.labels.get(entity, entity)

    def canonical(self, alias: str, otherwise) -> str:
        """One name for a place or an agency however it is spelled ('same_as' in the data), else
        `otherwise(alias)`."""
        return self.same.get(fold(alias.strip()), None) or otherwise(alias)


@functools.cache
def demonym_of(label: str) -> str:
    """The first demonym the shipped gazetteer gives a state's label ('Russia' → 'Russian')."""
    for spec in Gazetteer.shipped_entities().values():
        if spec.get("label") == label and spec.get("demonym"):
            return spec["demonym"][0]
    return label
