"""Alert delivery through real local peers: an HTTP receiver (Slack, webhook) and aiosmtpd."""

from __future__ import annotations

import base64
import datetime
import email
import email.policy
import email.utils
import hashlib
import hmac
import json
import ssl
import time
from pathlib import Path

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy import select
from standardwebhooks import Webhook

import wirewatch.alerts.channels
from tests.servers import Answer, Mailbox, Receiver, free_port
from wirewatch.alerts.channel import registered
from wirewatch.alerts.http import retry_after
from wirewatch.alerts.outbox import Dispatcher, backoff, requeue
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.conf.load import parse_config
from wirewatch.crawler.errors import ConfigError
from wirewatch.crawler.records import ArticleItem, Extracted, PageAnalysis
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.ingest import ingest
from wirewatch.crawler.store.schema import Outbox

MATCHER = Matcher([load_watch("nk-russia-aid")])
TITLE = "North Korea sends 200 long-range artillery pieces to Russia"
TEXT = ("South Korea's defence ministry said North Korea has provided around 200 long-range artillery "
        "pieces to Russia. Pyongyang has already sent approximately 11,000 troops to support Russia in "
        "its war against Ukraine, the ministry said, adding that more shells are expected.")


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def make(tmp_path, channels: str, extra: str = "", network: str = "{allow_private: true}"):
    config = parse_config(f"""
storage: sqlite:///{tmp_path / 'alerts.db'}
network: {network}
alerts: {{backoff: 0.2s, backoff_max: 1s}}
channels:
{channels}
{extra}""")
    return config, open_database(config.storage)


def store_match(config, sessions, title: str = TITLE, url: str = "https://news.example/a1",
                text: str = TEXT) -> None:
    item = ArticleItem(source="test-feed", url=url, canonical=url, requested=url, html=b"")
    published = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).isoformat()
    extracted = Extracted(text=text, title=title, published=published, author=None, sitename=None,
                          language="en")
    matches = tuple(r for r in MATCHER.match(title, text) if r.matched)
    result = ingest(sessions, item, PageAnalysis(extracted, matches=matches), Routes.of(config))
    assert result.new and result.alerts == len(config.channels)


def deliver(config, sessions, seconds: float = 5.0) -> None:
    dispatcher = Dispatcher(config, sessions)
    try:
        dispatcher.drain(seconds)
    finally:
        dispatcher.close()


def rows(sessions) -> dict[str, Outbox]:
    with sessions() as session:
        return {row.channel: row for row in session.scalars(select(Outbox))}


def test_slack_message_is_block_kit_with_headline_facts_and_evidence(tmp_path, receiver):
    url = receiver.script("/slack", Answer(200, b"ok"))
    config, sessions = make(tmp_path, f"  - {{type: slack, url: '{url}'}}")
    store_match(config, sessions)

    deliver(config, sessions)

    [request] = receiver.at("/slack")
    message = json.loads(request.body)
    text = json.dumps(message["blocks"], ensure_ascii=False)
    assert "<https://news.example/a1|North Korea sends 200 long-range artillery pieces to Russia>" in text
    assert "test-feed" in text and "nk-russia-aid" in text
    assert "North Korea → Russia: approximately 11,000 troops (deployed)" in text
    assert "&gt; " not in text and '"> ' in text                 # evidence quoted
    assert message["text"].startswith(TITLE)                     # plain-text fallback
    assert rows(sessions)["slack"].status == "delivered"


def test_webhook_retries_500_with_the_same_id_and_a_valid_signature(tmp_path, receiver):
    url = receiver.script("/hook", Answer(500, b"oops"), Answer(500, b"oops"), Answer(204, b""))
    secret = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
    config, sessions = make(tmp_path, f"  - {{type: webhook, url: '{url}', secret: '{secret}'}}")
    store_match(config, sessions)

    deliver(config, sessions, seconds=6)

    attempts = receiver.at("/hook")
    assert len(attempts) == 3
    ids = {a.headers["webhook-id"] for a in attempts}
    assert len(ids) == 1
    for attempt in attempts:
        signed = f"{attempt.headers['webhook-id']}.{attempt.headers['webhook-timestamp']}.".encode() + attempt.body
        expected = base64.b64encode(hmac.new(base64.b64decode(secret[6:]), signed, hashlib.sha256).digest())
        assert attempt.headers["webhook-signature"] == "v1," + expected.decode()
        verified = Webhook(secret).verify(attempt.body, attempt.headers)     # the reference library agrees
        assert verified["id"] == attempt.headers["webhook-id"]
    body = json.loads(attempts[-1].body)
    assert set(body) == {"id", "type", "watch", "score", "article", "facts", "new_facts", "evidence", "story"}
    assert body["id"] == ids.pop() and body["type"] == "wirewatch.alert"
    assert set(body["article"]) == {"url", "title", "published", "source", "language"}
    assert {"supplier", "recipient", "item", "quantity", "quantity_text", "quantity_range", "casualty", "status",
            "sentence"} <= set(body["facts"][0])
    assert body["story"]["first_alert_id"] == body["id"] and body["new_facts"] == []       # a story's first
    row = rows(sessions)["webhook"]
    assert row.status == "delivered" and row.attempts == 3


@pytest.mark.slow
def test_slack_429_waits_retry_after_then_delivers_once(tmp_path, receiver):
    url = receiver.script("/slack429", Answer(429, b"rate_limited", {"Retry-After": "2"}), Answer(200))
    config, sessions = make(tmp_path, f"  - {{type: slack, url: '{url}'}}")
    store_match(config, sessions)

    deliver(config, sessions, seconds=6)

    first, second = receiver.at("/slack429")
    assert second.at - first.at >= 1.9
    assert rows(sessions)["slack"].status == "delivered"


@pytest.mark.parametrize("kind, answer, reason", [
    ("webhook", Answer(410, b"gone"), "HTTP 410"),
    ("slack", Answer(404, b"no_service"), "no_service"),
    ("slack", Answer(410, b"channel_is_archived"), "channel_is_archived"),
    ("webhook", Answer(301, b"", {"Location": "/elsewhere"}), "redirect"),
])
def test_permanent_failures_are_dead_lettered_without_retry(tmp_path, receiver, kind, answer, reason):
    url = receiver.script("/perm", answer)
    config, sessions = make(tmp_path, f"  - {{type: {kind}, url: '{url}'}}")
    store_match(config, sessions)

    deliver(config, sessions, seconds=2)

    row = rows(sessions)[kind]
    assert row.status == "dead" and reason in row.last_error
    assert len(receiver.at("/perm")) == 1 and receiver.at("/elsewhere") == []


def test_redirect_is_not_followed_and_counts_as_failure(tmp_path, receiver):
    url = receiver.script("/moved", Answer(302, b"", {"Location": receiver.url("/target")}))
    config, sessions = make(tmp_path, f"  - {{type: webhook, url: '{url}'}}")
    store_match(config, sessions)

    deliver(config, sessions, seconds=0.5)

    assert receiver.at("/target") == []
    row = rows(sessions)["webhook"]
    assert row.status == "pending" and "redirect" in row.last_error


@pytest.mark.slow
def test_a_hanging_endpoint_times_out_without_holding_back_another_channel(tmp_path, receiver):
    hang = receiver.script("/hang", Answer(200, hang=4))
    fast = receiver.script("/fast", Answer(200))
    config, sessions = make(tmp_path, f"  - {{type: webhook, url: '{hang}', timeout: 1s}}\n"
                                      f"  - {{type: slack, url: '{fast}'}}")
    store_match(config, sessions)
    started = time.monotonic()

    deliver(config, sessions, seconds=0.1)

    assert receiver.at("/fast")[0].at - started < 1.0
    state = rows(sessions)
    assert state["slack"].status == "delivered"
    assert state["webhook"].status == "pending" and "no answer within 1s" in state["webhook"].last_error


@pytest.fixture
def smtp_plain():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def test_email_is_multipart_and_a_crafted_title_adds_no_header(tmp_path, smtp_plain):
    mailbox, port = smtp_plain
    config, sessions = make(tmp_path, f"  - {{type: email, host: 127.0.0.1, port: {port}, security: none, "
                                      "sender: ww@example.org, to: [analyst@example.org]}")
    store_match(config, sessions, title=TITLE + "\r\nBcc: x@y")

    deliver(config, sessions)

    [(sender, recipients, raw)] = mailbox.messages
    assert recipients == ["analyst@example.org"]
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Bcc"] is None and "x@y" not in recipients
    assert msg["Subject"].startswith("[wirewatch] North Korea sends 200") and "\n" not in msg["Subject"]
    text = msg.get_body(("plain",)).get_content()
    html = msg.get_body(("html",)).get_content()
    assert "https://news.example/a1" in text and "North Korea → Russia: approximately 11,000 troops (deployed)" in text
    assert 'href="https://news.example/a1"' in html and "<blockquote>" in html


def test_email_unreachable_server_keeps_the_alert_pending(tmp_path):
    config, sessions = make(tmp_path, "  - {type: email, host: 127.0.0.1, port: 9, security: none, "
                                      "sender: ww@example.org, to: [a@example.org], timeout: 2s}")
    store_match(config, sessions)

    deliver(config, sessions, seconds=0.1)

    row = rows(sessions)["email"]
    assert row.status == "pending" and "unreachable" in row.last_error and "\n" not in row.last_error


class _Auth:
    def __call__(self, server, session, envelope, mechanism, auth_data):
        ok = isinstance(auth_data, LoginPassword) and auth_data.password == b"s3cret-pass"
        return AuthResult(success=ok)


@pytest.fixture
def smtp_starttls(tmp_path):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port(), tls_context=server_context,
                            require_starttls=True, authenticator=_Auth(), auth_require_tls=True)
    controller.start()
    yield mailbox, controller.port, ca_file
    controller.stop()


def test_starttls_is_refused_without_the_ca_and_accepted_with_it(tmp_path, smtp_starttls, monkeypatch):
    mailbox, port, ca_file = smtp_starttls
    monkeypatch.setenv("SMTP_PASSWORD", "s3cret-pass")
    spec = (f"  - {{type: email, host: 127.0.0.1, port: {port}, security: starttls, username: alerts, "
            "password: '${SMTP_PASSWORD}', sender: ww@example.org, to: [a@example.org]%s}")
    config, sessions = make(tmp_path, spec % "")
    store_match(config, sessions)
    deliver(config, sessions, seconds=0.1)
    row = rows(sessions)["email"]
    assert row.status == "dead" and "not trusted" in row.last_error and mailbox.messages == []

    trusted, _ = make(tmp_path, spec % f", ca_file: '{ca_file}'")
    assert requeue(sessions, dead=True) == 1
    deliver(trusted, sessions)
    assert rows(sessions)["email"].status == "delivered" and len(mailbox.messages) == 1
    assert "s3cret-pass" not in json.dumps([r.last_error for r in rows(sessions).values()])


@pytest.mark.slow
def test_email_digest_groups_due_alerts_into_one_message(tmp_path, smtp_plain):
    mailbox, port = smtp_plain
    config, sessions = make(tmp_path, f"  - {{type: email, host: 127.0.0.1, port: {port}, security: none, "
                                      "sender: ww@example.org, to: [a@example.org], digest: 1s}")
    store_match(config, sessions)
    store_match(config, sessions, title="Pyongyang ships more shells to Moscow", url="https://news.example/a2",
                text="Pyongyang has shipped 1.5 million artillery shells to Moscow since August, officials said.")
    deliver(config, sessions, seconds=0.1)
    assert mailbox.messages == []                                # not due yet

    time.sleep(1.1)
    deliver(config, sessions, seconds=0.5)

    [(_, _, raw)] = mailbox.messages
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"].startswith("[wirewatch] 2 alerts")
    assert {r.status for r in rows_all(sessions)} == {"delivered"}


def rows_all(sessions) -> list[Outbox]:
    with sessions() as session:
        return list(session.scalars(select(Outbox)))


def test_webhook_target_on_a_private_address_is_refused_unless_allowed(tmp_path, receiver):
    url = receiver.script("/private", Answer(200))
    config = parse_config(f"""
storage: sqlite:///{tmp_path / 'alerts.db'}
network: {{allow_private: false}}
channels: [{{type: webhook, url: '{url}'}}]""")
    sessions = open_database(config.storage)
    store_match(config, sessions)

    deliver(config, sessions, seconds=0.5)

    row = rows(sessions)["webhook"]
    assert row.status == "dead" and "loopback" in row.last_error
    assert receiver.at("/private") == []


@pytest.mark.slow
def test_slack_sends_at_most_one_message_a_second_per_webhook(tmp_path, receiver):
    url = receiver.script("/paced", Answer(200))
    config, sessions = make(tmp_path, f"  - {{type: slack, url: '{url}'}}")
    store_match(config, sessions)
    store_match(config, sessions, title="Pyongyang ships more shells to Moscow", url="https://news.example/a2",
                text="Pyongyang has shipped 1.5 million artillery shells to Moscow since August, officials said.")
    store_match(config, sessions, title="Russia gives North Korea air defence systems", url="https://news.example/a3",
                text="Russia has delivered Pantsir air defence systems to North Korea, Seoul said on Monday.")

    deliver(config, sessions, seconds=5)

    times = [r.at for r in receiver.at("/paced")]
    assert len(times) == 3
    assert all(b - a >= 0.95 for a, b in zip(times, times[1:]))


@pytest.mark.parametrize("secret, complaint", [
    ("plain-shared-secret-value", "must be a Standard Webhooks secret"),
    ("whsec_not*base64!", "not valid base64"),
    ("whsec_c2hvcnQ=", "too short"),
])
def test_a_webhook_secret_standard_verifiers_would_reject_is_a_config_error(tmp_path, secret, complaint):
    with pytest.raises(ConfigError) as error:
        make(tmp_path, f"  - {{type: webhook, url: 'https://hooks.example/x', secret: '{secret}'}}")
    message = str(error.value)
    assert "channels.0.secret (line" in message and complaint in message
    assert secret not in message and "\n" not in message


def test_backoff_doubles_with_jitter_up_to_the_ceiling_and_retry_after_wins():
    for attempt, top in ((1, 5.0), (2, 10.0), (3, 20.0), (12, 3600.0)):
        delays = [backoff(attempt, base=5.0, ceiling=3600.0) for _ in range(200)]
        assert all(top / 2 <= d <= top for d in delays)
        assert max(delays) - min(delays) > top / 10              # jittered, not lock-step
    assert backoff(7, retry_after=42.0) == 42.0


def test_retry_after_reads_seconds_and_http_dates():
    assert retry_after("120") == 120.0
    future = email.utils.format_datetime(datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=90))
    assert 80 <= retry_after(future) <= 91
    assert retry_after("soon") is None and retry_after(None) is None


def test_every_channel_module_registers_itself_and_the_config_accepts_exactly_those(tmp_path):
    modules = sorted(p.stem for p in Path(wirewatch.alerts.channels.__file__).parent.glob("[!_]*.py"))
    assert sorted(registered()) == modules == ["apprise", "console", "email", "slack", "webhook"]
    with pytest.raises(ConfigError) as error:
        make(tmp_path, "  - {type: pager}")
    assert "unknown channel type (use apprise, console, email, slack, webhook)" in str(error.value)
