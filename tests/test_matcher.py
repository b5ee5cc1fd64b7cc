"""The matcher held to a labelled corpus, and its parts held to what analysts rely on."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest
import yaml

from wirewatch.crawler.analysis.matching import Matcher, load_watch
from wirewatch.crawler.analysis.matching.amounts import amount_before
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer
from wirewatch.crawler.analysis.matching.query import TermIndex, evaluate, parse_query, terms_of
from wirewatch.crawler.commands.cli import main
from wirewatch.crawler.errors import ConfigError, QuerySyntaxError

DATA = Path(__file__).parent / "data"


def load_corpus() -> list[dict]:
    docs = []
    for path in sorted(DATA.glob("corpus_*.yaml")):
        for doc in yaml.safe_load(path.read_text(encoding="utf-8")):
            doc["label"] = doc["id"].startswith("p")
            docs.append(doc)
    return docs


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher([load_watch("nk-russia-aid")])


def test_corpus_precision_recall_and_facts_hold_their_floors(matcher):
    docs = load_corpus()
    negatives = [d for d in docs if not d["label"]]
    assert len(docs) >= 150 and len(negatives) / len(docs) >= 0.40
    tp = fp = fn = 0
    facts_expected = facts_found = 0
    misses = []
    for doc in docs:
        result = matcher.match(doc["title"], doc["text"])[0]
        tp += result.matched and doc["label"]
        fp += result.matched and not doc["label"]
        fn += doc["label"] and not result.matched
        if result.matched and doc["label"]:
            for expected in doc.get("facts", []):
                facts_expected += 1
                if any(all(getattr(f, k) == v for k, v in expected.items()) for f in result.facts):
                    facts_found += 1
                else:
                    misses.append((doc["id"], expected))
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert precision >= 0.95, f"precision {precision:.3f}"
    assert recall >= 0.90, f"recall {recall:.3f}"
    assert facts_found / facts_expected >= 0.95, misses


def test_seed_article_facts(matcher):
    text = (Path(__file__).resolve().parents[2] / "shared" / "examples" / "seed-article.txt")
    body = text.read_text(encoding="utf-8") if text.exists() else (
        "North Korea has provided significant military assistance to Russia, including around 200 long "
        "range artillery pieces. North Korea has already sent approximately 11,000 troops to support Russia "
        "in its war against Ukraine. Among them, around 300 have been killed.")
    result = matcher.match("", body)[0]
    facts = {(f.item, f.quantity, f.approx) for f in result.facts}
    assert result.matched and result.score >= 0.9
    assert ("artillery", 200, True) in facts
    assert ("troops", 11000, True) in facts
    assert ("casualties", 300, True) in facts
    troops = next(f for f in result.facts if f.item == "troops")
    assert (troops.supplier, troops.recipient) == ("North Korea", "Russia")
    evidence = result.evidence[0]
    for role in ("supplier", "item", "recipient"):
        span = evidence.spans[role]
        assert evidence.sentence[span.start:span.end] == span.text


@pytest.mark.parametrize("text, expected", [
    ("North Korea sent them", ["north_korea"]),
    ("South Korea and South Korean officials", ["south_korea", "south_korea"]),
    ("Korea is a peninsula", []),
    ("DPRK and the Kremlin and Kim Jong Un's envoy", ["north_korea", "russia", "north_korea"]),
    ("he told us in the US", ["united_states"]),
])
def test_gazetteer_word_boundaries_and_ambiguity(text, expected):
    assert [m.entity for m in Gazetteer.load().mentions(text)] == expected


@pytest.mark.parametrize("prefix, expected", [
    ("around 200 long range ", (200, True)), ("approximately 11,000 ", (11000, True)),
    ("thousands of ", (None, False)), ("1.5 million ", (1_500_000, False)),
    ("five thousand ", (5000, False)), ("12,000 ", (12000, False)), ("sent ", (None, False)),
    ("in 2024 ", (None, False)),
])
def test_quantities_in_news_prose(prefix, expected):
    amount = amount_before(prefix, len(prefix))
    assert ((amount.value, amount.approx) if amount else (None, False)) == expected


def test_boolean_query_operators():
    query = parse_query('("north korea*" OR dprk) AND russia* NOT "south korea" AND troops NEAR/3 moscow')
    index = TermIndex(terms_of(query))
    assert evaluate(query, index.scan("North Korean troops reached Moscow; Russia said. DPRK")) is not None
    assert evaluate(query, index.scan("North Korean troops left. Russia and Moscow were far away")) is None
    assert evaluate(query, index.scan("North Korean troops in Moscow, Russia, South Korea said")) is None


@pytest.mark.parametrize("query, position", [("(a AND b", 8), ("a AND", 5), ('"open', 0), ("a ) b", 2)])
def test_query_syntax_errors_point_at_the_position(query, position):
    with pytest.raises(QuerySyntaxError) as error:
        parse_query(query)
    assert error.value.position == position


def test_classify_reads_json_lines_and_answers_in_order_without_config(monkeypatch, capsys, tmp_path):
    monkeypatch.chdir(tmp_path)
    lines = [{"id": "a", "title": "Iran ships drones to Russia", "text": "Iran has shipped drones to Russia, while North Korea held a parade."},
             {"id": "b", "title": "Pyongyang sends shells",
              "text": "North Korea has sent 1 million artillery shells to Russia, officials said."}]
    stdin = "\n".join(json.dumps(line) for line in lines) + "\nnot json\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["classify", "--explain"]) == 0
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [o["id"] for o in out] == ["a", "b", None]
    assert out[0]["matched"] is False and "Iran" in " ".join(out[0]["explanation"])
    assert out[1]["matched"] is True and out[1]["watch"] == "nk-russia-aid"
    assert out[1]["facts"][0]["quantity"] == 1_000_000 and out[1]["facts"][0]["item"] == "shells"
    assert "error" in out[2]


def _watch_file(tmp_path, **extra) -> str:
    spec = {"name": "custom", "threshold": 0.6,
            "event": {"parties": ["north_korea", "russia"], "items": ["troops", "shells", "drones"]}}
    spec.update(extra)
    path = tmp_path / "custom.yaml"
    path.write_text(yaml.safe_dump(spec), encoding="utf-8")
    return str(path)


def test_a_watch_brings_its_own_entities_and_lexicon_without_touching_the_shared_ones(tmp_path):
    sentence = "Ruritania ferried 400 drones to Russia last month, customs records show."
    shared = Matcher([load_watch("nk-russia-aid")])
    custom = Matcher([load_watch(_watch_file(
        tmp_path, event={"parties": ["ruritania", "russia"], "items": ["drones"]},
        entities={"ruritania": {"label": "Ruritania", "name": ["Ruritania"], "demonym": ["Ruritanian"]}},
        lexicon={"verbs": {"give": ["ferry"]}}))])
    result = custom.match("", sentence)[0]
    assert result.matched and (result.facts[0].supplier, result.facts[0].quantity) == ("Ruritania", 400)
    assert "ferried" == result.evidence[0].spans["transfer"].text
    assert not shared.gaz.mentions("Ruritania") and "ferry" not in {
        lemma for _, _, (_, lemma) in shared.lex.verbs.find("they ferry it")}


def test_a_watch_may_override_any_score_by_name(tmp_path):
    text = "Analysts counted North Korean shells in Russia's depots near Bryansk."
    default = Matcher([load_watch(_watch_file(tmp_path))]).match("", text)[0]
    stricter = Matcher([load_watch(_watch_file(tmp_path, scoring={"item_without_verb": 0.4}))]).match("", text)[0]
    assert default.matched and default.score == pytest.approx(0.75)
    assert not stricter.matched and stricter.score == pytest.approx(0.4)
    with pytest.raises(ConfigError) as error:
        load_watch(_watch_file(tmp_path, scoring={"verb_befor_item": 0.9}))
    assert "scoring.verb_befor_item" in str(error.value)


def test_lowercase_operators_in_a_watch_query_are_warned_about_once(tmp_path, caplog):
    path = _watch_file(tmp_path, query='(dprk or pyongyang) and russia AND "rock and roll"')
    with caplog.at_level(logging.WARNING, logger="wirewatch"):
        load_watch(path)
        load_watch(path)
    warnings = [r.getMessage() for r in caplog.records if "lowercase" in r.getMessage()]
    assert len(warnings) == 1 and "'and', 'or'" in warnings[0]
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="wirewatch"):
        load_watch("nk-russia-aid")
    assert not [r for r in caplog.records if "lowercase" in r.getMessage()]


# Floors per pattern kind on tests/data/patterns_nk_russia.yaml: caught / total. Every hard
# negative stays rejected; the positive floors are what the matcher catches today (raise them).
PATTERN_FLOORS = {"weapon-use": 8, "combatants": 9, "labour": 9, "plans": 10, "assistance-nouns": 9,
                  "carried-subject": 5, "passing-mention": 10}


def test_each_reporting_pattern_holds_its_floor_and_no_hard_negative_matches(matcher):
    items = yaml.safe_load((DATA / "patterns_nk_russia.yaml").read_text(encoding="utf-8"))
    caught: dict[str, int] = {}
    false_alarms = []
    for item in items:
        result = matcher.match(item.get("title") or "", item["text"])[0]
        if item["id"].startswith("n") and result.matched:
            false_alarms.append((item["id"], item["kind"], result.rule))
        if item["id"].startswith("p"):
            caught[item["kind"]] = caught.get(item["kind"], 0) + result.matched
    assert not false_alarms
    assert {k: caught[k] for k in PATTERN_FLOORS if caught[k] < PATTERN_FLOORS[k]} == {}
    assert {item["kind"] for item in items if item["id"].startswith("n")} >= {
        "neg-iran-drones", "neg-sk-shells", "neg-russian-missiles", "neg-labourers", "neg-kursk-no-nk",
        "neg-missile-test", "neg-vague"}


def test_north_korean_weapons_used_by_russia_in_any_shape_become_facts(matcher):
    cases = {
        "Debris of a KN-23 was found in Kharkiv after the overnight Russian strike, police said.": "missiles",
        "Russian gunners near Kupiansk are firing North Korean-made 170mm guns, a Ukrainian officer said.": "artillery",
        "The use of North Korean Hwasong-11 missiles by Russia has grown since the summer.": "missiles",
        "Workers from North Korea are assembling Geran drones at Russia's Alabuga plant.": "labour",
    }
    for text, item in cases.items():
        result = matcher.match("", text)[0]
        assert result.matched, text
        assert any((f.supplier, f.recipient, f.item) == ("North Korea", "Russia", item) for f in result.facts), text
    for negative in ("North Korea test-fired an upgraded KN-23 into the sea on Tuesday, Seoul said.",
                     "Russian drones struck Kyiv overnight; separately, North Korea fired shells into the sea.",
                     "North Korean construction workers are building flats in Vladivostok, a newspaper said."):
        assert not matcher.match("", negative)[0].matched, negative


def test_the_second_watch_is_data_only_and_holds_its_own_floors():
    iran = load_watch("iran-russia-aid")
    items = yaml.safe_load((DATA / "watch_iran_russia.yaml").read_text(encoding="utf-8"))
    positives = [i for i in items if i["label"]]
    assert len(items) >= 80 and len(items) - len(positives) >= len(items) / 2 - 5
    matcher = Matcher([iran])
    verdicts = {i["id"]: matcher.match(i.get("title") or "", i["text"])[0] for i in items}
    tp = sum(verdicts[i["id"]].matched for i in positives)
    fp = sum(verdicts[i["id"]].matched for i in items if not i["label"])
    assert fp == 0                                          # precision 1.00 on its hard negatives
    assert tp / len(positives) >= 0.72, f"recall {tp / len(positives):.2f}"
    directions = [(f.supplier, f.recipient) for i in positives for f in verdicts[i["id"]].facts]
    assert ("Iran", "Russia") in directions and ("Russia", "Iran") in directions


def test_two_watches_in_one_matcher_keep_their_own_verdicts(matcher):
    both = Matcher([load_watch("nk-russia-aid"), load_watch("iran-russia-aid")])
    for path in sorted(DATA.glob("corpus_*.yaml")):
        for doc in yaml.safe_load(path.read_text(encoding="utf-8")):
            alone = matcher.match(doc.get("title") or "", doc["text"])[0]
            together = both.match(doc.get("title") or "", doc["text"])
            assert together[0].matched == alone.matched, doc["id"]
            if together[1].matched:                         # Iranian aid is never North Korean aid
                assert not any(f.supplier == "North Korea" for f in together[1].facts), doc["id"]


def test_plans_and_agreements_become_facts_whose_weight_the_watch_decides(tmp_path, matcher):
    plan = "Putin will ask Kim Jong Un for more artillery shells when they meet next month, officials said."
    deal = "North Korea and Russia agreed that Pyongyang will supply 5,000 more troops in exchange for oil."
    [planned] = [f for f in matcher.match("", plan)[0].facts if f.item == "shells"]
    assert (planned.supplier, planned.recipient, planned.status) == ("North Korea", "Russia", "planned")
    assert matcher.match("", plan)[0].severity == "medium"                    # the watch's data
    assert matcher.match("", deal)[0].facts[0].status in ("agreed", "planned")
    quiet = _watch_file(tmp_path, statuses={"planned": {"alert": False}, "agreed": {"severity": "critical"}})
    result = Matcher([load_watch(quiet)]).match("", plan)[0]
    assert result.matched and result.alert is False                          # stored, held back: status
    assert Matcher([load_watch("nk-russia-aid")]).match("", deal)[0].alert


def test_a_party_from_another_sentence_is_not_marked_in_this_one(matcher):
    # the recipient of "He ... secure" is carried from the previous sentence: the evidence names it
    # in the rule but marks no span in a sentence where it does not stand
    text = ("Russia's defence minister flew to Pyongyang on Tuesday. He hopes to secure further "
            "artillery shells during the visit, officials in Kyiv said. Pyongyang has already shipped "
            "millions of shells to Moscow.")
    result = matcher.match("", text)[0]
    fact = next(f for f in result.facts if f.item == "shells")
    assert (fact.supplier, fact.recipient) == ("North Korea", "Russia")
    evidence = next(e for e in result.evidence if "secure" in e.sentence)
    assert "carried from the previous sentence" in evidence.rule
    assert "recipient" not in evidence.spans and "supplier" not in evidence.spans
    assert evidence.spans["item"].text == "artillery shells"


@pytest.mark.parametrize("text, expected", [
    # a treaty clause ratified or invoked: both parties help each other, status from the sentence
    ("Moscow's parliament ratified the defence pact with Pyongyang on Friday, with a provision that "
     "commits each signatory to offer the other armed assistance should it be attacked.", "agreed"),
    ("North Korea's foreign ministry said its troops went to Kursk under the new treaty with Russia, "
     "whose fourth article obliges the two countries to lend each other military support.", None),
    # not a clause between the watched parties, or no help at all
    ("Seoul and Washington reaffirmed that each side will give the other military support if attacked, "
     "days after North Korea and Russia signed their own pact.", False),
    ("Russia and North Korea said they trust each other and will deepen military cooperation.", False),
])
def test_a_mutual_assistance_clause_between_the_parties(matcher, text, expected):
    result = matcher.match("", text)[0]
    assert result.matched == (expected is not False)
    if expected:
        assert {f.status for f in result.facts if f.item == "weapons"} == {expected}


@pytest.mark.parametrize("text, facts", [
    # an aside between the troops and their verb names their origin
    ("Three infantrymen, who Kyiv says served in a North Korean special operations brigade, were "
     "captured near Sudzha in Russia's Kursk region.", {("North Korea", "Russia", "troops")}),
    ("The gunners, reportedly from North Korea's artillery corps, are shelling Ukrainian positions "
     "from inside Russia.", {("North Korea", "Russia", "troops")}),
    # the partner in "fighting alongside Russian troops" is not sent anywhere: one direction only
    ("North Korean soldiers are fighting alongside Russian troops in the Kursk region.",
     {("North Korea", "Russia", "troops")}),
    # an aside naming no origin gives none
    ("The soldiers, exhausted after weeks of shelling, were captured near Sudzha in Russia's Kursk region.", set()),
])
def test_an_aside_names_the_troops_origin_and_partners_are_not_sent(matcher, text, facts):
    result = matcher.match("", text)[0]
    assert {(f.supplier, f.recipient, f.item) for f in result.facts} == facts


@pytest.mark.parametrize("text, fact", [
    # the item is a pronoun for the previous sentence's
    ("Border guards photographed a column of rocket launchers near Belgorod on Monday. Moscow's army took "
     "delivery of about forty of them from Pyongyang last month, an analyst said.",
     ("North Korea", "Russia", "rocket_launchers")),
    # the origin is a predicate some words after the item
    ("Most of the mortar shells landing on Huliaipole this winter were of North Korean manufacture, "
     "according to a brigade fired on by Russian gunners there.", ("North Korea", "Russia", "shells")),
    ("The howitzer, a North Korean design, was fired by Russian gunners near Kreminna, the brigade said.",
     ("North Korea", "Russia", "artillery")),
])
def test_an_item_carried_by_pronoun_or_placed_by_a_predicate(matcher, text, fact):
    result = matcher.match("", text)[0]
    assert result.matched and fact in {(f.supplier, f.recipient, f.item) for f in result.facts}


def test_a_pronoun_item_with_no_earlier_item_moves_nothing(matcher):
    text = ("Putin met Kim Jong Un in Pyongyang on Wednesday. Russia received many of them warmly at the "
            "airport, state media said.")
    assert not matcher.match("", text)[0].matched


def test_rules_generalise_to_a_set_they_were_not_written_for(matcher):
    items = yaml.safe_load((DATA / "phrasings_nk_russia.yaml").read_text(encoding="utf-8"))
    verdicts = {i["id"]: matcher.match("", i["text"])[0].matched for i in items}
    positives = [i["id"] for i in items if i["label"]]
    assert [i["id"] for i in items if not i["label"] and verdicts[i["id"]]] == []     # no false alarm
    assert sum(verdicts[i] for i in positives) >= 21, f"{sum(verdicts[i] for i in positives)}/{len(positives)}"


@pytest.mark.parametrize("text, facts", [
    # what one side gives in exchange, the other gives back
    ("North Korea has shipped artillery shells to Russia in return for air defence systems, Seoul says.",
     {("North Korea", "Russia", "shells"), ("Russia", "North Korea", "air_defence")}),
    # "they" after a sentence naming both leaders: the parties in the order it named them
    ("Kim Jong Un received Vladimir Putin at Pyongyang airport on Tuesday. They discussed ammunition in "
     "exchange for space technology, according to people briefed on the talks.",
     {("North Korea", "Russia", "shells"), ("Russia", "North Korea", "technology")}),
    # the name right after "give" receives ("give North Korea fighter jets"), it is not the jets' maker
    ("Moscow will give North Korea fighter jets in return for more troops, a defector said.",
     {("Russia", "North Korea", "aircraft"), ("North Korea", "Russia", "troops")}),
    # a state that attacks "with" a foreign weapon uses it; the weapon's maker receives no troops
    ("Moscow's army pounded Zaporizhzhia with North Korean rockets on Friday.",
     {("North Korea", "Russia", "shells")}),
    ("Russian troops shelled Siversk with North Korean howitzers overnight, the brigade said.",
     {("North Korea", "Russia", "artillery")}),
    # the maker acting on its own weapon: a test, not a weapon Russia fired
    ("Russia struck Odesa with Kalibr missiles a day after North Korea tested a KN-25 over the sea.", set()),
])
def test_exchanges_and_attacks_with_foreign_weapons(matcher, text, facts):
    result = matcher.match("", text)[0]
    assert {(f.supplier, f.recipient, f.item) for f in result.facts} == facts
    assert result.matched == bool(facts)


def test_in_return_as_a_sentence_adverb_is_no_agreement(matcher):
    text = ("North Korea has sent engineers to Russia's Kursk region. In return, Moscow is expected to share "
            "submarine technology with Pyongyang, officials in Seoul said.")
    facts = {(f.supplier, f.item): f.status for f in matcher.match("", text)[0].facts}
    assert facts[("Russia", "technology")] == "planned"
