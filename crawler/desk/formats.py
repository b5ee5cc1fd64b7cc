"""Listings as a table fitted to the terminal, as JSON, or as CSV. Text from the web goes through
`visible()` in the table and CSV forms (JSON escapes control characters itself)."""

from __future__ import annotations

import csv
import json
import shutil
from dataclasses import dataclass
from typing import Any, Callable, TextIO

from wirewatch.crawler.display import visible

FORMATS = ("table", "json", "csv")


@dataclass(frozen=True)
class Column:
    title: str
    value: Callable[[Any], Any]
    width: int | None = None            # fixed width; None: shares what the terminal has left
    right: bool = False


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return visible(str(value))


def csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run: text from the web starting with = + - @, a tab or a
    CR gets a leading apostrophe (OWASP's advice); numbers stay numbers."""
    cell = _cell(value)
    if isinstance(value, str) and cell[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + cell
    return cell


def table(rows: list, columns: list[Column], out: TextIO, width: int | None = None) -> None:
    for text in table_lines(rows, columns, width):
        out.write(text + "\n")


def table_lines(rows: list, columns: list[Column], width: int | None = None) -> list[str]:
    """The header, then one line per row: fixed columns as given, flexible ones sharing the rest
    of the terminal (at least 12 characters each); cells longer than their column end in '…'."""
    width = width or shutil.get_terminal_size((140, 24)).columns
    cells = [[_cell(c.value(row)) for c in columns] for row in rows]
    fixed = {i: c.width or 0 for i, c in enumerate(columns) if c.width}
    flexible = [i for i, c in enumerate(columns) if not c.width]
    room = width - sum(fixed.values()) - (len(columns) - 1) * 2
    natural = {i: max([len(columns[i].title)] + [len(r[i]) for r in cells]) for i in flexible}
    widths = dict(fixed)
    share = max(12, room // max(1, len(flexible))) if flexible else 0
    spare = room - sum(min(natural[i], share) for i in flexible)
    for i in flexible:                    # short flexible columns give their spare room to long ones
        widths[i] = min(natural[i], share)
    for i in sorted(flexible, key=lambda i: natural[i]):
        extra = min(max(0, spare), natural[i] - widths[i])
        widths[i] += extra
        spare -= extra

    def line(values: list[str]) -> str:
        parts = []
        for i, value in enumerate(values):
            w = widths[i]
            text = value if len(value) <= w else value[:max(0, w - 1)] + "…"
            parts.append(text.rjust(w) if columns[i].right else text.ljust(w))
        return "  ".join(parts).rstrip()

    return [line([c.title for c in columns])] + [line(row) for row in cells]


def write(rows: list, columns: list[Column], fmt: str, out: TextIO, as_json: Callable[[Any], Any] = lambda r: r) -> None:
    if fmt == "json":
        json.dump([as_json(r) for r in rows], out, ensure_ascii=False, indent=2, default=str)
        out.write("\n")
    elif fmt == "csv":
        writer = csv.writer(out)
        writer.writerow([c.title for c in columns])
        for row in rows:
            writer.writerow([csv_cell(c.value(row)) for c in columns])
    else:
        table(rows, columns, out)
