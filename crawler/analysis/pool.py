"""The CPU-heavy half of the pipeline — extraction and matching — run in worker processes, so
the crawl's reactor keeps downloading and storing while pages are analysed (crawls become
extraction-bound, not framework-bound, and use every core given to them)."""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from wirewatch.crawler.errors import NotAnArticle
from wirewatch.crawler.records import EntryHints, PageAnalysis

_MATCHER = None


def _init(watch_refs: list[str]) -> None:
    global _MATCHER
    import wirewatch.crawler.analysis.extract  # noqa: F401 - load trafilatura while the crawl starts
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    _MATCHER = Matcher([load_watch(ref) for ref in watch_refs]) if watch_refs else None


def analyse_page(html: bytes, url: str, hints: EntryHints) -> PageAnalysis:
    from wirewatch.crawler.analysis.extract import extract  # only worker processes load trafilatura
    try:
        extracted = extract(html, url)
    except NotAnArticle as exc:
        return PageAnalysis(None, skipped=str(exc))
    title = extracted.title or hints.title or ""
    matches = [r for r in _MATCHER.match(title, extracted.text) if r.matched] if _MATCHER else []
    return PageAnalysis(extracted, matches=tuple(matches))


def _ready() -> None:
    """Nothing: submitted once per worker so they start (and import) right away."""


def start_pool(watch_refs: list[str], workers: int) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init, initargs=(watch_refs,))
    for _ in range(workers):
        pool.submit(_ready)
    return pool
