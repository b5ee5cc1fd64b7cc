"""Hostile input holds: each test reproduces a probe that once got through, against real local
peers (an HTTP site, a webhook receiver, a DNS server whose answers the test scripts)."""

from __future__ import annotations

import io
import ipaddress
import json
import os
import re
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import trustme
from sqlalchemy import select

from tests.conftest import crawl_config, rss, write_config
from tests.dns_server import LocalDNS
from tests.servers import Answer, Receiver
from tests.test_alerts import deliver, make, rows, store_match
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.netguard import AddressPolicy
from wirewatch.crawler.records import EntryHints
from wirewatch.crawler.store.schema import SeenUrl


@pytest.fixture
def dns():
    server = LocalDNS()
    yield server
    server.close()


@pytest.mark.parametrize("address, refused", [
    ("2002:7f00:1::1", "IPv6 form of 127.0.0.1, a loopback address"),          # 6to4
    ("2002:c0a8:101::5", "IPv6 form of 192.168.1.1, a private address"),
    ("64:ff9b::a9fe:a9fe", "IPv6 form of 169.254.169.254, a cloud metadata address"),   # NAT64
    ("2001:0:4136:e378:8000:63bf:80ff:fffe", "IPv6 form of 127.0.0.1"),        # Teredo client
    ("::7f00:1", "IPv6 form of 127.0.0.1"),                                     # IPv4-compatible
    ("::ffff:10.0.0.7", "a private address"),                                   # IPv4-mapped
    ("fd00:ec2::254", "a cloud metadata address"),
    ("93.184.216.34", None), ("2606:4700::1111", None), ("2002:5db8:d822::1", None),
])
def test_ipv6_ranges_that_embed_a_private_ipv4_are_refused(address, refused):
    reason = AddressPolicy().refusal(ipaddress.ip_address(address))
    assert (reason is None) if refused is None else (refused in reason)


def _rebinding_network(dns: LocalDNS) -> dict:
    # 127.0.0.2 stands for "a public address" (allowed); nothing listens there, so a connection
    # to it fails on loopback. The servers listen on 127.0.0.1, which stays refused.
    return {"allow_private": False, "allow": ["127.0.0.2/32"], "nameservers": [dns.address]}


@pytest.mark.slow
def test_a_name_rebound_to_loopback_between_lookups_never_reaches_it_when_crawling(dns, tmp_path):
    with LocalSite() as site:
        site.pages["/feed.xml"] = Page(rss(site.base, ["/a.html"]), "application/rss+xml")
        port = int(site.base.rsplit(':', 1)[1])
        public = LocalSite(host="127.0.0.2").start(port)            # the "public" address answers robots.txt
        public.pages["/robots.txt"] = Page(b"User-agent: *\nAllow: /\n", "text/plain", headers={"Connection": "close"})
        dns.script("news.rebind.test", "127.0.0.2", "127.0.0.1")      # public first, then loopback
        url = f"http://news.rebind.test:{port}/feed.xml"
        config = write_config(tmp_path, [{"name": "rebind", "type": "feed", "url": url}],
                              network=_rebinding_network(dns))
        try:
            report, _ = crawl_config(config)
        finally:
            public.stop()
        assert public.paths_requested() == ["/robots.txt"]
        assert site.paths_requested() == []                        # loopback never reached
        assert not report.ok and len(dns.queries) >= 2
        assert "news.rebind.test resolves to 127.0.0.1, a loopback address" in report.sources[0].errors[0]


def test_a_webhook_host_rebound_to_loopback_never_receives_the_post(dns, tmp_path):
    receiver = Receiver()
    try:
        receiver.script("/hook", Answer(200))
        dns.script("hook.rebind.test", "127.0.0.2", "127.0.0.1")
        config, sessions = make(tmp_path, f"  - {{type: webhook, url: 'http://hook.rebind.test:{receiver.port}/hook'}}",
                                network=f"{{allow: [127.0.0.2/32], nameservers: ['{dns.address}']}}")
        store_match(config, sessions)
        deliver(config, sessions, seconds=3)
        assert receiver.at("/hook") == []
        [row] = rows(sessions).values()
        assert row.status == "dead" and "resolves to 127.0.0.1, a loopback address" in row.last_error
    finally:
        receiver.close()


def test_a_guarded_webhook_keeps_its_host_header_and_tls_server_name(dns, tmp_path, monkeypatch):
    authority = trustme.CA()
    cert = authority.issue_cert("hook.tls.test")
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(context)
    receiver = Receiver(tls=context)
    try:
        ca_file = tmp_path / "ca.pem"
        authority.cert_pem.write_to_path(str(ca_file))
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca_file))
        receiver.script("/hook", Answer(204, b""))
        dns.script("hook.tls.test", "127.0.0.1")
        url = f"https://hook.tls.test:{receiver.port}/hook"
        config, sessions = make(tmp_path, f"  - {{type: webhook, url: '{url}'}}",
                                network=f"{{allow: [127.0.0.1/32], nameservers: ['{dns.address}']}}")
        store_match(config, sessions)
        deliver(config, sessions, seconds=3)
        [post] = receiver.at("/hook")
        assert post.headers["Host"] == f"hook.tls.test:{receiver.port}"    # certificate matched the name
        assert {r.status for r in rows(sessions).values()} == {"delivered"}
    finally:
        receiver.close()


@pytest.mark.slow
def test_an_ipv6_literal_source_is_fetched_when_private_addresses_are_allowed(tmp_path, corpus):
    with LocalSite(host="::1") as site:
        site.pages["/v6/a.html"] = Page(corpus.html(corpus.ids[0]))
        site.pages["/feed.xml"] = Page(rss(site.base, ["/v6/a.html"]), "application/rss+xml")
        config = write_config(tmp_path, [{"name": "v6", "type": "feed", "url": site.url("/feed.xml")}])
        report, _ = crawl_config(config)
        assert report.ok and report.sources[0].counts.new == 1, report.sources[0].errors
        closed = write_config(tmp_path / "closed" if (tmp_path / "closed").mkdir() is None else tmp_path,
                              [{"name": "v6", "type": "feed", "url": site.url("/feed.xml")}],
                              network={"allow_private": False})
        refused, _ = crawl_config(closed)
        assert "refused http://[::1]" in refused.sources[0].errors[0] and "loopback" in refused.sources[0].errors[0]


def poison_html(size: int) -> bytes:
    """An article page under the size cap made only of matching sentences with distinct figures."""
    sentences = ["Pyongyang has sent {n} troops to Russia, officials said.",
                 "Around {n} North Korean soldiers have been killed in Kursk.",
                 "North Korea supplied {n} artillery shells to Moscow."]
    paragraphs, total, n = [], 0, 0
    while total < size:
        paragraph = " ".join(sentences[(n + i) % 3].format(n=1000 + n + i) for i in range(3))
        paragraphs.append(f"<p>{paragraph}</p>")
        total += len(paragraph) + 7
        n += 3
    return (f"<html><head><title>Poison</title></head><body><article><h1>North Korea sends troops</h1>"
            f"{''.join(paragraphs)}</article></body></html>").encode()


def test_the_matcher_reads_at_most_max_text_and_a_slow_page_is_skipped_with_its_reason():
    from wirewatch.crawler.analysis import pool
    from wirewatch.crawler.conf.sections import Analysis
    page = poison_html(400_000)
    pool._init(["nk-russia-aid"], Analysis(max_text=50_000, page_timeout=60))
    capped = pool.analyse_page(page, "https://news.example/poison", EntryHints())
    assert capped.matches and capped.analysed_chars == 50_000 < len(capped.extracted.text)
    pool._init(["nk-russia-aid"], Analysis(max_text=10_000_000, page_timeout=0.2))
    slow = pool.analyse_page(page, "https://news.example/poison", EntryHints())
    assert slow.extracted is None and "analysis took longer than 0.2s" in slow.skipped


@pytest.mark.slow
def test_a_poison_page_is_skipped_once_and_never_fetched_again(tmp_path, corpus):
    with LocalSite() as site:
        site.pages["/p/poison.html"] = Page(poison_html(6_000_000))
        site.pages["/p/normal.html"] = Page(corpus.html(corpus.ids[1]))
        site.pages["/feed.xml"] = Page(rss(site.base, ["/p/poison.html", "/p/normal.html"]), "application/rss+xml")
        config = write_config(tmp_path, [{"name": "p", "type": "feed", "url": site.url("/feed.xml")}],
                              analysis={"page_timeout": "2s"})
        report, sessions = crawl_config(config)
        counts = report.sources[0].counts
        assert report.ok and (counts.new, counts.skipped) == (1, 1)
        with sessions() as session:
            [seen] = session.scalars(select(SeenUrl))
        assert seen.canonical_url.endswith("/p/poison.html") and "took longer than 2s" in seen.reason
        site.clear_log()
        again, _ = crawl_config(config)
        assert not [p for p in site.paths_requested() if p.startswith("/p/")] and again.ok


@pytest.mark.slow
def test_a_sitemap_index_that_fans_out_is_fetched_once_per_document_up_to_the_cap(tmp_path):
    with LocalSite() as site:
        children = "".join(f"<sitemap><loc>{site.base}/sm/{i}.xml</loc></sitemap>" for i in range(50_000))
        index = ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                 + f"<sitemap><loc>{site.base}/index.xml</loc></sitemap>" * 20 + children + "</sitemapindex>")
        site.pages["/index.xml"] = Page(index.encode(), "application/xml")
        empty = Page(b'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                     + f"<sitemap><loc>{site.base}/index.xml</loc></sitemap>".encode() + b"</sitemapindex>",
                     "application/xml")
        site.pages.update({f"/sm/{i}.xml": empty for i in range(200)})
        config = write_config(tmp_path, [{"name": "fan", "type": "sitemap", "url": site.url("/index.xml"),
                                          "max_depth": 2, "max_sitemaps": 60}])
        report, _ = crawl_config(config)
        fetched = [p for p in site.paths_requested() if p.endswith(".xml")]
        assert len(fetched) == len(set(fetched)) == 60            # each once, and no more than the cap
        assert report.ok and "sitemap cap reached: 60 documents" in report.sources[0].errors[0]


HOSTILE_TITLE = "North Korea sends troops to Russia <!channel> <http://evil.example|click here>"


def test_a_hostile_title_and_url_cannot_inject_slack_markup(tmp_path):
    receiver = Receiver()
    try:
        url = receiver.script("/slack", Answer(200, b"ok"))
        config, sessions = make(tmp_path, f"  - {{type: slack, url: '{url}'}}")
        store_match(config, sessions, title=HOSTILE_TITLE, url="https://news.example/a|b>c <!here>")
        deliver(config, sessions)
        [request] = receiver.at("/slack")
        message = json.loads(request.body)
        everything = message["text"] + json.dumps(message["blocks"], ensure_ascii=False)
        for markup in ("<!channel>", "<http://evil", "<!here>"):
            assert markup not in everything
        assert "&lt;!channel&gt;" in message["text"]                  # the fallback is escaped too
        headline = message["blocks"][0]["text"]["text"]
        assert headline.startswith("*<https://news.example/a%7Cb%3Ec%20%3C!here%3E|")
        assert headline.count("<") == 1 and headline.count(">") == 1 and headline.endswith(">*")
    finally:
        receiver.close()


def test_control_characters_from_a_feed_are_made_visible_on_the_terminal(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")              # a wide terminal: the whole title fits its column
    title = "Breaking\x1b]0;pwned\x07\x1b[2J\rfake line\nsecond\u202eevil"
    config, sessions = make(tmp_path, "  - {type: console}")
    store_match(config, sessions, title=title)
    path = tmp_path / "wirewatch.yaml"
    path.write_text(f"storage: sqlite:///{tmp_path / 'alerts.db'}\nchannels: [{{type: console}}]\n")
    assert main(["-c", str(path), "alerts", "list"]) == 0
    deliver(config, sessions)
    out = capsys.readouterr().out
    assert not re.search(r"[\x00-\x08\x0b-\x1f\x7f\u202e]", out)       # only newlines stay raw
    assert "Breaking\\x1b]0;pwned\\x07\\x1b[2J\\x0dfake line\\x0asecond\\u202eevil" in out


def test_classify_answers_every_bad_line_with_an_error_line_and_goes_on(monkeypatch, capsys):
    lines = [b'{"id": NaN, "text": "x"}', b"[" * 200_000 + b"]" * 200_000, b"\xff\xfe not utf-8",
             b'{"id": {"deep": 1}, "text": "x"}',
             b'{"id": "ok", "title": "North Korea sends troops", "text": "Pyongyang sent 1,000 troops to Russia."}']
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(b"\n".join(lines) + b"\n"), encoding="ascii"))
    assert main(["classify"]) == 0
    out = [json.loads(line, parse_constant=lambda name: pytest.fail(f"{name} in output"))
           for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == [None, None, None, None, "ok"]
    assert ["NaN", "nested too deeply", "not UTF-8", "'id' must be"] == [
        next(k for k in ("NaN", "nested too deeply", "not UTF-8", "'id' must be") if k in o["error"]) for o in out[:4]]
    assert out[4]["matched"] is True


def test_config_files_that_would_crash_or_hang_are_one_line_errors(tmp_path, capsys):
    path = tmp_path / "wirewatch.yaml"
    cases = {
        "latin-1 text": ("storage: sqlite:///x.db\n# caf\xe9\n".encode("latin-1"), "line 2): not UTF-8 text"),
        "not a URL": (b"storage: notaurl\n", "storage (line 1): not a database URL"),
        "duplicate key": (b"storage: sqlite:///a.db\nnetwork: {}\nstorage: sqlite:///b.db\n",
                          "storage (line 3): duplicate key, first given on line 1"),
        "alias bomb": (b"a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
                       b"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]\nd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
                       b"e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]\nf: [*e, *e, *e, *e, *e, *e, *e, *e, *e]\n",
                       "once YAML aliases are expanded"),
        "unreachable PostgreSQL": (b"storage: postgresql+psycopg://wirewatch:pw-not-shown@127.0.0.1:1/wirewatch\n",
                                   "cannot open the database postgresql+psycopg://wirewatch:***@127.0.0.1:1/wirewatch"),
    }
    for name, (content, expected) in cases.items():
        path.write_bytes(content)
        code = main(["-c", str(path), "status"])
        err = capsys.readouterr().err.strip().splitlines()
        assert (code, len(err)) == (2, 1), (name, err)
        assert expected in err[0] and "Traceback" not in err[0] and "pw-not-shown" not in err[0], (name, err)


@pytest.mark.slow
def test_a_stray_module_in_the_working_directory_is_never_imported_by_a_crawl(tmp_path, corpus):
    marker = tmp_path / "stray-module-ran"
    for name in ("xml", "scrapy", "lxml", "wirewatch"):
        (tmp_path / f"{name}.py").write_text(f"open({str(marker)!r}, 'a').write('{name}\\n')\n")
    with LocalSite() as site:
        site.pages["/s/a.html"] = Page(corpus.html(corpus.ids[2]))
        site.pages["/feed.xml"] = Page(rss(site.base, ["/s/a.html"]), "application/rss+xml")
        config = write_config(tmp_path, [{"name": "s", "type": "feed", "url": site.url("/feed.xml")}])
        wirewatch = Path(sys.executable).with_name("wirewatch")
        done = subprocess.run([str(wirewatch), "-c", str(config), "crawl"], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONSAFEPATH": ""})
    assert done.returncode == 0 and "new=1" in done.stdout, done.stderr
    assert not marker.exists(), marker.read_text()


def test_every_redirect_hop_is_checked_against_private_addresses():
    from scrapy import Request
    from scrapy.exceptions import IgnoreRequest

    from wirewatch.crawler.crawl.middlewares import AddressGuardMiddleware
    from wirewatch.crawler.netguard import AddressPolicy

    guard = AddressGuardMiddleware(AddressPolicy(allow_private=False))
    for url in ("http://10.1.2.3/next", "http://10.1.2.3/other", "http://169.254.169.254/latest/meta-data/",
                "http://[::ffff:127.0.0.1]/x", "ftp://example.org/x"):
        with pytest.raises(IgnoreRequest, match="refused") as refused:
            guard.process_request(Request(url, meta={"redirect_times": 1}))
        assert url in str(refused.value)                       # each refusal names its own URL
    assert AddressGuardMiddleware(AddressPolicy(allow_private=True)).process_request(
        Request("http://10.1.2.3/")) is None


def test_a_feed_body_that_looks_like_a_path_is_never_opened_as_a_file(tmp_path):
    from wirewatch.spiders.documents import read_feed
    local = tmp_path / "local.xml"
    local.write_bytes(rss("https://x.example", ["/leaked.html"]))
    document = read_feed(str(local).encode(), "https://news.example/feed")
    assert document.entries == [] and document.problem


def test_negation_does_not_reach_across_an_attribution_clause():
    from wirewatch.crawler.analysis.matching import Matcher, load_watch
    matcher = Matcher([load_watch("nk-russia-aid")])
    for text in ("North Korea has shipped more than 1 million artillery shells to Russia, a South Korean "
                 "official who was not authorized to speak publicly said.",
                 "Pyongyang has sent 11,000 troops to Russia, according to officials who did not want to be named.",
                 "North Korea has supplied missiles to Russia, though Pyongyang and Moscow have never acknowledged it."):
        assert matcher.match("", text)[0].matched, text
    assert not matcher.match("", "The sale of S-400 systems to North Korea by Russia was not on the agenda, "
                                 "officials said.")[0].matched
