"""Publication times as sites give them (ISO 8601, RFC 822, date only), made timezone-aware UTC.

Which date wins: the page's own metadata, then the feed or sitemap entry, then the time the
article was first seen; a page date without a time of day yields to an entry time on the same
day; a date in the future is clipped to the fetch time."""

from __future__ import annotations

import datetime as dt
import email.utils
import re

UTC = dt.timezone.utc
_DATE_ONLY = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_date(text: str | None) -> dt.datetime | None:
    """An aware UTC datetime from ISO 8601 / W3C, RFC 822 or YYYY-MM-DD; None when unusable."""
    value = (text or "").strip()
    if not value:
        return None
    when = _iso(value) or _rfc822(value)
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)          # no zone given: read as UTC
    try:
        return when.astimezone(UTC)
    except OverflowError:                        # year 1 or 9999 with an offset
        return None


def _iso(value: str) -> dt.datetime | None:
    candidate = value.replace("Z", "+00:00").replace("z", "+00:00")
    candidate = re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", candidate)     # +0900 → +09:00
    try:
        return dt.datetime.fromisoformat(candidate)
    except ValueError:
        return None


def _rfc822(value: str) -> dt.datetime | None:
    try:
        return email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None


def is_date_only(text: str | None) -> bool:
    return bool(_DATE_ONLY.match((text or "").strip()))


def published_at(page: str | None, entry: str | None, first_seen: dt.datetime) -> dt.datetime:
    """The article's publication time by the rule above (aware UTC)."""
    from_page, from_entry = parse_date(page), parse_date(entry)
    chosen = from_page or from_entry or first_seen
    if from_page and from_entry and is_date_only(page) and from_entry.date() == from_page.date():
        chosen = from_entry                     # same day, and the entry knows the time
    return min(chosen, first_seen)


def iso(when: dt.datetime | None) -> str | None:
    """ISO 8601 with the zone, as alerts show it: 2026-11-24T06:10:00+00:00."""
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="seconds")
