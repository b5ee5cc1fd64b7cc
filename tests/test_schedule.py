"""The schedule in the database: what is due, in which order, and what the next time becomes."""

from __future__ import annotations

import datetime as dt

from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.service.schedule import claim_due, due_again
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import SourceState, utcnow


def _world(tmp_path, sources: str):
    config = parse_config(f"storage: sqlite:///{tmp_path}/s.db\nsources:\n{sources}", base_dir=str(tmp_path))
    return config, open_database(config.storage, tmp_path)


def _state(sessions, name):
    with sessions() as session:
        return session.get(SourceState, name)


def test_overdue_and_new_sources_are_due_at_once_and_the_others_wait(tmp_path):
    config, sessions = _world(tmp_path, """
  - {name: new, type: feed, url: "https://a.example/feed", every: 1h}
  - {name: stale, type: feed, url: "https://b.example/feed", every: 1h}
  - {name: fresh, type: feed, url: "https://c.example/feed", every: 1h}
  - {name: nightly, type: feed, url: "https://d.example/feed", cron: "0 3 * * *"}
""")
    now = utcnow()
    with sessions.begin() as session:
        session.add(SourceState(source="stale", last_success=now - dt.timedelta(hours=2)))
        session.add(SourceState(source="fresh", last_success=now - dt.timedelta(minutes=10)))
        session.add(SourceState(source="nightly", last_success=now - dt.timedelta(hours=1),
                                next_due=now + dt.timedelta(hours=5), schedule=config.source("nightly").schedule))
    assert sorted(claim_due(sessions, config, set(), 10, now)) == ["new", "stale"]
    # their next check is one interval after this one started; nothing is due twice
    assert _state(sessions, "new").next_due == now + dt.timedelta(hours=1)
    assert claim_due(sessions, config, set(), 10, now + dt.timedelta(seconds=30)) == []
    # the fresh source waits for an interval after its last success (stored from then on)
    assert claim_due(sessions, config, set(), 10, now + dt.timedelta(minutes=49)) == []
    assert claim_due(sessions, config, set(), 10, now + dt.timedelta(minutes=51)) == ["fresh"]
    # a cron source keeps the stored time, then takes the expression's next one
    later = now + dt.timedelta(hours=5, seconds=1)
    assert "nightly" in claim_due(sessions, config, set(), 10, later)
    assert _state(sessions, "nightly").next_due.hour == 3


def test_busy_sources_wait_room_caps_and_the_most_overdue_go_first_with_their_lag(tmp_path):
    config, sessions = _world(tmp_path, "\n".join(
        f'  - {{name: s{i}, type: feed, url: "https://x{i}.example/feed", every: 60s}}' for i in range(5)))
    now = utcnow()
    with sessions.begin() as session:
        for i in range(5):
            session.add(SourceState(source=f"s{i}", next_due=now - dt.timedelta(seconds=10 * i),
                                    schedule=config.source(f"s{i}").schedule))
    assert claim_due(sessions, config, {"s4"}, 2, now) == ["s3", "s2"]
    assert _state(sessions, "s3").last_lag == 30.0
    assert claim_due(sessions, config, {"s4"}, 0, now) == []
    assert claim_due(sessions, config, set(), 10, now) == ["s4", "s1", "s0"]
    due_again(sessions, ["s2"])                           # lost with a crashed worker: due now
    assert claim_due(sessions, config, set(), 10, utcnow()) == ["s2"]


def test_a_changed_schedule_takes_effect_without_waiting_for_the_old_time(tmp_path):
    config, sessions = _world(tmp_path, '  - {name: s, type: feed, url: "https://x.example/feed", every: 1h}\n')
    now = utcnow()
    assert claim_due(sessions, config, set(), 10, now) == ["s"]
    with sessions.begin() as session:
        session.get(SourceState, "s").last_success = now
    assert claim_due(sessions, config, set(), 10, now + dt.timedelta(minutes=5)) == []
    shorter, _ = _world(tmp_path, '  - {name: s, type: feed, url: "https://x.example/feed", every: 1m}\n')
    assert claim_due(sessions, shorter, set(), 10, now + dt.timedelta(minutes=5)) == ["s"]


def test_the_cadence_does_not_drift_by_how_late_a_check_starts(tmp_path):
    config, sessions = _world(tmp_path, '  - {name: s, type: feed, url: "https://x.example/feed", every: 60s}\n')
    now = utcnow()
    with sessions.begin() as session:
        session.add(SourceState(source="s", next_due=now, schedule=config.source("s").schedule))
    assert claim_due(sessions, config, set(), 10, now + dt.timedelta(seconds=0.7)) == ["s"]
    assert _state(sessions, "s").next_due == now + dt.timedelta(seconds=60)      # not 60.7 s on
    late = now + dt.timedelta(seconds=200)                                       # fell a whole interval behind
    assert claim_due(sessions, config, set(), 10, late) == ["s"]
    assert _state(sessions, "s").next_due == late + dt.timedelta(seconds=60)
