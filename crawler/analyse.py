"""The CPU-heavy half of the pipeline — extraction and matching — run in worker processes, so
the crawl's reactor keeps downloading and storing while pages are analysed (crawls become
extraction-bound, not framework-bound, and use both cores)."""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field

from crawler.article import Extracted, NotAnArticle

_MATCHER = None
WORKERS = max(1, min(2, os.cpu_count() or 1))


@dataclass
class PageAnalysis:
    extracted: Extracted | None
    skipped: str | None = None
    matches: list = field(default_factory=list)


def _init(watch_refs: list[str]) -> None:
    global _MATCHER
    import crawler.extract  # noqa: F401 - load trafilatura now, while the crawl is starting
    from crawler.matching import Matcher, load_watch
    _MATCHER = Matcher([load_watch(ref) for ref in watch_refs]) if watch_refs else None


def analyse_page(html: bytes, url: str, title_hint: str | None) -> PageAnalysis:
    from crawler.extract import extract         # only worker processes load trafilatura
    try:
        extracted = extract(html, url)
    except NotAnArticle as exc:
        return PageAnalysis(None, skipped=str(exc))
    title = extracted.title or title_hint or ""
    matches = [r for r in _MATCHER.match(title, extracted.text) if r.matched] if _MATCHER else []
    return PageAnalysis(extracted, matches=matches)


def _ready() -> None:
    """Nothing: submitted once per worker so they start (and import) right away."""


def start_pool(watch_refs: list[str]) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(WORKERS, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init, initargs=(watch_refs,))
    for _ in range(WORKERS):
        pool.submit(_ready)
    return pool
