"""drain-pod: quarantine a pod (out of its Services' endpoints) or evict it.

A proposal that names an instance only by its address (``192.0.2.17:8080``)
is resolved to the one pod the component's ``podSelector`` selects with that
pod IP (``core.remediation.drain.pod_of_instance``); without a podSelector, or
without exactly one such pod, the pod is not found and the drain denied.

What differs from the skeleton (``flow.run_action``): the pod-safety guards
(``core.remediation.drain``) on top of the generic ones, the policy's ``maxPods``
per diagnosis, a quarantine that no Service would notice is skipped, the
eviction's dry run is the apiserver's, and a restart recognises its own
quarantine record on the pod (or a pod gone or terminating after an eviction).
"""

from __future__ import annotations

import dataclasses

from diagnosis_operator.api import RemediationState, RemediationStatus, parse_duration
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.drain import (
    DrainRules,
    check_drain,
    pod_of_instance,
    pod_safety,
    quarantine_record,
)
from diagnosis_operator.core.remediation.drain_target import instance_address, pick_by_address
from diagnosis_operator.core.remediation.keys import drain_action_of
from diagnosis_operator.models.actions import Allowed, DenialCode, Denied, DrainPod, Verdict
from diagnosis_operator.models.cluster import EvictionOutcome, PodInfo, QuarantineRecord
from diagnosis_operator.ports import ClusterError, VersionConflict
from diagnosis_operator.service.remediate import outcome
from diagnosis_operator.service.remediate.conflicts import Again, retry_conflicts
from diagnosis_operator.service.remediate.flow import ActionFlow, Plan, guarded
from diagnosis_operator.service.remediate.run import (
    DrainMethod,
    Run,
    Slot,
    executor_params,
    stamp,
)

Outcome = tuple[RemediationState, str]


def _labels(record: QuarantineRecord) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(record.removed_labels.items()))


def _no_service(pod: PodInfo) -> str:
    return f"no Service selects pod {pod.ref}: quarantine would change nothing"


class DrainFlow(ActionFlow):
    """drain-pod's strategy (module docstring); a guard's ``empty-targets`` denies."""

    EMPTY_SKIPS = False

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot)
        run = self.run
        self.action = drain_action_of(
            remediation=slot.item, policy=run.policy, diagnosis_namespace=run.diagnosis.namespace
        )
        self.record: QuarantineRecord | None = None
        self.method = run.settings.drain_method

    def connect(self) -> bool:
        """The drain method (the remediation's own, else the operator's); no other port."""
        wanted = self.slot.item.params.get("method")
        try:
            self.method = DrainMethod(str(wanted)) if wanted else self.run.settings.drain_method
        except ValueError:
            self.method = self.run.settings.drain_method
        return True

    def plan(self, entries: ledgers.Ledger) -> Plan:
        run, action, key = self.run, self.action, self.slot.key
        pod, unresolved = find_pod(run, item=self.slot.item, action=action)
        if pod is None and (selected := self._by_address()) is not None:
            # the component's podSelector names the pod of that address
            pod, unresolved, action = selected, None, self.action
        pods = run.cluster.list_pods(namespace=action.namespace) if pod is not None else ()
        self.pod = pod
        if pod is not None:
            # the lists, cooldowns and Events name the pod, not the instance address
            action = dataclasses.replace(action, pod=pod.name)
        decide = guarded(
            run,
            action=action,
            key=key,
            judge=check_drain,
            pod=pod,
            pods=pods,
            rules=drain_rules(run),
            unresolved=unresolved,
        )
        # A missing pod is denied (check_drain), so these words are never used for it.
        what = f"{self.method.value} {pod.ref}" if pod is not None else ""
        started = f"{self.method.value} of pod {pod.ref}" if pod is not None else ""
        return Plan(
            action=action,
            decide=decide,
            what=what,
            reason=f"{started} started",
            announce=started,
            pod=pod,
            extra={
                "method": self.method.value,
                "podName": pod.name if pod is not None else None,
                "podNamespace": pod.namespace if pod is not None else None,
            },
        )

    def _by_address(self) -> PodInfo | None:
        """The pod of an instance known by its address, among the component's
        ``podSelector`` pods (by pod IP); the action then names that pod."""
        component = next(
            (c for c in self.run.policy.components if c.name == self.action.component), None
        )
        if component is None or component.pod_selector is None:
            return None
        pods = self.run.cluster.list_pods(namespace=self.action.namespace)
        pod = pod_of_instance(instance=self.action.pod, pods=pods, selector=component.pod_selector)
        if pod is not None:
            self.action = dataclasses.replace(self.action, pod=pod.name)
        return pod

    def review(self, verdict: Verdict) -> Verdict:
        max_pods = self.run.policy.remediation.drain_pod.params.max_pods
        if isinstance(verdict, Allowed) and self.run.drains >= max_pods:
            return Denied(
                DenialCode.TOO_MANY_TARGETS,
                f"this diagnosis already drains {self.run.drains} pod(s), the policy's maxPods",
            )
        return verdict

    def admit(self, plan: Plan) -> bool:
        pod = self.pod
        assert pod is not None  # check_drain denies a missing pod
        self.run.drains += 1
        if self.method is DrainMethod.QUARANTINE:
            self.record = record_for(self.run, pod=pod, key=self.slot.key)
            if self.record is None:
                reason = _no_service(pod)
                self.slot.move(RemediationState.SKIPPED, reason)
                self.run.event("RemediationSkipped", reason, pod=pod)
                return False
        return True

    def dry_run(self, plan: Plan, verdict: Verdict) -> None:
        run, pod, method = self.run, self.pod, self.method
        assert pod is not None
        if method is DrainMethod.EVICT:
            answer = run.cluster.evict(
                namespace=pod.namespace,
                name=pod.name,
                grace_period_seconds=run.policy.remediation.drain_pod.params.grace_period_seconds,
                dry_run=True,
            )
            what = (
                f"would evict pod {pod.ref}; the apiserver's dry run says {answer.outcome.value}"
                + (f" (HTTP {answer.status}: {answer.reason})" if answer.reason else "")
            )
        else:
            assert self.record is not None
            what = f"would quarantine pod {pod.ref} (remove labels {_labels(self.record)})"
        reason = f"dry run ({verdict.reason}): {what}"
        self.slot.move(RemediationState.SKIPPED, reason, method=method.value)
        run.event("RemediationDryRun", reason, pod=pod)

    def apply(self, plan: Plan) -> None:
        assert self.pod is not None
        _apply(self.slot, pod=self.pod, method=self.method, record=self.record)

    def resume(self) -> None:
        """The action was started before (this or another process): look, then complete it."""
        started_on = executor_params(self.slot.item).get("podName")
        if not started_on and (
            self.run.cluster.get_pod(namespace=self.action.namespace, name=self.action.pod) is None
        ):
            self._by_address()  # a status that started over: find the pod again
        _resume(self.slot, action=self.action, method=self.method)


def find_pod(
    run: Run, *, item: RemediationStatus, action: DrainPod
) -> tuple[PodInfo | None, Denied | None]:
    """The pod a drain names, or why none (``core.remediation.drain_target``).

    A ``pod`` param names it; otherwise an instance target with an address
    (``192.0.2.17:8080``) is looked up by ``status.podIP`` in the action's
    namespace only; any other target is a pod name.
    """
    address = None if item.params.get("pod") else instance_address(item.target)
    if address is None:
        return run.cluster.get_pod(namespace=action.namespace, name=action.pod), None
    found = pick_by_address(
        target=item.target,
        address=address,
        namespace=action.namespace,
        pods=run.cluster.pods_with_ip(namespace=action.namespace, ip=address),
    )
    if isinstance(found, Denied):
        return None, found
    return found, None


def drain_rules(run: Run) -> DrainRules:
    params = run.policy.remediation.drain_pod.params
    own = run.diagnosis.namespace
    return DrainRules(
        min_healthy=params.min_ready_remaining,
        protected_namespaces=run.settings.protected_namespaces,
        writable_namespaces=frozenset({own}) | run.settings.write_grants.get(own, frozenset()),
    )


def _ttl(run: Run) -> float:
    ttl = run.policy.remediation.drain_pod.ttl
    return parse_duration(ttl) if ttl else run.settings.default_quarantine_ttl


def record_for(run: Run, *, pod: PodInfo, key: str) -> QuarantineRecord | None:
    """What quarantining ``pod`` under ``key`` removes (``None``: no Service selects it)."""
    return quarantine_record(
        pod=pod,
        selector_keys=run.cluster.service_selector_keys(pod=pod),
        key=key,
        diagnosis=run.diagnosis.ref,
        now=run.now,
        ttl_seconds=_ttl(run),
    )


def _apply(
    slot: Slot, *, pod: PodInfo, method: DrainMethod, record: QuarantineRecord | None
) -> None:
    run = slot.run
    run.checkpoint("before-apply", slot.key)
    if method is DrainMethod.QUARANTINE:
        assert record is not None
        state, reason = _quarantine(run, pod=pod, record=record)
    else:
        state, reason = _evict(run, pod=pod)
    run.checkpoint("after-apply", slot.key)
    outcome.finish(slot, state=state, reason=reason, pod=pod)


def _quarantine(run: Run, *, pod: PodInfo, record: QuarantineRecord) -> Outcome:
    def attempt(current: PodInfo) -> Outcome:
        try:
            run.cluster.quarantine(pod=current, record=record)
        except VersionConflict:
            raise
        except ClusterError as error:
            return RemediationState.FAILED, f"quarantine of pod {pod.ref} failed: {error}"
        until = (
            f" until {stamp(record.until).isoformat().replace('+00:00', 'Z')}"
            if record.until is not None
            else ""
        )
        return RemediationState.SUCCEEDED, (
            f"pod {pod.ref} quarantined: labels {_labels(record)} removed, so no Service sends "
            f"it traffic; the pod keeps running for forensics{until}"
        )

    def reread() -> Again[PodInfo] | Outcome:
        # The pod changed since it was read (status, labels): read it and retry once
        # more, still only if its selector labels are what the record removes.
        fresh = run.cluster.get_pod(namespace=pod.namespace, name=pod.name)
        if fresh is None:
            return RemediationState.FAILED, f"pod {pod.ref} disappeared before quarantine"
        if fresh.quarantine is not None:
            return already(fresh, key=record.key)
        if any(fresh.labels.get(k) != v for k, v in record.removed_labels.items()):
            return RemediationState.FAILED, (
                f"pod {pod.ref} changed its labels while being quarantined; not retried"
            )
        return Again(fresh)

    return retry_conflicts(
        pod,
        attempt=attempt,
        reread=reread,
        attempts=3,
        exhausted=lambda _: (
            RemediationState.FAILED,
            f"pod {pod.ref} kept changing; quarantine not applied",
        ),
    )


def already(pod: PodInfo, *, key: str) -> Outcome:
    """A pod found quarantined: by this action (done) or by another one (skipped)."""
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


def _evict(run: Run, *, pod: PodInfo) -> Outcome:
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
    pod: PodInfo, answer: EvictionOutcome, status: int | None, message: str, *, dry_run: bool
) -> str:
    stage = "the server dry run of the eviction" if dry_run else "the eviction"
    if answer is EvictionOutcome.BLOCKED:
        return (
            f"EvictionBlocked: {stage} of pod {pod.ref} was refused with HTTP {status} "
            f"(a PodDisruptionBudget allows no disruption now): {message}; not retried"
        )
    if answer is EvictionOutcome.GONE:
        return f"PodGone: pod {pod.ref} no longer exists ({stage}: HTTP {status})"
    return f"EvictionRefused: {stage} of pod {pod.ref}: HTTP {status}: {message}"


# --------------------------------------------------------------------- after a restart


def _resume(slot: Slot, *, action: DrainPod, method: DrainMethod) -> None:
    """The action was started before (this or another process): look, then complete it."""
    # Applied and recorded before; the world may have moved on since (a lifted
    # quarantine), which is no reason to act again.
    if outcome.done_before(slot, what=method.value, executed_only=True):
        return
    run = slot.run
    # the pod recorded when the action started, else the one the target names now
    started = executor_params(slot.item).get("podName")
    if started:
        action = dataclasses.replace(action, pod=str(started))
        pod = run.cluster.get_pod(namespace=action.namespace, name=action.pod)
    else:
        pod, _ = find_pod(run, item=slot.item, action=action)
        if pod is None:  # the pod the component's podSelector named (DrainFlow._by_address)
            pod = run.cluster.get_pod(namespace=action.namespace, name=action.pod)
        action = dataclasses.replace(action, pod=pod.name) if pod is not None else action
    outcome.running_again(
        slot,
        f"{method.value} of pod {action.namespace}/{action.pod} was started "
        "before; checking whether it happened",
        method=method.value,
    )
    if method is DrainMethod.QUARANTINE:
        _resume_quarantine(slot, action=action, pod=pod)
        return
    # Eviction: done when the pod is gone or on its way out.
    if pod is None or pod.deleting:
        reason = (
            f"pod {action.namespace}/{action.pod} is already "
            + ("gone" if pod is None else "terminating")
            + " (checked after a restart); eviction not repeated"
        )
        outcome.recovered(slot, reason=reason, pod=pod)
        return
    run.event(
        "RemediationResumed",
        f"eviction of pod {pod.ref} had not happened; applying it under its reservation",
        pod=pod,
    )
    _apply(slot, pod=pod, method=method, record=None)


def _resume_quarantine(slot: Slot, *, action: DrainPod, pod: PodInfo | None) -> None:
    run = slot.run
    if pod is None:
        reason = f"pod {action.namespace}/{action.pod} is gone"
        outcome.finish(slot, state=RemediationState.FAILED, reason=reason, pod=None)
        return
    if pod.quarantine is not None:
        state, reason = already(pod, key=slot.key)
        if state is RemediationState.SUCCEEDED:
            outcome.recovered(slot, reason=reason, pod=pod)
        else:
            outcome.finish(slot, state=state, reason=reason, pod=pod)
        return
    unsafe = pod_safety(
        pod=pod,
        target=pod.ref,
        pods=run.cluster.list_pods(namespace=pod.namespace),
        rules=drain_rules(run),
    )
    if unsafe is not None:
        reason = f"{unsafe.code.value}: {unsafe.reason}"
        outcome.finish(slot, state=RemediationState.DENIED, reason=reason, pod=pod)
        return
    record = record_for(run, pod=pod, key=slot.key)
    if record is None:
        outcome.finish(slot, state=RemediationState.SKIPPED, reason=_no_service(pod), pod=pod)
        return
    run.event(
        "RemediationResumed",
        f"quarantine of pod {pod.ref} had not happened; applying it under its reservation",
        pod=pod,
    )
    _apply(slot, pod=pod, method=DrainMethod.QUARANTINE, record=record)
