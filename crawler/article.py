"""What extraction yields, importable without loading the extractor itself."""

from __future__ import annotations

from dataclasses import dataclass


class NotAnArticle(Exception):
    """The page has no extractable article text; the message is the reason recorded."""


@dataclass(frozen=True)
class Extracted:
    text: str
    title: str | None
    published: str | None
    author: str | None
    sitename: str | None
    language: str | None
