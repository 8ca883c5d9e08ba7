"""Drain guards: may this pod be taken out of service?  Pure.

``check_drain`` adds the pod-safety rules to the generic guards of ``core/guard.py``
(pause, idempotency, allow / never lists, cooldown, budget, approval):

* the pod must exist (named by the ``pod`` label, or found by the instance's
  address: ``core.remediation.drain_target``; none or several is a refusal);
* never in a protected namespace (``kube-system`` and friends by default, plus
  whatever the operator adds, e.g. its own namespace); patterns are fnmatch globs;
* never a bare pod (no controller owner: nothing would replace it);
* never a DaemonSet pod (one per node by design); only ReplicaSet and StatefulSet
  pods qualify (Jobs and unknown controllers are refused);
* at least ``min_healthy`` sibling pods of the same workload (same controller uid)
  must keep serving (ready, not deleting, not quarantined) after the drain.

The checks run in this order: pause and "already done" first (so a restart never
re-judges a finished action), then the pod-safety rules (so nobody is asked to
approve what could never run), then the remaining generic guards.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.api import LabelSelector
from diagnosis_operator.core.remediation.guard import check
from diagnosis_operator.models.actions import (
    DenialCode,
    Denied,
    DrainPod,
    GuardPolicy,
    LedgerEntry,
    Verdict,
)
from diagnosis_operator.models.cluster import (
    DAEMONSET_KIND,
    REPLICATED_KINDS,
    PodInfo,
    QuarantineRecord,
)

DEFAULT_PROTECTED_NAMESPACES: tuple[str, ...] = ("kube-system", "kube-public", "kube-node-lease")


@dataclass(frozen=True, slots=True)
class DrainRules:
    """Pod-safety rules of drain-pod (the generic limits live in ``GuardPolicy``)."""

    min_healthy: int = 1
    protected_namespaces: tuple[str, ...] = DEFAULT_PROTECTED_NAMESPACES
    # Where the policy may act (its own namespace and the admin's write grants);
    # None: anywhere not protected (offline use).
    writable_namespaces: frozenset[str] | None = None

    def __post_init__(self) -> None:
        if self.min_healthy < 0:
            raise ValueError(f"min_healthy must be >= 0, got {self.min_healthy}")


def serving_siblings(*, pod: PodInfo, pods: Sequence[PodInfo]) -> int:
    """How many other pods of ``pod``'s workload serve traffic now.  Pure."""
    if pod.owner is None:
        return 0
    return sum(
        1
        for other in pods
        if other.uid != pod.uid
        and other.owner is not None
        and other.owner.uid == pod.owner.uid
        and other.serving
    )


def pod_safety(
    *, pod: PodInfo | None, target: str, pods: Sequence[PodInfo], rules: DrainRules
) -> Denied | None:
    """Why this pod must not be drained, or None.  Pure.

    ``pods`` are the pods of the pod's namespace (or at least its workload's).
    """
    if pod is None:
        return Denied(DenialCode.TARGET_NOT_FOUND, f"pod {target} does not exist")
    for pattern in rules.protected_namespaces:
        if fnmatch.fnmatchcase(pod.namespace, pattern):
            return Denied(
                DenialCode.PROTECTED_NAMESPACE,
                f"pod {pod.ref} is in protected namespace {pod.namespace} ({pattern})",
            )
    if rules.writable_namespaces is not None and pod.namespace not in rules.writable_namespaces:
        return Denied(
            DenialCode.OTHER_NAMESPACE,
            f"pod {pod.ref} is outside the namespaces this policy may act on "
            f"({', '.join(sorted(rules.writable_namespaces))}; the operator's admin grants "
            "others in tenancy.grants[].writeNamespaces)",
        )
    if pod.owner is None:
        return Denied(
            DenialCode.BARE_POD, f"pod {pod.ref} has no controller: nothing would replace it"
        )
    if pod.owner.kind == DAEMONSET_KIND:
        return Denied(
            DenialCode.DAEMONSET_POD,
            f"pod {pod.ref} belongs to DaemonSet {pod.owner.name}: one per node, never drained",
        )
    if pod.owner.kind not in REPLICATED_KINDS:
        return Denied(
            DenialCode.UNSUPPORTED_OWNER,
            f"pod {pod.ref} is controlled by {pod.owner.kind} {pod.owner.name}; "
            f"only {', '.join(sorted(REPLICATED_KINDS))} pods are drained",
        )
    remaining = serving_siblings(pod=pod, pods=pods)
    if remaining < rules.min_healthy:
        return Denied(
            DenialCode.MIN_HEALTHY,
            f"draining {pod.ref} would leave {remaining} serving pod(s) of "
            f"{pod.owner.kind} {pod.owner.name}, fewer than the minimum {rules.min_healthy}",
        )
    return None


def check_drain(  # noqa: PLR0913 (the guard's inputs plus the pod facts, keyword-only)
    *,
    action: DrainPod,
    pod: PodInfo | None,
    pods: Sequence[PodInfo],
    rules: DrainRules,
    policy: GuardPolicy,
    ledger: Sequence[LedgerEntry],
    now: float,
    key: str,
    approved: bool = False,
    unresolved: Denied | None = None,
) -> Verdict:
    """The verdict for draining one pod.  Pure (see the module docstring for the order).

    ``unresolved``: why the target names no single pod (``core.remediation.drain_target``);
    it is the answer in place of the pod-safety rules.
    """
    verdict = check(
        action=action, policy=policy, ledger=ledger, now=now, key=key, approved=approved
    )
    if isinstance(verdict, Denied) and verdict.code in (
        DenialCode.PAUSED,
        DenialCode.ALREADY_DONE,
    ):
        return verdict
    if unresolved is not None:
        return unresolved
    unsafe = pod_safety(pod=pod, target=f"{action.namespace}/{action.pod}", pods=pods, rules=rules)
    return unsafe if unsafe is not None else verdict


def quarantine_record(
    *,
    pod: PodInfo,
    selector_keys: Sequence[str],
    key: str,
    diagnosis: str,
    now: float,
    ttl_seconds: float | None,
) -> QuarantineRecord | None:
    """The record of quarantining ``pod``: the selector labels it carries, to be removed.

    ``selector_keys`` are the label keys of the selectors of the Services that select
    the pod.  None when no Service selects it (quarantine would change nothing).  Pure.
    """
    removed = {name: pod.labels[name] for name in sorted(set(selector_keys)) if name in pod.labels}
    if not removed:
        return None
    return QuarantineRecord(
        key=key,
        diagnosis=diagnosis,
        removed_labels=removed,
        at=now,
        until=None if ttl_seconds is None else now + ttl_seconds,
    )


def restored_labels(*, record: QuarantineRecord, labels: Mapping[str, str]) -> dict[str, str]:
    """Labels to put back on unquarantine: the removed ones not set again since.  Pure.

    A label someone set on the pod while it was quarantined wins over the record.
    """
    return {name: value for name, value in record.removed_labels.items() if name not in labels}


def quarantine_expired(*, record: QuarantineRecord, now: float) -> bool:
    """Has the quarantine's TTL run out?  Pure."""
    return record.until is not None and now >= record.until


def instance_host(instance: str) -> str:
    """The address of ``host:port`` / ``[v6]:port`` / a bare address.  Pure."""
    if instance.startswith("["):
        return instance[1:].partition("]")[0]
    if instance.count(":") == 1:
        return instance.partition(":")[0]
    return instance


def pod_of_instance(
    *, instance: str, pods: Sequence[PodInfo], selector: LabelSelector
) -> PodInfo | None:
    """The one pod ``selector`` selects whose IP is ``instance``'s address, else None.  Pure.

    Two selected pods with that IP (a pod and its replacement, say) name none:
    the drain is then denied as not found rather than aimed at a guess.
    """
    host = instance_host(instance)
    found = [pod for pod in pods if pod.pod_ip == host and selector.matches(pod.labels)]
    return found[0] if len(found) == 1 else None
