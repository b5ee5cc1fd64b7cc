"""Hostile input, round 3: the web view, exports and config hold against what a monitored site or
a bad day sends. Each test is a probe that once got through, run against real local peers."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import feedparser
import pytest
import requests
from lxml import etree

from tests.conftest import crawl_config, rss, write_config
from tests.servers import Answer, Receiver, WebView
from tests.test_alerts import deliver, make, rows, store_match
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page

CONTROL = "\x1b]0;pwned\x07\u202e"
TOKEN = "k" * 40


def _cli(*argv: str, env: dict | None = None, stdin: bytes | None = None, timeout: float = 30):
    return subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", *argv], capture_output=True,
                          input=stdin, timeout=timeout, env={**os.environ, **(env or {})})


def _one_line_error(result) -> str:
    err = result.stderr.decode(errors="replace").strip().splitlines()
    assert result.returncode == 2, (result.returncode, err)
    assert "Traceback" not in "\n".join(err), err
    return err[-1]


# ---- the web view ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def hostile_desk(tmp_path_factory):
    """A database holding matches whose titles a hostile site chose, and a webhook that took them."""
    tmp = tmp_path_factory.mktemp("round3")
    receiver = Receiver()
    hook = receiver.script("/hook", Answer(200))
    config, sessions = make(tmp, f"  - {{type: webhook, url: '{hook}'}}")
    store_match(config, sessions, title=f"=HYPERLINK(\"http://evil.example\",\"open\") North Korea ships {CONTROL}",
                url="https://news.example/formula")
    store_match(config, sessions, title="+cmd|' /C calc'!A0 Pyongyang sends troops", url="https://news.example/plus",
                text="Seoul said North Korea has sent 4,000 more troops to Russia's Kursk region this week.")
    store_match(config, sessions, title="@SUM(1+1) shells for Moscow", url="https://news.example/at",
                text="Russia has received 30 North Korean rocket launchers by rail, Ukrainian intelligence said.")
    deliver(config, sessions)
    path = tmp / "wirewatch.yaml"
    path.write_text(f"storage: sqlite:///{tmp / 'alerts.db'}\nweb: {{allowed_hosts: [desk.example.org]}}\n")
    yield {"config": path, "sessions": sessions}
    receiver.close()


@pytest.fixture(scope="module")
def view(hostile_desk):
    server = WebView(hostile_desk["config"])
    yield server
    server.stop()


@pytest.mark.slow
def test_the_view_refuses_a_host_that_is_not_its_own_so_dns_rebinding_reads_nothing(view):
    for path in ("/", "/matches", "/api/matches", "/metrics", "/alerts.atom", "/healthz"):
        foreign = requests.get(view.base + path, headers={"Host": "evil.example"}, timeout=10)
        assert foreign.status_code == 421, path
        assert "North Korea" not in foreign.text and "wirewatch_" not in foreign.text
    for host in (f"127.0.0.1:{view.port}", f"localhost:{view.port}", "desk.example.org", "DESK.example.org:443"):
        assert requests.get(view.base + "/", headers={"Host": host}, timeout=10).status_code == 200, host
    assert requests.get(view.base + "/", headers={"Host": "desk.example.org.evil.example"},
                        timeout=10).status_code == 421


@pytest.mark.slow
def test_control_characters_cannot_break_the_atom_feed_or_reach_a_page_raw(view, hostile_desk):
    body = requests.get(view.base + "/alerts.atom", timeout=10)
    assert body.status_code == 200
    root = etree.fromstring(body.content)                     # a strict XML parser takes it
    titles = [e.text for e in root.iter("{http://www.w3.org/2005/Atom}title")]
    assert any("North Korea ships" in t for t in titles)
    assert not any(c in "".join(titles) for c in "\x1b\x07\u202e")
    feed = feedparser.parse(body.content)
    assert not feed.bozo and len(feed.entries) == 3
    assert all(len([link for link in e.links if link.rel == "alternate"]) == 1 for e in feed.entries)
    for path in ("/", "/matches", "/articles/1"):
        page = requests.get(view.base + path, timeout=10).text
        assert not any(c in page for c in "\x1b\x07\u202e"), path
        assert "\\x1b]0;pwned\\x07\\u202e" in page, path


@pytest.mark.slow
def test_absurd_numbers_in_the_view_are_400_or_404_never_500(view):
    for path, status in (("/articles/99999999999999999999", 404), ("/stories/99999999999999999999", 404),
                         ("/matches?since=1000000d", 400), ("/matches?story=100000000000000000000", 400),
                         ("/matches?since=nan", 400), ("/matches?limit=ten", 400), ("/articles/0", 404)):
        assert requests.get(view.base + path, timeout=10).status_code == status, path


@pytest.mark.slow
def test_a_token_is_long_beyond_loopback_and_the_cookie_never_holds_it(hostile_desk, tmp_path):
    short = tmp_path / "short.yaml"
    short.write_text(hostile_desk["config"].read_text().replace(
        "web: {allowed_hosts: [desk.example.org]}", "web: {listen: '0.0.0.0:8091', token: a}"))
    assert "at least 32 characters" in _one_line_error(_cli("-c", str(short), "check"))
    guarded = tmp_path / "guarded.yaml"
    guarded.write_text(hostile_desk["config"].read_text().replace(
        "web: {allowed_hosts: [desk.example.org]}", f"web: {{token: {TOKEN}, secure_cookies: true}}"))
    server = WebView(guarded)
    try:
        browser = requests.Session()
        first = browser.get(server.base + f"/matches?token={TOKEN}&since=30d", timeout=10, allow_redirects=False)
        assert first.status_code == 303 and first.headers["Location"] == "/matches?since=30d"
        cookie = first.headers["Set-Cookie"]
        assert TOKEN not in cookie and "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
        session_id = cookie.split("=", 1)[1].split(";", 1)[0]
        assert requests.get(server.base + "/", cookies={"wirewatch_token": session_id}, timeout=10).status_code == 200
        assert requests.get(server.base + "/", cookies={"wirewatch_token": TOKEN}, timeout=10).status_code == 401
        sneaky = requests.get(server.base + f"/%09/evil.example?token={TOKEN}", timeout=10, allow_redirects=False)
        assert sneaky.status_code == 303 and sneaky.headers["Location"].startswith("/")
        assert not sneaky.headers["Location"].startswith("//") and "\t" not in sneaky.headers["Location"]
    finally:
        assert TOKEN not in server.stop()


# ---- exports -----------------------------------------------------------------------------------

def test_csv_cells_a_spreadsheet_would_evaluate_start_with_an_apostrophe(hostile_desk, capsys):
    for command in ("matches", "stories"):
        capsys.readouterr()
        assert main(["-c", str(hostile_desk["config"]), command, "--since", "30d", "--format", "csv"]) == 0
        table = list(csv.reader(io.StringIO(capsys.readouterr().out)))
        cells = [cell for row in table[1:] for cell in row]
        assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")], command
        assert any(c.startswith("'=HYPERLINK(") for c in cells) or command == "stories"
    assert any(c.startswith("'+cmd|") for c in cells) or any(c.startswith("'@SUM") for c in cells)


# ---- apprise -----------------------------------------------------------------------------------

def test_apprise_obeys_the_address_guard_and_gives_up_on_a_404(tmp_path):
    receiver = Receiver()
    try:
        receiver.script("/x", Answer(200))
        urls = f"['json://127.0.0.1:{receiver.port}/x', 'form://localhost:{receiver.port}/x']"
        config, sessions = make(tmp_path, f"  - {{type: apprise, urls: {urls}}}", network="{allow_private: false}")
        store_match(config, sessions)
        deliver(config, sessions)
        row = rows(sessions)["apprise"]
        assert row.status == "dead" and "loopback" in row.last_error
        assert receiver.at("/x") == []                     # nothing reached the private address
        (tmp_path / "alerts.db").unlink()
        receiver.script("/gone", Answer(404, b"no such hook"))
        config, sessions = make(tmp_path, f"  - {{type: apprise, urls: ['json://127.0.0.1:{receiver.port}/gone']}}")
        store_match(config, sessions)
        deliver(config, sessions, seconds=1)
        row = rows(sessions)["apprise"]
        assert (row.status, row.attempts) == ("dead", 1) and "HTTP 404" in row.last_error
    finally:
        receiver.close()


@pytest.mark.slow
def test_an_apprise_url_it_cannot_read_is_never_logged_in_the_clear(tmp_path):
    path = tmp_path / "wirewatch.yaml"
    path.write_text("channels: [{type: apprise, urls: ['${APPRISE_URL}']}]\n")
    result = _cli("-c", str(path), "check", env={"APPRISE_URL": "nosuchscheme://tok3n-Secret-9f8e7d/room"})
    assert result.returncode == 2 and b"tok3n-Secret-9f8e7d" not in result.stderr + result.stdout


# ---- secrets -----------------------------------------------------------------------------------

@pytest.mark.slow
def test_no_config_error_shows_a_secret_or_a_secret_file(tmp_path):
    path = tmp_path / "wirewatch.yaml"
    path.write_text("channels: [{type: slack, url: '${SLACK_WEBHOOK_URL}'}]\n")
    line = _one_line_error(_cli("-c", str(path), "check",
                                env={"SLACK_WEBHOOK_URL": "hooks.slack.com/services/T0AB12/B0CD34/sEcReTtOkEn99"}))
    assert "sEcReTtOkEn99" not in line and "T0AB12" not in line and "http and https" in line
    path.write_text("channels: [{type: webhook, url_file: /etc/passwd}]\n")
    line = _one_line_error(_cli("-c", str(path), "check"))
    assert "root:x:" not in line and "nologin" not in line and "/bin/" not in line and "url" in line


@pytest.mark.slow
def test_a_password_in_a_source_url_is_basic_auth_and_shown_nowhere(tmp_path):
    password = "pa55-w0rd-Never-Shown"
    with LocalSite() as site:
        def guarded(handler):
            import base64
            expected = "Basic " + base64.b64encode(f"editor:{password}".encode()).decode()
            if handler.headers.get("Authorization") != expected:
                return Page(b"login first", "text/plain", status=401)
            return Page(rss(site.base, ["/a.html"]), "application/rss+xml")
        site.pages["/private/feed.xml"] = guarded
        site.pages["/a.html"] = Page(b"<html><body><article><h1>Kim visits a farm</h1><p>" + b"A long text. " * 80
                                     + b"</p></article></body></html>")
        feed = site.url("/private/feed.xml").replace("http://", f"http://editor:{password}@")
        broken = site.url("/missing.xml").replace("http://", f"http://editor:{password}@")
        config = write_config(tmp_path, [{"name": "members", "type": "feed", "url": feed},
                                         {"name": "broken", "type": "feed", "url": broken}])
        report, _ = crawl_config(config)
        status = {s.name: s.status for s in report.sources}
        assert status == {"members": "ok", "broken": "failed"}
        assert any(path == "/a.html" for path in site.paths_requested())
        outputs = [_cli("-c", str(config), command) for command in ("check", "status")]
        outputs.append(_cli("-c", str(config), "status", "--json"))
        for result in outputs:
            assert password.encode() not in result.stdout + result.stderr
        assert b"editor:***@" in outputs[0].stdout or b"/private/feed.xml" in outputs[0].stdout


# ---- config limits -----------------------------------------------------------------------------

@pytest.mark.parametrize("every", ["99999999999d", ".nan", "1" * 400, "0.2s", ".inf"])
def test_an_absurd_interval_is_refused_when_the_config_loads(tmp_path, every, capsys):
    path = write_config(tmp_path, [])
    path.write_text(path.read_text().replace("sources: []",
                                             f"sources: [{{name: a, type: feed, url: 'http://a.example/f', every: {every}}}]"))
    assert main(["-c", str(path), "check"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "every" in err[0] and ("duration" in err[0]), err


@pytest.mark.slow
def test_reads_of_includes_watches_and_secret_files_are_bounded_and_never_hang(tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    big = tmp_path / "big.yaml"
    big.write_bytes(b"# " + b"x" * (33 * 1024 * 1024))             # past the 32 MB a source list may hold
    os.symlink("/dev/zero", tmp_path / "zero.yaml")
    os.symlink(fifo, tmp_path / "fifo.yaml")
    cases = {f"sources: [{{include: {tmp_path / 'zero.yaml'}}}]": "not a regular file",
             f"sources: [{{include: {big}}}]": "larger than",
             f"watches: [{{include: {tmp_path / 'zero.yaml'}}}]": "not a regular file",
             f"watches: [{{include: {tmp_path / 'fifo.yaml'}}}]": "not a regular file",
             "channels: [{type: webhook, url_file: /dev/zero}]": "not a regular file",
             f"channels: [{{type: webhook, url_file: {fifo}}}]": "not a regular file",
             f"web: {{token_file: {fifo}}}": "not a regular file"}
    path = tmp_path / "wirewatch.yaml"
    for text, expected in cases.items():
        path.write_text(text + "\n")
        started = time.monotonic()
        line = _one_line_error(_cli("-c", str(path), "check", timeout=20))
        assert expected in line and time.monotonic() - started < 15, (text, line)


# ---- one line, exit 2 --------------------------------------------------------------------------

@pytest.fixture
def stored(tmp_path):
    database = tmp_path / "desk.db"
    assert _cli("status", env={"WIREWATCH_STORAGE": f"sqlite:///{database}"}).returncode == 0
    return {"WIREWATCH_STORAGE": f"sqlite:///{database}"}


@pytest.mark.slow
@pytest.mark.parametrize("argv", [["show", "99999999999999999999"], ["show", "²"], ["matches", "--since", "1000000d"],
                                  ["matches", "--story", "1" + "0" * 20], ["unmute", "1" + "0" * 20],
                                  ["mute", "--story", "1", "--for", "3652058d"], ["stories", "--since", "nand"]])
def test_absurd_arguments_are_one_usage_error(stored, argv):
    result = _cli(*argv, env=stored)
    assert result.returncode == 2 and b"Traceback" not in result.stderr
    assert result.stderr.decode().strip().splitlines()[-1].startswith(f"wirewatch {argv[0]}: error:")


@pytest.mark.slow
@pytest.mark.parametrize("storage, expected", [
    ("sqlite+nosuchdriver:///x.db", "not a usable database URL"), ("mysql://u@h/db", "needs its database driver"),
    ("sqlite:////proc/nope/x.db", "cannot create its folder"), ("sqlite:////tmp/a%00b.db", "embedded null"),
])
def test_a_storage_url_that_cannot_work_is_one_line(storage, expected):
    for command in (["status"], ["matches"], ["db", "current"], ["rescan"]):
        assert expected in _one_line_error(_cli(*command, env={"WIREWATCH_STORAGE": storage}))


@pytest.mark.slow
def test_a_file_that_is_not_a_database_is_one_line_for_every_command(tmp_path):
    broken = tmp_path / "broken.db"
    broken.write_bytes(b"SQLite format 3\x00" + os.urandom(4096))
    for database in (tmp_path / "text.db", broken):
        if database.suffix == ".db" and not database.exists():
            database.write_text("just some notes, not a database\n")
        env = {"WIREWATCH_STORAGE": f"sqlite:///{database}"}
        for command in (["status"], ["matches"], ["rescan"], ["web", "--listen", "127.0.0.1:1"], ["db", "current"],
                        ["db", "upgrade"]):
            line = _one_line_error(_cli(*command, env=env))
            assert "database" in line and str(database) in line, (command, line)


@pytest.mark.slow
def test_a_database_from_a_newer_release_is_refused_by_every_command(stored):
    import sqlite3
    path = stored["WIREWATCH_STORAGE"].removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE alembic_version SET version_num = '0099'")
    for command in (["status"], ["db", "upgrade"], ["matches"], ["crawl"]):
        line = _one_line_error(_cli(*command, env=stored))
        assert "made by a newer wirewatch (schema 0099)" in line and "do not downgrade" in line, line
    assert b"0099" in _cli("db", "current", env=stored).stdout


@pytest.mark.slow
def test_a_yaml_file_nested_past_reason_and_a_watch_not_in_utf8_are_one_line(tmp_path):
    path = tmp_path / "wirewatch.yaml"
    path.write_text("a: " + "[" * 3000 + "]" * 3000 + "\n")
    assert "nested too deeply" in _one_line_error(_cli("-c", str(path), "check"))
    watch = tmp_path / "latin.yaml"
    watch.write_bytes("name: caf\xe9\n".encode("latin-1"))
    path.write_text(f"watches: [{{include: {watch}}}]\n")
    assert "not UTF-8" in _one_line_error(_cli("-c", str(path), "check"))


@pytest.mark.slow
def test_classify_answers_a_line_with_a_lone_surrogate_and_every_line_after_it():
    lines = [b'{"id": "\\udcff", "text": "North Korea sent 3,000 troops to Russia \\ud800."}',
             b'{"id": 2, "text": "Pyongyang has shipped shells to Moscow."}']
    result = _cli("classify", stdin=b"\n".join(lines) + b"\n")
    out = [json.loads(line) for line in result.stdout.decode().splitlines()]
    assert result.returncode == 0 and [o["id"] for o in out] == ["\udcff", 2]
    assert out[0]["matched"] is True and out[1]["matched"] is True


# ---- the database watched ----------------------------------------------------------------------

@pytest.mark.slow
def test_a_daemon_whose_database_file_is_deleted_says_so_alerts_and_stops(tmp_path):
    receiver = Receiver()
    try:
        hook = receiver.script("/ops", Answer(200))
        config = write_config(tmp_path, [], channels=[{"type": "webhook", "url": hook}],
                              daemon={"quiet_after": None})
        daemon = subprocess.Popen([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(config), "run"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        database = tmp_path / "wirewatch.db"
        deadline = time.monotonic() + 30
        while not (database.with_name("wirewatch.db.daemon.lock").exists() and database.exists()):
            assert time.monotonic() < deadline and daemon.poll() is None
            time.sleep(0.2)
        time.sleep(1.5)
        database.unlink()
        try:
            _, err = daemon.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            daemon.send_signal(signal.SIGKILL)
            daemon.communicate()
            raise
        err, code = err.decode(), daemon.returncode
        assert code == 1 and "was deleted" in err and "Traceback" not in err
        [alert] = receiver.at("/ops")
        body = json.loads(alert.body)
        assert body["type"] == "wirewatch.operational" and "was deleted" in body["message"]
    finally:
        receiver.close()


def test_the_lock_follows_the_path_not_the_inode(tmp_path):
    from wirewatch.crawler.service.lock import DaemonLock
    from wirewatch.crawler.store.database import open_database
    url = f"sqlite:///{tmp_path / 'w.db'}"
    open_database(url)
    lock = DaemonLock(url)
    lock.acquire()
    try:
        assert lock.lost() is None
        Path(lock.lock_path()).unlink()
        assert "lock file" in lock.lost()
    finally:
        lock.release()
    lock = DaemonLock(url)
    lock.acquire()
    try:
        (tmp_path / "w.db").rename(tmp_path / "moved.db")
        (tmp_path / "w.db").write_bytes((tmp_path / "moved.db").read_bytes())
        assert "replaced" in lock.lost()
    finally:
        lock.release()
