"""The life of a Diagnosis as a pure state machine.

    Pending -> Collecting -> Correlating -> Planning [-> Remediating] -> Completed | Degraded
         \\__________\\______________\\____________\\____________________-> Failed

Every function here is pure: the handler passes ``now`` and the current status in
and patches what comes out.  Three conditions describe a diagnosis at any time:
``Progressing`` (True while it runs), ``Complete`` and ``Failed`` (True at the
end that was reached); each carries the ``observedGeneration`` it was set for.
A diagnosis that ended ``Degraded`` (it concluded on part of the evidence: some
of its queries failed) has ``Complete`` True and a fourth condition,
``Degraded`` True, saying what was missing; ``Failed`` means no conclusion.

What happens to a diagnosis the operator meets (``decide``):

* no phase yet: start it;
* a terminal phase for the current generation: nothing (a restart or a status
  edit never re-runs a finished diagnosis);
* a terminal phase for an older generation, i.e. the spec was edited after the
  diagnosis ended: run it again from Pending for the new spec, clearing the old
  results (the old report ConfigMap is overwritten);
* a running phase (the operator stopped mid-run; the work in memory is lost):
  start again from Pending, keeping the policy snapshot taken the first time.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from diagnosis_operator.api import (
    MAX_AFFECTED,
    MAX_CANDIDATES,
    MAX_CLIENTS,
    MAX_EVIDENCE,
    MAX_REMEDIATIONS,
    MAX_TIMELINE,
    AbusiveClientStatus,
    AffectedInstanceStatus,
    CandidateStatus,
    Condition,
    ConditionStatus,
    DiagnosisStatus,
    EvidenceStatus,
    Phase,
    RemediationAction,
    RemediationState,
    RemediationStatus,
    ResolvedWindow,
    RootCauseStatus,
    TimelineEntry,
)
from diagnosis_operator.core.remediation.keys import key_for
from diagnosis_operator.models.findings import (
    AbusiveClient,
    AffectedInstance,
    Candidate,
    DiagnosisResult,
    Evidence,
    TimelineEvent,
)
from diagnosis_operator.models.signals import from_seconds

PROGRESSING = "Progressing"
COMPLETE = "Complete"
FAILED = "Failed"
DEGRADED = "Degraded"

TERMINAL: frozenset[Phase] = frozenset({Phase.COMPLETED, Phase.DEGRADED, Phase.FAILED})
# The ends a diagnosis reached with a conclusion (its remediations may be followed).
CONCLUDED: frozenset[Phase] = frozenset({Phase.COMPLETED, Phase.DEGRADED})
# The forward order of a successful run; Degraded and Failed can follow any
# non-terminal phase.
ORDER: tuple[Phase, ...] = (
    Phase.PENDING,
    Phase.COLLECTING,
    Phase.CORRELATING,
    Phase.PLANNING,
    Phase.REMEDIATING,
    Phase.COMPLETED,
)
# What the engine reports through ``on_stage`` and the phase each one means.
STAGE_PHASES: Mapping[str, Phase] = {
    "collecting": Phase.COLLECTING,
    "correlating": Phase.CORRELATING,
    "planning": Phase.PLANNING,
}

# Status fields that hold the results of one run; a re-run starts without them.
RESULT_FIELDS = (
    "started_at",
    "completed_at",
    "window",
    "root_cause",
    "candidates",
    "evidence",
    "evidence_total",
    "timeline",
    "affected",
    "clients",
    "remediations",
    "report_ref",
    "warnings",
)


class PhaseError(ValueError):
    """A transition the state machine does not allow (a bug in the caller)."""


class Decision(StrEnum):
    START = "start"  # never run
    RESUME = "resume"  # interrupted mid-run: start over, same policy snapshot
    RERUN = "rerun"  # spec changed after the end: start over, new snapshot
    NOTHING = "nothing"  # finished for this generation


def decide(*, status: DiagnosisStatus, generation: int) -> Decision:
    """What to do with a diagnosis in ``status`` at ``generation`` (pure)."""
    if status.phase is None:
        return Decision.START
    if status.phase in TERMINAL:
        if status.observed_generation is not None and status.observed_generation >= generation:
            return Decision.NOTHING
        return Decision.RERUN
    if status.observed_generation is not None and status.observed_generation < generation:
        return Decision.RERUN
    return Decision.RESUME


def can_transition(*, current: Phase | None, target: Phase) -> bool:
    """Whether ``current -> target`` is a step of the machine (pure)."""
    if target is Phase.PENDING:
        return True  # a start, a resume, or a re-run
    if current is None or current in TERMINAL:
        return False
    if target in (Phase.FAILED, Phase.DEGRADED):
        return True
    return ORDER.index(target) > ORDER.index(current)


def set_condition(
    conditions: Sequence[Condition],
    *,
    type: str,
    status: ConditionStatus,
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """``conditions`` with ``type`` set (pure).

    ``lastTransitionTime`` moves only when the condition's status changes.
    """
    previous = next((c for c in conditions if c.type == type), None)
    changed_at = previous.last_transition_time if previous and previous.status == status else now
    updated = Condition(
        type=type,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=changed_at,
        observed_generation=generation,
    )
    others = [c for c in conditions if c.type != type]
    return sorted([*others, updated], key=lambda c: c.type)


def transition(
    status: DiagnosisStatus,
    *,
    target: Phase,
    generation: int,
    now: datetime,
    reason: str | None = None,
    message: str = "",
) -> DiagnosisStatus:
    """The status after moving to ``target`` (pure).  Raises ``PhaseError`` on a bad move.

    ``reason`` defaults to the phase name; for ``Failed`` it says why (a CamelCase
    word such as ``SourceUnavailable``) and ``message`` gives the details.
    """
    if not can_transition(current=status.phase, target=target):
        raise PhaseError(f"cannot go from {status.phase} to {target}")
    conditions = _phase_conditions(
        status.conditions,
        target=target,
        why=reason or target.value,
        message=message,
        generation=generation,
        now=now,
    )
    terminal = target in TERMINAL
    changes: dict[str, Any] = {
        "phase": target,
        "conditions": conditions,
        "observed_generation": generation,
    }
    if target is Phase.PENDING:
        changes.update(
            {
                name: DiagnosisStatus.model_fields[name].get_default(call_default_factory=True)
                for name in RESULT_FIELDS
            }
        )
        changes["started_at"] = now
    if terminal:
        changes["completed_at"] = now
    return status.model_copy(update=changes)


def _phase_conditions(
    current: Iterable[Condition],
    *,
    target: Phase,
    why: str,
    message: str,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """Progressing, Complete, Failed (and Degraded) as they are once in ``target`` (pure)."""
    terminal = target in TERMINAL
    concluded = target in CONCLUDED
    conditions = _degraded_condition(
        list(current), target=target, why=why, message=message, generation=generation, now=now
    )
    conditions = set_condition(
        conditions,
        type=PROGRESSING,
        status=ConditionStatus.FALSE if terminal else ConditionStatus.TRUE,
        reason=why,
        message=message or _default_message(target),
        generation=generation,
        now=now,
    )
    conditions = set_condition(
        conditions,
        type=COMPLETE,
        status=ConditionStatus.TRUE if concluded else ConditionStatus.FALSE,
        reason=why if concluded else ("Failed" if terminal else "InProgress"),
        message=message if concluded else "",
        generation=generation,
        now=now,
    )
    return set_condition(
        conditions,
        type=FAILED,
        status=ConditionStatus.TRUE if target is Phase.FAILED else ConditionStatus.FALSE,
        reason=why if target is Phase.FAILED else ("Succeeded" if terminal else "InProgress"),
        message=message if target is Phase.FAILED else "",
        generation=generation,
        now=now,
    )


def _degraded_condition(
    conditions: list[Condition],
    *,
    target: Phase,
    why: str,
    message: str,
    generation: int,
    now: datetime,
) -> list[Condition]:
    """The ``Degraded`` condition: True in ``Degraded``; False once set and the run moves on."""
    if target is Phase.DEGRADED:
        status, reason, text = ConditionStatus.TRUE, why, message
    elif any(c.type == DEGRADED for c in conditions):
        status, reason, text = ConditionStatus.FALSE, "NotDegraded", ""
    else:
        return conditions
    return set_condition(
        conditions,
        type=DEGRADED,
        status=status,
        reason=reason,
        message=text,
        generation=generation,
        now=now,
    )


def _default_message(phase: Phase) -> str:
    return {
        Phase.PENDING: "waiting to start",
        Phase.COLLECTING: "collecting signals",
        Phase.CORRELATING: "correlating anomalies along the topology",
        Phase.PLANNING: "planning remediations",
        Phase.REMEDIATING: "applying allowed remediations",
        Phase.COMPLETED: "diagnosis complete",
        Phase.DEGRADED: "diagnosis complete on part of the evidence",
        Phase.FAILED: "diagnosis failed",
    }[phase]


def status_patch(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON merge patch turning the wire status ``before`` into ``after`` (pure).

    Keys gone from ``after`` become ``None`` so the apiserver deletes them; lists
    and nested objects are replaced whole (merge-patch semantics for lists).
    """
    patch: dict[str, Any] = {key: None for key in before if key not in after}
    for key, value in after.items():
        if before.get(key) != value:
            patch[key] = value
    return patch


# --------------------------------------------------------------------------- results


def _bounded(items: Iterable[Any], limit: int) -> list[Any]:
    return list(items)[:limit]


def with_result(
    status: DiagnosisStatus, *, result: DiagnosisResult, diagnosis_uid: str, namespace: str
) -> DiagnosisStatus:
    """``status`` carrying the engine's result, bounded to what a status may hold (pure).

    Evidence keeps the engine's order (strongest first) and records how many
    items there were, so a truncated list says so.  Every remediation carries its
    idempotency key from the start (``core.actionkeys.key_for`` over the policy
    snapshot, as the executor derives it), whatever the mode, so that
    ``kubectl diagnose approve`` can name it; one whose target names no action
    (an invalid rate-limit target) has none, and the executor denies it.
    """
    root = result.root_cause
    remediations = _remediation_statuses(
        result, status=status, diagnosis_uid=diagnosis_uid, namespace=namespace
    )
    return status.model_copy(
        update={
            "window": ResolvedWindow(
                start=from_seconds(result.window.start), end=from_seconds(result.window.end)
            ),
            "root_cause": RootCauseStatus(
                component=root.component,
                kind=root.kind,
                instance=root.instance,
                confidence=min(1.0, max(0.0, root.confidence)),
                summary=root.summary,
            ),
            "candidates": _bounded(map(_candidate, result.candidates), MAX_CANDIDATES),
            "evidence": _bounded(map(_evidence, result.evidence), MAX_EVIDENCE),
            "evidence_total": len(result.evidence),
            "timeline": _bounded(
                map(_timeline_entry, sorted(result.timeline, key=lambda t: t.ts)), MAX_TIMELINE
            ),
            "affected": _bounded(map(_affected, result.affected), MAX_AFFECTED),
            "clients": _bounded(map(_client, result.clients), MAX_CLIENTS),
            "remediations": remediations[:MAX_REMEDIATIONS],
            "warnings": [w[:1024] for w in result.warnings][:32],
        }
    )


def _remediation_statuses(
    result: DiagnosisResult, *, status: DiagnosisStatus, diagnosis_uid: str, namespace: str
) -> list[RemediationStatus]:
    """The planned remediations, each with its idempotency key when it names an action."""
    snapshot = status.policy_snapshot
    remediations = []
    for remediation in result.remediations:
        item = RemediationStatus(
            action=RemediationAction(remediation.action.value),
            target=remediation.target,
            state=RemediationState(remediation.state),
            reason=remediation.reason,
            params=dict(remediation.params),
        )
        if snapshot is not None:
            try:
                key = key_for(
                    diagnosis_uid=diagnosis_uid,
                    diagnosis_namespace=namespace,
                    remediation=item,
                    policy=snapshot.spec,
                )
            except ValueError:
                key = None
            item = item.model_copy(update={"idempotency_key": key})
        remediations.append(item)
    return remediations


def _candidate(c: Candidate) -> CandidateStatus:
    return CandidateStatus(
        component=c.component, score=c.score, role=c.role, reasons=list(c.reasons)[:16]
    )


def _evidence(e: Evidence) -> EvidenceStatus:
    return EvidenceStatus(
        component=e.component,
        source=e.source.value,
        query=e.query[:4096],
        summary=e.summary[:4096],
        ts=from_seconds(e.ts) if e.ts is not None else None,
        value=e.value,
        baseline=e.baseline,
        instance=e.instance,
        line=e.line[:4096] if e.line is not None else None,
    )


def _timeline_entry(t: TimelineEvent) -> TimelineEntry:
    return TimelineEntry(
        ts=from_seconds(t.ts),
        component=t.component,
        event=t.event[:4096],
        source=t.source.value if t.source is not None else None,
    )


def _affected(a: AffectedInstance) -> AffectedInstanceStatus:
    return AffectedInstanceStatus(
        component=a.component,
        instance=a.instance,
        reason=a.reason[:4096],
        pod=a.pod,
        namespace=a.namespace,
    )


def _client(c: AbusiveClient) -> AbusiveClientStatus:
    return AbusiveClientStatus(
        ip=c.ip,
        reason=c.reason[:4096],
        requests=c.requests,
        pattern=c.pattern.value,
        first_seen=from_seconds(c.first_seen) if c.first_seen is not None else None,
        last_seen=from_seconds(c.last_seen) if c.last_seen is not None else None,
    )


def skip_remediations(status: DiagnosisStatus, *, reason: str, now: datetime) -> DiagnosisStatus:
    """Mark every remediation still ``proposed``/``approved`` as ``skipped`` (pure)."""
    open_states = {RemediationState.PROPOSED, RemediationState.APPROVED}
    return status.model_copy(
        update={
            "remediations": [
                r.model_copy(
                    update={"state": RemediationState.SKIPPED, "reason": reason, "updated_at": now}
                )
                if r.state in open_states
                else r
                for r in status.remediations
            ]
        }
    )
