"""Thanos / Mimir query frontends behind the Prometheus API: warnings, partial answers, limits.

The real ``PrometheusAdapter`` talks HTTP to the frontend double
(``tests/services/query_frontend.py``, 127.0.0.1) that answers as the
frontends do: ``warnings`` (a Thanos store unreachable with
``partial_response``) and ``infos``, Mimir's 422 for a range longer than
``max_query_length`` or too many series, 429 rate limiting, 5xx from the
frontend.  A partial answer keeps its data but the diagnosis built on it is
degraded, never a complete calm.
"""

from __future__ import annotations

import pytest

from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.adapters.prometheus_answers import query_length_limit
from diagnosis_operator.core.diagnosis.analyse import analyse
from diagnosis_operator.core.diagnosis.coverage import assess
from diagnosis_operator.models.coverage import PARTIAL_DATA, Outcome
from diagnosis_operator.models.signals import ComponentSignals, Labels, SignalSet, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from diagnosis_operator.ports import PartialAnswer, SignalError
from diagnosis_operator.service import collect as collector
from tests.fakes.logs import FakeLogSource
from tests.services.query_frontend import (
    THANOS_STORE_UNREACHABLE,
    FrontendBehaviour,
    QueryFrontend,
)

WINDOW = Window(1_700_000_000.0, 1_700_003_600.0)
SELECTOR = '{job="db"}'
TABLE = {
    SELECTOR: [
        {
            "metric": {"__name__": "up", "job": "db", "instance": f"db-{n}"},
            "values": [[WINDOW.start + 15 * i, "1"] for i in range(241)],
        }
        for n in range(3)
    ]
}
TOPOLOGY = Topology(components=(Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),))


def _adapter(frontend: QueryFrontend, **options: object) -> PrometheusAdapter:
    options.setdefault("retries", 0)
    return PrometheusAdapter(frontend.url, backoff=0, timeout=5, **options)  # type: ignore[arg-type]


def test_warnings_make_a_partial_answer_that_keeps_its_data() -> None:
    rule = FrontendBehaviour(warnings=(THANOS_STORE_UNREACHABLE,))
    with (
        QueryFrontend(behaviour=rule, table=TABLE) as frontend,
        pytest.raises(PartialAnswer) as raised,
    ):
        _adapter(frontend).range_series(selector={"job": "db"}, window=WINDOW, step=15)
    partial = raised.value
    assert partial.warnings == (THANOS_STORE_UNREACHABLE,)
    assert len(partial.answer) == 3 and len(partial.answer[0].values) == 241
    assert "store unreachable" in str(partial) and SELECTOR in str(partial)


def test_an_instant_answer_with_warnings_is_partial_too() -> None:
    rule = FrontendBehaviour(warnings=("PromQL warning: something went wrong",))
    with QueryFrontend(behaviour=rule, table=TABLE) as frontend, pytest.raises(PartialAnswer):
        _adapter(frontend).query_instant(promql=SELECTOR, at=WINDOW.end)


def test_infos_alone_leave_the_answer_whole() -> None:
    rule = FrontendBehaviour(infos=('PromQL info: metric might not be a counter: "up"',))
    with QueryFrontend(behaviour=rule, table=TABLE) as frontend:
        found = _adapter(frontend).query_range(promql=SELECTOR, window=WINDOW, step=15)
    assert len(found) == 3


def test_partial_response_is_asked_for_only_when_configured() -> None:
    with QueryFrontend(table=TABLE) as frontend:
        _adapter(frontend).query_range(promql=SELECTOR, window=WINDOW, step=15)
        _adapter(frontend, partial_response=False).query_range(
            promql=SELECTOR, window=WINDOW, step=15
        )
    first, second = frontend.asked
    assert "partial_response" not in first.params
    assert second.params["partial_response"] == "false"


def test_a_range_longer_than_the_frontends_limit_is_asked_again_in_pieces() -> None:
    rule = FrontendBehaviour(max_query_length=20 * 60)
    with QueryFrontend(behaviour=rule, table=TABLE) as frontend:
        found = _adapter(frontend).query_range(promql=SELECTOR, window=WINDOW, step=15)
        refused, *pieces = frontend.asked
    lengths = [float(p.params["end"]) - float(p.params["start"]) for p in pieces]
    assert float(refused.params["end"]) - float(refused.params["start"]) == 3600
    assert len(pieces) > 1 and max(lengths) <= 20 * 60
    # Joined again: every instant of the window once.
    assert [len(series.values) for series in found] == [241, 241, 241]
    assert found[0].timestamps == tuple(WINDOW.start + 15 * i for i in range(241))


def test_the_length_limit_is_read_from_the_frontends_message() -> None:
    body = (
        '{"status":"error","errorType":"execution","error":"the query time range exceeds the '
        'limit (query length: 745h0m0s, limit: 720h0m0s) (err-mimir-max-query-length)"}'
    )
    refused = SignalError(backend="prometheus", query="up", window=None, status=422, body=body)
    assert query_length_limit(refused) == 720 * 3600
    other = SignalError(backend="prometheus", query="up", window=None, status=422, body="nope")
    assert query_length_limit(other) is None
    assert query_length_limit(SignalError(backend="p", query="q", window=None, status=503)) is None


def test_too_many_series_is_an_error_with_the_frontends_words() -> None:
    with (
        QueryFrontend(behaviour=FrontendBehaviour(max_series=2), table=TABLE) as frontend,
        pytest.raises(SignalError) as raised,
    ):
        _adapter(frontend, retries=2).query_range(promql=SELECTOR, window=WINDOW, step=15)
    assert raised.value.status == 422
    assert "maximum number of series" in str(raised.value)
    assert len(frontend.asked) == 1  # a refused query is not asked again


def test_rate_limiting_is_retried_then_answered() -> None:
    with QueryFrontend(behaviour=FrontendBehaviour(throttle=2), table=TABLE) as frontend:
        found = _adapter(frontend, retries=3).query_range(promql=SELECTOR, window=WINDOW, step=15)
    assert len(found) == 3 and len(frontend.asked) == 3


@pytest.mark.parametrize("status", [429, 500, 502])
def test_a_frontend_that_keeps_refusing_names_its_status(status: int) -> None:
    rule = (
        FrontendBehaviour(throttle=100) if status == 429 else FrontendBehaviour(fail_status=status)
    )
    with (
        QueryFrontend(behaviour=rule, table=TABLE) as frontend,
        pytest.raises(SignalError) as raised,
    ):
        _adapter(frontend, retries=1).query_range(promql=SELECTOR, window=WINDOW, step=15)
    assert raised.value.status == status and raised.value.window == WINDOW


def test_a_diagnosis_on_a_partial_answer_is_degraded_not_complete() -> None:
    rule = FrontendBehaviour(warnings=(THANOS_STORE_UNREACHABLE,))
    with QueryFrontend(behaviour=rule, table=TABLE) as frontend:
        # The double answers the raw selector from its table: the raw path asks exactly that.
        signals = collector.collect(
            topology=TOPOLOGY,
            window=WINDOW,
            series=_adapter(frontend),
            logs=FakeLogSource(),
            aggregate=False,
        )
    db = signals.components["db"]
    assert db.partial == 1 and db.failed == 0 and len(db.series) == 3
    coverage = assess(signals, symptom_component="db")
    assert coverage.outcome is Outcome.DEGRADED and coverage.reason == PARTIAL_DATA
    assert "partial" in coverage.message and "store unreachable" in coverage.message
    assert coverage.answered_share < 1.0
    result = analyse(topology=TOPOLOGY, signals=signals, symptom=None, symptom_component="db")
    assert result.coverage.outcome is Outcome.DEGRADED
    assert any("store unreachable" in warning for warning in result.warnings)


def test_a_partial_answer_with_nothing_in_it_is_no_calm() -> None:
    empty = ComponentSignals(component="db", asked=4, partial=1)
    coverage = assess(SignalSet(window=WINDOW, step=15.0, components={"db": empty}))
    assert coverage.outcome is Outcome.DEGRADED
    assert coverage.to_json()["queriesPartial"] == 1
