"""The escaping LogQL builder: every value survives quoting, bad input is refused.

Round trips go through the Loki test server's parser (pure code): what the
builder quoted must parse back to exactly the input value.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis_operator.adapters import logql
from diagnosis_operator.models.querytext import QueryBuildError
from tests.loki_server import logql as parser

HOSTILE = [
    'say "hi"',
    "back\\slash\\",
    "line\nbreak\ttab",
    "`backtick`",
    "ünïcødé ✓ 日本語 🚀",
    '} or {job=~".+"}',
    "\x00\x07\x1b[31m\x7f",
    "\u2028\u2029",
]

# Any text without lone surrogates (those cannot travel as UTF-8).
texts = st.text(st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40)


@pytest.mark.parametrize("value", HOSTILE)
def test_selector_value_round_trips(value: str) -> None:
    expr = parser.parse(logql.log_query(selector={"job": "api", "pod": value}))
    assert isinstance(expr, parser.LogExpr)
    assert {(m.name, m.op, m.value) for m in expr.matchers} == {
        ("job", "=", "api"),
        ("pod", "=", value),
    }


@given(value=texts)
@settings(max_examples=200, deadline=None)
def test_any_line_filter_text_round_trips(value: str) -> None:
    query = logql.pipeline_query(
        logql.LogPipeline(selector={"job": "x"}, line_filters=(logql.LineFilter("|=", value),))
    )
    expr = parser.parse(query)
    assert isinstance(expr, parser.LogExpr)
    assert expr.stages == (parser.LineFilter("|=", value),)


@given(value=texts)
@settings(max_examples=200, deadline=None)
def test_any_label_filter_value_round_trips(value: str) -> None:
    query = logql.pipeline_query(
        logql.LogPipeline(
            selector={"job": "x"},
            parser="json",
            label_filters=(logql.LabelFilter("msg", "!=", value),),
        )
    )
    expr = parser.parse(query)
    assert isinstance(expr, parser.LogExpr)
    assert expr.stages[-1] == parser.LabelFilter("msg", "!=", value)


def test_regexp_and_pattern_are_quoted_not_pasted() -> None:
    pattern = r'(?P<ip>\d+(?:\.\d+){3}) "`(?P<ua>[^"]*)`"'
    query = logql.extract_count_query(
        selector={"job": "nginx"},
        line_filter=r"\s5\d\d\s",
        pattern=pattern,
        by=("ip",),
        step=60,
        top=3,
    )
    expr = parser.parse(query)
    assert isinstance(expr, parser.VectorAggregation)
    assert expr.op == "topk" and expr.param == 3
    inner = expr.inner
    assert isinstance(inner, parser.VectorAggregation) and inner.by == ("ip",)
    assert isinstance(inner.inner, parser.RangeAggregation)
    stages = inner.inner.log.stages
    assert isinstance(stages[0], parser.LineFilter) and stages[0].value == r"\s5\d\d\s"
    assert isinstance(stages[1], parser.ParserStage) and stages[1].expression == pattern
    assert inner.inner.range_ns == 60 * 10**9


def test_count_query_shapes() -> None:
    assert (
        logql.count_query(selector={"job": "a"}, line_filter=None, by=(), step=15)
        == 'sum(count_over_time({job="a"} [15s]))'
    )
    assert (
        logql.count_query(selector={"job": "a"}, line_filter="x", by=("instance",), step=120)
        == 'sum by (instance) (count_over_time({job="a"} |~ "x" [2m]))'
    )


def test_metric_query_forms() -> None:
    pipeline = logql.LogPipeline(
        selector={"job": "a"},
        parser="logfmt",
        label_filters=(logql.LabelFilter("status", ">=", 500), logql.LabelFilter("dur", "<", 0.5)),
    )
    query = logql.metric_query(
        pipeline=pipeline, function="bytes_over_time", range_seconds=300, without=("pod",), top=2
    )
    assert query == (
        'topk(2, sum without (pod) (bytes_over_time({job="a"} | logfmt | status >= 500 '
        "| dur < 0.5 [5m])))"
    )
    assert logql.rate_query(selector={"job": "a"}, line_filter=None, by=(), range_seconds=60) == (
        'sum(rate({job="a"} [1m]))'
    )


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: logql.stream_selector({}), "at least one label matcher"),
        (lambda: logql.stream_selector({"job": ""}), "non-empty value"),
        (lambda: logql.log_query(selector={"bad-name": "x"}), "invalid label name"),
        (lambda: logql.log_query(selector={'a"}': "x"}), "invalid label name"),
        (
            lambda: logql.extract_count_query(
                selector={"a": "b"}, line_filter=None, pattern="(?P<x>.)", by=("x",), step=1, top=0
            ),
            "positive integer k",
        ),
        (
            lambda: logql.extract_count_query(
                selector={"a": "b"}, line_filter=None, pattern="(?P<x>.)", by=(), step=1, top=1
            ),
            "at least one label",
        ),
        (
            lambda: logql.count_query(selector={"a": "b"}, line_filter=None, by=(), step=0),
            "positive",
        ),
        (
            lambda: logql.count_query(selector={"a": "b"}, line_filter=None, by=("a b",), step=1),
            "invalid",
        ),
        (lambda: logql.label_filter(name="x", op="=~", value=3), "numeric label filter operator"),
        (lambda: logql.label_filter(name="x", op=">", value="3"), "string label filter operator"),
        (lambda: logql.label_filter(name="x", op=">", value=float("nan")), "finite"),
        (lambda: logql.label_filter(name="x", op=">", value=-1), "non-negative"),
        (lambda: logql.parser_stage(parser="unpack"), "unknown LogQL parser"),
        (lambda: logql.parser_stage(parser="regexp"), "non-empty expression"),
        (lambda: logql.parser_stage(parser="json", expression="x"), "no expression"),
        (lambda: logql.line_filter_stage(op="|", value="x"), "line filter operator"),
        (
            lambda: logql.pipeline_query(
                logql.LogPipeline(
                    selector={"a": "b"}, label_filters=(logql.LabelFilter("x", "=", "y"),)
                )
            ),
            "parser stage",
        ),
        (
            lambda: logql.metric_query(
                pipeline=logql.LogPipeline(selector={"a": "b"}),
                function="sum_over_time",
                range_seconds=1,
            ),
            "unknown range function",
        ),
        (
            lambda: logql.metric_query(
                pipeline=logql.LogPipeline(selector={"a": "b"}),
                function="rate",
                range_seconds=1,
                by=("x",),
                without=("y",),
            ),
            "either by or without",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_error(build: object, message: str) -> None:
    assert callable(build)
    with pytest.raises(QueryBuildError, match=message):
        build()


def test_all_templates_cover_every_shape_and_parse() -> None:
    templates = logql.ALL_TEMPLATES
    assert len(templates) == len(set(templates)) > 50
    for marker in (
        "count_over_time(",
        "rate(",
        "bytes_over_time(",
        "bytes_rate(",
        "topk(",
        "sum by (",
        "sum without (",
        "| json",
        "| logfmt",
        "| regexp ",
        "| pattern ",
        " |= ",
        " != ",
        " |~ ",
        " !~ ",
        " >= ",
        " == ",
        "=~",
        "\\n",
        "\\\\",
        '\\"',
        "`",
        "ü",
    ):
        assert any(marker in query for query in templates), marker
    for query in templates:
        parser.parse(query)
