"""The Loki test server's parser and evaluator (pure: no sockets).

The server is the reference the adapter is tested against, so its LogQL
semantics are pinned here: step windows ``(t - range, t]``, absent zeros,
grouping, topk, parsers, label filters, and what Loki refuses.
"""

from __future__ import annotations

import pytest

from tests.loki_server import engine
from tests.loki_server.logql import (
    EMPTY_MATCHER_ERROR,
    LogExpr,
    LogQLParseError,
    RangeAggregation,
    VectorAggregation,
    compile_re2,
    parse,
    parse_duration_ns,
)

S = 1_000_000_000
T0 = 1_700_000_000 * S


def store_with(*streams: tuple[dict[str, str], list[tuple[float, str]]]) -> engine.Store:
    store = engine.Store()
    for labels, lines in streams:
        store.push("t", labels, [(T0 + round(offset * S), line) for offset, line in lines])
    return store


def matrix(
    store: engine.Store, query: str, *, start: float, end: float, step: float
) -> dict[engine.LabelKey, list[tuple[float, str]]]:
    expr = parse(query)
    assert isinstance(expr, RangeAggregation | VectorAggregation)
    result = engine.metric_range(
        store,
        "t",
        expr,
        start_ns=T0 + round(start * S),
        end_ns=T0 + round(end * S),
        step_ns=round(step * S),
    )
    return {
        tuple(sorted(series["metric"].items())): [
            (round(ts - T0 / S, 3), value) for ts, value in series["values"]
        ]
        for series in result
    }


def test_count_over_time_uses_left_open_windows_and_omits_zero_steps() -> None:
    store = store_with(({"job": "a"}, [(0, "x"), (10, "x"), (10.5, "x"), (40, "x")]))
    got = matrix(store, 'count_over_time({job="a"}[10s])', start=0, end=60, step=10)
    # t=0: (-10,0] -> 1; t=10: (0,10] -> 1; t=20: (10,20] -> 1; t=30 none; t=40 -> 1.
    assert got == {(("job", "a"),): [(0, "1"), (10, "1"), (20, "1"), (40, "1")]}


def test_rate_and_bytes() -> None:
    store = store_with(({"job": "a"}, [(1, "abcd"), (2, "ü")]))
    assert matrix(store, 'rate({job="a"}[4s])', start=4, end=4, step=1) == {
        (("job", "a"),): [(4, "0.5")]
    }
    assert matrix(store, 'bytes_over_time({job="a"}[4s])', start=4, end=4, step=1) == {
        (("job", "a"),): [(4, "6")]
    }
    assert matrix(store, 'bytes_rate({job="a"}[4s])', start=4, end=4, step=1) == {
        (("job", "a"),): [(4, "1.5")]
    }


def test_sum_by_without_and_topk() -> None:
    store = store_with(
        ({"job": "a", "instance": "1", "stream": "out"}, [(1, "x"), (2, "x"), (3, "x")]),
        ({"job": "a", "instance": "1", "stream": "err"}, [(1, "x")]),
        ({"job": "a", "instance": "2", "stream": "out"}, [(1, "x"), (2, "x")]),
    )
    q = 'sum by (instance) (count_over_time({job="a"}[5s]))'
    assert matrix(store, q, start=5, end=5, step=1) == {
        (("instance", "1"),): [(5, "4")],
        (("instance", "2"),): [(5, "2")],
    }
    q = 'sum without (stream) (count_over_time({job="a"}[5s]))'
    assert set(matrix(store, q, start=5, end=5, step=1)) == {
        (("instance", "1"), ("job", "a")),
        (("instance", "2"), ("job", "a")),
    }
    q = 'topk(1, sum by (instance) (count_over_time({job="a"}[5s])))'
    assert matrix(store, q, start=5, end=5, step=1) == {(("instance", "1"),): [(5, "4")]}
    q = 'count(count_over_time({job="a"}[5s]))'
    assert matrix(store, q, start=5, end=5, step=1) == {(): [(5, "3")]}


def test_regexp_parser_groups_unmatched_lines_under_empty_label() -> None:
    store = store_with(({"job": "n"}, [(1, "1.2.3.4 GET"), (2, "1.2.3.4 GET"), (3, "no ip here")]))
    q = 'sum by (ip) (count_over_time({job="n"} | regexp `^(?P<ip>\\d+(?:\\.\\d+){3}) ` [5s]))'
    assert matrix(store, q, start=5, end=5, step=1) == {
        (("ip", "1.2.3.4"),): [(5, "2")],
        (): [(5, "1")],
    }


def test_extracted_label_clashing_with_stream_label_is_renamed() -> None:
    store = store_with(({"job": "n", "ip": "stream"}, [(1, "ip=9.9.9.9")]))
    q = 'sum by (ip, ip_extracted) (count_over_time({job="n"} | logfmt [5s]))'
    assert matrix(store, q, start=5, end=5, step=1) == {
        (("ip", "stream"), ("ip_extracted", "9.9.9.9")): [(5, "1")]
    }


def test_json_and_label_filters() -> None:
    store = store_with(
        (
            {"job": "api"},
            [
                (1, '{"level":"error","status":502,"req":{"path":"/x"}}'),
                (2, '{"level":"info","status":200,"req":{"path":"/y"}}'),
                (3, '{"level":"error","status":"n/a"}'),
            ],
        )
    )
    expr = parse('{job="api"} | json | status >= 500 | req_path=~"/.*"')
    assert isinstance(expr, LogExpr)
    result = engine.log_query(
        store, "t", expr, start_ns=T0, end_ns=T0 + 10 * S, limit=10, direction="forward"
    )
    assert [stream["stream"] for stream in result] == [
        {"job": "api", "level": "error", "status": "502", "req_path": "/x"}
    ]
    # A non-numeric value is kept with __error__, like Loki; __error__="" drops it.
    expr = parse('{job="api"} | json | status > 100 | __error__=""')
    assert isinstance(expr, LogExpr)
    result = engine.log_query(
        store, "t", expr, start_ns=T0, end_ns=T0 + 10 * S, limit=10, direction="forward"
    )
    assert sorted(stream["stream"]["status"] for stream in result) == ["200", "502"]


def test_metric_query_with_parser_error_label_is_rejected() -> None:
    store = store_with(({"job": "api"}, [(1, "not json")]))
    with pytest.raises(engine.QueryError, match="pipeline error: 'JSONParserErr'"):
        matrix(store, 'count_over_time({job="api"} | json [5s])', start=5, end=5, step=1)
    # Grouping the error label away is fine.
    assert matrix(store, 'sum(count_over_time({job="api"} | json [5s]))', start=5, end=5, step=1)


def test_pattern_parser() -> None:
    store = store_with(({"job": "n"}, [(1, '10.0.0.1 - - [x] "GET /a" 502'), (2, "garbage")]))
    expr = parse('{job="n"} | pattern "<ip> - - [<_>] \\"<method> <path>\\" <status>"')
    assert isinstance(expr, LogExpr)
    result = engine.log_query(
        store, "t", expr, start_ns=T0, end_ns=T0 + 10 * S, limit=10, direction="forward"
    )
    labels = sorted((stream["stream"] for stream in result), key=len)
    assert labels[-1] == {
        "job": "n",
        "ip": "10.0.0.1",
        "method": "GET",
        "path": "/a",
        "status": "502",
    }
    assert labels[0] == {"job": "n"}


def test_log_query_limit_direction_and_half_open_range() -> None:
    store = store_with(
        ({"job": "a", "i": "1"}, [(0, "a0"), (2, "a2"), (4, "a4")]),
        ({"job": "a", "i": "2"}, [(1, "b1"), (3, "b3"), (5, "b5")]),
    )
    expr = parse('{job="a"} != "a2"')
    assert isinstance(expr, LogExpr)

    def lines(direction: str, limit: int) -> list[str]:
        result = engine.log_query(
            store, "t", expr, start_ns=T0, end_ns=T0 + 5 * S, limit=limit, direction=direction
        )
        return sorted(line for stream in result for _, line in stream["values"])

    assert lines("forward", 3) == ["a0", "b1", "b3"]
    assert lines("backward", 2) == ["a4", "b3"]
    # end is exclusive: b5 at exactly end is not returned.
    assert lines("forward", 100) == ["a0", "a4", "b1", "b3"]


def test_push_drops_exact_duplicates_only() -> None:
    store = engine.Store()
    assert store.push("t", {"a": "b"}, [(1, "x"), (1, "x"), (1, "y")]) == 2
    assert store.push("t", {"a": "b"}, [(1, "x")]) == 0


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("{}", EMPTY_MATCHER_ERROR),
        ('{job=~".*"}', EMPTY_MATCHER_ERROR),
        ('{job!="a"}', EMPTY_MATCHER_ERROR),
        ('{job=""}', EMPTY_MATCHER_ERROR),
        ('count_over_time({job="a"})', "parse error at line 1, col 26: syntax error: unexpected )"),
        (
            'topk(sum(count_over_time({job="a"}[1m])))',
            "parse error : parameter required for operation topk",
        ),
        ('topk(1.5, count_over_time({job="a"}[1m]))', "invalid parameter topk(1.5,"),
        ('sum(3, count_over_time({job="a"}[1m]))', "unsupported parameter for operation sum(3,"),
        ('unknown_fn({job="a"}[1m])', "col 1: syntax error: unexpected IDENTIFIER"),
        ('sum({job="a"})', "syntax error: unexpected {"),
        ('{job="a"} |~ "(a"', "error parsing regexp: missing"),
        ('{job="a"} |~ "(a)\\\\1"', "invalid escape sequence: `\\1`"),
        ('{job="a"} |~ "x(?=y)"', "invalid or unsupported Perl syntax"),
        ('{job="a"} |~ "(?<!y)x"', "invalid or unsupported Perl syntax"),
        ('{job="a"} |~ "a++"', "invalid nested repetition operator"),
        ('{job="a"} | regexp "(a)"', "parse error : at least one named capture must be supplied"),
        ('{job="a"} | pattern "plain"', "at least one capture is required"),
        ('{job="a"} |= "unterminated', "literal not terminated"),
        ('{job="a"} |= "bad \\q escape"', "invalid char escape"),
        ('{job="a"} | status > "x"', "syntax error: unexpected STRING"),
        ('{job="a"}\n|= x', "parse error at line 2, col 4: syntax error: unexpected IDENTIFIER"),
        ('count_over_time({job="a"}[1m]) extra', "syntax error: unexpected IDENTIFIER"),
    ],
)
def test_rejects_what_loki_rejects(query: str, message: str) -> None:
    with pytest.raises(LogQLParseError) as caught:
        parse(query)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "query",
    [
        '{job="a"}',
        '{job=~"a|b", env!="dev"}',
        '{job="a"} |= `raw \\ string` != "x" |~ "(?i)err" !~ "debug"',
        'count_over_time({job="a"}[5m] |= "x")',
        'count_over_time(({job="a"} |= "x")[1h30m])',
        'sum(count_over_time({job="a"}[500ms])) by (instance)',
        'topk(3, sum by (ip) (rate({job="a"} | regexp "(?<ip>\\\\S+)" [1m])))',
        'sum without () (bytes_rate({job="a"} | logfmt | level="error" [1m]))',
        '(sum(count_over_time({job="a"}[1m])))',
        '{job="a"} # a comment',
    ],
)
def test_accepts_the_supported_subset(query: str) -> None:
    parse(query)


def test_re2_named_groups_and_anchors() -> None:
    assert compile_re2(r"(?<ip>\d+)\z").fullmatch("12") is not None
    assert compile_re2(r"[\1(?=]").search("(") is not None  # inside a class these are literals


def test_durations() -> None:
    assert parse_duration_ns("1h30m") == 5400 * S
    assert parse_duration_ns("250ms") == S // 4
    with pytest.raises(ValueError):
        parse_duration_ns("5 minutes")


@pytest.mark.parametrize(
    "query",
    [
        'count_over_time({job="a"} [45s])',
        'bytes_over_time({job="a"} [20s])',
        'rate({job="a"} | regexp "^(?P<ip>\\\\S+) " [1m])',
        'bytes_rate({job="a"} [7s])',
    ],
)
@pytest.mark.parametrize("step_seconds", [1, 15, 61])
def test_range_vectors_of_all_steps_equal_the_window_definition(
    query: str, step_seconds: int
) -> None:
    """Each step's vector holds, per label set, what lies in ``(t - range, t]``."""
    lines = [
        (float(k * 7 % 300) + (k % 3) / 10, f"10.0.0.{k % 5} x{'y' * (k % 4)}") for k in range(90)
    ]
    store = store_with(({"job": "a", "pod": "p"}, lines))
    expr = parse(query)
    assert isinstance(expr, RangeAggregation)
    processed = engine._process(store, "t", expr, T0 - 40 * S, T0 + 320 * S)
    assert processed.points  # the definition below has something to check
    times = list(engine.step_times(T0 - 40 * S, T0 + 320 * S, step_seconds * S))
    found = engine._range_vectors(expr, processed, times)
    for t_ns, vector in zip(times, found, strict=True):
        expected: engine.Vector = {}
        for key, (stamps, sizes) in processed.points.items():
            inside = [
                size
                for ns, size in zip(stamps, sizes, strict=True)
                if t_ns - expr.range_ns < ns <= t_ns
            ]
            if not inside:
                continue
            total = float(len(inside) if "bytes" not in expr.function else sum(inside))
            expected[key] = total / (expr.range_ns / S) if "rate" in expr.function else total
        assert vector == expected
