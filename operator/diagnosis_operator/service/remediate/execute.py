"""Apply the remediations the guards allow, exactly once, and undo them when due.

``remediate`` walks a Diagnosis' remediations (the ``RemediationStatus`` list the
handler keeps in status) and, for each:

1. derives its idempotency key (``core.actionkeys.key_for``: diagnosis uid,
   action, target), the very key the status carries since the result was written
   (``core.phases.with_result`` calls the same function), and writes it into the
   status if it is missing, so ``kubectl diagnose approve`` can name it;
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
import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.traffic.common import TooManyRules, UnsupportedRule
from diagnosis_operator.api import (
    DIAGNOSIS_KIND,
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationSettings,
    RemediationState,
    RemediationStatus,
    parse_duration,
)
from diagnosis_operator.api import ActionPolicy as CrdActionPolicy
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.drain import (
    DEFAULT_PROTECTED_NAMESPACES,
    DrainRules,
    check_drain,
    pod_safety,
    quarantine_expired,
    quarantine_record,
    restored_labels,
)
from diagnosis_operator.core.remediation.guard import check
from diagnosis_operator.core.remediation.keys import drain_action_of, key_for
from diagnosis_operator.core.remediation.ratelimit import plan_rules
from diagnosis_operator.core.remediation.remedy import (
    kill_policy_for,
    rate_limit_policy_for,
    rule_history,
)
from diagnosis_operator.core.remediation.verify import FollowUp, SignalCheck, VerifyResult, verify
from diagnosis_operator.models.actions import (
    Action,
    ActionPolicy,
    Allowed,
    ClientRule,
    DenialCode,
    Denied,
    DrainPod,
    GuardPolicy,
    KillAudit,
    KillPolicy,
    KillQueries,
    LedgerEntry,
    LedgerOutcome,
    RateLimitClient,
    Verdict,
    cooldown_targets_of,
    parse_network,
)
from diagnosis_operator.models.cluster import (
    EventNote,
    EvictionOutcome,
    PodInfo,
    QuarantineRecord,
)
from diagnosis_operator.models.controls import approvals_from
from diagnosis_operator.models.signals import from_seconds, isoformat_z
from diagnosis_operator.models.sqltext import digest
from diagnosis_operator.ports import (
    Cluster,
    ClusterError,
    DocumentStore,
    MySQLAdmin,
    TrafficPolicyBackend,
    VersionConflict,
)
from diagnosis_operator.service.remediate.mysql_kill import execute_kill, select_kill

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


class PortUnavailable(RuntimeError):
    """An action's connection is not configured, or cannot be built; the message says which."""


@dataclass(frozen=True)
class ActionPorts:
    """Connections of the actions beyond the cluster, built on demand from the policy.

    ``mysql`` gives the ``MySQLAdmin`` of a component (kill-mysql-queries);
    ``traffic`` the policy's rate-limit backend.  Each raises ``PortUnavailable``
    saying what is missing; an absent factory means the same.
    """

    mysql: Callable[[str], MySQLAdmin] | None = None
    traffic: Callable[[], TrafficPolicyBackend] | None = None


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
            if self._written(text=text, version=version):
                return verdict
        raise self._still_conflicting()

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
            if self._written(text=text, version=version):
                return
        raise self._still_conflicting()

    def _written(self, *, text: str, version: str | None) -> bool:
        """Whether ``text`` replaced the ledger read at ``version`` (``False``: lost a race)."""
        try:
            self._store.write(text=text, version=version)
        except VersionConflict:
            return False
        except ClusterError as error:
            raise LedgerUnavailable(f"action ledger: {error}") from error
        return True

    def _still_conflicting(self) -> LedgerUnavailable:
        return LedgerUnavailable(
            f"action ledger: still conflicting after {self._attempts} attempts"
        )


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
    ports: ActionPorts = field(default_factory=ActionPorts)

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
        _post(self.cluster, _diagnosis_note(self.diagnosis), reason, message, warning=warning)
        if pod is not None:
            _post(
                self.cluster,
                _pod_note(pod),
                reason,
                f"{message} (diagnosis {self.diagnosis.ref})",
                warning=warning,
            )


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
    ports: ActionPorts | None = None,
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
        ports=ports or ActionPorts(),
    )
    for index, item in enumerate(list(items)):
        if item.action is RemediationAction.DRAIN_POD:
            _drain(run, index, item)
        elif item.action is RemediationAction.KILL_MYSQL_QUERIES:
            _kill(run, index, item)
        elif item.action is RemediationAction.RATE_LIMIT_CLIENT:
            _rate_limit(run, index, item)
    return list(run.items)


def _paused(cluster: Cluster) -> bool:
    """The pause switch; one that cannot be read counts as on (fail safe)."""
    try:
        return cluster.paused()
    except ClusterError:
        return True


def _drain_action(run: _Run, item: RemediationStatus) -> DrainPod:
    return drain_action_of(
        remediation=item, policy=run.policy, diagnosis_namespace=run.diagnosis.namespace
    )


def _key(run: _Run, item: RemediationStatus) -> str:
    """The key the status shows from the start (``core.actionkeys.key_for``)."""
    return key_for(
        diagnosis_uid=run.diagnosis.uid,
        diagnosis_namespace=run.diagnosis.namespace,
        remediation=item,
        policy=run.policy,
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


def _keyed(run: _Run, index: int, item: RemediationStatus) -> tuple[str, RemediationStatus]:
    """The action's key, written into the status if it is not there yet."""
    key = _key(run, item)
    if item.idempotency_key != key:
        item = run.save(index, item.model_copy(update={"idempotency_key": key}))
    return key, item


def _started(run: _Run, item: RemediationStatus, key: str) -> tuple[ledgers.Ledger, bool]:
    """The fresh ledger, and whether the action was started before (status or ledger)."""
    entries, _ = run.ledger.read()
    reserved = entries.find(key)
    started = item.state is RemediationState.RUNNING or (
        reserved is not None and reserved.outcome is LedgerOutcome.EXECUTED
    )
    return entries, started


def _quarantine_record(run: _Run, *, pod: PodInfo, key: str) -> QuarantineRecord | None:
    """What quarantining ``pod`` under ``key`` removes (``None``: no Service selects it)."""
    return quarantine_record(
        pod=pod,
        selector_keys=run.cluster.service_selector_keys(pod=pod),
        key=key,
        diagnosis=run.diagnosis.ref,
        now=run.now,
        ttl_seconds=_ttl(run),
    )


def _drain(run: _Run, index: int, item: RemediationStatus) -> None:
    action = _drain_action(run, item)
    key, item = _keyed(run, index, item)
    if item.state in FINAL_STATES:
        return
    method = _method(run, item)
    entries, started = _started(run, item, key)
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
        record = _quarantine_record(run, pod=pod, key=key)
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

    reservation = _reserve(
        run, key=key, action=action, what=f"{method.value} {pod.ref}", decide=decide
    )
    if isinstance(reservation, Denied):
        if reservation.code is DenialCode.ALREADY_DONE:
            # Another worker reserved this very action between our read and our write.
            _resume_drain(run, index, item, action=action, key=key, method=method)
            return
        _denied(run, index, item, verdict=reservation, key=key, pod=pod)
        return
    item = _start(
        run,
        index,
        item,
        key=key,
        reason=f"{method.value} of pod {pod.ref} started",
        announce=f"{method.value} of pod {pod.ref}",
        pod=pod,
        method=method.value,
    )
    _apply_drain(run, index, item, pod=pod, key=key, method=method, record=record)


def _reserve(
    run: _Run,
    *,
    key: str,
    action: Action,
    what: str,
    decide: Callable[[ledgers.Ledger], Verdict],
) -> Verdict:
    """Reserve ``action`` in the ledger before acting on it (``what`` says what is done)."""
    entry = LedgerEntry(
        key=key,
        action=action.kind,
        targets=cooldown_targets_of(action),
        at=run.now,
        outcome=LedgerOutcome.EXECUTED,
        detail=f"{RESERVED}{run.diagnosis.ref}: {what}",
    )
    return run.ledger.reserve(entry=entry, now=run.now, decide=decide)


def _start(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    key: str,
    reason: str,
    announce: str,
    pod: PodInfo | None = None,
    **extra: Any,
) -> RemediationStatus:
    """Record ``running`` (and who approved it) before the side effect, and announce it."""
    approval = run.approvals.get(key)
    approved_by = approval.user if approval is not None else None
    item = run.save(
        index,
        with_state(
            item.model_copy(update={"approved_by": approved_by}),
            state=RemediationState.RUNNING,
            reason=reason,
            now=run.now,
            **extra,
        ),
    )
    run.event(
        "RemediationStarted",
        f"{announce} (key {key})" + (f", approved by {approved_by}" if approved_by else ""),
        pod=pod,
    )
    return item


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
        _await_approval(run, index, item, key=key, pod=pod)
        return
    reason = f"{verdict.code.value}: {verdict.reason}"
    run.save(index, with_state(item, state=RemediationState.DENIED, reason=reason, now=run.now))
    run.event("RemediationDenied", f"drain-pod {item.target}: {reason}", warning=True, pod=pod)


def _await_approval(
    run: _Run, index: int, item: RemediationStatus, *, key: str, pod: PodInfo | None
) -> None:
    """Propose the action and say how to approve it (once: a repeat changes nothing)."""
    reason = f"waits for approval: kubectl diagnose approve {run.diagnosis.name} {key}"
    if item.state is not RemediationState.PROPOSED or item.reason != reason:
        run.save(
            index, with_state(item, state=RemediationState.PROPOSED, reason=reason, now=run.now)
        )
        run.event("ApprovalRequired", f"{item.action.value} {item.target}: {reason}", pod=pod)


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
    label: str = "",
    **extra: Any,
) -> None:
    """Record the outcome of an applied action: ledger, status and Event (``label`` first)."""
    _settle(run, key=key, state=state, reason=reason)
    applied_at = run.now if state is RemediationState.SUCCEEDED else None
    run.save(
        index,
        with_state(item, state=state, reason=reason, now=run.now, appliedAt=applied_at, **extra),
    )
    if state is RemediationState.SUCCEEDED:
        run.event("RemediationApplied", label + reason, pod=pod)
    else:
        run.event("RemediationFailed", label + reason, warning=True, pod=pod)


def _settle(run: _Run, *, key: str, state: RemediationState, reason: str) -> None:
    """Mark the reservation applied (it spends budget) or failed (it does not)."""
    if state is RemediationState.SUCCEEDED:
        run.ledger.settle(key=key, outcome=LedgerOutcome.EXECUTED, detail=APPLIED + reason[:512])
    else:
        run.ledger.settle(key=key, outcome=LedgerOutcome.FAILED, detail=reason[:512])


def _recovered(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    key: str,
    reason: str,
    pod: PodInfo | None = None,
    label: str = "",
    **extra: Any,
) -> None:
    """A restart found the action done: settle it as applied, not repeated."""
    _settle(run, key=key, state=RemediationState.SUCCEEDED, reason=reason)
    run.save(
        index,
        with_state(item, state=RemediationState.SUCCEEDED, reason=reason, now=run.now, **extra),
    )
    run.event("RemediationRecovered", label + reason, pod=pod)


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
                _recovered(run, index, item, key=key, reason=reason, pod=pod)
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
        record = _quarantine_record(run, pod=pod, key=key)
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
        _recovered(run, index, item, key=key, reason=reason, pod=pod)
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
    traffic: Callable[[], TrafficPolicyBackend] | None = None,
    due: Callable[[RemediationStatus], bool] | None = None,
) -> list[RemediationStatus]:
    """Verify each applied action against fresh signals and keep, roll back or escalate.

    ``checks`` gives, for one remediation, the signals before and after it (the
    caller queried them again after the action); ``due`` says whether it is time to
    judge it (default: always).  A reversible action that made things worse is
    rolled back -- a quarantined pod gets its labels back, a client rule is
    removed (through ``traffic``); killed queries cannot be undone, so that, an
    action that did not help, or one that cannot be judged, is escalated with a
    warning Event.  The verdict is kept in ``params.executor.verification``.
    """
    items = list(remediations)
    for index, item in enumerate(items):
        if item.state is not RemediationState.SUCCEEDED:
            continue
        executor = item.params.get(EXECUTOR_PARAM) or {}
        if executor.get("verification"):
            continue
        if due is not None and not due(item):
            continue
        method = executor.get("method", DrainMethod.QUARANTINE.value)
        if item.action is RemediationAction.DRAIN_POD:
            reversible = method == DrainMethod.QUARANTINE.value
        else:
            reversible = item.action is RemediationAction.RATE_LIMIT_CLIENT
        result: VerifyResult = verify(
            checks=checks(item), reversible=reversible, min_improvement=min_improvement
        )
        note = {
            "outcome": result.outcome.value,
            "followUp": result.follow_up.value,
            "summary": result.summary[:1024],
            "at": now,
        }
        regarding = _diagnosis_note(diagnosis)
        label = f"{item.action.value} {item.target}"
        if result.follow_up is FollowUp.ROLLBACK:
            lifted = _roll_back(
                item, diagnosis=diagnosis, cluster=cluster, traffic=traffic, now=now
            )
            state = RemediationState.ROLLED_BACK if lifted else RemediationState.SUCCEEDED
            reason = (
                f"rolled back: {result.summary}"
                if lifted
                else f"verification asks for a rollback but nothing could be undone: "
                f"{result.summary}"
            )
            extra: dict[str, Any] = {"lifted": now} if lifted else {}
            if lifted and item.action is RemediationAction.RATE_LIMIT_CLIENT:
                extra = {"removed": now}
            updated = with_state(
                item, state=state, reason=reason, now=now, verification=note, **extra
            )
            _post(
                cluster,
                regarding,
                "RemediationRolledBack" if lifted else "RemediationEscalated",
                f"{label}: {reason}",
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
                f"{label}: {result.outcome.value}: {result.summary}",
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
            _post(cluster, regarding, "RemediationVerified", f"{label}: {result.summary}")
        items[index] = updated
        record(list(items))
    return items


def _roll_back(
    item: RemediationStatus,
    *,
    diagnosis: DiagnosisRef,
    cluster: Cluster,
    traffic: Callable[[], TrafficPolicyBackend] | None,
    now: float,
) -> bool:
    if item.action is RemediationAction.DRAIN_POD:
        namespace, _, name = _pod_of(item, diagnosis)
        pod = cluster.get_pod(namespace=namespace, name=name)
        return (
            pod is not None
            and pod.quarantine is not None
            and item.idempotency_key is not None
            and pod.quarantine.key == item.idempotency_key
            and _give_back(
                cluster,
                pod=pod,
                record=pod.quarantine,
                why="verification found it made things worse",
            )
        )
    if item.action is RemediationAction.RATE_LIMIT_CLIENT and traffic is not None:
        rule = _rule_of(item)
        if rule is None:
            return False
        try:
            _remove_rule(traffic(), rule)
        except (ClusterError, PortUnavailable, ValueError):
            return False
        return True
    return False


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


def _pod_note(pod: PodInfo) -> EventNote:
    return EventNote(
        kind="Pod", namespace=pod.namespace, name=pod.name, uid=pod.uid, reason="", message=""
    )


def _post(
    cluster: Cluster, base: EventNote, reason: str, message: str, *, warning: bool = False
) -> None:
    # An Event is a courtesy: the status holds the record.
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
    interrupted run left behind), a quarantine not yet lifted, a client rule not
    yet removed, or an applied action not yet verified.
    """
    approvals = approvals_from(annotations)
    for item in remediations:
        if item.state in (RemediationState.APPROVED, RemediationState.RUNNING):
            return True
        if item.state is RemediationState.PROPOSED and item.idempotency_key in approvals:
            return True
        if item.action is RemediationAction.DRAIN_POD and _holds_quarantine(item):
            return True
        if _holds_rule(item) or awaits_verification(item):
            return True
    return False


def awaits_verification(item: RemediationStatus) -> bool:
    """An action applied by this executor and not judged yet.  Pure."""
    executor = item.params.get(EXECUTOR_PARAM) or {}
    return (
        item.state is RemediationState.SUCCEEDED
        and executor.get("appliedAt") is not None
        and not executor.get("verification")
    )


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


# --------------------------------------------------------------------- kill-mysql-queries

AUDIT_PARAM = "audit"  # params.executor.audit: one record per victim, as KillAudit.to_json
MAX_AUDIT = 50


def _audit_of(item: RemediationStatus) -> list[dict[str, Any]]:
    executor = item.params.get(EXECUTOR_PARAM) or {}
    found = executor.get(AUDIT_PARAM) or []
    return [dict(record) for record in found if isinstance(record, Mapping)]


def _with_audit(item: RemediationStatus, records: Sequence[KillAudit]) -> RemediationStatus:
    params = dict(item.params)
    executor = dict(params.get(EXECUTOR_PARAM) or {})
    audit = [*_audit_of(item), *(record.to_json() for record in records)]
    executor[AUDIT_PARAM] = audit[-MAX_AUDIT:]
    params[EXECUTOR_PARAM] = executor
    return item.model_copy(update={"params": params})


def _describe_audit(records: Sequence[KillAudit]) -> str:
    shown = ", ".join(
        f"{record.command} ({record.user}@{record.host}, {record.time:g} s, {record.outcome})"
        for record in records[:5]
    )
    more = f" and {len(records) - 5} more" if len(records) > 5 else ""
    return shown + more


def _generic_denied(
    run: _Run, index: int, item: RemediationStatus, *, verdict: Denied, key: str
) -> None:
    """A guard said no (drain's ``_denied`` without the pod)."""
    if verdict.code is DenialCode.APPROVAL_REQUIRED:
        _await_approval(run, index, item, key=key, pod=None)
        return
    state = (
        RemediationState.SKIPPED
        if verdict.code is DenialCode.EMPTY_TARGETS
        else RemediationState.DENIED
    )
    reason = f"{verdict.code.value}: {verdict.reason}"
    run.save(index, with_state(item, state=state, reason=reason, now=run.now))
    run.event(
        "RemediationDenied" if state is RemediationState.DENIED else "RemediationSkipped",
        f"{item.action.value} {item.target}: {reason}",
        warning=state is RemediationState.DENIED,
    )


def _skip(run: _Run, index: int, item: RemediationStatus, reason: str) -> None:
    if item.state is RemediationState.SKIPPED and item.reason == reason:
        return
    run.save(index, with_state(item, state=RemediationState.SKIPPED, reason=reason, now=run.now))
    run.event("RemediationSkipped", f"{item.action.value} {item.target}: {reason}")


def _guarded(
    run: _Run, *, action: Action, key: str, dry_run_reason: str | None
) -> Callable[[ledgers.Ledger], Verdict]:
    approval = run.approvals.get(key)

    def decide(current: ledgers.Ledger) -> Verdict:
        verdict = check(
            action=action,
            policy=run.guard,
            ledger=current.entries,
            now=run.now,
            key=key,
            approved=approval is not None,
        )
        if isinstance(verdict, Allowed) and not verdict.dry_run:
            if run.mode is Mode.DRY_RUN:
                return Allowed(dry_run=True, reason="the diagnosis is in dry-run mode")
            if dry_run_reason is not None:
                return Allowed(dry_run=True, reason=dry_run_reason)
        return verdict

    return decide


def _kill(run: _Run, index: int, item: RemediationStatus) -> None:
    key, item = _keyed(run, index, item)
    if item.state in FINAL_STATES:
        return
    try:
        policy = kill_policy_for(
            policy=run.policy.remediation.kill_mysql_queries, proposal=item.params
        )
    except ValueError as error:
        run.save(
            index,
            with_state(
                item,
                state=RemediationState.DENIED,
                reason=f"invalid kill options: {error}",
                now=run.now,
            ),
        )
        return
    if run.ports.mysql is None:
        _skip(run, index, item, "no MySQL connection: this operator has no MySQL port")
        return
    try:
        admin = run.ports.mysql(item.target)
    except PortUnavailable as error:
        _skip(run, index, item, f"not applied: {error}")
        return
    entries, started = _started(run, item, key)
    if started:
        _resume_kill(run, index, item, admin=admin, policy=policy, key=key)
        return
    try:
        proposal = select_kill(admin=admin, policy=policy, component=item.target)
    except Exception as error:  # the server did not answer: say so, spend nothing
        run.save(
            index,
            with_state(
                item,
                state=RemediationState.FAILED,
                reason=f"cannot read the processlist of {item.target}: {error}",
                now=run.now,
            ),
        )
        run.event("RemediationFailed", f"kill-mysql-queries {item.target}: {error}", warning=True)
        return
    action = proposal.action
    print_only = "the kill options say printOnly" if policy.print_only else None
    decide = _guarded(run, action=action, key=key, dry_run_reason=print_only)
    verdict = decide(entries)
    if isinstance(verdict, Denied):
        if verdict.code is DenialCode.EMPTY_TARGETS:
            spared = len(proposal.selection.skipped)
            _skip(
                run,
                index,
                item,
                f"no running thread of {item.target} matches ({spared} spared): nothing to kill",
            )
            return
        _generic_denied(run, index, item, verdict=verdict, key=key)
        return
    if verdict.dry_run:
        records = execute_kill(
            admin=admin, action=action, now=run.now, audit=lambda _record: None, print_only=True
        )
        reason = (
            f"dry run ({verdict.reason}): would kill {len(records)} thread(s) of "
            f"{item.target}: {_describe_audit(records)}"
        )
        updated = with_state(
            _with_audit(item, records), state=RemediationState.SKIPPED, reason=reason, now=run.now
        )
        run.save(index, updated)
        run.event("RemediationDryRun", f"kill-mysql-queries {item.target}: {reason}")
        return
    reservation = _reserve(
        run,
        key=key,
        action=action,
        what=f"kill {len(action.victims)} thread(s) of {item.target}",
        decide=decide,
    )
    if isinstance(reservation, Denied):
        if reservation.code is DenialCode.ALREADY_DONE:
            _resume_kill(run, index, item, admin=admin, policy=policy, key=key)
            return
        _generic_denied(run, index, item, verdict=reservation, key=key)
        return
    item = _start(
        run,
        index,
        item,
        key=key,
        reason=f"killing {len(action.victims)} thread(s) of {item.target}",
        announce=f"kill-mysql-queries {item.target}: {len(action.victims)} thread(s)",
        victims=[row.id for row in action.victims],
    )
    _apply_kill(run, index, item, admin=admin, action=action, key=key)


def _apply_kill(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    admin: MySQLAdmin,
    action: KillQueries,
    key: str,
) -> None:
    current = [item]

    def audit(record: KillAudit) -> None:
        # Each kill is in status before the next one is sent.
        current[0] = run.save(index, _with_audit(current[0], [record]))

    run.checkpoint("before-apply", key)
    records = execute_kill(admin=admin, action=action, now=run.now, audit=audit, print_only=False)
    run.checkpoint("after-apply", key)
    item = current[0]
    killed = [record for record in records if record.executed]
    errors = [record for record in records if record.outcome.startswith("error")]
    if killed:
        state = RemediationState.SUCCEEDED
        reason = f"killed {len(killed)} thread(s) of {item.target}: {_describe_audit(killed)}"
        if len(killed) < len(records):
            reason += f"; {len(records) - len(killed)} not killed: " + _describe_audit(
                [r for r in records if not r.executed]
            )
    elif errors:
        state = RemediationState.FAILED
        reason = f"no thread of {item.target} killed: {_describe_audit(records)}"
    else:
        state = RemediationState.SKIPPED
        reason = (
            f"every selected thread of {item.target} ended or changed before its kill: "
            f"{_describe_audit(records)}"
        )
    _finish(
        run,
        index,
        item,
        state=state,
        reason=reason,
        key=key,
        pod=None,
        label=f"kill-mysql-queries {item.target}: ",
    )


def _resume_kill(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    admin: MySQLAdmin,
    policy: KillPolicy,
    key: str,
) -> None:
    """The kill was started before: threads audited as killed are not sent again.

    The processlist is read again; what still matches (and was not killed, as the
    audit in status says) is killed under the reservation already held.  A thread
    killed just before a crash, before its audit was written, no longer runs its
    statement, so it does not match again.
    """
    entries, _ = run.ledger.read()
    reserved = entries.find(key)
    if reserved is not None and reserved.detail.startswith(APPLIED):
        reason = f"kill was applied before: {reserved.detail[len(APPLIED) :]}"
        run.save(
            index, with_state(item, state=RemediationState.SUCCEEDED, reason=reason, now=run.now)
        )
        return
    done = {
        (int(record.get("threadId", 0)), str(record.get("digest", "")))
        for record in _audit_of(item)
        if record.get("executed")
    }
    try:
        proposal = select_kill(admin=admin, policy=policy, component=item.target)
    except Exception as error:
        raise LedgerUnavailable(
            f"kill-mysql-queries {item.target} was started before and the processlist "
            f"cannot be read to resume it: {error}"
        ) from error
    remaining = tuple(
        row for row in proposal.action.victims if (row.id, digest(row.info or "")) not in done
    )
    if item.state is not RemediationState.RUNNING:
        item = run.save(
            index,
            with_state(
                item,
                state=RemediationState.RUNNING,
                reason=f"kill of {item.target} was started before; checking what is left",
                now=run.now,
            ),
        )
    if not remaining:
        if done:
            reason = (
                f"{len(done)} thread(s) of {item.target} were killed before the restart "
                "(audit in status); nothing left to kill, not repeated"
            )
            _recovered(
                run,
                index,
                item,
                key=key,
                reason=reason,
                label=f"kill-mysql-queries {item.target}: ",
                appliedAt=run.now,
            )
            return
        reason = f"no thread of {item.target} matches any more: nothing was killed"
        run.ledger.settle(key=key, outcome=LedgerOutcome.FAILED, detail=reason)
        run.save(
            index, with_state(item, state=RemediationState.SKIPPED, reason=reason, now=run.now)
        )
        run.event("RemediationSkipped", f"kill-mysql-queries {item.target}: {reason}")
        return
    run.event(
        "RemediationResumed",
        f"kill-mysql-queries {item.target}: {len(remaining)} thread(s) still match; "
        "killing them under the reservation",
    )
    action = KillQueries(
        component=item.target, victims=remaining, mode=policy.mode, reason=proposal.action.reason
    )
    _apply_kill(run, index, item, admin=admin, action=action, key=key)


# --------------------------------------------------------------------- rate-limit-client

RULE_PARAM = "rule"  # params.executor.rule: the ClientRule, as ClientRule.to_json


def _rule_of(item: RemediationStatus) -> ClientRule | None:
    executor = item.params.get(EXECUTOR_PARAM) or {}
    found = executor.get(RULE_PARAM)
    if not isinstance(found, Mapping):
        return None
    try:
        return ClientRule.from_json(found)
    except (KeyError, TypeError, ValueError):
        return None


def _holds_rule(item: RemediationStatus) -> bool:
    executor = item.params.get(EXECUTOR_PARAM) or {}
    return (
        item.action is RemediationAction.RATE_LIMIT_CLIENT
        and item.state is RemediationState.SUCCEEDED
        and executor.get(RULE_PARAM) is not None
        and not executor.get("removed")
    )


def _with_conflict_retry(work: Callable[[], None], *, attempts: int = 3) -> None:
    for attempt in range(attempts):
        try:
            work()
            return
        except VersionConflict:
            if attempt == attempts - 1:
                raise


def _remove_rule(backend: TrafficPolicyBackend, rule: ClientRule) -> None:
    _with_conflict_retry(lambda: backend.remove(rules=[rule]))


def _describe_rule(rule: ClientRule) -> str:
    what = (
        f"limit {rule.network} to {rule.requests_per_second:g} req/s"
        if rule.mode.value == "rate-limit"
        else f"deny {rule.network}"
    )
    step = f", escalation step {rule.level + 1}" if rule.level else ""
    return f"{what} until {isoformat_z(rule.expires_at)}{step}"


def _rate_limit(run: _Run, index: int, item: RemediationStatus) -> None:
    try:
        network = parse_network(item.target, where="rate-limit-client target")
    except ValueError as error:
        if item.state not in FINAL_STATES:
            run.save(
                index,
                with_state(item, state=RemediationState.DENIED, reason=str(error), now=run.now),
            )
        return
    key, item = _keyed(run, index, item)
    if item.state in FINAL_STATES:
        return
    spec = run.policy.remediation.rate_limit_client
    missing = spec.params.missing()
    if missing is not None:
        _skip(run, index, item, f"no rate-limit backend configured: {missing}")
        return
    if run.ports.traffic is None:
        _skip(run, index, item, "no rate-limit backend: this operator has no traffic port")
        return
    try:
        backend = run.ports.traffic()
    except PortUnavailable as error:
        _skip(run, index, item, f"not applied: {error}")
        return
    entries, started = _started(run, item, key)
    if started:
        _resume_rule(run, index, item, backend=backend, key=key)
        return
    limits = rate_limit_policy_for(policy=spec)
    try:
        active = backend.active()
    except (ClusterError, ValueError) as error:
        run.save(
            index,
            with_state(
                item,
                state=RemediationState.FAILED,
                reason=f"cannot read the rules in force at {backend.name}: {error}",
                now=run.now,
            ),
        )
        return
    planned = plan_rules(
        clients=[str(network)],
        policy=limits,
        history=rule_history(entries=entries.entries, active=active),
        now=run.now,
        reason=item.reason[:200],
    )
    if not planned.rules:
        refusal = planned.refused[0].reason if planned.refused else "no rule planned"
        if "already under rule" in refusal:
            _skip(run, index, item, refusal)
            return
        run.save(
            index,
            with_state(
                item, state=RemediationState.DENIED, reason=f"refused: {refusal}", now=run.now
            ),
        )
        run.event("RemediationDenied", f"rate-limit-client {item.target}: {refusal}", warning=True)
        return
    # The rule id is the action's key: after a restart the rule in force is recognised.
    rule = dataclasses.replace(planned.rules[0], rule_id=key[:12])
    action = RateLimitClient(
        component=str(item.params.get("component") or ""), rules=(rule,), reason=item.reason
    )
    shadow = "shadow mode: the rule is recorded, never enforced" if rule.shadow else None
    decide = _guarded(run, action=action, key=key, dry_run_reason=shadow)
    verdict = decide(entries)
    if isinstance(verdict, Denied):
        _generic_denied(run, index, item, verdict=verdict, key=key)
        return
    if verdict.dry_run:
        reason = f"dry run ({verdict.reason}): would {_describe_rule(rule)} at {backend.name}"
        run.save(
            index,
            with_state(
                item,
                state=RemediationState.SKIPPED,
                reason=reason,
                now=run.now,
                rule=rule.to_json(),
                backend=backend.name,
            ),
        )
        run.event("RemediationDryRun", f"rate-limit-client {item.target}: {reason}")
        return
    reservation = _reserve(
        run,
        key=key,
        action=action,
        what=f"{_describe_rule(rule)} at {backend.name}",
        decide=decide,
    )
    if isinstance(reservation, Denied):
        if reservation.code is DenialCode.ALREADY_DONE:
            _resume_rule(run, index, item, backend=backend, key=key)
            return
        _generic_denied(run, index, item, verdict=reservation, key=key)
        return
    item = _start(
        run,
        index,
        item,
        key=key,
        reason=f"{_describe_rule(rule)} at {backend.name}: started",
        announce=f"rate-limit-client: {_describe_rule(rule)} at {backend.name}",
        rule=rule.to_json(),
        backend=backend.name,
    )
    _apply_rule(run, index, item, backend=backend, rule=rule, key=key)


def _apply_rule(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    backend: TrafficPolicyBackend,
    rule: ClientRule,
    key: str,
) -> None:
    run.checkpoint("before-apply", key)
    try:
        _with_conflict_retry(lambda: backend.apply(rules=[rule]))
    except (ClusterError, UnsupportedRule, TooManyRules, ValueError) as error:
        _finish(
            run,
            index,
            item,
            state=RemediationState.FAILED,
            reason=f"{_describe_rule(rule)} at {backend.name} failed: {error}",
            key=key,
            pod=None,
            label="rate-limit-client: ",
        )
        return
    run.checkpoint("after-apply", key)
    _finish(
        run,
        index,
        item,
        state=RemediationState.SUCCEEDED,
        reason=f"{_describe_rule(rule)} at {backend.name}: in force",
        key=key,
        pod=None,
        label="rate-limit-client: ",
        expiresAt=rule.expires_at,
    )


def _resume_rule(
    run: _Run,
    index: int,
    item: RemediationStatus,
    *,
    backend: TrafficPolicyBackend,
    key: str,
) -> None:
    """The rule was started before: in force at the backend is done; else apply it now."""
    rule_id = key[:12]
    in_force = next((rule for rule in backend.active() if rule.rule_id == rule_id), None)
    if in_force is not None:
        reason = (
            f"{_describe_rule(in_force)} at {backend.name} is already in force "
            "(checked after a restart); not repeated"
        )
        _recovered(
            run,
            index,
            item,
            key=key,
            reason=reason,
            label="rate-limit-client: ",
            rule=in_force.to_json(),
            appliedAt=in_force.created_at,
            expiresAt=in_force.expires_at,
        )
        return
    entries, _ = run.ledger.read()
    reserved = entries.find(key)
    if reserved is not None and reserved.detail.startswith(APPLIED):
        # Applied before and since removed (its TTL ran out): never re-applied.
        reason = f"rule was applied before: {reserved.detail[len(APPLIED) :]}"
        run.save(
            index,
            with_state(
                item, state=RemediationState.SUCCEEDED, reason=reason, now=run.now, removed=run.now
            ),
        )
        return
    rule = _rule_of(item)
    if rule is None or rule.expires_at <= run.now:
        reason = "the rule of this reservation is unknown or already expired: not applied"
        run.ledger.settle(key=key, outcome=LedgerOutcome.FAILED, detail=reason)
        run.save(
            index, with_state(item, state=RemediationState.SKIPPED, reason=reason, now=run.now)
        )
        return
    run.event(
        "RemediationResumed",
        f"rate-limit-client: {_describe_rule(rule)} had not reached {backend.name}; applying it",
    )
    _apply_rule(run, index, item, backend=backend, rule=rule, key=key)


def expire_rules(
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    traffic: Callable[[], TrafficPolicyBackend] | None,
    cluster: Cluster,
    now: float,
    record: Callable[[list[RemediationStatus]], None],
    resolved: bool = False,
) -> list[RemediationStatus]:
    """Remove this diagnosis' client rules whose TTL ran out (all of them when ``resolved``).

    Rules of other diagnoses at the same backend are kept (the backend removes by
    rule id).  A backend that cannot be reached leaves the rule for the next tick.
    """
    items = list(remediations)
    for index, item in enumerate(items):
        if not _holds_rule(item):
            continue
        rule = _rule_of(item)
        if rule is None:
            continue
        if rule.expires_at <= now:
            why = "its TTL ran out"
        elif resolved:
            why = f"diagnosis {diagnosis.ref} resolved"
        else:
            continue
        if traffic is None:
            continue
        try:
            _remove_rule(traffic(), rule)
        except (ClusterError, PortUnavailable, ValueError) as error:
            _post(
                cluster,
                _diagnosis_note(diagnosis),
                "RuleRemovalFailed",
                f"rate-limit-client {rule.network}: removing rule {rule.rule_id} failed: {error}",
                warning=True,
            )
            continue
        items[index] = with_state(
            item,
            state=item.state,
            reason=f"{item.reason}; rule removed because {why}",
            now=now,
            removed=now,
        )
        _post(
            cluster,
            _diagnosis_note(diagnosis),
            "RateLimitLifted",
            f"rate-limit-client {rule.network}: rule {rule.rule_id} removed because {why}",
        )
        record(list(items))
    return items
