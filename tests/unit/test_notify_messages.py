"""core/notify (pure): the facts of a Diagnosis and the message each sink kind gets."""

from __future__ import annotations

import json
from typing import Any

import pytest

from diagnosis_operator.api import (
    DiagnosisStatus,
    NotificationEvent,
    NotificationSink,
    NotificationStatus,
    SinkKind,
)
from diagnosis_operator.core.alerts import ALERT_LABELS_ANNOTATION, SOURCE_ANNOTATION
from diagnosis_operator.core.notify import Outgoing, Skip, build, due, events_now, facts_from
from diagnosis_operator.core.notify.facts import NotificationFacts
from diagnosis_operator.core.notify.messages import CLOUDEVENTS_CONTENT_TYPE, SILENCES_PATH

NOW = 1_900_000_000.0  # 2030-03-17T17:46:40Z
KEY = "3f9a1c2e5b7d"
STATUS: dict[str, Any] = {
    "phase": "Completed",
    "window": {"start": "2030-03-17T17:00:00Z", "end": "2030-03-17T17:30:00Z"},
    "rootCause": {
        "component": "orders-db",
        "kind": "mysql",
        "instance": "10.0.0.7:3306",
        "confidence": 0.82,
        "summary": "row lock waits on <orders> & retries",
    },
    "affected": [
        {"component": "orders-api", "instance": "10.0.1.4:8080", "reason": "5xx", "pod": "api-1"},
        {"component": "orders-api", "instance": "10.0.1.5:8080", "reason": "slow"},
    ],
    "remediations": [
        {
            "action": "kill-mysql-queries",
            "target": "orders-db",
            "state": "proposed",
            "idempotencyKey": KEY,
            "reason": f"waits for approval: kubectl diagnose approve checkout-1 {KEY}",
        },
        {
            "action": "drain-pod",
            "target": "api-1",
            "state": "denied",
            "idempotencyKey": "aaaabbbbcccc",
            "reason": "budget: exhausted",
        },
    ],
}


def facts(
    status: dict[str, Any] = STATUS, annotations: dict[str, str] | None = None
) -> NotificationFacts:
    return facts_from(
        namespace="shop",
        name="checkout-1",
        uid="uid-1",
        generation=2,
        status=DiagnosisStatus.model_validate(status),
        failure_mode="lock contention",
        annotations=annotations or {},
        report_base_url="https://diag.example.org/",
    )


def sink(kind: str, **extra: Any) -> NotificationSink:
    return NotificationSink.model_validate(
        {"name": f"{kind}-sink", "kind": kind, "url": "http://127.0.0.1:9/hook", **extra}
    )


def outgoing(kind: SinkKind, event: NotificationEvent, **extra: Any) -> Outgoing:
    made = build(kind=kind, facts=facts(**extra), event=event, now=NOW, silence_seconds=1800.0)
    assert isinstance(made, Outgoing), made
    return made


def test_facts_name_the_root_cause_mode_and_the_approve_command() -> None:
    found = facts()
    assert found.root_cause_line == "orders-db [10.0.0.7:3306] (lock contention)"
    assert found.report_url == "https://diag.example.org/reports/shop/checkout-1"
    assert found.affected == ("orders-api 10.0.1.4:8080 (pod api-1)", "orders-api 10.0.1.5:8080")
    waiting = found.awaiting_approval
    assert [a.approve_command for a in waiting] == [
        f"kubectl diagnose approve checkout-1 {KEY} -n shop"
    ]
    assert events_now(found) == (NotificationEvent.COMPLETED, NotificationEvent.APPROVAL_REQUIRED)


def test_slack_message_has_text_and_blocks_with_everything_escaped() -> None:
    body = outgoing(SinkKind.SLACK, NotificationEvent.COMPLETED).body
    assert body["text"].startswith(
        "Diagnosis shop/checkout-1 completed: root cause orders-db [10.0.0.7:3306] "
        "(lock contention), confidence 82%"
    )
    assert "<https://diag.example.org/reports/shop/checkout-1>" in body["text"]
    blocks = body["blocks"]
    assert blocks[0]["type"] == "header"
    assert blocks[0]["text"]["type"] == "plain_text"
    everything = json.dumps(blocks)
    assert "row lock waits on &lt;orders&gt; &amp; retries" in everything
    assert "<orders>" not in everything
    assert f"kubectl diagnose approve checkout-1 {KEY} -n shop" in everything
    assert "orders-api 10.0.1.4:8080 (pod api-1)" in everything
    assert "<https://diag.example.org/reports/shop/checkout-1|Open the full report>" in everything
    fields = next(b["fields"] for b in blocks if "fields" in b)
    assert {"type": "mrkdwn", "text": "*Confidence:* 82%"} in fields
    assert {"type": "mrkdwn", "text": "*Failure mode:* lock contention"} in fields


def test_slack_approval_message_lists_only_the_waiting_actions() -> None:
    body = outgoing(SinkKind.SLACK, NotificationEvent.APPROVAL_REQUIRED).body
    assert body["text"].startswith("Diagnosis shop/checkout-1: 1 action(s) wait for approval")
    everything = json.dumps(body["blocks"])
    assert "kill-mysql-queries" in everything
    assert "drain-pod" not in everything


def test_cloudevent_envelope_in_structured_mode() -> None:
    made = outgoing(SinkKind.WEBHOOK, NotificationEvent.COMPLETED)
    assert made.content_type == CLOUDEVENTS_CONTENT_TYPE
    assert made.path == ""
    event = made.body
    assert event["specversion"] == "1.0"
    assert event["type"] == "dev.diagnosis.diagnosis.completed.v1"
    assert event["source"] == "/apis/diagnosis.dev/v1alpha1/namespaces/shop/diagnoses/checkout-1"
    assert event["subject"] == "checkout-1"
    assert event["time"] == "2030-03-17T17:46:40Z"
    assert event["datacontenttype"] == "application/json"
    assert len(event["id"]) == 32
    data = event["data"]
    assert data["rootCause"]["component"] == "orders-db"
    assert data["rootCause"]["failureMode"] == "lock contention"
    assert data["rootCause"]["confidence"] == 0.82
    assert data["affectedInstances"][0] == "orders-api 10.0.1.4:8080 (pod api-1)"
    assert (
        data["actions"][0]["approveCommand"] == f"kubectl diagnose approve checkout-1 {KEY} -n shop"
    )
    assert data["actions"][1]["approveCommand"] is None
    assert data["reportUrl"] == "https://diag.example.org/reports/shop/checkout-1"
    assert data["window"] == {"start": "2030-03-17T17:00:00Z", "end": "2030-03-17T17:30:00Z"}


def test_cloudevent_id_is_stable_per_diagnosis_generation_and_event() -> None:
    first = outgoing(SinkKind.WEBHOOK, NotificationEvent.COMPLETED).body["id"]
    again = build(
        kind=SinkKind.WEBHOOK,
        facts=facts(),
        event=NotificationEvent.COMPLETED,
        now=NOW + 60,
        silence_seconds=None,
    )
    other = outgoing(SinkKind.WEBHOOK, NotificationEvent.APPROVAL_REQUIRED).body["id"]
    assert isinstance(again, Outgoing) and again.body["id"] == first
    assert other != first


def test_alertmanager_silence_matches_the_group_and_links_the_report() -> None:
    annotations = {
        ALERT_LABELS_ANNOTATION: json.dumps({"alertname": "HighErrors", "job": "orders"}),
        SOURCE_ANNOTATION: "http://alertmanager.test",
    }
    made = outgoing(SinkKind.ALERTMANAGER, NotificationEvent.COMPLETED, annotations=annotations)
    assert made.path == SILENCES_PATH
    silence = made.body
    assert silence["matchers"] == [
        {"name": "alertname", "value": "HighErrors", "isRegex": False, "isEqual": True},
        {"name": "job", "value": "orders", "isRegex": False, "isEqual": True},
    ]
    assert silence["startsAt"] == "2030-03-17T17:46:40Z"
    assert silence["endsAt"] == "2030-03-17T18:16:40Z"
    assert silence["createdBy"] == "diagnosis-operator"
    assert "root cause orders-db" in silence["comment"]
    assert "https://diag.example.org/reports/shop/checkout-1" in silence["comment"]


@pytest.mark.parametrize(
    ("annotations", "event", "status", "why"),
    [
        ({}, NotificationEvent.COMPLETED, STATUS, "not created from an Alertmanager alert group"),
        (
            {ALERT_LABELS_ANNOTATION: '{"job": "orders"}'},
            NotificationEvent.APPROVAL_REQUIRED,
            STATUS,
            "only set when the Diagnosis completes",
        ),
        (
            {ALERT_LABELS_ANNOTATION: '{"job": "orders"}'},
            NotificationEvent.COMPLETED,
            {**STATUS, "rootCause": {"component": "none", "confidence": 1.0}},
            "no root cause found",
        ),
    ],
)
def test_alertmanager_sink_skips_where_a_silence_does_not_fit(
    annotations: dict[str, str], event: NotificationEvent, status: dict[str, Any], why: str
) -> None:
    made = build(
        kind=SinkKind.ALERTMANAGER,
        facts=facts(status, annotations),
        event=event,
        now=NOW,
        silence_seconds=600.0,
    )
    assert isinstance(made, Skip) and why in made.reason


def test_due_skips_what_this_generation_recorded_and_what_a_sink_does_not_want() -> None:
    slack = sink("slack", events=["completed", "approvalRequired"])
    hook = sink("webhook")
    both = (NotificationEvent.COMPLETED, NotificationEvent.APPROVAL_REQUIRED)
    sent = [
        NotificationStatus(
            sink="slack-sink", event=NotificationEvent.COMPLETED, generation=2, result="sent"
        ),
        NotificationStatus(
            sink="webhook-sink", event=NotificationEvent.COMPLETED, generation=1, result="sent"
        ),
    ]
    pending = due(sinks=[slack, hook], events=both, sent=sent, generation=2)
    assert [(s.name, e) for s, e in pending] == [
        ("slack-sink", NotificationEvent.APPROVAL_REQUIRED),
        ("webhook-sink", NotificationEvent.COMPLETED),
    ]


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ({"kind": "slack"}, "exactly one of url or urlSecretRef"),
        ({"kind": "alertmanager", "url": "http://a"}, "silenceFor is required"),
        ({"kind": "webhook", "url": "http://a", "silenceFor": "1h"}, "silenceFor is required"),
        ({"kind": "alertmanager", "url": "http://a", "silenceFor": "2d"}, "at most 24h"),
        (
            {"kind": "slack", "url": "http://a", "authSecretRef": {"name": "s"}},
            "slack sinks take no authSecretRef",
        ),
        ({"kind": "webhook", "url": "ftp://a"}, "String should match pattern"),
    ],
)
def test_invalid_sinks_are_refused_naming_why(spec: dict[str, Any], error: str) -> None:
    with pytest.raises(ValueError, match=error):
        NotificationSink.model_validate({"name": "s", **spec})
