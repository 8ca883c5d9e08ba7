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
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from kubernetes import client

from tests.e2e.drain_world import ensure_node, live_pod, owner_object, ready_addresses, service
from tests.lab import config as lab_config
from tests.lab.stack import BACKEND_HOSTS
from tests.services.nginx import NginxServer

POD_NETWORK = ipaddress.ip_network("10.88.0.0/24")
SERVICE = "api"
POD_LABELS = {"app": "api", "tier": "backend"}


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
