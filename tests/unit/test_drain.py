"""Pure drain guards: pod safety, then the generic guards (budget, cooldown, approval)."""

from __future__ import annotations

import dataclasses

import pytest

from diagnosis_operator.core.remediation.drain import (
    DrainRules,
    check_drain,
    quarantine_expired,
    quarantine_record,
    restored_labels,
    serving_siblings,
)
from diagnosis_operator.models.actions import (
    ActionPolicy,
    Allowed,
    DenialCode,
    Denied,
    DrainPod,
    GuardPolicy,
    LedgerEntry,
    LedgerOutcome,
    action_key,
)
from diagnosis_operator.models.cluster import Owner, PodInfo, QuarantineRecord
from diagnosis_operator.models.findings import ActionType
from tests.fakes.cluster import make_pod

NOW = 1_900_000_000.0
ENABLED = GuardPolicy(
    drain_pod=ActionPolicy(
        enabled=True,
        require_approval=False,
        max_per_window=2,
        window_seconds=3600,
        cooldown_seconds=600,
    )
)


def _action(pod: str = "web-1", namespace: str = "shop") -> DrainPod:
    return DrainPod(component="web", namespace=namespace, pod=pod, reason="degraded")


def _verdict(
    pod: PodInfo | None,
    pods: list[PodInfo],
    *,
    rules: DrainRules | None = None,
    policy: GuardPolicy = ENABLED,
    ledger: tuple[LedgerEntry, ...] = (),
    approved: bool = False,
    action: DrainPod | None = None,
) -> Allowed | Denied:
    chosen = action or _action(pod.name if pod else "web-1", pod.namespace if pod else "shop")
    return check_drain(
        action=chosen,
        pod=pod,
        pods=pods,
        rules=rules or DrainRules(min_healthy=1),
        policy=policy,
        ledger=ledger,
        now=NOW,
        key=action_key(diagnosis_uid="d-1", action=chosen),
        approved=approved,
    )


def _web(n: int) -> list[PodInfo]:
    return [make_pod(f"web-{i}") for i in range(1, n + 1)]


def test_a_replicated_pod_with_healthy_siblings_may_be_drained() -> None:
    pods = _web(3)
    verdict = _verdict(pods[0], pods)
    assert verdict == Allowed(dry_run=False, reason="all guards passed")


def test_min_healthy_counts_only_serving_siblings_of_the_same_workload() -> None:
    other_rs = Owner(kind="ReplicaSet", name="api-1", uid="other")
    pods = [
        make_pod("web-1"),
        make_pod("web-2", ready=False),
        dataclasses.replace(make_pod("web-3"), deleting=True),
        make_pod("api-1", owner=other_rs),
    ]
    assert serving_siblings(pod=pods[0], pods=pods) == 0
    verdict = _verdict(pods[0], pods)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.MIN_HEALTHY
    assert "leave 0 serving pod(s)" in verdict.reason
    # One more healthy sibling is enough for min_healthy=1, not for 2.
    pods.append(make_pod("web-4"))
    assert isinstance(_verdict(pods[0], pods), Allowed)
    strict = _verdict(pods[0], pods, rules=DrainRules(min_healthy=2))
    assert isinstance(strict, Denied) and strict.code is DenialCode.MIN_HEALTHY


def test_a_quarantined_sibling_does_not_count_as_healthy() -> None:
    record = QuarantineRecord(
        key="k", diagnosis="shop/d", removed_labels={"app": "web"}, at=NOW, until=None
    )
    pods = [make_pod("web-1"), dataclasses.replace(make_pod("web-2"), quarantine=record)]
    verdict = _verdict(pods[0], pods)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.MIN_HEALTHY


@pytest.mark.parametrize(
    ("owner", "code"),
    [
        (None, DenialCode.BARE_POD),
        (Owner(kind="DaemonSet", name="node-agent", uid="ds"), DenialCode.DAEMONSET_POD),
        (Owner(kind="Job", name="batch", uid="job"), DenialCode.UNSUPPORTED_OWNER),
    ],
)
def test_bare_daemonset_and_job_pods_are_refused(owner: Owner | None, code: DenialCode) -> None:
    pod = make_pod("web-1", owner=owner)
    siblings = [pod, *(make_pod(f"x-{i}", owner=owner) for i in range(3))]
    verdict = _verdict(pod, siblings)
    assert isinstance(verdict, Denied) and verdict.code is code


def test_statefulset_pods_qualify() -> None:
    sts = Owner(kind="StatefulSet", name="db", uid="sts")
    pods = [make_pod(f"db-{i}", owner=sts) for i in range(3)]
    assert isinstance(_verdict(pods[0], pods), Allowed)


@pytest.mark.parametrize("namespace", ["kube-system", "kube-public", "kube-node-lease"])
def test_protected_namespaces_are_refused_by_default(namespace: str) -> None:
    pods = [make_pod(f"web-{i}", namespace=namespace) for i in range(3)]
    verdict = _verdict(pods[0], pods)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.PROTECTED_NAMESPACE


def test_protected_namespaces_are_configurable_globs() -> None:
    pods = [make_pod(f"web-{i}", namespace="platform-ingress") for i in range(3)]
    rules = DrainRules(min_healthy=1, protected_namespaces=("platform-*",))
    verdict = _verdict(pods[0], pods, rules=rules)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.PROTECTED_NAMESPACE
    assert isinstance(_verdict(pods[0], pods, rules=DrainRules(protected_namespaces=())), Allowed)


def test_a_missing_pod_is_refused() -> None:
    verdict = _verdict(None, [])
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.TARGET_NOT_FOUND


def _executed(target: str, at: float, key: str = "other") -> LedgerEntry:
    return LedgerEntry(
        key=key,
        action=ActionType.DRAIN_POD,
        targets=(target,),
        at=at,
        outcome=LedgerOutcome.EXECUTED,
    )


def test_cooldown_and_budget_come_from_the_generic_guard() -> None:
    pods = _web(4)
    cooling = _verdict(pods[0], pods, ledger=(_executed("shop/web-1", NOW - 60),))
    assert isinstance(cooling, Denied) and cooling.code is DenialCode.COOLDOWN
    spent = (_executed("shop/web-2", NOW - 900, "a"), _executed("shop/web-3", NOW - 800, "b"))
    budget = _verdict(pods[0], pods, ledger=spent)
    assert isinstance(budget, Denied) and budget.code is DenialCode.BUDGET_EXHAUSTED
    # Outside the window the budget is free again.
    old = (_executed("shop/web-2", NOW - 7200, "a"), _executed("shop/web-3", NOW - 7100, "b"))
    assert isinstance(_verdict(pods[0], pods, ledger=old), Allowed)


def test_unsafe_pods_are_refused_before_asking_for_approval() -> None:
    policy = GuardPolicy(drain_pod=ActionPolicy(enabled=True, require_approval=True))
    pods = _web(3)
    waiting = _verdict(pods[0], pods, policy=policy)
    assert isinstance(waiting, Denied) and waiting.code is DenialCode.APPROVAL_REQUIRED
    assert isinstance(_verdict(pods[0], pods, policy=policy, approved=True), Allowed)
    bare = make_pod("web-1", owner=None)
    unsafe = _verdict(bare, [bare, *pods[1:]], policy=policy)
    assert isinstance(unsafe, Denied) and unsafe.code is DenialCode.BARE_POD


def test_pause_wins_over_everything() -> None:
    policy = GuardPolicy(paused=True, drain_pod=ENABLED.drain_pod)
    verdict = _verdict(make_pod("web-1", owner=None), [], policy=policy)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.PAUSED


def test_a_disabled_action_is_a_dry_run_after_the_safety_checks() -> None:
    pods = _web(3)
    verdict = _verdict(pods[0], pods, policy=GuardPolicy())
    assert isinstance(verdict, Allowed) and verdict.dry_run


def test_quarantine_record_removes_only_selector_labels_the_pod_has() -> None:
    pod = make_pod("web-1", labels={"app": "web", "tier": "front", "version": "v2"})
    record = quarantine_record(
        pod=pod,
        selector_keys=("app", "zone"),
        key="k",
        diagnosis="shop/d",
        now=NOW,
        ttl_seconds=300,
    )
    assert record is not None
    assert dict(record.removed_labels) == {"app": "web"}
    assert record.until == NOW + 300
    assert (
        quarantine_record(
            pod=pod, selector_keys=("zone",), key="k", diagnosis="shop/d", now=NOW, ttl_seconds=None
        )
        is None
    )
    assert not quarantine_expired(record=record, now=NOW + 299)
    assert quarantine_expired(record=record, now=NOW + 300)
    # A label set again by someone during the quarantine is not overwritten.
    assert restored_labels(record=record, labels={"tier": "front"}) == {"app": "web"}
    assert restored_labels(record=record, labels={"app": "canary"}) == {}


def test_quarantine_record_round_trips_and_rejects_garbage() -> None:
    record = QuarantineRecord(
        key="k1", diagnosis="shop/d", removed_labels={"app": "web"}, at=NOW, until=None
    )
    assert QuarantineRecord.from_json(record.to_json()) == record
    with pytest.raises(ValueError, match="removedLabels"):
        QuarantineRecord.from_json('{"key": "k", "at": 1, "removedLabels": {"a": 1}}')
    with pytest.raises(ValueError, match="not JSON"):
        QuarantineRecord.from_json("{")
