"""No secret reaches a person or a peer: every command, in both log formats, against real local
peers that fail on purpose (and echo parts of their URL back, as misconfigured hooks do)."""

from __future__ import annotations

import base64
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from tests.servers import Answer, Receiver
from wirewatch.crawler.demo.localsite import LocalSite

pytestmark = pytest.mark.slow

WIREWATCH = str(Path(sys.executable).with_name("wirewatch"))


@pytest.fixture
def world(tmp_path):
    receiver, site = Receiver(), LocalSite().start()
    slack_path, hook_path = "/services/T0SLACK1/B0SLACK2/slackTOKEN123abc", "/hooks/hookTOKEN456def"
    receiver.script(slack_path, Answer(500, f"no_service: unknown webhook {slack_path}".encode()))
    receiver.script(hook_path, Answer(500, f"no such hook: {hook_path}/ (check the URL)".encode()))
    env = {"SLACK_URL": receiver.url(slack_path), "HOOK_URL": receiver.url(hook_path),
           "HOOK_SECRET": "whsec_" + base64.b64encode(b"0123456789abcdef-secret-key").decode(),
           "SMTP_USER": "ops-mailer-7", "SMTP_PASS": "pw-9f8e7d6c", "FEED_TOKEN": "feedTOKEN789ghi",
           "SOURCE_PASS": "pass-1a2b3c4d"}
    port = site.base.rsplit(":", 1)[1]
    config = {"storage": f"sqlite:///{tmp_path / 'w.db'}",
              "network": {"allow_private": True, "timeout": "3s", "retries": 0, "autothrottle": False},
              "sources": [{"name": "tokenfeed", "type": "feed",
                           "url": f"http://127.0.0.1:{port}/feed.xml?token=${{FEED_TOKEN}}", "every": "2s"},
                          {"name": "locked", "type": "feed",
                           "url": f"http://reader:${{SOURCE_PASS}}@127.0.0.1:{port}/private.xml", "every": "2s"}],
              "channels": [{"type": "slack", "url": "${SLACK_URL}"},
                           {"type": "webhook", "url": "${HOOK_URL}", "secret": "${HOOK_SECRET}"},
                           {"type": "email", "host": "127.0.0.1", "port": 1, "security": "none",
                            "username": "${SMTP_USER}", "password": "${SMTP_PASS}",
                            "sender": "w@example.org", "to": ["a@example.org"], "timeout": "2s"}],
              "daemon": {"failures_before_alert": 1, "dispatch_every": "1s"},
              "alerts": {"backoff": "1s", "give_up_after": "2s"}}
    path = tmp_path / "wirewatch.yaml"
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    yield {"config": path, "env": {**os.environ, **env}, "secrets": env, "receiver": receiver}
    receiver.close()
    site.stop()


def _forbidden(secrets: dict[str, str]) -> list[str]:
    """Each secret, and each part of it that identifies it on its own."""
    parts = list(secrets.values()) + ["slackTOKEN123abc", "hookTOKEN456def", secrets["HOOK_SECRET"][6:],
                                      "T0SLACK1/B0SLACK2"]
    return sorted(set(parts))


def _run(world, *args: str, log_format: str) -> str:
    done = subprocess.run([WIREWATCH, "-c", str(world["config"]), "--log-format", log_format, *args],
                          env=world["env"], capture_output=True, text=True, timeout=120)
    return f"$ wirewatch {' '.join(args)} -> {done.returncode}\n{done.stdout}{done.stderr}"


def _daemon(world, log_format: str) -> str:
    process = subprocess.Popen([WIREWATCH, "-c", str(world["config"]), "--log-format", log_format, "run"],
                               env=world["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(8)
    process.send_signal(signal.SIGTERM)
    output, _ = process.communicate(timeout=60)
    return f"$ wirewatch run\n{output}"


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_no_command_output_log_line_or_alert_shows_a_secret_or_part_of_one(world, log_format):
    outputs = [_run(world, *command, log_format=log_format) for command in (
        ["check"], ["crawl"], ["status"], ["alerts", "list"], ["alerts", "test"])]
    outputs.append(_daemon(world, log_format))
    outputs += [_run(world, *command, log_format=log_format) for command in (
        ["alerts", "list"], ["alerts", "retry", "--dead"], ["status"])]
    bodies = [r.body.decode() for r in world["receiver"].received]
    everything = "\n".join(outputs + bodies)
    assert "failed" in everything and "HTTP 500" in everything and "operational" in everything  # it all ran
    leaks = [secret for secret in _forbidden(world["secrets"]) if secret in everything]
    assert not leaks, [line for line in everything.splitlines() if any(s in line for s in leaks)][:10]
