"""The analyst's desk: listings, a story's growth, an article with its evidence, rescans, and the
read-only web view — all over a database filled by a real crawl of a local site."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import feedparser
import pytest
import requests
from sqlalchemy import select

from tests.conftest import write_config
from tests.servers import Answer, Receiver, free_port
from tests.servers import WebView as Web
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.demo.localsite import LocalSite
from wirewatch.crawler.demo.site import build_site
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.schema import Article, MatchRow

pytestmark = pytest.mark.slow
NOW = dt.datetime.now(dt.timezone.utc)


def _article(slug: str, title: str, paragraphs: list[str], age: dt.timedelta = dt.timedelta(hours=2)) -> dict:
    return {"slug": slug, "title": title, "author": "Desk staff", "paragraphs": paragraphs,
            "date": (NOW - age).isoformat(timespec="seconds")}


ARTICLES = [
    _article("troops-first", "North Korea sends 3,000 troops to Russia, Seoul says",
             ["South Korea's spy agency said on Tuesday that North Korea has sent about 3,000 troops to "
              "Russia since August, in what it called a first rotation.",
              "The agency did not say where the soldiers were deployed."]),
    _article("troops-more", "North Korea sends 3,000 troops to Russia and artillery, officials say",
             ["North Korea has sent about 3,000 troops to Russia, officials said on Wednesday, repeating "
              "Tuesday's estimate.",
              "Pyongyang has also shipped 40 self-propelled guns to Moscow, the officials added."]),
    _article("hostile", "<script>alert('x')</script> Pyongyang ships shells to Moscow",
             ["North Korea has shipped 500,000 artillery shells to Russia this year, a monitoring group said.",
              "<b>Bold claims</b> & other markup stay text."]),
    _article("old-report", "Pyongyang delivered rocket launchers to Russia last year",
             ["North Korea delivered 50 multiple rocket launchers to Russia in 2024, a think tank found."],
             age=dt.timedelta(days=20)),
    _article("unrelated", "Seoul hosts an economic forum",
             ["South Korean and Japanese officials discussed trade and tourism at a two-day forum in Seoul, "
              "where business groups from both countries presented plans for new ferry routes.",
              "Organisers said the next forum would take place in Osaka in the spring, with a focus on "
              "shipbuilding, semiconductors and student exchanges between universities."]),
]


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("desk")
    site, receiver = LocalSite().start(), Receiver()
    hook = receiver.script("/hook", Answer(200))
    site.pages.update(build_site([a for a in ARTICLES if a["slug"] != "troops-more"], site.base))
    config = write_config(tmp, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml"), "backlog": "alert"}],
                          channels=[{"type": "webhook", "url": hook}])
    assert main(["-c", str(config), "--log-level", "ERROR", "crawl"]) == 0
    site.pages.update(build_site(ARTICLES, site.base))          # a day later: the story grows
    assert main(["-c", str(config), "--log-level", "ERROR", "crawl"]) == 0
    yield {"config": config, "sessions": open_database(f"sqlite:///{tmp / 'wirewatch.db'}"), "tmp": tmp,
           "site": site}
    site.stop()
    receiver.close()


def _run(capsys, *argv) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def test_matches_lists_newest_first_with_alerted_or_why_not_in_every_format(desk, capsys):
    config = str(desk["config"])
    recent = json.loads(_run(capsys, "-c", config, "matches", "--format", "json"))
    assert len(recent) == 3                            # --since counts publication: the 20-day-old report is out
    rows = json.loads(_run(capsys, "-c", config, "matches", "--format", "json", "--since", "30d"))
    titles = [r["article"]["title"] for r in rows]
    assert len(rows) == 4 and "Seoul hosts an economic forum" not in titles
    assert [r["article"]["published"] for r in rows] == sorted((r["article"]["published"] for r in rows), reverse=True)
    for row in rows:                                   # the webhook body, plus alerted / held_back
        assert {"id", "type", "watch", "score", "article", "facts", "evidence", "story",
                "alerted", "held_back"} <= set(row)
    fate = {r["article"]["title"]: (r["alerted"], r["held_back"]) for r in rows}
    assert fate["Pyongyang delivered rocket launchers to Russia last year"] == (False, "too old")
    assert fate["North Korea sends 3,000 troops to Russia, Seoul says"] == (True, None)
    assert fate["North Korea sends 3,000 troops to Russia and artillery, officials say"] == (True, None)   # news

    table = _run(capsys, "-c", config, "matches", "--since", "30d")
    assert table.splitlines()[0].split()[:4] == ["id", "published", "(UTC)", "found"]
    assert table.splitlines()[-1] == "1–4 of 4 matches"
    assert "held: too old" in table and "alerted" in table
    assert "<script>" in table                          # plain text in a terminal, shown as it is

    parsed = list(csv.DictReader(io.StringIO(_run(capsys, "-c", config, "matches", "--format", "csv",
                                                   "--since", "30d"))))
    assert len(parsed) == 4 and {"article_id", "title", "facts", "alerted", "held_back"} <= set(parsed[0])
    one = json.loads(_run(capsys, "-c", config, "matches", "--format", "json", "--limit", "1", "--since", "30d"))
    assert len(one) == 1 and one[0]["article_id"] == rows[0]["article_id"]
    assert json.loads(_run(capsys, "-c", config, "matches", "--format", "json", "--source", "elsewhere")) == []
    typo = _run(capsys, "-c", config, "matches", "--watch", "nk-rusia-aid")
    assert "no stored match has watch 'nk-rusia-aid'; known: nk-russia-aid" in typo


def test_stories_show_each_story_and_which_article_added_which_figure(desk, capsys):
    stories = json.loads(_run(capsys, "-c", str(desk["config"]), "stories", "--format", "json"))
    troops = next(s for s in stories if "3,000 troops" in (s["title"] or ""))
    assert troops["articles"] == 2 and troops["outlets"] == ["ledger"]
    first, second = troops["growth"]
    assert any("about 3,000 troops" in line for line in first["added"])
    assert any("40 artillery" in line for line in second["added"])          # what the second one added
    assert not any("troops" in line for line in second["added"])             # it repeated the troops
    table = _run(capsys, "-c", str(desk["config"]), "stories")
    assert "+ #" in table and "40 artillery" in table


def test_show_marks_the_evidence_by_role_and_lists_facts_story_and_deliveries(desk, capsys):
    with desk["sessions"]() as session:
        article = session.scalars(select(Article).where(Article.title.like("North Korea sends 3,000 troops to Russia, Seoul%"))).one()
    out = _run(capsys, "-c", str(desk["config"]), "show", str(article.id))
    assert "[supplier: North Korea]" in out and "[item: troops]" in out and "[recipient: Russia]" in out
    assert "[quantity: about 3,000]" in out
    assert "fact 1: North Korea → Russia: about 3,000 troops" in out
    assert "story #" in out and "delivery webhook: delivered" in out
    by_url = json.loads(_run(capsys, "-c", str(desk["config"]), "show", article.url, "--format", "json"))
    assert by_url["article"]["id"] == article.id
    spans = {(s["role"], article.text[s["start"]:s["end"]]) for s in by_url["spans"]}
    assert ("supplier", "North Korea") in spans and ("item", "troops") in spans


def test_rescan_reports_gains_and_losses_stores_them_and_alerts_only_when_asked(desk, capsys, tmp_path):
    config_text = desk["config"].read_text()
    strict = tmp_path / "strict.yaml"                      # a watch changed: only artillery counts now
    watch = (Path(__file__).resolve().parents[1] / "config" / "watches" / "nk-russia-aid.yaml").read_text()
    strict.write_text(watch.replace("  items: [troops, artillery,", "  items: [artillery, troops_not,"))
    changed = desk["tmp"] / "changed.yaml"
    changed.write_text(config_text.replace("channels:", f"watches: [{{include: {strict}}}]\nchannels:"))
    out = _run(capsys, "-c", str(changed), "rescan")
    assert "- #" in out and "0 gained, 1 lost" in out and "rescanned 5 article(s)" in out
    with desk["sessions"]() as session:
        watched = {a.title for a, in session.execute(select(Article).join(MatchRow, MatchRow.article_id == Article.id))}
    assert "North Korea sends 3,000 troops to Russia, Seoul says" not in watched      # lost: troops only
    assert "North Korea sends 3,000 troops to Russia and artillery, officials say" in watched

    out = _run(capsys, "-c", str(desk["config"]), "rescan")       # the old watch again: gained back
    assert "+ #" in out and "(held back: rescan)" in out
    with desk["sessions"]() as session:                           # found when the crawl found it, not now
        gained = session.execute(select(MatchRow.created_at, Article.fetched_at).join(
            Article, Article.id == MatchRow.article_id).where(MatchRow.held_back == "rescan")).all()
    assert gained and all(found == fetched for found, fetched in gained)
    out = _run(capsys, "-c", str(desk["config"]), "rescan", "--alert")
    assert "0 gained" in out                                       # nothing left to gain; nothing re-alerted
    _run(capsys, "-c", str(changed), "rescan")                     # lost again, then gained with --alert:
    out = _run(capsys, "-c", str(desk["config"]), "rescan", "--alert")
    assert "(held back: same story)" in out and "alert queued" not in out    # story novelty still holds
    rows = json.loads(_run(capsys, "-c", str(desk["config"]), "matches", "--format", "json"))
    assert {r["held_back"] for r in rows if not r["alerted"]} <= {"rescan", "too old", "same story"}


# ---- the web view, as a browser and scripts see it ---------------------------------------------

@pytest.fixture(scope="module")
def web(desk):
    server = Web(desk["config"])
    yield server
    server.stop()


def test_every_page_answers_escapes_what_came_from_the_web_and_forbids_scripts(web, desk):
    with desk["sessions"]() as session:
        hostile = session.scalars(select(Article).where(Article.title.like("<script>%"))).one()
        hostile_id, story_id = hostile.id, hostile.story_id
    for path in ["/", f"/stories/{story_id}", f"/articles/{hostile_id}", "/matches", "/sources", "/alerts",
                 "/matches?since=30d&watch=nk-russia-aid&source=ledger"]:
        answer = requests.get(web.base + path, timeout=10)
        assert answer.status_code == 200, path
        assert "default-src 'none'" in answer.headers["Content-Security-Policy"]
        assert "script-src" not in answer.headers["Content-Security-Policy"]
        assert "<script>" not in answer.text and "<b>Bold" not in answer.text, path
    page = requests.get(f"{web.base}/articles/{hostile_id}", timeout=10).text
    assert "&lt;script&gt;alert(" in page and "&lt;b&gt;Bold claims&lt;/b&gt; &amp; other" in page
    assert requests.get(web.base + "/matches?since=soon", timeout=10).status_code == 400
    delivered = requests.get(web.base + "/alerts?status=delivered", timeout=10).text
    assert "delivered</a>" in delivered and delivered.count('class="status-delivered"') >= 2   # listed, not just counted
    assert requests.post(web.base + "/matches", timeout=10).status_code == 405       # nothing writes


def test_only_http_urls_become_links(web, desk):
    with desk["sessions"].begin() as session:
        article = session.scalars(select(Article).where(Article.title.like("Pyongyang delivered%"))).one()
        article.url = "javascript:alert(document.cookie)"
        article_id = article.id
    page = requests.get(f"{web.base}/articles/{article_id}", timeout=10).text
    assert 'href="javascript:' not in page and "javascript:alert(document.cookie)" in page
    with desk["sessions"]() as session:
        normal = session.scalars(select(Article).where(Article.title.like("North Korea sends 3,000 troops to Russia, Seoul%"))).one()
    assert f'href="{normal.url}"' in requests.get(f"{web.base}/articles/{normal.id}", timeout=10).text


def test_api_feed_metrics_and_health_speak_their_formats(web, desk, capsys):
    api = requests.get(web.base + "/api/matches", timeout=10).json()
    cli = json.loads(_run(capsys, "-c", str(desk["config"]), "matches", "--format", "json"))
    assert [(m["match_id"], m["alerted"], m["held_back"]) for m in api] == \
        [(m["match_id"], m["alerted"], m["held_back"]) for m in cli]
    feed = feedparser.parse(requests.get(web.base + "/alerts.atom", timeout=10).content)
    assert feed.version == "atom10" and feed.entries
    assert any("3,000 troops" in e.title for e in feed.entries)
    assert all(e.link.startswith("http") for e in feed.entries)
    metrics = requests.get(web.base + "/metrics", timeout=10).text
    for name in ("wirewatch_crawls_total{", "wirewatch_articles_total{", "wirewatch_matches_total{watch=\"nk-russia-aid\"}",
                 "wirewatch_alerts_total{channel=\"webhook\"", "wirewatch_outbox_pending ", "wirewatch_outbox_dead ",
                 "wirewatch_crawl_duration_seconds_bucket{le=\"+Inf\"}",
                 "wirewatch_source_last_success_timestamp_seconds{source=\"ledger\"}"):
        assert name in metrics, name
    assert requests.get(web.base + "/healthz", timeout=10).text == "ok\n"


def test_a_token_guards_the_view_and_beyond_loopback_one_is_required(desk, tmp_path, monkeypatch):
    loud = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(desk["config"]), "web",
                           "--listen", "0.0.0.0:8089"], capture_output=True, text=True, timeout=30)
    assert loud.returncode == 2 and len(loud.stderr.strip().splitlines()) == 1 and "web.token" in loud.stderr
    guarded = tmp_path / "guarded.yaml"
    guarded.write_text(desk["config"].read_text() + "web:\n  token: ${DESK_TOKEN}\n")
    monkeypatch.setenv("DESK_TOKEN", "s3cret-desk-token")
    server = Web(guarded)
    try:
        assert requests.get(server.base + "/", timeout=10).status_code == 401
        assert requests.get(server.base + "/metrics", timeout=10).status_code == 401
        assert requests.get(server.base + "/", headers={"Authorization": "Bearer wrong"}, timeout=10).status_code == 401
        assert requests.get(server.base + "/", headers={"Authorization": "Bearer s3cret-desk-token"},
                            timeout=10).status_code == 200
        browser = requests.Session()
        first = browser.get(server.base + "/sources?token=s3cret-desk-token", timeout=10, allow_redirects=False)
        assert first.status_code == 303 and "token" not in first.headers["Location"]
        assert browser.get(server.base + "/sources", timeout=10).status_code == 200      # the cookie carries it
        assert requests.get(server.base + "/healthz", timeout=10).status_code == 200     # for load balancers
    finally:
        out = server.stop()
    assert "s3cret-desk-token" not in out


def test_healthz_fails_when_the_database_goes_away(postgres_url, tmp_path):
    import sqlalchemy
    admin = sqlalchemy.create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql("CREATE DATABASE deskhealth")
    config = write_config(tmp_path, [])
    config.write_text(config.read_text().replace(f"sqlite:///{tmp_path / 'wirewatch.db'}",
                                                 postgres_url.rsplit("/", 1)[0] + "/deskhealth"))
    server = Web(config)
    try:
        assert requests.get(server.base + "/healthz", timeout=10).status_code == 200
        with admin.connect() as connection:
            connection.exec_driver_sql("DROP DATABASE deskhealth WITH (FORCE)")
        assert requests.get(server.base + "/healthz", timeout=15).status_code == 503
    finally:
        server.stop()
        admin.dispose()


def test_an_analyst_clicks_from_stories_to_a_story_to_an_article_in_a_real_browser(web, tmp_path):
    import shutil
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    browser = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    try:
        browser.get(web.base + "/")
        assert "Stories" in browser.title
        browser.find_element(By.PARTIAL_LINK_TEXT, "3,000 troops").click()
        assert "Story #" in browser.find_element(By.TAG_NAME, "h1").text
        browser.save_screenshot(str(tmp_path / "story.png"))
        browser.find_element(By.CSS_SELECTOR, "ol.growth a").click()
        marks = {c for m in browser.find_elements(By.CSS_SELECTOR, ".text mark") for c in m.get_attribute("class").split()}
        assert {"role-supplier", "role-recipient", "role-item", "role-quantity"} <= marks
        supplier = browser.find_element(By.CSS_SELECTOR, ".text mark.role-supplier")
        assert supplier.value_of_css_property("background-color") != "rgba(0, 0, 0, 0)"   # the stylesheet applied
        assert browser.find_element(By.CSS_SELECTOR, "table.grid td").text
        browser.save_screenshot(str(tmp_path / "article.png"))
        browser.get(web.base + "/sources")
        assert "ledger" in browser.find_element(By.TAG_NAME, "table").text
    finally:
        browser.quit()
    assert (tmp_path / "article.png").stat().st_size > 10_000


def test_the_daemon_serves_the_view_when_the_config_has_web(desk, tmp_path):
    from tests.test_daemon import DaemonProcess, wait_for
    port = free_port()
    config = write_config(tmp_path, [{"name": "ledger", "type": "feed", "url": desk["site"].url("/feed.xml"),
                                      "every": "1h"}],
                          web={"listen": f"127.0.0.1:{port}"}, daemon={"quiet_after": None})
    daemon = DaemonProcess(config, tmp_path / "daemon.log")

    def sources_page() -> str | None:
        try:
            answer = requests.get(f"http://127.0.0.1:{port}/sources", timeout=2)
        except requests.ConnectionError:
            return None
        row = '<td data-label="source">ledger</td>'
        if answer.status_code != 200 or row not in answer.text:
            return None
        cells = re.split(r"<td[^>]*>", answer.text.split(row, 1)[1].split("</tr>", 1)[0])
        last_check, next_run = cells[2].split("</td>")[0], cells[3].split("</td>")[0]
        return next_run if last_check != "—" else None

    try:                                   # once crawled, the page shows its next run an hour on
        shown = wait_for(sources_page, 30)
        assert shown, daemon.output()
        next_run = dt.datetime.strptime(shown, "%Y-%m-%d %H:%M")
        assert dt.timedelta(minutes=55) < next_run.replace(tzinfo=dt.timezone.utc) - NOW < dt.timedelta(minutes=65)
        daemon.signal(15)
        assert daemon.process.wait(timeout=20) == 0
    finally:
        daemon.stop()
