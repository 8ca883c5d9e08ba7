"""PrometheusAdapter over a scripted transport: queries sent, retries, errors, splitting."""

from __future__ import annotations

import math
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from diagnosis_operator.adapters.prometheus import PrometheusAdapter, split_window
from diagnosis_operator.models.querytext import QueryBuildError
from diagnosis_operator.models.signals import Labels, MetricType, Window
from diagnosis_operator.ports import SignalError
from tests.fakes.metrics import Answer, ScriptedTransport, matrix, prometheus_error, vector

URL = "http://prometheus.test:9090"
WINDOW = Window(start=1_700_000_000.0, end=1_700_000_060.0)


def adapter(
    script: list[Answer | Exception], **options: object
) -> tuple[PrometheusAdapter, ScriptedTransport, None]:
    """The adapter over a scripted transport (which replaces the retrying one: see
    test_http_retries.py for retries)."""
    transport = ScriptedTransport(script)
    made = PrometheusAdapter(URL, transport=transport, **options)  # type: ignore[arg-type]
    return made, transport, None


def test_range_series_asks_for_the_raw_selector_over_the_exact_window() -> None:
    answer = matrix(
        (
            {"__name__": "http_requests_total", "job": "api", "code": "500"},
            [(1_700_000_000, "1"), (1_700_000_030, "4")],
        ),
        ({"__name__": "up", "job": "api"}, [(1_700_000_060, "1")]),
    )
    prometheus, transport, _ = adapter([answer])
    window = Window(start=1_700_000_000.25, end=1_700_000_060.5)

    found = prometheus.range_series(selector={"job": "api"}, window=window, step=30)

    # the range query, then (once per adapter) the metric metadata for declared types
    sent, *metadata = transport.sent
    assert [m.path for m in metadata] == ["/api/v1/metadata"]
    assert sent.path == "/api/v1/query_range"
    assert sent.params == {
        "query": '{job="api"}',
        "start": "1700000000.25",
        "end": "1700000060.5",
        "step": "30",
    }
    by_name = {s.name: s for s in found}
    assert by_name["http_requests_total"].labels == Labels({"job": "api", "code": "500"})
    assert by_name["http_requests_total"].timestamps == (1_700_000_000.0, 1_700_000_030.0)
    assert by_name["http_requests_total"].values == (1.0, 4.0)
    assert by_name["up"].values == (1.0,)


@pytest.mark.parametrize(
    ("value", "literal"),
    [
        ('say "hi"', r'"say \"hi\""'),
        ("C:\\path\\", r'"C:\\path\\"'),
        ("line1\nline2\r\t", r'"line1\nline2\r\t"'),
        ('"} or vector(1) #', r'"\"} or vector(1) #"'),
        ("üñí`'", '"üñí`\'"'),
    ],
)
def test_label_values_are_escaped_in_the_query_sent(value: str, literal: str) -> None:
    prometheus, transport, _ = adapter([matrix()])
    prometheus.range_series(selector={"pod": value}, window=WINDOW, step=15)
    assert transport.sent[0].params["query"] == "{pod=" + literal + "}"


def test_label_names_and_empty_selectors_are_refused_before_sending() -> None:
    prometheus, transport, _ = adapter([])
    with pytest.raises(QueryBuildError):
        prometheus.range_series(selector={"bad name": "x"}, window=WINDOW, step=15)
    with pytest.raises(QueryBuildError):
        prometheus.range_series(selector={}, window=WINDOW, step=15)
    assert transport.sent == []


def test_a_connection_error_reports_what_was_asked() -> None:
    refused = requests.ConnectionError("connection refused")
    prometheus, transport, _ = adapter([refused])
    with pytest.raises(SignalError) as raised:
        prometheus.query_range(promql="up", window=WINDOW, step=15)
    error = raised.value
    assert len(transport.sent) == 1
    assert error.query == "up"
    assert error.window == WINDOW
    assert error.status is None
    assert "cannot reach http://prometheus.test:9090" in str(error)


def test_a_bad_query_is_not_retried_and_carries_status_and_body() -> None:
    prometheus, transport, _ = adapter(
        [prometheus_error(400, "bad_data", 'invalid parameter "query": parse error')]
    )
    with pytest.raises(SignalError) as raised:
        prometheus.query_range(promql="sum(", window=WINDOW, step=15)
    error = raised.value
    assert len(transport.sent) == 1
    assert (error.backend, error.query, error.window, error.status) == (
        "prometheus",
        "sum(",
        WINDOW,
        400,
    )
    assert "parse error" in error.body
    assert "bad_data" in str(error)
    assert str(WINDOW) in str(error)


def test_read_timeouts_are_not_retried() -> None:
    prometheus, transport, _ = adapter([requests.ReadTimeout("read timed out")], timeout=7)
    with pytest.raises(SignalError) as raised:
        prometheus.query_instant(promql="up", at=1_700_000_000)
    assert "no answer within 7 s" in str(raised.value)
    assert len(transport.sent) == 1


def test_bearer_token_and_tenant_become_headers_and_stay_out_of_repr() -> None:
    prometheus, transport, _ = adapter([vector()], bearer_token="s3cret", tenant="team-a")
    prometheus.query_instant(promql="up", at=1_700_000_000)
    assert transport.sent[0].headers["Authorization"] == "Bearer s3cret"
    assert transport.sent[0].headers["X-Scope-OrgID"] == "team-a"
    assert "s3cret" not in repr(prometheus)


def test_timeout_and_headers_reach_the_transport() -> None:
    prometheus, transport, _ = adapter(
        [vector()], timeout=4.5, headers={"Authorization": "Bearer t0ken"}
    )
    prometheus.query_instant(promql="up", at=1_700_000_000.5)
    [sent] = transport.sent
    assert sent.timeout == 4.5
    assert sent.headers["Authorization"] == "Bearer t0ken"
    assert sent.params == {"query": "up", "time": "1700000000.5"}


def test_an_unreadable_success_is_an_error_with_the_body() -> None:
    prometheus, _, _ = adapter([Answer(status=200, body="<html>login</html>")])
    with pytest.raises(SignalError) as raised:
        prometheus.query_range(promql="up", window=WINDOW, step=15)
    assert raised.value.status == 200
    assert "<html>login</html>" in raised.value.body


def test_instant_vector_and_scalar_results() -> None:
    scalar = Answer(
        body={"status": "success", "data": {"resultType": "scalar", "result": [1_700_000_000, "2"]}}
    )
    prometheus, _, _ = adapter(
        [vector(({"__name__": "up", "job": "db"}, (1_700_000_000, "0"))), scalar]
    )
    [up] = prometheus.query_instant(promql="up", at=1_700_000_000)
    assert (up.name, dict(up.labels), up.values) == ("up", {"job": "db"}, (0.0,))
    [number] = prometheus.query_instant(promql="1+1", at=1_700_000_000)
    assert (number.name, len(number.labels), number.values) == ("", 0, (2.0,))


def test_nan_and_infinities_are_kept() -> None:
    prometheus, _, _ = adapter(
        [matrix(({"__name__": "x"}, [(1_700_000_000, "NaN"), (1_700_000_015, "+Inf")]))]
    )
    [found] = prometheus.query_range(promql="x", window=WINDOW, step=15)
    assert math.isnan(found.values[0])
    assert found.values[1] == math.inf


def test_check_query_returns_the_refusal_and_accepts_good_queries() -> None:
    prometheus, transport, _ = adapter(
        [
            prometheus_error(400, "bad_data", "1:5: parse error: unclosed left parenthesis"),
            vector(),
            prometheus_error(422, "execution", "many-to-many matching not allowed"),
        ]
    )
    assert prometheus.check_query(promql="sum(", at=1_700_000_000) == (
        "bad_data: 1:5: parse error: unclosed left parenthesis"
    )
    assert prometheus.check_query(promql="sum(up)", at=1_700_000_000) is None
    assert "many-to-many" in (prometheus.check_query(promql="a + b", at=1_700_000_000) or "")
    assert [sent.params["query"] for sent in transport.sent] == ["sum(", "sum(up)", "a + b"]


def test_check_query_raises_when_prometheus_is_down() -> None:
    prometheus, _, _ = adapter([requests.ConnectionError("down")], retries=0)
    with pytest.raises(SignalError):
        prometheus.check_query(promql="up", at=1_700_000_000)


def test_long_windows_are_split_under_the_points_limit_and_joined() -> None:
    window = Window(start=0.0, end=24.0)  # 25 instants at step 1
    pieces = [
        matrix(({"__name__": "m", "a": "1"}, [(t, str(t)) for t in range(0, 10)])),
        matrix(
            ({"__name__": "m", "a": "1"}, [(t, str(t)) for t in range(10, 20)]),
            ({"__name__": "m", "a": "2"}, [(15, "7")]),
        ),
        matrix(({"__name__": "m", "a": "1"}, [(t, str(t)) for t in range(20, 25)])),
    ]
    prometheus, transport, _ = adapter(list(pieces), max_points=10)
    found = {s.labels["a"]: s for s in prometheus.query_range(promql="m", window=window, step=1)}
    assert [(sent.params["start"], sent.params["end"]) for sent in transport.sent] == [
        ("0", "9"),
        ("10", "19"),
        ("20", "24"),
    ]
    assert found["1"].timestamps == tuple(float(t) for t in range(25))
    assert found["2"].timestamps == (15.0,)


def test_split_window_covers_exactly_the_same_instants() -> None:
    window = Window(start=100.0, end=100.0 + 15 * 30_000 + 7)
    pieces = split_window(window=window, step=15, max_points=11_000)
    assert len(pieces) == 3
    joined = [t for piece in pieces for t in piece.steps(15)]
    assert joined == list(window.steps(15))
    assert all(len(list(piece.steps(15))) <= 11_000 for piece in pieces)


def test_split_window_with_a_single_trailing_instant() -> None:
    window = Window(start=0.0, end=10.0)  # 11 instants, 10 per piece
    pieces = split_window(window=window, step=1, max_points=10)
    assert [list(piece.steps(1)) for piece in pieces][-1] == [10.0]
    assert [t for piece in pieces for t in piece.steps(1)] == list(window.steps(1))


def test_split_window_refuses_a_bad_step() -> None:
    with pytest.raises(ValueError, match="step"):
        split_window(window=WINDOW, step=0)


def test_a_bad_step_is_a_signal_error_without_a_request() -> None:
    prometheus, transport, _ = adapter([])
    with pytest.raises(SignalError, match="step must be a positive"):
        prometheus.query_range(promql="up", window=WINDOW, step=-1)
    assert transport.sent == []


def test_metadata_maps_families_to_types() -> None:
    answer = Answer(
        body={
            "status": "success",
            "data": {
                "http_requests_total": [{"type": "counter", "help": "", "unit": ""}],
                "odd_family": [{"type": "gaugehistogram", "help": "", "unit": ""}],
            },
        }
    )
    prometheus, transport, _ = adapter([answer])
    assert prometheus.metadata() == {
        "http_requests_total": MetricType.COUNTER,
        "odd_family": MetricType.UNKNOWN,
    }
    assert transport.sent[0].path == "/api/v1/metadata"


def test_a_request_that_cannot_be_sent_names_no_earlier_answer() -> None:
    prometheus, transport, _ = adapter([vector(({"job": "a"}, (1_700_000_000.0, "1")))])
    prometheus.query_instant(promql="up", at=1_700_000_000.0)
    with pytest.raises(SignalError) as raised:
        # A lone surrogate cannot be encoded: the request never leaves.
        prometheus.query_instant(promql='up{job="\ud800"}', at=1_700_000_000.0)
    assert raised.value.status is None and raised.value.body == ""
    assert "request not sent" in raised.value.reason
    assert len(transport.sent) == 1


class _SlowTransport(ScriptedTransport):
    """Answers after a pause, so requests of several threads overlap."""

    def send(  # type: ignore[override]
        self, request: requests.PreparedRequest, timeout: object = None, **kwargs: object
    ) -> requests.Response:
        threading.Event().wait(0.2)
        return super().send(request, timeout=timeout, **kwargs)


def test_components_asking_types_at_once_share_one_metadata_call() -> None:
    answer = Answer(
        body={
            "status": "success",
            "data": {"http_requests_total": [{"type": "counter", "help": "", "unit": ""}]},
        }
    )
    transport = _SlowTransport([answer])
    prometheus = PrometheusAdapter(URL, transport=transport)
    with ThreadPoolExecutor(max_workers=4) as pool:
        found = list(pool.map(lambda _: prometheus.series_types(["http_requests_total"]), range(4)))
    assert [m.path for m in transport.sent] == ["/api/v1/metadata"]
    assert found == [{"http_requests_total": MetricType.COUNTER}] * 4
