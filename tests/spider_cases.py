"""Recorded source documents next to their expected output (fundus-style):

    tests/resources/spiders/<kind>/<name>.<xml|html|xml.gz>   the document as a site serves it
    tests/resources/spiders/<kind>/<name>.json                the source, the URL it came from,
                                                              URLs already stored, and what the
                                                              spider must make of it

`python -m tests.spider_cases` rewrites every `expected` from what the spiders do now: review
the diff before committing it."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from scrapy.http import HtmlResponse, Response, TextResponse, XmlResponse
from scrapy.utils.test import get_crawler

from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.crawl.context import CrawlContext
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import SeenUrl
from wirewatch.spiders import SPIDERS

RESOURCES = Path(__file__).resolve().parent / "resources" / "spiders"


def cases() -> list[Path]:
    return sorted(RESOURCES.glob("*/*.json"))


def document_of(case: Path) -> Path:
    return next(p for p in case.parent.iterdir() if p.name.startswith(case.stem + ".") and p != case)


def _response(url: str, document: Path, meta: dict):
    body = document.read_bytes()
    kind = {".html": HtmlResponse, ".xml": XmlResponse, ".txt": TextResponse}.get(document.suffix, Response)
    from scrapy import Request
    return kind(url=url, body=body, request=Request(url, meta=meta))


def run_case(case: Path, workdir: Path) -> dict:
    """Parse the recorded document with the spider of its source kind; report what it asked for."""
    spec = json.loads(case.read_text(encoding="utf-8"))
    config = parse_config(json.dumps({"storage": f"sqlite:///{workdir / 'spider.db'}",
                                      "sources": [spec["source"]]}), base_dir=str(workdir))
    sessions = open_database(config.storage)
    with sessions.begin() as session:
        session.add_all(SeenUrl(canonical_url=url, source="earlier", reason="stored") for url in spec.get("known", []))
    source = config.sources[0]
    spider_class = SPIDERS[source.type]
    ctx = CrawlContext(config, sessions, run_id=0)
    crawler = get_crawler(spider_class, {"DOWNLOAD_MAXSIZE": config.network.max_bytes})
    spider = spider_class.from_crawler(crawler, source=source, ctx=ctx)
    meta = spec.get("meta", {})
    produced = list(spider.parse(_response(spec["url"], document_of(case), meta)))
    stats = ctx.stats[source.name]
    articles = [{"url": r.url, "canonical": r.meta["canonical"], "title": r.meta["hints"].title,
                 "published": r.meta["hints"].published}
                for r in produced if r.callback == spider.parse_article]
    documents = [{"url": r.url, **{k: v for k, v in r.meta.items() if k in ("depth", "page", "child")}}
                 for r in produced if r.callback == spider.parse]
    return {"articles": articles, "documents": documents, "known": stats.counts.known,
            "source_failed": stats.source_failed, "errors": stats.errors, "warnings": stats.warnings()}


def regenerate() -> None:
    for case in cases():
        with tempfile.TemporaryDirectory() as tmp:
            spec = json.loads(case.read_text(encoding="utf-8"))
            spec["expected"] = run_case(case, Path(tmp))
        case.write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"wrote {case.relative_to(RESOURCES)}", file=sys.stderr)


if __name__ == "__main__":
    regenerate()
