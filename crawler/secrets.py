"""Secrets come from the environment and never reach a log, an error or a listing.

Every value substituted from `${VAR}` into a secret-bearing config field is registered here;
a logging filter installed on the root handlers replaces each occurrence with a mask.
"""

from __future__ import annotations

import logging
import re

_SECRETS: set[str] = set()
_URL_USERINFO = re.compile(r"(?<=://)([^/@\s:]+):([^/@\s]+)@")


def register(value: str) -> None:
    if value and len(value) >= 4:
        _SECRETS.add(value)


def mask(value: str) -> str:
    """A fixed-width mask that keeps the scheme and host of a URL so operators can tell channels apart."""
    m = re.match(r"(https?://[^/]+)", value or "")
    return f"{m.group(1)}/***" if m else "***"


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        if secret in text:
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


def registered() -> list[str]:
    return sorted(_SECRETS)
