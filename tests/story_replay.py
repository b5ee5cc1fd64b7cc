"""Replay a labelled stream of reports (tests/data/story_replay.yaml) through the real matcher and
ingest, crawl by crawl in publication order, and score the stories it makes:

    alerts per event, repeat alerts (a report that added nothing alerted), missed events (an event
    that should alert never did), missed follow-ups, false alerts (unrelated reports), wrong merges
    (reports stored in a story another event leads), hidden events (no story of their own).

Used by tests/test_stories.py and bench/story_replay.py."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sqlalchemy import select

from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.records import AlertPolicy, ArticleItem, Extracted, PageAnalysis
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.ingest import ingest
from wirewatch.crawler.store.schema import Article, MatchRow

CORPUS = Path(__file__).parent / "data" / "story_replay.yaml"


@dataclass
class Replay:
    events: int = 0
    alerting_events: int = 0
    alerts: int = 0
    expected_alerts: int = 0
    repeat_alerts: list[str] = field(default_factory=list)
    missed_events: list[str] = field(default_factory=list)
    missed_follow_ups: list[str] = field(default_factory=list)
    false_alerts: list[str] = field(default_factory=list)
    wrong_merges: list[str] = field(default_factory=list)
    hidden_events: list[str] = field(default_factory=list)
    per_event: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    reports: int = 0

    def lines(self) -> list[str]:
        return [f"{self.reports} reports, {self.events} events ({self.alerting_events} that should alert): "
                f"{self.alerts} alerts, {self.alerts / max(1, self.alerting_events):.2f} per alerting event "
                f"(expected {self.expected_alerts})",
                f"repeat alerts {len(self.repeat_alerts)}, missed events {len(self.missed_events)}, missed "
                f"follow-ups {len(self.missed_follow_ups)}, false alerts {len(self.false_alerts)}, wrong merges "
                f"{len(self.wrong_merges)}, hidden events {len(self.hidden_events)}",
                f"ingest with stories: {1000 * self.seconds / max(1, self.reports):.1f} ms a report"]


def load() -> dict:
    return yaml.safe_load(CORPUS.read_text(encoding="utf-8"))


def replay(workdir: Path, data: dict | None = None) -> Replay:
    data = data or load()
    config = parse_config(f"storage: sqlite:///{workdir / 'replay.db'}\nchannels: [{{type: console}}]\n")
    sessions = open_database(config.storage)
    routes = Routes.of(config)
    policy = AlertPolicy(max_age=3650 * 86400.0)
    matcher = Matcher([load_watch("nk-russia-aid")])
    reports = sorted(data["reports"], key=lambda r: (r["crawl"], r["published"]))
    result = Replay(reports=len(reports))
    started = time.monotonic()
    for report in reports:
        url = f"https://{report['outlet']}.example/{report['id']}"
        item = ArticleItem(source=report["outlet"], url=url, canonical=url, requested=url, html=b"")
        published = str(report["published"])
        extracted = Extracted(report["text"], report["title"], published, None, None, "en")
        matches = tuple(r for r in matcher.match(report["title"], report["text"]) if r.stored)
        ingest(sessions, item, PageAnalysis(extracted, matches=matches), routes, policy)
    result.seconds = time.monotonic() - started
    _score(result, data, reports, sessions)
    return result


def _score(result: Replay, data: dict, reports: list[dict], sessions) -> None:
    kinds = {e["id"]: e.get("kind") for e in data["events"]}
    result.events = len(kinds)
    with sessions() as session:
        rows = session.execute(select(Article.url, MatchRow.alerted, MatchRow.story_id)
                               .join(MatchRow, MatchRow.article_id == Article.id)).all()
    by_url = {url: (alerted, story) for url, alerted, story in rows}
    alerted_events: Counter = Counter()
    story_events: dict[int, Counter] = defaultdict(Counter)
    should = {r["event"] for r in reports if r["event"] and r["expect_alert"]}
    result.alerting_events = len(should)
    result.expected_alerts = sum(bool(r["expect_alert"]) for r in reports)
    for report in reports:
        alerted, story = by_url.get(f"https://{report['outlet']}.example/{report['id']}", (False, None))
        event = report["event"]
        result.alerts += bool(alerted)
        if event and story is not None:
            story_events[story][event] += 1
        if alerted and event is None:
            result.false_alerts.append(report["id"])
        elif alerted and not report["expect_alert"]:
            result.repeat_alerts.append(f"{report['id']} ({event})")
        elif report["expect_alert"] and not alerted and report.get("adds"):
            result.missed_follow_ups.append(f"{report['id']} ({event}): {report['adds']}")
        if alerted and event:
            alerted_events[event] += 1
    result.per_event = {e: alerted_events[e] for e in sorted(kinds)}
    result.missed_events = sorted(e for e in should if not alerted_events[e])
    leaders = {story: counts.most_common(1)[0][0] for story, counts in story_events.items()}
    answers = {e["id"]: e.get("reacts_to") for e in data["events"]}
    for story, counts in story_events.items():
        for event, n in counts.items():
            if event != leaders[story] and answers.get(event) != leaders[story]:
                result.wrong_merges.append(f"{n} report(s) of {event} in a story of {leaders[story]}")
    led = set(leaders.values())
    result.hidden_events = sorted(e for e in should if e not in led and kinds.get(e) != "reaction")


def main() -> None:
    import sys
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        result = replay(Path(tmp))
    for line in result.lines():
        print(line)
    if "--details" in sys.argv:
        for name in ("repeat_alerts", "missed_events", "missed_follow_ups", "false_alerts", "wrong_merges",
                     "hidden_events"):
            for entry in getattr(result, name):
                print(f"  {name}: {entry}")


if __name__ == "__main__":
    main()
