"""Matcher cost against extraction cost on the 181 corpus pages.

    python bench/matcher_speed.py              # corpus figures, then the poison-page line
    python bench/matcher_speed.py --poison     # only the poison-page line (1, 5, 10 MB)

Classifies the extracted text with the default watch, then with 100 and 1,000 generated watches
(random party pairs from the gazetteer, keyword queries over their names), and prints docs/s and
MB/s on one core, next to trafilatura's extraction time on the same pages.
Goals: default watch < 10% of extraction time; 1,000 watches < 50%."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # bench._corpus; wirewatch is installed

from bench._corpus import pages  # noqa: E402
from wirewatch.crawler.analysis.extract import extract  # noqa: E402
from wirewatch.crawler.analysis.matching import Matcher, load_watch  # noqa: E402
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer  # noqa: E402
from wirewatch.crawler.analysis.matching.watches import Watch, WatchSpec  # noqa: E402
from wirewatch.crawler.errors import NotAnArticle  # noqa: E402

ITEMS = ["troops", "artillery", "shells", "missiles", "rocket_launchers", "drones", "air_defence",
         "weapons", "aircraft", "technology"]


def generated_watches(count: int, seed: int = 7) -> list[Watch]:
    rng = random.Random(seed)
    gazetteer = Gazetteer.load()
    entities = sorted(gazetteer.labels)
    watches = []
    for i in range(count):
        a, b = rng.sample(entities, 2)
        name_a, name_b = gazetteer.label(a).lower(), gazetteer.label(b).lower()
        extra = rng.choice(["war", "military", "minister", "deal", "sanctions", "army", "talks"])
        query = f'("{name_a}*" OR "{name_b}*") AND ({extra} OR "{name_b}") NOT "test {i}"'
        watches.append(Watch(WatchSpec(name=f"gen-{i}", query=query, threshold=0.6, event={
            "parties": [a, b], "items": rng.sample(ITEMS, rng.randint(2, 6))})))
    return watches


def main() -> None:
    corpus = pages()
    docs, started = [], time.perf_counter()
    for page_id, html in corpus.items():
        try:
            e = extract(html, f"http://127.0.0.1/{page_id}")
            docs.append((e.title or "", e.text))
        except NotAnArticle:
            pass
    extraction = time.perf_counter() - started
    megabytes = sum(len(t.encode()) + len(x.encode()) for t, x in docs) / 1e6
    print(f"extraction (trafilatura): {len(corpus)} pages in {extraction:.2f} s; "
          f"{len(docs)} texts, {megabytes:.2f} MB")
    default = load_watch("nk-russia-aid")
    ungated = Watch(default.spec.model_copy(update={"query": None, "name": "nk-russia-aid-ungated"}))
    both = [default, load_watch("iran-russia-aid")]
    for label, watches in [("default watch", [default]),
                           ("both shipped watches (nk-russia-aid + iran-russia-aid)", both),
                           ("default, no keyword gate (event analysis on every text)", [ungated]),
                           ("100 watches", generated_watches(100)),
                           ("1,000 watches", generated_watches(1000))]:
        matcher = Matcher(watches)
        matcher.match(*docs[0])                                  # warm up
        started = time.perf_counter()
        matched = sum(any(r.matched for r in matcher.match(title, text)) for title, text in docs)
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:6.3f} s  {len(docs) / elapsed:8.1f} docs/s  "
              f"{megabytes / elapsed:6.2f} MB/s (1 core)  = {100 * elapsed / extraction:5.1f}% of extraction"
              f"  [{matched} docs matched]")


_POISON = ["Pyongyang has sent {n} troops to Russia, the ministry said.",
           "Around {n} North Korean soldiers have been killed in Kursk.",
           "North Korea supplied {n} artillery shells to Moscow last month.",
           "Russia has fired {n} North Korean KN-23 missiles at Ukrainian cities."]


def poison_text(size: int) -> str:
    """Text made only of matching sentences with distinct figures: the worst case for facts."""
    parts, total, n = [], 0, 0
    while total < size:
        sentence = _POISON[n % len(_POISON)].format(n=1000 + n)
        parts.append(sentence)
        total += len(sentence) + 1
        n += 1
    return " ".join(parts)


def poison_pages(sizes_mb=(1, 5, 10)) -> None:
    """The matcher alone (no text cap) on pages full of matching sentences: time must grow
    linearly with size (issue: a 9 MB page once took minutes)."""
    matcher = Matcher([load_watch("nk-russia-aid")])
    for size in sizes_mb:
        text = poison_text(size * 1_000_000)
        started = time.perf_counter()
        [result] = matcher.match("North Korea sends troops to Russia", text)
        elapsed = time.perf_counter() - started
        print(f"poison page {size:>2} MB of matching text: {elapsed:6.2f} s "
              f"({size / elapsed:5.2f} MB/s, {len(result.facts)} facts)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--poison"]:
        poison_pages()
    else:
        main()
        poison_pages()
