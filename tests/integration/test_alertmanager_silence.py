"""The alertmanager sink against the real Alertmanager (API v2): a silence with our comment.

The silence the sink posts is accepted by ``POST /api/v2/silences`` and read back by
``GET /api/v2/silences`` with its matchers (the alert group's common labels), its
author and the comment that names the root cause and links the report; the firing
alert it matches is then shown as silenced.
"""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from diagnosis_operator.adapters.notify import HttpNotificationSink
from diagnosis_operator.api import NotificationEvent, SinkKind
from diagnosis_operator.core.alerts import ALERT_LABELS_ANNOTATION, SOURCE_ANNOTATION
from diagnosis_operator.core.notify import Outgoing, build
from tests.fakes.receiver import Receiver
from tests.services.alertmanager import AlertmanagerFactory, AlertmanagerServer, WebhookReceiver
from tests.unit.test_notify_messages import facts

pytestmark = pytest.mark.integration


def _get(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as answer:
        return json.loads(answer.read())


def test_the_silence_is_accepted_and_silences_the_group(
    alertmanager_factory: AlertmanagerFactory,
) -> None:
    with Receiver() as receiver:  # where Alertmanager's own notifications go
        server = alertmanager_factory(
            receivers=[WebhookReceiver(name="sink", url=receiver.url, token=None)]
        )
        _silence_and_check(server)


def _silence_and_check(server: AlertmanagerServer) -> None:
    labels = {"alertname": "HighErrors", "job": "orders", "diag_test": "silence"}
    ends = (datetime.now(UTC) + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    server.post_alerts([{"labels": labels, "annotations": {}, "endsAt": ends}])
    annotations = {
        ALERT_LABELS_ANNOTATION: json.dumps(labels),
        SOURCE_ANNOTATION: server.url,
    }
    made = build(
        kind=SinkKind.ALERTMANAGER,
        facts=facts(annotations=annotations),
        event=NotificationEvent.COMPLETED,
        now=time.time(),
        silence_seconds=1800.0,
    )
    assert isinstance(made, Outgoing)
    sink = HttpNotificationSink(name="am", url=server.url)
    sink.send(path=made.path, content_type=made.content_type, body=made.body)
    sink.close()
    [silence] = _get(f"{server.url}/api/v2/silences")
    assert silence["status"]["state"] == "active"
    assert silence["createdBy"] == "diagnosis-operator"
    assert "root cause orders-db" in silence["comment"]
    assert "https://diag.example.org/reports/shop/checkout-1" in silence["comment"]
    assert {(m["name"], m["value"], m["isRegex"]) for m in silence["matchers"]} == {
        (name, value, False) for name, value in labels.items()
    }
    [alert] = _get(f"{server.url}/api/v2/alerts?filter=diag_test%3D%22silence%22")
    assert alert["status"]["silencedBy"] == [silence["id"]]
