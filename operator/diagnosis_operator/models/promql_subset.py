"""The PromQL a policy's ``signalOverrides`` may use: a subset both paths evaluate.  Pure.

Live, Prometheus evaluates an override; offline, an incident bundle has no
PromQL engine, so ``adapters/bundle/promql_eval.py`` evaluates this subset the
way Prometheus does.  The CRD admits only this subset, so an override means
the same live and offline:

    [AGG [by (LABELS)]] ( [FUNC (] METRIC{MATCHERS} [[RANGE]] [)] ) [by (LABELS)]

* ``METRIC`` may be left out (``{job="api",__name__!~".+_bucket"}``), as long as
  one matcher does not match the empty string; ``by (__name__, ...)`` keeps the
  metric name, as Prometheus does;

* ``AGG``: ``sum``, ``min``, ``max``, ``avg`` or ``count``, optionally ``by`` labels;
* ``FUNC``: ``rate``, ``irate``, ``increase`` or ``last_over_time`` over a range
  (``[5m]``, ``[{range}]``);
* ``MATCHERS``: ``=``, ``!=``, ``=~``, ``!~`` on double-quoted strings.

Anything else (binary operators, ``without``, ``offset``, other functions) is
refused with a message saying what was not understood.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

AGGREGATIONS = ("sum", "min", "max", "avg", "count")
FUNCTIONS = ("rate", "irate", "increase", "last_over_time")
_UNIT_ORDER = ("w", "d", "h", "m", "s", "ms")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>"(?:[^"\\]|\\.)*")
    | (?P<duration>(?:[0-9]+(?:ms|s|m|h|d|w))+)
    | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
    | (?P<op>=~|!~|!=|=)
    | (?P<punct>[(){}\[\],])
    )""",
    re.VERBOSE,
)
_PLACEHOLDER = re.compile(r"\{[A-Za-z_][A-Za-z0-9_]*\}")
_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w)")
# What the placeholders of a template stand for when it is checked.
SAMPLE_SELECTOR = '{job="sample"}'
SAMPLE_MATCHERS = 'job="sample"'
SAMPLE_RANGE = "2m"


class UnsupportedQuery(ValueError):
    """PromQL outside the subset (the message says what and where)."""


@dataclass(frozen=True, slots=True)
class Matcher:
    name: str
    op: str
    value: str

    def matches(self, value: str | None) -> bool:
        text = value or ""
        if self.op == "=":
            return text == self.value
        if self.op == "!=":
            return text != self.value
        found = re.fullmatch(self.value, text) is not None
        return found if self.op == "=~" else not found


@dataclass(frozen=True, slots=True)
class SubsetQuery:
    metric: str
    matchers: tuple[Matcher, ...]
    function: str | None = None
    range_seconds: float | None = None
    aggregation: str | None = None
    by: tuple[str, ...] = ()

    @property
    def equalities(self) -> dict[str, str]:
        return {m.name: m.value for m in self.matchers if m.op == "="}


def _tokens(text: str) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        found = _TOKEN.match(text, position)
        if found is None or found.lastgroup is None:
            raise UnsupportedQuery(f"cannot read {text[position : position + 20]!r}")
        out.append((found.lastgroup, found.group(found.lastgroup)))
        position = found.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def peek(self, value: str | None = None) -> bool:
        if self.at >= len(self.tokens):
            return False
        return value is None or self.tokens[self.at][1] == value

    def take(self, kind: str | None = None, value: str | None = None) -> str:
        if self.at >= len(self.tokens):
            raise UnsupportedQuery(f"unexpected end, expected {value or kind}")
        got_kind, got = self.tokens[self.at]
        if (kind is not None and got_kind != kind) or (value is not None and got != value):
            raise UnsupportedQuery(f"unexpected {got!r}, expected {value or kind}")
        self.at += 1
        return got

    def labels(self) -> tuple[str, ...]:
        self.take(value="(")
        names: list[str] = []
        while not self.peek(")"):
            names.append(self.take("ident"))
            if not self.peek(")"):
                self.take(value=",")
        self.take(value=")")
        return tuple(names)

    def query(self) -> SubsetQuery:
        if self.peek() and self.tokens[self.at][1] in AGGREGATIONS and self._next_is_group():
            aggregation = self.take("ident")
            by = self.labels() if self._by() else ()
            self.take(value="(")
            inner = self.inner()
            self.take(value=")")
            if not by and self._by():
                by = self.labels()
            found = SubsetQuery(
                inner.metric, inner.matchers, inner.function, inner.range_seconds, aggregation, by
            )
        else:
            found = self.inner()
        if self.peek():
            raise UnsupportedQuery(f"unexpected {self.tokens[self.at][1]!r} after the query")
        return found

    def _next_is_group(self) -> bool:
        following = self.tokens[self.at + 1][1] if self.at + 1 < len(self.tokens) else ""
        return following in ("(", "by", "without")

    def _by(self) -> bool:
        if self.peek("by"):
            self.take(value="by")
            return True
        if self.peek("without"):
            raise UnsupportedQuery("'without' is not supported: use 'by'")
        return False

    def inner(self) -> SubsetQuery:
        if self.peek("{"):
            metric, matchers = self.vector()
            return SubsetQuery(metric, matchers)
        name = self.take("ident")
        if name in FUNCTIONS:
            self.take(value="(")
            metric, matchers = self.vector()
            self.take(value="[")
            seconds = duration_seconds(self.take("duration"))
            self.take(value="]")
            self.take(value=")")
            return SubsetQuery(metric, matchers, name, seconds)
        if self.peek("("):
            raise UnsupportedQuery(f"function or aggregation {name!r} is not supported")
        self.at -= 1
        metric, matchers = self.vector()
        return SubsetQuery(metric, matchers)

    def vector(self) -> tuple[str, tuple[Matcher, ...]]:
        metric = "" if self.peek("{") else self.take("ident")
        if metric in FUNCTIONS or metric in AGGREGATIONS:
            raise UnsupportedQuery(f"{metric!r} cannot be nested here")
        matchers: list[Matcher] = []
        if not self.peek("{"):
            return metric, ()
        self.take(value="{")
        while not self.peek("}"):
            label = self.take("ident")
            op = self.take("op")
            value = _unquote(self.take("string"))
            if op in ("=~", "!~"):
                try:
                    re.compile(value)
                except re.error as error:
                    raise UnsupportedQuery(f"bad regexp {value!r}: {error}") from None
            matchers.append(Matcher(label, op, value))
            if not self.peek("}"):
                self.take(value=",")
        self.take(value="}")
        # Prometheus: a selector needs one matcher that does not match the empty string.
        if not metric and all(m.matches("") for m in matchers):
            raise UnsupportedQuery("a selector without a metric name needs a non-empty matcher")
        return metric, tuple(matchers)


def _unquote(literal: str) -> str:
    try:
        value = json.loads(literal)
    except ValueError:
        raise UnsupportedQuery(f"cannot read the string {literal}") from None
    if not isinstance(value, str):  # pragma: no cover - the token is a string literal
        raise UnsupportedQuery(f"cannot read the string {literal}")
    return value


def duration_seconds(text: str) -> float:
    """Seconds in a PromQL duration; units largest first, each once (as Prometheus wants)."""
    parts = _DURATION_PART.findall(text)
    order = [_UNIT_ORDER.index(unit) for _, unit in parts]
    if order != sorted(set(order)):
        raise UnsupportedQuery(f"range {text!r}: units must go from largest to smallest, once each")
    seconds = sum(int(n) * _UNIT_SECONDS[u] for n, u in parts)
    if seconds <= 0:
        raise UnsupportedQuery(f"range {text!r} must be positive")
    return seconds


def parse_subset(promql: str) -> SubsetQuery:
    """Pure.  The query as a ``SubsetQuery``; raises ``UnsupportedQuery`` saying why not."""
    try:
        return _Parser(promql).query()
    except UnsupportedQuery as error:
        raise UnsupportedQuery(
            f"{promql!r} is outside the supported PromQL subset: {error}"
        ) from None


def check_template(template: str) -> None:
    """Pure.  Raises ``UnsupportedQuery`` if a signal template leaves the subset.

    The placeholders (``{selector}``, ``{matchers}``, ``{range}``) are filled in
    with sample values first.  A template with another placeholder is left to
    the catalog, which names the unknown placeholder when it renders it.
    """
    known = {"{selector}", "{matchers}", "{range}"}
    if any(found not in known for found in _PLACEHOLDER.findall(template)):
        return
    text = (
        template.replace("{selector}", SAMPLE_SELECTOR)
        .replace("{matchers}", SAMPLE_MATCHERS)
        .replace("{range}", SAMPLE_RANGE)
    )
    try:
        _Parser(text).query()
    except UnsupportedQuery as error:
        raise UnsupportedQuery(
            f"outside the PromQL subset both live and offline diagnoses evaluate "
            f"(docs/policies.md#signal-overrides): {error}"
        ) from None
