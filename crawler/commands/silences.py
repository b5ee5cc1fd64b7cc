"""`mute`, `unmute`, `mutes`: silences that live in the database. A match a silence covers is
stored and listed with "held back: muted (reason)" and does not alert; when the silence ends,
later matches alert again (the muted ones stay muted)."""

from __future__ import annotations

import datetime as dt
import sys

from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.desk.formats import Column, write
from wirewatch.crawler.display import visible
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.desk.queries import stored_sources
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.mutes import active_mutes
from wirewatch.crawler.store.schema import Mute, Story, utcnow


def mute_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    kind, value = next((k, v) for k, v in (("story", args.story), ("source", args.source), ("watch", args.watch))
                       if v is not None)
    with sessions.begin() as session:
        if kind == "story" and session.get(Story, value) is None:
            raise ConfigError(f"no story #{value} (see `wirewatch stories`)")
        if kind == "source" and value not in {s.name for s in config.sources} | set(stored_sources(session)):
            raise ConfigError(f"no source named {value!r} in the config or the database")
        if kind == "watch" and value not in _watch_names(config):
            raise ConfigError(f"no watch named {value!r} in the config")
        mute = Mute(kind=kind, value=str(value), until=utcnow() + dt.timedelta(seconds=args.duration),
                    reason=args.reason)
        session.add(mute)
        session.flush()
        print(visible(f"muted: {mute.line()}"))
    return 0


def unmute_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions.begin() as session:
        mute = session.get(Mute, args.mute_id)
        if mute is None or mute.until <= utcnow():
            print(f"wirewatch: no silence #{args.mute_id} in force")
            return 1
        mute.until = utcnow()
        print(visible(f"unmuted: #{mute.id} {mute.kind} {mute.value}"))
    return 0


def mutes_command(config: Config, args) -> int:
    sessions = open_database(config.storage, config.base_dir)
    with sessions() as session:
        mutes = active_mutes(session)
    fmt = getattr(args, "format", "table")
    if fmt == "table":
        for mute in mutes:
            print(visible(mute.line()))
        if not mutes:
            print("no silences in force")
        return 0
    columns = [Column(key, (lambda k: lambda m: m.as_json().get(k))(key))
               for key in ("id", "kind", "value", "until", "reason")]
    write(mutes, columns, fmt, sys.stdout, as_json=lambda m: m.as_json())
    return 0


def _watch_names(config: Config) -> set[str]:
    from wirewatch.crawler.analysis.matching import load_watch
    return {load_watch(ref.include).name for ref in config.watches}
