"""``LokiClient`` against the Loki test server over HTTP: push, queries, metadata, errors,
paging past Loki's entry limit, splitting past its point limit, retries and auth."""

from __future__ import annotations

import gzip
import json
from collections.abc import Generator

import pytest
import requests

from diagnosis_operator.adapters.loki import LokiClient
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, Window
from diagnosis_operator.ports import SignalError
from tests.loki_server import LokiHTTPServer, serve_in_thread
from tests.services.loki import LokiTenant

pytestmark = pytest.mark.integration

T0 = 1_765_440_000.0


def stream(labels: dict[str, str], lines: list[tuple[float, str]]) -> LogStream:
    return LogStream(
        labels=Labels(labels), lines=tuple(LogLine(T0 + offset, text) for offset, text in lines)
    )


@pytest.fixture
def pushed(loki: LokiTenant) -> LokiClient:
    client = loki.client()
    sent = client.push(
        [
            stream({"job": "api", "instance": "api-0"}, [(1, "GET /a 200"), (2, "GET /b 500")]),
            stream({"job": "api", "instance": "api-1"}, [(1.5, "GET /a 502"), (3, 'say "hi" ü')]),
            stream({"job": "db", "instance": "db-0"}, [(2.5, "deadlock found")]),
        ]
    )
    assert sent == 5
    return client


def test_log_query_range_forward_backward_and_limit(pushed: LokiClient) -> None:
    forward = pushed.query_range('{job="api"}', start=T0, end=T0 + 10, limit=3, direction="forward")
    assert forward.result_type == "streams"
    got = sorted((line.ts - T0, line.line) for s in forward.streams for line in s.lines)
    assert got == [(1.0, "GET /a 200"), (1.5, "GET /a 502"), (2.0, "GET /b 500")]
    backward = pushed.query_range('{job="api"}', start=T0, end=T0 + 10, limit=1)
    assert [line.line for s in backward.streams for line in s.lines] == ['say "hi" ü']
    assert {dict(s.labels)["instance"] for s in forward.streams} == {"api-0", "api-1"}


def test_metric_range_and_instant_queries(pushed: LokiClient) -> None:
    result = pushed.query_range(
        'sum by (instance) (count_over_time({job="api"} |~ "5\\\\d\\\\d" [2s]))',
        start=T0,
        end=T0 + 4,
        step=1,
    )
    assert result.result_type == "matrix"
    by_instance = {
        s.labels["instance"]: dict(zip(s.timestamps, s.values, strict=True)) for s in result.series
    }
    assert by_instance == {
        "api-0": {T0 + 2: 1.0, T0 + 3: 1.0},
        "api-1": {T0 + 2: 1.0, T0 + 3: 1.0},
    }
    instant = pushed.query('sum(count_over_time({job=~"api|db"}[10s]))', time=T0 + 5)
    assert instant.result_type == "vector"
    assert [s.values for s in instant.series] == [(5.0,)]


def test_labels_values_and_series(pushed: LokiClient) -> None:
    assert pushed.labels(start=T0, end=T0 + 10) == ["instance", "job"]
    assert pushed.label_values("instance", start=T0, end=T0 + 10) == ["api-0", "api-1", "db-0"]
    assert pushed.label_values("job", start=T0, end=T0 + 10, query='{instance="db-0"}') == ["db"]
    series = pushed.series(['{job="db"}', '{instance="api-1"}'], start=T0, end=T0 + 10)
    assert sorted((dict(s) for s in series), key=str) == sorted(
        [{"job": "db", "instance": "db-0"}, {"job": "api", "instance": "api-1"}], key=str
    )
    # Nothing outside the time range.
    assert pushed.labels(start=T0 + 100, end=T0 + 200) == []


def test_tenants_are_isolated(pushed: LokiClient, loki: LokiTenant) -> None:
    other = LokiClient(loki.url, tenant="someone-else", retries=0)
    assert other.query_range('{job="api"}', start=T0, end=T0 + 10).streams == ()


def test_push_is_idempotent_for_identical_entries(pushed: LokiClient) -> None:
    pushed.push([stream({"job": "db", "instance": "db-0"}, [(2.5, "deadlock found")])])
    result = pushed.query_range('{job="db"}', start=T0, end=T0 + 10)
    assert [len(s.lines) for s in result.streams] == [1]


def test_bad_query_raises_signal_error_with_lokis_status_and_body(pushed: LokiClient) -> None:
    with pytest.raises(SignalError) as caught:
        pushed.query_range('{job=~".*"}', start=T0, end=T0 + 10)
    error = caught.value
    assert error.status == 400
    assert error.body.startswith("parse error : queries require at least one regexp or equality")
    assert error.query == '{job=~".*"}'
    assert error.window == Window(T0, T0 + 10)
    assert "HTTP 400" in str(error) and '{job=~".*"}' in str(error)

    with pytest.raises(SignalError) as caught:
        pushed.query('{job="api"}', time=T0)
    assert caught.value.status == 400
    assert "log queries are not supported as an instant query type" in caught.value.body

    with pytest.raises(SignalError) as caught:
        pushed.query_range('count_over_time({job="api"}[1s])', start=T0, end=T0 + 3600, step=0.1)
    assert caught.value.body == (
        "exceeded maximum resolution of 11,000 points per time series. "
        "Try increasing the value of the step parameter"
    )

    with pytest.raises(SignalError) as caught:
        pushed.query_range('{job="api"}', start=T0, end=T0 + 10, limit=5001)
    assert caught.value.body == (
        "max entries limit per query exceeded, limit > max_entries_limit_per_query (5001 > 5000)"
    )


def test_log_range_pages_past_the_entry_limit_without_duplicates(loki: LokiTenant) -> None:
    client = loki.client(max_entries_per_query=7)
    lines = [(i * 0.25, f"line {i:03d}") for i in range(40)]
    # Six entries at one nanosecond straddle a page boundary (7 per page).
    lines += [(5.0, f"same instant {k}") for k in range(6)]
    client.push(
        [stream({"job": "pager"}, lines[:20]), stream({"job": "pager", "shard": "b"}, lines[20:])]
    )
    window = Window(T0, T0 + 100)

    everything = client.log_range('{job="pager"}', window=window, limit=1000)
    got = [line for s in everything for line in s.lines]
    assert len(got) == 46
    assert len({(line.ts, line.line) for line in got}) == 46

    first = client.log_range('{job="pager"}', window=window, limit=30)
    first_lines = sorted((line.ts, line.line) for s in first for line in s.lines)
    assert len(first_lines) == 30
    # The oldest 30, whatever the page size.
    all_sorted = sorted((line.ts, line.line) for line in got)
    assert [ts for ts, _ in first_lines] == [ts for ts, _ in all_sorted[:30]]


def test_log_range_window_is_closed_at_both_ends(loki: LokiTenant) -> None:
    client = loki.client()
    client.push([stream({"job": "edge"}, [(0, "at start"), (10, "at end"), (10.001, "after")])])
    result = client.log_range('{job="edge"}', window=Window(T0, T0 + 10), limit=10)
    assert [line.line for s in result for line in s.lines] == ["at start", "at end"]


def test_metric_range_splits_past_the_point_limit(loki: LokiTenant) -> None:
    client = loki.client()
    client.push([stream({"job": "long"}, [(0.5, "a"), (15_000.5, "b"), (29_999.5, "c")])])
    window = Window(T0, T0 + 30_000)
    [series] = client.metric_range(
        'sum(count_over_time({job="long"}[1s]))', window=window, step=1.0
    )
    assert dict(zip(series.timestamps, series.values, strict=True)) == {
        T0 + 1: 1.0,
        T0 + 15_001: 1.0,
        T0 + 30_000: 1.0,
    }


def test_push_rejects_protobuf_and_bad_json(loki: LokiTenant) -> None:
    response = requests.post(
        f"{loki.url}/loki/api/v1/push",
        data=b"\x00\x01",
        headers={"Content-Type": "application/x-protobuf"},
        timeout=10,
    )
    assert response.status_code == 415
    response = requests.post(
        f"{loki.url}/loki/api/v1/push",
        data=gzip.compress(
            json.dumps({"streams": [{"stream": {"a": "b"}, "values": [[1, "x"]]}]}).encode()
        ),
        headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        timeout=10,
    )
    assert response.status_code == 400
    assert "nanoseconds as a string" in response.text


@pytest.fixture
def local_server() -> Generator[LokiHTTPServer, None, None]:
    server = serve_in_thread(auth_header="Bearer s3cret")
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()


def test_retries_server_errors_then_fails_with_the_last_status(
    local_server: LokiHTTPServer,
) -> None:
    client = LokiClient(local_server.url, bearer_token="s3cret", retries=2, backoff=0)
    local_server.fail_next(503, 502)
    assert client.query_range('{job="x"}', start=T0, end=T0 + 1).streams == ()
    local_server.fail_next(503, 503, 503)
    with pytest.raises(SignalError) as caught:
        client.query_range('{job="x"}', start=T0, end=T0 + 1)
    assert caught.value.status == 503
    # Client errors are not retried.
    before = len(local_server.requests)
    with pytest.raises(SignalError):
        client.query_range("{}", start=T0, end=T0 + 1)
    assert len(local_server.requests) == before + 1


def test_credentials_are_sent(local_server: LokiHTTPServer) -> None:
    with pytest.raises(SignalError) as caught:
        LokiClient(local_server.url, retries=0).labels(start=T0, end=T0 + 1)
    assert caught.value.status == 401
    assert LokiClient(local_server.url, bearer_token="s3cret").labels(start=T0, end=T0 + 1) == []


def test_connection_failure_says_what_was_asked() -> None:
    server = serve_in_thread()
    url = server.url
    server.server_close()
    with pytest.raises(SignalError) as caught:
        LokiClient(url, retries=1, backoff=0, timeout=2).query_range(
            '{a="b"}', start=T0, end=T0 + 1
        )
    assert caught.value.status is None
    assert "ConnectionError" in caught.value.reason
