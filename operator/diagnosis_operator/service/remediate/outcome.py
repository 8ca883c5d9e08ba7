"""How a remediation ends: settled in the ledger, recorded in status, announced by an Event.

The endings every action shares: ``finish`` (applied: success or failure),
``recovered`` (a restart found it done), ``done_before`` (the ledger says it was
applied), ``abandon`` (a started action that has nothing left to do), ``denied``
and ``await_approval`` (a guard said no), ``skip``.
"""

from __future__ import annotations

from typing import Any

from diagnosis_operator.api import RemediationState
from diagnosis_operator.core.notify import AWAITING_APPROVAL
from diagnosis_operator.models.actions import DenialCode, Denied, LedgerOutcome
from diagnosis_operator.models.cluster import PodInfo
from diagnosis_operator.service import metrics
from diagnosis_operator.service.remediate.ledger import APPLIED
from diagnosis_operator.service.remediate.run import Slot


def finish(
    slot: Slot,
    *,
    state: RemediationState,
    reason: str,
    pod: PodInfo | None,
    label: str = "",
    **extra: Any,
) -> None:
    """Record the outcome of an applied action: ledger, status and Event (``label`` first)."""
    run = slot.run
    settle(slot, state=state, reason=reason)
    run.checkpoint("after-settle", slot.key)
    succeeded = state is RemediationState.SUCCEEDED
    metrics.record_action(slot.item.action.value, "applied" if succeeded else "failed")
    applied_at = run.now if state is RemediationState.SUCCEEDED else None
    slot.move(state, reason, appliedAt=applied_at, **extra)
    if state is RemediationState.SUCCEEDED:
        run.event("RemediationApplied", label + reason, pod=pod)
    else:
        run.event("RemediationFailed", label + reason, warning=True, pod=pod)


def settle(slot: Slot, *, state: RemediationState, reason: str) -> None:
    """Mark the reservation applied (it spends budget) or failed (it does not)."""
    if state is RemediationState.SUCCEEDED:
        slot.run.ledger.settle(
            key=slot.key, outcome=LedgerOutcome.EXECUTED, detail=APPLIED + reason[:512]
        )
    else:
        slot.run.ledger.settle(key=slot.key, outcome=LedgerOutcome.FAILED, detail=reason[:512])


def recovered(
    slot: Slot, *, reason: str, pod: PodInfo | None = None, label: str = "", **extra: Any
) -> None:
    """A restart found the action done: settle it as applied, not repeated."""
    settle(slot, state=RemediationState.SUCCEEDED, reason=reason)
    slot.move(RemediationState.SUCCEEDED, reason, **extra)
    slot.run.event("RemediationRecovered", label + reason, pod=pod)


def done_before(slot: Slot, *, what: str, executed_only: bool = False, **extra: Any) -> bool:
    """Whether the ledger says the action was applied; if so it is recorded as succeeded.

    ``executed_only``: count only an entry whose outcome is still ``executed``.
    """
    entries, _ = slot.run.ledger.read()
    reserved = entries.find(slot.key)
    if reserved is None or not reserved.detail.startswith(APPLIED):
        return False
    if executed_only and reserved.outcome is not LedgerOutcome.EXECUTED:
        return False
    reason = f"{what} was applied before: {reserved.detail[len(APPLIED) :]}"
    slot.move(RemediationState.SUCCEEDED, reason, **extra)
    return True


def running_again(slot: Slot, reason: str, **extra: Any) -> None:
    """A resumed action is ``running`` again while the world is checked."""
    if slot.item.state is not RemediationState.RUNNING:
        slot.move(RemediationState.RUNNING, reason, **extra)


def abandon(slot: Slot, reason: str) -> None:
    """A started action with nothing to do: its reservation fails, it is skipped."""
    slot.run.ledger.settle(key=slot.key, outcome=LedgerOutcome.FAILED, detail=reason)
    slot.move(RemediationState.SKIPPED, reason)


def denied(
    slot: Slot, verdict: Denied, *, pod: PodInfo | None = None, empty_skips: bool = True
) -> None:
    """A guard said no: proposed (approval), skipped (nothing to do) or denied."""
    if verdict.code is DenialCode.APPROVAL_REQUIRED:
        await_approval(slot, pod=pod)
        return
    item = slot.item
    state = (
        RemediationState.SKIPPED
        if empty_skips and verdict.code is DenialCode.EMPTY_TARGETS
        else RemediationState.DENIED
    )
    reason = f"{verdict.code.value}: {verdict.reason}"
    slot.move(state, reason)
    slot.run.event(
        "RemediationDenied" if state is RemediationState.DENIED else "RemediationSkipped",
        f"{item.action.value} {item.target}: {reason}",
        warning=state is RemediationState.DENIED,
        pod=pod,
    )


def await_approval(slot: Slot, *, pod: PodInfo | None) -> None:
    """Propose the action and say how to approve it (once: a repeat changes nothing)."""
    item = slot.item
    command = f"kubectl diagnose approve {slot.run.diagnosis.name} {slot.key}"
    reason = f"{AWAITING_APPROVAL}: {command}"
    if item.state is not RemediationState.PROPOSED or item.reason != reason:
        slot.move(RemediationState.PROPOSED, reason)
        slot.run.event("ApprovalRequired", f"{item.action.value} {item.target}: {reason}", pod=pod)


def skip(slot: Slot, reason: str) -> None:
    item = slot.item
    if item.state is RemediationState.SKIPPED and item.reason == reason:
        return
    slot.move(RemediationState.SKIPPED, reason)
    slot.run.event("RemediationSkipped", f"{item.action.value} {item.target}: {reason}")
