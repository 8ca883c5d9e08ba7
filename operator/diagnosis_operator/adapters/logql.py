"""An escaping LogQL builder.  Every query the operator sends to Loki is made here.

Input never reaches LogQL unescaped: label values, line filters, regexps and
patterns are quoted by ``querytext.quote``, label names checked by
``querytext.label_name``, numbers rendered from ``float``/``int`` values.
``ALL_TEMPLATES`` holds one example of every query shape this module can emit
(with hostile inputs: quotes, backslashes, newlines, backticks, unicode); the
grammar test (tests/integration/test_logql_grammar.py) parses each with
Grafana's own LogQL grammar.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from diagnosis_operator.models.querytext import (
    QueryBuildError,
    duration,
    grouping,
    label_name,
    matchers,
    quote,
)

__all__ = [
    "ALL_TEMPLATES",
    "LabelFilter",
    "LineFilter",
    "LogPipeline",
    "QueryBuildError",
    "count_query",
    "example_queries",
    "extract_count_query",
    "label_filter",
    "line_filter_stage",
    "log_query",
    "metric_query",
    "parser_stage",
    "pipeline_query",
    "rate_query",
    "stream_selector",
]

LineFilterOp = Literal["|=", "!=", "|~", "!~"]
ParserKind = Literal["json", "logfmt", "regexp", "pattern"]
RangeFunction = Literal["count_over_time", "rate", "bytes_over_time", "bytes_rate"]
VectorAggregation = Literal["sum", "count", "min", "max", "avg"]

_LINE_FILTER_OPS: tuple[str, ...] = ("|=", "!=", "|~", "!~")
_STRING_LABEL_OPS: tuple[str, ...] = ("=", "!=", "=~", "!~")
_NUMERIC_LABEL_OPS: tuple[str, ...] = (">", ">=", "<", "<=", "==", "!=")
_RANGE_FUNCTIONS: tuple[str, ...] = ("count_over_time", "rate", "bytes_over_time", "bytes_rate")
_VECTOR_AGGREGATIONS: tuple[str, ...] = ("sum", "count", "min", "max", "avg")


def stream_selector(selector: Mapping[str, str]) -> str:
    if not selector:
        # Loki rejects a selector without a matcher; so do we, earlier and clearer.
        raise QueryBuildError("a LogQL stream selector needs at least one label matcher")
    if all(value == "" for value in selector.values()):
        # {a=""} matches every stream lacking `a`: Loki refuses it like an empty selector.
        raise QueryBuildError(
            "a LogQL stream selector needs at least one matcher with a non-empty value"
        )
    return matchers(selector)


def log_query(*, selector: Mapping[str, str], line_filter: str | None = None) -> str:
    """``{sel} |~ "re"``: a log query (lines).  Pure."""
    query = stream_selector(selector)
    if line_filter:
        query += f" |~ {quote(line_filter)}"
    return query


def count_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    by: Sequence[str],
    step: float,
) -> str:
    """``sum by (..) (count_over_time({sel} |~ "re" [step]))``.  Pure."""
    inner = (
        f"count_over_time({log_query(selector=selector, line_filter=line_filter)} "
        f"[{duration(step)}])"
    )
    return f"sum by ({grouping(by)}) ({inner})" if by else f"sum({inner})"


def extract_count_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    pattern: str,
    by: Sequence[str],
    step: float,
    top: int,
) -> str:
    """``topk(k, sum by (..) (count_over_time({sel} |~ "re" | regexp "p" [step])))``.  Pure."""
    if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
        raise QueryBuildError(f"topk needs a positive integer k, got {top!r}")
    if not by:
        raise QueryBuildError("an extracted count needs at least one label to group by")
    logs = f"{log_query(selector=selector, line_filter=line_filter)} | regexp {quote(pattern)}"
    inner = f"sum by ({grouping(by)}) (count_over_time({logs} [{duration(step)}]))"
    return f"topk({int(top)}, {inner})"


# --- Pipelines: line filters, parsers and label filters ------------------------------


@dataclass(frozen=True, slots=True)
class LineFilter:
    """``|= "text"``, ``!= "text"``, ``|~ "re"`` or ``!~ "re"``."""

    op: LineFilterOp
    value: str


@dataclass(frozen=True, slots=True)
class LabelFilter:
    """``name op value`` after a parser.

    String operators (``= != =~ !~``) take a ``str``; numeric ones
    (``> >= < <= == !=``) take an ``int`` or ``float``.
    """

    name: str
    op: str
    value: str | float


@dataclass(frozen=True, slots=True)
class LogPipeline:
    """A log query: stream selector, line filters, an optional parser, label filters."""

    selector: Mapping[str, str]
    line_filters: tuple[LineFilter, ...] = ()
    parser: ParserKind | None = None
    # The regexp or pattern expression of ``regexp`` / ``pattern`` parsers.
    expression: str | None = None
    label_filters: tuple[LabelFilter, ...] = ()
    extra_matchers: tuple[tuple[str, str, str], ...] = field(default=())


def describe_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    pattern: str | None = None,
    by: Sequence[str] = (),
    step: float | None = None,
    top: int | None = None,
) -> str:
    """The LogQL a ``LogSource`` call runs, as quoted in evidence.  Pure.

    No ``step``: the log query of ``sample_lines`` (with its ``regexp`` stage when a
    pattern is given).  A ``step`` and no pattern: ``count_lines``.  A pattern and
    ``top``: ``count_extracted``; a pattern without ``top``: the same count, all groups.
    Live (Loki) and offline (bundle) sources quote the same text for the same call.
    """
    if step is None:
        query = log_query(selector=selector, line_filter=line_filter)
        return query + (f" | regexp {quote(pattern)}" if pattern else "")
    if pattern is None:
        return count_query(selector=selector, line_filter=line_filter, by=by, step=step)
    if top is not None:
        return extract_count_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
    logs = f"{log_query(selector=selector, line_filter=line_filter)} | regexp {quote(pattern)}"
    inner = f"count_over_time({logs} [{duration(step)}])"
    return f"sum by ({grouping(by)}) ({inner})" if by else f"sum({inner})"


def line_filter_stage(*, op: str, value: str) -> str:
    """``|~ "re"`` etc.  Pure."""
    if op not in _LINE_FILTER_OPS:
        raise QueryBuildError(f"invalid line filter operator {op!r}; use one of {_LINE_FILTER_OPS}")
    return f"{op} {quote(value)}"


def parser_stage(*, parser: str, expression: str | None = None) -> str:
    """``| json``, ``| logfmt``, ``| regexp "re"`` or ``| pattern "p"``.  Pure."""
    if parser in ("json", "logfmt"):
        if expression is not None:
            raise QueryBuildError(f"the {parser} parser takes no expression")
        return f"| {parser}"
    if parser in ("regexp", "pattern"):
        if not expression:
            raise QueryBuildError(f"the {parser} parser needs a non-empty expression")
        return f"| {parser} {quote(expression)}"
    raise QueryBuildError(f"unknown LogQL parser {parser!r}; use json, logfmt, regexp or pattern")


def _number(value: float) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise QueryBuildError(f"a numeric label filter needs a number, got {value!r}")
    if not math.isfinite(value):
        raise QueryBuildError(f"a numeric label filter needs a finite number, got {value!r}")
    if isinstance(value, int) or float(value).is_integer():
        return str(int(value))
    # repr gives the shortest round-tripping form; LogQL numbers take exponents.
    return repr(float(value))


def label_filter(*, name: str, op: str, value: str | float) -> str:
    """``| name="v"``, ``| name=~"re"`` or ``| name >= 500``.  Pure."""
    checked = label_name(name)
    if isinstance(value, str):
        if op not in _STRING_LABEL_OPS:
            raise QueryBuildError(
                f"invalid string label filter operator {op!r}; use one of {_STRING_LABEL_OPS}"
            )
        return f"| {checked}{op}{quote(value)}"
    if op not in _NUMERIC_LABEL_OPS:
        raise QueryBuildError(
            f"invalid numeric label filter operator {op!r}; use one of {_NUMERIC_LABEL_OPS}"
        )
    number = _number(value)
    if number.startswith("-"):
        # The LogQL grammar has no unary minus in label filters.
        raise QueryBuildError(f"a numeric label filter needs a non-negative number, got {value!r}")
    return f"| {checked} {op} {number}"


def pipeline_query(pipeline: LogPipeline) -> str:
    """The LogQL text of a log pipeline.  Pure."""
    if not pipeline.selector:
        raise QueryBuildError("a LogQL stream selector needs at least one label matcher")
    query = (
        matchers(pipeline.selector, pipeline.extra_matchers)
        if pipeline.extra_matchers
        else stream_selector(pipeline.selector)
    )
    stages = [line_filter_stage(op=f.op, value=f.value) for f in pipeline.line_filters]
    if pipeline.parser is not None:
        stages.append(parser_stage(parser=pipeline.parser, expression=pipeline.expression))
    elif pipeline.expression is not None:
        raise QueryBuildError("an expression needs a regexp or pattern parser")
    if pipeline.label_filters and pipeline.parser is None:
        # Label filters on stream labels alone are legal LogQL, but the operator
        # filters stream labels in the selector; keep one way to say it.
        raise QueryBuildError("label filters need a parser stage before them")
    stages.extend(label_filter(name=f.name, op=f.op, value=f.value) for f in pipeline.label_filters)
    return " ".join([query, *stages])


def metric_query(
    *,
    pipeline: LogPipeline,
    function: str,
    range_seconds: float,
    aggregation: str | None = "sum",
    by: Sequence[str] = (),
    without: Sequence[str] = (),
    top: int | None = None,
) -> str:
    """``topk(k, sum by (..) (rate({..} | .. [5m])))`` and its simpler forms.  Pure."""
    if function not in _RANGE_FUNCTIONS:
        raise QueryBuildError(f"unknown range function {function!r}; use one of {_RANGE_FUNCTIONS}")
    query = f"{function}({pipeline_query(pipeline)} [{duration(range_seconds)}])"
    if by and without:
        raise QueryBuildError("group either by or without labels, not both")
    if aggregation is not None:
        if aggregation not in _VECTOR_AGGREGATIONS:
            raise QueryBuildError(
                f"unknown aggregation {aggregation!r}; use one of {_VECTOR_AGGREGATIONS}"
            )
        if by:
            query = f"{aggregation} by ({grouping(by)}) ({query})"
        elif without:
            query = f"{aggregation} without ({grouping(without)}) ({query})"
        else:
            query = f"{aggregation}({query})"
    elif by or without:
        raise QueryBuildError("grouping needs an aggregation")
    if top is not None:
        if isinstance(top, bool) or not isinstance(top, int) or top <= 0:
            raise QueryBuildError(f"topk needs a positive integer k, got {top!r}")
        query = f"topk({int(top)}, {query})"
    return query


def rate_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    by: Sequence[str],
    range_seconds: float,
) -> str:
    """``sum by (..) (rate({sel} |~ "re" [range]))``: lines per second.  Pure."""
    filters = (LineFilter("|~", line_filter),) if line_filter else ()
    return metric_query(
        pipeline=LogPipeline(selector=selector, line_filters=filters),
        function="rate",
        range_seconds=range_seconds,
        by=by,
    )


# --- The whole set of shapes, for the grammar test -----------------------------------

# Inputs chosen to break naive quoting.
_HOSTILE_VALUES: tuple[str, ...] = (
    'say "hi"',
    "back\\slash",
    "C:\\path\\to\\",
    "line\nbreak\ttab\rcr",
    "`backtick` and ${var}",
    "ünïcødé ✓ 日本語 — emoji 🚀",
    '} or {job=~".+"}',
    "\u0000\u0007\u001b[31m",
    '|= "x" | json',
)
_HOSTILE_REGEXPS: tuple[str, ...] = (
    r"error|fail(ed)?",
    r"\d+\.\d+\.\d+\.\d+",
    r"(?i)timeout \"quoted\" \\ end",
    r"\[\w+\] `x` \n",
    "ünï.+\\s*$",
)
_HOSTILE_PATTERNS: tuple[str, ...] = (
    r"(?P<client>\d{1,3}(?:\.\d{1,3}){3}) - - \[",
    r'ua="(?P<upstream>[^"]*)"',
    r"(?P<ip>[0-9a-f:.]+)\\ `(?P<user>[^`]*)`",
)


def example_queries() -> Iterator[str]:
    """One query of every shape this module emits, over hostile inputs.  Pure."""
    selector = {"job": "nginx", "instance": "nginx-0"}
    yield from _value_examples(selector)
    yield from _regexp_examples(selector)
    yield from _function_examples(selector)


def _value_examples(selector: Mapping[str, str]) -> Iterator[str]:
    """Selectors, line and label filters over every hostile label value."""
    for value in _HOSTILE_VALUES:
        yield stream_selector({"job": value})
        yield log_query(selector={"job": "api", "pod": value}, line_filter=None)
        yield pipeline_query(
            LogPipeline(
                selector=selector,
                line_filters=(LineFilter("|=", value), LineFilter("!=", value)),
                extra_matchers=(("namespace", "!=", value), ("container", "=~", ".+")),
            )
        )
        for parser in ("json", "logfmt"):
            yield pipeline_query(
                LogPipeline(
                    selector=selector,
                    parser=parser,
                    label_filters=(
                        LabelFilter("level", "=", value),
                        LabelFilter("msg", "!=", value),
                        LabelFilter("status", ">=", 500),
                        LabelFilter("latency", "<", 0.25),
                    ),
                )
            )
        yield pipeline_query(
            LogPipeline(
                selector=selector,
                parser="pattern",
                expression=f"<ip> - - [<_>] {value} <status>",
                label_filters=(LabelFilter("status", "==", 502),),
            )
        )


def _regexp_examples(selector: Mapping[str, str]) -> Iterator[str]:
    """Line filters, counts and extractions over every hostile regexp and pattern."""
    for regexp in _HOSTILE_REGEXPS:
        yield log_query(selector=selector, line_filter=regexp)
        yield pipeline_query(
            LogPipeline(
                selector=selector,
                line_filters=(LineFilter("!~", regexp),),
                parser="json",
                label_filters=(LabelFilter("path", "=~", regexp), LabelFilter("ua", "!~", regexp)),
            )
        )
        for by in ((), ("instance",), ("instance", "stream")):
            yield count_query(selector=selector, line_filter=regexp, by=by, step=60)
            yield count_query(selector=selector, line_filter=None, by=by, step=0.5)
            yield rate_query(selector=selector, line_filter=regexp, by=by, range_seconds=300)
        for pattern in _HOSTILE_PATTERNS:
            yield extract_count_query(
                selector=selector,
                line_filter=regexp,
                pattern=pattern,
                by=("client",),
                step=15,
                top=10,
            )
            yield extract_count_query(
                selector=selector,
                line_filter=None,
                pattern=pattern,
                by=("client", "instance"),
                step=3600,
                top=1,
            )


def _function_examples(selector: Mapping[str, str]) -> Iterator[str]:
    """Every range function, with every vector aggregation and with a regexp parser."""
    for function in _RANGE_FUNCTIONS:
        for aggregation in (*_VECTOR_AGGREGATIONS, None):
            yield metric_query(
                pipeline=LogPipeline(
                    selector=selector, line_filters=(LineFilter("|~", "5\\d\\d"),)
                ),
                function=function,
                range_seconds=90,
                aggregation=aggregation,
            )
        yield metric_query(
            pipeline=LogPipeline(
                selector=selector,
                parser="regexp",
                expression=_HOSTILE_PATTERNS[0],
                label_filters=(LabelFilter("client", "!=", ""),),
            ),
            function=function,
            range_seconds=120,
            without=("stream",),
            top=5,
        )


ALL_TEMPLATES: tuple[str, ...] = tuple(dict.fromkeys(example_queries()))
