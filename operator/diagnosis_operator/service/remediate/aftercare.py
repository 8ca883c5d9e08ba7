"""After acting: give quarantines back, remove expired rules, verify and roll back.

``restore_expired`` gives quarantined pods back (their Service selector labels
restored) when their TTL ran out or their diagnosis resolved; ``lift_due`` and
``expire_rules`` do the same for one diagnosis' quarantines and client rules;
``follow_up`` verifies an applied action against fresh signals
(``core.remediation.verify``) and rolls back a reversible one that made things
worse, or escalates.  ``needs_attention`` says whether a finished diagnosis
still has any of this work (or an approval, or an interrupted action).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diagnosis_operator.api import RemediationAction, RemediationState, RemediationStatus
from diagnosis_operator.core.remediation.drain import quarantine_expired, restored_labels
from diagnosis_operator.core.remediation.verify import (
    FollowUp,
    Outcome,
    SignalCheck,
    VerifyResult,
    verify,
)
from diagnosis_operator.models.cluster import EventNote, PodInfo, QuarantineRecord
from diagnosis_operator.models.controls import approvals_from
from diagnosis_operator.ports import Cluster, ClusterError, TrafficPolicyBackend
from diagnosis_operator.service.remediate.conflicts import Again, retry_conflicts
from diagnosis_operator.service.remediate.rate_limit import holds_rule, remove_rule, rule_of
from diagnosis_operator.service.remediate.run import (
    DiagnosisRef,
    DrainMethod,
    PortUnavailable,
    diagnosis_note,
    executor_params,
    post,
    with_state,
)

Record = Callable[[list[RemediationStatus]], None]


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
        if give_back(cluster, pod=pod, record=record, why=why):
            done.append(Restored(pod=pod.ref, diagnosis=record.diagnosis, key=record.key, why=why))
    return done


def give_back(cluster: Cluster, *, pod: PodInfo, record: QuarantineRecord, why: str) -> bool:
    """Lift the quarantine ``record`` of ``pod`` (if still its own) and say so on the pod."""

    def ours(current: PodInfo | None) -> bool:
        return (
            current is not None
            and current.quarantine is not None
            and current.quarantine.key == record.key
        )

    def attempt(current: PodInfo) -> bool:
        labels = restored_labels(record=record, labels=current.labels)
        cluster.unquarantine(pod=current, labels=labels)
        _lifted_event(cluster, pod=pod, record=record, labels=labels, why=why)
        return True

    def reread() -> Again[PodInfo] | bool:
        fresh = cluster.get_pod(namespace=pod.namespace, name=pod.name)
        return Again(fresh) if fresh is not None and ours(fresh) else False

    if not ours(pod):
        return False
    return retry_conflicts(
        pod, attempt=attempt, reread=reread, attempts=3, exhausted=lambda _: False
    )


def _lifted_event(
    cluster: Cluster, *, pod: PodInfo, record: QuarantineRecord, labels: Mapping[str, str], why: str
) -> None:
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


# --------------------------------------------------------------------- verification


def follow_up(  # noqa: PLR0913 (the public keyword-only call of the entry points and tests)
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    checks: Callable[[RemediationStatus], Sequence[SignalCheck]],
    cluster: Cluster,
    now: float,
    record: Record,
    min_improvement: float = 0.5,
    traffic: Callable[[], TrafficPolicyBackend] | None = None,
    due: Callable[[RemediationStatus], bool] | None = None,
    final: Callable[[RemediationStatus], bool] | None = None,
) -> list[RemediationStatus]:
    """Verify each applied action against fresh signals and keep, roll back or escalate.

    ``checks`` gives, for one remediation, the signals before and after it (the
    caller queried them again after the action); ``due`` says whether it is time to
    judge it (default: always); ``final`` whether a verdict other than resolved is
    kept now (default: always) -- until then such an action is looked at again on a
    later call (``verification.settle``).  A reversible action that made things worse is
    rolled back -- a quarantined pod gets its labels back, a client rule is
    removed (through ``traffic``); killed queries cannot be undone, so that, an
    action that did not help, or one that cannot be judged, is escalated with a
    warning Event.  The verdict is kept in ``params.executor.verification``.
    """
    items = list(remediations)
    for index, item in enumerate(items):
        if item.state is not RemediationState.SUCCEEDED:
            continue
        if executor_params(item).get("verification"):
            continue
        if due is not None and not due(item):
            continue
        result: VerifyResult = verify(
            checks=checks(item), reversible=_reversible(item), min_improvement=min_improvement
        )
        if result.outcome is not Outcome.RESOLVED and final is not None and not final(item):
            continue  # not yet: the symptom may still be on its way back
        judge = _Judge(diagnosis=diagnosis, cluster=cluster, traffic=traffic, now=now)
        items[index] = judge(item, result)
        record(list(items))
    return items


def _reversible(item: RemediationStatus) -> bool:
    method = executor_params(item).get("method", DrainMethod.QUARANTINE.value)
    if item.action is RemediationAction.DRAIN_POD:
        return bool(method == DrainMethod.QUARANTINE.value)
    return item.action is RemediationAction.RATE_LIMIT_CLIENT


@dataclass(frozen=True)
class _Judge:
    """Keep, roll back or escalate one verified remediation; the verdict posted as an Event."""

    diagnosis: DiagnosisRef
    cluster: Cluster
    traffic: Callable[[], TrafficPolicyBackend] | None
    now: float

    def __call__(self, item: RemediationStatus, result: VerifyResult) -> RemediationStatus:
        note = {
            "outcome": result.outcome.value,
            "followUp": result.follow_up.value,
            "summary": result.summary[:1024],
            "at": self.now,
            "checks": [check.numbers() for check in result.checks[:8]],
        }
        label = f"{item.action.value} {item.target}"
        if result.follow_up is FollowUp.ROLLBACK:
            return self._rollback(item, result=result, note=note, label=label)
        if result.follow_up is FollowUp.ESCALATE:
            reason = (
                f"{item.reason}; verification: {result.outcome.value}, escalated: {result.summary}"
            )
            self._post(
                "RemediationEscalated",
                f"{label}: {result.outcome.value}: {result.summary}",
                warning=True,
            )
            return self._noted(item, state=item.state, reason=reason, note=note)
        self._post("RemediationVerified", f"{label}: {result.summary}")
        reason = f"{item.reason}; verified: {result.summary}"
        return self._noted(item, state=item.state, reason=reason, note=note)

    def _rollback(
        self, item: RemediationStatus, *, result: VerifyResult, note: dict[str, Any], label: str
    ) -> RemediationStatus:
        now = self.now
        lifted = _roll_back(
            item, diagnosis=self.diagnosis, cluster=self.cluster, traffic=self.traffic
        )
        state = RemediationState.ROLLED_BACK if lifted else RemediationState.SUCCEEDED
        reason = (
            f"rolled back: {result.summary}"
            if lifted
            else f"verification asks for a rollback but nothing could be undone: {result.summary}"
        )
        extra: dict[str, Any] = {"lifted": now} if lifted else {}
        if lifted and item.action is RemediationAction.RATE_LIMIT_CLIENT:
            extra = {"removed": now}
        updated = self._noted(item, state=state, reason=reason, note=note, **extra)
        self._post(
            "RemediationRolledBack" if lifted else "RemediationEscalated",
            f"{label}: {reason}",
            warning=True,
        )
        return updated

    def _noted(
        self,
        item: RemediationStatus,
        *,
        state: RemediationState,
        reason: str,
        note: dict[str, Any],
        **extra: Any,
    ) -> RemediationStatus:
        return with_state(
            item, state=state, reason=reason, now=self.now, verification=note, **extra
        )

    def _post(self, reason: str, message: str, *, warning: bool = False) -> None:
        post(self.cluster, diagnosis_note(self.diagnosis), reason, message, warning=warning)


def _roll_back(
    item: RemediationStatus,
    *,
    diagnosis: DiagnosisRef,
    cluster: Cluster,
    traffic: Callable[[], TrafficPolicyBackend] | None,
) -> bool:
    if item.action is RemediationAction.DRAIN_POD:
        namespace, name = pod_of(item, diagnosis)
        pod = cluster.get_pod(namespace=namespace, name=name)
        return (
            pod is not None
            and pod.quarantine is not None
            and item.idempotency_key is not None
            and pod.quarantine.key == item.idempotency_key
            and give_back(
                cluster,
                pod=pod,
                record=pod.quarantine,
                why="verification found it made things worse",
            )
        )
    if item.action is RemediationAction.RATE_LIMIT_CLIENT and traffic is not None:
        rule = rule_of(item)
        if rule is None:
            return False
        try:
            remove_rule(traffic(), rule)
        except (ClusterError, PortUnavailable, ValueError):
            return False
        return True
    return False


def pod_of(item: RemediationStatus, diagnosis: DiagnosisRef) -> tuple[str, str]:
    """The namespace and name of the pod a drain-pod remediation drained.

    The pod the executor recorded when it started (an instance address resolved
    to its pod), else the ``pod`` param, else the target.
    """
    executor = executor_params(item)
    namespace = executor.get("podNamespace") or item.params.get("namespace")
    started = executor.get("podName")
    return str(namespace or diagnosis.namespace), str(
        started or item.params.get("pod") or item.target
    )


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
        if holds_rule(item) or awaits_verification(item):
            return True
    return False


def awaits_verification(item: RemediationStatus) -> bool:
    """An action applied by this executor and not judged yet.  Pure."""
    executor = executor_params(item)
    return (
        item.state is RemediationState.SUCCEEDED
        and executor.get("appliedAt") is not None
        and not executor.get("verification")
    )


def _holds_quarantine(item: RemediationStatus) -> bool:
    executor = executor_params(item)
    return (
        item.state is RemediationState.SUCCEEDED
        and executor.get("method", DrainMethod.QUARANTINE.value) == DrainMethod.QUARANTINE.value
        and not executor.get("lifted")
    )


def _noted(item: RemediationStatus, note: str, *, now: float, **extra: Any) -> RemediationStatus:
    """``item`` in its state, ``note`` added to its reason.  Pure."""
    return with_state(item, state=item.state, reason=f"{item.reason}; {note}", now=now, **extra)


def _why_now(*, expired: bool, resolved: bool, diagnosis: DiagnosisRef) -> str | None:
    """Why a quarantine or rule ends now (``None``: it does not)."""
    if expired:
        return "its TTL ran out"
    if resolved:
        return f"diagnosis {diagnosis.ref} resolved"
    return None


def lift_due(
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    cluster: Cluster,
    now: float,
    record: Record,
    resolved: bool = False,
) -> list[RemediationStatus]:
    """Lift this diagnosis' quarantines whose TTL ran out (all of them when ``resolved``)."""
    items = list(remediations)
    for index, item in enumerate(items):
        if item.action is not RemediationAction.DRAIN_POD or not _holds_quarantine(item):
            continue
        namespace, name = pod_of(item, diagnosis)
        pod = cluster.get_pod(namespace=namespace, name=name)
        held = pod.quarantine if pod is not None else None
        if pod is None or held is None or held.key != item.idempotency_key:
            why = "the pod is gone" if pod is None else "the pod is no longer quarantined by it"
            items[index] = _noted(item, why, now=now, lifted=now)
            record(list(items))
            continue
        ends = _why_now(
            expired=quarantine_expired(record=held, now=now), resolved=resolved, diagnosis=diagnosis
        )
        if ends is None or not give_back(cluster, pod=pod, record=held, why=ends):
            continue
        items[index] = _noted(item, f"quarantine lifted because {ends}", now=now, lifted=now)
        record(list(items))
    return items


def expire_rules(
    *,
    diagnosis: DiagnosisRef,
    remediations: Sequence[RemediationStatus],
    traffic: Callable[[], TrafficPolicyBackend] | None,
    cluster: Cluster,
    now: float,
    record: Record,
    resolved: bool = False,
) -> list[RemediationStatus]:
    """Remove this diagnosis' client rules whose TTL ran out (all of them when ``resolved``).

    Rules of other diagnoses at the same backend are kept (the backend removes by
    rule id).  A backend that cannot be reached leaves the rule for the next tick.
    """
    items = list(remediations)
    for index, item in enumerate(items):
        rule = rule_of(item) if holds_rule(item) else None
        if rule is None:
            continue
        ends = _why_now(expired=rule.expires_at <= now, resolved=resolved, diagnosis=diagnosis)
        if ends is None or traffic is None:
            continue
        try:
            remove_rule(traffic(), rule)
        except (ClusterError, PortUnavailable, ValueError) as error:
            post(
                cluster,
                diagnosis_note(diagnosis),
                "RuleRemovalFailed",
                f"rate-limit-client {rule.network}: removing rule {rule.rule_id} failed: {error}",
                warning=True,
            )
            continue
        items[index] = _noted(item, f"rule removed because {ends}", now=now, removed=now)
        post(
            cluster,
            diagnosis_note(diagnosis),
            "RateLimitLifted",
            f"rate-limit-client {rule.network}: rule {rule.rule_id} removed because {ends}",
        )
        record(list(items))
    return items
