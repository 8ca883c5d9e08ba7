"""The Diagnosis handler tells the policy's sinks once, after Completed, and never fails on them."""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Mapping
from typing import Any

from diagnosis_operator.api import NotificationSink
from diagnosis_operator.entrypoints.bootstrap.notifications import NotifySettings
from diagnosis_operator.ports import NotificationError, NotificationPort
from tests.fakes.notify import FakeSink
from tests.unit.test_diagnosis_handler import (
    NAMESPACE,
    POLICY,
    FakeKube,
    _context,
    _quiet_sources,
    _reasons,
    _reconcile,
    events,
)

__all__ = ["events"]  # the fixture, used by name


def policy_with(*sinks: Mapping[str, Any]) -> dict[str, Any]:
    policy: dict[str, Any] = copy.deepcopy(dict(POLICY))
    policy["spec"] = {**policy["spec"], "notifications": [dict(s) for s in sinks]}
    return policy


def _run(kube: FakeKube, ports: dict[str, FakeSink]) -> list[dict[str, Any]]:
    opened: list[dict[str, Any]] = []

    def open_sink(sink: NotificationSink, **where: Any) -> NotificationPort:
        opened.append({"sink": sink.name, **where})
        return ports[sink.name]

    context = dataclasses.replace(
        _context(kube, _quiet_sources),
        notify=NotifySettings(report_base_url="https://diag.example.org"),
        open_sink=open_sink,
    )
    _reconcile(context)
    return opened


def test_completion_is_sent_once_recorded_and_not_sent_again(
    events: asyncio.Queue[Any],
) -> None:
    kube = FakeKube(policy_with({"name": "team", "kind": "webhook", "url": "http://a"}))
    ports = {"team": FakeSink()}
    opened = _run(kube, ports)
    assert opened[0]["namespace"] == NAMESPACE
    assert kube.status["phase"] == "Completed"
    [(_path, event)] = ports["team"].sent
    assert event["type"] == "dev.diagnosis.diagnosis.completed.v1"
    assert event["data"]["reportUrl"] == f"https://diag.example.org/reports/{NAMESPACE}/d1"
    [record] = kube.status["notifications"]
    assert (record["sink"], record["event"], record["result"]) == ("team", "completed", "sent")
    # Phase Completed is written before the notification is sent.
    completed_at = next(i for i, p in enumerate(kube.patches) if p.get("phase") == "Completed")
    recorded_at = next(i for i, p in enumerate(kube.patches) if p.get("notifications"))
    assert completed_at < recorded_at
    assert ("Normal", "NotificationSent") in _reasons(events)
    _run(kube, ports)  # resumed after a restart: the handler finds it finished
    assert len(ports["team"].sent) == 1


def test_a_failing_sink_leaves_the_diagnosis_completed_with_a_warning(
    events: asyncio.Queue[Any],
) -> None:
    kube = FakeKube(
        policy_with(
            {"name": "down", "kind": "slack", "url": "http://a"},
            {"name": "up", "kind": "webhook", "url": "http://b"},
        )
    )
    ports = {"down": FakeSink(NotificationError("sink down: ConnectionError")), "up": FakeSink()}
    _run(kube, ports)
    assert kube.status["phase"] == "Completed"
    results = {r["sink"]: r["result"] for r in kube.status["notifications"]}
    assert results == {"down": "failed", "up": "sent"}
    assert ("Warning", "NotificationFailed") in _reasons(events)
    assert len(ports["up"].sent) == 1


def test_a_policy_without_sinks_sends_nothing(events: asyncio.Queue[Any]) -> None:
    kube = FakeKube(POLICY)
    assert _run(kube, {}) == []
    assert not kube.status.get("notifications")


class StatusRefusingKube(FakeKube):
    """An apiserver that refuses to record what was sent (e.g. a 409 every time)."""

    def patch_diagnosis_status(
        self, *, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        if status.get("notifications"):
            raise RuntimeError("HTTP 409: the object has been modified")
        super().patch_diagnosis_status(namespace=namespace, name=name, status=status)


def test_a_failure_to_record_is_a_warning_not_a_failed_diagnosis(
    events: asyncio.Queue[Any],
) -> None:
    kube = StatusRefusingKube(policy_with({"name": "team", "kind": "webhook", "url": "http://a"}))
    ports = {"team": FakeSink()}
    _run(kube, ports)
    assert kube.status["phase"] == "Completed"
    assert len(ports["team"].sent) == 1
    assert ("Warning", "NotificationFailed") in _reasons(events)
