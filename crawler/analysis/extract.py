"""Clean article text and metadata from a downloaded page, with trafilatura."""

from __future__ import annotations

import re

import trafilatura

from wirewatch.crawler.analysis.language import detect
from wirewatch.crawler.errors import NotAnArticle
from wirewatch.crawler.records import Extracted

MIN_TEXT_CHARS = 200
# the page's own date with its time of day and zone where it gives them (htmldate)
_DATE_PARAMS = {"outputformat": "%Y-%m-%dT%H:%M:%S%z", "original_date": True, "extensive_search": True}
_HTML_LANG = re.compile(rb"<html[^>]*\slang=[\"']?([A-Za-z]{2,3}(?:-[A-Za-z0-9]+)?)", re.I)


def extract(html: bytes, url: str) -> Extracted:
    try:
        doc = trafilatura.bare_extraction(html, url=url, with_metadata=True, include_comments=False,
                                          include_tables=False, deduplicate=False,
                                          date_extraction_params=_DATE_PARAMS)
    except (ValueError, TypeError, AttributeError) as exc:     # malformed markup deep in lxml
        raise NotAnArticle(f"extraction failed: {exc}") from None
    text = (doc.text or "").strip() if doc is not None else ""
    if len(text) < MIN_TEXT_CHARS:
        raise NotAnArticle(f"no article text ({len(text)} characters extracted)")
    declared = doc.language
    if not declared:
        m = _HTML_LANG.search(html[:4096])
        declared = m.group(1).decode().lower() if m else None
    return Extracted(text=text, title=doc.title, published=doc.date, author=doc.author,
                     sitename=doc.sitename, language=detect(text, doc.title or "", declared))
