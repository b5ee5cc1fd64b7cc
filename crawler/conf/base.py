"""Building blocks of every config model, channel models included: strict frozen models,
http(s)-only URLs, durations, and the `Secret` marker that masks a field everywhere."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import BaseModel, ConfigDict, Field, field_validator

from wirewatch.crawler.conf.durations import MAX_DURATION, parse_duration

NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class Strict(BaseModel):
    """Unknown keys are errors; a loaded config never changes."""
    model_config = ConfigDict(extra="forbid", frozen=True)


class _SecretMarker:
    """Metadata on a field whose value must never reach a log, an error or a listing."""

    def __repr__(self) -> str:
        return "Secret"


SECRET = _SecretMarker()
Secret = Annotated[str, SECRET]


def _marked_secret(annotation: Any) -> bool:
    """Secret itself, or Secret inside Optional / a union."""
    if get_origin(annotation) is Annotated:
        return SECRET in get_args(annotation)[1:]
    return any(_marked_secret(arg) for arg in get_args(annotation))


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The names of a model's fields marked Secret."""
    return {name for name, info in model.model_fields.items()
            if SECRET in info.metadata or _marked_secret(info.annotation)}


def secret_values(model: BaseModel) -> list[str]:
    """Every value held in a field marked Secret, in this model and the models inside it."""
    found: list[str] = []
    for name, info in type(model).model_fields.items():
        value = getattr(model, name)
        if SECRET in info.metadata or _marked_secret(info.annotation):
            if isinstance(value, str):
                found.append(value)
            elif isinstance(value, (list, tuple)):           # a list of secrets (apprise URLs)
                found.extend(v for v in value if isinstance(v, str))
            elif isinstance(value, dict):                    # name → secret (web.users)
                found.extend(v for v in value.values() if isinstance(v, str))
        for inner in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(inner, BaseModel):
                found.extend(secret_values(inner))
    return found


def http_url(value: str) -> str:
    """http(s) URLs only. The error shows no more of the value than a scheme and a host (it may be
    a webhook URL whose path is the secret, or a file read by `url_file`)."""
    if not re.match(r"^https?://[^/\s]+", value, re.I):
        raise ValueError(f"only http and https URLs are allowed, got {shown_url(value)}")
    return value


def shown_url(value: str) -> str:
    """What an error may show of a URL that may be secret: its scheme and host, never the rest
    (and nothing of a value without a scheme: it may be a token, or a file's first line)."""
    m = re.match(r"\s*([A-Za-z][A-Za-z0-9+.-]{0,20}://)(?:[^/@\s]*@)?([A-Za-z0-9.-]{0,80}(?::\d{1,5})?)",
                 value or "")
    if not m:
        return "a value without a scheme (e.g. https://)"
    shown = m.group(1) + m.group(2)
    return f"'{shown}…'" if len(shown) < len(value.strip()) else f"'{shown}'"


def optional_duration(value: Any, maximum: float = MAX_DURATION, minimum: float = 0.0) -> float | None:
    return None if value is None else parse_duration(value, maximum, minimum)


def durations(*names: str, maximum: float = MAX_DURATION, minimum: float = 0.0):
    """A validator reading these fields as durations ('30s', '15m', '2h'; null stays null),
    refused past `maximum` (a year) or below `minimum`."""
    return field_validator(*names, mode="before")(
        lambda value: optional_duration(value, maximum, minimum))


class ChannelSpec(Strict):
    """What every channel's config has; each channel module subclasses it with a `type` literal.
    The routing fields choose what it receives (by default everything)."""
    name: str | None = Field(None, pattern=NAME_PATTERN)
    watches: list[str] | None = None                     # only matches of these watches
    min_severity: Literal["low", "medium", "high", "critical"] | None = None   # of the match
    operational: bool = True                             # source-health alerts too
