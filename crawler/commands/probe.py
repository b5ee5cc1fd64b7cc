"""`wirewatch probe [SOURCE ...]`: fetch each source once, live, and say whether it is usable.

Stores nothing and sends nothing. Per source: the HTTP status, the final URL after redirects, the
type found, the number of entries and the newest entry's date, the robots.txt verdict, and for a
listing the first links that match `follow`. Exit 0 when every source is usable, 1 otherwise."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

from wirewatch.crawler import __version__
from wirewatch.crawler.conf.model import Config
from wirewatch.crawler.conf.sections import Source
from wirewatch.crawler.crawl.robots import RobotsTxt
from wirewatch.crawler.dates import iso, parse_date
from wirewatch.crawler.display import visible
from wirewatch.crawler.errors import SourceError
from wirewatch.spiders.documents import WELL_KNOWN_SITEMAPS, read, robots_sitemaps

_HREF = re.compile(rb"""<a\b[^>]*?\bhref\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)


@dataclass
class Probe:
    name: str
    status: str = "no answer"
    final_url: str = ""
    kind: str = ""
    entries: int = 0
    newest: str | None = None
    robots: str = ""
    links: list[str] = field(default_factory=list)
    problem: str | None = None

    @property
    def usable(self) -> bool:
        return self.problem is None

    def lines(self) -> list[str]:
        head = f"{self.name}: {'USABLE' if self.usable else 'NOT USABLE'}" + (f" - {self.problem}" if self.problem else "")
        out = [head, f"  {self.status}  {self.final_url}".rstrip(),
               f"  type: {self.kind or 'unknown'}  entries: {self.entries}  newest: {self.newest or '-'}",
               f"  robots.txt: {self.robots}"]
        out += [f"  follows: {link}" for link in self.links]
        return [visible(line) for line in out]


def probe_command(config: Config, names: list[str]) -> int:
    from wirewatch.alerts.transport import guarded_session
    sources = [config.source(n) for n in names] if names else config.sources
    user_agent = f"wirewatch/{__version__} (+{config.network.contact})"
    session = guarded_session(config.network, user_agent)
    session.max_redirects = config.network.max_redirects
    results = [probe_source(session, source, config, user_agent) for source in sources]
    for result in results:
        print("\n".join(result.lines()))
    usable = sum(r.usable for r in results)
    print(f"{usable} of {len(results)} source(s) usable; nothing was stored or sent")
    return 0 if usable == len(results) else 1


def probe_source(session, source: Source, config: Config, user_agent: str) -> Probe:
    result = Probe(source.name)
    robots = _robots(session, source.url, config)
    result.robots = _verdict(robots, source.url, user_agent)
    url = source.url
    if source.type == "sitemap" and urlsplit(url).path in ("", "/"):
        url = _discover(session, robots, url, config) or url
    try:
        body, response = _get(session, url, config, source.basic_auth)
    except (SourceError, OSError) as exc:
        result.problem = str(exc)
        return result
    result.status, result.final_url = f"HTTP {response.status_code}", response.url
    if response.status_code != 200:
        result.problem = f"HTTP {response.status_code}"
    elif source.type == "listing":
        _read_listing(result, body, response.url, source)
    else:
        _read_document(result, body, response, config)
    if result.problem is None and not robots.allows(source.url, user_agent):
        result.problem = "robots.txt disallows it"
    return result


def _get(session, url: str, config: Config, auth: tuple[str, str] | None = None):
    import requests
    try:     # requests drops the credentials on a redirect to another host
        response = session.get(url, timeout=config.network.timeout, stream=True, auth=auth)
        body = response.raw.read(config.network.max_bytes + 1, decode_content=True)
    except requests.TooManyRedirects:
        raise SourceError(f"more than {config.network.max_redirects} redirects") from None
    except requests.RequestException as exc:
        raise SourceError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
    if len(body) > config.network.max_bytes:
        raise SourceError(f"larger than network.max_bytes ({config.network.max_bytes:,} bytes)")
    return body, response


def _robots(session, url: str, config: Config) -> RobotsTxt:
    parts = urlsplit(url)
    robots_url = f"{parts.scheme}://{parts.netloc}/robots.txt"
    try:
        body, response = _get(session, robots_url, config)
    except (SourceError, OSError):
        return RobotsTxt(robots_url, None)
    return RobotsTxt(robots_url, response.status_code, body.decode("utf-8", "replace") if response.ok else "")


def _verdict(robots: RobotsTxt, url: str, user_agent: str) -> str:
    if robots.status is None:
        return "could not be fetched (everything allowed)"
    if robots.status != 200:
        return f"HTTP {robots.status} (everything allowed)"
    return "allows this URL" if robots.allows(url, user_agent) else "DISALLOWS this URL"


def _discover(session, robots: RobotsTxt, root: str, config: Config) -> str | None:
    """The sitemap a site root leads to, as the sitemap spider finds it."""
    named = robots_sitemaps(robots.text, robots.url) if robots.status == 200 else []
    for candidate in named or [urljoin(root, path) for path in WELL_KNOWN_SITEMAPS]:
        try:
            _, response = _get(session, candidate, config)
        except (SourceError, OSError):
            continue
        if response.status_code == 200:
            return candidate
    return None


def _read_document(result: Probe, body: bytes, response, config: Config) -> None:
    document = read(body, response.url, {k.lower(): v for k, v in response.headers.items()},
                    config.network.max_bytes)
    result.kind = document.kind
    result.entries = len(document.entries) or len(document.sitemaps)
    dates = [d for d in (parse_date(h.published) for _, h in document.entries) if d]
    result.newest = iso(max(dates)) if dates else None
    if document.problem:
        result.problem = document.problem
    elif not result.entries:
        result.problem = "no entries"


def _read_listing(result: Probe, body: bytes, url: str, source: Source) -> None:
    follow = re.compile(source.follow or ".")
    hrefs = [next(g for g in m.groups() if g is not None).decode("utf-8", "replace") for m in _HREF.finditer(body)]
    links = list(dict.fromkeys(link for link in (urljoin(url, h.strip()) for h in hrefs) if follow.search(link)))
    result.kind, result.entries, result.links = "HTML listing", len(links), links[:5]
    if not links:
        result.problem = f"no link matches follow {source.follow!r}"
