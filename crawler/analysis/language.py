"""Which language an article is written in: its script first, then py3langid (whose model ships in
its package: nothing is downloaded); the page's own `lang` only to settle Cyrillic the letters
leave open.

Korean is told by Hangul alone. Russian and Ukrainian share Cyrillic, so letters only one of them
uses (і ї є ґ; ы э ъ ё) decide when they are clear, and py3langid, asked to choose between the
two, when they are not. Latin-script text is whatever py3langid says. A page's declared `lang` is
often a template's ("en" on a Korean page), so the text decides."""

from __future__ import annotations

import functools
import re

SAMPLE = 3000                    # characters read: the headline and lead decide
_HANGUL = re.compile(r"[\uac00-\ud7a3\u1100-\u11ff\u3130-\u318f]")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")
_UKRAINIAN_ONLY = re.compile(r"[іїєґІЇЄҐ]")
_RUSSIAN_ONLY = re.compile(r"[ыэъёЫЭЪЁ]")


@functools.cache
def _identifier():
    from py3langid.langid import MODEL_FILE, LanguageIdentifier
    return LanguageIdentifier.from_model_file(MODEL_FILE)


def _langid(text: str, among: tuple[str, ...] | None = None) -> str:
    """py3langid's best language, or its best among `among`."""
    if not among:
        return _identifier().classify(text)[0]
    return next(lang for lang, _ in _identifier().rank(text) if lang in among)


def detect(text: str, title: str = "", declared: str | None = None) -> str:
    """The ISO 639-1 code of the article's language ('en', 'ko', 'ru', 'uk', ...)."""
    sample = f"{title}\n{text}"[:SAMPLE]
    hangul, cyrillic, latin = (len(p.findall(sample)) for p in (_HANGUL, _CYRILLIC, _LATIN))
    letters = hangul + cyrillic + latin
    base = (declared or "").split("-")[0].lower() or None
    if letters == 0:
        return base or "und"
    if hangul / letters > 0.3:
        return "ko"
    if cyrillic / letters > 0.5:
        uk, ru = len(_UKRAINIAN_ONLY.findall(sample)), len(_RUSSIAN_ONLY.findall(sample))
        if uk >= 3 and uk > 3 * ru:
            return "uk"
        if ru >= 3 and ru > 3 * uk:
            return "ru"
        if base in ("ru", "uk", "be", "bg", "sr", "mk", "kk"):
            return base
        return _langid(sample, ("ru", "uk"))
    return _langid(sample)


def language_of(title: str, text: str, stored: str | None = None) -> str:
    """An article's language as stored, else detected now (articles stored before detection)."""
    return stored or detect(text or "", title or "")
