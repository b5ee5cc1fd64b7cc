"""Reports in Korean, Russian and Ukrainian alert like English ones, with facts in English.

Held to our own corpora per language (tests/data/lang/: a tuning set, and a second writer's set
that saw neither the data nor the tuning set), and to sentences written for these tests: the
grammar that decides who gives and who receives (Korean particles, Russian and Ukrainian cases),
the number grammar (1만 2000명, около 11 тысяч, понад 10 тисяч, третина), denials and conditions."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from wirewatch.alerts.model import fact_line

from wirewatch.crawler.analysis.evaluate import score
from wirewatch.crawler.analysis.language import detect
from wirewatch.crawler.analysis.matching import Matcher, load_watch

DATA = Path(__file__).parent / "data" / "lang"


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([load_watch("nk-russia-aid")])


def read(matcher: Matcher, language: str, text: str, title: str = ""):
    return matcher.match(title, text, language)[0]


def pairs(result) -> set[tuple[str, str, str]]:
    return {(f.supplier, f.recipient, f.item) for f in result.facts}


# ---- the corpora: floors per language (raise them as the data learns) ---------------------------

FLOORS = {   # (set, alert precision, alert recall, direction+item precision, figures right of shown)
    "ko": (0.95, 0.90, 0.70, 0.80), "ko_holdout": (0.95, 0.90, 0.60, 0.80),
    "ru": (0.95, 0.90, 0.80, 0.90), "ru_holdout": (0.95, 0.85, 0.75, 0.85),
    "uk": (0.95, 0.90, 0.80, 0.90), "uk_holdout": (0.95, 0.85, 0.75, 0.85),
}


@pytest.mark.parametrize("name", sorted(FLOORS))
def test_each_language_holds_its_floors_on_our_corpora(matcher, name):
    items = yaml.safe_load((DATA / f"{name}.yaml").read_text(encoding="utf-8"))
    code = name.split("_")[0]
    assert len(items) >= 70 and sum(not i["matched"] for i in items) >= 25     # hard negatives and denials
    results = {i["id"]: read(matcher, code, i.get("text") or "", i.get("title") or "") for i in items}
    s = score(items, results)
    precision, recall, pair_precision, figures = FLOORS[name]
    assert s.precision >= precision and s.recall >= recall, s.lines()
    assert s.pair_precision >= pair_precision and s.figure_accuracy >= figures, s.lines()


def test_the_corpora_are_ours_and_large_enough():
    for code in ("ko", "ru", "uk"):
        own = yaml.safe_load((DATA / f"{code}.yaml").read_text(encoding="utf-8"))
        assert len(own) >= 80
        assert {i["kind"] for i in own} >= {"report", "negative", "denial"}
        assert (DATA / f"{code}.yaml").read_text(encoding="utf-8").startswith("# Written for wirewatch")


# ---- who gives, who receives: particles and cases ------------------------------------------------

@pytest.mark.parametrize("language, forward, backward", [
    ("ko", "북한이 러시아에 방사포탄을 추가로 넘겼다고 군 당국이 밝혔다.",
           "러시아가 북한에 방공 미사일을 넘겼다고 군 당국이 밝혔다."),
    ("ru", "КНДР отгрузила России новую партию артиллерийских снарядов, сообщает разведка.",
           "Россия передала Северной Корее зенитные ракетные комплексы, сообщает разведка."),
    ("uk", "КНДР відвантажила Росії нову партію артилерійських снарядів, повідомляє розвідка.",
           "Росія передала Північній Кореї зенітні ракетні комплекси, повідомляє розвідка."),
])
def test_endings_not_word_order_say_who_gives(matcher, language, forward, backward):
    there = read(matcher, language, forward)
    back = read(matcher, language, backward)
    assert there.matched and back.matched
    assert ("North Korea", "Russia", "shells") in pairs(there)
    assert ("Russia", "North Korea", "air_defence") in pairs(back)
    assert not any(f.supplier == "Russia" for f in there.facts)
    assert not any(f.supplier == "North Korea" for f in back.facts)


def test_russian_word_order_can_be_turned_round(matcher):
    # the dative decides, wherever it stands: "to Russia the DPRK sent shells"
    result = read(matcher, "ru", "России КНДР передала ещё около миллиона снарядов.")
    assert pairs(result) == {("North Korea", "Russia", "shells")}


def test_a_korean_army_that_fires_is_no_army_sent(matcher):
    result = read(matcher, "ko", "러시아군이 하르키우 외곽에 북한제 탄도미사일 3발을 쐈다고 우크라이나 공군이 밝혔다.")
    assert pairs(result) == {("North Korea", "Russia", "missiles")}
    assert result.facts[0].quantity == 3


# ---- the number grammar --------------------------------------------------------------------------

@pytest.mark.parametrize("language, text, value, words", [
    ("ko", "국정원은 북한이 병력 약 1만 2000명을 러시아에 보냈다고 밝혔다.", 12000, "about 12,000"),
    ("ko", "북한이 러시아에 포탄 200만 발 이상을 넘긴 것으로 파악됐다.", 2000000, "more than 2 million"),
    ("ko", "1500여 명의 북한군이 러시아에 도착했다고 군 당국이 밝혔다.", 1500, "more than 1,500"),
    ("ru", "КНДР направила в Россию около 11 тысяч военных, заявили в Сеуле.", 11000, "about 11,000"),
    ("ru", "Пхеньян передал Москве 1,5 млн снарядов, считают в разведке.", 1500000, "1.5 million"),
    ("uk", "КНДР відправила до Росії понад 10 тисяч військових, заявили в ГУР.", 10000, "more than 10,000"),
    ("uk", "За даними розвідки, КНДР перекинула до Росії щонайменше 12 тисяч бійців.", 12000, "at least 12,000"),
])
def test_figures_as_the_language_writes_them_shown_in_english(matcher, language, text, value, words):
    facts = read(matcher, language, text).facts
    assert [(f.quantity, f.quantity_text) for f in facts] == [(value, words)]


@pytest.mark.parametrize("language, text, words", [
    ("ko", "북한이 러시아에 병사 수천 명을 추가로 보냈다고 정보당국이 밝혔다.", "thousands of"),
    ("ru", "КНДР поставила России миллионы снарядов, утверждает разведка.", "millions of"),
    ("ru", "По данным разведки, Пхеньян отправил Москве сотни тысяч снарядов.", "hundreds of thousands of"),
    ("uk", "КНДР передала Росії третину снарядів зі своїх складів, кажуть у розвідці.", "a third of"),
])
def test_vague_amounts_and_shares_stay_words_never_a_figure(matcher, language, text, words):
    facts = read(matcher, language, text).facts
    assert facts and all(f.quantity is None for f in facts)
    assert facts[0].quantity_text == words
    assert fact_line(facts[0]).startswith(f"North Korea → Russia: {words} ")


def test_a_range_is_a_range_and_a_formation_is_no_headcount(matcher):
    ranged = read(matcher, "ru", "В январе КНДР перебросила в Россию от двух до трех тысяч военных.").facts
    assert ranged[0].quantity is None and ranged[0].quantity_range == (2000, 3000)
    assert fact_line(ranged[0]) == "North Korea → Russia: 2,000–3,000 troops (deployed)"
    brigades = read(matcher, "uk", "КНДР відправила до Росії чотири бригади, повідомляє розвідка.").facts
    assert brigades and all(f.quantity is None for f in brigades)


# ---- statuses, denials, conditions ---------------------------------------------------------------

@pytest.mark.parametrize("language, text, status", [
    ("ko", "북한이 러시아에 공병 1000명을 추가로 보내기로 결정했다고 국정원이 밝혔다.", "planned"),
    ("ru", "Россия пообещала передать КНДР технологии для спутников, сообщили в Сеуле.", "pledged"),
    ("uk", "Північнокорейські військові воюють на Курщині разом із російськими підрозділами.", "in combat"),
])
def test_how_far_it_got(matcher, language, text, status):
    result = read(matcher, language, text)
    assert result.matched and {f.status for f in result.facts} == {status}


@pytest.mark.parametrize("language, title, text", [
    ("ko", "北 외무성 \"러시아 무기 수출설은 날조\"",
     "북한 외무성은 러시아에 포탄을 넘겼다는 보도는 적대세력의 날조라고 주장했다."),
    ("ru", "В Кремле опровергли поставки снарядов из КНДР",
     "Дмитрий Песков назвал ложью сообщения о том, что Россия получает снаряды из Северной Кореи."),
    ("uk", "У Пхеньяні заперечили відправлення військових до Росії",
     "МЗС КНДР назвало вигадкою повідомлення про те, що КНДР відправила військових до Росії."),
])
def test_a_denial_is_kept_with_its_fact_but_never_alerts(matcher, language, title, text):
    result = read(matcher, language, text, title)
    assert not result.matched
    assert result.kept and {f.status for f in result.facts} == {"denied"}


@pytest.mark.parametrize("language, text", [
    ("ko", "만약 러시아가 북한에 핵잠수함 기술을 이전한다면 한반도 정세가 크게 흔들릴 것이다."),
    ("ru", "Если Россия передаст КНДР технологии подводных лодок, баланс сил в регионе изменится."),
    ("uk", "Чи відправить КНДР до Росії нових військових?"),
])
def test_a_condition_or_a_question_is_no_report(matcher, language, text):
    assert not read(matcher, language, text).matched


@pytest.mark.parametrize("language, text", [
    ("ko", "북한이 오늘 오전 동해상으로 단거리 탄도미사일 2발을 발사했다고 합참이 밝혔다."),
    ("ru", "Россия и КНДР запустили прямое пассажирское авиасообщение между Москвой и Пхеньяном."),
    ("uk", "Іран передав Росії нову партію ударних дронів, повідомляє розвідка."),
    ("ko", "러시아와 이란이 포괄적 전략적 동반자 조약에 서명했다."),
])
def test_hard_negatives_stay_quiet(matcher, language, text):
    assert not read(matcher, language, text).matched


# ---- the language of an article -----------------------------------------------------------------

@pytest.mark.parametrize("text, declared, expected", [
    ("북한이 러시아에 병력을 보냈다고 국정원이 밝혔다. 군 당국은 추가 파병 가능성도 보고 있다.", "en", "ko"),
    ("Северокорейские военные участвуют в боях в Курской области, сообщил Генштаб.", None, "ru"),
    ("Північнокорейські військові беруть участь у боях на Курщині, повідомив Генштаб.", "ru", "uk"),
    ("North Korea has sent more artillery shells to Russia, Seoul's spy agency said.", "ko", "en"),
])
def test_the_text_decides_the_language_not_a_template_lang(text, declared, expected):
    assert detect(text, "", declared) == expected


def test_english_pages_are_read_as_before(matcher):
    text = "North Korea has sent about 3,000 more troops to Russia, Seoul's spy agency said on Monday."
    assert read(matcher, "en", text).facts == matcher.match("", text)[0].facts
    assert read(matcher, "en", text).facts[0].quantity == 3000


# ---- end to end: a crawl of pages in Russian and Ukrainian, alerts in every channel -------------

RU_REPORT = ("В Сеуле заявили, что КНДР передала России еще 120 реактивных систем залпового огня",
             ["Южнокорейская разведка сообщила депутатам, что КНДР передала России еще около 120 реактивных "
              "систем залпового огня и не менее 2 млн снарядов.",
              "По данным ведомства, часть систем уже замечена в Курской области."])
UK_REPORT = ("ГУР: КНДР готує до відправки в Росію ще кілька тисяч військових",
             ["Північна Корея готується відправити до Росії ще кілька тисяч військових, повідомили в Головному "
              "управлінні розвідки.",
              "За даними розвідки, нові підрозділи мають прибути на Курщину до кінця місяця."])


@pytest.mark.slow
def test_reports_in_russian_and_ukrainian_alert_in_every_channel_with_facts_in_english(tmp_path, capsys):
    """As a user runs it: an outlet publishing in Russian and Ukrainian, `wirewatch crawl`, alerts by
    email, Slack and webhook; then the desk lists and filters them by language."""
    import email as email_lib
    import email.policy
    import json
    import datetime as dt

    from aiosmtpd.controller import Controller

    from tests.conftest import write_config
    from tests.servers import Answer, Mailbox, Receiver, free_port
    from wirewatch.crawler.commands.cli import main
    from wirewatch.crawler.demo.localsite import LocalSite
    from wirewatch.crawler.demo.site import build_site

    now = dt.datetime.now(dt.timezone.utc)
    site = LocalSite(host="127.0.0.2").start()
    site.pages.update(build_site([
        {"slug": slug, "title": title, "author": "Редакция", "paragraphs": paragraphs, "lang": lang,
         "date": (now - dt.timedelta(hours=hours)).isoformat(timespec="seconds")}
        for slug, (title, paragraphs), lang, hours in (("ru/rszo", RU_REPORT, "ru", 3), ("uk/viiskovi", UK_REPORT, "uk", 2))],
        site.base))
    mailbox, receiver = Mailbox(), Receiver()
    smtp = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    smtp.start()
    try:
        receiver.script("/slack/T1/B1/x", Answer(200))
        receiver.script("/hook", Answer(200))
        config = write_config(tmp_path, [{"name": "outlet", "type": "feed", "url": site.url("/feed.xml"),
                                          "backlog": "alert"}],
                              channels=[{"type": "email", "host": "127.0.0.1", "port": smtp.port, "security": "none",
                                         "sender": "ww@example.org", "to": ["analyst@example.org"]},
                                        {"type": "slack", "url": receiver.url("/slack/T1/B1/x")},
                                        {"type": "webhook", "url": receiver.url("/hook")}])
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl"]) == 0

        hooks = {h["article"]["language"]: h for h in (json.loads(r.body) for r in receiver.at("/hook"))}
        assert set(hooks) == {"ru", "uk"}
        ru = hooks["ru"]
        assert ru["article"]["title"] == RU_REPORT[0]                               # the headline as published
        assert {(f["supplier"], f["recipient"], f["item"], f["quantity"], f["quantity_text"], f["status"])
                for f in ru["facts"]} == {("North Korea", "Russia", "rocket_launchers", 120, "about 120", "delivered"),
                                          ("North Korea", "Russia", "shells", 2_000_000, "at least 2 million",
                                           "delivered")}
        assert any("реактивных систем" in e["sentence"] for e in ru["evidence"])   # evidence in the original
        uk = hooks["uk"]["facts"]
        assert [(f["item"], f["quantity"], f["quantity_text"], f["status"]) for f in uk] == \
            [("troops", None, "several thousand", "planned")]

        mails = [email_lib.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in mailbox.messages]
        subjects = sorted(m["Subject"] for m in mails)
        assert subjects == sorted([f"[wirewatch] [RU] {RU_REPORT[0]}", f"[wirewatch] [UK] {UK_REPORT[0]}"])
        body = next(m for m in mails if "[RU]" in m["Subject"]).get_body(("plain",)).get_content()
        assert "Language: Russian (ru)" in body
        assert "North Korea → Russia: about 120 rocket launchers (delivered)" in body
        assert "North Korea → Russia: at least 2 million shells/ammunition (delivered)" in body

        slack = json.dumps([json.loads(r.body) for r in receiver.at("/slack/T1/B1/x")], ensure_ascii=False)
        assert f"[UK] {UK_REPORT[0]}" in slack and "Language: Ukrainian (uk)" in slack
        assert "North Korea → Russia: several thousand troops (planned)" in slack

        capsys.readouterr()
        assert main(["-c", str(config), "matches", "--language", "uk", "--format", "json"]) == 0
        listed = json.loads(capsys.readouterr().out)
        rows = listed["matches"] if isinstance(listed, dict) else listed
        assert [(m["article"]["title"], m["article"]["language"]) for m in rows] == [(UK_REPORT[0], "uk")]
        assert main(["-c", str(config), "matches", "--language", "en"]) == 0
        assert RU_REPORT[0] not in capsys.readouterr().out
        _walk_the_web_view_by_language(config, tmp_path)
    finally:
        smtp.stop()
        receiver.close()
        site.stop()


def _walk_the_web_view_by_language(config, tmp_path) -> None:
    """In a real browser: the language filter, the language column, and an article page marked up
    in its language with its facts in English (at phone width too)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from tests.servers import WebView
    from tests.test_desk_web import _browser, _shot, _submit

    web = WebView(config)
    browser = _browser()
    try:
        browser.get(web.base + "/matches?since=30d")
        assert len(browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")) == 2
        Select(browser.find_element(By.NAME, "language")).select_by_value("ru")
        _submit(browser, browser.find_element(By.CSS_SELECTOR, "form.filters button"))
        assert "language=ru" in browser.current_url
        [row] = browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")
        assert row.find_element(By.CSS_SELECTOR, "td[data-label=language]").text == "Russian"
        link = row.find_element(By.CSS_SELECTOR, "td[data-label=title] a")
        assert link.text == RU_REPORT[0] and link.get_attribute("lang") == "ru"
        assert "about 120 rocket launchers" in row.text
        _shot(browser, "matches-language-ru", tmp_path)
        _submit(browser, link)
        assert browser.find_element(By.CSS_SELECTOR, ".text").get_attribute("lang") == "ru"
        marked = [m.text for m in browser.find_elements(By.CSS_SELECTOR, ".text mark")]
        assert any("КНДР" in m for m in marked)                         # roles marked in the original
        facts = [r.text for r in browser.find_elements(By.CSS_SELECTOR, "table.grid tbody tr")]
        assert any("shells" in f and "at least 2 million" in f and "delivered" in f for f in facts), facts
        browser.set_window_size(400, 900)
        assert browser.execute_script("return document.documentElement.scrollWidth") <= 400
        _shot(browser, "article-language-ru-phone", tmp_path)
    finally:
        browser.quit()
        web.stop()
