"""The running operator verifies an applied action from the real Prometheus.

A Diagnosis is seeded as the engine and the executor leave it (Completed, an
applied drain, the diagnosed window); Prometheus holds the symptom component's
request counters (1 % errors and 100 ms before the incident, 40 % and 800 ms in
it, none and 100 ms since the action).  The operator's timer, under its chart's
RBAC, reads the catalogue's symptom queries and records the action as verified,
with each check's threshold and levels in status.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.models.signals import Series, isoformat_z
from tests.e2e.test_guarded_remediation import World, wait_for, world  # noqa: F401 (fixture)
from tests.fakes.metrics import by_family, openmetrics_text, series
from tests.services.loki import LokiTenant
from tests.services.prometheus import PrometheusFactory

pytestmark = pytest.mark.e2e

STEP = 15.0


def _counters(*, now: float, acted: float, incident: float) -> list[Series]:
    steps = [now - 2400 + STEP * i for i in range(int(2400 / STEP) + 1)]
    totals = {"200": 0.0, "500": 0.0, "sum": 0.0, "count": 0.0}
    points: dict[str, list[tuple[float, float]]] = {key: [] for key in totals}
    for ts in steps:
        errors, latency = (1, 0.1) if ts < incident else (40, 0.8) if ts < acted else (0, 0.1)
        totals["200"] += 100 - errors
        totals["500"] += errors
        totals["sum"] += 100 * latency
        totals["count"] += 100
        for key, value in totals.items():
            points[key].append((ts, value))
    labels = {"job": "edge", "instance": "edge-0:8080"}
    return [
        series("http_requests_total", {**labels, "code": "200"}, points["200"]),
        series("http_requests_total", {**labels, "code": "500"}, points["500"]),
        series("http_request_duration_seconds_sum", labels, points["sum"]),
        series("http_request_duration_seconds_count", labels, points["count"]),
    ]


def test_the_operator_verifies_an_action_from_prometheus(
    world: World,  # noqa: F811
    prometheus_factory: PrometheusFactory,
    loki: LokiTenant,
    tmp_path: Path,
) -> None:
    now = float(int(time.time() // STEP) * STEP)
    acted, incident = now - 240, now - 840
    om = tmp_path / "edge.om"
    om.write_text(openmetrics_text(by_family(_counters(now=now, acted=acted, incident=incident))))
    prometheus = prometheus_factory(openmetrics=om)
    policy: dict[str, Any] = {
        "components": [{"name": "edge", "kind": "app", "selector": {"job": "edge"}}],
        "signals": {
            "prometheus": {"url": prometheus.url},
            "loki": {"url": loki.url, "tenant": loki.tenant},
        },
        "thresholds": {"minErrorRatioRise": 0.05, "minLatencyRise": 0.5},
        "alerts": {"baseline": "20m"},
        "remediation": {"verification": {"after": "1m", "sustain": "1m"}},
    }
    applied = {
        "action": "drain-pod",
        "target": "edge-0:8080",
        "state": "succeeded",
        "reason": "pod evicted",
        "idempotencyKey": "k-edge-0",
        "params": {"component": "edge", "executor": {"appliedAt": acted, "method": "evict"}},
    }
    world.seed(name="edge-5xx", policy=policy, proposals=lambda _uid: [applied])
    world.custom.patch_namespaced_custom_object_status(
        API_GROUP,
        API_VERSION,
        world.namespace,
        "diagnoses",
        "edge-5xx",
        {"status": {"window": {"start": isoformat_z(incident), "end": isoformat_z(acted)}}},
    )

    def verdict() -> dict[str, Any] | None:
        [item] = world.remediations("edge-5xx")
        found: dict[str, Any] | None = item["params"]["executor"].get("verification")
        return found

    found = wait_for("the operator's verification", verdict)
    assert found["outcome"] == "resolved", found
    checks = {c["name"].split(" ")[0]: c for c in found["checks"] if "PromQL" in c["name"]}
    assert set(checks) == {"error_ratio", "latency_mean"}, found
    assert checks["error_ratio"]["threshold"] == pytest.approx(0.06)
    assert checks["error_ratio"]["before"] == pytest.approx(0.4)
    assert checks["error_ratio"]["after"] == pytest.approx(0.0)
    assert "RemediationVerified" in world.events("edge-5xx")
