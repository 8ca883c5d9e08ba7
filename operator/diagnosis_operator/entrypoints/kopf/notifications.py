"""Notifications from the Diagnosis handler, after the final status is written.

Thin: the facts come from ``core.notify`` (pure), the sends from ``service.notify``,
the adapters from the context (``bootstrap.notifications``).  Each (sink, event)
is recorded in ``status.notifications`` as it is sent, so a resumed handler or a
restarted operator never sends it again.  Nothing here raises: a failing sink is
a Warning Event (``NotificationFailed``) and a ``failed`` record; the Diagnosis
stays Completed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import kopf

from diagnosis_operator.api import DiagnosisStatus, NotificationResult, NotificationStatus
from diagnosis_operator.core.notify import facts_from
from diagnosis_operator.entrypoints.kopf.context import OperatorContext
from diagnosis_operator.ports import NotificationPort
from diagnosis_operator.service.notify import notify


def send_notifications(
    *,
    context: OperatorContext,
    body: kopf.Body,
    namespace: str,
    name: str,
    status: DiagnosisStatus,
    failure_mode: str | None,
    record: Callable[[list[NotificationStatus]], None],
) -> None:
    try:
        _send(
            context=context,
            body=body,
            namespace=namespace,
            name=name,
            status=status,
            failure_mode=failure_mode,
            record=record,
        )
    except Exception as error:  # a notification never fails the Diagnosis
        kopf.warn(body, reason="NotificationFailed", message=f"{type(error).__name__}: {error}")


def _send(
    *,
    context: OperatorContext,
    body: kopf.Body,
    namespace: str,
    name: str,
    status: DiagnosisStatus,
    failure_mode: str | None,
    record: Callable[[list[NotificationStatus]], None],
) -> None:
    snapshot = status.policy_snapshot
    sinks = snapshot.spec.notifications if snapshot is not None else []
    if not sinks:
        return
    metadata: Mapping[str, Any] = body.get("metadata") or {}
    facts = facts_from(
        namespace=namespace,
        name=name,
        uid=str(metadata.get("uid") or ""),
        generation=int(metadata.get("generation") or 0),
        status=status,
        failure_mode=failure_mode,
        annotations=dict(metadata.get("annotations") or {}),
        report_base_url=context.notify.report_base_url,
    )

    def open_sink(sink: Any) -> NotificationPort:
        port: NotificationPort = context.open_sink(
            sink,
            namespace=namespace,
            kube=context.kube,
            settings=context.notify,
            rules=context.tenancy(),
        )
        return port

    added = notify(
        sinks=sinks,
        facts=facts,
        sent=status.notifications,
        open_sink=open_sink,
        now=time.time(),
        record=record,
    )
    for item in added:
        _announce(body, item)


def _announce(body: kopf.Body, item: NotificationStatus) -> None:
    what = f"{item.sink} ({item.event.value})"
    if item.result is NotificationResult.FAILED:
        kopf.warn(body, reason="NotificationFailed", message=f"{what}: {item.message}"[:1024])
    elif item.result is NotificationResult.SKIPPED:
        kopf.info(body, reason="NotificationSkipped", message=f"{what}: {item.message}"[:1024])
    else:
        kopf.info(body, reason="NotificationSent", message=what)
