"""What a notification says, gathered from a Diagnosis' status (pure), and what is due.

``facts_from`` turns the status the handler just wrote into ``NotificationFacts``;
``due`` says which (sink, event) pairs still have to be sent for this generation,
so an operator restarted or a handler resumed never tells a sink twice.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.api import (
    DiagnosisStatus,
    NotificationEvent,
    NotificationSink,
    NotificationStatus,
    RemediationState,
)
from diagnosis_operator.core.alerts import ALERT_LABELS_ANNOTATION, SOURCE_ANNOTATION
from diagnosis_operator.models.findings import NO_INCIDENT
from diagnosis_operator.models.signals import utc_seconds

# The reason the executor gives a proposal that waits for a person (service/remediate).
AWAITING_APPROVAL = "waits for approval"
MAX_AFFECTED_LISTED = 20
MAX_ACTIONS_LISTED = 20


@dataclass(frozen=True, slots=True)
class ProposedAction:
    action: str
    target: str
    state: str
    key: str | None
    reason: str
    approve_command: str | None  # set when the action waits for approval


@dataclass(frozen=True, slots=True)
class AlertOrigin:
    """The Alertmanager alert group a Diagnosis was created from (webhook annotations)."""

    labels: tuple[tuple[str, str], ...]  # the group's common labels, sorted
    alertmanager_url: str | None


@dataclass(frozen=True, slots=True)
class NotificationFacts:
    namespace: str
    name: str
    uid: str
    generation: int
    phase: str
    found: bool  # a root cause was named (not "no incident")
    root_component: str
    root_kind: str | None
    root_instance: str | None
    failure_mode: str | None
    confidence: float
    summary: str
    affected: tuple[str, ...]
    affected_total: int
    actions: tuple[ProposedAction, ...]
    report_url: str | None
    window: tuple[float, float] | None
    alert: AlertOrigin | None

    @property
    def awaiting_approval(self) -> tuple[ProposedAction, ...]:
        return tuple(a for a in self.actions if a.approve_command is not None)

    @property
    def root_cause_line(self) -> str:
        """``component (failure mode)`` or ``no incident``."""
        if not self.found:
            return "no incident"
        where = self.root_component
        if self.root_instance:
            where += f" [{self.root_instance}]"
        return f"{where} ({self.failure_mode})" if self.failure_mode else where


def approve_command(*, name: str, key: str, namespace: str) -> str:
    """The kubectl plugin's approve command (docs/approvals.md)."""
    return f"kubectl diagnose approve {name} {key} -n {namespace}"


def report_url(base: str | None, *, namespace: str, name: str) -> str | None:
    """Where the operator serves the report (``GET /reports/{namespace}/{name}``)."""
    if not base:
        return None
    return f"{base.rstrip('/')}/reports/{namespace}/{name}"


def alert_origin(annotations: Mapping[str, str]) -> AlertOrigin | None:
    raw = annotations.get(ALERT_LABELS_ANNOTATION)
    if not raw:
        return None
    try:
        decoded = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(decoded, dict):
        return None
    labels = tuple(sorted((str(k), str(v)) for k, v in decoded.items() if str(k) and str(v)))
    return AlertOrigin(labels=labels, alertmanager_url=annotations.get(SOURCE_ANNOTATION) or None)


def facts_from(
    *,
    namespace: str,
    name: str,
    uid: str,
    generation: int,
    status: DiagnosisStatus,
    failure_mode: str | None,
    annotations: Mapping[str, str],
    report_base_url: str | None,
) -> NotificationFacts:
    """The facts of a notification, from the status the handler wrote (pure)."""
    root = status.root_cause
    component = root.component if root is not None else NO_INCIDENT
    actions = tuple(
        ProposedAction(
            action=item.action.value,
            target=item.target,
            state=item.state.value,
            key=item.idempotency_key,
            reason=item.reason,
            approve_command=(
                approve_command(name=name, key=item.idempotency_key, namespace=namespace)
                if item.state is RemediationState.PROPOSED
                and item.idempotency_key
                and item.reason.startswith(AWAITING_APPROVAL)
                else None
            ),
        )
        for item in status.remediations[:MAX_ACTIONS_LISTED]
    )
    affected = tuple(
        f"{a.component} {a.instance}" + (f" (pod {a.pod})" if a.pod else "")
        for a in status.affected[:MAX_AFFECTED_LISTED]
    )
    window = status.window
    return NotificationFacts(
        namespace=namespace,
        name=name,
        uid=uid,
        generation=generation,
        phase=status.phase.value if status.phase is not None else "",
        found=component != NO_INCIDENT,
        root_component=component,
        root_kind=root.kind if root is not None else None,
        root_instance=root.instance if root is not None else None,
        failure_mode=failure_mode,
        confidence=root.confidence if root is not None else 0.0,
        summary=root.summary if root is not None else "",
        affected=affected,
        affected_total=len(status.affected),
        actions=actions,
        report_url=report_url(report_base_url, namespace=namespace, name=name),
        window=(utc_seconds(window.start), utc_seconds(window.end)) if window else None,
        alert=alert_origin(annotations),
    )


def events_now(facts: NotificationFacts) -> tuple[NotificationEvent, ...]:
    """The events this state of the Diagnosis stands for."""
    events = [NotificationEvent.COMPLETED]
    if facts.awaiting_approval:
        events.append(NotificationEvent.APPROVAL_REQUIRED)
    return tuple(events)


def due(
    *,
    sinks: Sequence[NotificationSink],
    events: Sequence[NotificationEvent],
    sent: Sequence[NotificationStatus],
    generation: int,
) -> list[tuple[NotificationSink, NotificationEvent]]:
    """(sink, event) pairs subscribed to and not yet recorded for this generation."""
    done = {(item.sink, item.event) for item in sent if item.generation == generation}
    return [
        (sink, event)
        for sink in sinks
        for event in events
        if event in sink.events and (sink.name, event) not in done
    ]
