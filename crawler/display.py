"""Text from the web, made safe for a terminal: control characters (ESC, OSC, BEL, CR, LF ...)
and bidirectional overrides become visible escapes, so a crafted feed title cannot move the
cursor, retitle the window or hide text in `alerts list`, `status`, a crawl summary or a log."""

from __future__ import annotations

import re

_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def visible(text: str | None, keep_newlines: bool = False) -> str:
    def escape(match: re.Match) -> str:
        char = match.group()
        if keep_newlines and char in "\n\t":
            return char
        code = ord(char)
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"
    return _UNSAFE.sub(escape, text or "")
