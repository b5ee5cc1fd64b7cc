"""Stories: the replay corpus through the real matcher and ingest, then the cost of finding a
report's story with 10,000 stories open in the window.

    python bench/story_replay.py            # replay figures, per-event alerts, then the cost line
    python bench/story_replay.py --replay   # only the replay figures

Replay (tests/data/story_replay.yaml): alerts per event, repeat alerts (a report that added
nothing alerted), missed events, missed follow-ups, wrong merges (reports in a story another event
leads) and hidden events (no story of their own).
Cost: 10,000 stories from generated reports (items, figures, places, outlets) published over the
14-day window, then the replay's reports assigned one by one; the time per report is set against
trafilatura's extraction time per page on the test corpus pages. Goal: at most 5%."""

from __future__ import annotations

import datetime as dt
import gzip
import random
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tests.story_replay import load, replay  # noqa: E402
from wirewatch.crawler.analysis.extract import extract  # noqa: E402
from wirewatch.crawler.analysis.matching import Matcher, load_watch  # noqa: E402
from wirewatch.crawler.errors import NotAnArticle  # noqa: E402
from wirewatch.crawler.records import Fact  # noqa: E402
from wirewatch.crawler.store.database import open_database  # noqa: E402
from wirewatch.crawler.store.schema import Article  # noqa: E402
from wirewatch.crawler.store.stories import StoryIndex, assign_story, profile  # noqa: E402

PLACES = ["russia:kursk", "russia:belgorod", "russia:bryansk", "ukraine:kharkiv", "ukraine:sumy", "ukraine:toretsk",
          "ukraine:pokrovsk", "ukraine:kupiansk", "ukraine:kherson", "ukraine:zaporizhzhia", "north_korea:wonsan",
          "north_korea:rajin", "russia:vladivostok", "russia:khasan", "ukraine:donetsk", "ukraine:luhansk"]
ITEMS = ["troops", "artillery", "shells", "missiles", "rocket_launchers", "drones", "air_defence", "technology"]
# a vocabulary the size of a news desk's, so generated texts differ as real ones do
WORDS = ["".join(random.Random(n).choices("abcdefghijklmnopqrstuvwxyz", k=7)) for n in range(5000)]


def print_replay() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        result = replay(Path(tmp))
    for line in result.lines():
        print(line)
    for name in ("repeat_alerts", "missed_events", "missed_follow_ups", "false_alerts", "wrong_merges",
                 "hidden_events"):
        for entry in getattr(result, name):
            print(f"  {name}: {entry}")
    print("alerts per event: " + ", ".join(f"{e} {n}" for e, n in result.per_event.items()))


def extraction_seconds() -> float:
    """trafilatura's time per page on the corpus pages the tests ship."""
    pages = sorted((REPO / "tests" / "resources" / "corpus" / "html").glob("*.html.gz"))
    started, done = time.perf_counter(), 0
    for page in pages:
        try:
            extract(gzip.decompress(page.read_bytes()), f"http://127.0.0.1/{page.name}")
            done += 1
        except NotAnArticle:
            pass
    return (time.perf_counter() - started) / max(1, len(pages))


def print_cost(stories: int = 10_000) -> None:
    rng = random.Random(11)
    now = dt.datetime.now(dt.timezone.utc)
    with tempfile.TemporaryDirectory() as tmp:
        sessions = open_database(f"sqlite:///{Path(tmp) / 'cost.db'}")
        started = time.perf_counter()
        with sessions.begin() as session:
            for i in range(stories):
                item = rng.choice(ITEMS)
                supplier, recipient = ("Russia", "North Korea") if item == "technology" else ("North Korea", "Russia")
                published = now - dt.timedelta(minutes=rng.randrange(14 * 24 * 60))
                fact = Fact(supplier, recipient, item, rng.randrange(10, 20_000), False, "delivered", f"s{i}")
                text = " ".join(rng.sample(WORDS, 40))
                article = Article(source=f"outlet-{i % 300}", url=f"https://o{i % 300}.example/{i}",
                                  canonical_url=f"https://o{i % 300}.example/{i}", title=f"Report {i}: {text[:40]}",
                                  text=text, content_hash=f"h{i}", published_at=published, fetched_at=published)
                session.add(article)
                session.flush()
                names = (f"place:{rng.choice(PLACES)}", f"model:M{rng.randrange(500)}")
                assign_story(session, "nk-russia-aid", article, (fact,), names, story_id=None)
        filled = time.perf_counter() - started
        matcher = Matcher([load_watch("nk-russia-aid")])
        reports = [(r, matcher.match(r["title"], r["text"])[0]) for r in load()["reports"]]
        reports = [(r, m) for r, m in reports if m.stored]
        StoryIndex.reset_all()                     # as a fresh process: the index loads on first use
        with sessions() as session:
            started = time.perf_counter()
            StoryIndex.of(session).candidates(session, "nk-russia-aid", profile(Article(title="", text=""), (), ()))
            loaded = time.perf_counter() - started
        spent = 0.0
        passes = [(round_, i, report, match) for round_ in range(3) for i, (report, match) in enumerate(reports)]
        with sessions.begin() as session:
            for i, (_, _, report, match) in enumerate(passes):   # three passes: new stories, then follow-ups
                article = Article(source=report["outlet"], url=f"https://replay.example/{i}",
                                  canonical_url=f"https://replay.example/{i}", title=report["title"],
                                  text=report["text"], content_hash=f"r{i}",
                                  published_at=now - dt.timedelta(minutes=10 * (len(passes) - i)),
                                  fetched_at=now)
                session.add(article)
                session.flush()
                started = time.perf_counter()
                assign_story(session, "nk-russia-aid", article, match.facts, match.names)
                session.flush()
                spent += time.perf_counter() - started
    per_report = spent / len(passes)
    extraction = extraction_seconds()
    print(f"{stories:,} stories in the window (built in {filled:.1f} s, loaded into the index in {loaded:.2f} s "
          f"once a process); {len(passes)} reports assigned: "
          f"{1000 * per_report:.2f} ms a report; extraction {1000 * extraction:.1f} ms a page: "
          f"clustering is {100 * per_report / extraction:.1f}% of extraction (goal: at most 5%)")


def main() -> None:
    print_replay()
    if "--replay" not in sys.argv:
        print_cost()


if __name__ == "__main__":
    main()
