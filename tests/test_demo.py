"""`wirewatch demo`, the README's main job: the whole flow on the bundled site, no internet."""

from __future__ import annotations

import pytest

from wirewatch.crawler.commands.cli import main

pytestmark = pytest.mark.slow            # real crawls in child processes, daemons, servers


def test_demo_stores_the_site_flags_the_aid_reports_and_alerts(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)

    assert main(["--log-level", "WARNING", "demo", "--db", str(tmp_path / "demo.db")]) == 0

    out = capsys.readouterr().out
    assert "Stored 6 articles" in out
    flagged = [line for line in out.splitlines() if line.strip().startswith("[MATCH")]
    assert len(flagged) == 2
    assert any("200 long-range artillery" in line for line in flagged)
    assert any("air defence systems to Pyongyang" in line for line in flagged)
    for quiet in ("ballistic missile into the sea", "Shahed drones", "K9 howitzers", "Wonsan resort"):
        assert any(quiet in line and "[no match]" in line for line in out.splitlines())
    assert "North Korea → Russia: artillery, ~200" in out
    assert "North Korea → Russia: troops, ~11,000" in out
    assert "Russia → North Korea: artillery" not in out          # "artillery-heavy" is not artillery
    assert out.count("Alert id: msg_") == 2                       # console channel, one per report
    assert "Second crawl (incremental): 0 new, 0 article downloads" in out
    assert (tmp_path / "demo.db").exists()
