"""The real Alertmanager delivers to the webhook app, which creates one Diagnosis per group.

The webhook app runs in-process on a loopback port (its own event loop in a thread)
with a fake DiagnosisWriter that records creations; Alertmanager is Debian's binary,
configured with short group_wait / group_interval / repeat_interval so that one
alert group is notified several times within seconds.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.entrypoints.http.webhook import PolicyRouting, TokenSource, build_app
from diagnosis_operator.service import metrics
from tests.fakes.diagnosis_writer import FakeDiagnosisWriter
from tests.services.alertmanager import AlertmanagerFactory, AlertmanagerServer, WebhookReceiver
from tests.services.ports import LOOPBACK, free_port

pytestmark = pytest.mark.integration

TOKEN = "alertmanager-to-operator-token"
POLICY = {
    "apiVersion": "diagnosis.dev/v1alpha1",
    "kind": "DiagnosisPolicy",
    "metadata": {"name": "checkout", "namespace": "shop"},
    "spec": {
        "components": [
            {
                "name": "frontend",
                "kind": "proxy",
                "selector": {"job": "frontend"},
                "dependsOn": ["payments"],
            },
            {"name": "payments", "kind": "app", "selector": {"job": "payments-api"}},
        ]
    },
}
DEADLINE = 60.0  # seconds to wait for Alertmanager before failing, not a measured threshold


@dataclass
class WebhookServer:
    url: str
    writer: FakeDiagnosisWriter


@pytest.fixture
def webhook_server() -> Generator[WebhookServer, None, None]:
    writer = FakeDiagnosisWriter(policies={("shop", "checkout"): POLICY})
    app = build_app(
        writer=writer,
        routing=PolicyRouting(
            reader=writer, template=AlertRouting(policy="checkout", namespace="shop")
        ),
        token=TokenSource(value=TOKEN),
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, LOOPBACK, port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="webhook", daemon=True)
    thread.start()
    assert started.wait(30), "webhook server did not start"
    yield WebhookServer(url=f"http://{LOOPBACK}:{port}", writer=writer)
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


def wait_for(condition: Callable[[], bool], *, what: str, server: AlertmanagerServer) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{server.process.logs()}")
        time.sleep(0.2)


def firing_alert(**labels: str) -> dict[str, Any]:
    starts = datetime.now(tz=UTC).replace(microsecond=0)
    return {
        "labels": {"alertname": "PaymentsErrorRatio", "severity": "page", **labels},
        "annotations": {"summary": "payments 5xx ratio above 5%"},
        "startsAt": starts.isoformat().replace("+00:00", "Z"),
        "generatorURL": "http://prometheus.invalid/graph",
    }


def unauthorized_count() -> float:
    value = metrics.REGISTRY.get_sample_value(
        "diagnosis_operator_alert_notifications_total", {"result": "unauthorized"}
    )
    return value or 0.0


def test_alert_group_gives_exactly_one_diagnosis_even_after_repeats(
    alertmanager_factory: AlertmanagerFactory, webhook_server: WebhookServer
) -> None:
    alertmanager = alertmanager_factory(
        receivers=[
            WebhookReceiver(name="diagnosis", url=f"{webhook_server.url}/alertmanager", token=TOKEN)
        ],
        group_by=["alertname"],
    )
    alertmanager.post_alerts([firing_alert(job="payments-api", instance="payments-0")])
    writer = webhook_server.writer
    wait_for(lambda: len(writer.attempts) >= 1, what="the first notification", server=alertmanager)
    # A second alert joins the group: Alertmanager notifies again after group_interval,
    # and then again after each repeat_interval.
    alertmanager.post_alerts([firing_alert(job="payments-api", instance="payments-1")])
    wait_for(lambda: len(writer.attempts) >= 3, what="repeated notifications", server=alertmanager)

    created = writer.created()
    assert len(created) == 1, created
    (diagnosis,) = created
    assert {name for _, name in writer.attempts} == {diagnosis["metadata"]["name"]}
    assert diagnosis["metadata"]["namespace"] == "shop"
    assert diagnosis["spec"]["symptom"]["component"] == "payments"
    assert diagnosis["spec"]["policyRef"] == {"name": "checkout"}
    assert "PaymentsErrorRatio" in diagnosis["metadata"]["annotations"]["diagnosis.dev/alertnames"]
    assert (
        alertmanager.metric("alertmanager_notifications_failed_total", integration="webhook") == 0
    )


def test_wrong_token_is_refused(
    alertmanager_factory: AlertmanagerFactory, webhook_server: WebhookServer
) -> None:
    alertmanager = alertmanager_factory(
        receivers=[
            WebhookReceiver(name="good", url=f"{webhook_server.url}/alertmanager", token=TOKEN),
            WebhookReceiver(
                name="wrong-token",
                url=f"{webhook_server.url}/alertmanager",
                token="not-the-token",
                matchers={"team": "intruder"},
            ),
            WebhookReceiver(
                name="no-token",
                url=f"{webhook_server.url}/alertmanager",
                token=None,
                matchers={"team": "anonymous"},
            ),
        ],
    )
    refused_before = unauthorized_count()
    alertmanager.post_alerts(
        [
            firing_alert(job="payments-api", team="intruder", alertname="FromIntruder"),
            firing_alert(job="payments-api", team="anonymous", alertname="FromAnonymous"),
        ]
    )
    wait_for(
        lambda: (
            alertmanager.metric("alertmanager_notifications_failed_total", integration="webhook")
            >= 2
        ),
        what="two failed webhook notifications",
        server=alertmanager,
    )
    assert unauthorized_count() - refused_before >= 2
    assert webhook_server.writer.attempts == []
    assert webhook_server.writer.created() == []
