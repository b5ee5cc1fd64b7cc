"""Locate and read ../shared/corpus for the benchmarks."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def corpus_dir() -> Path:
    for path in filter(None, [os.environ.get("WIREWATCH_CORPUS"),
                              REPO.parent / "shared" / "corpus" / "article-extraction-benchmark"]):
        if (Path(path) / "ground-truth.json").exists():
            return Path(path)
    raise SystemExit("corpus not found: set WIREWATCH_CORPUS to the article-extraction-benchmark folder")


def pages() -> dict[str, bytes]:
    root = corpus_dir()
    ids = sorted(json.loads((root / "ground-truth.json").read_text()))
    return {page_id: gzip.decompress((root / "html" / f"{page_id}.html.gz").read_bytes()) for page_id in ids}
