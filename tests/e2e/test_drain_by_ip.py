"""A drain that names only the instance address, on the real apiserver, under the chart's RBAC.

The engine names a degraded instance as the metrics do (``10.244.3.11:8080``) when
no ``pod`` label says which pod it is: the executor finds the pod by
``status.podIP`` in the policy's namespace, quarantines it (the endpointslice
controller of kube-controller-manager drops it from its Service's EndpointSlice),
and the TTL gives the same pod back.  A pod of another namespace with the same
address is never touched.  An IPv6 target (``[FD00:...::B]:8080``, not in normal
form) finds its pod the same way.
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
from diagnosis_operator.service.remediate import DiagnosisRef, lift_due, remediate
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
    service,
    wait_for,
    web_workload,
)
from tests.k8s_json import labels_of

pytestmark = pytest.mark.e2e


def _policy(namespace: str) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {
                    "name": "web",
                    "kind": "app",
                    "namespace": namespace,
                    "selector": {"job": "web"},
                }
            ],
            "remediation": {"drainPod": {"enabled": True, "requireApproval": False, "ttl": "2m"}},
        }
    )


def _as_the_engine_proposes(instance: str) -> RemediationStatus:
    # core/diagnosis/plan.py: the target is the instance; no pod label, no namespace
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=instance,
        state=RemediationState.PROPOSED,
        reason=f"{instance} of web is degraded while its siblings are not",
        params={"component": "web", "instance": instance},
    )


def test_the_pod_is_found_by_its_ip_and_leaves_the_endpointslice(
    control_plane: ControlPlane, operator_install: OperatorInstall, kube_admin: client.ApiClient
) -> None:
    core, apps = client.CoreV1Api(kube_admin), client.AppsV1Api(kube_admin)
    discovery = client.DiscoveryV1Api(kube_admin)
    ensure_node(core)
    reset_ledger(core, operator_install.namespace)
    namespace, twin = new_namespace(core, "byip"), new_namespace(core, "byip-twin")
    web = web_workload(core, apps, namespace, subnet=3)
    # the same addresses in another namespace: not in the policy's namespace, never drained
    web_workload(core, apps, twin, subnet=3)
    everyone = set(web.ips.values())
    wait_for(
        "three pods in the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone,
    )

    victim = "web-1"
    instance = f"{web.ips[victim]}:8080"
    ref = DiagnosisRef(namespace=namespace, name="web-5xx", uid=str(uuid.uuid4()))
    cluster, ledger = operator_ports(control_plane, operator_install)
    started = time.time()
    [item] = remediate(
        diagnosis=ref,
        policy=_policy(namespace),
        remediations=[_as_the_engine_proposes(instance)],
        cluster=cluster,
        ledger=ledger,
        now=started,
        mode=Mode.REMEDIATE,
        record=lambda _items: None,
    )
    assert item.state is RemediationState.SUCCEEDED, item.reason
    assert item.params["executor"]["podName"] == victim
    wait_for(
        "the pod with the instance's IP to leave the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone - {web.ips[victim]},
    )
    assert labels_of(core.read_namespaced_pod(victim, namespace))["diagnosis.dev/quarantined"]
    assert "diagnosis.dev/quarantined" not in labels_of(core.read_namespaced_pod(victim, twin))

    [lifted] = lift_due(
        diagnosis=ref, remediations=[item], cluster=cluster, now=started + 121, record=_ignore
    )
    assert "quarantine lifted because its TTL ran out" in lifted.reason
    wait_for(
        "the pod to come back into the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, "web") == everyone,
    )


def _ignore(_items: Any) -> None:
    return None


def test_an_ipv6_instance_names_its_pod_too(
    control_plane: ControlPlane, operator_install: OperatorInstall, kube_admin: client.ApiClient
) -> None:
    core, apps = client.CoreV1Api(kube_admin), client.AppsV1Api(kube_admin)
    ensure_node(core)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "byip6")
    owner = owner_object(apps, namespace, "ReplicaSet", "web-rs")
    for index, ip in enumerate(("fd00:10:244::a", "fd00:10:244::b")):
        live_pod(core, namespace, f"web-{index}", labels={"app": "web"}, owner=owner, ip=ip)
    service(core, namespace, "web", {"app": "web"})

    cluster, ledger = operator_ports(control_plane, operator_install)
    ref = DiagnosisRef(namespace=namespace, name="web-5xx", uid=str(uuid.uuid4()))
    started = time.time()
    [item] = remediate(
        diagnosis=ref,
        policy=_policy(namespace),
        # as Prometheus writes an IPv6 target, not in normal form
        remediations=[_as_the_engine_proposes("[FD00:10:244:0::B]:8080")],
        cluster=cluster,
        ledger=ledger,
        now=started,
        mode=Mode.REMEDIATE,
        record=_ignore,
    )
    assert item.state is RemediationState.SUCCEEDED, item.reason
    assert item.params["executor"]["podName"] == "web-1"
    assert labels_of(core.read_namespaced_pod("web-1", namespace))["diagnosis.dev/quarantined"]
    assert "diagnosis.dev/quarantined" not in labels_of(
        core.read_namespaced_pod("web-0", namespace)
    )
    # given back (no quarantine outlives the test: other tests sweep every namespace)
    [lifted] = lift_due(
        diagnosis=ref, remediations=[item], cluster=cluster, now=started + 121, record=_ignore
    )
    assert "quarantine lifted" in lifted.reason
