"""Entities, watches and structured aid facts. Pure: text in, `MatchResult`s out.

    sentences → gazetteer (who) + lexicon (verbs, items) → events (roles per sentence)
    → matcher (score per watch) → facts (structured figures)"""

from __future__ import annotations

from wirewatch.crawler.analysis.matching.matcher import Matcher
from wirewatch.crawler.analysis.matching.watches import Watch, load_watch

__all__ = ["Matcher", "Watch", "load_watch"]
