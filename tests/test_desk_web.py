"""The desk in the web view, as analysts use it: paged listings, search and filters, triage by
POST forms that carry a CSRF token, verdicts signed by the user who gave them, and a day's walk
through it in a real browser (Debian's chromium), at desktop and phone width and through
Chromium's vision-deficiency emulation. Screenshots go to $WIREWATCH_SCREENSHOTS when it is set
(docs/screenshots is made that way)."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import requests
from sqlalchemy import select

from tests.servers import WebView
from tests.test_desk_triage import build_desk
from wirewatch.crawler.store.schema import MatchRow, Verdict

pytestmark = pytest.mark.slow
ALICE = "alice-" + "a" * 40
BOB = "bob-" + "b" * 40


@pytest.fixture(scope="module")
def desk(tmp_path_factory):
    return build_desk(tmp_path_factory.mktemp("deskweb"))


@pytest.fixture(scope="module")
def web(desk):
    server = WebView(Path(desk["path"]))
    yield server
    server.stop()


def _text(answer: requests.Response) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", answer.text))


def _form_token(page: str) -> str:
    return re.search(r'name="csrf" value="([0-9a-f]{64})"', page).group(1)


def test_listings_page_through_every_row(web):
    first = requests.get(web.base + "/matches?since=30d", timeout=10)
    assert "1–50 of 215 matches" in _text(first) and 'rel="next"' in first.text
    assert len(re.findall(r'<td data-label="title">', first.text)) == 50
    last = requests.get(web.base + "/matches?since=30d&page=5", timeout=10)
    assert "201–215 of 215 matches" in _text(last) and 'rel="next"' not in last.text and 'rel="prev"' in last.text
    assert len(re.findall(r'<td data-label="title">', last.text)) == 15
    big = requests.get(web.base + "/matches?since=30d&per=200&page=2", timeout=10)
    assert "201–215 of 215 matches" in _text(big)
    api = requests.get(web.base + "/api/matches?since=30d&per=100", timeout=10)
    assert len(api.json()) == 100 and api.headers["X-Total-Count"] == "215" and 'rel="next"' in api.headers["Link"]
    assert requests.get(web.base + "/matches?per=100000", timeout=10).status_code == 400
    articles = requests.get(web.base + "/articles?since=30d&matched=no", timeout=10)
    assert "1–25 of 25 articles" in _text(articles) and "keyword query not satisfied" in articles.text
    stories = requests.get(web.base + "/?since=30d&per=25", timeout=10)
    assert re.search(r"1–25 of \d+ stories", _text(stories))


def test_search_and_filters_on_every_listing(web, desk):
    kursk = sum(1 for r in desk["reports"] if r["place"] == "Kursk")
    assert f"of {kursk} matches" in _text(requests.get(web.base + "/matches?since=30d&q=Kursk", timeout=10))
    drones = requests.get(web.base + "/matches?since=30d&direction=North+Korea>Russia&item=drones&per=100", timeout=10)
    expected = sum(1 for r in desk["reports"] if r["item"] == "drones")
    assert f"of {expected} matches" in _text(drones)
    planned = requests.get(web.base + "/?since=30d&status=planned&per=100", timeout=10)
    assert "planned" in planned.text and "delivered)" not in _text(planned)
    held = requests.get(web.base + "/matches?since=30d&alerted=held&per=200", timeout=10)
    assert "alerted" not in re.sub(r"<option[^>]*>[^<]*</option>", "", held.text).split("<h1>")[1].split("Alert")[0] \
        or "held:" in held.text
    assert "of 0 matches" in _text(requests.get(web.base + "/matches?since=30d&q=%22no+such+phrase%22", timeout=10)) \
        or "no matches" in _text(requests.get(web.base + "/matches?since=30d&q=%22no+such+phrase%22", timeout=10))


def test_writes_need_the_forms_csrf_token(web, desk):
    browser = requests.Session()
    page = browser.get(web.base + "/matches?since=30d", timeout=10)
    token = _form_token(page.text)
    match_id = int(re.search(r'action="/matches/(\d+)/mark"', page.text).group(1))
    bare = requests.post(f"{web.base}/matches/{match_id}/mark", data={"read": "1"}, timeout=10)
    assert bare.status_code == 403 and "security token" in bare.text
    forged = requests.post(f"{web.base}/matches/{match_id}/mark", data={"read": "1", "csrf": token}, timeout=10)
    assert forged.status_code == 403                              # the token without its cookie
    wrong = browser.post(f"{web.base}/matches/{match_id}/mark", data={"read": "1", "csrf": "0" * 64}, timeout=10)
    assert wrong.status_code == 403
    with desk["sessions"]() as session:
        assert session.get(MatchRow, match_id).read is False     # nothing written by the refused posts
    done = browser.post(f"{web.base}/matches/{match_id}/mark", data={"read": "1", "csrf": token,
                                                                     "next": "/matches?since=30d&unread=1"},
                        timeout=10, allow_redirects=False)
    assert done.status_code == 303 and done.headers["Location"].endswith("/matches?since=30d&unread=1")
    with desk["sessions"]() as session:
        assert session.get(MatchRow, match_id).read is True
    foreign = browser.post(f"{web.base}/matches/{match_id}/mark", data={"read": "0", "csrf": token},
                           headers={"Origin": "http://evil.example"}, timeout=10)
    assert foreign.status_code == 403 and "another site" in foreign.text      # the token, sent from elsewhere
    away = browser.post(f"{web.base}/matches/{match_id}/mark", data={"read": "0", "csrf": token,
                                                                     "next": "//evil.example/x"},
                        timeout=10, allow_redirects=False)
    assert away.status_code == 303 and "evil.example" not in away.headers["Location"]
    assert "SameSite=Strict" in page.headers["Set-Cookie"] and "HttpOnly" in page.headers["Set-Cookie"]


def test_each_user_signs_their_verdicts(desk, tmp_path, monkeypatch):
    monkeypatch.setenv("ALICE_TOKEN", ALICE)
    monkeypatch.setenv("BOB_TOKEN", BOB)
    config = tmp_path / "users.yaml"
    config.write_text(Path(desk["path"]).read_text() +
                      "web:\n  users:\n    alice: ${ALICE_TOKEN}\n    bob: ${BOB_TOKEN}\n")
    server = WebView(config)
    try:
        assert requests.get(server.base + "/matches", timeout=10).status_code == 401
        alice = requests.Session()
        alice.get(f"{server.base}/matches?since=30d&token={ALICE}", timeout=10)
        page = alice.get(f"{server.base}/matches?since=30d&item=artillery", timeout=10)
        assert page.status_code == 200 and "signed as alice" in page.text and ALICE not in page.text
        article_id = int(re.search(r'href="/articles/(\d+)"', page.text).group(1))
        article = alice.get(f"{server.base}/articles/{article_id}", timeout=10)
        posted = alice.post(f"{server.base}/articles/{article_id}/verdict",
                            data={"csrf": _form_token(article.text), "watch": "nk-russia-aid", "label": "relevant"},
                            timeout=10)
        assert posted.status_code == 200 and "relevant by alice" in html.unescape(posted.text)
        bob = requests.Session()
        assert bob.get(f"{server.base}/?token={BOB}", timeout=10).status_code == 200
        assert "signed as bob" in bob.get(server.base + "/", timeout=10).text
        cookie = alice.cookies.get("wirewatch_token")
        assert cookie and ALICE not in cookie and cookie.startswith("alice.")
        forged = requests.get(server.base + "/", cookies={"wirewatch_token": "bob." + cookie.split(".", 1)[1]},
                              timeout=10)
        assert forged.status_code == 401                       # one user's session cannot name another
    finally:
        out = server.stop()
    assert ALICE not in out and BOB not in out
    with desk["sessions"]() as session:
        assert session.scalars(select(Verdict.by).where(Verdict.article_id == article_id)).all() == ["alice"]
    short = tmp_path / "short.yaml"
    short.write_text(Path(desk["path"]).read_text() + "web:\n  listen: 0.0.0.0:8090\n  users:\n    carol: short\n")
    check = subprocess.run([sys.executable, "-m", "wirewatch.crawler.commands.cli", "-c", str(short), "check"],
                           capture_output=True, text=True, timeout=60)
    assert check.returncode == 2 and "web.users.carol's token must be at least 32 characters" in check.stderr


def test_errors_are_pages_of_the_view(web):
    missing = requests.get(web.base + "/articles/999999", timeout=10)
    assert missing.status_code == 404 and "Not found (404)" in missing.text and "stylesheet" in missing.text
    bad = requests.get(web.base + "/matches?since=soon", timeout=10)
    assert bad.status_code == 400 and "That request could not be read" in bad.text


# ---- a real browser --------------------------------------------------------------------------

def _browser():
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1000"):
        options.add_argument(arg)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)


def _submit(browser, element) -> None:
    """Click a button or link and wait for the next page (a form posts, the view redirects back)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    WebDriverWait(browser, 10).until(expected_conditions.staleness_of(old))


def _shot(browser, name: str, tmp_path: Path) -> None:
    folder = Path(os.environ.get("WIREWATCH_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    height = browser.execute_script("return document.documentElement.scrollHeight")
    width = browser.execute_script("return window.innerWidth")
    browser.set_window_size(max(width, 400), min(height + 120, 2600))
    browser.save_screenshot(str(folder / f"{name}.png"))


def test_a_days_triage_in_a_real_browser(web, desk, tmp_path, capsys):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select
    browser = _browser()
    try:
        browser.get(web.base + "/matches?since=30d")
        browser.find_element(By.NAME, "q").send_keys("Kharkiv")                # search
        Select(browser.find_element(By.NAME, "item")).select_by_value("drones")  # filter
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
        kharkiv_drones = sum(1 for r in desk["reports"] if r["place"] == "Kharkiv" and r["item"] == "drones")
        assert f"1–{kharkiv_drones} of {kharkiv_drones} matches" in browser.find_element(By.CSS_SELECTOR, ".pager").text
        assert "q=Kharkiv" in browser.current_url and "item=drones" in browser.current_url
        rows = browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")
        assert len(rows) == kharkiv_drones and all("Kharkiv" in r.text for r in rows)

        _submit(browser, rows[0].find_element(By.XPATH, ".//button[normalize-space()='mark read']"))   # mark read
        assert "q=Kharkiv" in browser.current_url                                             # back where it was
        first = browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")[0]
        assert "mark unread" in first.text and "unread" not in first.find_element(By.CSS_SELECTOR,
                                                                                    "td[data-label=title]").text
        _submit(browser, first.find_element(By.XPATH, ".//button[contains(., 'star')]"))      # star
        first = browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")[0]
        assert "★ starred" in first.text
        _shot(browser, "matches-triage", tmp_path)

        _submit(browser, first.find_element(By.CSS_SELECTOR, "td[data-label=title] a"))       # the article
        assert browser.find_elements(By.CSS_SELECTOR, ".text mark .cue")                        # labelled roles
        browser.find_element(By.CSS_SELECTOR, "input[value=wrong_fact]").click()               # a wrong fact
        browser.find_element(By.NAME, "fact").send_keys("1")
        browser.find_element(By.NAME, "note").send_keys("the figure counts launchers, not drones")
        _submit(browser, browser.find_element(By.CSS_SELECTOR, ".verdict-form button"))
        assert "/articles/" in browser.current_url, browser.page_source[:2000]
        verdict = browser.find_element(By.CSS_SELECTOR, "p.verdict").text
        assert "wrong fact" in verdict and "drones" in verdict and "by analyst" in verdict
        _shot(browser, "article-roles", tmp_path)

        browser.get(web.base + "/matches?since=30d&starred=1")
        assert "1–1 of 1 matches" in browser.find_element(By.CSS_SELECTOR, ".pager").text
        assert "verdict: wrong fact (analyst)" in browser.find_element(By.CSS_SELECTOR, "table.grid").text
    finally:
        browser.quit()

    labelled = tmp_path / "day.jsonl"                                # export, then evaluate on it
    from wirewatch.crawler.commands.cli import main
    assert main(["-c", desk["path"], "feedback", "export", "-o", str(labelled)]) == 0
    lines = [json.loads(line) for line in labelled.read_text(encoding="utf-8").splitlines()]
    [wrong] = [line for line in lines if line["label"] == "wrong_fact"]
    assert wrong["fact"]["item"] == "drones" and wrong["by"] == "analyst" and "launchers" in wrong["note"]
    capsys.readouterr()
    assert main(["evaluate", str(labelled)]) == 0
    assert "wrong facts still given: 1 of 1" in capsys.readouterr().out


PAGES = ["/?since=30d", "/matches?since=30d", "/articles?since=30d", "/sources", "/alerts", "/alerts?status=delivered"]


def test_no_page_scrolls_sideways_at_phone_width(web, tmp_path):
    from selenium.webdriver.common.by import By
    browser = _browser()
    try:
        browser.set_window_size(400, 900)
        with requests.Session() as s:
            page = s.get(web.base + "/matches?since=30d", timeout=10).text
        article = re.search(r'href="(/articles/\d+)"', page).group(1)
        story = re.search(r'href="(/stories/\d+)"', requests.get(web.base + "/?since=30d", timeout=10).text).group(1)
        for path in PAGES + [article, story, "/articles/999999"]:
            browser.get(web.base + path)
            wide = browser.execute_script("return document.documentElement.scrollWidth")
            room = browser.execute_script("return document.documentElement.clientWidth")
            assert wide <= room, (path, wide, room)
            assert browser.find_element(By.TAG_NAME, "h1").is_displayed()
        browser.get(web.base + "/matches?since=30d&per=25")
        _shot(browser, "matches-phone", tmp_path)
        browser.set_window_size(400, 900)
        browser.get(web.base + article)
        _shot(browser, "article-phone", tmp_path)
    finally:
        browser.quit()


def _luminance(rgb: str) -> float:
    values = [int(v) / 255 for v in re.findall(r"\d+", rgb)[:3]]
    linear = [v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4 for v in values]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def _contrast(a: str, b: str) -> float:
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_roles_are_told_apart_without_colour_and_meet_contrast(web, tmp_path):
    """Each role has a label and an underline style of its own; label text, role lines and body
    text meet WCAG AA; and under protanopia, deuteranopia and tritanopia the labels remain."""
    from selenium.webdriver.common.by import By
    page = requests.get(web.base + "/matches?since=30d&item=artillery", timeout=10).text
    article = re.search(r'href="(/articles/\d+)"', page).group(1)
    browser = _browser()
    try:
        browser.get(web.base + article)
        styles = {}
        for mark in browser.find_elements(By.CSS_SELECTOR, ".legend mark.role"):
            role = mark.get_attribute("class").split("role-")[1]
            cue = mark.find_element(By.CSS_SELECTOR, ".cue")
            assert cue.text.lower() == role                              # the label says the role
            line = "text-decoration-style" if role == "transfer" else "border-bottom-style"
            colour = "text-decoration-color" if role == "transfer" else "border-bottom-color"
            styles[role] = mark.value_of_css_property(line)
            assert _contrast(mark.value_of_css_property(colour), "rgb(255, 255, 255)") >= 3.0, role   # 1.4.11
            assert _contrast(cue.value_of_css_property("color"), cue.value_of_css_property("background-color")) >= 4.5
            fill = mark.value_of_css_property("background-color")
            fill = "rgb(255, 255, 255)" if fill.endswith(", 0)") else fill        # transparent: the page's white
            assert _contrast(mark.value_of_css_property("color"), fill) >= 4.5
        assert len(set(styles.values())) == 5, styles                     # five distinct line styles
        for deficiency in ("protanopia", "deuteranopia", "tritanopia", "achromatopsia"):
            browser.execute_cdp_cmd("Emulation.setEmulatedVisionDeficiency", {"type": deficiency})
            browser.get(web.base + article)
            cues = [c.text.lower() for c in browser.find_elements(By.CSS_SELECTOR, ".text mark .cue")]
            assert {"supplier", "recipient", "item"} <= set(cues), deficiency
            _shot(browser, f"article-{deficiency}", tmp_path)
            browser.set_window_size(1280, 1000)
    finally:
        browser.quit()


def test_status_and_sources_after_one_off_crawls_and_with_only_a_database(tmp_path, capsys):
    """After a one-off crawl `status` says when the daemon would check a source next (not
    'now'); with only WIREWATCH_STORAGE set, the sources come from the database."""
    from tests.conftest import write_config
    from wirewatch.crawler.commands.cli import main
    from wirewatch.crawler.demo.localsite import LocalSite
    from wirewatch.crawler.demo.site import build_site, load_articles
    site = LocalSite().start()
    try:
        site.pages.update(build_site(load_articles(), site.base))
        config = write_config(tmp_path, [{"name": "ledger", "type": "feed", "url": site.url("/feed.xml"),
                                          "every": "1h"}])
        assert main(["-c", str(config), "--log-level", "ERROR", "crawl"]) == 0
        capsys.readouterr()
        main(["-c", str(config), "status"])
        line = next(row for row in capsys.readouterr().out.splitlines() if row.startswith("ledger"))
        assert " now " not in line and re.search(r"\bin (59|60)m\b", line), line
    finally:
        site.stop()
    bare = tmp_path / "bare.yaml"
    bare.write_text(f"storage: sqlite:///{tmp_path / 'wirewatch.db'}\n")
    capsys.readouterr()
    assert main(["-c", str(bare), "mute", "--source", "ledger", "--for", "1d"]) == 0
    assert main(["-c", str(bare), "mute", "--source", "nowhere", "--for", "1d"]) == 2
    server = WebView(bare)
    try:
        page = requests.get(server.base + "/sources", timeout=10).text
        assert '<td data-label="source">ledger</td>' in page and "the sources the database has stored" in page
        assert '<option value="ledger">' in requests.get(server.base + "/matches", timeout=10).text
    finally:
        server.stop()
