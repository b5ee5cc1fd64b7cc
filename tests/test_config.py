"""The config contract: typed at load time, one clear error naming the key and its line."""

from __future__ import annotations

import json
import logging
import os

import pytest
import yaml

from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.conf.load import load_config, parse_config
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.logs import setup_logging
from wirewatch.crawler.secrets import redact

VALID = """\
storage: sqlite:///x.db
network:
  allow_private: false
sources:
  - name: example-feed
    type: feed
    url: https://example.org/feed/
    every: 15m
  - name: example-listing
    type: listing
    url: https://example.org/category/defence/
    follow: '/20\\d\\d/\\d\\d/'
    cron: "*/30 * * * *"
watches:
  - include: nk-russia-aid
channels:
  - type: slack
    url: ${SLACK_WEBHOOK_URL}
  - type: webhook
    url: https://hooks.example.org/wirewatch
    secret: ${WIREWATCH_WEBHOOK_SECRET}
  - type: email
    host: smtp.example.org
    port: 587
    security: starttls
    username: alerts
    password: ${SMTP_PASSWORD}
    sender: wirewatch@example.org
    to: [analyst@example.org]
"""
ENV = {"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T000/B000/SECRETTOKEN123",
       "WIREWATCH_WEBHOOK_SECRET": "whsec_dG9wLXNlY3JldC12YWx1ZS0xMjM0NQ==", "SMTP_PASSWORD": "hunter2-password"}


def test_design_contract_example_loads_into_typed_objects():
    config = parse_config(VALID, env=ENV)
    assert config.sources[0].every == 900 and config.sources[1].cron == "*/30 * * * *"
    assert config.channels[0].url == ENV["SLACK_WEBHOOK_URL"]
    assert config.channels[2].port == 587 and config.channels[2].to == ["analyst@example.org"]
    assert config.channel_names() == ["slack", "webhook", "email"]


@pytest.mark.parametrize("text, expected", [
    (VALID.replace("    every: 15m", "    evrey: 15m"), "sources.0.evrey (line 8): unknown key"),
    (VALID.replace("allow_private: false", "allow_private: perhaps"), "network.allow_private (line 3)"),
    (VALID.replace("type: feed", "type: podcast"), "sources.0.type (line 6)"),
    (VALID.replace("url: https://example.org/feed/", "url: ftp://example.org/feed/"),
     "only http and https"),
    (VALID.replace("every: 15m", "every: soon"), "not a duration"),
    (VALID.replace("    follow: '/20\\d\\d/\\d\\d/'\n", ""), "needs 'follow'"),
    (VALID.replace('cron: "*/30 * * * *"', 'cron: "every day"'), "crontab"),
    (VALID.replace("  - include: nk-russia-aid", "  - include: nk-russia-aid\n    extra: 1"),
     "watches.0.extra (line 16): unknown key"),
])
def test_config_errors_name_the_key_and_line(text, expected):
    with pytest.raises(ConfigError) as error:
        parse_config(text, env=ENV)
    assert expected in str(error.value)
    assert "\n" not in str(error.value)


def test_missing_environment_variable_is_named():
    env = dict(ENV)
    del env["SMTP_PASSWORD"]
    with pytest.raises(ConfigError, match="environment variable SMTP_PASSWORD is not set"):
        parse_config(VALID, env=env)


def test_cli_config_error_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "bad.yaml"
    path.write_text(VALID.replace("    every: 15m", "    evry: 15m"))
    assert main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "evry" in err[0] and "line 8" in err[0]
    assert main(["-c", str(tmp_path / "nope.yaml"), "crawl"]) == 2


def test_check_prints_the_plan_with_secrets_masked(tmp_path, capsys, monkeypatch):
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    path = tmp_path / "wirewatch.yaml"
    path.write_text(VALID)
    assert main(["-c", str(path), "check"]) == 0
    out = capsys.readouterr().out
    assert "example-feed: feed https://example.org/feed/ every 15m" in out
    assert "example-listing: listing" in out and "cron */30 * * * *" in out
    assert "nk-russia-aid" in out and "slack https://hooks.slack.com/***" in out
    for secret in ENV.values():
        assert secret not in out
    assert load_config(path).storage == "sqlite:///x.db"


def test_unknown_watch_is_a_config_error(tmp_path, capsys):
    path = tmp_path / "w.yaml"
    path.write_text("watches:\n  - include: no-such-watch\n")
    assert main(["-c", str(path), "check"]) == 2
    assert "no-such-watch" in capsys.readouterr().err


def test_shipped_example_config_is_valid(monkeypatch):
    from wirewatch.config import CONFIG_DIR
    for key, value in ENV.items():
        monkeypatch.setenv(key, value)
    config = load_config(CONFIG_DIR / "example.yaml")
    assert [s.type for s in config.sources][-3:] == ["feed", "sitemap", "listing"]
    assert len(config.sources) > 20 and config.source("nknews").url.startswith("https://")
    assert config.channel_names() == ["slack", "webhook", "email"]


def test_analysis_processes_follow_the_cores_unless_the_config_sets_them(tmp_path, capsys):
    cores = max(1, min(8, len(os.sched_getaffinity(0))))
    path = tmp_path / "w.yaml"
    path.write_text("storage: sqlite:///x.db\n")
    assert main(["-c", str(path), "check"]) == 0
    assert f"workers: one crawl worker, 32 sources at once, {cores} analysis processes" in capsys.readouterr().out
    path.write_text("storage: sqlite:///x.db\nworkers: {crawls: 5, analysis: 1}\n")
    assert main(["-c", str(path), "check"]) == 0
    assert "workers: one crawl worker, 5 sources at once, 1 analysis processes" in capsys.readouterr().out
    path.write_text("workers: {crawls: 0}\n")
    assert main(["-c", str(path), "check"]) == 2
    assert "workers.crawls (line 1)" in capsys.readouterr().err


def test_fields_declared_secret_are_masked_even_when_written_in_the_file(capsys):
    config = parse_config("""
channels:
  - {type: email, host: smtp.example.org, sender: a@example.org, to: [b@example.org],
     username: alerts, password: sunshine}
""")
    assert config.channels[0].password == "sunshine"
    # the declared secret is masked however plain it looks; a plain username is not masked in
    # every text (it would garble the word "alerts" everywhere), only where the channel shows it
    assert redact("login failed for alerts with sunshine; 0 alerts pending") == \
        "login failed for alerts with ***; 0 alerts pending"


def test_json_logs_keep_the_traceback_with_secrets_redacted(capsys):
    parse_config("channels:\n  - {type: slack, url: 'https://hooks.slack.com/services/T1/B2/tracebacktoken'}\n")
    setup_logging("INFO", "json")
    log = logging.getLogger("wirewatch.test")
    try:
        raise RuntimeError("posting to https://hooks.slack.com/services/T1/B2/tracebacktoken failed")
    except RuntimeError:
        log.exception("channel slack: unexpected error while sending")
    entry = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert entry["level"] == "ERROR" and "RuntimeError" in entry["traceback"]
    assert "Traceback (most recent call last)" in entry["traceback"]
    assert "tracebacktoken" not in json.dumps(entry)


def test_a_shipped_source_list_is_included_beside_inline_sources_and_names_stay_unique(tmp_path):
    from wirewatch.config import CONFIG_DIR
    shipped = yaml.safe_load((CONFIG_DIR / "sources" / "defence-news.yaml").read_text())
    config = parse_config("sources:\n  - include: defence-news\n"
                          "  - {name: my-feed, type: feed, url: 'https://example.org/feed/'}\n")
    assert [s.name for s in config.sources] == [s["name"] for s in shipped] + ["my-feed"]
    assert all(s.url.startswith("https://") and s.every for s in config.sources[:-1])   # each has a schedule
    with pytest.raises(ConfigError, match="duplicate source name 'nknews'"):
        parse_config("sources:\n  - include: defence-news\n"
                     "  - {name: nknews, type: feed, url: 'https://example.org/feed/'}\n")
    with pytest.raises(ConfigError, match=r"sources.0 \(line 2\): source list 'no-such-list' not found"):
        parse_config("sources:\n  - include: no-such-list\n")
    mine = tmp_path / "mine.yaml"
    mine.write_text("- {name: local-list, type: feed, url: 'https://example.org/x.xml'}\n")
    assert parse_config(f"sources: [{{include: {mine}}}]").sources[0].name == "local-list"
