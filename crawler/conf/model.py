"""The whole config: the sections of crawler.conf.sections, plus one entry per alert channel
(any channel registered in wirewatch.alerts.channels)."""

from __future__ import annotations

import functools

from pydantic import field_validator, model_validator

from wirewatch.alerts.channel import ChannelEnv, spec_union
from wirewatch.crawler.conf.base import ChannelSpec, Strict
from wirewatch.crawler.conf.sections import (
    Alerts,
    Analysis,
    Daemon,
    Network,
    Retention,
    Source,
    WatchRef,
    Web,
    Workers,
)
from wirewatch.crawler.errors import ConfigError

ChannelEntry = spec_union()


class Config(Strict):
    storage: str = "sqlite:///wirewatch.db"
    auto_upgrade: bool = False         # SQLite only: `run` / `crawl` apply schema migrations themselves
    network: Network = Network()
    sources: list[Source] = []
    watches: list[WatchRef] = [WatchRef(include="nk-russia-aid")]
    channels: list[ChannelEntry] = []          # type: ignore[valid-type] - built from the registry
    daemon: Daemon = Daemon()
    alerts: Alerts = Alerts()
    workers: Workers = Workers()
    analysis: Analysis = Analysis()
    retention: Retention = Retention()
    web: Web | None = None             # the daemon serves the web view too when this is set
    base_dir: str = "."                # where relative paths (sqlite file, CA file) resolve

    @field_validator("storage")
    @classmethod
    def _database_url(cls, value: str) -> str:
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("not a database URL (e.g. sqlite:///wirewatch.db or "
                             "postgresql+psycopg://user@host/db)") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> "Config":
        for what, names in (("source", [s.name for s in self.sources]),
                            ("channel", self.channel_names())):
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"duplicate {what} name {dupes[0]!r}")
        return self

    @model_validator(mode="after")
    def _remote_needs_postgres(self) -> "Config":
        if self.workers.remote and not self.storage.startswith("postgresql"):
            raise ValueError("workers.remote: true needs PostgreSQL storage (the job queue lives in it); "
                             f"storage is {self.storage.split(':', 1)[0]}")
        return self

    def channel_names(self) -> list[str]:
        names = []
        for channel in self.channels:
            same = [c for c in self.channels if c.type == channel.type]
            default = channel.type if len(same) == 1 else f"{channel.type}-{same.index(channel) + 1}"
            names.append(channel.name or default)
        return names

    def named_channels(self) -> list[tuple[str, ChannelSpec]]:
        return list(zip(self.channel_names(), self.channels))

    @property
    def channel_env(self) -> ChannelEnv:
        return ChannelEnv(self.network, self.base_dir)

    @functools.cached_property
    def _by_name(self) -> dict[str, Source]:
        return {source.name: source for source in self.sources}

    def find(self, name: str) -> Source | None:
        """The source of that name, or None."""
        return self._by_name.get(name)

    def source(self, name: str) -> Source:
        found = self._by_name.get(name)
        if found is not None:
            return found
        raise ConfigError(f"no source named {name!r} (known: {', '.join(s.name for s in self.sources)})")
