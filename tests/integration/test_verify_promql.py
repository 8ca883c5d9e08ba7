"""Verification by PromQL against the real Prometheus, on backfilled request counters.

Two components of one policy go through the same incident (a 40 % 5xx ratio and
8x the mean latency for ten minutes, after thirty minutes at 1 % and 100 ms);
after the action one recovers and the other keeps failing.  The operator's
verification reads the catalogue's symptom queries from Prometheus: the first is
verified, with the gate's thresholds and the levels in status, the second is not.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import nullcontext

import pytest

from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.models.signals import Series, Window
from diagnosis_operator.service.remediate import ActionPorts, Connections, DiagnosisRef, verify_due
from tests.fakes.cluster import FakeCluster
from tests.fakes.metrics import by_family, openmetrics_text, series
from tests.services.prometheus import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration

STEP = 15.0
START = 1_765_441_800.0
INCIDENT = START + 1800
ACTED = INCIDENT + 600
END = ACTED + 240
REQUESTS = 100  # per step


def _phase(ts: float, *, baseline: float, incident: float, after: float) -> float:
    if ts < INCIDENT:
        return baseline
    return incident if ts < ACTED else after


def _service(job: str, *, errors_after: float, latency_after: float) -> list[Series]:
    """Cumulative counters of one instance: requests by code, duration sum and count."""
    steps = [START + STEP * i for i in range(int((END - START) / STEP) + 1)]
    totals = {"200": 0.0, "500": 0.0, "sum": 0.0, "count": 0.0}
    points: dict[str, list[tuple[float, float]]] = {key: [] for key in totals}
    for ts in steps:
        errors = _phase(ts, baseline=1, incident=40, after=errors_after)
        latency = _phase(ts, baseline=0.1, incident=0.8, after=latency_after)
        totals["200"] += REQUESTS - errors
        totals["500"] += errors
        totals["sum"] += REQUESTS * latency
        totals["count"] += REQUESTS
        for key, value in totals.items():
            points[key].append((ts, value))
    labels = {"job": job, "instance": f"{job}:8080"}
    return [
        series("http_requests_total", {**labels, "code": "200"}, points["200"]),
        series("http_requests_total", {**labels, "code": "500"}, points["500"]),
        series("http_request_duration_seconds_sum", labels, points["sum"]),
        series("http_request_duration_seconds_count", labels, points["count"]),
    ]


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    raw = [
        *_service("recovered", errors_after=0, latency_after=0.1),
        *_service("failing", errors_after=40, latency_after=0.8),
    ]
    workdir = tmp_path_factory.mktemp("verify-promql")
    om = workdir / "m.om"
    om.write_text(openmetrics_text(by_family(raw), kind="counter"))
    server = start_prometheus(workdir=workdir, openmetrics=om)
    yield server
    server.process.stop()


def _policy() -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {"name": name, "kind": "app", "selector": {"job": name}}
                for name in ("recovered", "failing")
            ],
            "thresholds": {"minErrorRatioRise": 0.05, "minLatencyRise": 0.5},
            "alerts": {"baseline": "30m"},
            "remediation": {"verification": {"after": "2m", "sustain": "1m"}},
        }
    )


def _verdict(prometheus: PrometheusServer, component: str) -> dict[str, object]:
    applied = RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=f"{component}:8080",
        state=RemediationState.SUCCEEDED,
        reason="applied",
        idempotency_key=f"key-{component}",
        params={"component": component, "executor": {"appliedAt": ACTED, "method": "evict"}},
    )
    with PrometheusAdapter(prometheus.url) as adapter:
        followed = verify_due(
            diagnosis=DiagnosisRef(namespace="shop", name=f"{component}-5xx", uid="u"),
            policy=_policy(),
            remediations=[applied],
            symptom_component=component,
            connections=Connections(
                cluster=FakeCluster(),
                actions=lambda _policy: nullcontext(ActionPorts()),
                metrics=lambda _policy: adapter,
            ),
            record=lambda _items: None,
            now=ACTED + 180,
            incident=Window(start=INCIDENT, end=ACTED),
        )
    [item] = followed.items
    verdict = item.params["executor"]["verification"]
    assert isinstance(verdict, dict)
    return verdict


def _checks(verdict: dict[str, object]) -> dict[str, dict[str, float]]:
    checks = verdict["checks"]
    assert isinstance(checks, list)
    return {str(check["name"]).split(" ")[0]: check for check in checks}


def test_recovery_is_verified_from_prometheus(prometheus: PrometheusServer) -> None:
    verdict = _verdict(prometheus, "recovered")
    assert verdict["outcome"] == "resolved", verdict
    checks = _checks(verdict)
    assert set(checks) == {"error_ratio", "latency_mean"}
    assert checks["error_ratio"]["threshold"] == pytest.approx(0.06)
    assert checks["error_ratio"]["before"] == pytest.approx(0.4)
    assert checks["error_ratio"]["after"] == pytest.approx(0.0)
    assert checks["latency_mean"]["threshold"] == pytest.approx(0.15)
    assert checks["latency_mean"]["after"] == pytest.approx(0.1)


def test_continued_errors_are_not_verified(prometheus: PrometheusServer) -> None:
    verdict = _verdict(prometheus, "failing")
    assert verdict["outcome"] == "not-resolved" and verdict["followUp"] == "escalate", verdict
    checks = _checks(verdict)
    assert checks["error_ratio"]["after"] == pytest.approx(0.4)
    assert checks["latency_mean"]["after"] == pytest.approx(0.8)
