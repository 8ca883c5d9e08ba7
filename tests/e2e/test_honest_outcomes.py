"""Honest outcomes on the real apiserver, with the operator under the chart's RBAC.

The operator process of the session (``DIAG_SOURCE_RETRIES=1``, two seconds
apart) diagnoses against scripted HTTP backends on loopback:

* Prometheus and Loki both answering 500: ``Failed``, reason ``SourcesFailed``
  with the upstream status and body, a Warning Event, no root cause; on main
  this ended ``Completed``, "NoIncident", root ``none``, confidence 1;
* Prometheus answering (no series) and Loki answering 500: ``Degraded`` (the
  CRD admits the phase), the ``Degraded`` condition naming Loki's answer, a
  Warning Event, a confidence below 1;
* a window in the future: ``Failed``, reason ``WindowInFuture``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.e2e.test_operator import (
    POLICY_SPEC,
    VALID_SPEC,
    conditions_of,
    custom,
    diagnosis,
    event_reasons,
    get_diag,
    namespace,
    policy,
    wait_for,
)
from tests.fakes.http_server import ScriptedServer
from tests.fakes.metrics import Answer

pytestmark = pytest.mark.e2e
__all__ = ["custom", "namespace"]  # module fixtures, used by name

ENDED = {"Completed", "Degraded", "Failed"}
BROKEN = Answer(status=500, body={"status": "error", "error": "injected upstream failure"})
EMPTY = Answer(body={"status": "success", "data": {"resultType": "matrix", "result": []}})


@pytest.fixture
def backends() -> Iterator[dict[str, ScriptedServer]]:
    with ScriptedServer([BROKEN]) as broken, ScriptedServer([EMPTY]) as empty:
        yield {"broken": broken, "empty": empty}


def _ended(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = get_diag(custom, namespace, name)
        return found if (found.get("status") or {}).get("phase") in ENDED else None

    return wait_for(f"diagnosis {namespace}/{name} to end", probe, timeout=120)


def _diagnose(
    custom: client.CustomObjectsApi, namespace: str, name: str, *, prometheus: str, loki: str
) -> dict[str, Any]:
    spec = {**POLICY_SPEC, "signals": {"prometheus": {"url": prometheus}, "loki": {"url": loki}}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy(name, spec)
    )
    custom.create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        diagnosis(name, {**VALID_SPEC, "policyRef": {"name": name}}),
    )
    return _ended(custom, namespace, name)


def test_both_sources_failing_end_failed_not_no_incident(
    kube_admin: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    backends: dict[str, ScriptedServer],
) -> None:
    url = backends["broken"].url
    found = _diagnose(custom, namespace, "all-broken", prometheus=url, loki=url)
    status = found["status"]
    assert status["phase"] == "Failed", status
    failed = conditions_of(found)["Failed"]
    assert failed["reason"] == "SourcesFailed", failed
    assert "HTTP 500" in failed["message"] and "injected upstream failure" in failed["message"]
    assert "rootCause" not in status
    wait_for(
        "the SourcesFailed Event",
        lambda: "SourcesFailed" in event_reasons(kube_admin, namespace, "all-broken"),
    )


def test_failing_logs_end_degraded_with_a_warning(
    kube_admin: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    backends: dict[str, ScriptedServer],
) -> None:
    found = _diagnose(
        custom,
        namespace,
        "logs-broken",
        prometheus=backends["empty"].url,
        loki=backends["broken"].url,
    )
    status = found["status"]
    assert status["phase"] == "Degraded", status
    conditions = conditions_of(found)
    assert conditions["Degraded"]["status"] == "True"
    assert conditions["Degraded"]["reason"] == "PartialData"
    assert "injected upstream failure" in conditions["Degraded"]["message"]
    assert conditions["Complete"]["status"] == "True"
    assert status["rootCause"]["confidence"] < 1.0
    wait_for(
        "the PartialData Event",
        lambda: "PartialData" in event_reasons(kube_admin, namespace, "logs-broken"),
    )


def test_a_window_in_the_future_fails(
    custom: client.CustomObjectsApi, namespace: str, backends: dict[str, ScriptedServer]
) -> None:
    url = backends["empty"].url
    spec = {**POLICY_SPEC, "signals": {"prometheus": {"url": url}, "loki": {"url": url}}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("later", spec)
    )
    window = {"start": "2999-01-01T10:00:00Z", "end": "2999-01-01T11:00:00Z"}
    custom.create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        diagnosis("later", {**VALID_SPEC, "policyRef": {"name": "later"}, "window": window}),
    )
    found = _ended(custom, namespace, "later")
    assert found["status"]["phase"] == "Failed"
    assert conditions_of(found)["Failed"]["reason"] == "WindowInFuture"
