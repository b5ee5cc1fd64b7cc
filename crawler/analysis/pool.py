"""The CPU-heavy half of the pipeline — extraction and matching — run in worker processes, so
the crawl's reactor keeps downloading and storing while pages are analysed (crawls become
extraction-bound, not framework-bound, and use every core given to them).

A page costs at most `analysis.page_timeout` (then it is skipped, with that reason) and the
matcher reads at most `analysis.max_text` characters of it (the article says how much it read)."""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

from wirewatch.crawler.conf.sections import Analysis
from wirewatch.crawler.errors import NotAnArticle
from wirewatch.crawler.records import EntryHints, PageAnalysis

_MATCHER = None
_LIMITS = Analysis()


class _TooSlow(Exception):
    pass


def _init(watch_refs: list[str], limits: Analysis) -> None:
    global _MATCHER, _LIMITS
    from wirewatch.crawler.logs import setup_from_environment
    from wirewatch.crawler.service.children import die_with_parent
    die_with_parent()                         # never outlive the crawl worker (OOM killer, kill -9)
    setup_from_environment()                  # its log lines as the worker's (JSON when asked)
    import wirewatch.crawler.analysis.extract  # noqa: F401 - load trafilatura while the crawl starts
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    _MATCHER = Matcher([load_watch(ref) for ref in watch_refs]) if watch_refs else None
    if _MATCHER is not None:
        _MATCHER.load_languages()             # the analysers, once per process, before the first page
    _LIMITS = limits


@contextmanager
def _deadline(seconds: float):
    """SIGALRM in this worker's only thread: the page's analysis stops where it is. The timer
    repeats until the exception lands (one raised inside a finalizer would be swallowed)."""
    def expired(signum, frame):
        raise _TooSlow()
    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds, 0.05)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def analyse_page(html: bytes, url: str, hints: EntryHints) -> PageAnalysis:
    from wirewatch.crawler.analysis.extract import extract  # only worker processes load trafilatura
    try:
        with _deadline(_LIMITS.page_timeout):
            extracted = extract(html, url)
            title = extracted.title or hints.title or ""
            text = extracted.text[:_LIMITS.max_text]
            results = _MATCHER.match(title, text, extracted.language) if _MATCHER else []
    except NotAnArticle as exc:
        return PageAnalysis(None, skipped=str(exc))
    except _TooSlow:
        return PageAnalysis(None, skipped=f"analysis took longer than {_LIMITS.page_timeout:g}s "
                                         f"({len(html):,} bytes); skipped")
    capped = len(text) if len(text) < len(extracted.text) else None
    return PageAnalysis(extracted, matches=tuple(r for r in results if r.stored), analysed_chars=capped)


def _ready() -> None:
    """Nothing: submitted once per worker so they start (and import) right away."""


def start_pool(watch_refs: list[str], workers: int, limits: Analysis) -> ProcessPoolExecutor:
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init, initargs=(watch_refs, limits))
    for _ in range(workers):
        pool.submit(_ready)
    return pool
