"""The executor's work on a finished Diagnosis, tick after tick, and when it is deleted.

``follow_through`` lifts the quarantines and removes the client rules that are
due, then verifies the applied actions whose time has come (``verify_due``):
keep, roll back or escalate.  ``let_go`` lifts and removes everything a deleted
Diagnosis still holds.  The world is reached through ``Connections``: the
cluster, the live logs and the action ports, the last two built only when used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    RemediationStatus,
    VerificationSettings,
    parse_duration,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.ports import Cluster, LogSource, PromQLSource
from diagnosis_operator.service.remediate.aftercare import (
    Record,
    awaits_verification,
    expire_rules,
    follow_up,
    lift_due,
)
from diagnosis_operator.service.remediate.run import EXECUTOR_PARAM, ActionPorts, DiagnosisRef
from diagnosis_operator.service.remediate.verification import checks_for, is_due
from diagnosis_operator.service.remediate.verify_promql import (
    MetricVerification,
    metric_checks,
    metric_verification,
)


@dataclass(frozen=True)
class Connections:
    """How the aftercare reaches the world; a policy's action ports and logs built on use."""

    cluster: Cluster
    actions: Callable[[DiagnosisPolicySpec], AbstractContextManager[ActionPorts]]
    logs: Callable[[DiagnosisPolicySpec], LogSource | None] = lambda _policy: None
    metrics: Callable[[DiagnosisPolicySpec], PromQLSource | None] = lambda _policy: None


@dataclass(frozen=True)
class Followed:
    """The remediations after a tick, and the escalations its verification asked for."""

    items: list[RemediationStatus]
    escalated: list[str] = field(default_factory=list)


def follow_through(
    *,
    diagnosis: DiagnosisRef,
    policy: DiagnosisPolicySpec | None,
    remediations: Sequence[RemediationStatus],
    symptom_component: str | None,
    connections: Connections,
    record: Record,
    clock: Callable[[], float],
    incident: Window | None = None,
) -> Followed:
    """Lift what is due, remove expired rules, verify what is due (module docstring).

    ``incident``: the diagnosed window (its start ends the PromQL baseline).
    """
    items = lift_due(
        diagnosis=diagnosis,
        remediations=remediations,
        cluster=connections.cluster,
        now=clock(),
        record=record,
    )
    if policy is None:
        return Followed(items=items)
    with connections.actions(policy) as ports:
        items = expire_rules(
            diagnosis=diagnosis,
            remediations=items,
            traffic=ports.traffic,
            cluster=connections.cluster,
            now=clock(),
            record=record,
        )
    return verify_due(
        diagnosis=diagnosis,
        policy=policy,
        remediations=items,
        symptom_component=symptom_component,
        connections=connections,
        record=record,
        now=clock(),
        incident=incident,
    )


def let_go(
    *,
    diagnosis: DiagnosisRef,
    policy: DiagnosisPolicySpec | None,
    remediations: Sequence[RemediationStatus],
    connections: Connections,
    clock: Callable[[], float],
) -> None:
    """Lift the quarantines and remove the client rules of a Diagnosis going away."""
    lift_due(
        diagnosis=diagnosis,
        remediations=remediations,
        cluster=connections.cluster,
        now=clock(),
        record=lambda _items: None,  # the Diagnosis is going away
        resolved=True,
    )
    if policy is None:
        return
    with connections.actions(policy) as ports:
        expire_rules(
            diagnosis=diagnosis,
            remediations=remediations,
            traffic=ports.traffic,
            cluster=connections.cluster,
            now=clock(),
            record=lambda _items: None,
            resolved=True,
        )


def verify_due(
    *,
    diagnosis: DiagnosisRef,
    policy: DiagnosisPolicySpec,
    remediations: list[RemediationStatus],
    symptom_component: str | None,
    connections: Connections,
    record: Record,
    now: float,
    incident: Window | None = None,
) -> Followed:
    """Verify the applied actions whose time has come; say which ones escalate.

    The checks: the log signals and the MySQL threads (``verification``), and, with
    Prometheus, the symptom's error ratio and latency (``verify_promql``), whose sustained
    period may delay it past ``after``; short of resolved, it is looked at until ``settle``.
    """
    if not any(awaits_verification(item) for item in remediations):
        return Followed(items=remediations)
    settings = policy.remediation.verification
    if not settings.enabled:
        items = _verification_skipped(remediations)
        record(items)
        return Followed(items=items)
    metrics = metric_verification(
        policy=policy,
        symptom_component=symptom_component,
        promql=connections.metrics(policy),
        incident_start=incident.start if incident is not None else None,
    )
    due, final = _due_and_final(settings, metrics=metrics, now=now)
    if not any(awaits_verification(item) and due(item) for item in remediations):
        return Followed(items=remediations)
    topology = policy.to_topology()
    logs = connections.logs(policy)
    with connections.actions(policy) as ports:
        items = follow_up(
            diagnosis=diagnosis,
            remediations=remediations,
            checks=lambda item: [
                *checks_for(
                    item=item,
                    topology=topology,
                    symptom_component=symptom_component,
                    logs=logs,
                    mysql=ports.mysql,
                    kill_spec=policy.remediation.kill_mysql_queries,
                    now=now,
                ),
                *(metric_checks(metrics, item=item, now=now) if metrics is not None else ()),
            ],
            cluster=connections.cluster,
            now=now,
            record=record,
            min_improvement=settings.min_improvement,
            traffic=ports.traffic,
            due=due,
            final=final,
        )
    return Followed(items=items, escalated=escalations(items))


def _due_and_final(
    settings: VerificationSettings, *, metrics: MetricVerification | None, now: float
) -> tuple[Callable[[RemediationStatus], bool], Callable[[RemediationStatus], bool]]:
    """Is it time to judge an action; is a verdict short of resolved kept (settled)?"""
    after = parse_duration(settings.after)
    settled = now - parse_duration(settings.settle)
    return _due(after=after, metrics=metrics, now=now), _due(
        after=after, metrics=metrics, now=settled
    )


def _due(
    *, after: float, metrics: MetricVerification | None, now: float
) -> Callable[[RemediationStatus], bool]:
    """Is it time to judge an action: ``verification.after``, and the PromQL period seen?
    (With ``now`` moved back by ``verification.settle``: is a verdict kept whatever it is?)"""

    def due(item: RemediationStatus) -> bool:
        return is_due(item=item, now=now, after_seconds=after) and (
            metrics is None or metrics.due(item, now=now)
        )

    return due


def _verification_skipped(remediations: Sequence[RemediationStatus]) -> list[RemediationStatus]:
    """Every remediation awaiting verification marked as not verified (disabled).  Pure."""
    items = list(remediations)
    for index, item in enumerate(items):
        if awaits_verification(item):
            params = dict(item.params)
            executor = dict(params.get(EXECUTOR_PARAM) or {})
            executor["verification"] = {"outcome": "skipped", "summary": "disabled by policy"}
            params[EXECUTOR_PARAM] = executor
            items[index] = item.model_copy(update={"params": params})
    return items


def escalations(items: Sequence[RemediationStatus]) -> list[str]:
    """``action target: summary`` of each remediation whose verification escalated.  Pure."""
    found: list[str] = []
    for item in items:
        verdict: Any = (item.params.get(EXECUTOR_PARAM) or {}).get("verification")
        if isinstance(verdict, dict) and verdict.get("followUp") == "escalate":
            found.append(f"{item.action.value} {item.target}: {verdict.get('summary', '')}")
    return found
