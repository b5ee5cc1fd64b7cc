"""Running it as a service: routes, silences, the apprise channel, monitorable status, and
configuration from the environment and from secret files — against real local receivers."""

from __future__ import annotations

import datetime
import json

import pytest

from tests.servers import Answer, Receiver
from wirewatch.alerts.outbox import Dispatcher
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.records import ArticleItem, Extracted, PageAnalysis, SourceCounts
from wirewatch.crawler.secrets import redact
from wirewatch.crawler.service.health import record_health
from wirewatch.crawler.service.runner import SourceReport
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.ingest import ingest

MATCHER = Matcher([load_watch("nk-russia-aid"), load_watch("iran-russia-aid")])
DELIVERED = "North Korea has sent about 2,000 more troops to Russia's Kursk region, Seoul's spy agency said."
PLANNED = "Kim Jong Un will send 5,000 more workers to Russia's drone factories next year, officials in Seoul said."
IRAN = "Iran has delivered 200 Shahed drones to Russia this month, Ukrainian intelligence said."


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def _world(tmp_path, channels: str, extra: str = ""):
    config = parse_config(f"""
storage: sqlite:///{tmp_path / 'ops.db'}
network: {{allow_private: true}}
watches: [{{include: nk-russia-aid}}, {{include: iran-russia-aid}}]
daemon: {{failures_before_alert: 1}}
channels:
{channels}
{extra}""", base_dir=str(tmp_path))
    return config, open_database(config.storage, str(tmp_path))


def _report(config, sessions, n: int, title: str, text: str, source: str = "desk") -> tuple:
    url = f"https://news.example/{n}"
    published = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)).isoformat()
    item = ArticleItem(source=source, url=url, canonical=url, requested=url, html=b"")
    matches = tuple(r for r in MATCHER.match(title, text) if r.matched)
    result = ingest(sessions, item, PageAnalysis(Extracted(text, title, published, None, None, "en"), matches=matches),
                    Routes.of(config))
    return result.held_back


def _deliver(config, sessions) -> None:
    dispatcher = Dispatcher(config, sessions)
    try:
        dispatcher.drain(10)
    finally:
        dispatcher.close()


def _kinds(receiver, path: str) -> list[tuple[str, str]]:
    out = []
    for request in receiver.at(path):
        body = json.loads(request.body)
        out.append((body["type"].split(".")[1], body.get("watch") or body.get("event")))
    return sorted(out)


def test_three_channels_receive_different_subsets_and_check_prints_the_routes(tmp_path, receiver, capsys):
    a, b, c = (receiver.script(p, Answer(200)) for p in ("/nk-only", "/high-only", "/no-ops"))
    config, sessions = _world(tmp_path, f"""
  - {{type: webhook, name: nk-desk, url: "{a}", watches: [nk-russia-aid]}}
  - {{type: webhook, name: urgent, url: "{b}", min_severity: high}}
  - {{type: webhook, name: feed-only, url: "{c}", operational: false}}""")
    _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED)      # high
    _report(config, sessions, 2, "Kim to send 5,000 workers to Russian drone plants", PLANNED)   # planned: medium
    _report(config, sessions, 3, "Iran delivers 200 Shahed drones to Russia", IRAN)              # the other watch
    record_health(config, sessions, [SourceReport("desk", "failed", SourceCounts(), ("HTTP 500 for https://x",))])
    _deliver(config, sessions)
    assert _kinds(receiver, "/nk-only") == sorted([("alert", "nk-russia-aid"), ("alert", "nk-russia-aid"),
                                                   ("operational", "failing")])
    assert _kinds(receiver, "/high-only") == sorted([("alert", "nk-russia-aid"), ("alert", "iran-russia-aid"),
                                                     ("operational", "failing")])
    assert _kinds(receiver, "/no-ops") == sorted([("alert", "nk-russia-aid"), ("alert", "nk-russia-aid"),
                                                  ("alert", "iran-russia-aid")])
    path = tmp_path / "w.yaml"
    path.write_text(f"""storage: sqlite:///{tmp_path / 'ops.db'}
channels:
  - {{type: webhook, name: nk-desk, url: "{a}", watches: [nk-russia-aid, nk-russia-typo]}}
  - {{type: console}}
""")
    assert main(["-c", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "nk-desk: watches nk-russia-aid, nk-russia-typo; any severity; source-health alerts" in out
    assert "console: every watch; any severity; source-health alerts" in out
    assert "routes watch 'nk-russia-typo', which the config does not run" in out
    assert "network.contact is the project's default" in out


def test_a_match_no_channel_takes_is_held_back_as_no_channel(tmp_path, receiver):
    hook = receiver.script("/iran", Answer(200))
    config, sessions = _world(tmp_path, f'  - {{type: webhook, url: "{hook}", watches: [iran-russia-aid]}}')
    assert _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED) == ("no channel",)


def test_mutes_hold_matches_back_with_their_reason_until_they_end(tmp_path, receiver, capsys):
    hook = receiver.script("/hook", Answer(200))
    config_path = tmp_path / "w.yaml"
    config_path.write_text(f"""storage: sqlite:///{tmp_path / 'ops.db'}
sources: [{{name: desk, type: feed, url: "https://news.example/feed"}}]
channels: [{{type: webhook, url: "{hook}"}}]
""")
    config, sessions = _world(tmp_path, f'  - {{type: webhook, url: "{hook}"}}')
    assert main(["-c", str(config_path), "mute", "--source", "desk", "--for", "2h", "--reason", "noisy feed"]) == 0
    assert "muted: #1 source desk until" in capsys.readouterr().out
    assert _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED) == \
        ("muted (noisy feed)",)
    assert _report(config, sessions, 2, "Iran delivers 200 Shahed drones to Russia", IRAN, source="other") == (None,)
    assert main(["-c", str(config_path), "mutes"]) == 0 and "source desk" in capsys.readouterr().out
    assert main(["-c", str(config_path), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["mutes"][0]["value"] == "desk" and status["mutes"][0]["reason"] == "noisy feed"
    assert main(["-c", str(config_path), "unmute", "1"]) == 0
    assert _report(config, sessions, 3, "North Korea ships 100 howitzers to Russia",
                   "North Korea has shipped 100 howitzers to Russia, Kyiv said.") == (None,)
    assert main(["-c", str(config_path), "mutes"]) == 0 and "no silences in force" in capsys.readouterr().out
    rows = json.loads(_out(capsys, ["-c", str(config_path), "matches", "--format", "json"]))
    assert {r["article"]["url"]: r["held_back"] for r in rows}["https://news.example/1"] == "muted (noisy feed)"
    assert main(["-c", str(config_path), "mute", "--story", "999", "--for", "1d"]) == 2       # no such story
    with pytest.raises(SystemExit) as usage:
        main(["-c", str(config_path), "mute", "--watch", "nk-russia-aid", "--for", "soon"])
    assert usage.value.code == 2


def _out(capsys, argv) -> str:
    capsys.readouterr()
    main(argv)
    return capsys.readouterr().out


def test_status_json_and_exit_code_say_when_something_needs_an_operator(tmp_path, receiver, capsys):
    dead = receiver.script("/gone", Answer(410))
    path = tmp_path / "w.yaml"
    path.write_text(f"""storage: sqlite:///{tmp_path / 'ops.db'}
sources: [{{name: desk, type: feed, url: "https://news.example/feed"}}]
daemon: {{failures_before_alert: 2}}
channels: [{{type: webhook, url: "{dead}"}}]
""")
    from wirewatch.crawler.conf.load import load_config
    config = load_config(path)
    sessions = open_database(config.storage, str(tmp_path))
    assert main(["-c", str(path), "status", "--json"]) == 0
    healthy = json.loads(capsys.readouterr().out)
    assert healthy["healthy"] is True and healthy["sources"][0]["source"] == "desk"
    assert set(healthy["alerts"]) == {"pending", "dead", "delivered"}
    failed = SourceReport("desk", "failed", SourceCounts(), ("HTTP 503 for https://news.example/feed",))
    record_health(config, sessions, [failed])
    assert main(["-c", str(path), "status", "--json"]) == 0            # one failure: below the threshold
    capsys.readouterr()
    record_health(config, sessions, [failed])
    assert main(["-c", str(path), "status", "--json"]) == 1
    status = json.loads(capsys.readouterr().out)
    assert status["healthy"] is False and status["failing"] == ["desk"]
    assert status["sources"][0]["failures"] == 2 and "HTTP 503" in status["sources"][0]["last_error"]
    _deliver(config, sessions)                                        # the operator alert: 410 makes it dead
    assert main(["-c", str(path), "status"]) == 1
    out = capsys.readouterr().out
    assert "1 dead" in out and "unhealthy" in out


def test_apprise_delivers_through_its_generic_json_url_retries_and_masks_its_urls(tmp_path, receiver, capsys):
    hook = receiver.script("/apprise", Answer(503), Answer(200))
    port = hook.split(":")[2].split("/")[0]
    url = f"json://127.0.0.1:{port}/apprise?token=abc123"
    config, sessions = _world(tmp_path, f'  - {{type: apprise, name: team, urls: ["{url}"]}}',
                              extra="alerts: {backoff: 0.2s, backoff_max: 1s}")
    _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED)
    _deliver(config, sessions)
    bodies = [json.loads(r.body) for r in receiver.at("/apprise")]
    assert len(bodies) == 2 and "2,000" in bodies[1]["title"] + bodies[1]["message"]   # failed once, retried
    from sqlalchemy import select

    from wirewatch.crawler.store.schema import Outbox
    with sessions() as session:
        assert [(r.channel, r.status, r.attempts) for r in session.scalars(select(Outbox))] == [("team", "delivered", 2)]
    assert "abc123" not in redact(f"posting to {url}")
    path = tmp_path / "a.yaml"
    path.write_text(f'storage: sqlite:///{tmp_path / "ops.db"}\nchannels:\n  - {{type: apprise, name: team, urls: ["{url}"]}}\n')
    assert main(["-c", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "team: apprise, 1 URL(s): json" in out and "abc123" not in out
    path.write_text(f'storage: sqlite:///{tmp_path / "ops.db"}\nchannels:\n'
                    f'  - {{type: apprise, name: pager, urls: ["{url}", "nonsense://x"]}}\n')
    assert main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err
    assert "channel pager: apprise cannot read URL #2" in err and "abc123" not in err


def test_storage_from_the_environment_and_secrets_from_files(tmp_path, monkeypatch):
    secret = tmp_path / "smtp-password"
    secret.write_text("correct horse battery\n")
    text = f"""storage: sqlite:///{tmp_path / 'file.db'}
channels:
  - {{type: email, host: smtp.example.org, sender: a@example.org, to: [b@example.org], username: alerts,
     password_file: {secret}}}
"""
    monkeypatch.chdir(tmp_path)                    # no config file at all: the environment is enough
    monkeypatch.setenv("WIREWATCH_STORAGE", f"sqlite:///{tmp_path / 'env.db'}")
    monkeypatch.delenv("WIREWATCH_CONFIG", raising=False)
    assert main(["status", "--json"]) == 0 and (tmp_path / "env.db").exists()
    config = parse_config(text, env={"WIREWATCH_STORAGE": f"sqlite:///{tmp_path / 'env.db'}"})
    assert config.storage.endswith("env.db") and config.channels[0].password == "correct horse battery"
    assert "correct horse battery" not in redact("login with correct horse battery")
    with pytest.raises(ConfigError, match=r"password_file \(line 4\): cannot read"):
        parse_config(text.replace(str(secret), str(tmp_path / "missing")), env={})
    with pytest.raises(ConfigError, match="give password or password_file, not both"):
        parse_config(text.replace("username: alerts,", "username: alerts, password: x,"), env={})


def test_prune_removes_old_text_runs_and_delivered_alerts_but_keeps_what_dedup_and_stories_need(tmp_path, receiver,
                                                                                                capsys):
    from sqlalchemy import select, update

    from wirewatch.crawler.store.schema import Article, MatchRow, Outbox, Run, RunSource, utcnow
    hook = receiver.script("/hook", Answer(200))
    config, sessions = _world(tmp_path, f'  - {{type: webhook, url: "{hook}"}}',
                              extra="retention: {article_text: 30d, runs: 7d, delivered_alerts: 14d}")
    _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED)
    _report(config, sessions, 2, "Iran delivers 200 Shahed drones to Russia", IRAN)
    _deliver(config, sessions)
    long_ago = utcnow() - datetime.timedelta(days=60)
    with sessions.begin() as session:
        session.add(Run(trigger="schedule", started_at=long_ago, status="ok"))
        session.flush()
        old_run = session.scalars(select(Run)).one()
        session.add(RunSource(run_id=old_run.id, source="desk", status="ok", errors=[], **SourceCounts().as_dict()))
        session.add(Run(trigger="schedule", status="ok"))
        session.execute(update(Article).where(Article.canonical_url == "https://news.example/1")
                        .values(fetched_at=long_ago))
        session.execute(update(Outbox).where(Outbox.match_id.in_(select(MatchRow.id).join(
            Article, MatchRow.article_id == Article.id).where(Article.canonical_url == "https://news.example/1")))
            .values(delivered_at=long_ago))
    path = tmp_path / "w.yaml"
    path.write_text(f"storage: sqlite:///{tmp_path / 'ops.db'}\n"
                    "retention: {article_text: 30d, runs: 7d, delivered_alerts: 14d}\n")
    assert main(["-c", str(path), "prune", "--dry-run"]) == 0
    assert "would prune: 1 article text(s), 1 run(s) with 1 source record(s), 1 delivered alert row(s)" in \
        capsys.readouterr().out
    assert main(["-c", str(path), "prune"]) == 0
    assert "pruned: 1 article text(s)" in capsys.readouterr().out
    with sessions() as session:
        old, new = (session.scalars(select(Article).where(Article.canonical_url == f"https://news.example/{n}")).one()
                    for n in (1, 2))
        assert old.text == "" and old.title and old.content_hash and new.text
        assert len(session.scalars(select(MatchRow)).all()) == 2            # matches, facts and stories stay
        assert len(session.scalars(select(Run)).all()) == 1 and not session.scalars(select(RunSource)).all()
        assert [o.match_id for o in session.scalars(select(Outbox))] != [] and \
            len(session.scalars(select(Outbox)).all()) == 1
    assert main(["-c", str(path), "prune"]) == 0 and "pruned: 0 article text(s)" in capsys.readouterr().out
    # the pruned article is still known: it is not downloaded or stored again
    held = _report(config, sessions, 1, "North Korea sends 2,000 more troops to Kursk", DELIVERED)
    assert held == ()


def test_a_source_still_failing_when_its_mute_ends_is_reported_then(tmp_path, capsys):
    """Muted while failing, the failing alert is not sent (nor marked sent): the first failed
    crawl after the silence ends sends it, so on-call does not first hear of it as 'recovered'."""
    path = tmp_path / "w.yaml"
    path.write_text(f"""storage: sqlite:///{tmp_path / 'ops.db'}
sources: [{{name: desk, type: feed, url: "https://news.example/feed"}}]
daemon: {{failures_before_alert: 2}}
channels: [{{type: console}}]
""")
    from sqlalchemy import select, update

    from wirewatch.crawler.conf.load import load_config
    from wirewatch.crawler.store.schema import Mute, Outbox, utcnow
    config = load_config(path)
    sessions = open_database(config.storage, str(tmp_path))
    assert main(["-c", str(path), "mute", "--source", "desk", "--for", "1d", "--reason", "maintenance"]) == 0
    failed = SourceReport("desk", "failed", SourceCounts(), ("HTTP 503 for https://news.example/feed",))
    for _ in range(3):
        record_health(config, sessions, [failed])

    def operational() -> list[str]:
        with sessions() as session:
            return [row.payload["event"] for row in session.scalars(select(Outbox).where(Outbox.kind == "operational"))]
    assert operational() == []                                      # silenced
    with sessions.begin() as session:                               # the silence ends
        session.execute(update(Mute).values(until=utcnow()))
    record_health(config, sessions, [failed])
    assert operational() == ["failing"]
    with sessions() as session:
        [row] = session.scalars(select(Outbox).where(Outbox.kind == "operational"))
        assert "failed 4 times in a row" in row.payload["message"]
    record_health(config, sessions, [SourceReport("desk", "ok", SourceCounts(), ())])
    assert operational() == ["failing", "recovered"]


def test_a_channel_named_like_part_of_its_url_keeps_its_name(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text(f"""storage: sqlite:///{tmp_path / 'ops.db'}
channels:
  - {{type: apprise, name: nk-urgent, urls: ["ntfy://tk9f8e7d6c5b4a3210@ntfy.example.org/nk-urgent"]}}
""")
    assert main(["-c", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "nk-urgent" in out and "tk9f8e7d6c5b4a3210" not in out
