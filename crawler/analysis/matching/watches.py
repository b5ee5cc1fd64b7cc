"""Watches as data: config/watches/<name>.yaml, or a path; validated when loaded."""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from wirewatch.config import CONFIG_DIR
from wirewatch.crawler.analysis.matching.query import Node, compile_query, parse_query
from wirewatch.crawler.analysis.matching.scoring import Scoring
from wirewatch.crawler.conf.files import read_yaml
from wirewatch.crawler.errors import ConfigError, QuerySyntaxError

log = logging.getLogger("wirewatch.watches")
_WARNED: set[tuple[str, str]] = set()        # once per watch file and process
_LOWERCASE_OPERATOR = re.compile(r'(?<![\w"])(and|or|not|near/\d+)(?![\w"])')


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parties: list[str] = Field(min_length=2)
    directions: Literal["both", "forward"] = "both"     # forward: parties[0] → others only
    items: list[str] = Field(min_length=1)


Severity = Literal["low", "medium", "high", "critical"]
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


class StatusRule(BaseModel):
    """What a watch does with facts of one status (planned, agreed ...)."""
    model_config = ConfigDict(extra="forbid", frozen=True)
    severity: Severity | None = None      # None: the watch's own severity
    alert: bool = True                    # False: stored and listed, held back from alerting


class WatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    query: str | None = None
    event: EventSpec
    threshold: float = Field(0.6, gt=0, le=1)
    severity: Severity = "high"
    statuses: dict[Literal["reported", "planned", "pledged", "agreed", "delivered", "deployed", "in combat",
                           "denied"], StatusRule] = {}
    scoring: Scoring = Scoring()
    figure_tolerance: float = Field(0.2, ge=0, le=1)   # a figure within this share of a known one is no news
    entities: dict[str, dict[str, list[str] | str]] = {}    # added to the shared gazetteer
    lexicon: dict = {}                                       # added to the shared lexicon

    @field_validator("query")
    @classmethod
    def _parses(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_query(value)
            except QuerySyntaxError as exc:
                raise ValueError(f"query syntax error: {exc}") from None
        return value


class Watch:
    def __init__(self, spec: WatchSpec):
        self.spec = spec
        self.name = spec.name
        self.scoring = spec.scoring
        self.query: Node | None = parse_query(spec.query) if spec.query else None
        self.holds = compile_query(self.query) if self.query else None
        parties = spec.event.parties
        if spec.event.directions == "both":
            self.directions = {(a, b) for a in parties for b in parties if a != b}
        else:
            self.directions = {(parties[0], b) for b in parties[1:]}
        self.items = set(spec.event.items)


def load_watch(ref: str) -> Watch:
    """A shipped watch by name (config/watches/NAME.yaml) or a YAML file by path."""
    path = Path(ref)
    if not path.suffix:
        path = CONFIG_DIR / "watches" / f"{ref}.yaml"
    if not path.exists():
        shipped = sorted(p.stem for p in (CONFIG_DIR / "watches").glob("*.yaml"))
        raise ConfigError(f"watch {ref!r} not found (shipped watches: {', '.join(shipped)})")
    data = read_yaml(path, "watch")
    try:
        watch = Watch(WatchSpec.model_validate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"watch {path}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
    _warn_lowercase_operators(watch, path)
    return watch


def _warn_lowercase_operators(watch: Watch, path: Path) -> None:
    """Operators are upper case; a lowercase `or` outside quotes is searched as a word, which
    is rarely what the author meant."""
    unquoted = re.sub(r'"[^"]*"', " ", watch.spec.query or "")
    words = sorted({m.group(1) for m in _LOWERCASE_OPERATOR.finditer(unquoted)})
    if words and (watch.name, str(path)) not in _WARNED:
        _WARNED.add((watch.name, str(path)))
        log.warning("watch %s (%s): lowercase %s in the query is searched as a word; "
                    "write operators in capitals (AND, OR, NOT, NEAR/n)", watch.name, path,
                    ", ".join(repr(w) for w in words))


def tolerances(refs) -> tuple[tuple[str, float], ...]:
    """(watch name, figure_tolerance) for the watches a config names."""
    return tuple((w.name, w.spec.figure_tolerance) for w in (load_watch(ref) for ref in refs))
