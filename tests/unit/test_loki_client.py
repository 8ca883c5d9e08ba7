"""Pure parts of the Loki adapter: nanosecond time, response parsing, query splitting."""

from __future__ import annotations

import pytest

from diagnosis_operator.adapters.loki import (
    MAX_POINTS_PER_SERIES,
    LokiClient,
    LokiLogSource,
    default_step,
    metric_chunks,
    parse_matrix,
    parse_streams,
    parse_vector,
)
from diagnosis_operator.adapters.loki.push import push_batches
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, Window
from diagnosis_operator.models.timefmt import nanos_to_seconds as from_nanos
from diagnosis_operator.models.timefmt import seconds_to_nanos as to_nanos


def test_nanoseconds_are_exact_for_the_decimal_the_caller_wrote() -> None:
    assert to_nanos(1765441184.12) == 1765441184_120000000
    assert to_nanos(1765441184.000001) == 1765441184_000001000
    assert to_nanos(0.5) == 500_000_000
    # A naive float product is off by hundreds of nanoseconds here.
    assert to_nanos(1765441184.123) == 1765441184_123000000
    assert int(1765441184.123 * 1e9) != 1765441184_123000000
    assert from_nanos("1765441184120000000") == 1765441184.12
    assert from_nanos(1) == 1e-9


def test_parse_streams_sorts_lines_and_keeps_labels() -> None:
    streams = parse_streams(
        [
            {
                "stream": {"job": "a", "instance": "0"},
                "values": [["1700000002000000000", "second"], ["1700000001500000000", "first"]],
            }
        ]
    )
    assert streams == [
        LogStream(
            labels=Labels({"job": "a", "instance": "0"}),
            lines=(LogLine(1700000001.5, "first"), LogLine(1700000002.0, "second")),
        )
    ]
    with pytest.raises(ValueError, match="stream entry"):
        parse_streams([{"stream": {"a": "b"}, "values": [["1"]]}])
    with pytest.raises(ValueError, match="label object"):
        parse_streams([{"stream": {"a": 1}, "values": []}])


def test_parse_matrix_and_vector() -> None:
    [series] = parse_matrix(
        [{"metric": {"ip": "1"}, "values": [[1700000060, "2"], [1700000000.5, "1.5"]]}]
    )
    assert series.labels == {"ip": "1"}
    assert series.timestamps == (1700000000.5, 1700000060.0)
    assert series.values == (1.5, 2.0)
    [sample] = parse_vector([{"metric": {}, "value": [1700000000, "7"]}])
    assert sample.timestamps == (1700000000.0,) and sample.values == (7.0,)
    with pytest.raises(ValueError, match="sample value"):
        parse_matrix([{"metric": {}, "values": [[1, 2]]}])


def test_metric_chunks_stay_on_the_step_grid_within_the_point_limit() -> None:
    window = Window(0.0, 30_000.0)
    chunks = metric_chunks(
        window=window, step=1.0, max_points=MAX_POINTS_PER_SERIES, max_length=1e9
    )
    steps = [t for start, end in chunks for t in Window(start, end + 0.5).steps(1.0)]
    assert steps == list(window.steps(1.0))
    assert all((end - start) // 1.0 <= MAX_POINTS_PER_SERIES for start, end in chunks)
    assert len(chunks) == 3
    by_length = metric_chunks(
        window=Window(0.0, 100.0), step=10.0, max_points=11000, max_length=30.0
    )
    assert by_length == [(0.0, 20.0), (30.0, 50.0), (60.0, 80.0), (90.0, 100.0)]


def test_default_step_is_lokis_and_respects_the_point_limit() -> None:
    assert default_step(Window(0.0, 3600.0)) == 14.0
    assert default_step(Window(0.0, 60.0)) == 1.0
    assert Window(0.0, 86_400.0 * 30).duration / default_step(Window(0.0, 86_400.0 * 30)) <= 11_000


def test_push_batches_split_large_pushes_without_losing_lines() -> None:
    stream = LogStream(
        labels=Labels({"job": "a"}), lines=tuple(LogLine(float(i), "x" * 100) for i in range(50))
    )
    batches = list(push_batches([stream, stream], max_bytes=1000))
    assert len(batches) > 2
    assert sum(len(s.lines) for batch in batches for s in batch) == 100
    with pytest.raises(ValueError, match="at least one label"):
        list(push_batches([LogStream(labels=Labels({}), lines=())], max_bytes=1000))


def test_client_refuses_bad_configuration() -> None:
    with pytest.raises(ValueError, match="http"):
        LokiClient("loki:3100")
    with pytest.raises(ValueError, match="not both"):
        LokiClient("http://127.0.0.1:1", bearer_token="t", basic_auth=("u", "p"))
    assert "secret" not in repr(LokiClient("http://127.0.0.1:1", bearer_token="secret"))


def test_describe_quotes_the_logql_that_is_sent() -> None:
    source = LokiLogSource(LokiClient("http://127.0.0.1:1"))
    assert source.describe(selector={"job": "a"}, line_filter="x") == '{job="a"} |~ "x"'
    assert source.describe(selector={"job": "a"}, line_filter=None, by=("i",), step=60) == (
        'sum by (i) (count_over_time({job="a"} [1m]))'
    )
    assert (
        source.describe(
            selector={"job": "a"},
            line_filter=None,
            pattern="(?P<ip>\\S+)",
            by=("ip",),
            step=15,
            top=3,
        )
        == 'topk(3, sum by (ip) (count_over_time({job="a"} | regexp "(?P<ip>\\\\S+)" [15s])))'
    )
