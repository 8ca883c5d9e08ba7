"""drain-pod on the real apiserver, under the operator's shipped RBAC.

Quarantine takes a pod out of its Service's EndpointSlice (the endpointslice
controller of kube-controller-manager does the removal) and the TTL gives it
back; eviction goes through the Eviction API with a server dry run first and a
PodDisruptionBudget that allows no disruption is reported, not retried; the pod
safety guards refuse bare, DaemonSet, protected-namespace and last-healthy pods.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from kubernetes import client

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.ledger import decode
from diagnosis_operator.models.actions import LedgerOutcome
from diagnosis_operator.service.remediate import (
    DiagnosisRef,
    DrainMethod,
    ExecutorSettings,
    remediate,
    restore_expired,
)
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.operator import OperatorInstall
from tests.e2e.drain_world import (
    ensure_node,
    live_pod,
    new_namespace,
    operator_ports,
    owner_object,
    ready_addresses,
    reset_ledger,
    wait_for,
    web_workload,
)
from tests.k8s_json import annotations_of, labels_of, metadata_of, request_body

pytestmark = pytest.mark.e2e


def policy(**drain: Any) -> DiagnosisPolicySpec:
    settings = {
        "enabled": True,
        "requireApproval": False,
        "cooldown": "10m",
        "budget": {"maxActions": 5, "window": "1h"},
        "ttl": "2m",
        **drain,
    }
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [{"name": "web", "kind": "app", "selector": {"job": "web"}}],
            "remediation": {"drainPod": settings},
        }
    )


def proposal(namespace: str, pod: str) -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=pod,
        state=RemediationState.PROPOSED,
        reason=f"{pod} answers 5xx while its siblings do not",
        params={"component": "web", "namespace": namespace, "pod": pod},
    )


def diagnosis(namespace: str) -> DiagnosisRef:
    return DiagnosisRef(namespace=namespace, name="checkout-5xx", uid=str(uuid.uuid4()))


@pytest.fixture
def core(kube_admin: client.ApiClient) -> client.CoreV1Api:
    api = client.CoreV1Api(kube_admin)
    ensure_node(api)
    return api


@pytest.fixture
def apps(kube_admin: client.ApiClient) -> client.AppsV1Api:
    return client.AppsV1Api(kube_admin)


@pytest.fixture
def ports(
    control_plane: ControlPlane, operator_install: OperatorInstall, core: client.CoreV1Api
) -> Any:
    reset_ledger(core, operator_install.namespace)
    return operator_ports(control_plane, operator_install)


def run(
    ports: Any,
    ref: DiagnosisRef,
    items: list[RemediationStatus],
    *,
    spec: DiagnosisPolicySpec | None = None,
    settings: ExecutorSettings | None = None,
    now: float | None = None,
) -> list[RemediationStatus]:
    cluster, ledger = ports
    return remediate(
        diagnosis=ref,
        policy=spec or policy(),
        remediations=items,
        cluster=cluster,
        ledger=ledger,
        now=time.time() if now is None else now,
        mode=Mode.REMEDIATE,
        record=lambda _items: None,
        settings=settings,
    )


def test_quarantined_pod_leaves_the_endpointslice_and_comes_back_after_the_ttl(
    core: client.CoreV1Api, apps: client.AppsV1Api, kube_admin: client.ApiClient, ports: Any
) -> None:
    namespace = new_namespace(core, "drain")
    web = web_workload(core, apps, namespace)
    discovery = client.DiscoveryV1Api(kube_admin)
    everyone = set(web.ips.values())
    wait_for(
        "all three pods in the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone,
    )

    ref = diagnosis(namespace)
    started = time.time()
    [item] = run(ports, ref, [proposal(namespace, "web-1")], now=started)
    assert item.state is RemediationState.SUCCEEDED, item.reason
    victim_ip = web.ips["web-1"]
    wait_for(
        "the quarantined pod to leave the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone - {victim_ip},
    )

    pod = core.read_namespaced_pod("web-1", namespace)
    assert pod.status is not None
    assert pod.status.phase == "Running", "the pod is kept for forensics"
    assert "app" not in labels_of(pod)
    assert labels_of(pod)["diagnosis.dev/quarantined"] == "true"
    assert '"removedLabels":{"app":"web"}' in annotations_of(pod)[
        "diagnosis.dev/quarantine"
    ].replace(" ", "")

    cluster, ledger = ports
    assert restore_expired(cluster=cluster, now=started + 60) == []  # TTL is 2m
    [restored] = restore_expired(cluster=cluster, now=started + 121)
    assert restored.pod == f"{namespace}/web-1"
    wait_for(
        "the pod to come back into the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone,
    )
    pod = core.read_namespaced_pod("web-1", namespace)
    assert labels_of(pod).get("app") == "web"
    assert "diagnosis.dev/quarantine" not in (metadata_of(pod).annotations or {})
    entry = decode(ledger.read().text).find(item.idempotency_key or "")
    assert entry is not None and entry.outcome is LedgerOutcome.EXECUTED
    reasons = {
        e.reason
        for e in core.list_namespaced_event(
            namespace, field_selector="involvedObject.name=web-1"
        ).items
    }
    assert {"RemediationStarted", "RemediationApplied", "QuarantineLifted"} <= reasons


def wait_pdb(policy_api: client.PolicyV1Api, namespace: str, name: str, allowed: int) -> None:
    def current() -> bool:
        pdb = policy_api.read_namespaced_pod_disruption_budget(name, namespace)
        status = pdb.status
        return bool(
            status is not None
            and status.observed_generation == metadata_of(pdb).generation
            and status.disruptions_allowed == allowed
        )

    wait_for(f"PDB {name} to allow {allowed} disruption(s)", current)


def test_eviction_blocked_by_a_pdb_is_reported_after_a_server_dry_run(
    core: client.CoreV1Api, apps: client.AppsV1Api, kube_admin: client.ApiClient, ports: Any
) -> None:
    namespace = new_namespace(core, "evict")
    web_workload(core, apps, namespace)
    policy_api = client.PolicyV1Api(kube_admin)
    policy_api.create_namespaced_pod_disruption_budget(
        namespace,
        request_body(
            {
                "apiVersion": "policy/v1",
                "kind": "PodDisruptionBudget",
                "metadata": {"name": "web"},
                "spec": {"minAvailable": 3, "selector": {"matchLabels": {"app": "web"}}},
            }
        ),
    )
    wait_pdb(policy_api, namespace, "web", 0)

    settings = ExecutorSettings(drain_method=DrainMethod.EVICT)
    ref = diagnosis(namespace)
    [item] = run(ports, ref, [proposal(namespace, "web-2")], settings=settings)
    assert item.state is RemediationState.FAILED
    assert item.reason.startswith("EvictionBlocked: the server dry run"), item.reason
    assert "HTTP 429" in item.reason and "not retried" in item.reason
    pod = core.read_namespaced_pod("web-2", namespace)
    assert metadata_of(pod).deletion_timestamp is None
    _cluster, ledger = ports
    entry = decode(ledger.read().text).find(item.idempotency_key or "")
    assert entry is not None and entry.outcome is LedgerOutcome.FAILED  # no budget spent

    # Reconciling again does not try the eviction again.
    [again] = run(ports, ref, [item], settings=settings)
    assert again.state is RemediationState.FAILED and again.reason == item.reason

    # Once the PDB allows a disruption, a new diagnosis evicts through the API.
    policy_api.patch_namespaced_pod_disruption_budget(
        "web", namespace, {"spec": {"minAvailable": 1}}
    )
    wait_pdb(policy_api, namespace, "web", 2)
    [evicted] = run(ports, diagnosis(namespace), [proposal(namespace, "web-2")], settings=settings)
    assert evicted.state is RemediationState.SUCCEEDED, evicted.reason

    def gone_or_terminating() -> bool:
        try:
            found = core.read_namespaced_pod("web-2", namespace)
        except client.ApiException as error:
            return bool(error.status == 404)
        return metadata_of(found).deletion_timestamp is not None

    wait_for("the evicted pod to go", gone_or_terminating)


def test_pod_safety_guards_on_real_objects(
    core: client.CoreV1Api, apps: client.AppsV1Api, ports: Any
) -> None:
    namespace = new_namespace(core, "guards")
    web_workload(core, apps, namespace, replicas=2)
    live_pod(core, namespace, "bare", labels={"app": "web"}, owner=None, ip="10.244.2.1")
    daemon = owner_object(apps, namespace, "DaemonSet", "agent")
    for index in range(3):
        live_pod(
            core,
            namespace,
            f"agent-{index}",
            labels={"app": "agent"},
            owner=daemon,
            ip=f"10.244.3.{index + 1}",
        )
    lonely = owner_object(apps, namespace, "ReplicaSet", "lonely")
    live_pod(core, namespace, "lonely-0", labels={"app": "web"}, owner=lonely, ip="10.244.4.1")
    live_pod(
        core,
        "kube-system",
        f"dns-{uuid.uuid4().hex[:5]}",
        labels={"app": "web"},
        owner=owner_object(apps, "kube-system", "ReplicaSet", f"dns-{uuid.uuid4().hex[:5]}"),
        ip="10.244.5.1",
    )
    system_pod = next(
        name
        for name in (metadata_of(p).name for p in core.list_namespaced_pod("kube-system").items)
        if name is not None and name.startswith("dns-")
    )
    ref = diagnosis(namespace)
    items = [
        proposal(namespace, "bare"),
        proposal(namespace, "agent-0"),
        proposal(namespace, "lonely-0"),
        proposal("kube-system", system_pod),
        proposal(namespace, "ghost"),
    ]
    results = run(ports, ref, items)
    codes = [r.reason.split(":", 1)[0] for r in results]
    assert [r.state for r in results] == [RemediationState.DENIED] * 5, [r.reason for r in results]
    assert codes == [
        "bare-pod",
        "daemonset-pod",
        "min-healthy",
        "protected-namespace",
        "target-not-found",
    ]
    for name in ("bare", "agent-0", "lonely-0"):
        assert "diagnosis.dev/quarantined" not in (
            metadata_of(core.read_namespaced_pod(name, namespace)).labels or {}
        )


def test_budget_and_cooldown_hold_across_diagnoses_in_the_real_ledger(
    core: client.CoreV1Api, apps: client.AppsV1Api, ports: Any
) -> None:
    namespace = new_namespace(core, "budget")
    web_workload(core, apps, namespace, replicas=5)
    spec = policy(budget={"maxActions": 2, "window": "1h"})
    now = time.time()
    first = run(ports, diagnosis(namespace), [proposal(namespace, "web-0")], spec=spec, now=now)
    second = run(ports, diagnosis(namespace), [proposal(namespace, "web-1")], spec=spec, now=now)
    third = run(ports, diagnosis(namespace), [proposal(namespace, "web-2")], spec=spec, now=now)
    assert [first[0].state, second[0].state] == [RemediationState.SUCCEEDED] * 2
    assert third[0].state is RemediationState.DENIED
    assert third[0].reason.startswith("budget-exhausted"), third[0].reason

    # The same pod, given back, is still cooling down for another diagnosis.
    cluster, _ = ports
    restore_expired(cluster=cluster, now=now + 3600)
    roomy = policy(budget={"maxActions": 10, "window": "1h"})
    [cooling] = run(
        ports, diagnosis(namespace), [proposal(namespace, "web-0")], spec=roomy, now=now + 120
    )
    assert cooling.state is RemediationState.DENIED
    assert cooling.reason.startswith("cooldown"), cooling.reason
