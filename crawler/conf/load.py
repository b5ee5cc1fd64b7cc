"""YAML text → a validated `Config`.

Unknown keys and wrong types are one `ConfigError` naming the key and its line; `${VAR}` is
replaced from the environment, and a missing variable is an error naming it. Every substituted
value and every field marked `Secret` is registered for redaction before anything is logged."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from wirewatch.crawler import secrets
from wirewatch.crawler.conf.base import secret_values
from wirewatch.crawler.conf.files import MAX_LIST_BYTES, SAFE_LOADER, read_text, read_yaml
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.errors import ConfigError

_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
NODE_BUDGET = 100_000        # nodes after expanding aliases, or one per two bytes of a larger config:
                             # a written-out config stays within that, a bomb goes far past it
MAX_DEPTH = 64


def _line_map(text: str) -> dict[tuple, int]:
    """Map each key path of the YAML document to its 1-based line (a key's own line, and a
    list entry's first line). Refuses duplicate keys, and alias expansions past NODE_BUDGET
    (a "billion laughs" document) or nesting past MAX_DEPTH, before anything is expanded."""
    lines: dict[tuple, int] = {}
    allowed = max(NODE_BUDGET, len(text) // 2)
    budget = [allowed]

    def walk(node: yaml.Node, path: tuple, line: int) -> None:
        budget[0] -= 1
        if budget[0] < 0:
            raise ConfigError(f"more than {allowed:,} values once YAML aliases are expanded "
                              "(an alias bomb?); write the config out without nested aliases")
        if len(path) > MAX_DEPTH:
            raise ConfigError(f"{_where(path[:3], lines)}: nested more than {MAX_DEPTH} levels deep")
        lines[path] = line
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                key_line = key.start_mark.line + 1
                if not isinstance(key, yaml.ScalarNode):
                    raise ConfigError(f"line {key_line}: a key must be a plain name")
                if key.value in seen:
                    where = ".".join(str(p) for p in path + (key.value,))
                    raise ConfigError(f"{where} (line {key_line}): duplicate key, first given on line {seen[key.value]}")
                seen[key.value] = key_line
                walk(value, path + (key.value,), key_line)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, path + (i,), item.start_mark.line + 1)

    root = yaml.compose(text, Loader=SAFE_LOADER)
    if root is not None:
        walk(root, (), root.start_mark.line + 1)
    return lines


def _substitute(data: Any, path: tuple, lines: dict[tuple, int], env: dict[str, str],
                substituted: list[tuple]) -> Any:
    if isinstance(data, dict):
        return {k: _substitute(v, path + (k,), lines, env, substituted) for k, v in data.items()}
    if isinstance(data, list):
        return [_substitute(v, path + (i,), lines, env, substituted) for i, v in enumerate(data)]
    if not isinstance(data, str) or "${" not in data:
        return data

    def replace(match: re.Match) -> str:
        name = match.group(1)
        if name not in env:
            raise ConfigError(f"{_where(path, lines)}: environment variable {name} is not set")
        if not env[name].strip().replace(".", "", 1).isdigit() and path != ("storage",):
            secrets.register(env[name])       # masked even in an error about this very value
        return env[name]

    substituted.append(path)
    return _ENV_REF.sub(replace, data)


def _secret_files(data: dict, lines: dict[tuple, int], base_dir: str) -> None:
    """`password_file: /run/secrets/smtp` (Docker and Kubernetes secrets): any field declared
    Secret may be given as the path of a file holding it (one trailing newline is dropped)."""
    from wirewatch.alerts.channel import registered
    from wirewatch.crawler.conf.base import secret_fields
    from wirewatch.crawler.conf.sections import Web
    blocks: list[tuple[tuple, dict, set[str]]] = []
    for i, entry in enumerate(data.get("channels") or []):
        kind = registered().get(entry.get("type")) if isinstance(entry, dict) else None
        if kind is not None:
            blocks.append((("channels", i), entry, secret_fields(kind.Spec)))
    if isinstance(data.get("web"), dict):
        blocks.append((("web",), data["web"], secret_fields(Web)))
    for path, block, names in blocks:
        for name in names:
            key = f"{name}_file"
            if key not in block:
                continue
            where = _where(path + (key,), lines)
            if name in block:
                raise ConfigError(f"{where}: give {name} or {key}, not both")
            file = Path(base_dir) / str(block[key])
            block[name] = read_text(file, where, show_content=False).removesuffix("\n")
            secrets.register(block[name], declared=True)     # masked before anything can print it
            del block[key]


def _value_at(model: Any, path: tuple) -> Any:
    for part in path:
        model = model[part] if isinstance(part, int) else getattr(model, part, None)
    return model


def _register_secrets(config: Config, substituted: list[tuple]) -> None:
    """Fields declared Secret, and every text that came from the environment (a number or a
    flag from the environment is not text once validated, and is not masked)."""
    for name, _ in config.named_channels():     # a channel's own name is never a secret
        secrets.public(name)
    for value in secret_values(config):
        secrets.register(value, declared=True)
    for path in substituted:
        value = _value_at(config, path)
        if path == ("storage",):          # a database URL: its password is the secret, not the path
            from sqlalchemy.engine import make_url
            password = make_url(value).password
            if password:
                secrets.register(str(password), declared=True)
        elif isinstance(value, str):
            secrets.register(value)


def _where(path: tuple, lines: dict[tuple, int]) -> str:
    key = ".".join(str(p) for p in path) or "(top level)"
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return f"{key} (line {lines[path[:cut]]})"
    return key


def _describe(error, lines: dict[tuple, int]) -> str:
    from wirewatch.alerts.channel import registered
    errors = sorted(error.errors(), key=lambda e: e["type"] != "extra_forbidden")   # a typo'd key first
    first = errors[0]
    path = tuple(p for p in first["loc"] if p not in registered())
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden":
        message = "unknown key"
    elif first["type"] == "union_tag_invalid":
        message = f"unknown channel type (use {', '.join(sorted(registered()))})"
    more = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{_where(path, lines)}: {message}{more}"


def parse_config(text: str, origin: str = "<config>", base_dir: str = ".",
                 env: dict[str, str] | None = None) -> Config:
    try:
        lines = _line_map(text)
        data = yaml.load(text, Loader=SAFE_LOADER)      # noqa: S506 - a safe loader
    except RecursionError:
        raise ConfigError(f"{origin}: nested too deeply to read") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "") or exc):      # libyaml's own limit
            raise ConfigError(f"{origin}: nested too deeply to read") from None
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{origin}{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{origin}: the config must be a mapping of keys (storage, sources, ...)")
    substituted: list[tuple] = []
    try:
        data = _substitute(data, (), lines, dict(os.environ) if env is None else env, substituted)
    except ConfigError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    data.setdefault("base_dir", base_dir)
    if "storage_file" in data:        # the database URL (with its password) from a secret file
        where = _where(("storage_file",), lines)
        if "storage" in data:
            raise ConfigError(f"{origin}: {where}: give storage or storage_file, not both")
        data["storage"] = read_text(Path(base_dir) / str(data.pop("storage_file")), where,
                                    show_content=False).strip()
        substituted.append(("storage",))
    if (env if env is not None else os.environ).get("WIREWATCH_STORAGE"):      # 12-factor: the environment wins
        data["storage"] = (env if env is not None else os.environ)["WIREWATCH_STORAGE"]
        substituted.append(("storage",))
    _secret_files(data, lines, base_dir)
    places: list[tuple] = []
    if isinstance(data.get("sources"), list):
        data["sources"], places = _expand_includes(data["sources"], lines, origin, base_dir)
        _unique_source_names(data["sources"], places, lines, origin)
    try:
        config = Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{origin}: {_describe(_in_place(exc, places), lines)}") from None
    _register_secrets(config, substituted)
    from wirewatch.crawler.analysis.matching.watches import load_watch
    for ref in config.watches:          # a missing or broken watch is a config error, before any crawl
        try:
            load_watch(ref.include)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    return config


def _expand_includes(sources: list, lines: dict[tuple, int], origin: str, base_dir: str):
    """`- include: NAME` is replaced by the sources of a shipped list (config/sources/NAME.yaml)
    or of a YAML file by path. Returns the sources and, for each, where it was written: its index
    in this file, or (index of the include, the list's file name, its position in that list)."""
    from wirewatch.config import CONFIG_DIR
    expanded: list = []
    places: list[tuple] = []
    for index, entry in enumerate(sources):
        if not (isinstance(entry, dict) and set(entry) == {"include"}):
            expanded.append(entry)
            places.append((index,))
            continue
        ref = str(entry["include"])
        path = Path(ref) if Path(ref).suffix else CONFIG_DIR / "sources" / f"{ref}.yaml"
        if not path.is_absolute() and Path(ref).suffix:
            path = Path(base_dir) / path
        where = _where(("sources", index), lines)
        if not path.exists():
            shipped = sorted(p.stem for p in (CONFIG_DIR / "sources").glob("*.yaml"))
            raise ConfigError(f"{origin}: {where}: source list {ref!r} not found "
                              f"(shipped: {', '.join(shipped)})")
        try:
            included = read_yaml(path, "source list", MAX_LIST_BYTES)
        except ConfigError as exc:
            raise ConfigError(f"{origin}: {where}: {exc}") from None
        if not isinstance(included, list) or any(not isinstance(s, dict) or "include" in s for s in included):
            raise ConfigError(f"{origin}: {where}: source list {path} must be a list of sources")
        expanded.extend(included)
        places.extend((index, path.name, j) for j in range(len(included)))
    return expanded, places


class _Relocated(Exception):
    """A validation error whose location was mapped back to where the user wrote the source."""

    def __init__(self, error: ValidationError, places: list[tuple]):
        self.error, self.places = error, places

    def errors(self):
        out = []
        for e in self.error.errors():
            loc = tuple(e["loc"])
            if len(loc) >= 2 and loc[0] == "sources" and isinstance(loc[1], int) and loc[1] < len(self.places):
                place = self.places[loc[1]]
                loc = ("sources", place[0]) + loc[2:] if len(place) == 1 else \
                    ("sources", place[0], f"{place[1]} entry {place[2] + 1}") + loc[2:]
            out.append({**e, "loc": loc})
        return out

    def error_count(self) -> int:
        return self.error.error_count()


def _in_place(error: ValidationError, places: list[tuple]):
    return _Relocated(error, places) if places else error


def _unique_source_names(sources: list, places: list[tuple], lines: dict[tuple, int], origin: str) -> None:
    seen: dict[str, tuple] = {}
    for source, place in zip(sources, places):
        name = source.get("name") if isinstance(source, dict) else None
        if not isinstance(name, str):
            continue                      # the model names what is wrong with it
        if name in seen:
            where = _where(("sources", place[0], "name") if len(place) == 1 else ("sources", place[0]), lines)
            raise ConfigError(f"{origin}: {where}: duplicate source name {name!r}")
        seen[name] = place


def watch_refs(path: str | os.PathLike) -> list[str]:
    """Only the `watches` of a config file, without the rest (classify needs no secrets)."""
    data = read_yaml(path, "config", MAX_LIST_BYTES) or {}
    watches = data.get("watches", [{"include": "nk-russia-aid"}]) if isinstance(data, dict) else []
    return [str(w["include"]) for w in watches or [] if isinstance(w, dict) and "include" in w]


def load_config(path: str | os.PathLike) -> Config:
    file = Path(path)
    text = read_text(file, "config", limit=MAX_LIST_BYTES)
    return parse_config(text, origin=str(file), base_dir=str(file.resolve().parent))
