"""The gazetteer: which state a name, demonym, capital, leader or place refers to.

One compiled pattern finds every mention in one pass, longest alias first, so "South Korea"
is never read as "Korea" and "North Korean" never as "North Korea" + "n"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from config import CONFIG_DIR
from crawler.errors import ConfigError

KINDS = ("name", "demonym", "capital", "leader", "institution", "location")


@dataclass(frozen=True)
class Mention:
    start: int
    end: int
    entity: str
    kind: str
    text: str
    possessive: bool = False


def _alias_pattern(alias: str) -> str:
    if alias.startswith("re:"):
        return alias[3:]
    body = re.sub(r"['’]", "\x00", alias)
    body = re.escape(body).replace(r"\ ", r"\s+").replace("\x00", "['’]")
    if re.fullmatch(r"[A-Z][A-Z.]{1,5}", alias):            # acronyms only in capitals
        return f"(?-i:{body})"
    return body


class Gazetteer:
    def __init__(self, entities: dict[str, dict]):
        self.labels: dict[str, str] = {}
        self._kind_of: dict[str, tuple[str, str]] = {}
        groups = []
        for key, spec in entities.items():
            self.labels[key] = spec.get("label", key)
            for kind in KINDS:
                for i, alias in enumerate(spec.get(kind, []) or []):
                    group = f"g{len(self._kind_of)}"
                    self._kind_of[group] = (key, kind)
                    groups.append((len(alias), f"(?P<{group}>{_alias_pattern(alias)})"))
        groups.sort(key=lambda g: -g[0])
        alternation = "|".join(g[1] for g in groups)
        self._pattern = re.compile(
            rf"(?<![\w-])(?:{alternation})(?P<poss>['’]s?(?!\w))?(?!\w)", re.I)

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Gazetteer":
        path = Path(path) if path else CONFIG_DIR / "entities.yaml"
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            return cls(data["entities"])
        except (OSError, KeyError, TypeError, yaml.YAMLError, re.error) as exc:
            raise ConfigError(f"gazetteer {path}: {exc}") from None

    def label(self, entity: str) -> str:
        return self.labels.get(entity, entity)

    def mentions(self, text: str) -> list[Mention]:
        found = []
        for m in self._pattern.finditer(text):
            group = next(g for g, v in m.groupdict().items() if v is not None and g != "poss")
            entity, kind = self._kind_of[group]
            end = m.end(group)
            found.append(Mention(m.start(), end, entity, kind, m.group(group), bool(m.group("poss"))))
        return found

    def entity_of(self, name: str) -> str | None:
        mentions = self.mentions(name)
        return mentions[0].entity if mentions else (name if name in self.labels else None)
