"""Stories: one alert per real-world event however many outlets tell it, and another only for a
report that adds something material, threaded to the first in every channel.

The reports here are our own words, written after reading how outlets cover one event; the
events, outlets and figures are invented."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import json
import random
from pathlib import Path

import pytest
import requests
import yaml
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from tests.conftest import write_config
from tests.servers import Answer, Mailbox, Receiver, WebView, free_port
from tests.story_replay import replay
from wirewatch.alerts.outbox import Dispatcher
from wirewatch.alerts.routing import Routes
from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.conf.load import load_config
from wirewatch.crawler.demo.localsite import LocalSite
from wirewatch.crawler.demo.site import build_site
from wirewatch.crawler.records import AlertPolicy, ArticleItem, Extracted, PageAnalysis
from wirewatch.crawler.store.database import open_database
from wirewatch.crawler.store.ingest import ingest
from wirewatch.crawler.store.schema import Article, MatchRow, Outbox, Story

DAY0 = dt.datetime.now(dt.timezone.utc).replace(microsecond=0) - dt.timedelta(days=11)   # reports span 11 days
WATCH = Path(__file__).resolve().parents[1] / "config" / "watches" / "nk-russia-aid.yaml"


class Desk:
    """A database and the real ingest path, fed report by report as a crawl would."""

    def __init__(self, tmp_path: Path, tolerance: float | None = None, channels: list[dict] | None = None):
        watch = WATCH
        if tolerance is not None:                      # the watch key an operator would set
            data = yaml.safe_load(WATCH.read_text(encoding="utf-8"))
            data["figure_tolerance"] = tolerance
            watch = tmp_path / "nk-russia-aid.yaml"
            watch.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
        self.path = write_config(tmp_path, [], watches=[{"include": str(watch)}],
                                 channels=channels or [{"type": "console"}],
                                 alerts={"backoff": "0.2s", "backoff_max": "1s", "max_age": "30d"})
        self.config = load_config(self.path)
        self.sessions = open_database(self.config.storage, self.config.base_dir)
        self.matcher = Matcher([load_watch(str(watch))])
        self.policy = AlertPolicy(frozenset(), self.config.alerts.max_age,
                                  tolerances=((self.matcher.watches[0].name,
                                               self.matcher.watches[0].spec.figure_tolerance),))

    def report(self, outlet: str, slug: str, title: str, text: str, hours: float, language: str = "en") -> int:
        """Ingest one report published `hours` after DAY0; the alerts it queued."""
        url = f"https://{outlet}.example/{slug}"
        published = (DAY0 + dt.timedelta(hours=hours)).isoformat()
        item = ArticleItem(source=outlet, url=url, canonical=url, requested=url, html=b"")
        matches = tuple(r for r in self.matcher.match(title, text, language=language) if r.stored)
        extracted = Extracted(text=text, title=title, published=published, author=None, sitename=None,
                              language=language)
        return ingest(self.sessions, item, PageAnalysis(extracted, matches=matches), Routes.of(self.config),
                      self.policy).alerts

    def stories(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count()).select_from(Story))

    def news(self, slug: str) -> list[str] | None:
        """What the story rules judged the report to add (None: it started its story)."""
        with self.sessions() as session:
            return session.scalars(select(MatchRow.news).join(Article, Article.id == MatchRow.article_id)
                                   .where(Article.url.like(f"%/{slug}"))).one()


# ---- the replay corpus -------------------------------------------------------------------------

def test_replay_of_many_outlets_alerts_about_once_per_event_and_again_only_for_news(tmp_path):
    """185 reports of 31 events from six outlets, crawl by crawl, through the real ingest."""
    result = replay(tmp_path)
    assert result.missed_events == []                        # every event that should alert did
    assert result.hidden_events == [] and result.wrong_merges == []
    assert result.false_alerts == []                         # unrelated reports never alert
    assert len(result.repeat_alerts) <= 2, result.repeat_alerts
    assert len(result.missed_follow_ups) <= 2, result.missed_follow_ups
    assert result.alerts / result.alerting_events <= 1.7      # old headline clustering: 2.2
    # an event told by several outlets with nothing added alerts once
    assert result.per_event["e21"] == 1 and result.per_event["e31"] == 1
    assert result.per_event["e04"] == 0                       # a Kremlin non-answer never alerts


# ---- one event, many outlets -------------------------------------------------------------------

KOKSAN_A = ("Koksan guns pictured on a Russian train",
            "A photograph shared by Ukrainian military bloggers shows about 20 North Korean Koksan self-propelled "
            "guns loaded on flatcars in Russia's Far East. Analysts said the 170mm guns were being moved west "
            "by rail.")
KOKSAN_B = ("Pyongyang's long-range howitzers head west across Russia",
            "Some 20 of North Korea's Koksan howitzers have been photographed on a freight train heading west "
            "through Russia, according to open-source analysts. The guns can fire shells more than 40km.")
KOKSAN_REPEAT = ("What the 20 Koksan guns mean for the front",
                 "The 20 Koksan guns North Korea shipped to Russia give Moscow's artillery extra reach, analysts "
                 "said. Kyiv has long said Pyongyang supplies Moscow with shells.")
KOKSAN_MORE = ("Ukraine now counts 50 Koksan guns sent to Russia",
               "Ukraine's military intelligence said North Korea has now delivered about 50 Koksan "
               "self-propelled guns to Russia, more than twice the number seen on trains last month.")
TOKMAK_A = ("North Korean troops seen near Tokmak",
            "Ukraine's military said on Monday that about 1,000 North Korean soldiers have been deployed to the "
            "Zaporizhzhia front near Tokmak, where they are building fortifications.")
TOKMAK_B = ("Kyiv: a thousand of Kim's soldiers dig in by Tokmak",
            "Around 1,000 troops from North Korea are working on defensive lines around occupied Tokmak in the "
            "Zaporizhzhia region, Ukrainian officers said.")


def test_two_outlets_and_a_repeat_make_one_story_and_one_alert(tmp_path):
    desk = Desk(tmp_path)
    assert desk.report("ledger", "koksan", *KOKSAN_A, hours=0) == 1
    assert desk.report("wire", "howitzers", *KOKSAN_B, hours=3) == 0
    assert desk.report("ledger", "tokmak", *TOKMAK_A, hours=4) == 1
    assert desk.report("wire", "tokmak-lines", *TOKMAK_B, hours=6) == 0
    assert desk.report("ledger", "what-it-means", *KOKSAN_REPEAT, hours=20) == 0     # restates the 20
    assert desk.stories() == 2
    assert desk.report("wire", "fifty", *KOKSAN_MORE, hours=30) == 1                 # 20 → 50: news
    assert desk.stories() == 2
    [line] = desk.news("fifty")
    assert line.startswith("North Korea → Russia: about 50 artillery") and "figure changed" in line


def _outlet(host: str, name: str, reports: list[tuple[str, tuple[str, str], float]]) -> LocalSite:
    """A local news site on its own loopback address: article pages and an RSS feed."""
    site = LocalSite(host=host).start()
    publish(site, name, reports)
    return site


def publish(site: LocalSite, name: str, reports: list[tuple[str, tuple[str, str], float]]) -> None:
    now = dt.datetime.now(dt.timezone.utc)
    articles = [{"slug": slug, "title": title, "author": f"{name} staff", "paragraphs": text.split(". "),
                 "date": (now - dt.timedelta(hours=hours_ago)).isoformat(timespec="seconds")}
                for slug, (title, text), hours_ago in reports]
    site.pages.update(build_site(articles, site.base))


@pytest.mark.slow
def test_two_outlets_crawled_alert_once_per_event_and_again_for_a_new_figure(tmp_path):
    """As a user runs it: two outlets' feeds, `wirewatch crawl`, a webhook receiving the alerts."""
    receiver = Receiver()
    hook = receiver.script("/hook", Answer(200))
    a = _outlet("127.0.0.2", "Ledger", [("koksan", KOKSAN_A, 30), ("tokmak", TOKMAK_A, 26)])
    b = _outlet("127.0.0.3", "Wire", [("howitzers", KOKSAN_B, 27), ("tokmak-lines", TOKMAK_B, 24)])
    try:
        config = write_config(tmp_path, [
            {"name": "ledger", "type": "feed", "url": a.url("/feed.xml"), "backlog": "alert"},
            {"name": "wire", "type": "feed", "url": b.url("/feed.xml"), "backlog": "alert"}],
            channels=[{"type": "webhook", "url": hook}], alerts={"max_age": "7d"})
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl"]) == 0
        first = [json.loads(r.body) for r in receiver.at("/hook")]
        assert len(first) == 2                                   # Koksan guns, troops near Tokmak
        assert sorted(len(x["story"]["title"]) > 0 for x in first) == [True, True]

        publish(a, "Ledger", [("koksan", KOKSAN_A, 30), ("tokmak", TOKMAK_A, 26), ("what-it-means", KOKSAN_REPEAT, 6)])
        publish(b, "Wire", [("howitzers", KOKSAN_B, 27), ("tokmak-lines", TOKMAK_B, 24), ("fifty", KOKSAN_MORE, 2)])
        assert main(["-c", str(config), "--log-level", "WARNING", "crawl"]) == 0
        [update] = [json.loads(r.body) for r in receiver.at("/hook")][2:]
        koksan = next(x for x in first if x["article"]["url"].endswith(("/koksan.html", "/howitzers.html")))
        assert update["story"]["first_alert_id"] == koksan["id"] and update["story"]["alerts"] == 2
        assert [(f["item"], f["quantity"], f["why"]) for f in update["new_facts"]] == [("artillery", 50, "figure changed")]
        assert main(["-c", str(config), "stories"]) == 0
    finally:
        a.stop()
        b.stop()
        receiver.close()


def test_reports_from_one_template_with_other_figures_and_places_stay_apart(tmp_path):
    """'North Korea sent N X to Russia for use near P, says Y': 120 distinct events, and a second
    outlet's rewrite of every fourth one, which joins its event."""
    desk = Desk(tmp_path)
    rng = random.Random(20)
    places = ["Kursk", "Belgorod", "Bryansk", "Kharkiv", "Sumy", "Toretsk", "Pokrovsk", "Kupiansk", "Kherson",
              "Zaporizhzhia", "Donetsk", "Luhansk", "Bakhmut", "Avdiivka", "Vuhledar", "Kramatorsk", "Sloviansk",
              "Lyman", "Siversk", "Huliaipole", "Orikhiv", "Vovchansk", "Melitopol", "Mariupol"]
    things = [("artillery pieces", "guns"), ("rocket launchers", "launchers"), ("ballistic missiles", "missiles"),
              ("attack drones", "drones"), ("anti-aircraft guns", "guns")]
    says = ["Seoul's defence ministry", "Ukraine's military intelligence", "a British defence update",
            "the Estonian military", "a Ukrainian army spokesman"]
    figures = rng.sample(range(12, 900), 120)
    events = [(figures[i], things[i % len(things)], places[i % len(places)], says[i % len(says)])
              for i in range(120)]
    alerts = 0
    for i, (n, (thing, short), place, source) in enumerate(events):
        alerts += desk.report("ledger", f"t{i}", f"North Korea sent {n} {thing} to Russia for use near {place}, "
                              f"says {source}",
                              f"North Korea sent {n} {thing} to Russia for use near {place}, {source} said on "
                              f"Tuesday. The claim could not be verified.", hours=i * 0.5)
        if i % 4 == 0:
            alerts += desk.report("wire", f"r{i}", f"{source.capitalize()}: Pyongyang's {short} reach {place} front",
                                  f"{n} North Korean {thing} have reached Russia and are in use around {place}, "
                                  f"according to {source}.", hours=i * 0.5 + 0.2)
    assert alerts == 120
    assert desk.stories() == 120
    with desk.sessions() as session:
        sizes = sorted(session.scalars(select(Story.articles)))
    assert sizes.count(2) == 30 and sizes.count(1) == 90


# ---- what is news ----------------------------------------------------------------------------

FIRST = ("North Korea has sent about 11,000 troops to Russia's Kursk region, Seoul says",
         "South Korea's National Intelligence Service said on Monday that North Korea has sent about 11,000 "
         "soldiers to Russia, most of them to the Kursk region.")
NEAR = ("Seoul puts North Korean force in Kursk at 10,500",
        "North Korea has deployed some 10,500 troops to Russia's Kursk region, the NIS told lawmakers.")
HALF_AGAIN = ("North Korean contingent in Kursk grows to 16,500, NIS says",
              "North Korea has now sent about 16,500 troops to Russia's Kursk region, the NIS said, half as "
              "many again as its estimate a day earlier.")


def test_a_figure_within_the_tolerance_is_no_news_and_one_beyond_it_is(tmp_path):
    desk = Desk(tmp_path)
    assert desk.report("ledger", "first", *FIRST, hours=0) == 1
    assert desk.report("wire", "near", *NEAR, hours=3) == 0              # 10,500 against 11,000: 5%
    assert desk.report("post", "half", *HALF_AGAIN, hours=26) == 1       # 16,500: 50% more
    assert desk.stories() == 1
    assert desk.news("near") == []
    [line] = desk.news("half")
    assert line == "North Korea → Russia: about 16,500 troops (deployed) — figure changed"


def test_the_figure_tolerance_is_a_watch_key(tmp_path):
    desk = Desk(tmp_path, tolerance=0.6)
    assert desk.report("ledger", "first", *FIRST, hours=0) == 1
    assert desk.report("post", "half", *HALF_AGAIN, hours=26) == 0       # within 60%
    assert desk.stories() == 1


def test_a_plan_that_becomes_a_delivery_alerts_again_and_says_so(tmp_path):
    desk = Desk(tmp_path)
    assert desk.report("ledger", "plan", "Russia to give North Korea Pantsir air defence systems, monitors say",
                       "Russia is preparing to hand North Korea Pantsir short-range air-defence systems to guard "
                       "Pyongyang, an international sanctions monitoring group said.", hours=0) == 1
    assert desk.report("wire", "plan-2", "Moscow readies Pantsir systems for Pyongyang",
                       "Moscow plans to supply Pantsir air-defence systems to North Korea, according to a "
                       "report by sanctions monitors.", hours=5) == 0
    assert desk.report("post", "done", "First Russian Pantsir now guards Pyongyang, Kyiv says",
                       "Russia has delivered a Pantsir air-defence system to North Korea and it is now deployed "
                       "around Pyongyang, Ukraine's military intelligence chief said.", hours=40) == 1
    assert desk.stories() == 1
    assert any("planned → delivered" in line and "air defence" in line for line in desk.news("done"))


def test_background_restated_neither_pulls_a_new_event_in_nor_counts_as_its_news(tmp_path):
    desk = Desk(tmp_path)
    assert desk.report("ledger", "first", *FIRST, hours=0) == 1
    # ten days later: a new deployment, told against the old one
    assert desk.report("wire", "second-wave", "North Korea sends 3,000 more troops to Russia, Seoul says",
                       "North Korea has dispatched about 3,000 additional soldiers to Russia this month, South "
                       "Korea's military said on Tuesday. They come on top of the roughly 11,000 troops sent "
                       "to the Kursk region last year.", hours=240) == 1
    assert desk.stories() == 2
    # and an explainer that only restates both joins the new one quietly
    assert desk.report("post", "explainer", "Why North Korea keeps sending soldiers to Russia",
                       "The 3,000 extra North Korean troops sent to Russia this month follow the 11,000 sent "
                       "last year, analysts note.", hours=250) == 0
    assert desk.stories() == 2


# ---- follow-ups thread -------------------------------------------------------------------------

@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, controller.port
    controller.stop()


def test_follow_ups_thread_in_email_slack_and_webhook(tmp_path, smtp):
    mailbox, port = smtp
    receiver = Receiver()
    try:
        receiver.script("/slack/T1/B1/x", Answer(200))
        receiver.script("/hook", Answer(200))
        desk = Desk(tmp_path, channels=[
            {"type": "email", "host": "127.0.0.1", "port": port, "security": "none", "sender": "ww@example.org",
             "to": ["analyst@example.org"]},
            {"type": "slack", "url": receiver.url("/slack/T1/B1/x")},
            {"type": "webhook", "url": receiver.url("/hook")}])
        assert desk.report("ledger", "first", *FIRST, hours=0) == 3
        assert desk.report("wire", "near", *NEAR, hours=3) == 0
        assert desk.report("post", "half", *HALF_AGAIN, hours=26) == 3
        dispatcher = Dispatcher(desk.config, desk.sessions)
        try:
            dispatcher.drain(10)
        finally:
            dispatcher.close()

        first, follow = (email.message_from_bytes(raw, policy=email.policy.default) for _, _, raw in mailbox.messages)
        assert follow["In-Reply-To"] == first["Message-ID"] and first["Message-ID"] in follow["References"]
        assert follow["Subject"] == f"Re: [wirewatch] {FIRST[0]}"
        body = follow.get_body(("plain",)).get_content()
        assert "New since the first report:" in body and "about 16,500 troops (deployed)" in body

        hooks = [json.loads(r.body) for r in receiver.at("/hook")]
        assert hooks[0]["story"]["alerts"] == 1 and hooks[0]["new_facts"] == []
        assert hooks[1]["story"]["first_alert_id"] == hooks[0]["id"] and hooks[1]["story"]["alerts"] == 2
        assert [f["quantity"] for f in hooks[1]["new_facts"]] == [16500]
        assert hooks[1]["new_facts"][0]["why"] == "figure changed"

        slack = [json.loads(r.body) for r in receiver.at("/slack/T1/B1/x")]
        assert "Update to" not in json.dumps(slack[0])
        assert f"Update to: {FIRST[0]}" in json.dumps(slack[1], ensure_ascii=False)
    finally:
        receiver.close()


# ---- regrouping and the desk -------------------------------------------------------------------

def test_rescan_restory_regroups_under_the_new_rules_and_sends_nothing(tmp_path, capsys):
    desk = Desk(tmp_path, tolerance=0.2)
    desk.report("ledger", "first", *FIRST, hours=0)
    desk.report("post", "half", *HALF_AGAIN, hours=26)
    with desk.sessions() as session:
        queued = session.scalar(select(func.count()).select_from(Outbox))
    # the operator decides a 50% change is the same estimate, revised
    watch = tmp_path / "nk-russia-aid.yaml"
    data = yaml.safe_load(watch.read_text(encoding="utf-8"))
    data["figure_tolerance"] = 0.6
    watch.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")

    with desk.sessions() as session:
        story = session.scalars(select(Story.id)).first()
    assert main(["-c", str(desk.path), "note", str(story), "Check the NIS briefing", "--by", "mina"]) == 0
    shown = json.loads(_stories_json(capsys, desk.path))
    assert main(["-c", str(desk.path), "rescan", "--restory"]) == 0
    out = capsys.readouterr().out
    assert "nothing was sent" in out and "1 stories before, 1 after" in out
    again = json.loads(_stories_json(capsys, desk.path))      # the note and the found times stay
    assert again[0]["note"] == shown[0]["note"] and again[0]["note"]["by"] == "mina"
    assert (again[0]["first_seen"], again[0]["last_seen"]) == (shown[0]["first_seen"], shown[0]["last_seen"])
    assert desk.news("half") == []                     # within 60% now: it adds nothing
    with desk.sessions() as session:
        assert session.scalar(select(func.count()).select_from(Outbox)) == queued

    data["figure_tolerance"] = 0.05                    # and back: the 50% change is news again
    watch.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    assert main(["-c", str(desk.path), "rescan", "--restory"]) == 0
    assert desk.news("half") == ["North Korea → Russia: about 16,500 troops (deployed) — figure changed"]


def _stories_json(capsys, path) -> str:
    capsys.readouterr()
    assert main(["-c", str(path), "stories", "--format", "json", "--since", "30d"]) == 0
    return capsys.readouterr().out


def test_the_story_page_shows_what_each_report_added(tmp_path):
    desk = Desk(tmp_path)
    desk.report("ledger", "first", *FIRST, hours=0)
    desk.report("wire", "near", *NEAR, hours=3)
    desk.report("post", "half", *HALF_AGAIN, hours=26)
    with desk.sessions() as session:
        story = session.scalars(select(Story.id)).one()
    web = WebView(desk.path)
    try:
        page = html.unescape(requests.get(f"{web.base}/stories/{story}", timeout=10).text)
    finally:
        web.stop()
    first, near, half = (page.index(title) for title in (FIRST[0], NEAR[0], HALF_AGAIN[0]))
    assert first < near < half                         # in order of publication
    assert "First report:" in page[first:near] and "added nothing new" in page[near:half]
    assert "New since the first report:" in page[half:]
    assert "about 16,500 troops (deployed) — figure changed" in page[half:]


def test_one_event_told_in_three_languages_is_one_story_and_only_new_facts_alert_again(tmp_path):
    """Seoul's briefing breaks in Korean, the English wire repeats it, a Russian outlet repeats it
    too: one story, one alert. A Ukrainian report that the troops have now arrived (planned →
    deployed) is news, in any language."""
    desk = Desk(tmp_path)
    assert desk.report("hankyeol", "nk-sappers", "국정원 \"북한, 러시아 쿠르스크에 공병 3천명 보낼 계획\"",
                       "국가정보원은 북한이 러시아 쿠르스크 지역에 공병 약 3천 명을 보낼 계획이라고 국회 정보위원회에 "
                       "보고했다. 국정원은 이들이 지뢰 제거 작업에 투입될 것으로 내다봤다.", 1, "ko") == 1
    assert desk.report("wire", "nk-engineers", "North Korea plans to send 3,000 sappers to Kursk, Seoul's spies say",
                       "North Korea plans to send about 3,000 military engineers to Russia's Kursk region to clear "
                       "mines, South Korea's National Intelligence Service told lawmakers.", 5) == 0
    assert desk.report("vedomosti", "kndr-sapery", "В Сеуле заявили о планах КНДР направить саперов в Курскую область",
                       "По данным южнокорейской разведки, КНДР планирует направить в Курскую область России около "
                       "3 тысяч военных саперов для разминирования.", 8, "ru") == 0
    assert desk.stories() == 1 and desk.news("nk-engineers") == [] and desk.news("kndr-sapery") == []
    assert desk.report("dzerkalo", "sapery-kndr", "ГУР: північнокорейські сапери вже прибули на Курщину",
                       "Як повідомляє ГУР, близько 3 тисяч саперів з КНДР вже прибули до Курської області Росії "
                       "і розміщені поблизу Суджі.", 30, "uk") == 1
    assert desk.stories() == 1
    added = " ".join(desk.news("sapery-kndr"))
    assert "planned → deployed" in added
