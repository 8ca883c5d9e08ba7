"""The shared retrying session (adapters/http.py) of Prometheus and Loki, over a loopback server.

A scripted ``http.server`` on 127.0.0.1 answers 429 with ``Retry-After: 1``
and then 200: the second request must come at least that second later.  Every
server answers at most a few requests; nothing leaves the machine.
"""

from __future__ import annotations

import pytest

from diagnosis_operator.adapters.http import retry_policy
from diagnosis_operator.adapters.loki import LokiClient
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, Window
from diagnosis_operator.ports import SignalError
from tests.fakes.http_server import ScriptedServer
from tests.fakes.metrics import Answer, prometheus_error, vector

WINDOW = Window(start=1_700_000_000.0, end=1_700_000_060.0)
THROTTLED = Answer(status=429, body="slow down", headers={"Retry-After": "1"})
LOKI_EMPTY = Answer(body={"status": "success", "data": {"resultType": "streams", "result": []}})


def _gap(server: ScriptedServer) -> float:
    first, second = server.asked[:2]
    return second.at - first.at


def test_prometheus_honours_retry_after() -> None:
    with ScriptedServer([THROTTLED, vector(({"__name__": "up"}, (1_700_000_000, "1")))]) as server:
        prometheus = PrometheusAdapter(server.url, retries=2, backoff=0, timeout=5)
        [up] = prometheus.query_instant(promql="up", at=1_700_000_000)
    assert up.values == (1.0,)
    assert len(server.asked) == 2
    assert _gap(server) >= 0.9


def test_loki_honours_retry_after() -> None:
    with ScriptedServer([THROTTLED, LOKI_EMPTY]) as server:
        loki = LokiClient(server.url, retries=2, backoff=0, timeout=5)
        assert loki.query_range('{job="x"}', start=WINDOW.start, end=WINDOW.end).streams == ()
    assert len(server.asked) == 2
    assert _gap(server) >= 0.9


def test_prometheus_gives_up_with_what_was_asked_and_the_last_answer() -> None:
    with ScriptedServer([prometheus_error(503, "timeout", "query timed out")]) as server:
        prometheus = PrometheusAdapter(server.url, retries=1, backoff=0, timeout=5)
        with pytest.raises(SignalError) as raised:
            prometheus.query_range(promql="up", window=WINDOW, step=15)
    error = raised.value
    assert len(server.asked) == 2
    assert (error.query, error.window, error.status) == ("up", WINDOW, 503)
    assert "query timed out" in error.body


def test_a_refused_query_is_asked_once() -> None:
    with ScriptedServer([prometheus_error(400, "bad_data", "parse error")]) as server:
        prometheus = PrometheusAdapter(server.url, retries=3, backoff=0, timeout=5)
        with pytest.raises(SignalError) as raised:
            prometheus.query_range(promql="sum(", window=WINDOW, step=15)
    assert len(server.asked) == 1
    assert raised.value.status == 400


def test_loki_push_is_retried_too() -> None:
    stream = LogStream(labels=Labels({"job": "x"}), lines=(LogLine(ts=1.0, line="a"),))
    with ScriptedServer([Answer(status=503, body="busy"), Answer(status=204, body="")]) as server:
        assert LokiClient(server.url, retries=1, backoff=0, timeout=5).push([stream]) == 1
    assert [asked.method for asked in server.asked] == ["POST", "POST"]


def test_retry_after_is_capped_by_max_backoff() -> None:
    retry = retry_policy(retries=1, backoff=0.5, max_backoff=2)
    assert retry.parse_retry_after("3600") == 2
    with pytest.raises(ValueError, match="retries"):
        retry_policy(retries=-1, backoff=0)
