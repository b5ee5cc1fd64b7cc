"""The values that cross a stage boundary, each defined once.

    spider ──ArticleItem──► pipeline ──► analysis ──PageAnalysis(Extracted, MatchResult…)──► store
    store ──Fact / MatchResult──► alert payload;   spider counters ──SourceCounts──► run record, report
    scheduler ──CrawlJob──► crawl worker ──SourceDone / JobDone──► scheduler (health, run record)

Frozen dataclasses: a field is spelled once, here, and a type checker sees every reader. The alert
payload itself stays a JSON object: it is the webhook body of the contract, stored as it is sent.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields


@dataclass(frozen=True)
class EntryHints:
    """What a feed or sitemap entry said about an article before it was downloaded."""
    title: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class ArticleItem:
    """A downloaded article page, from a spider to the item pipeline (Scrapy takes dataclass items)."""
    source: str
    url: str                 # the URL the page was answered from (after redirects)
    canonical: str           # the key it is stored under (rel=canonical on the same site wins)
    requested: str           # the canonical URL the spider asked for
    html: bytes = field(repr=False)
    hints: EntryHints = EntryHints()


@dataclass(frozen=True)
class Extracted:
    """Clean text and metadata of an article page (trafilatura)."""
    text: str
    title: str | None
    published: str | None
    author: str | None
    sitename: str | None
    language: str | None


@dataclass(frozen=True)
class Fact:
    """One structured aid fact: who gave what to whom, how much, how far it has got.

    `quantity` is a number only where the text gives one; `quantity_text` keeps the words as
    written ("about 11,000", "millions of", "a third of") and `quantity_range` the bounds a reader
    takes from vague words ("dozens" → [24, 99]). A casualties fact says which (`casualty`:
    killed, wounded, captured, missing, total)."""
    supplier: str
    recipient: str
    item: str
    quantity: int | None
    approx: bool
    status: str
    sentence: str
    quantity_text: str | None = None
    quantity_range: tuple[int | None, int | None] | None = None
    casualty: str | None = None

    @property
    def key(self) -> str:
        """Direction, item and figure: what makes two reports the same fact (story novelty)."""
        amount = "" if self.quantity is None else str(int(self.quantity))
        return f"{self.supplier}>{self.recipient}:{self.item}:{amount}"

    def as_json(self) -> dict:
        return {"supplier": self.supplier, "recipient": self.recipient, "item": self.item,
                "quantity": self.quantity, "quantity_text": self.quantity_text,
                "quantity_range": list(self.quantity_range) if self.quantity_range else None,
                "approx": self.approx, "status": self.status, "casualty": self.casualty,
                "sentence": self.sentence}

    @classmethod
    def from_json(cls, data: dict) -> "Fact":
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in names}
        if values.get("quantity") is not None:
            values["quantity"] = int(values["quantity"])
        if values.get("quantity_range"):
            values["quantity_range"] = tuple(values["quantity_range"])
        values.setdefault("sentence", "")
        return cls(**values)


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str


@dataclass(frozen=True)
class Evidence:
    """A sentence that supports a match, with the span of each role in it."""
    sentence: str
    score: float
    rule: str
    spans: dict[str, Span]               # supplier | recipient | item | transfer

    def as_json(self) -> dict:
        return {"sentence": self.sentence, "score": self.score, "rule": self.rule,
                "spans": {role: {"start": s.start, "end": s.end, "text": s.text}
                          for role, s in self.spans.items()}}


@dataclass(frozen=True)
class MatchResult:
    """One watch's verdict on one article."""
    watch: str
    matched: bool
    score: float
    severity: str
    rule: str
    facts: tuple[Fact, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    explanation: tuple[str, ...] = ()
    alert: bool = True                    # False: the watch holds facts of these statuses back
    kept: bool = False                    # not a match, but a denial kept with its denied facts
    names: tuple[str, ...] = ()           # places, units, models, agencies the lead names (stories)

    @property
    def stored(self) -> bool:
        """Stored and shown: a match, or a denial kept for the record (held back: denied)."""
        return self.matched or self.kept

    def as_json(self, article_id=None, explain: bool = False) -> dict:
        out = {"id": article_id, "matched": self.matched, "score": round(self.score, 3),
               "watch": self.watch, "facts": [f.as_json() for f in self.facts] if self.stored else [],
               "evidence": [e.as_json() for e in self.evidence]}
        if explain:
            out["explanation"] = list(self.explanation)
        return out


@dataclass(frozen=True)
class PageAnalysis:
    """What the analysis workers return for a page: the article and its matches, or why not."""
    extracted: Extracted | None
    skipped: str | None = None
    matches: tuple[MatchResult, ...] = ()
    analysed_chars: int | None = None          # set when the matcher read only this much of the text


@dataclass(frozen=True)
class AlertPolicy:
    """What holds a match back from alerting in this crawl (it is stored and listed either way)."""
    baseline: frozenset[str] = frozenset()     # sources on their first crawl, backlog: store
    max_age: float = 3 * 86400.0               # seconds; older reports are stored, not alerted
    trial: bool = False                        # crawl --no-alerts
    tolerances: tuple[tuple[str, float], ...] = ()   # per watch: how far a figure may move and be the same

    def tolerance(self, watch: str) -> float:
        return dict(self.tolerances).get(watch, 0.2)


_HELD = {"baseline": "held_baseline", "too old": "held_too_old", "trial run": "held_trial"}


@dataclass
class SourceCounts:
    """Per-source counters of one crawl: kept by the spiders, stored in the run record, printed
    in the summary. Mutable on purpose: the crawl counts into it (as Scrapy's stats do)."""
    fetched: int = 0
    new: int = 0
    known: int = 0
    skipped: int = 0
    failed: int = 0
    gone: int = 0                 # article URLs answering 404 / 410: remembered, never asked again
    matches: int = 0
    left: int = 0                 # entries past max_articles, left for the next crawl
    held_baseline: int = 0        # matches held back: the source's first crawl is a baseline
    held_too_old: int = 0         # matches held back: published before alerts.max_age
    held_trial: int = 0           # matches held back: crawl --no-alerts

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    def held_back(self) -> dict[str, int]:
        """Why matches did not alert, for the summary: {"baseline": 2, "too old": 1}."""
        return {reason: getattr(self, name) for reason, name in _HELD.items() if getattr(self, name)}

    def hold(self, reason: str) -> None:
        """Count a held-back match under its reason (the reasons the summary reports)."""
        if reason in _HELD:
            setattr(self, _HELD[reason], getattr(self, _HELD[reason]) + 1)

    @classmethod
    def of(cls, row) -> "SourceCounts":
        """The counters stored on a run record (any object with the same attribute names)."""
        return cls(**{f.name: getattr(row, f.name) or 0 for f in fields(cls)})


@dataclass(frozen=True)
class CrawlJob:
    """The crawl worker's whole input: crawl these sources, as this run. Plain data, so a job
    could as well come from a task queue on another machine."""
    run_id: int
    names: tuple[str, ...]
    trial: bool = False                 # store and match, queue no alert
    timeout: float = 900.0              # the job's sources are stopped (failed: timed out) after this


@dataclass(frozen=True)
class SourceDone:
    """The worker finished one source of a job; its run record is stored."""
    run_id: int
    name: str


@dataclass(frozen=True)
class JobDone:
    """Every source of the job is finished (or was stopped)."""
    run_id: int
