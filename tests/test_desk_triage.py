"""The desk, round 2: every row paged or exported (never a silent cap), full-text search, filters
on facts and triage, all articles with why they did not match, and the analysts' verdicts going
out as a labelled file the watches are measured on. Over a database of 215 matches and 25
unrelated articles stored through the real matcher and ingest; reports in our own words."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import pytest
from sqlalchemy import select, update

from tests.conftest import write_config
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.records import AlertPolicy, ArticleItem, Extracted, PageAnalysis
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.ingest import ingest
from wirewatch.crawler.store.schema import Article, MatchRow, Story

NOW = dt.datetime.now(dt.timezone.utc).replace(microsecond=0)
OUTLETS = ["ledger", "wire", "post", "herald", "monitor"]
PLACES = ["Kursk", "Belgorod", "Bryansk", "Kharkiv", "Sumy", "Toretsk", "Pokrovsk", "Kherson", "Zaporizhzhia"]
THINGS = [("artillery pieces", "artillery"), ("rocket launchers", "rocket_launchers"), ("ballistic missiles", "missiles"),
          ("attack drones", "drones")]


def _reports() -> list[dict]:
    """215 reports of distinct transfers: 150 North Korea → Russia deliveries, 40 Russia → North
    Korea deliveries, 25 planned deployments of troops; then 25 unrelated reports."""
    # figures as outlets write them (1,960), and far enough apart that no two could be one estimate
    figures = iter(f"{round(20 * 1.03 ** n):,}" for n in range(240))
    out = []
    for i in range(150):
        thing, item = THINGS[i % 4]
        n, place, outlet = next(figures), PLACES[i % 9], OUTLETS[i % 5]
        out.append({"title": f"North Korea sent {n} {thing} to Russia for use near {place}, {outlet} reports",
                    "text": f"North Korea sent {n} {thing} to Russia for use near {place}, officials told the "
                            f"{outlet} on Monday. The claim could not be verified.",
                    "outlet": outlet, "item": item, "direction": "North Korea>Russia", "place": place,
                    "status": "delivered"})
    for i in range(40):
        n, outlet = next(figures), OUTLETS[i % 5]
        out.append({"title": f"Russia delivered {n} air-defence missiles to North Korea, {outlet} reports",
                    "text": f"Russia has delivered {n} air-defence missiles to North Korea to guard Pyongyang, "
                            f"officials told the {outlet}.",
                    "outlet": outlet, "item": "air_defence", "direction": "Russia>North Korea", "place": None,
                    "status": "delivered"})
    for i in range(25):
        n, outlet = next(figures), OUTLETS[i % 5]
        out.append({"title": f"North Korea plans to send {n} more troops to Russia's Kursk region",
                    "text": f"North Korea plans to send {n} more troops to Russia's Kursk region next month, "
                            f"the {outlet} was told by military sources.",
                    "outlet": outlet, "item": "troops", "direction": "North Korea>Russia", "place": "Kursk",
                    "status": "planned"})
    for i in range(25):
        out.append({"title": f"Seoul and Tokyo discuss ferry routes, round {i}",
                    "text": "South Korean and Japanese officials discussed tourism and new ferry routes at a forum "
                            "in Busan, with business groups presenting plans for student exchanges.",
                    "outlet": OUTLETS[i % 5], "item": None, "direction": None, "place": None, "status": None})
    return out


def build_desk(tmp, **sections) -> dict:
    """A database of the 215 reports and 25 unrelated ones, and a config on it."""
    path = write_config(tmp, [], channels=[{"type": "console"}], alerts={"max_age": "30d"}, **sections)
    config = load_config(path)
    sessions = open_database(config.storage, config.base_dir)
    matcher = Matcher([load_watch("nk-russia-aid")])
    reports = _reports()
    for i, report in enumerate(reports):
        url = f"https://{report['outlet']}.example/{i}"
        published = (NOW - dt.timedelta(hours=2 + i * 0.5)).isoformat()
        item = ArticleItem(source=report["outlet"], url=url, canonical=url, requested=url, html=b"")
        found = tuple(r for r in matcher.match(report["title"], report["text"]) if r.stored)
        ingest(sessions, item, PageAnalysis(Extracted(report["text"], report["title"], published, None, None, "en"),
                                            matches=found), Routes.of(config), AlertPolicy(max_age=30 * 86400.0))
    return {"path": str(path), "sessions": sessions, "reports": reports}


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    return build_desk(tmp_path_factory.mktemp("triage"))


def run(capsys, *argv: str) -> tuple[str, str]:
    capsys.readouterr()
    assert main(list(argv)) == 0, capsys.readouterr().err
    captured = capsys.readouterr()
    return captured.out, captured.err


def test_the_corpus_stored_what_it_should(desk):
    with desk["sessions"]() as session:
        assert len(list(session.scalars(select(MatchRow.id)))) == 215


def test_exports_hold_every_row_and_tables_say_where_they_stand(desk, capsys):
    out, err = run(capsys, "-c", desk["path"], "matches", "--format", "csv")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 215 and err == ""
    out, _ = run(capsys, "-c", desk["path"], "matches", "--format", "json")
    assert len(json.loads(out)) == 215
    out, _ = run(capsys, "-c", desk["path"], "matches")
    lines = out.splitlines()
    assert len(lines) == 52 and lines[-1] == ("1–50 of 215 matches published in the last 7d (--since for older) · "
                                              "--page 2 for the next · --limit 0 for all")
    out, _ = run(capsys, "-c", desk["path"], "matches", "--page", "5")
    assert out.splitlines()[-1] == ("201–215 of 215 matches published in the last 7d (--since for older) · "
                                    "--limit 0 for all") and len(out.splitlines()) == 17
    out, _ = run(capsys, "-c", desk["path"], "matches", "--limit", "0")
    assert out.splitlines()[-1] == "1–215 of 215 matches published in the last 7d (--since for older)"
    out, err = run(capsys, "-c", desk["path"], "matches", "--format", "csv", "--limit", "10")
    assert len(list(csv.DictReader(io.StringIO(out)))) == 10
    assert err.strip() == "wirewatch: 1–10 of 215 matches written (--limit/--page); 205 left out"
    newest = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--limit", "3")[0])
    published = [m["article"]["published"] for m in newest]
    assert published == sorted(published, reverse=True)       # by publication, newest first
    out, _ = run(capsys, "-c", desk["path"], "stories", "--format", "csv")
    with desk["sessions"]() as session:
        stories = len(list(session.scalars(select(Story.id))))
    assert stories > 100 and len(list(csv.DictReader(io.StringIO(out)))) == stories


def test_since_and_until_select_by_publication(desk, capsys):
    rows = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "1455m")[0])
    assert len(rows) == sum(1 for i in range(215) if 2 + i * 0.5 <= 24.25)      # reports come every 30 min
    older = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--until", "6015m",
                           "--since", "30d")[0])
    assert len(older) == sum(1 for i in range(215) if 2 + i * 0.5 >= 100.25)
    day = (NOW - dt.timedelta(hours=50)).strftime("%Y-%m-%dT%H:%M")
    assert all(r["article"]["published"] <= day + ":59+00:00" for r in json.loads(
        run(capsys, "-c", desk["path"], "matches", "--format", "json", "--until", day, "--since", "30d")[0]))


def test_search_finds_words_and_phrases_in_titles_and_text_and_follows_changes(desk, capsys):
    kursk = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--search", "Kursk",
                           "--since", "30d")[0])
    expected = [r for r in desk["reports"] if r["place"] == "Kursk"]
    assert len(kursk) == len(expected)
    phrase = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d",
                            "--search", '"air-defence missiles" Pyongyang')[0])
    assert len(phrase) == 40
    assert json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d",
                          "--search", 'ferry AND "unbalanced')[0]) == []           # not syntax: just words
    with desk["sessions"].begin() as session:               # the text is cleared (retention): search follows
        target = session.scalars(select(Article).where(Article.title.like("Russia delivered%"))).first()
        session.execute(update(Article).where(Article.id == target.id).values(text=""))
    phrase_after = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d",
                                  "--search", "Pyongyang")[0])
    assert len(phrase_after) == 39
    with desk["sessions"].begin() as session:
        session.execute(update(Article).where(Article.id == target.id).values(text="Russia has delivered "
                        "air-defence missiles to North Korea to guard Pyongyang."))


@pytest.mark.parametrize("options, expect", [
    (["--direction", "russia > north korea"], lambda r: r["direction"] == "Russia>North Korea"),
    (["--direction", "North_Korea>Russia", "--item", "drones"],
     lambda r: r["direction"] == "North Korea>Russia" and r["item"] == "drones"),
    (["--status", "planned"], lambda r: r["status"] == "planned"),
    (["--severity", "medium"], lambda r: r["status"] == "planned"),
    (["--country", "North Korea"], lambda r: r["direction"] is not None),
    (["--source", "herald", "--item", "artillery"], lambda r: r["outlet"] == "herald" and r["item"] == "artillery"),
])
def test_filters_narrow_by_facts_severity_source_and_fate(desk, capsys, options, expect):
    rows = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d", *options)[0])
    assert len(rows) == sum(1 for r in desk["reports"] if expect(r))


def test_alerted_and_held_split_the_matches(desk, capsys):
    held = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d", "--held")[0])
    alerted = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d",
                             "--alerted")[0])
    with desk["sessions"]() as session:
        stored = {m.id: m.alerted for m in session.scalars(select(MatchRow))}
    assert {r["match_id"] for r in held} == {i for i, a in stored.items() if not a}
    assert {r["match_id"] for r in alerted} == {i for i, a in stored.items() if a}
    assert held and all(r["id"] == f"held-{r['match_id']}" for r in held)      # held matches have ids too


def test_all_articles_show_the_unmatched_with_the_matchers_reason(desk, capsys):
    rows = json.loads(run(capsys, "-c", desk["path"], "articles", "--format", "json", "--unmatched",
                          "--since", "30d")[0])
    assert len(rows) == 25 and all(r["matches"] == [] for r in rows)
    assert all(r["reason"] == "nk-russia-aid: keyword query not satisfied" for r in rows)
    out, _ = run(capsys, "-c", desk["path"], "articles", "--since", "30d")
    assert out.splitlines()[-1].startswith("1–50 of 240 articles")


def test_triage_on_the_command_line_then_a_labelled_export_and_evaluate(desk, capsys, tmp_path):
    path = desk["path"]
    rows = json.loads(run(capsys, "-c", path, "matches", "--format", "json", "--since", "30d", "--item", "drones")[0])
    first, second = rows[0]["article_id"], rows[1]["article_id"]
    run(capsys, "-c", path, "mark", str(first), "--read", "--star")
    starred = json.loads(run(capsys, "-c", path, "matches", "--format", "json", "--since", "30d", "--starred")[0])
    assert [r["article_id"] for r in starred] == [first] and starred[0]["read"] is True
    unread = json.loads(run(capsys, "-c", path, "matches", "--format", "json", "--since", "30d", "--unread")[0])
    assert len(unread) == 214
    out, _ = run(capsys, "-c", path, "verdict", str(first), "wrong-fact", "--fact", "1", "--note", "figure is launchers",
                 "--by", "mina")
    assert "wrong-fact (drones, North Korea → Russia) by mina" in out
    run(capsys, "-c", path, "verdict", str(second), "relevant")
    unmatched = json.loads(run(capsys, "-c", path, "articles", "--format", "json", "--unmatched", "--limit", "1")[0])
    run(capsys, "-c", path, "verdict", str(unmatched[0]["article_id"]), "missed", "--note", "no, it is tourism")
    assert main(["-c", path, "verdict", str(unmatched[0]["article_id"]), "relevant"]) == 2   # it has no match
    assert main(["-c", path, "verdict", str(first), "wrong-fact"]) == 2                     # which fact?
    story = json.loads(run(capsys, "-c", path, "matches", "--format", "json", "--limit", "1", "--starred",
                           "--since", "30d")[0])[0]["story"]["id"]
    run(capsys, "-c", path, "note", str(story), "Check against the HUR count", "--by", "mina")
    stories = json.loads(run(capsys, "-c", path, "stories", "--format", "json", "--since", "30d", "--starred")[0])
    assert stories[0]["note"]["text"] == "Check against the HUR count" and stories[0]["note"]["by"] == "mina"
    shown = json.loads(run(capsys, "-c", path, "matches", "--format", "json", "--since", "30d", "--starred")[0])[0]
    assert shown["verdict"]["label"] == "wrong_fact" and shown["verdict"]["by"] == "mina"

    labelled = tmp_path / "feedback.jsonl"
    _, err = run(capsys, "-c", path, "feedback", "export", "--output", str(labelled))
    lines = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines()]
    assert len(lines) == 3 and "3 verdict(s) exported" in err
    assert {line["label"] for line in lines} == {"wrong_fact", "relevant", "missed"}
    assert all({"id", "title", "text", "label", "watch", "by"} <= set(line) for line in lines)
    wrong = next(line for line in lines if line["label"] == "wrong_fact")
    assert wrong["fact"]["item"] == "drones" and wrong["by"] == "mina"
    out, _ = run(capsys, "evaluate", str(labelled))                 # no config needed: the default watch
    assert "3 labelled article(s): precision 1.000 (2 of 2 matches right), recall 0.667 (2 of 3 that should match)" in out
    assert "wrong facts still given: 1 of 1" in out
    assert "labelled missed, no match: keyword query not satisfied" in out
    assert main(["evaluate", str(tmp_path / "nowhere.jsonl")]) == 2         # one line, no traceback
    classified = [json.loads(line) for line in __import__("subprocess").run(
        [__import__("sys").executable, "-m", "wirewatch.crawler.commands.cli", "classify"],
        input=labelled.read_text(encoding="utf-8"), capture_output=True, text=True, timeout=60).stdout.splitlines()]
    assert len(classified) == 3                                   # the export is classify's input format


def test_every_listing_takes_one_format_option(desk, capsys):
    alerts = list(csv.DictReader(io.StringIO(run(capsys, "-c", desk["path"], "alerts", "list", "--format", "csv")[0])))
    assert alerts and {"alert", "channel", "status"} <= set(alerts[0])
    assert json.loads(run(capsys, "-c", desk["path"], "mutes", "--format", "json")[0]) == []
    capsys.readouterr()
    assert main(["-c", desk["path"], "status", "--json"]) in (0, 1)
    as_alias = json.loads(capsys.readouterr().out)
    assert main(["-c", desk["path"], "status", "--format", "json"]) in (0, 1)
    assert json.loads(capsys.readouterr().out).keys() == as_alias.keys()


def test_facts_are_the_same_objects_everywhere(desk, capsys):
    story = json.loads(run(capsys, "-c", desk["path"], "stories", "--format", "json", "--since", "30d",
                           "--limit", "1")[0])[0]
    match = json.loads(run(capsys, "-c", desk["path"], "matches", "--format", "json", "--since", "30d",
                           "--story", str(story["id"]))[0])[0]
    assert story["facts"] == match["facts"]
    assert all(isinstance(f["quantity"], int) for f in story["facts"] if f["quantity"] is not None)
