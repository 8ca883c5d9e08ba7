"""A small world of pods on the real apiserver for the drain / ledger / restart tests.

There is no kubelet: pods are created already bound to a Node object and their
status is patched to Running/Ready with a podIP, which is all the EndpointSlice
and disruption controllers of kube-controller-manager need.  Workload objects
(ReplicaSet, DaemonSet) exist only as owners: no replicaset controller runs.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from kubernetes import client

from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument, KubernetesCluster
from tests.controlplane.cluster import ControlPlane
from tests.controlplane.operator import OperatorInstall
from tests.k8s_json import metadata_of, request_body

T = TypeVar("T")
WAIT = 60.0
NODE = "e2e-node-a"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.3)


def ensure_node(core: client.CoreV1Api) -> None:
    try:
        core.create_node(client.V1Node(metadata=client.V1ObjectMeta(name=NODE)))
    except client.ApiException as error:
        if error.status != 409:
            raise


def new_namespace(core: client.CoreV1Api, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def owner_object(apps: client.AppsV1Api, namespace: str, kind: str, name: str) -> dict[str, Any]:
    """A ReplicaSet or DaemonSet that only serves as the pods' controller owner."""
    labels = {"app": name}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "app.invalid/app:1"}]},
    }
    if kind == "ReplicaSet":
        body = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"replicas": 0, "selector": {"matchLabels": labels}, "template": template},
        }
        uid = metadata_of(apps.create_namespaced_replica_set(namespace, request_body(body))).uid
    else:
        body = {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": labels}, "template": template},
        }
        uid = metadata_of(apps.create_namespaced_daemon_set(namespace, request_body(body))).uid
    return {"kind": kind, "name": name, "uid": uid}


def live_pod(
    core: client.CoreV1Api,
    namespace: str,
    name: str,
    *,
    labels: dict[str, str],
    owner: dict[str, Any] | None,
    ip: str,
) -> None:
    """Create a pod bound to the node and make it look Running and Ready."""
    meta: dict[str, Any] = {"name": name, "labels": labels}
    if owner is not None:
        meta["ownerReferences"] = [
            {
                "apiVersion": "apps/v1",
                "kind": owner["kind"],
                "name": owner["name"],
                "uid": owner["uid"],
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    core.create_namespaced_pod(
        namespace,
        request_body(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": meta,
                "spec": {
                    "nodeName": NODE,
                    "containers": [
                        {
                            "name": "app",
                            "image": "app.invalid/app:1",
                            "ports": [{"containerPort": 8080}],
                        }
                    ],
                },
            }
        ),
    )
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    core.patch_namespaced_pod_status(
        name,
        namespace,
        {
            "status": {
                "phase": "Running",
                "podIP": ip,
                "podIPs": [{"ip": ip}],
                "hostIP": "10.0.9.1",
                "startTime": now,
                "conditions": [
                    {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
                    {"type": "Initialized", "status": "True", "lastTransitionTime": now},
                    {"type": "ContainersReady", "status": "True", "lastTransitionTime": now},
                    {"type": "Ready", "status": "True", "lastTransitionTime": now},
                ],
                "containerStatuses": [
                    {
                        "name": "app",
                        "ready": True,
                        "restartCount": 0,
                        "image": "app.invalid/app:1",
                        "imageID": "",
                        "state": {"running": {"startedAt": now}},
                    }
                ],
            }
        },
    )


def service(core: client.CoreV1Api, namespace: str, name: str, selector: dict[str, str]) -> None:
    core.create_namespaced_service(
        namespace,
        request_body(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": selector, "ports": [{"port": 80, "targetPort": 8080}]},
            }
        ),
    )


def ready_addresses(
    discovery: client.DiscoveryV1Api, namespace: str, service_name: str
) -> set[str]:
    slices = discovery.list_namespaced_endpoint_slice(
        namespace, label_selector=f"kubernetes.io/service-name={service_name}"
    )
    found: set[str] = set()
    for item in slices.items:
        for endpoint in item.endpoints or []:
            if endpoint.conditions is None or endpoint.conditions.ready is not False:
                found.update(endpoint.addresses)
    return found


@dataclass
class Workload:
    namespace: str
    owner: dict[str, Any]
    pods: list[str]
    ips: dict[str, str]


def web_workload(
    core: client.CoreV1Api,
    apps: client.AppsV1Api,
    namespace: str,
    *,
    replicas: int = 3,
    name: str = "web",
    subnet: int = 1,
) -> Workload:
    owner = owner_object(apps, namespace, "ReplicaSet", f"{name}-rs")
    pods, ips = [], {}
    for index in range(replicas):
        pod = f"{name}-{index}"
        ip = f"10.244.{subnet}.{index + 10}"
        live_pod(core, namespace, pod, labels={"app": name, "tier": "front"}, owner=owner, ip=ip)
        pods.append(pod)
        ips[pod] = ip
    service(core, namespace, name, {"app": name})
    return Workload(namespace=namespace, owner=owner, pods=pods, ips=ips)


def operator_client(plane: ControlPlane, install: OperatorInstall) -> client.ApiClient:
    """An API client with the operator's ServiceAccount token (its shipped RBAC only)."""
    return plane.api_client(token=install.token)


def operator_ports(
    plane: ControlPlane, install: OperatorInstall
) -> tuple[KubernetesCluster, ConfigMapDocument]:
    api = operator_client(plane, install)
    return (
        KubernetesCluster(api_client=api, operator_namespace=install.namespace),
        ConfigMapDocument(api_client=api, namespace=install.namespace),
    )


def reset_ledger(core_admin: client.CoreV1Api, namespace: str) -> None:
    try:
        core_admin.delete_namespaced_config_map("diagnosis-operator-ledger", namespace)
    except client.ApiException as error:
        if error.status != 404:
            raise
