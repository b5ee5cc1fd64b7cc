"""Watches as data: config/watches/<name>.yaml, or a path; validated when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from config import CONFIG_DIR
from crawler.errors import ConfigError, QuerySyntaxError
from crawler.matching.query import Node, compile_query, parse_query


class EventSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    parties: list[str] = Field(min_length=2)
    directions: Literal["both", "forward"] = "both"     # forward: parties[0] → others only
    items: list[str] = Field(min_length=1)


class WatchSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str
    description: str = ""
    query: str | None = None
    event: EventSpec
    threshold: float = Field(0.6, gt=0, le=1)
    severity: Literal["low", "medium", "high", "critical"] = "high"

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
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        shipped = sorted(p.stem for p in (CONFIG_DIR / "watches").glob("*.yaml"))
        raise ConfigError(f"watch {ref!r} not found (shipped watches: {', '.join(shipped)})") from None
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"watch {path}: {exc}") from None
    try:
        return Watch(WatchSpec.model_validate(data))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"watch {path}: {where}: {first['msg'].removeprefix('Value error, ')}") from None
