"""Secrets come from the environment and never reach a log, an error, a listing or an alert.

Every text substituted from `${VAR}` and every field declared `Secret` is registered here, with
its meaningful parts: a URL's userinfo, its token-like path segments and query values, and the
key of a `whsec_` secret. So a peer that echoes only part of a webhook URL is masked too.
A logging filter and a wrapper around standard output replace each occurrence with a mask."""

from __future__ import annotations

import logging
import re
from urllib.parse import parse_qsl, unquote, urlsplit

_SECRETS: set[str] = set()
_PUBLIC: set[str] = set()               # names the config gives things (a channel's): never masked
_URL_USERINFO = re.compile(r"(?<=://)([^/@\s:]+):([^/@\s]+)@")
# a URL part that works as a token on its own: long, or with digits and letters, or mixed case
# ("T0123ABC", "tokenXYZsecret", "0f3a9c..."); not a word like "nk-urgent" or "alerts"
_TOKEN_LIKE = re.compile(r"^(?:.{16,}|(?=.{8,})(?:(?=.*\d)(?=.*[A-Za-z])|(?=.*[a-z])(?=.*[A-Z])).+)$")


def _parts(value: str) -> list[str]:
    """The pieces of a secret that identify it on their own."""
    parts = []
    if value.startswith("whsec_"):
        parts.append(value.removeprefix("whsec_"))
    url = urlsplit(value) if re.match(r"[a-z][a-z0-9+.-]*://", value, re.I) else None
    if url is None and re.fullmatch(r"[^:\s]{1,200}:\S+", value):
        parts.append(value.partition(":")[2])          # "user:password" (basic auth): the password
    if url is not None:
        parts += [unquote(url.username or ""), unquote(url.password or "")]
        parts += [segment for segment in url.path.split("/") if _TOKEN_LIKE.match(segment)]
        parts += [v for _, v in parse_qsl(url.query) if _TOKEN_LIKE.match(v)]
    return [p for p in parts if len(p) >= 6]


def _maskable(value: str) -> bool:
    """Long enough, or token-like, to be masked wherever it appears: a plain short word ("alerts"
    as a username) would garble every line that uses the word; its own field masks it instead."""
    return len(value) >= 12 or (len(value) >= 6 and not value.isalpha())


def register(value: str, declared: bool = False) -> None:
    """Mask `value` from now on. A field declared Secret (a password, a key) is masked whatever
    it looks like; a value that merely came from the environment only when it looks like one."""
    if value and (_maskable(value) or (declared and len(value) >= 4)):
        _SECRETS.add(value)
    if value:
        _SECRETS.update(part for part in _parts(value) if _maskable(part))


def public(name: str) -> None:
    """A name the config gives something (a channel's name): shown as it is, even where it is
    also part of a secret URL ("nk-urgent" in ntfy://host/nk-urgent)."""
    if name:
        _PUBLIC.add(name)


def mask(value: str) -> str:
    """A mask that keeps a URL's scheme and host (never its userinfo), so operators can tell
    channels apart."""
    m = re.match(r"(https?://)(?:[^/@\s]*@)?([^/\s]+)", value or "")
    return f"{m.group(1)}{m.group(2)}/***" if m else "***"


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text and secret not in _PUBLIC:
            text = text.replace(secret, mask(secret) if secret.startswith("http") else "***")
    return _URL_USERINFO.sub(r"\1:***@", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True


class RedactingStream:
    """Standard output with every registered secret masked (what commands print)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(redact(text) if _SECRETS else text)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def registered() -> list[str]:
    return sorted(_SECRETS)


def forget_all() -> None:
    """Drop every registered secret (between tests; a process normally keeps them to its end)."""
    _SECRETS.clear()
    _PUBLIC.clear()
