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
    first, second, third = out.split("\n1. ")[1].split("\n2. ")[0], out.split("\n2. ")[1].split("\n3. ")[0], \
        out.split("\n3. ")[1]
    assert "silent baseline" in first and "Stored 6 articles" in first
    flagged = [line for line in first.splitlines() if line.strip().startswith("[MATCH")]
    assert len(flagged) == 2 and all("held back: baseline" in line for line in flagged)
    assert any("200 long-range artillery" in line for line in flagged)
    assert any("air defence systems to Pyongyang" in line for line in flagged)
    for quiet in ("ballistic missile into the sea", "Shahed drones", "K9 howitzers", "Wonsan resort"):
        assert any(quiet in line and "[no match]" in line for line in first.splitlines())
    assert "North Korea → Russia: around 200 artillery" in first and "North Korea → Russia: approximately 11,000 troops" in first
    assert "Russia → North Korea: artillery" not in out          # "artillery-heavy" is not artillery
    assert "(held back: 2 baseline)" in first

    assert "6,000 military engineers" in second and "ALERTED" in second
    korean = [line for line in second.splitlines() if "공병 6천명" in line and "[MATCH" in line]
    assert len(korean) == 1                                       # the Korean edition's report of the same event
    assert "North Korea → Russia: about 6,000 troops (planned)" in second.split("공병 6천명")[1]   # facts in English
    reports = [line for line in second.splitlines() if "[MATCH" in line and ("engineers" in line or "공병" in line)]
    assert sorted("ALERTED" in line for line in reports) == [False, True]       # one event, one alert
    assert any("held back: same story" in line for line in reports)
    assert "(held back: 1 too old)" in second
    assert any("millions of artillery shells" in line and "held back: too old" in line for line in second.splitlines())
    assert second.count("Alert id: msg_") == 1                     # only the fresh report alerts
    assert re.search(r"Published: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", second)

    assert "Third crawl (incremental): 0 new, 0 article downloads" in third
    assert (tmp_path / "demo.db").exists()

    capsys.readouterr()                                            # the demo again on the same database:
    assert main(["--log-level", "WARNING", "demo", "--db", str(tmp_path / "demo.db")]) == 0
    again = capsys.readouterr().out
    assert "already holds the demo site's articles" in again and "new=0" in again and "new=1" not in again
    import sqlite3
    with sqlite3.connect(tmp_path / "demo.db") as db:
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == 9      # nothing stored twice
