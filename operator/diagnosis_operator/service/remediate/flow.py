"""The skeleton every action follows, written once; each action says only what differs.

``run_action`` walks one remediation through:

1. ``prepare`` (checks that come before the key, e.g. a rate-limit's network);
2. its idempotency key (``core.remediation.keys.key_for``: diagnosis uid, action,
   target), written into the status if missing so ``kubectl diagnose approve``
   can name it; a final state ends here;
3. ``connect``: the action's ports (a MySQL server, a traffic backend);
4. resume-if-started: an action recorded as started (``running`` in status, or an
   executed entry in the ledger, which survives a status reset) is never blindly
   run again: ``resume`` checks the world first and completes only what
   demonstrably did not happen, under the reservation it already holds;
5. ``plan``: what would be done, and the guard that decides it (the pure guards
   with the policy, the pause switch, the approval annotation and the ledger; a
   diagnosis in ``dry-run`` mode gives a dry run);
6. denied -> proposed (awaiting approval), denied or skipped; ``dry_run`` -> what
   would be done, recorded as skipped;
7. reserve in the cluster-wide ledger (compare-and-swap, deciding again on each
   conflict, so budgets and cooldowns hold across diagnoses, replicas and
   restarts); a reservation another worker made first means resume;
8. ``running`` recorded with the key BEFORE acting (``start``), then ``apply``,
   then ``finish``: the ledger entry settled, the outcome in status, an Event.

Test checkpoints (``Run.checkpoint``, where the restart tests SIGKILL the
operator): ``after-reserve`` (reserved, status not yet running),
``before-apply`` and ``after-apply`` (around the side effect, in each strategy)
and ``after-settle`` (the ledger says applied, the status not yet).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from diagnosis_operator.api import Mode, RemediationState
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.guard import check
from diagnosis_operator.core.remediation.keys import key_for
from diagnosis_operator.models.actions import (
    Action,
    Allowed,
    DenialCode,
    Denied,
    LedgerEntry,
    LedgerOutcome,
    Verdict,
    cooldown_targets_of,
)
from diagnosis_operator.models.cluster import PodInfo
from diagnosis_operator.service import metrics
from diagnosis_operator.service.remediate import outcome
from diagnosis_operator.service.remediate.ledger import RESERVED
from diagnosis_operator.service.remediate.run import FINAL_STATES, Run, Slot

Decide = Callable[[ledgers.Ledger], Verdict]


@dataclass(frozen=True)
class Plan:
    """What an action will do: the action, its guard, and how it is announced."""

    action: Action
    decide: Decide
    what: str  # the reservation's detail: what is done
    reason: str  # the status reason while running
    announce: str  # the RemediationStarted Event
    pod: PodInfo | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # params.executor on start


class ActionFlow:
    """One action's strategy; ``run_action`` calls these in the skeleton's order."""

    # A guard's ``empty-targets`` is a skip (nothing to do) rather than a denial.
    EMPTY_SKIPS: ClassVar[bool] = True

    def __init__(self, slot: Slot) -> None:
        self.slot = slot
        self.run = slot.run
        self.pod: PodInfo | None = None  # the pod the action touches, for its Events

    def prepare(self) -> bool:
        """Checks before the key; ``False``: stop (the status says why)."""
        return True

    def connect(self) -> bool:
        """The action's ports and settings; ``False``: stop (the status says why)."""
        return True

    def resume(self) -> None:
        raise NotImplementedError

    def plan(self, entries: ledgers.Ledger) -> Plan | None:
        raise NotImplementedError

    def review(self, verdict: Verdict) -> Verdict:
        """The guard's verdict, with the action's own limits on top."""
        return verdict

    def refused(self, verdict: Denied) -> None:
        """The first verdict said no."""
        self.denied(verdict)

    def denied(self, verdict: Denied) -> None:
        outcome.denied(self.slot, verdict, pod=self.pod, empty_skips=self.EMPTY_SKIPS)

    def admit(self, plan: Plan) -> bool:
        """Last look before a dry run or the reservation; ``False``: stop."""
        return True

    def dry_run(self, plan: Plan, verdict: Verdict) -> None:
        raise NotImplementedError

    def apply(self, plan: Plan) -> None:
        raise NotImplementedError


def run_action(flow: ActionFlow) -> None:
    """Guard, dry-run, reserve, resume-if-done, start, apply, finish (module docstring)."""
    slot = flow.slot
    if not flow.prepare():
        return
    keyed(slot)
    if slot.item.state in FINAL_STATES or not flow.connect():
        return
    entries, started = started_before(slot)
    if started:
        flow.resume()
        return
    plan = flow.plan(entries)
    if plan is None:
        return
    verdict = flow.review(plan.decide(entries))
    action = slot.item.action.value
    if isinstance(verdict, Denied):
        metrics.record_guard_denial(action, verdict.code.value)
        flow.refused(verdict)
        return
    if not flow.admit(plan):
        return
    if verdict.dry_run:
        metrics.record_action(action, "dry-run")
        flow.dry_run(plan, verdict)
        return
    reservation = reserve(slot, action=plan.action, what=plan.what, decide=plan.decide)
    if isinstance(reservation, Denied):
        if reservation.code is DenialCode.ALREADY_DONE:
            # Another worker reserved this very action between our read and our write.
            flow.resume()
        else:
            metrics.record_guard_denial(action, reservation.code.value)
            flow.denied(reservation)
        return
    slot.run.checkpoint("after-reserve", slot.key)
    start(slot, reason=plan.reason, announce=plan.announce, pod=plan.pod, **plan.extra)
    flow.apply(plan)


# --------------------------------------------------------------------- the steps


def keyed(slot: Slot) -> None:
    """The action's key (``core.remediation.keys.key_for``), written into the status."""
    run, item = slot.run, slot.item
    slot.key = key_for(
        diagnosis_uid=run.diagnosis.uid,
        diagnosis_namespace=run.diagnosis.namespace,
        remediation=item,
        policy=run.policy,
    )
    if item.idempotency_key != slot.key:
        slot.save(item.model_copy(update={"idempotency_key": slot.key}))


def started_before(slot: Slot) -> tuple[ledgers.Ledger, bool]:
    """The fresh ledger, and whether the action was started before (status or ledger)."""
    entries, _ = slot.run.ledger.read()
    reserved = entries.find(slot.key)
    started = slot.item.state is RemediationState.RUNNING or (
        reserved is not None and reserved.outcome is LedgerOutcome.EXECUTED
    )
    return entries, started


def guarded(
    run: Run,
    *,
    action: Action,
    key: str,
    dry_run_reason: str | None = None,
    judge: Callable[..., Verdict] = check,
    **facts: Any,
) -> Decide:
    """The guard of ``action``: ``judge`` on the ledger as read, a dry run when due.

    ``judge`` is ``core.remediation.guard.check`` or one built on it (drain's
    ``check_drain``, which also takes the ``facts`` about the pod).
    """
    approved = run.approvals.get(key) is not None

    def decide(current: ledgers.Ledger) -> Verdict:
        verdict = judge(
            action=action,
            policy=run.guard,
            ledger=current.entries,
            now=run.now,
            key=key,
            approved=approved,
            **facts,
        )
        if isinstance(verdict, Allowed) and not verdict.dry_run:
            if run.mode is Mode.DRY_RUN:
                return Allowed(dry_run=True, reason="the diagnosis is in dry-run mode")
            if dry_run_reason is not None:
                return Allowed(dry_run=True, reason=dry_run_reason)
        return verdict

    return decide


def reserve(slot: Slot, *, action: Action, what: str, decide: Decide) -> Verdict:
    """Reserve ``action`` in the ledger before acting on it (``what`` says what is done)."""
    run = slot.run
    entry = LedgerEntry(
        key=slot.key,
        action=action.kind,
        targets=cooldown_targets_of(action),
        at=run.now,
        outcome=LedgerOutcome.EXECUTED,
        detail=f"{RESERVED}{run.diagnosis.ref}: {what}",
    )
    return run.ledger.reserve(entry=entry, now=run.now, decide=decide)


def start(
    slot: Slot, *, reason: str, announce: str, pod: PodInfo | None = None, **extra: Any
) -> None:
    """Record ``running`` (and who approved it) before the side effect, and announce it."""
    run = slot.run
    approval = run.approvals.get(slot.key)
    approved_by = approval.user if approval is not None else None
    item = slot.item.model_copy(update={"approved_by": approved_by})
    slot.move(RemediationState.RUNNING, reason, base=item, **extra)
    run.event(
        "RemediationStarted",
        f"{announce} (key {slot.key})" + (f", approved by {approved_by}" if approved_by else ""),
        pod=pod,
    )
