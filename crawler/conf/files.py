"""Reading the files a config names (the config itself, `include:` source lists, watch files,
`*_file` secrets) without letting a wrong path hurt: only regular files, at most MAX_BYTES, UTF-8,
and YAML nested no deeper than Python can compose. /dev/zero, a FIFO or a 3,000-level document
is one clear line, never a hang, a memory blow-up or a traceback."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import yaml

from wirewatch.crawler.errors import ConfigError

SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)    # libyaml when present: ~10x faster
MAX_BYTES = 1024 * 1024                  # watch files, secrets
MAX_LIST_BYTES = 32 * 1024 * 1024        # the config and `include:` source lists (100,000 sources fit)


def read_text(path: str | os.PathLike, what: str, show_content: bool = True, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of a regular file of at most `limit` bytes; ConfigError naming `what` otherwise.
    With `show_content` False (a secret file) no error quotes a byte of it."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)       # a FIFO must not block the open
    except OSError as exc:
        raise ConfigError(f"{what}: cannot read {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(f"{what}: {path} is not a regular file")
        if info.st_size > limit:
            raise ConfigError(f"{what}: {path} is larger than {limit // 1024} KB")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:                           # it grew while read
            raise ConfigError(f"{what}: {path} is larger than {limit // 1024} KB")
    finally:
        os.close(fd)
    data = b"".join(chunks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        byte = f" (byte 0x{data[exc.start]:02x})" if show_content else ""
        raise ConfigError(f"{what}: {path} (line {line}): not UTF-8 text{byte}; save it as UTF-8") from None


def load_yaml(text: str, what: str) -> Any:
    """yaml.safe_load with the failures a hostile or broken file brings as one ConfigError."""
    try:
        return yaml.load(text, Loader=SAFE_LOADER)      # noqa: S506 - a safe loader
    except RecursionError:
        raise ConfigError(f"{what}: nested too deeply to read") from None
    except yaml.YAMLError as exc:
        if "nesting depth" in str(getattr(exc, "problem", "") or exc):      # libyaml's own limit
            raise ConfigError(f"{what}: nested too deeply to read") from None
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise ConfigError(f"{what}{where}: not valid YAML: {getattr(exc, 'problem', None) or exc}") from None


def read_yaml(path: str | os.PathLike, what: str, limit: int = MAX_BYTES) -> Any:
    return load_yaml(read_text(path, what, limit=limit), f"{what} {Path(path)}")
