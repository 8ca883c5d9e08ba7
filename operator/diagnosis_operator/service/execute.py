"""Apply the remediations the guards allow, exactly once, and undo them when due.

``remediate`` walks a Diagnosis' remediations (the ``RemediationStatus`` list the
handler keeps in status) and, for each:

1. derives its idempotency key (``models.actions.action_key``: diagnosis uid,
   action, target) and writes it into the status, so ``kubectl diagnose approve``
   can name it;
2. decides: the pure guards (``core/drain.py`` on top of ``core/guard.py``) with
   the policy, the cluster-wide pause switch, the approval annotation
   (``models/controls.py``) and the action ledger; a diagnosis in ``dry-run``
   mode or a policy that does not enable the action gives a dry run (the
   eviction is then sent with ``dryRun=All`` so the apiserver judges it too);
3. reserves the action in the cluster-wide ledger (``core/ledger.py``) with
   optimistic concurrency, deciding again on every conflict, so budgets and
   cooldowns hold across diagnoses, replicas and restarts;
4. records ``running`` with the key in status (``record``) BEFORE acting;
5. acts through the ``Cluster`` port, then records the outcome.

Restarts: an action whose key is recorded as started (``running`` in status, or
an executed entry in the ledger, which survives a status reset) is never blindly
run again: the world is checked first.  A pod that carries the quarantine record
of this key is already quarantined (done); a pod that is gone or being deleted
was already evicted (done); only an action that demonstrably did not happen is
applied, under the reservation it already holds.

``restore_expired`` gives quarantined pods back (their Service selector labels
restored) when their TTL ran out or their diagnosis resolved; ``follow_up``
verifies an applied action against fresh signals (``core/verify.py``) and rolls
back a quarantine that made things worse, or escalates.

Every step posts an Event (on the Diagnosis, and on the pod it touches) and
appends to ``params.executor.history`` of the remediation.

Test hook: ``ExecutorSettings.checkpoint`` is called with ``("before-apply",
key)`` and ``("after-apply", key)`` around each side effect; the operator wires
it only when ``DIAG_TEST_CHECKPOINT_DIR`` is set (tests that kill the operator in
the middle of an action; see ``checkpoint_from_dir``).  Never set it in production.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.ports import Cluster, ClusterError, DocumentStore, VersionConflict
from diagnosis_operator.core import ledger as ledgers
from diagnosis_operator.core.drain import (
    DEFAULT_PROTECTED_NAMESPACES,
    DrainRules,
    check_drain,
    pod_safety,
    quarantine_expired,
    quarantine_record,
    restored_labels,
)
from diagnosis_operator.core.verify import FollowUp, SignalCheck, VerifyResult, verify
from diagnosis_operator.models.actions import (
    ActionPolicy,
    Allowed,
    DenialCode,
    Denied,
    DrainPod,
    GuardPolicy,
    LedgerEntry,
    LedgerOutcome,
    Verdict,
    action_key,
    cooldown_targets_of,
)
from diagnosis_operator.models.cluster import (
    EventNote,
    EvictionOutcome,
    PodInfo,
    QuarantineRecord,
)
from diagnosis_operator.models.controls import approvals_from
from diagnosis_operator.models.crd import (
    DIAGNOSIS_KIND,
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationSettings,
    RemediationState,
    RemediationStatus,
    parse_duration,
)
from diagnosis_operator.models.crd import ActionPolicy as CrdActionPolicy
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.signals import from_seconds

FINAL_STATES = frozenset(
    {
        RemediationState.SUCCEEDED,
        RemediationState.FAILED,
        RemediationState.DENIED,
        RemediationState.SKIPPED,
        RemediationState.ROLLED_BACK,
    }
)
MAX_HISTORY = 12
EXECUTOR_PARAM = "executor"  # params.executor: what the executor did and when
# Ledger entry details: a reservation is made before acting, marked applied after.
RESERVED = "reserved: "
APPLIED = "applied: "


class DrainMethod(StrEnum):
    QUARANTINE = "quarantine"  # out of the Services' endpoints, kept for forensics
    EVICT = "evict"  # Eviction API (PodDisruptionBudgets respected)


Checkpoint = Callable[[str, str], None]


@dataclass(frozen=True)
class ExecutorSettings:
    budget: ledgers.GlobalBudget = field(default_factory=ledgers.GlobalBudget)
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    drain_method: DrainMethod = DrainMethod.QUARANTINE
    # A quarantine with no TTL in the policy is given back after this long.
    default_quarantine_ttl: float = 3600.0
    ledger_attempts: int = 50
    checkpoint: Checkpoint | None = None


@dataclass(frozen=True)
class DiagnosisRef:
    namespace: str
    name: str
    uid: str
    annotations: Mapping[str, str] = field(default_factory=dict)

    @property
    def ref(self) -> str:
        return f"{self.namespace}/{self.name}"


class LedgerUnavailable(RuntimeError):
    """The ledger could not be read or written; nothing was done."""


# --------------------------------------------------------------------- policy mapping


def _action_rules(policy: CrdActionPolicy, *, max_targets: int) -> ActionPolicy:
    return ActionPolicy(
        enabled=policy.enabled,
        require_approval=policy.require_approval,
        max_per_window=policy.budget.max_actions,
        window_seconds=max(parse_duration(policy.budget.window), 1e-3),
        cooldown_seconds=parse_duration(policy.cooldown),
        max_targets=max_targets,
        allow=tuple(policy.allow_list),
        never=tuple(policy.never_list),
    )


def guard_policy_from(remediation: RemediationSettings, *, paused: bool) -> GuardPolicy:
    """The guards' policy from a DiagnosisPolicy's ``remediation`` section.  Pure.

    Each action targets one object (a pod, a MySQL server, a client network set), so
    its target limit is the action's own ``max*`` parameter where it has one.
    """
    return GuardPolicy(
        paused=paused,
        drain_pod=_action_rules(remediation.drain_pod, max_targets=1),
        kill_mysql_queries=_action_rules(
            remediation.kill_mysql_queries,
            max_targets=remediation.kill_mysql_queries.params.max_queries,
        ),
        rate_limit_client=_action_rules(
            remediation.rate_limit_client,
            max_targets=remediation.rate_limit_client.params.max_clients,
        ),
    )


# --------------------------------------------------------------------- the ledger


class ActionLedger:
    """The ledger document with a compare-and-swap loop around each change."""

    def __init__(self, *, store: DocumentStore, budget: ledgers.GlobalBudget, attempts: int = 50):
        self._store = store
        self._budget = budget
        self._attempts = attempts

    def read(self) -> tuple[ledgers.Ledger, str | None]:
        try:
            document = self._store.read()
            return ledgers.decode(document.text), document.version
        except (ClusterError, ledgers.LedgerFormatError) as error:
            raise LedgerUnavailable(f"action ledger: {error}") from error

    def reserve(
        self,
        *,
        entry: LedgerEntry,
        now: float,
        decide: Callable[[ledgers.Ledger], Verdict],
    ) -> Verdict:
        """Append ``entry`` if ``decide`` and the global budget allow it on the fresh ledger.

        A lost race (409) re-reads the ledger and decides again.
        """
        for _ in range(self._attempts):
            current, version = self.read()
            verdict = decide(current)
            if isinstance(verdict, Denied):
                return verdict
            fits = ledgers.may_append(ledger=current, entry=entry, budget=self._budget, now=now)
            if isinstance(fits, Denied):
                return fits
            text = ledgers.encode(
                ledgers.appended(ledger=current, entry=entry, budget=self._budget, now=now)
            )
            try:
                self._store.write(text=text, version=version)
            except VersionConflict:
                continue
            except ClusterError as error:
                raise LedgerUnavailable(f"action ledger: {error}") from error
            return verdict
        raise LedgerUnavailable(f"action ledger: still conflicting after {self._attempts} attempts")

    def settle(self, *, key: str, outcome: LedgerOutcome, detail: str) -> None:
        """Give the entry of ``key`` its final outcome (a failed action spends no budget)."""
        for _ in range(self._attempts):
            current, version = self.read()
            found = current.find(key)
            if found is None or (found.outcome is outcome and found.detail == detail):
                return
            text = ledgers.encode(
                ledgers.with_outcome(ledger=current, key=key, outcome=outcome, detail=detail)
            )
            try:
                self._store.write(text=text, version=version)
                return
            except VersionConflict:
                continue
            except ClusterError as error:
                raise LedgerUnavailable(f"action ledger: {error}") from error
        raise LedgerUnavailable(f"action ledger: still conflicting after {self._attempts} attempts")


# --------------------------------------------------------------------- the executor


@dataclass
class _Run:
    diagnosis: DiagnosisRef
    policy: DiagnosisPolicySpec
    cluster: Cluster
    ledger: ActionLedger
    now: float
    mode: Mode
    settings: ExecutorSettings
    guard: GuardPolicy
    approvals: Mapping[str, Any]
    items: list[RemediationStatus]
    record: Callable[[list[RemediationStatus]], None]
    drains: int = 0

    def save(self, index: int, item: RemediationStatus) -> RemediationStatus:
        self.items[index] = item
        self.record(list(self.items))
        return item

    def checkpoint(self, step: str, key: str) -> None:
        if self.settings.checkpoint is not None:
            self.settings.checkpoint(step, key)

    def event(
        self, reason: str, message: str, *, warning: bool = False, pod: PodInfo | None = None
    ) -> None:
        notes = [
            EventNote(
                kind=DIAGNOSIS_KIND,
                api_version=f"{API_GROUP}/{API_VERSION}",
                namespace=self.diagnosis.namespace,
                name=self.diagnosis.name,
                uid=self.diagnosis.uid,
                reason=reason,
                message=message[:1024],
                warning=warning,
            )
        ]
        if pod is not None:
            notes.append(
                EventNote(
                    kind="Pod",
                    namespace=pod.namespace,
                    name=pod.name,
                    uid=pod.uid,
                    reason=reason,
                    message=f"{message} (diagnosis {self.diagnosis.ref})"[:1024],
                    warning=warning,
                )
            )
        for note in notes:
            # An Event is a courtesy: the status holds the record.
            with contextlib.suppress(ClusterError):
                self.cluster.post_event(note=note)


def _stamp(now: float) -> datetime:
    return from_seconds(now)


def with_state(
    item: RemediationStatus,
    *,
    state: RemediationState,
    reason: str,
    now: float,
    **extra: Any,
) -> RemediationStatus:
    """``item`` in ``state`` with one more history entry.  Pure."""
    params = dict(item.params)
    executor = dict(params.get(EXECUTOR_PARAM) or {})
    history = list(executor.get("history") or [])
    history.append(
        {
            "at": _stamp(now).isoformat().replace("+00:00", "Z"),
            "state": state.value,
            "reason": reason[:512],
        }
    )
    executor["history"] = history[-MAX_HISTORY:]
    executor.update({k: v for k, v in extra.items() if v is not None})
    params[EXECUTOR_PARAM] = executor
    return item.model_copy(
        update={
            "state": state,
            "reason": reason[:4096],
            "updated_at": _stamp(now),
            "params": params,
        }
    )


def remediate(
    *,
    diagnosis: DiagnosisRef,
    policy: DiagnosisPolicySpec,
    remediations: Sequence[RemediationStatus],
    cluster: Cluster,
    ledger: DocumentStore,
    now: float,
    mode: Mode,
    record: Callable[[list[RemediationStatus]], None],
    settings: ExecutorSettings | None = None,
) -> list[RemediationStatus]:
    """Decide and apply every open remediation; returns the updated list.

    ``record`` persists the list (the handler patches the Diagnosis status); it is
    called before each side effect with the action marked ``running``, and after it.
    Nothing acts in ``observe`` mode; ``dry-run`` mode only records what would be done.
    Raises ``LedgerUnavailable`` when the ledger cannot be read or written (nothing
    is done without it).
    """
    chosen = settings or ExecutorSettings()
    items = list(remediations)
    if mode is Mode.OBSERVE:
        return items
    run = _Run(
        diagnosis=diagnosis,
        policy=policy,
        cluster=cluster,
        ledger=ActionLedger(store=ledger, budget=chosen.budget, attempts=chosen.ledger_attempts),
        now=now,
        mode=mode,
        settings=chosen,
        guard=guard_policy_from(policy.remediation, paused=_paused(cluster)),
        approvals=approvals_from(diagnosis.annotations),
        items=items,
        record=record,
    )
    for index, item in enumerate(list(items)):
        if item.action is RemediationAction.DRAIN_POD:
            _drain(run, index, item)
        elif item.state not in FINAL_STATES and item.state is not RemediationState.RUNNING:
            run.save(
                index,
                with_state(
                    item,
                    state=RemediationState.SKIPPED,
                    reason=f"{item.action.value} is not applied by the operator in this build: "
                    "the guards have no executor for it; apply it by hand",
                    now=now,
                ),
            )
    return list(run.items)


def _paused(cluster: Cluster) -> bool:
    """The pause switch; one that cannot be read counts as on (fail safe)."""
    try:
        return cluster.paused()
    except ClusterError:
        return True


def _drain_action(run: _Run, item: RemediationStatus) -> DrainPod:
    params = item.params
    component = str(params.get("component") or "")
    namespace = params.get("namespace")
    if not namespace:
        configured = next((c for c in run.policy.components if c.name == component), None)
        namespace = (configured.namespace if configured else None) or run.diagnosis.namespace
    return DrainPod(
        component=component,
        namespace=str(namespace),
        pod=str(params.get("pod") or item.target),
        reason=item.reason,
    )


def _method(run: _Run, item: RemediationStatus) -> DrainMethod:
    wanted = item.params.get("method")
    try:
        return DrainMethod(str(wanted)) if wanted else run.settings.drain_method
    except ValueError:
        return run.settings.drain_method


def _rules(run: _Run) -> DrainRules:
    params = run.policy.remediation.drain_pod.params
    return DrainRules(
        min_healthy=params.min_ready_remaining,
        protected_namespaces=run.settings.protected_namespaces,
    )


def _ttl(run: _Run) -> float:
    ttl = run.policy.remediation.drain_pod.ttl
    return parse_duration(ttl) if ttl else run.settings.default_quarantine_ttl


def _drain(run: _Run, index: int, item: RemediationStatus) -> None:
    action = _drain_action(run, item)
    key = action_key(diagnosis_uid=run.diagnosis.uid, action=action)
    if item.idempotency_key != key:
        item = run.save(index, item.model_copy(update={"idempotency_key": key}))
    if item.state in FINAL_STATES:
        return
    method = _method(run, item)
    entries, _ = run.ledger.read()
    reserved = entries.find(key)
    started = item.state is RemediationState.RUNNING or (
        reserved is not None and reserved.outcome is LedgerOutcome.EXECUTED
    )
    if started:
        _resume_drain(run, index, item, action=action, key=key, method=method)
        return

    pod = run.cluster.get_pod(namespace=action.namespace, name=action.pod)
    pods = run.cluster.list_pods(namespace=action.namespace) if pod is not None else ()
    approval = run.approvals.get(key)
    rules = _rules(run)

    def decide(current: ledgers.Ledger) -> Verdict:
        verdict = check_drain(
            action=action,
            pod=pod,
            pods=pods,
            rules=rules,
            policy=run.guard,
            ledger=current.entries,
            now=run.now,
            key=key,
            approved=approval is not None,
        )
        if isinstance(verdict, Allowed) and not verdict.dry_run and run.mode is Mode.DRY_RUN:
            return Allowed(dry_run=True, reason="the diagnosis is in dry-run mode")
        return verdict

    verdict = decide(entries)
    max_pods = run.policy.remediation.drain_pod.params.max_pods
    if isinstance(verdict, Allowed) and run.drains >= max_pods:
        verdict = Denied(
            DenialCode.TOO_MANY_TARGETS,
            f"this diagnosis already drains {run.drains} pod(s), the policy's maxPods",
        )
    if isinstance(verdict, Denied):
        _denied(run, index, item, verdict=verdict, key=key, pod=pod)
        return
    assert pod is not None  # check_drain denies a missing pod
    run.drains += 1

    record: QuarantineRecord | None = None
    if method is DrainMethod.QUARANTINE:
        record = quarantine_record(
            pod=pod,
            selector_keys=run.cluster.service_selector_keys(pod=pod),
            key=key,
            diagnosis=run.diagnosis.ref,
            now=run.now,
            ttl_seconds=_ttl(run),
        )
        if record is None:
            reason = f"no Service selects pod {pod.ref}: quarantine would change nothing"
            run.save(
                index, with_state(item, state=RemediationState.SKIPPED, reason=reason, now=run.now)
            )
            run.event("RemediationSkipped", reason, pod=pod)
            return

    if verdict.dry_run:
        _dry_run(run, index, item, pod=pod, method=method, record=record, why=verdict.reason)
        return

    entry = LedgerEntry(
        key=key,
        action=ActionType.DRAIN_POD,
        targets=cooldown_targets_of(action),
        at=run.now,
        outcome=LedgerOutcome.EXECUTED,
        detail=f"{RESERVED}{run.diagnosis.ref}: {method.value} {pod.ref}",
    )
    reservation = run.ledger.reserve(entry=entry, now=run.now, decide=decide)
    if isinstance(reservation, Denied):
        if reservation.code is DenialCode.ALREADY_DONE:
            # Another worker reserved this very action between our read and our write.
            _resume_drain(run, index, item, action=action, key=key, method=method)
            return
        _denied(run, index, item, verdict=reservation, key=key, pod=pod)
        return
    approved_by = approval.user if approval is not None else None
    item = run.save(
        index,
        with_state(
            item.model_copy(update={"approved_by": approved_by}),
            state=RemediationState.RUNNING,
            reason=f"{method.value} of pod {pod.ref} started",
            now=run.now,
            method=method.value,
        ),
    )
    run.event(
        "RemediationStarted",
        f"{method.value} of pod {pod.ref} (key {key})"
        + (f", approved by {approved_by}" if approved_by else ""),
        pod=pod,
    )
    _apply_drain(run, index, item, pod=pod, key=key, method=method, record=record)


def _denied(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    verdict: Denied,
    key: str,
    pod: PodInfo | None,
) -> None:
    if verdict.code is DenialCode.APPROVAL_REQUIRED:
        reason = f"waits for approval: kubectl diagnose approve {run.diagnosis.name} {key}"
        if item.state is not RemediationState.PROPOSED or item.reason != reason:
            run.save(
                index, with_state(item, state=RemediationState.PROPOSED, reason=reason, now=run.now)
            )
            run.event("ApprovalRequired", f"drain-pod {item.target}: {reason}", pod=pod)
        return
    reason = f"{verdict.code.value}: {verdict.reason}"
    run.save(index, with_state(item, state=RemediationState.DENIED, reason=reason, now=run.now))
    run.event("RemediationDenied", f"drain-pod {item.target}: {reason}", warning=True, pod=pod)


def _dry_run(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    pod: PodInfo,
    method: DrainMethod,
    record: QuarantineRecord | None,
    why: str,
) -> None:
    if method is DrainMethod.EVICT:
        answer = run.cluster.evict(
            namespace=pod.namespace,
            name=pod.name,
            grace_period_seconds=run.policy.remediation.drain_pod.params.grace_period_seconds,
            dry_run=True,
        )
        what = f"would evict pod {pod.ref}; the apiserver's dry run says {answer.outcome.value}" + (
            f" (HTTP {answer.status}: {answer.reason})" if answer.reason else ""
        )
    else:
        assert record is not None
        labels = ", ".join(f"{k}={v}" for k, v in sorted(record.removed_labels.items()))
        what = f"would quarantine pod {pod.ref} (remove labels {labels})"
    reason = f"dry run ({why}): {what}"
    run.save(
        index,
        with_state(
            item, state=RemediationState.SKIPPED, reason=reason, now=run.now, method=method.value
        ),
    )
    run.event("RemediationDryRun", reason, pod=pod)


def _apply_drain(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    pod: PodInfo,
    key: str,
    method: DrainMethod,
    record: QuarantineRecord | None,
) -> None:
    run.checkpoint("before-apply", key)
    if method is DrainMethod.QUARANTINE:
        assert record is not None
        state, reason = _quarantine(run, pod=pod, record=record)
    else:
        state, reason = _evict(run, pod=pod)
    run.checkpoint("after-apply", key)
    _finish(run, index, item, state=state, reason=reason, key=key, pod=pod)


def _finish(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    state: RemediationState,
    reason: str,
    key: str,
    pod: PodInfo | None,
) -> None:
    if state is RemediationState.SUCCEEDED:
        run.ledger.settle(key=key, outcome=LedgerOutcome.EXECUTED, detail=APPLIED + reason[:512])
    else:
        run.ledger.settle(key=key, outcome=LedgerOutcome.FAILED, detail=reason[:512])
    run.save(index, with_state(item, state=state, reason=reason, now=run.now))
    if state is RemediationState.SUCCEEDED:
        run.event("RemediationApplied", reason, pod=pod)
    else:
        run.event("RemediationFailed", reason, warning=True, pod=pod)


def _quarantine(
    run: _Run, *, pod: PodInfo, record: QuarantineRecord
) -> tuple[RemediationState, str]:
    current = pod
    for _ in range(3):
        try:
            run.cluster.quarantine(pod=current, record=record)
        except VersionConflict:
            # The pod changed since it was read (status, labels): read it and retry once
            # more, still only if its selector labels are what the record removes.
            fresh = run.cluster.get_pod(namespace=pod.namespace, name=pod.name)
            if fresh is None:
                return RemediationState.FAILED, f"pod {pod.ref} disappeared before quarantine"
            if fresh.quarantine is not None:
                return _already(fresh, key=record.key)
            if any(fresh.labels.get(k) != v for k, v in record.removed_labels.items()):
                return RemediationState.FAILED, (
                    f"pod {pod.ref} changed its labels while being quarantined; not retried"
                )
            current = fresh
            continue
        except ClusterError as error:
            return RemediationState.FAILED, f"quarantine of pod {pod.ref} failed: {error}"
        labels = ", ".join(f"{k}={v}" for k, v in sorted(record.removed_labels.items()))
        until = (
            f" until {_stamp(record.until).isoformat().replace('+00:00', 'Z')}"
            if record.until is not None
            else ""
        )
        return RemediationState.SUCCEEDED, (
            f"pod {pod.ref} quarantined: labels {labels} removed, so no Service sends it "
            f"traffic; the pod keeps running for forensics{until}"
        )
    return RemediationState.FAILED, f"pod {pod.ref} kept changing; quarantine not applied"


def _already(pod: PodInfo, *, key: str) -> tuple[RemediationState, str]:
    assert pod.quarantine is not None
    if pod.quarantine.key == key:
        return RemediationState.SUCCEEDED, (
            f"pod {pod.ref} is already quarantined by this action (checked after a restart); "
            "not repeated"
        )
    return RemediationState.SKIPPED, (
        f"pod {pod.ref} is already quarantined by another action "
        f"({pod.quarantine.diagnosis}, key {pod.quarantine.key})"
    )


def _evict(run: _Run, *, pod: PodInfo) -> tuple[RemediationState, str]:
    grace = run.policy.remediation.drain_pod.params.grace_period_seconds
    try:
        rehearsal = run.cluster.evict(
            namespace=pod.namespace, name=pod.name, grace_period_seconds=grace, dry_run=True
        )
        if rehearsal.outcome is not EvictionOutcome.EVICTED:
            return RemediationState.FAILED, _eviction_reason(
                pod, rehearsal.outcome, rehearsal.status, rehearsal.reason, dry_run=True
            )
        answer = run.cluster.evict(
            namespace=pod.namespace, name=pod.name, grace_period_seconds=grace, dry_run=False
        )
    except ClusterError as error:
        return RemediationState.FAILED, f"eviction of pod {pod.ref} failed: {error}"
    if answer.outcome is EvictionOutcome.EVICTED:
        return RemediationState.SUCCEEDED, (
            f"pod {pod.ref} evicted through the Eviction API (server dry run passed first)"
        )
    return RemediationState.FAILED, _eviction_reason(
        pod, answer.outcome, answer.status, answer.reason, dry_run=False
    )


def _eviction_reason(
    pod: PodInfo, outcome: EvictionOutcome, status: int | None, message: str, *, dry_run: bool
) -> str:
    stage = "the server dry run of the eviction" if dry_run else "the eviction"
    if outcome is EvictionOutcome.BLOCKED:
        return (
            f"EvictionBlocked: {stage} of pod {pod.ref} was refused with HTTP {status} "
            f"(a PodDisruptionBudget allows no disruption now): {message}; not retried"
        )
    if outcome is EvictionOutcome.GONE:
        return f"PodGone: pod {pod.ref} no longer exists ({stage}: HTTP {status})"
    return f"EvictionRefused: {stage} of pod {pod.ref}: HTTP {status}: {message}"


def _resume_drain(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    action: DrainPod,
    key: str,
    method: DrainMethod,
) -> None:
    """The action was started before (this or another process): look, then complete it."""
    entries, _ = run.ledger.read()
    reserved = entries.find(key)
    if (
        reserved is not None
        and reserved.outcome is LedgerOutcome.EXECUTED
        and (reserved.detail.startswith(APPLIED))
    ):
        # Applied and recorded before; the world may have moved on since (a lifted
        # quarantine), which is no reason to act again.
        reason = f"{method.value} was applied before: {reserved.detail[len(APPLIED) :]}"
        run.save(
            index, with_state(item, state=RemediationState.SUCCEEDED, reason=reason, now=run.now)
        )
        return
    pod = run.cluster.get_pod(namespace=action.namespace, name=action.pod)
    if item.state is not RemediationState.RUNNING:
        item = run.save(
            index,
            with_state(
                item,
                state=RemediationState.RUNNING,
                reason=f"{method.value} of pod {action.namespace}/{action.pod} was started "
                "before; checking whether it happened",
                now=run.now,
                method=method.value,
            ),
        )
    if method is DrainMethod.QUARANTINE:
        if pod is None:
            _finish(
                run,
                index,
                item,
                state=RemediationState.FAILED,
                reason=f"pod {action.namespace}/{action.pod} is gone",
                key=key,
                pod=None,
            )
            return
        if pod.quarantine is not None:
            state, reason = _already(pod, key=key)
            if state is RemediationState.SUCCEEDED:
                run.ledger.settle(
                    key=key, outcome=LedgerOutcome.EXECUTED, detail=APPLIED + reason[:512]
                )
                run.save(index, with_state(item, state=state, reason=reason, now=run.now))
                run.event("RemediationRecovered", reason, pod=pod)
                return
            _finish(run, index, item, state=state, reason=reason, key=key, pod=pod)
            return
        unsafe = pod_safety(
            pod=pod,
            target=pod.ref,
            pods=run.cluster.list_pods(namespace=pod.namespace),
            rules=_rules(run),
        )
        if unsafe is not None:
            _finish(
                run,
                index,
                item,
                state=RemediationState.DENIED,
                reason=f"{unsafe.code.value}: {unsafe.reason}",
                key=key,
                pod=pod,
            )
            return
        record = quarantine_record(
            pod=pod,
            selector_keys=run.cluster.service_selector_keys(pod=pod),
            key=key,
            diagnosis=run.diagnosis.ref,
            now=run.now,
            ttl_seconds=_ttl(run),
        )
        if record is None:
            _finish(
                run,
                index,
                item,
                state=RemediationState.SKIPPED,
                reason=f"no Service selects pod {pod.ref}: quarantine would change nothing",
                key=key,
                pod=pod,
            )
            return
        run.event(
            "RemediationResumed",
            f"quarantine of pod {pod.ref} had not happened; applying it under its reservation",
            pod=pod,
        )
        _apply_drain(run, index, item, pod=pod, key=key, method=method, record=record)
        return
    # Eviction: done when the pod is gone or on its way out.
    if pod is None or pod.deleting:
        reason = (
            f"pod {action.namespace}/{action.pod} is already "
            + ("gone" if pod is None else "terminating")
            + " (checked after a restart); eviction not repeated"
        )
        run.ledger.settle(key=key, outcome=LedgerOutcome.EXECUTED, detail=APPLIED + reason[:512])
        run.save(
            index, with_state(item, state=RemediationState.SUCCEEDED, reason=reason, now=run.now)
        )
        run.event("RemediationRecovered", reason, pod=pod)
        return
    run.event(
        "RemediationResumed",
        f"eviction of pod {pod.ref} had not happened; applying it under its reservation",
        pod=pod,
    )
    _apply_drain(run, index, item, pod=pod, key=key, method=method, record=None)


# --------------------------------------------------------------------- after acting


@dataclass(frozen=True)
class Restored:
    pod: str  # namespace/name
    diagnosis: str
    key: str
    why: str


def restore_expired(
    *,
    cluster: Cluster,
    now: float,
    resolved: Callable[[str], bool] = lambda _diagnosis: False,
) -> list[Restored]:
    """Give back every quarantined pod whose TTL ran out or whose diagnosis resolved.

    ``resolved`` answers for a diagnosis ``"<namespace>/<name>"`` (e.g. deleted).
    The labels removed by the quarantine are restored (unless set again since), the
    record and the quarantine label removed, and an Event posted on the pod.
    """
    done: list[Restored] = []
    for pod in cluster.list_quarantined():
        record = pod.quarantine
        if record is None:
            continue
        if quarantine_expired(record=record, now=now):
            why = "its TTL ran out"
        elif record.diagnosis and resolved(record.diagnosis):
            why = f"diagnosis {record.diagnosis} resolved"
        else:
            continue
        if _give_back(cluster, pod=pod, record=record, why=why):
            done.append(Restored(pod=pod.ref, diagnosis=record.diagnosis, key=record.key, why=why))
    return done


def _give_back(cluster: Cluster, *, pod: PodInfo, record: QuarantineRecord, why: str) -> bool:
    current: PodInfo | None = pod
    for _ in range(3):
        if current is None or current.quarantine is None or current.quarantine.key != record.key:
            return False
        labels = restored_labels(record=record, labels=current.labels)
        try:
            cluster.unquarantine(pod=current, labels=labels)
        except VersionConflict:
            current = cluster.get_pod(namespace=pod.namespace, name=pod.name)
            continue
        text = ", ".join(f"{k}={v}" for k, v in sorted(labels.items())) or "none to restore"
        with contextlib.suppress(ClusterError):
            cluster.post_event(
                note=EventNote(
                    kind="Pod",
                    namespace=pod.namespace,
                    name=pod.name,
                    uid=pod.uid,
                    reason="QuarantineLifted",
                    message=f"quarantine {record.key} lifted because {why}; labels restored: "
                    f"{text} (diagnosis {record.diagnosis})",
                )
            )
        return True
    return False


def follow_up(
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    checks: Callable[[RemediationStatus], Sequence[SignalCheck]],
    cluster: Cluster,
    now: float,
    record: Callable[[list[RemediationStatus]], None],
    min_improvement: float = 0.5,
) -> list[RemediationStatus]:
    """Verify each applied drain against fresh signals and keep, roll back or escalate.

    ``checks`` gives, for one remediation, the signals before and after it (the
    caller queried them again after the action).  A quarantine that made things
    worse is rolled back (the pod gets its labels back); an action that did not
    help, or that cannot be judged, is escalated with a warning Event.
    """
    items = list(remediations)
    for index, item in enumerate(items):
        if item.action is not RemediationAction.DRAIN_POD:
            continue
        if item.state is not RemediationState.SUCCEEDED:
            continue
        executor = item.params.get(EXECUTOR_PARAM) or {}
        if executor.get("verification"):
            continue
        method = executor.get("method", DrainMethod.QUARANTINE.value)
        result: VerifyResult = verify(
            checks=checks(item),
            reversible=method == DrainMethod.QUARANTINE.value,
            min_improvement=min_improvement,
        )
        note = {
            "outcome": result.outcome.value,
            "followUp": result.follow_up.value,
            "summary": result.summary[:1024],
        }
        regarding = _diagnosis_note(diagnosis)
        if result.follow_up is FollowUp.ROLLBACK:
            namespace, _, name = _pod_of(item, diagnosis)
            pod = cluster.get_pod(namespace=namespace, name=name)
            lifted = (
                pod is not None
                and pod.quarantine is not None
                and item.idempotency_key is not None
                and _give_back(
                    cluster,
                    pod=pod,
                    record=pod.quarantine,
                    why="verification found it made things worse",
                )
            )
            state = RemediationState.ROLLED_BACK if lifted else RemediationState.SUCCEEDED
            reason = (
                f"rolled back: {result.summary}"
                if lifted
                else f"verification asks for a rollback but nothing could be lifted: "
                f"{result.summary}"
            )
            updated = with_state(item, state=state, reason=reason, now=now, verification=note)
            _post(
                cluster,
                regarding,
                "RemediationRolledBack" if lifted else "RemediationEscalated",
                reason,
                warning=True,
            )
        elif result.follow_up is FollowUp.ESCALATE:
            reason = (
                f"{item.reason}; verification: {result.outcome.value}, escalated: {result.summary}"
            )
            updated = with_state(item, state=item.state, reason=reason, now=now, verification=note)
            _post(
                cluster,
                regarding,
                "RemediationEscalated",
                f"drain-pod {item.target}: {result.outcome.value}: {result.summary}",
                warning=True,
            )
        else:
            updated = with_state(
                item,
                state=item.state,
                reason=f"{item.reason}; verified: {result.summary}",
                now=now,
                verification=note,
            )
            _post(
                cluster,
                regarding,
                "RemediationVerified",
                f"drain-pod {item.target}: {result.summary}",
            )
        items[index] = updated
        record(list(items))
    return items


def _pod_of(item: RemediationStatus, diagnosis: DiagnosisRef) -> tuple[str, str, str]:
    namespace = str(item.params.get("namespace") or diagnosis.namespace)
    return namespace, "/", str(item.params.get("pod") or item.target)


def _diagnosis_note(diagnosis: DiagnosisRef) -> EventNote:
    return EventNote(
        kind=DIAGNOSIS_KIND,
        api_version=f"{API_GROUP}/{API_VERSION}",
        namespace=diagnosis.namespace,
        name=diagnosis.name,
        uid=diagnosis.uid,
        reason="",
        message="",
    )


def _post(
    cluster: Cluster, base: EventNote, reason: str, message: str, *, warning: bool = False
) -> None:
    with contextlib.suppress(ClusterError):
        cluster.post_event(
            note=EventNote(
                kind=base.kind,
                api_version=base.api_version,
                namespace=base.namespace,
                name=base.name,
                uid=base.uid,
                reason=reason,
                message=message[:1024],
                warning=warning,
            )
        )


# --------------------------------------------------------------------- test hook


def checkpoint_from_dir(directory: Path, *, poll: float = 0.1) -> Checkpoint:
    """A checkpoint for tests: pause at a step while ``<dir>/hold-<step>`` exists.

    On reaching ``step`` for ``key`` it writes ``<dir>/reached-<step>-<key>`` and
    waits until the hold file is removed (a test SIGKILLs the process meanwhile).
    After ``after-apply`` it appends ``<key>`` to ``<dir>/applied``: one line per
    side effect really performed, whichever process performed it.
    """

    def checkpoint(step: str, key: str) -> None:
        if step == "after-apply":
            with (directory / "applied").open("a", encoding="utf-8") as audit:
                audit.write(key + "\n")
        (directory / f"reached-{step}-{key}").write_text(str(time.time()), encoding="utf-8")
        while (directory / f"hold-{step}").exists():
            time.sleep(poll)

    return checkpoint


# --------------------------------------------------------------------- per diagnosis


def needs_attention(
    *, remediations: Sequence[RemediationStatus], annotations: Mapping[str, str]
) -> bool:
    """Whether a finished diagnosis still has executor work.  Pure.

    Work: an approved proposal, an ``approved`` or ``running`` remediation (one an
    interrupted run left behind), or a quarantine not yet lifted.
    """
    approvals = approvals_from(annotations)
    for item in remediations:
        if item.action is not RemediationAction.DRAIN_POD:
            continue
        if item.state in (RemediationState.APPROVED, RemediationState.RUNNING):
            return True
        if item.state is RemediationState.PROPOSED and item.idempotency_key in approvals:
            return True
        if _holds_quarantine(item):
            return True
    return False


def _holds_quarantine(item: RemediationStatus) -> bool:
    executor = item.params.get(EXECUTOR_PARAM) or {}
    return (
        item.state is RemediationState.SUCCEEDED
        and executor.get("method", DrainMethod.QUARANTINE.value) == DrainMethod.QUARANTINE.value
        and not executor.get("lifted")
    )


def lift_due(
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    cluster: Cluster,
    now: float,
    record: Callable[[list[RemediationStatus]], None],
    resolved: bool = False,
) -> list[RemediationStatus]:
    """Lift this diagnosis' quarantines whose TTL ran out (all of them when ``resolved``)."""
    items = list(remediations)
    for index, item in enumerate(items):
        if item.action is not RemediationAction.DRAIN_POD or not _holds_quarantine(item):
            continue
        namespace, _, name = _pod_of(item, diagnosis)
        pod = cluster.get_pod(namespace=namespace, name=name)
        record_ = pod.quarantine if pod is not None else None
        if pod is None or record_ is None or record_.key != item.idempotency_key:
            why = "the pod is gone" if pod is None else "the pod is no longer quarantined by it"
            items[index] = with_state(
                item, state=item.state, reason=f"{item.reason}; {why}", now=now, lifted=now
            )
            record(list(items))
            continue
        if quarantine_expired(record=record_, now=now):
            why = "its TTL ran out"
        elif resolved:
            why = f"diagnosis {diagnosis.ref} resolved"
        else:
            continue
        if _give_back(cluster, pod=pod, record=record_, why=why):
            items[index] = with_state(
                item,
                state=item.state,
                reason=f"{item.reason}; quarantine lifted because {why}",
                now=now,
                lifted=now,
            )
            record(list(items))
    return items
