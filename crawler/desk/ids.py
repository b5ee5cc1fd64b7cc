"""Row ids as people type them: `show 12`, `--story 7`, `unmute 3`, `/articles/12`. Anything that
is not a plain decimal number a database can hold is refused with one line (SQLite and
PostgreSQL keep 64-bit integers; 10^20 or '²' would otherwise surface as an overflow traceback)."""

from __future__ import annotations

import re

MAX_ID = 2**63 - 1


def row_id(text: str | int) -> int:
    """A positive row id from its decimal text; ValueError saying why not."""
    value = str(text).strip()
    if not re.fullmatch(r"[0-9]{1,19}", value) or not 0 < int(value) <= MAX_ID:
        raise ValueError(f"not an id: {value[:30]!r} (a whole number from 1 to {MAX_ID})")
    return int(value)
