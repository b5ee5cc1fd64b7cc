"""`wirewatch demo`, the README's main job: the whole flow on the bundled site, no internet."""

from __future__ import annotations

import re

import pytest

from wirewatch.crawler.commands.cli import main

pytestmark = pytest.mark.slow            # real crawls in child processes, daemons, servers


def test_demo_shows_a_baseline_then_a_fresh_alert_then_a_report_held_back_as_too_old(tmp_path, capsys,
                                                                                    monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert main(["--log-level", "WARNING", "demo", "--db", str(tmp_path / "demo.db")]) == 0

    out = capsys.readouterr().out
    first, second = out.split("\n1. ")[1].split("\n2. ")[0], out.split("\n2. ")[1].split("\n3. ")[0]
    third, fourth = out.split("\n3. ")[1].split("\n4. ")[0], out.split("\n4. ")[1]
    assert "silent baseline" in first and "Stored 6 articles" in first
    flagged = [line for line in first.splitlines() if line.strip().startswith("[MATCH")]
    assert len(flagged) == 2 and all("held back: baseline" in line for line in flagged)
    assert any("200 long-range artillery" in line for line in flagged)
    assert any("air defence systems to Pyongyang" in line for line in flagged)
    for quiet in ("ballistic missile into the sea", "Shahed drones", "K9 howitzers", "Wonsan resort"):
        assert any(quiet in line and "[no match]" in line for line in first.splitlines())
    assert "North Korea → Russia: around 200 artillery" in first and "North Korea → Russia: approximately 11,000 troops" in first
    assert "Russia → North Korea: artillery" not in out          # "artillery-heavy" is not artillery

    # the Korean report breaks first: it alerts, its headline as published, its facts in English
    [korean] = [line for line in second.splitlines() if "공병 6천명" in line and "[MATCH" in line]
    assert "ALERTED" in korean
    assert "North Korea → Russia: about 6,000 troops (planned)" in second.split("공병 6천명")[1]
    assert "[KO] 북한, 러시아 쿠르스크에 공병 6천명" in second and "Language: Korean (ko)" in second
    assert "(held back: 1 too old)" in second
    assert any("millions of artillery shells" in line and "held back: too old" in line for line in second.splitlines())
    assert second.count("Alert id: msg_") == 1
    assert re.search(r"Published: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", second)

    # the English report of the same event joins the Korean report's story and does not alert again
    [english] = [line for line in third.splitlines() if "6,000 military engineers" in line]
    assert "held back: same story" in english and "Alert id" not in third

    assert "Fourth crawl (incremental): 0 new, 0 article downloads" in fourth
    import sqlite3
    with sqlite3.connect(tmp_path / "demo.db") as db:
        stories = {row[0] for row in db.execute(
            "SELECT story_id FROM articles WHERE title LIKE '%engineers%' OR title LIKE '%공병%'")}
    assert len(stories) == 1                                       # one story in two languages

    capsys.readouterr()                                            # the demo again on the same database:
    assert main(["--log-level", "WARNING", "demo", "--db", str(tmp_path / "demo.db")]) == 0
    again = capsys.readouterr().out
    assert "already holds the demo site's articles" in again and "new=0" in again and "new=1" not in again
    with sqlite3.connect(tmp_path / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 9      # nothing stored twice
