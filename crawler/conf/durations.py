"""Durations and sizes as people write them in config: 30s, 15m, 2h, 1d; 10MB."""

from __future__ import annotations

import math
import re

DAY = 86400.0
MAX_DURATION = 365 * DAY           # schedules, timeouts, ages: a year at most
MAX_RETENTION = 10 * 365 * DAY     # how long things are kept, and how far back a listing looks
_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: str | int | float, maximum: float = MAX_DURATION, minimum: float = 0.0) -> float:
    """Seconds from '30s', '15m', '2h', '1d' or a bare number of seconds; NaN, infinity and
    durations past `maximum` (a year unless said otherwise) are refused, so one absurd value
    cannot stop a schedule or overflow a date."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            seconds = float(value)
        except OverflowError:
            seconds = math.inf
    else:
        m = re.fullmatch(r"\s*(\d{1,15}(?:\.\d{1,9})?)\s*(ms|s|m|h|d|w)?\s*", str(value))
        if not m:
            raise ValueError(f"not a duration: {str(value)[:40]!r} (use e.g. 30s, 15m, 2h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if not math.isfinite(seconds):
        raise ValueError(f"not a duration: {str(value)[:40]!r} (use e.g. 30s, 15m, 2h, 1d)")
    if seconds <= 0:
        raise ValueError("the duration must be positive")
    if seconds < minimum:
        raise ValueError(f"the duration must be at least {format_duration(minimum)}")
    if seconds > maximum:
        raise ValueError(f"the duration must be at most {format_duration(maximum)}")
    return seconds


def parse_size(value: str | int) -> int:
    """Bytes from '10MB', '512kb' or a bare number of bytes (at most a terabyte)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        m = re.fullmatch(r"\s*(\d{1,15})\s*([kmg]?b?)\s*", str(value).lower())
        if not m:
            raise ValueError(f"not a size: {str(value)[:40]!r} (use e.g. 10MB)")
        size = int(m.group(1)) * _SIZES[m.group(2)]
    if size <= 0:
        raise ValueError("the size must be positive")
    if size > 1024**4:
        raise ValueError("the size must be at most 1024GB")
    return size


def format_duration(seconds: float) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{int(seconds // factor)}{unit}"
    return f"{seconds:g}s"
