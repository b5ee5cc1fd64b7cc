"""Durations and sizes as people write them in config: 30s, 15m, 2h, 1d; 10MB."""

from __future__ import annotations

import re

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_SIZES = {"": 1, "b": 1, "kb": 1024, "mb": 1024**2, "gb": 1024**3}


def parse_duration(value: str | int | float) -> float:
    """Seconds from '30s', '15m', '2h', '1d' or a bare number of seconds."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d|w)?\s*", str(value))
        if not m:
            raise ValueError(f"not a duration: {value!r} (use e.g. 30s, 15m, 2h, 1d)")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds <= 0:
        raise ValueError("the duration must be positive")
    return seconds


def parse_size(value: str | int) -> int:
    """Bytes from '10MB', '512kb' or a bare number of bytes."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        m = re.fullmatch(r"\s*(\d+)\s*([kmg]?b?)\s*", str(value).lower())
        if not m:
            raise ValueError(f"not a size: {value!r} (use e.g. 10MB)")
        size = int(m.group(1)) * _SIZES[m.group(2)]
    if size <= 0:
        raise ValueError("the size must be positive")
    return size


def format_duration(seconds: float) -> str:
    for unit, factor in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= factor and seconds % factor == 0:
            return f"{int(seconds // factor)}{unit}"
    return f"{seconds:g}s"
