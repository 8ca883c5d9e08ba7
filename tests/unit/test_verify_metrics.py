"""Verification by PromQL: the symptom's signals under the gate's thresholds, sustained."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import pytest

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.verify import (
    Better,
    FollowUp,
    Outcome,
    SignalCheck,
    verify,
)
from diagnosis_operator.core.remediation.verify_metrics import (
    due_after,
    metric_windows,
    symptom_queries,
    threshold,
)
from diagnosis_operator.core.rules.symptoms import Measure
from diagnosis_operator.models.signals import Series, Window
from diagnosis_operator.service.remediate import ActionPorts, Connections, DiagnosisRef, verify_due
from tests.fakes.cluster import FakeCluster
from tests.fakes.metrics import FakePromQLSource, series

INCIDENT = 1_900_000_000.0
ACTED = INCIDENT + 600
NOW = ACTED + 120  # the default sustain (1m) after a 1m rate window
DIAGNOSIS = DiagnosisRef(namespace="shop", name="web-5xx", uid="uid-5")


def _policy(**verification: Any) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [{"name": "web", "kind": "app", "selector": {"job": "web"}}],
            "thresholds": {"minErrorRatioRise": 0.05, "minLatencyRise": 0.5},
            "alerts": {"baseline": "30m"},
            "remediation": {"verification": {"after": "2m", **verification}},
        }
    )


def test_the_symptom_queries_are_the_gates_signals_on_a_shorter_rate_window() -> None:
    [component] = _policy().components
    queries = {q.signal: q for q in symptom_queries(component, sustain=60)}
    assert set(queries) == {"error_ratio", "latency_mean"}
    assert queries["error_ratio"].measure is Measure.ABSOLUTE_RISE
    assert 'job="web"' in queries["error_ratio"].promql and "[1m]" in queries["error_ratio"].promql
    assert queries["latency_mean"].measure is Measure.RELATIVE_RISE
    long = symptom_queries(component, sustain=600)[0].promql
    assert "[2m]" in long, "never longer than the catalogue's rate window"


def test_thresholds_are_the_gates_rises_over_the_baseline() -> None:
    assert threshold(
        measure=Measure.ABSOLUTE_RISE, baseline=0.01, error_rise=0.05, latency_rise=0.5
    ) == pytest.approx(0.06)
    assert threshold(
        measure=Measure.RELATIVE_RISE, baseline=0.2, error_rise=0.05, latency_rise=0.5
    ) == pytest.approx(0.3)


def test_the_sustained_period_waits_until_the_rate_window_has_left_the_action() -> None:
    assert due_after(acted_at=ACTED, sustain=60) == ACTED + 120
    kwargs = {"incident_start": INCIDENT, "acted_at": ACTED, "baseline": 1800.0, "sustain": 60.0}
    assert metric_windows(now=ACTED + 119, **kwargs) is None
    windows = metric_windows(now=ACTED + 120, **kwargs)
    assert windows is not None
    assert windows.baseline == Window(start=INCIDENT - 1800, end=INCIDENT)
    assert windows.before == Window(start=ACTED - 60, end=ACTED)
    assert windows.sustained == Window(start=ACTED + 60, end=ACTED + 120)


def test_a_level_check_needs_the_threshold_improving_is_not_enough() -> None:
    improved = SignalCheck("e", before=0.4, after=0.1, healthy=0.06, require_healthy=True)
    result = verify(checks=[improved], reversible=True)
    assert result.outcome is Outcome.NOT_RESOLVED and result.follow_up is FollowUp.ESCALATE
    assert "0.4 -> 0.1, still past its threshold (<= 0.06)" in result.summary
    worse = SignalCheck("e", before=0.1, after=0.4, healthy=0.06, require_healthy=True)
    assert verify(checks=[worse], reversible=True).follow_up is FollowUp.ROLLBACK
    healthy = SignalCheck("e", before=0.4, after=0.02, healthy=0.06, require_healthy=True)
    done = verify(checks=[healthy], reversible=True)
    assert done.outcome is Outcome.RESOLVED
    assert done.checks[0].numbers() == {
        "name": "e",
        "outcome": "resolved",
        "before": 0.4,
        "after": 0.02,
        "threshold": 0.06,
    }
    blind = SignalCheck("e", before=0.4, after=0.02, healthy=None, require_healthy=True)
    assert verify(checks=[blind], reversible=True).outcome is Outcome.UNKNOWN
    high = SignalCheck(
        "e", before=0.1, after=0.9, better=Better.HIGHER, healthy=0.8, require_healthy=True
    )
    assert verify(checks=[high], reversible=False).outcome is Outcome.RESOLVED


# --------------------------------------------------------------------- through the service


def _levels(name: str, *spans: tuple[float, float, float], step: float = 15.0) -> Series:
    """One series: ``value`` from ``start`` to ``end`` for each span."""
    points = [
        (start + i * step, value)
        for value, start, end in spans
        for i in range(int((end - start) / step) + 1)
    ]
    return series(name, {"instance": "10.0.2.101:8080"}, points)


def _prometheus(*, error_after: float, latency_after: float) -> FakePromQLSource:
    [component] = _policy().components
    queries = {q.signal: q.promql for q in symptom_queries(component, sustain=60)}
    start = INCIDENT - 1800
    levels = {
        "error_ratio": (0.01, 0.4, error_after),
        "latency_mean": (0.2, 1.5, latency_after),
    }
    answers = {
        queries[signal]: [
            _levels(
                signal,
                (base, start, INCIDENT - 15),
                (incident, INCIDENT, ACTED),
                (after, ACTED + 15, NOW + 60),
            )
        ]
        for signal, (base, incident, after) in levels.items()
    }
    return FakePromQLSource(answers=answers)


def _applied() -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target="10.0.2.101:8080",
        state=RemediationState.SUCCEEDED,
        reason="pod shop/web-1 quarantined",
        idempotency_key="k1",
        params={
            "component": "web",
            "executor": {"appliedAt": ACTED, "method": "evict", "history": []},
        },
    )


def _verify(
    prometheus: FakePromQLSource, *, now: float = NOW, policy: DiagnosisPolicySpec | None = None
) -> RemediationStatus:
    connections = Connections(
        cluster=FakeCluster(),
        actions=lambda _policy: nullcontext(ActionPorts()),
        metrics=lambda _policy: prometheus,
    )
    followed = verify_due(
        diagnosis=DIAGNOSIS,
        policy=policy or _policy(),
        remediations=[_applied()],
        symptom_component="web",
        connections=connections,
        record=lambda _items: None,
        now=now,
        incident=Window(start=INCIDENT, end=ACTED),
    )
    [item] = followed.items
    return item


def test_recovery_under_the_thresholds_is_verified_with_the_numbers_in_status() -> None:
    item = _verify(_prometheus(error_after=0.0, latency_after=0.21))
    verdict = item.params["executor"]["verification"]
    assert verdict["outcome"] == "resolved", verdict
    checks = {c["name"].split(" ")[0]: c for c in verdict["checks"]}
    assert checks["error_ratio"]["threshold"] == pytest.approx(0.06)
    assert checks["error_ratio"]["before"] == pytest.approx(0.4)
    assert checks["error_ratio"]["after"] == pytest.approx(0.0)
    assert checks["latency_mean"]["threshold"] == pytest.approx(0.3)


def test_continued_errors_are_not_verified() -> None:
    item = _verify(_prometheus(error_after=0.3, latency_after=0.21))
    verdict = item.params["executor"]["verification"]
    assert verdict["outcome"] == "not-resolved" and verdict["followUp"] == "escalate"
    assert (
        "error_ratio of web" in verdict["summary"]
        and "still past its threshold" in verdict["summary"]
    )


def test_the_verdict_waits_for_the_sustained_period() -> None:
    prometheus = _prometheus(error_after=0.0, latency_after=0.2)
    early = _policy(after="30s", sustain="1m")  # the logs could judge at 30 s, PromQL not
    item = _verify(prometheus, now=ACTED + 100, policy=early)
    assert "verification" not in item.params["executor"] and prometheus.asked == []
    later = _verify(prometheus, now=ACTED + 120, policy=early)
    assert later.params["executor"]["verification"]["outcome"] == "resolved"


def test_a_signal_the_component_never_had_is_left_out() -> None:
    prometheus = _prometheus(error_after=0.0, latency_after=0.2)
    [component] = _policy().components
    latency = next(
        q.promql for q in symptom_queries(component, sustain=60) if "duration" in q.promql
    )
    prometheus.answers = {k: v for k, v in prometheus.answers.items() if k != latency}
    verdict = _verify(prometheus).params["executor"]["verification"]
    assert verdict["outcome"] == "resolved", verdict
    assert [c["name"].split(" ")[0] for c in verdict["checks"]] == ["error_ratio"]


class _Down(FakePromQLSource):
    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]:
        raise RuntimeError("prometheus: connection refused")


def test_a_prometheus_that_does_not_answer_gives_an_unknown_verdict() -> None:
    verdict = _verify(_Down()).params["executor"]["verification"]
    assert verdict["outcome"] == "unknown" and verdict["followUp"] == "escalate", verdict
    assert len(verdict["checks"]) == 2
