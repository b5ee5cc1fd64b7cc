"""Entities, watches and structured aid facts."""

from __future__ import annotations

from crawler.matching.matcher import Matcher, MatchResult
from crawler.matching.watches import Watch, load_watch

__all__ = ["Matcher", "MatchResult", "Watch", "load_watch", "load_matcher"]


def load_matcher(config) -> Matcher | None:
    """The matcher for a config's watches (None when it has none)."""
    watches = [load_watch(ref.include) for ref in config.watches]
    return Matcher(watches) if watches else None
