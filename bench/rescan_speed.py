"""What `wirewatch rescan` costs: matching alone, against the extraction it does not repeat.

    python bench/rescan_speed.py [COPIES]      (default 5: the 181 corpus pages stored 5 times)

Extracts the corpus pages once (timed), stores the articles COPIES times in a SQLite database,
then runs the real rescan over all of them with the default watch and prints articles per second
and its cost as a share of the extraction it skipped."""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench._corpus import pages  # noqa: E402
from wirewatch.crawler.analysis.extract import extract  # noqa: E402
from wirewatch.crawler.conf.load import parse_config  # noqa: E402
from wirewatch.crawler.desk.rescan import rescan  # noqa: E402
from wirewatch.crawler.errors import NotAnArticle  # noqa: E402
from wirewatch.crawler.store.database import open_database  # noqa: E402
from wirewatch.crawler.store.ingest import content_hash  # noqa: E402
from wirewatch.crawler.store.schema import Article  # noqa: E402


def main(copies: int = 5) -> None:
    corpus = pages()
    started = time.perf_counter()
    extracted = []
    for page_id, html in corpus.items():
        try:
            extracted.append((page_id, extract(html, f"http://127.0.0.1/{page_id}")))
        except NotAnArticle:
            pass
    extraction = (time.perf_counter() - started) / len(corpus)
    with tempfile.TemporaryDirectory() as tmp:
        config = parse_config(f"storage: sqlite:///{tmp}/rescan.db\n", base_dir=tmp)
        sessions = open_database(config.storage, tmp)
        with sessions.begin() as session:
            for copy in range(copies):
                for page_id, e in extracted:
                    url = f"http://127.0.0.1/{copy}/{page_id}"
                    session.add(Article(canonical_url=url, url=url, source="corpus", title=e.title, text=e.text,
                                        content_hash=content_hash(e.text)))
        report = rescan(config, sessions, since=86400)
    per_article = report.seconds / report.articles
    print(f"extraction (trafilatura): {1000 * extraction:.1f} ms per page ({len(corpus)} pages)")
    print(f"rescan: {report.articles} stored articles in {report.seconds:.2f} s = {report.articles / report.seconds:.0f} "
          f"articles/s ({1000 * per_article:.2f} ms each, {100 * per_article / extraction:.1f}% of extracting them "
          f"again); {len(report.gained)} matches gained")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
