"""The lab's backends as Pods behind a Service, and nginx's upstream synced from it.

A cluster has what the lab lacks: Pods with addresses, a Service selecting them,
EndpointSlices kept by kube-controller-manager, and an ingress controller that
renders the proxy's upstream from those slices.  Here, on the test apiserver:

* each backend process (``127.0.0.11``...) is a Pod bound to a Node, patched
  Running and Ready (there is no kubelet), whose ``status.podIP`` is its address
  on the lab's pod network (``pod_ip``).  The apiserver refuses loopback addresses
  in EndpointSlices ("may not be in the loopback range"), so the pod network is
  ``POD_NETWORK``, one address per backend with the loopback address' last byte,
  and this machine reaches a pod at its loopback twin (``loopback_of``), as a node
  reaches pods through its CNI.  The lab is started with these pod addresses
  (``start_lab(pod_ips=...)``): Prometheus, Loki and nginx's access log name a
  backend by its pod, as a cluster's discovery would;
* a Service ``api`` selects them; the endpointslice controller keeps its slices;
* ``UpstreamSync`` plays the ingress controller: it polls the Service's
  EndpointSlices, renders nginx's upstream from the ready endpoints (each at its
  loopback twin) and reloads nginx when that changes.  A pod the operator drains
  leaves the slice, then nginx's upstream.
"""

from __future__ import annotations

import ipaddress
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from kubernetes import client

from tests.controlplane.cluster import ControlPlane, start_process
from tests.controlplane.operator import apply_objects, rendered_objects
from tests.e2e.drain_world import ensure_node, live_pod, owner_object, ready_addresses, service
from tests.k8s_json import minted_token
from tests.lab import config as lab_config
from tests.lab.config import RULES_DIR
from tests.lab.stack import BACKEND_HOSTS, Lab
from tests.services.nginx import NginxServer

POD_NETWORK = ipaddress.ip_network("10.88.0.0/24")
SERVICE = "api"
POD_LABELS = {"app": "api", "tier": "backend"}
CONFIGMAP = "lab-edge-rules"  # the operator's nginx rules, delivered by the reloader
DELETE_WAIT = 240.0  # a deadline for failing, not a measured threshold


def pod_ip(host: str) -> str:
    """The pod address of the backend at loopback ``host`` (same last byte)."""
    last = int(ipaddress.ip_address(host)) & 0xFF
    return str(POD_NETWORK.network_address + last)


def loopback_of(address: str) -> str:
    """The loopback twin of a pod address of ``POD_NETWORK``; ValueError for any other."""
    ip = ipaddress.ip_address(address)
    if ip not in POD_NETWORK:
        raise ValueError(f"{address} is not on the lab's pod network {POD_NETWORK}")
    return f"127.0.0.{int(ip) & 0xFF}"


def pod_ips() -> dict[str, str]:
    """``start_lab(pod_ips=...)``: every backend host and its pod address."""
    return {host: pod_ip(host) for host in BACKEND_HOSTS}


def backend_pods(
    core: client.CoreV1Api, apps: client.AppsV1Api, namespace: str, hosts: Iterable[str]
) -> dict[str, str]:
    """Pods for the backends at loopback ``hosts`` (a ReplicaSet owns them) and the Service;
    pod name -> pod IP."""
    ensure_node(core)
    owner = owner_object(apps, namespace, "ReplicaSet", "api-rs")
    pods: dict[str, str] = {}
    for host in hosts:
        name = f"api-{host.rsplit('.', 1)[1]}"
        live_pod(core, namespace, name, labels=POD_LABELS, owner=owner, ip=pod_ip(host))
        pods[name] = pod_ip(host)
    service(core, namespace, SERVICE, {"app": "api"})
    return pods


@dataclass
class UpstreamSync:
    """The ingress controller's part: EndpointSlices -> nginx upstream -> reload."""

    discovery: client.DiscoveryV1Api
    namespace: str
    nginx: NginxServer
    port: int  # the backends' port (one for all, as a Service's targetPort)
    interval: float = 0.5
    history: list[tuple[float, frozenset[str]]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def served(self) -> frozenset[str]:
        """The pod addresses nginx's upstream holds now (empty before the first sync)."""
        return self.history[-1][1] if self.history else frozenset()

    def sync_once(self) -> bool:
        """Render and reload when the ready endpoints changed; True when it did."""
        ready = frozenset(ready_addresses(self.discovery, self.namespace, SERVICE))
        if self.history and ready == self.served():
            return False
        names: Mapping[str, str] = {
            f"{loopback_of(address)}:{self.port}": f"{address}:{self.port}"
            for address in sorted(ready)
        }
        for name, text in lab_config.upstream_files(list(names), dict(names)).items():
            self.nginx.write(name, text)
        self.nginx.reload()
        self.history.append((time.time(), ready))
        return True

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="upstream-sync", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.sync_once()
            except Exception as error:  # kept, shown by the test; the next round tries again
                self.errors.append(f"{type(error).__name__}: {error}")
            self._stop.wait(self.interval)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)


@contextmanager
def reloader_sidecar(
    plane: ControlPlane, kube_admin: client.ApiClient, namespace: str, lab: Lab
) -> Iterator[None]:
    """The chart's nginx-reloader (Role, binding, sidecar args) for the lab's nginx."""
    settings = {
        "enabled": "true",
        "namespace": namespace,
        "configMap": CONFIGMAP,
        "serviceAccount": "nginx",
        "directory": str(lab.nginx.conf_dir / RULES_DIR),
        "interval": "1",
        "pidFile": str(lab.nginx.prefix / "nginx.pid"),
    }
    flags = [arg for k, v in settings.items() for arg in ("--set", f"nginxReloader.{k}={v}")]
    objects = [
        o for o in rendered_objects(*flags) if o["metadata"]["name"].endswith("-nginx-reloader")
    ]
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nginx"))
    )
    apply_objects(kube_admin, objects)
    minted = core.create_namespaced_service_account_token(
        "nginx",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    token = plane.directory / f"nginx-{namespace}.token"
    token.write_text(minted_token(minted), encoding="utf-8")
    [sidecar] = yaml.safe_load(
        next(o for o in objects if o["kind"] == "ConfigMap")["data"]["sidecar.yaml"]
    )
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *sidecar["args"],
        f"--server={plane.server}",
        f"--token-file={token}",
        f"--certificate-authority={plane.ca_file}",
    ]
    process = start_process(f"nginx-reloader-{namespace}", argv, directory=plane.directory)
    try:
        yield
    finally:
        process.stop()


def remove_namespace(core: client.CoreV1Api, namespace: str) -> None:
    """Delete ``namespace`` and wait until it is gone, while its operator still runs.

    Nothing of the run is left for another operator of the session to take up (a
    Diagnosis still holding a client rule or a quarantine, whose namespace no other
    release is bound in).  The Pods have no kubelet to confirm their end: they are
    deleted at once.
    """
    core.delete_namespace(namespace)

    def gone() -> bool:
        for pod in core.list_namespaced_pod(namespace).items:
            with suppress(client.ApiException):
                core.delete_namespaced_pod(
                    str(pod.metadata and pod.metadata.name), namespace, grace_period_seconds=0
                )
        try:
            core.read_namespace(namespace)
        except client.ApiException as error:
            if error.status == 404:
                return True
            raise
        return False

    deadline = time.monotonic() + DELETE_WAIT
    while not gone():
        if time.monotonic() > deadline:
            raise AssertionError(f"namespace {namespace} still there after {DELETE_WAIT:.0f}s")
        time.sleep(1.0)
