"""The executor against fakes: decide, reserve, record-before-act, apply once, restore."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.ledger import GlobalBudget, decode
from diagnosis_operator.core.remediation.verify import Better, SignalCheck
from diagnosis_operator.models.actions import LedgerOutcome
from diagnosis_operator.models.controls import approval_annotation, approval_value
from diagnosis_operator.models.tenancy import GuardCaps
from diagnosis_operator.service import metrics
from diagnosis_operator.service.remediate import (
    DiagnosisRef,
    DrainMethod,
    ExecutorSettings,
    follow_up,
    remediate,
    restore_expired,
)
from tests.fakes.cluster import FakeCluster, FakeDocumentStore, make_pod

NOW = 1_900_000_000.0
DIAGNOSIS = DiagnosisRef(namespace="shop", name="checkout-slow", uid="uid-123")


def _policy(**drain: Any) -> DiagnosisPolicySpec:
    settings = {
        "enabled": True,
        "requireApproval": False,
        "cooldown": "10m",
        "budget": {"maxActions": 3, "window": "1h"},
        "ttl": "5m",
        **drain,
    }
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [{"name": "web", "kind": "app", "selector": {"job": "web"}}],
            "remediation": {"drainPod": settings},
        }
    )


def _proposal(pod: str = "web-1") -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=pod,
        state=RemediationState.PROPOSED,
        reason=f"{pod} returns 5xx while its siblings do not",
        params={"component": "web", "namespace": "shop", "pod": pod},
    )


def _cluster(n: int = 3) -> FakeCluster:
    cluster = FakeCluster([make_pod(f"web-{i}") for i in range(1, n + 1)])
    cluster.selectors["shop"] = [{"app": "web"}]
    return cluster


class Recorder:
    def __init__(self) -> None:
        self.snapshots: list[list[RemediationStatus]] = []

    def __call__(self, items: list[RemediationStatus]) -> None:
        self.snapshots.append(items)

    @property
    def last(self) -> list[RemediationStatus]:
        return self.snapshots[-1]


def _run(
    cluster: FakeCluster,
    store: FakeDocumentStore,
    items: list[RemediationStatus],
    *,
    policy: DiagnosisPolicySpec | None = None,
    mode: Mode = Mode.REMEDIATE,
    now: float = NOW,
    diagnosis: DiagnosisRef = DIAGNOSIS,
    settings: ExecutorSettings | None = None,
    recorder: Recorder | None = None,
) -> list[RemediationStatus]:
    return remediate(
        diagnosis=diagnosis,
        policy=policy or _policy(),
        remediations=items,
        cluster=cluster,
        ledger=store,
        now=now,
        mode=mode,
        record=recorder or Recorder(),
        settings=settings,
    )


def test_quarantine_is_recorded_as_running_with_its_key_before_the_pod_is_patched() -> None:
    cluster, store, recorder = _cluster(), FakeDocumentStore(), Recorder()
    seen: list[RemediationStatus] = []
    cluster.on_quarantine = lambda _pod: seen.append(recorder.last[0])
    [done] = _run(cluster, store, [_proposal()], recorder=recorder)

    assert seen and seen[0].state is RemediationState.RUNNING
    assert seen[0].idempotency_key == done.idempotency_key and done.idempotency_key
    assert done.state is RemediationState.SUCCEEDED, done.reason
    pod = cluster.get_pod(namespace="shop", name="web-1")
    assert pod is not None and pod.quarantine is not None
    assert "app" not in pod.labels and pod.labels["diagnosis.dev/quarantined"] == "true"
    assert dict(pod.quarantine.removed_labels) == {"app": "web"}
    assert pod.quarantine.until == NOW + 300
    entry = decode(store.text).find(done.idempotency_key)
    assert entry is not None and entry.outcome is LedgerOutcome.EXECUTED
    assert entry.detail.startswith("applied: ")
    assert {"RemediationStarted", "RemediationApplied"} <= set(cluster.reasons())
    history = [h["state"] for h in done.params["executor"]["history"]]
    assert history == ["running", "succeeded"]


def test_dry_run_mode_changes_nothing_and_says_what_would_happen() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    [item] = _run(cluster, store, [_proposal()], mode=Mode.DRY_RUN)
    assert item.state is RemediationState.SKIPPED
    assert "would quarantine pod shop/web-1 (remove labels app=web)" in item.reason
    assert cluster.quarantine_patches == 0 and store.writes == 0
    assert item.idempotency_key


def test_a_policy_that_does_not_enable_drain_gives_a_dry_run() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    [item] = _run(cluster, store, [_proposal()], policy=_policy(enabled=False))
    assert item.state is RemediationState.SKIPPED and "not enabled" in item.reason
    assert cluster.quarantine_patches == 0


def test_observe_mode_does_nothing_at_all() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    proposal = _proposal()
    assert _run(cluster, store, [proposal], mode=Mode.OBSERVE) == [proposal]


def test_approval_is_read_from_the_annotation_and_recorded() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    policy = _policy(requireApproval=True)
    [waiting] = _run(cluster, store, [_proposal()], policy=policy)
    assert waiting.state is RemediationState.PROPOSED
    key = waiting.idempotency_key
    assert key is not None and f"kubectl diagnose approve checkout-slow {key}" in waiting.reason
    assert cluster.quarantine_patches == 0

    approved = DiagnosisRef(
        namespace="shop",
        name="checkout-slow",
        uid="uid-123",
        annotations={approval_annotation(key): approval_value(user="alice@example.org", at=NOW)},
    )
    [done] = _run(cluster, store, [waiting], policy=policy, diagnosis=approved, now=NOW + 60)
    assert done.state is RemediationState.SUCCEEDED
    assert done.approved_by == "alice@example.org"
    assert cluster.quarantine_patches == 1


def test_an_approval_for_another_key_does_not_count() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    wrong = DiagnosisRef(
        namespace="shop",
        name="checkout-slow",
        uid="uid-123",
        annotations={approval_annotation("0" * 32): approval_value(user="m", at=NOW)},
    )
    [item] = _run(
        cluster, store, [_proposal()], policy=_policy(requireApproval=True), diagnosis=wrong
    )
    assert item.state is RemediationState.PROPOSED and cluster.quarantine_patches == 0


def test_pause_switch_denies() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    cluster.is_paused = True
    [item] = _run(cluster, store, [_proposal()])
    assert item.state is RemediationState.DENIED and item.reason.startswith("paused")
    assert cluster.quarantine_patches == 0


def test_unsafe_target_is_denied_with_the_reason() -> None:
    cluster, store = _cluster(1), FakeDocumentStore()
    [item] = _run(cluster, store, [_proposal()])
    assert item.state is RemediationState.DENIED
    assert item.reason.startswith("min-healthy")
    assert "RemediationDenied" in cluster.reasons()


def test_max_pods_per_diagnosis_and_cooldown_across_diagnoses() -> None:
    cluster, store = _cluster(5), FakeDocumentStore()
    items = _run(cluster, store, [_proposal("web-1"), _proposal("web-2")])
    assert [i.state for i in items] == [RemediationState.SUCCEEDED, RemediationState.DENIED]
    assert items[1].reason.startswith("too-many-targets")
    # Another diagnosis wants the same pod within the cooldown.
    other = DiagnosisRef(namespace="shop", name="other", uid="uid-456")
    again = make_pod("web-1")  # the pod was given back and is serving again
    cluster.add(again)
    [cooling] = _run(cluster, store, [_proposal("web-1")], diagnosis=other, now=NOW + 60)
    assert cooling.state is RemediationState.DENIED and cooling.reason.startswith("cooldown")


def test_global_budget_denies_when_spent() -> None:
    cluster, store = _cluster(6), FakeDocumentStore()
    settings = ExecutorSettings(budget=GlobalBudget(max_actions=1))
    first = DiagnosisRef(namespace="shop", name="a", uid="uid-a")
    second = DiagnosisRef(namespace="shop", name="b", uid="uid-b")
    [done] = _run(cluster, store, [_proposal("web-1")], diagnosis=first, settings=settings)
    [denied] = _run(cluster, store, [_proposal("web-2")], diagnosis=second, settings=settings)
    assert done.state is RemediationState.SUCCEEDED
    assert denied.state is RemediationState.DENIED
    assert denied.reason.startswith("global-budget-exhausted")


def test_the_admins_caps_hold_a_generous_policy() -> None:
    """The policy allows 3 drains an hour with a 10m cooldown; the admin caps it at 1."""
    cluster, store = _cluster(6), FakeDocumentStore()
    settings = ExecutorSettings(caps=GuardCaps(max_actions_per_window=1))
    first = DiagnosisRef(namespace="shop", name="a", uid="uid-a")
    second = DiagnosisRef(namespace="shop", name="b", uid="uid-b")
    [done] = _run(cluster, store, [_proposal("web-1")], diagnosis=first, settings=settings)
    [denied] = _run(cluster, store, [_proposal("web-2")], diagnosis=second, settings=settings)
    assert done.state is RemediationState.SUCCEEDED
    assert denied.state is RemediationState.DENIED
    assert denied.reason.startswith("budget-exhausted") and "1 of 1" in denied.reason
    held = ExecutorSettings(caps=GuardCaps(disabled_reason="ConfigMap op/t cannot be read"))
    cluster = _cluster(6)
    [dry] = _run(cluster, FakeDocumentStore(), [_proposal("web-3")], settings=held)
    assert dry.state is RemediationState.SKIPPED
    assert "ConfigMap op/t cannot be read" in dry.reason
    assert cluster.quarantine_patches == 0


def test_a_pod_in_another_namespace_is_drained_only_where_the_admin_grants_it() -> None:
    cluster = FakeCluster([make_pod(f"web-{i}", namespace="billing") for i in (1, 2, 3)])
    cluster.selectors["billing"] = [{"app": "web"}]
    elsewhere = _proposal("web-1").model_copy(
        update={"params": {"component": "web", "namespace": "billing", "pod": "web-1"}}
    )
    [denied] = _run(cluster, FakeDocumentStore(), [elsewhere])
    assert denied.state is RemediationState.DENIED
    assert denied.reason.startswith("other-namespace") and "billing" in denied.reason
    assert cluster.quarantine_patches == 0
    granted = ExecutorSettings(write_grants={"shop": frozenset({"billing"})})
    [done] = _run(cluster, FakeDocumentStore(), [elsewhere], settings=granted)
    assert done.state is RemediationState.SUCCEEDED


class Crash(Exception):
    """Plays the SIGKILL: raised from the checkpoint, nothing after it runs."""


def _crash_at(step: str) -> ExecutorSettings:
    def checkpoint(reached: str, _key: str) -> None:
        if reached == step:
            raise Crash(step)

    return ExecutorSettings(checkpoint=checkpoint)


@pytest.mark.parametrize("status_survives", [True, False])
def test_a_crash_after_the_patch_neither_loses_nor_repeats_it(status_survives: bool) -> None:
    cluster, store, recorder = _cluster(), FakeDocumentStore(), Recorder()
    with pytest.raises(Crash):
        _run(cluster, store, [_proposal()], recorder=recorder, settings=_crash_at("after-apply"))
    assert cluster.quarantine_patches == 1
    persisted = recorder.last[0]
    assert persisted.state is RemediationState.RUNNING
    # On restart the handler may keep the status (running) or start over (proposed):
    # the ledger still knows the key was started.
    resumed = persisted if status_survives else _proposal()
    [done] = _run(cluster, store, [resumed], now=NOW + 5)
    assert done.state is RemediationState.SUCCEEDED
    assert "not repeated" in done.reason
    assert cluster.quarantine_patches == 1
    entry = decode(store.text).find(done.idempotency_key or "")
    assert entry is not None and entry.detail.startswith("applied: ")
    assert "RemediationRecovered" in cluster.reasons()


def test_a_crash_before_the_patch_applies_it_exactly_once_on_resume() -> None:
    cluster, store, recorder = _cluster(), FakeDocumentStore(), Recorder()
    with pytest.raises(Crash):
        _run(cluster, store, [_proposal()], recorder=recorder, settings=_crash_at("before-apply"))
    assert cluster.quarantine_patches == 0
    [done] = _run(cluster, store, [recorder.last[0]], now=NOW + 5)
    assert done.state is RemediationState.SUCCEEDED
    assert cluster.quarantine_patches == 1
    # The reservation was reused: one budget unit spent, not two.
    assert decode(store.text).used(now=NOW + 5, window_seconds=3600) == 1


def test_a_lifted_quarantine_is_not_reapplied_by_a_rerun() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    [done] = _run(cluster, store, [_proposal()])
    assert done.state is RemediationState.SUCCEEDED
    assert restore_expired(cluster=cluster, now=NOW + 301)
    [again] = _run(cluster, store, [_proposal()], now=NOW + 400)
    assert again.state is RemediationState.SUCCEEDED and "applied before" in again.reason
    assert cluster.quarantine_patches == 1


def test_eviction_blocked_by_a_pdb_is_reported_not_retried() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    cluster.blocked.add(("shop", "web-1"))
    settings = ExecutorSettings(drain_method=DrainMethod.EVICT)
    [item] = _run(cluster, store, [_proposal()], settings=settings)
    assert item.state is RemediationState.FAILED
    assert item.reason.startswith("EvictionBlocked") and "HTTP 429" in item.reason
    assert "not retried" in item.reason
    assert cluster.evictions == [("shop", "web-1", True)]  # only the server dry run
    entry = decode(store.text).find(item.idempotency_key or "")
    assert entry is not None and entry.outcome is LedgerOutcome.FAILED  # no budget spent
    # A later reconcile does not blindly try again.
    [still] = _run(cluster, store, [item], settings=settings, now=NOW + 30)
    assert still.state is RemediationState.FAILED and len(cluster.evictions) == 1


def test_eviction_runs_a_server_dry_run_first() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    settings = ExecutorSettings(drain_method=DrainMethod.EVICT)
    [item] = _run(cluster, store, [_proposal()], settings=settings)
    assert item.state is RemediationState.SUCCEEDED
    assert cluster.evictions == [("shop", "web-1", True), ("shop", "web-1", False)]


def test_ttl_restore_gives_the_labels_back() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    _run(cluster, store, [_proposal()])
    assert restore_expired(cluster=cluster, now=NOW + 299) == []
    [restored] = restore_expired(cluster=cluster, now=NOW + 300)
    assert restored.pod == "shop/web-1" and "TTL" in restored.why
    pod = cluster.get_pod(namespace="shop", name="web-1")
    assert pod is not None and pod.quarantine is None
    assert pod.labels.get("app") == "web" and "diagnosis.dev/quarantined" not in pod.labels


def test_a_resolved_diagnosis_lifts_its_quarantine_before_the_ttl() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    _run(cluster, store, [_proposal()])
    assert (
        restore_expired(cluster=cluster, now=NOW + 10, resolved=lambda d: d == "shop/other") == []
    )
    [restored] = restore_expired(
        cluster=cluster, now=NOW + 10, resolved=lambda d: d == "shop/checkout-slow"
    )
    assert "resolved" in restored.why


@pytest.mark.parametrize(
    ("after", "expected_state", "event"),
    [
        (0.9, RemediationState.ROLLED_BACK, "RemediationRolledBack"),  # worse: roll back
        (0.0, RemediationState.SUCCEEDED, "RemediationVerified"),
        (None, RemediationState.SUCCEEDED, "RemediationEscalated"),  # no data: escalate
    ],
)
def test_follow_up_keeps_rolls_back_or_escalates(
    after: float | None, expected_state: RemediationState, event: str
) -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    items = _run(cluster, store, [_proposal()])
    check = SignalCheck(
        name="5xx ratio", before=0.3, after=after, better=Better.LOWER, healthy=0.01
    )
    [item] = follow_up(
        diagnosis=DIAGNOSIS,
        remediations=items,
        checks=lambda _i: [check],
        cluster=cluster,
        now=NOW + 120,
        record=Recorder(),
    )
    assert item.state is expected_state
    assert event in cluster.reasons()
    pod = cluster.get_pod(namespace="shop", name="web-1")
    assert pod is not None
    assert (pod.quarantine is None) == (expected_state is RemediationState.ROLLED_BACK)


def test_actions_without_a_connection_are_skipped_with_a_reason() -> None:
    cluster, store = _cluster(), FakeDocumentStore()
    kill = RemediationStatus(
        action=RemediationAction.KILL_MYSQL_QUERIES,
        target="db",
        state=RemediationState.PROPOSED,
        reason="slow queries",
    )
    [item] = _run(cluster, store, [kill])
    assert item.state is RemediationState.SKIPPED and "no MySQL connection" in item.reason


def _count(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_skeleton_counts_applied_dry_run_and_denied_actions() -> None:
    """Metrics are recorded where the work happens: once per outcome, by action and code."""
    applied = _count("diagnosis_operator_actions_total", action="drain-pod", outcome="applied")
    dry = _count("diagnosis_operator_actions_total", action="drain-pod", outcome="dry-run")
    paused = _count("diagnosis_operator_guard_denials_total", action="drain-pod", reason="paused")
    _run(_cluster(), FakeDocumentStore(), [_proposal()])
    _run(_cluster(), FakeDocumentStore(), [_proposal()], mode=Mode.DRY_RUN)
    cluster = _cluster()
    cluster.is_paused = True
    _run(cluster, FakeDocumentStore(), [_proposal()])
    assert (
        _count("diagnosis_operator_actions_total", action="drain-pod", outcome="applied")
        == applied + 1
    )
    assert (
        _count("diagnosis_operator_actions_total", action="drain-pod", outcome="dry-run") == dry + 1
    )
    assert (
        _count("diagnosis_operator_guard_denials_total", action="drain-pod", reason="paused")
        == paused + 1
    )


def _by_address(pod_selector: dict[str, Any] | None) -> DiagnosisPolicySpec:
    component: dict[str, Any] = {"name": "web", "kind": "app", "selector": {"job": "web"}}
    if pod_selector is not None:
        component["podSelector"] = pod_selector
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [component],
            "remediation": {"drainPod": {"enabled": True, "requireApproval": False}},
        }
    )


def _addressed_cluster() -> FakeCluster:
    pods = [dataclasses.replace(make_pod(f"web-{i}"), pod_ip=f"10.1.0.{i}") for i in range(1, 4)]
    # Another workload's pod on the same address (host network, a stale pod): not selected.
    pods.append(
        dataclasses.replace(make_pod("batch-1", labels={"app": "batch"}), pod_ip="10.1.0.2")
    )
    cluster = FakeCluster(pods)
    cluster.selectors["shop"] = [{"app": "web"}]
    return cluster


def _address_proposal() -> RemediationStatus:
    # What the planner proposes when the series carry no pod label: the instance.
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target="10.1.0.2:8080",
        state=RemediationState.PROPOSED,
        reason="10.1.0.2:8080 returns 5xx while its siblings do not",
        params={"component": "web", "instance": "10.1.0.2:8080"},
    )


def test_pod_selector_finds_the_pod_of_an_instance_known_by_address() -> None:
    cluster = _addressed_cluster()
    policy = _by_address({"matchLabels": {"app": "web"}})
    [item] = _run(cluster, FakeDocumentStore(), [_address_proposal()], policy=policy)
    assert item.state is RemediationState.SUCCEEDED, item.reason
    assert cluster.pods[("shop", "web-2")].quarantine is not None
    assert cluster.pods[("shop", "batch-1")].quarantine is None
    assert item.params["executor"]["podName"] == "web-2"


def test_without_pod_selector_an_address_names_no_pod() -> None:
    cluster = _addressed_cluster()
    [item] = _run(cluster, FakeDocumentStore(), [_address_proposal()], policy=_by_address(None))
    assert item.state is RemediationState.DENIED
    assert "does not exist" in item.reason
    assert all(pod.quarantine is None for pod in cluster.pods.values())


@pytest.mark.parametrize("status_survives", [True, False])
def test_a_drain_by_address_resumes_on_the_same_pod(status_survives: bool) -> None:
    cluster, store, recorder = _addressed_cluster(), FakeDocumentStore(), Recorder()
    policy = _by_address({"matchLabels": {"tier": "front"}})
    with pytest.raises(Crash):
        _run(
            cluster,
            store,
            [_address_proposal()],
            policy=policy,
            recorder=recorder,
            settings=_crash_at("before-apply"),
        )
    assert recorder.last[0].params["executor"]["podName"] == "web-2"
    resumed = recorder.last[0] if status_survives else _address_proposal()
    [done] = _run(cluster, store, [resumed], policy=policy, now=NOW + 5)
    assert done.state is RemediationState.SUCCEEDED, done.reason
    assert cluster.quarantine_patches == 1
    assert cluster.pods[("shop", "web-2")].quarantine is not None
