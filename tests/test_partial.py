"""A partly broken source is still a source: a sitemap index with dead children (a 404, a
redirect to a 404, robots.txt listed as a sitemap) succeeds with warnings, completes its baseline,
and alerts a fresh report on its next crawl; a child that keeps failing is reported once."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import select

from tests.conftest import crawl_config, write_config
from tests.servers import Answer, Receiver
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite, Page
from wirewatch.crawler.demo.site import build_site
from wirewatch.crawler.store.schema import RunSource, SourceState

pytestmark = pytest.mark.slow
NOW = dt.datetime.now(dt.timezone.utc)


def _article(slug: str, title: str, text: str, hours: float) -> dict:
    return {"slug": slug, "title": title, "author": "Desk", "paragraphs": [text, "The ministry gave no further detail "
                                                                           "on the timing or the route taken."],
            "date": (NOW - dt.timedelta(hours=hours)).isoformat(timespec="seconds")}


OLD = [_article(f"farm-{i}", f"Harvest report {i}", "Farmers in the south reported a good rice harvest this "
                f"autumn, the agriculture ministry said in its weekly bulletin number {i}.", 30 + i) for i in range(4)]
FRESH = _article("shells-fresh", "North Korea ships 20,000 more shells to Russia",
                 "North Korea has shipped about 20,000 more artillery shells to Russia by rail this week, "
                 "South Korea's defence ministry said on Thursday.", 1)


def _urlset(base: str, slugs: list[str]) -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<url><loc>{base}/{slug}.html</loc></url>" for slug in slugs) + "</urlset>").encode()


def _index(base: str, paths: list[str]) -> bytes:
    return ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{base}{p}</loc></sitemap>" for p in paths) + "</sitemapindex>").encode()


def _serve(site: LocalSite, articles: list[dict]) -> None:
    site.pages.update({k: v for k, v in build_site(articles, site.base).items() if k.endswith(".html")})
    base = site.base
    site.pages["/sitemap_index.xml"] = Page(_index(base, ["/sm/2026-a.xml", "/sm/2026-b.xml", "/sm/2026-c.xml",
                                                          "/sm/2019.xml", "/sm/moved.xml", "/robots.txt"]),
                                            "application/xml")
    slugs = [a["slug"] for a in articles]
    site.pages["/sm/2026-a.xml"] = Page(_urlset(base, slugs[:2]), "application/xml")
    site.pages["/sm/2026-b.xml"] = Page(_urlset(base, slugs[2:4]), "application/xml")
    site.pages["/sm/2026-c.xml"] = Page(_urlset(base, slugs[4:]), "application/xml")
    site.pages["/sm/2019.xml"] = Page(b"gone", "text/plain", status=404)
    site.pages["/sm/moved.xml"] = Page(b"", status=301, headers={"Location": base + "/sm/nowhere.xml"})
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /login/\n", "text/plain")


def test_a_source_with_dead_child_sitemaps_succeeds_with_warnings_and_alerts_on_its_next_crawl(tmp_path, capsys):
    receiver = Receiver()
    with LocalSite() as site:
        try:
            hook = receiver.script("/hook", Answer(200))
            _serve(site, OLD)
            config = write_config(tmp_path, [{"name": "eastwire", "type": "sitemap",
                                              "url": site.url("/sitemap_index.xml")}],
                                  channels=[{"type": "webhook", "url": hook}], daemon={"failures_before_alert": 2})
            report, sessions = crawl_config(config)
            [source] = report.sources
            assert (source.status, source.counts.new) == ("ok", 4)
            assert source.warnings == ("3 of 6 child sitemaps failed: HTTP 404 for " + site.url("/sm/2019.xml")
                                       + " (and 2 more)",)
            assert "OK" in source.line() and "partly failed: 3 of 6 child sitemaps failed" in source.line()
            with sessions() as session:
                state = session.get(SourceState, "eastwire")
                assert state.backlog_done and state.consecutive_failures == 0
                assert state.last_warning.startswith("3 of 6 child sitemaps failed")
                run = session.scalars(select(RunSource)).one()
                assert run.status == "ok" and run.warnings == list(source.warnings)
            capsys.readouterr()
            assert main(["-c", str(config), "status"]) == 0
            assert "warning: 3 of 6 child sitemaps failed" in capsys.readouterr().out
            assert receiver.at("/hook") == []                  # the first crawl is the silent baseline

            _serve(site, OLD + [FRESH])                        # the next day: a fresh report
            capsys.readouterr()
            assert main(["-c", str(config), "crawl"]) == 0     # crawls, then delivers what is due
            assert "eastwire: OK fetched=1 new=1" in capsys.readouterr().out
            alerts = [json.loads(r.body) for r in receiver.at("/hook")]
            kinds = [(a["type"], a.get("event")) for a in alerts]
            assert ("wirewatch.alert", None) in kinds
            [alert] = [a for a in alerts if a["type"] == "wirewatch.alert"]
            assert alert["article"]["title"] == FRESH["title"]
            # the second failure in a row of each dead child: one operator warning for each, naming it
            degraded = [a for a in alerts if a.get("event") == "degraded"]
            assert len(degraded) == 3 and any("/sm/2019.xml" in a["message"] for a in degraded)
            assert main(["-c", str(config), "crawl"]) == 0
            assert len([r for r in receiver.at("/hook") if b'"degraded"' in r.body]) == 3   # once, not per crawl
        finally:
            receiver.close()


def test_a_source_whose_every_document_fails_still_fails(tmp_path):
    with LocalSite() as site:
        site.pages["/sitemap_index.xml"] = Page(_index(site.base, ["/sm/a.xml", "/sm/b.xml"]), "application/xml")
        site.pages["/sm/a.xml"] = Page(b"no", status=404)
        site.pages["/sm/b.xml"] = Page(b"User-agent: *\n", "text/plain")
        config = write_config(tmp_path, [{"name": "hollow", "type": "sitemap", "url": site.url("/sitemap_index.xml")}])
        report, sessions = crawl_config(config)
        [source] = report.sources
        assert source.status == "failed" and "nothing usable" in source.errors[-1], source.errors
        with sessions() as session:
            assert not session.get(SourceState, "hollow").backlog_done


def test_an_atom_feed_whose_entries_carry_only_an_id_url_is_crawled(tmp_path):
    with LocalSite() as site:
        article = _article("id-only", "North Korea sends engineers to Kursk",
                           "North Korea has sent about 1,000 military engineers to Russia's Kursk region, "
                           "Seoul's spy agency said.", 2)
        site.pages.update({k: v for k, v in build_site([article], site.base).items() if k.endswith(".html")})
        site.pages["/atom.xml"] = Page(f'''<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><id>urn:x</id><updated>2026-11-25T08:00:00Z</updated>
<entry><title>Engineers</title><id>{site.base}/id-only.html</id><updated>2026-11-25T07:00:00Z</updated></entry>
<entry><title>Note</title><id>urn:uuid:1225c695-cfb8-4ebb-aaaa-80da344efa6a</id><updated>2026-11-25T06:00:00Z</updated></entry>
</feed>'''.encode(), "application/atom+xml")
        config = write_config(tmp_path, [{"name": "atom", "type": "feed", "url": site.url("/atom.xml")}])
        report, _ = crawl_config(config)
        [source] = report.sources
        assert (source.status, source.counts.new) == ("ok", 1)
        assert source.warnings == ("1 entries without an article link",)   # counted, not fatal
