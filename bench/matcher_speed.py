"""Matcher cost against extraction cost on the 181 corpus pages.

    python bench/matcher_speed.py              # corpus figures, each language, then the poison-page line
    python bench/matcher_speed.py --poison     # only the poison-page line (1, 5, 10 MB)
    python bench/matcher_speed.py --languages  # only the Korean, Russian and Ukrainian lines and memory

Classifies the extracted text with the default watch, then with 100 and 1,000 generated watches
(random party pairs from the gazetteer, keyword queries over their names), and prints docs/s and
MB/s on one core, next to trafilatura's extraction time on the same pages.
Per language (Korean, Russian, Ukrainian): pages built from our own corpora (tests/data/lang, five
reports to a page inside an outlet-like template), extracted by trafilatura, their language detected,
then matched; and the memory the analysers add to an analysis process (RSS before and after
`Matcher.load_languages()`, in a fresh process).
Goals: default watch < 10% of extraction time, in every language; 1,000 watches < 50%; the
analysers add at most 300 MB."""

from __future__ import annotations

import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # bench._corpus; wirewatch is installed

from bench._corpus import pages  # noqa: E402
from wirewatch.crawler.analysis.extract import extract  # noqa: E402
from wirewatch.crawler.analysis.matching import Matcher, load_watch  # noqa: E402
from wirewatch.crawler.analysis.matching.gazetteer import Gazetteer  # noqa: E402
from wirewatch.crawler.analysis.matching.watches import Watch, WatchSpec  # noqa: E402
from wirewatch.crawler.errors import NotAnArticle  # noqa: E402

ITEMS = ["troops", "artillery", "shells", "missiles", "rocket_launchers", "drones", "air_defence",
         "weapons", "aircraft", "technology"]


def generated_watches(count: int, seed: int = 7) -> list[Watch]:
    rng = random.Random(seed)
    gazetteer = Gazetteer.load()
    entities = sorted(gazetteer.labels)
    watches = []
    for i in range(count):
        a, b = rng.sample(entities, 2)
        name_a, name_b = gazetteer.label(a).lower(), gazetteer.label(b).lower()
        extra = rng.choice(["war", "military", "minister", "deal", "sanctions", "army", "talks"])
        query = f'("{name_a}*" OR "{name_b}*") AND ({extra} OR "{name_b}") NOT "test {i}"'
        watches.append(Watch(WatchSpec(name=f"gen-{i}", query=query, threshold=0.6, event={
            "parties": [a, b], "items": rng.sample(ITEMS, rng.randint(2, 6))})))
    return watches


def main() -> None:
    corpus = pages()
    docs, started = [], time.perf_counter()
    for page_id, html in corpus.items():
        try:
            e = extract(html, f"http://127.0.0.1/{page_id}")
            docs.append((e.title or "", e.text))
        except NotAnArticle:
            pass
    extraction = time.perf_counter() - started
    megabytes = sum(len(t.encode()) + len(x.encode()) for t, x in docs) / 1e6
    print(f"extraction (trafilatura): {len(corpus)} pages in {extraction:.2f} s; "
          f"{len(docs)} texts, {megabytes:.2f} MB")
    default = load_watch("nk-russia-aid")
    ungated = Watch(default.spec.model_copy(update={"query": None, "name": "nk-russia-aid-ungated"}))
    both = [default, load_watch("iran-russia-aid")]
    for label, watches in [("default watch", [default]),
                           ("both shipped watches (nk-russia-aid + iran-russia-aid)", both),
                           ("default, no keyword gate (event analysis on every text)", [ungated]),
                           ("100 watches", generated_watches(100)),
                           ("1,000 watches", generated_watches(1000))]:
        matcher = Matcher(watches)
        matcher.match(*docs[0])                                  # warm up
        started = time.perf_counter()
        matched = sum(any(r.matched for r in matcher.match(title, text)) for title, text in docs)
        elapsed = time.perf_counter() - started
        print(f"{label}: {elapsed:6.3f} s  {len(docs) / elapsed:8.1f} docs/s  "
              f"{megabytes / elapsed:6.2f} MB/s (1 core)  = {100 * elapsed / extraction:5.1f}% of extraction"
              f"  [{matched} docs matched]")


_POISON = ["Pyongyang has sent {n} troops to Russia, the ministry said.",
           "Around {n} North Korean soldiers have been killed in Kursk.",
           "North Korea supplied {n} artillery shells to Moscow last month.",
           "Russia has fired {n} North Korean KN-23 missiles at Ukrainian cities."]


def poison_text(size: int) -> str:
    """Text made only of matching sentences with distinct figures: the worst case for facts."""
    parts, total, n = [], 0, 0
    while total < size:
        sentence = _POISON[n % len(_POISON)].format(n=1000 + n)
        parts.append(sentence)
        total += len(sentence) + 1
        n += 1
    return " ".join(parts)


def poison_pages(sizes_mb=(1, 5, 10)) -> None:
    """The matcher alone (no text cap) on pages full of matching sentences: time must grow
    linearly with size (issue: a 9 MB page once took minutes)."""
    matcher = Matcher([load_watch("nk-russia-aid")])
    for size in sizes_mb:
        text = poison_text(size * 1_000_000)
        started = time.perf_counter()
        [result] = matcher.match("North Korea sends troops to Russia", text)
        elapsed = time.perf_counter() - started
        print(f"poison page {size:>2} MB of matching text: {elapsed:6.2f} s "
              f"({size / elapsed:5.2f} MB/s, {len(result.facts)} facts)")


def language_pages(code: str, dense: bool = False) -> list[bytes]:
    """Real outlet pages (the corpus pages' own markup and boilerplate) carrying our reports in the
    language: one report (or hard negative) as the article of each page, as outlets publish them;
    or, `dense`, every paragraph replaced by reports, as long as the paragraph it replaces (the
    worst case: a long page made only of reports)."""
    import re
    import yaml
    items = yaml.safe_load((Path(__file__).resolve().parents[1] / "tests" / "data" / "lang" / f"{code}.yaml")
                           .read_text(encoding="utf-8"))
    texts = [(i.get("title") or "", i.get("text") or "") for i in items]
    out, at = [], 0
    for html in pages().values():
        page = html.decode("utf-8", "replace")
        if dense:
            def ours(m: re.Match) -> str:
                nonlocal at
                wanted, said = len(re.sub(r"<[^>]+>", "", m.group(2))), []
                while sum(map(len, said)) < wanted:
                    said.append(" ".join(texts[at % len(texts)]).strip())
                    at += 1
                return f"{m.group(1)}{' '.join(said)}</p>"
            page = re.sub(r"(<p[^>]*>)(.*?)</p>", ours, page, flags=re.S)
        else:
            title, text = texts[at % len(texts)]
            at += 1
            first = [True]

            def one(m: re.Match) -> str:
                if first[0]:
                    first[0] = False
                    return f"{m.group(1)}{text or title}</p>"
                return ""
            page = re.sub(r"(<p[^>]*>)(.*?)</p>", one, page, flags=re.S)
            page = _in_language(page, code, keep=text or title)
            page = re.sub(r"<title>.*?</title>", f"<title>{title}</title>", page, count=1, flags=re.S)
            page = re.sub(r"(<h1[^>]*>).*?</h1>", lambda m: f"{m.group(1)}{title}</h1>", page, count=1, flags=re.S)
        page = re.sub(r"<html[^>]*>", f'<html lang="{code}">', page, count=1)
        out.append(page.encode())
    return out


_CHROME = {"ko": "뉴스 정치 국제 국방 오피니언 많이 본 기사 구독 로그인 전체 메뉴 기자 사진 영상 날씨 이전 다음".split(),
           "ru": "Новости Политика В мире Оборона Мнения Популярное Подписка Войти Меню Фото Видео Погода Назад Далее".split(),
           "uk": "Новини Політика Світ Оборона Думки Популярне Підписка Увійти Меню Фото Відео Погода Назад Далі".split()}


def _in_language(page: str, code: str, keep: str) -> str:
    """Every other text node of the page (menus, lists, captions) in the language too, as long."""
    import re
    words = _CHROME[code]

    def swap(m: re.Match) -> str:
        text = m.group(1)
        if not text.strip() or text.strip() == keep.strip():
            return m.group(0)
        out, n = [], 0
        while sum(len(w) + 1 for w in out) < len(text.strip()):
            out.append(words[(len(text) + n) % len(words)])
            n += 1
        return f">{' '.join(out)}<"
    head, _, body = page.partition("<body")
    parts = re.split(r"(<script.*?</script>|<style.*?</style>)", body, flags=re.S)
    body = "".join(part if part.startswith(("<script", "<style")) else re.sub(r">([^<]+)<", swap, part)
                   for part in parts)
    return head + "<body" + body


def languages() -> None:
    """Each language: extraction and detection, then the default watch, as a share of extraction;
    on pages carrying one report each, then on dense pages made only of reports."""
    from wirewatch.crawler.analysis.language import detect
    matcher = Matcher([load_watch("nk-russia-aid")])
    matcher.load_languages()
    for dense in (False, True):
        for code in ("ko", "ru", "uk"):
            docs, extraction = [], 0.0
            for n, html in enumerate(language_pages(code, dense)):
                started = time.perf_counter()
                try:
                    e = extract(html, f"http://127.0.0.1/{code}/{n}")
                except NotAnArticle:
                    continue
                finally:
                    extraction += time.perf_counter() - started
                docs.append((e.title or "", e.text, e.language))
            left = sum(language != code for _, _, language in docs)      # markup the template could not reach
            docs = [d for d in docs if d[2] == code]
            started = time.perf_counter()
            for title, text, _ in docs:
                detect(text, title)
            detection = time.perf_counter() - started
            rounds, started = 3, time.perf_counter()
            for _ in range(rounds):
                matched = sum(matcher.match(title, text, code)[0].matched for title, text, _ in docs)
            elapsed = (time.perf_counter() - started) / rounds
            chars = sum(len(t) + len(x) for t, x, _ in docs) / max(1, len(docs))
            print(f"{code}{' dense' if dense else ''}: {len(docs)} pages ({chars:,.0f} characters of text each; "
                  f"{left} left in English by their markup, not counted), extraction "
                  f"{1000 * extraction / (len(docs) + left):.1f} ms/page (language detection within it "
                  f"{100 * detection / extraction:.1f}%); matcher "
                  f"{1000 * elapsed / len(docs):.2f} ms/page = {100 * elapsed / extraction:.1f}% of extraction "
                  f"[{matched} pages matched]")
    import yaml
    for code in ("ko", "ru", "uk"):
        items = []
        for name in (code, f"{code}_holdout"):
            items += yaml.safe_load((Path(__file__).resolve().parents[1] / "tests" / "data" / "lang" / f"{name}.yaml")
                                    .read_text(encoding="utf-8"))
        right = sum(detect(i.get("text") or "", i.get("title") or "") == code for i in items)
        print(f"language detection, {code}: {right} of {len(items)} corpus reports (headline and text) detected right")
    import subprocess
    probe = ("import resource, gc; from wirewatch.crawler.analysis.matching import Matcher, load_watch; "
             "m = Matcher([load_watch('nk-russia-aid')]); m.match('t', 'North Korea sent troops to Russia.'); "
             "gc.collect(); a = int(open('/proc/self/statm').read().split()[1]); m.load_languages(); "
             "gc.collect(); b = int(open('/proc/self/statm').read().split()[1]); "
             "import os; page = os.sysconf('SC_PAGE_SIZE'); print(a * page / 2**20, b * page / 2**20)")
    before, after = map(float, subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                                              check=True).stdout.split())
    print(f"memory: an analysis process {before:.0f} MB RSS with the English matcher, {after:.0f} MB with "
          f"every language loaded: +{after - before:.0f} MB (budget 300 MB)")


if __name__ == "__main__":
    if sys.argv[1:] == ["--poison"]:
        poison_pages()
    elif sys.argv[1:] == ["--languages"]:
        languages()
    else:
        main()
        languages()
        poison_pages()
