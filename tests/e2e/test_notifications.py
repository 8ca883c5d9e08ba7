"""Notifications and the served report, on the real apiserver with the session operator.

A DiagnosisPolicy names a CloudEvents sink on a loopback receiver; a Diagnosis over
an empty Prometheus and Loki completes ("no incident") and the receiver gets exactly
one event, whose link opens the report the operator serves (401 without the
webhook's token).  A policy whose sinks answer 500 or refuse the connection leaves
its Diagnosis Completed, with the failures recorded in status and a Warning Event.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any, TypeVar

import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.models.signals import Labels, LogLine, LogStream
from tests.controlplane.operator import OperatorProcess, onboard
from tests.fakes.receiver import Receiver
from tests.k8s_json import as_json
from tests.services.loki import LokiTestServer
from tests.services.ports import free_port
from tests.services.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 120.0  # a deadline for failing, not a measured threshold


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def namespace(kube_admin: client.ApiClient, operator_process: OperatorProcess) -> Iterator[str]:
    name = f"notify-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube_admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    onboard(kube_admin, operator_process.install, name)  # its reports are written and served
    yield name


def _create(
    api: client.ApiClient, namespace: str, plural: str, kind: str, name: str, spec: Any
) -> None:
    client.CustomObjectsApi(api).create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        plural,
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": kind,
            "metadata": {"name": name},
            "spec": spec,
        },
    )


def _quiet_logs(loki: LokiTestServer) -> None:
    """A few ordinary lines of each component in the window: a calm that was measured
    (without any data the diagnosis ends Failed NoData, and says so)."""
    from diagnosis_operator.adapters.loki import LokiClient

    now = time.time()
    streams = [
        LogStream(
            Labels({"job": job, "instance": f"{job}-0"}),
            tuple(LogLine(now - 240 + 30 * i, f"level=info msg=ok n={i}") for i in range(6)),
        )
        for job in ("edge", "db")
    ]
    pusher = LokiClient(loki.url, retries=0)
    try:
        pusher.push(streams)
    finally:
        pusher.close()


def _diagnose(
    api: client.ApiClient,
    namespace: str,
    *,
    name: str,
    sinks: list[dict[str, Any]],
    prometheus: PrometheusServer,
    loki: LokiTestServer,
) -> None:
    components = [
        {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["db"]},
        {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
    ]
    policy = {
        "components": components,
        "signals": {"prometheus": {"url": prometheus.url}, "loki": {"url": loki.url}},
        "notifications": sinks,
    }
    _create(api, namespace, "diagnosispolicies", "DiagnosisPolicy", name, policy)
    _quiet_logs(loki)
    spec = {
        "symptom": {"component": "edge"},
        "window": {"lookback": "10m"},
        "policyRef": {"name": name},
    }
    _create(api, namespace, "diagnoses", "Diagnosis", name, spec)


def _status(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    found = as_json(
        client.CustomObjectsApi(api).get_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnoses", name
        )
    )
    status: dict[str, Any] = found.get("status") or {}
    return status


def _notified(
    api: client.ApiClient, namespace: str, name: str, count: int
) -> dict[str, Any] | None:
    status = _status(api, namespace, name)
    if status.get("phase") == "Failed":
        raise AssertionError(f"{name} failed: {status.get('conditions')}")
    done = status.get("phase") == "Completed" and len(status.get("notifications") or []) >= count
    return status if done else None


def _get(url: str, token: str | None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")


def test_a_completed_diagnosis_sends_one_event_whose_link_opens_the_report(
    kube_admin: client.ApiClient,
    namespace: str,
    operator_process: OperatorProcess,
    prometheus_server: PrometheusServer,
    loki_server: LokiTestServer,
) -> None:
    with Receiver() as receiver:
        sinks = [{"name": "events", "kind": "webhook", "url": receiver.url + "/events"}]
        _diagnose(
            kube_admin,
            namespace,
            name="told",
            sinks=sinks,
            prometheus=prometheus_server,
            loki=loki_server,
        )
        status = wait_for(
            "told to complete and notify", partial(_notified, kube_admin, namespace, "told", 1)
        )
        time.sleep(2)  # anything sent twice would have arrived by now
        received = list(receiver.received)
    assert [r.path for r in received] == ["/events"], received
    event = received[0].body
    assert received[0].headers["Content-Type"].startswith("application/cloudevents+json")
    assert event["specversion"] == "1.0"
    assert event["type"] == "dev.diagnosis.diagnosis.completed.v1"
    assert (
        event["source"] == f"/apis/{API_GROUP}/{API_VERSION}/namespaces/{namespace}/diagnoses/told"
    )
    assert event["data"]["diagnosis"]["phase"] == "Completed"
    [record] = status["notifications"]
    assert (record["sink"], record["event"], record["result"]) == ("events", "completed", "sent")
    link = event["data"]["reportUrl"]
    assert link == f"{operator_process.http_url}/reports/{namespace}/told"
    assert _get(link, None)[0] == 401
    code, page = _get(link, operator_process.webhook_token)
    assert code == 200, page
    assert "<html" in page.lower()
    assert (
        _get(
            f"{operator_process.http_url}/reports/{namespace}/nobody",
            operator_process.webhook_token,
        )[0]
        == 404
    )


def test_failing_sinks_leave_the_diagnosis_completed_with_a_warning(
    kube_admin: client.ApiClient,
    namespace: str,
    prometheus_server: PrometheusServer,
    loki_server: LokiTestServer,
) -> None:
    closed = free_port()  # nothing listens there: connection refused
    with Receiver(status=500) as failing:
        sinks = [
            {"name": "error", "kind": "webhook", "url": failing.url},
            {"name": "refused", "kind": "slack", "url": f"http://127.0.0.1:{closed}/hook"},
        ]
        _diagnose(
            kube_admin,
            namespace,
            name="untold",
            sinks=sinks,
            prometheus=prometheus_server,
            loki=loki_server,
        )
        status = wait_for(
            "untold to complete and record its sinks",
            partial(_notified, kube_admin, namespace, "untold", 2),
        )
    assert status["phase"] == "Completed"
    results = {r["sink"]: r for r in status["notifications"]}
    assert results["error"]["result"] == "failed"
    assert "HTTP 500" in results["error"]["message"]
    assert results["refused"]["result"] == "failed"
    assert len(failing.received) == 1  # an error status is not retried

    def warned() -> bool:
        events = client.CoreV1Api(kube_admin).list_namespaced_event(
            namespace, field_selector="involvedObject.name=untold"
        )
        return any(e.reason == "NotificationFailed" and e.type == "Warning" for e in events.items)

    wait_for("a NotificationFailed warning", warned)


@pytest.mark.parametrize(
    ("sink", "words"),
    [
        ({"kind": "slack"}, "set exactly one of url or urlSecretRef"),
        ({"kind": "alertmanager", "url": "http://am:9093"}, "silenceFor is required"),
        (
            {"kind": "slack", "url": "http://s", "authSecretRef": {"name": "t"}},
            "slack sinks take no authSecretRef",
        ),
    ],
)
def test_the_apiserver_refuses_an_incomplete_sink(
    kube_admin: client.ApiClient, namespace: str, sink: dict[str, Any], words: str
) -> None:
    spec = {
        "components": [{"name": "edge", "kind": "proxy", "selector": {"job": "edge"}}],
        "notifications": [{"name": "s", **sink}],
    }
    with pytest.raises(client.ApiException) as caught:
        _create(kube_admin, namespace, "diagnosispolicies", "DiagnosisPolicy", "bad", spec)
    assert caught.value.status == 422
    assert words in str(caught.value.body)
