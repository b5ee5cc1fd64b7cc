"""Boolean keyword queries: AND, OR, NOT, parentheses, "quoted phrases", NEAR/n, trailing-* wildcards.

Every watch's terms go into ONE Aho-Corasick automaton (`TermIndex`), so a document is scanned
once for all watches; each query is then evaluated on the positions of its terms."""

from __future__ import annotations

import bisect
import re
from dataclasses import dataclass
from typing import NamedTuple

import ahocorasick

from wirewatch.crawler.errors import QuerySyntaxError

_TOKEN = re.compile(r'\s*(?:(?P<lp>\()|(?P<rp>\))|(?P<near>NEAR/(?P<n>\d+))|"(?P<phrase>[^"]*)"'
                    r'|(?P<word>[^\s()"]+))')
_WORDCHAR = re.compile(r"\w")


class Term(NamedTuple):
    text: str            # lowercased, single spaces
    prefix: bool         # trailing * wildcard (a tuple: hashing stays in C on the hot path)


@dataclass(frozen=True)
class Node:
    op: str              # TERM | AND | OR | NOT | NEAR
    children: tuple = ()
    term: Term | None = None
    distance: int = 0


class _Parser:
    def __init__(self, query: str):
        self.query = query
        self.tokens: list[tuple[str, str, int]] = []
        pos = 0
        while pos < len(query):
            m = _TOKEN.match(query, pos)
            if m is None or m.end() == pos:
                if query[pos:].strip():
                    raise QuerySyntaxError("unterminated phrase" if '"' in query[pos:] else
                                           "unexpected character", query, pos)
                break
            start = m.start(m.lastgroup) if m.lastgroup else pos
            kind = "near" if m.group("near") else m.lastgroup
            value = m.group("n") if kind == "near" else (m.group(kind) or "")
            if kind == "word" and value in ("AND", "OR", "NOT"):
                kind = value
            self.tokens.append((kind, value, start))
            pos = m.end()
        self.i = 0

    def peek(self) -> tuple[str, str, int]:
        return self.tokens[self.i] if self.i < len(self.tokens) else ("end", "", len(self.query))

    def take(self) -> tuple[str, str, int]:
        token = self.peek()
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            raise QuerySyntaxError("empty query", self.query, 0)
        node = self.parse_or()
        kind, _, pos = self.peek()
        if kind != "end":
            raise QuerySyntaxError("unexpected ')'" if kind == "rp" else "unexpected token",
                                   self.query, pos)
        return node

    def parse_or(self) -> Node:
        children = [self.parse_and()]
        while self.peek()[0] == "OR":
            self.take()
            children.append(self.parse_and())
        return children[0] if len(children) == 1 else Node("OR", tuple(children))

    def parse_and(self) -> Node:
        children = [self.parse_near()]
        while self.peek()[0] in ("AND", "NOT", "lp", "phrase", "word"):
            if self.peek()[0] == "AND":
                self.take()
            children.append(self.parse_near())
        return children[0] if len(children) == 1 else Node("AND", tuple(children))

    def parse_near(self) -> Node:
        left = self.parse_unary()
        while self.peek()[0] == "near":
            _, n, _ = self.take()
            left = Node("NEAR", (left, self.parse_unary()), distance=int(n))
        return left

    def parse_unary(self) -> Node:
        kind, value, pos = self.take()
        if kind == "NOT":
            return Node("NOT", (self.parse_unary(),))
        if kind == "lp":
            node = self.parse_or()
            if self.take()[0] != "rp":
                raise QuerySyntaxError("missing ')'", self.query, self.peek()[2])
            return node
        if kind in ("word", "phrase"):
            text = " ".join(value.lower().split())
            prefix = text.endswith("*")
            text = text.rstrip("*")
            if not text or "*" in text:
                raise QuerySyntaxError("a wildcard must follow at least one character and end the term",
                                       self.query, pos)
            return Node("TERM", term=Term(text, prefix))
        what = {"end": "unexpected end of query", "rp": "unexpected ')'", "near": "NEAR/n needs a left term",
                "AND": "AND needs a term before it", "OR": "OR needs a term before it"}[kind]
        raise QuerySyntaxError(what, self.query, pos)


def parse_query(query: str) -> Node:
    return _Parser(query).parse()


def terms_of(node: Node) -> set[Term]:
    if node.op == "TERM":
        return {node.term}
    return set().union(*(terms_of(c) for c in node.children))


class TermIndex:
    """All watches' terms in one automaton; `scan` gives term → token positions for a document."""

    def __init__(self, terms: set[Term]):
        self.automaton = ahocorasick.Automaton()
        for term in terms:
            key = term.text
            existing = self.automaton.get(key, ()) if key in self.automaton else ()
            self.automaton.add_word(key, tuple(set(existing) | {term}))
        self.empty = not terms
        if not self.empty:
            self.automaton.make_automaton()

    def scan(self, text: str) -> dict[Term, list[int]]:
        lowered = " ".join(text.lower().split()) if "  " in text or "\n" in text else text.lower()
        token_starts = [m.start() for m in re.finditer(r"\w+", lowered)]
        hits: dict[Term, list[int]] = {}
        if self.empty:
            return hits
        for end, terms in self.automaton.iter(lowered):
            start = end - len(next(iter(terms)).text) + 1
            if start > 0 and _WORDCHAR.match(lowered[start - 1]):
                continue
            at_boundary = end + 1 >= len(lowered) or not _WORDCHAR.match(lowered[end + 1])
            position = bisect.bisect_right(token_starts, start) - 1
            for term in terms:
                if term.prefix or at_boundary:
                    hits.setdefault(term, []).append(position)
        return hits


def compile_query(node: Node):
    """The query as one Python predicate over the scan result: set membership for terms,
    short-circuit `and` / `or` / `not`, positions only where NEAR needs them. 1,000 watches
    then cost 1,000 cheap calls per document, not 1,000 tree walks."""
    constants: list = []
    source = _source(node, constants)
    scope = {"_c": constants, "_near": _near, "_positions": evaluate}
    return eval(f"lambda hits: {source}", scope)  # noqa: S307 - source built from our own AST


def _source(node: Node, constants: list) -> str:
    if node.op == "TERM":
        constants.append(node.term)
        return f"(_c[{len(constants) - 1}] in hits)"
    if node.op == "NOT":
        return f"(not {_source(node.children[0], constants)})"
    if node.op in ("AND", "OR"):
        return "(" + f" {node.op.lower()} ".join(_source(c, constants) for c in node.children) + ")"
    constants.extend(node.children)
    left, right = len(constants) - 2, len(constants) - 1
    return f"_near(_positions(_c[{left}], hits), _positions(_c[{right}], hits), {node.distance})"


def _near(left: list[int] | None, right: list[int] | None, distance: int) -> bool:
    return bool(left and right and any(abs(p - q) <= distance for p in left for q in right))


def evaluate(node: Node, hits: dict[Term, list[int]]) -> list[int] | None:
    """Token positions where `node` holds (possibly empty for NOT), or None when it does not."""
    if node.op == "TERM":
        return hits.get(node.term) or None
    if node.op == "NOT":
        return None if evaluate(node.children[0], hits) is not None else []
    results = [evaluate(c, hits) for c in node.children]
    if node.op == "AND":
        return None if any(r is None for r in results) else sorted(set().union(*results))
    if node.op == "OR":
        found = [r for r in results if r is not None]
        return sorted(set().union(*found)) if found else None
    left, right = results
    if not left or not right:
        return None
    near = sorted({p for p in left for q in right if abs(p - q) <= node.distance} |
                  {q for q in right for p in left if abs(p - q) <= node.distance})
    return near or None
