"""The config contract of DESIGN.md, validated into typed objects at load time.

Unknown keys and wrong types are one `ConfigError` naming the key and its line; `${VAR}` is
replaced from the environment, and a missing variable is an error naming it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal, Union

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crawler import secrets
from crawler.durations import parse_duration, parse_size
from crawler.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SECRET_KEYS = {"password", "secret", "url", "username"}
_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value, re.I):
        raise ValueError(f"only http and https URLs are allowed, got {value!r}")
    return value


class Network(_Strict):
    allow_private: bool = False
    contact: str = "https://github.com/wirewatch/wirewatch"
    timeout: float = 30.0
    max_bytes: int = 10 * 1024 * 1024
    per_domain: int = Field(2, ge=1, le=32)
    max_redirects: int = Field(5, ge=0, le=20)
    retries: int = Field(1, ge=0, le=5)
    autothrottle: bool = True
    crawl_timeout: float = 900.0

    _durations = field_validator("timeout", "crawl_timeout", mode="before")(parse_duration)
    _sizes = field_validator("max_bytes", mode="before")(parse_size)


class Source(_Strict):
    name: str = Field(pattern=_NAME)
    type: Literal["feed", "sitemap", "listing"]
    url: str
    every: float | None = None
    cron: str | None = None
    follow: str | None = None          # regex: which links are articles (listing; filter for others)
    next: str | None = None            # listing: regex for pagination links
    max_pages: int = Field(1, ge=1, le=100)
    max_depth: int = Field(3, ge=0, le=10)    # sitemap: how deep nested indexes are followed
    max_articles: int = Field(500, ge=1)

    _url = field_validator("url")(_http_url)
    _every = field_validator("every", mode="before")(lambda v: None if v is None else parse_duration(v))

    @field_validator("follow", "next")
    @classmethod
    def _regex(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value

    @field_validator("cron")
    @classmethod
    def _cron(cls, value: str | None) -> str | None:
        if value is not None:
            from apscheduler.triggers.cron import CronTrigger

            try:
                CronTrigger.from_crontab(value)
            except ValueError as exc:
                raise ValueError(f"not a valid crontab expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _schedule(self) -> "Source":
        if self.every is not None and self.cron is not None:
            raise ValueError("give either 'every' or 'cron', not both")
        if self.type == "listing" and not self.follow:
            raise ValueError("a listing source needs 'follow' (a regex for article links)")
        return self

    @property
    def schedule(self) -> str:
        from crawler.durations import format_duration

        if self.cron:
            return f"cron {self.cron}"
        return f"every {format_duration(self.interval)}"

    @property
    def interval(self) -> float:
        return self.every if self.every is not None else 900.0


class WatchRef(_Strict):
    include: str


class _Channel(_Strict):
    name: str | None = Field(None, pattern=_NAME)


class SlackChannel(_Channel):
    type: Literal["slack"]
    url: str
    per_second: float = Field(1.0, gt=0)
    _url = field_validator("url")(_http_url)


class WebhookChannel(_Channel):
    type: Literal["webhook"]
    url: str
    secret: str | None = None
    timeout: float = 15.0
    _url = field_validator("url")(_http_url)
    _timeout = field_validator("timeout", mode="before")(parse_duration)


class EmailChannel(_Channel):
    type: Literal["email"]
    host: str
    port: int | None = None
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: str | None = None
    sender: str
    to: list[str] = Field(min_length=1)
    ca_file: str | None = None
    timeout: float = 30.0
    digest: float | None = None        # seconds; None sends one email per alert
    _durations = field_validator("timeout", "digest", mode="before")(
        lambda v: None if v is None else parse_duration(v))


class ConsoleChannel(_Channel):
    type: Literal["console"]


Channel = Annotated[Union[SlackChannel, WebhookChannel, EmailChannel, ConsoleChannel],
                    Field(discriminator="type")]


class Daemon(_Strict):
    failures_before_alert: int = Field(3, ge=1)
    quiet_after: float | None = 3 * 86400.0
    grace: float = 30.0
    dispatch_every: float = 5.0
    _durations = field_validator("quiet_after", "grace", "dispatch_every", mode="before")(
        lambda v: None if v is None else parse_duration(v))


class Alerts(_Strict):
    give_up_after: float = 2 * 86400.0     # a row still failing after this is dead
    backoff: float = 5.0                   # first retry delay; doubles each attempt, with jitter
    backoff_max: float = 3600.0
    _durations = field_validator("give_up_after", "backoff", "backoff_max", mode="before")(parse_duration)


class Config(_Strict):
    storage: str = "sqlite:///wirewatch.db"
    network: Network = Network()
    sources: list[Source] = []
    watches: list[WatchRef] = [WatchRef(include="nk-russia-aid")]
    channels: list[Channel] = []
    daemon: Daemon = Daemon()
    alerts: Alerts = Alerts()
    base_dir: str = "."                # where relative paths (sqlite file, CA file) resolve

    @model_validator(mode="after")
    def _unique_names(self) -> "Config":
        for what, names in (("source", [s.name for s in self.sources]),
                            ("channel", self.channel_names())):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} name {dupes[0]!r}")
        return self

    def channel_names(self) -> list[str]:
        names = []
        for channel in self.channels:
            same = [c for c in self.channels if c.type == channel.type]
            default = channel.type if len(same) == 1 else f"{channel.type}-{same.index(channel) + 1}"
            names.append(channel.name or default)
        return names

    def named_channels(self) -> list[tuple[str, Any]]:
        return list(zip(self.channel_names(), self.channels))

    def source(self, name: str) -> Source:
        for source in self.sources:
            if source.name == name:
                return source
        raise ConfigError(f"no source named {name!r} (known: {', '.join(s.name for s in self.sources)})")


def _line_map(text: str) -> dict[tuple, int]:
    """Map each key path of the YAML document to its 1-based line."""
    lines: dict[tuple, int] = {}

    def walk(node: yaml.Node, path: tuple) -> None:
        lines[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                lines[path + (key.value,)] = key.start_mark.line + 1
                walk(value, path + (key.value,))
                lines[path + (key.value,)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,))

    root = yaml.compose(text)
    if root is not None:
        walk(root, ())
    return lines


def _substitute(data: Any, path: tuple, lines: dict[tuple, int], env: dict[str, str]) -> Any:
    if isinstance(data, dict):
        return {k: _substitute(v, path + (k,), lines, env) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute(v, path + (i,), lines, env) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"{_where(path, lines)}: environment variable {name} is not set")
        return env[name]

    value = _ENV_REF.sub(replace, data)
    if path and path[-1] in _SECRET_KEYS:
        secrets.register(value)
    return value


def _where(path: tuple, lines: dict[tuple, int]) -> str:
    key = ".".join(str(p) for p in path) or "(top level)"
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return f"{key} (line {lines[path[:cut]]})"
    return key


def _describe(error: ValidationError, lines: dict[tuple, int]) -> str:
    first = error.errors()[0]
    path = tuple(p for p in first["loc"] if p not in ("slack", "webhook", "email", "console"))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "union_tag_invalid":
        message = "unknown channel type (use slack, webhook, email or console)"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{_where(path, lines)}: {message}{more}"


def parse_config(text: str, origin: str = "<config>", base_dir: str = ".",
                 env: dict[str, str] | None = None) -> Config:
    try:
        lines = _line_map(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{origin}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the config must be a mapping of keys (storage, sources, ...)")
    try:
        data = _substitute(data, (), lines, dict(os.environ) if env is None else env)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    data.setdefault("base_dir", base_dir)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(exc, lines)}") from None
    from crawler.matching.watches import load_watch
    for ref in config.watches:          # a missing or broken watch is a config error, before any crawl
        try:
            load_watch(ref.include)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return config


def load_config(path: str | os.PathLike) -> Config:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config {file}: {exc.strerror}") from None
    return parse_config(text, origin=str(file), base_dir=str(file.resolve().parent))
