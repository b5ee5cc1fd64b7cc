"""Reading the documents sources publish — RSS/Atom feeds, sitemaps (index, urlset, Google News,
plain text, gzipped) and robots.txt — as plain functions of bytes, so the spiders and
`wirewatch probe` read them the same way.

A document reads as a `Document`: its kind, the article entries it lists (URL + what the entry
says about it), the further sitemaps it points to, and the problem that makes it unusable."""

from __future__ import annotations

import io
import re
import zlib
from dataclasses import dataclass, field
from urllib.parse import urljoin

import feedparser
from lxml import etree

from wirewatch.crawler.records import EntryHints

FEED_ROOTS = {"rss", "feed", "RDF"}
WELL_KNOWN_SITEMAPS = ("/sitemap.xml", "/sitemap_index.xml", "/sitemap-news.xml", "/news-sitemap.xml")
# "Sitemap:" as search engines accept it: any case, spaces around the colon, "site-map"
_ROBOTS_SITEMAP = re.compile(r"^\s*site-?map\s*:\s*(\S+)", re.I | re.M)
_TEXT_URL = re.compile(r"^https?://\S+$", re.I)
_ABSOLUTE_HTTP = re.compile(r"^https?://[^/\s?#]+(?:[/?#]\S*)?$", re.I)


@dataclass
class Document:
    kind: str                                   # feed | sitemap index | sitemap | text sitemap | document
    entries: list[tuple[str, EntryHints]] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)
    problem: str | None = None                  # set when the document is unusable
    warning: str | None = None                  # usable, but with errors (a bozo feed)
    skipped: int = 0                            # entries without a usable article URL


def read(body: bytes, url: str, headers: dict[str, str] | None = None, max_bytes: int = 10 << 20) -> Document:
    """Whatever the source gave — feed, sitemap or a list of URLs — by its content, not its name."""
    try:
        body = _gunzipped(body, max_bytes)
    except ValueError as exc:
        return Document("document", problem=str(exc))
    start = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if start != b"<":
        text = read_text_sitemap(body, url)
        return text if text.entries else Document("document", problem="neither XML nor a list of URLs")
    root, problem = _xml_root(body)
    if root is None:
        feed = read_feed(body, url, headers)           # feedparser is lenient where lxml gave up
        return feed if feed.entries else Document("document", problem=problem)
    tag = etree.QName(root).localname
    if tag in FEED_ROOTS:
        return read_feed(body, url, headers)
    if tag == "sitemapindex":
        return Document("sitemap index", sitemaps=[urljoin(url, loc.text.strip()) for loc in
                                                   root.iterfind("{*}sitemap/{*}loc") if loc.text])
    if tag == "urlset":
        return Document("sitemap", entries=_urlset_entries(root, url))
    return Document("document", problem=f"not a feed or a sitemap: root element <{tag}>")


def read_feed(body: bytes, url: str, headers: dict[str, str] | None = None) -> Document:
    parsed = feedparser.parse(io.BytesIO(body), response_headers=headers or {})   # bytes, never a path
    atom = str(parsed.get("version", "")).startswith("atom")
    if not parsed.entries:
        if parsed.get("bozo") or not parsed.get("version"):
            return Document("feed", problem=str(parsed.get("bozo_exception") or "no entries"))
        return Document("feed")                              # a valid, empty feed
    entries = []
    for entry in parsed.entries:
        link = entry_link(entry, atom)
        if link:
            entries.append((urljoin(url, link), EntryHints(
                title=entry.get("title"), published=entry.get("published") or entry.get("updated"))))
    warning = str(parsed.get("bozo_exception")) if parsed.get("bozo") else None
    if not entries:
        return Document("feed", problem=f"{len(parsed.entries)} entries, none with an article link"
                                        + (f" ({warning})" if warning else ""))
    return Document("feed", entries=entries, warning=warning, skipped=len(parsed.entries) - len(entries))


def entry_link(entry, atom: bool) -> str | None:
    """<link>, or Atom's rel=alternate. An RSS <guid> counts only as a permalink (the default);
    a guid with isPermaLink="false" is an identifier, never downloaded. An Atom entry with no link
    at all may give its article as its <id>, when that is an absolute http(s) URL (as feedparser
    reads it); an id that is a URN, a tag: URI or a relative path is only an identifier."""
    links = entry.get("links", [])
    for link in links:
        if link.get("rel", "alternate") == "alternate" and link.get("href"):
            return link["href"]
    if atom:
        identifier = (entry.get("id") or "").strip()
        if not links and _ABSOLUTE_HTTP.match(identifier):
            return identifier
        return None
    return entry.get("link")              # feedparser sets it from a permalink guid only


def read_text_sitemap(body: bytes, url: str) -> Document:
    """One URL per line (a text sitemap, as search engines accept)."""
    lines = body.decode("utf-8", "replace").splitlines()
    urls = [line.strip() for line in lines if _TEXT_URL.match(line.strip())]
    return Document("text sitemap", entries=[(u, EntryHints()) for u in urls])


def robots_sitemaps(text: str, base: str) -> list[str]:
    return list(dict.fromkeys(urljoin(base, m.group(1)) for m in _ROBOTS_SITEMAP.finditer(text)))


def _gunzipped(body: bytes, max_bytes: int) -> bytes:
    if body[:2] != b"\x1f\x8b":
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, max_bytes + 1)
    except zlib.error as exc:
        raise ValueError(f"broken gzip: {exc}") from None
    if len(out) > max_bytes:
        raise ValueError(f"larger than {max_bytes:,} bytes when decompressed")
    if not inflater.eof:
        raise ValueError("broken gzip: the compressed stream is cut short")
    return out


def _xml_root(body: bytes):
    """The root element, or (None, why). Entities are never resolved, nothing is fetched, and
    a document nested past the parser's limit is refused rather than half read."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, recover=True, huge_tree=False)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as exc:
        return None, str(exc)
    fatal = [e for e in parser.error_log if e.level_name == "FATAL"]
    limit = next((e for e in fatal if "LIMIT" in e.type_name), None)
    if limit is not None:
        return None, f"{limit.message.split(',')[0]} (line {limit.line})"
    if root is None:
        return None, "empty document"
    if fatal and not len(root):
        return None, fatal[0].message
    return root, None


def _urlset_entries(root, url: str) -> list[tuple[str, EntryHints]]:
    entries = []
    for node in root.iterfind("{*}url"):
        loc = node.findtext("{*}loc")
        if loc and loc.strip():
            entries.append((urljoin(url, loc.strip()), EntryHints(
                title=_text(node, "{*}news/{*}title"),
                published=_text(node, "{*}news/{*}publication_date") or _text(node, "{*}lastmod"))))
    return entries


def _text(element, path: str) -> str | None:
    value = element.findtext(path)
    return value.strip() if value and value.strip() else None
