"""A drained pod leaves nginx's upstream: EndpointSlice -> upstream sync -> real nginx.

The lab's live loop in small (``tests/lab/cluster.py``), without the engine: three
backends on 127.0.0.21-23 are Pods on the lab's pod network (``10.88.0.21``...)
behind the Service ``api``; the upstream sync renders the lab's nginx upstream
from the Service's EndpointSlices.  The operator's drain (``remediate()``, under
the chart's RBAC) names the instance by its pod address, as the metrics do; the
pod is found by ``status.podIP``, quarantined, leaves the EndpointSlice, then
nginx's upstream: no request reaches it while the others keep answering, and
nginx's access log names the pods.  The TTL gives it back, and nginx sends it
requests again.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
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
    new_namespace,
    operator_ports,
    ready_addresses,
    reset_ledger,
    wait_for,
)
from tests.lab import config as lab_config
from tests.lab.cluster import SERVICE, UpstreamSync, backend_pods, pod_ip
from tests.services.nginx import NginxFactory, NginxServer
from tests.services.ports import free_port

pytestmark = pytest.mark.e2e

HOSTS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
VICTIM = "127.0.0.22"


class _Answer(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = str(self.connection.getsockname()[0]).encode()  # which backend answered
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture
def backends() -> Iterator[int]:
    """Three tiny HTTP backends on one port; the port."""
    port = free_port(HOSTS[0])
    servers = [ThreadingHTTPServer((host, port), _Answer) for host in HOSTS]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    yield port
    for server in servers:
        server.shutdown()
        server.server_close()


def _answered_by(nginx: NginxServer, count: int = 30) -> Counter[str]:
    return Counter(nginx.request("/api/x", client_ip="127.0.0.9")[1] for _ in range(count))


def _drain(instance: str) -> RemediationStatus:
    return RemediationStatus(
        action=RemediationAction.DRAIN_POD,
        target=instance,
        state=RemediationState.PROPOSED,
        reason=f"{instance} of api is degraded while its siblings are not",
        params={"component": "api", "instance": instance},
    )


def _policy(namespace: str) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {
                    "name": "api",
                    "kind": "app",
                    "namespace": namespace,
                    "selector": {"job": "api"},
                    "podSelector": {"matchLabels": {"app": "api"}},
                }
            ],
            "remediation": {"drainPod": {"enabled": True, "requireApproval": False, "ttl": "2m"}},
        }
    )


def test_a_drained_pod_leaves_the_endpointslice_then_nginx(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
    nginx_factory: NginxFactory,
    backends: int,
) -> None:
    core, apps = client.CoreV1Api(kube_admin), client.AppsV1Api(kube_admin)
    discovery = client.DiscoveryV1Api(kube_admin)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "upstream")
    pods = backend_pods(core, apps, namespace, HOSTS)
    everyone = set(pods.values())
    wait_for(
        "every pod in the EndpointSlice",
        lambda: ready_addresses(discovery, namespace, SERVICE) == everyone,
    )
    nginx = nginx_factory(
        servers=lab_config.nginx_servers(status_port=free_port()),
        files={**lab_config.upstream_files([]), f"{lab_config.RULES_DIR}/.keep": ""},
    )
    sync = UpstreamSync(discovery=discovery, namespace=namespace, nginx=nginx, port=backends)
    assert sync.sync_once()
    sync.start()
    try:
        assert set(_answered_by(nginx)) == set(HOSTS)

        cluster, ledger = operator_ports(control_plane, operator_install)
        ref = DiagnosisRef(namespace=namespace, name="api-5xx", uid=str(uuid.uuid4()))
        started = time.time()
        [item] = remediate(
            diagnosis=ref,
            policy=_policy(namespace),
            remediations=[_drain(f"{pod_ip(VICTIM)}:{backends}")],
            cluster=cluster,
            ledger=ledger,
            now=started,
            mode=Mode.REMEDIATE,
            record=lambda _items: None,
        )
        assert item.state is RemediationState.SUCCEEDED, item.reason
        assert item.params["executor"]["podName"] == "api-22"
        wait_for(
            "the drained pod out of the EndpointSlice",
            lambda: ready_addresses(discovery, namespace, SERVICE) == everyone - {pod_ip(VICTIM)},
        )
        wait_for("nginx's upstream without it", lambda: pod_ip(VICTIM) not in sync.served())
        log = nginx.prefix / "logs" / lab_config.ACCESS_LOG
        offset = log.stat().st_size
        assert set(_answered_by(nginx)) == set(HOSTS) - {VICTIM}
        with log.open("rb") as handle:
            handle.seek(offset)
            logged = {json.loads(line)["upstream_addr"] for line in handle.read().splitlines()}
        assert logged == {f"{pod_ip(h)}:{backends}" for h in HOSTS if h != VICTIM}, logged

        [lifted] = lift_due(
            diagnosis=ref,
            remediations=[item],
            cluster=cluster,
            now=started + 121,
            record=lambda _items: None,
        )
        assert "quarantine lifted" in lifted.reason
        wait_for("nginx's upstream with it again", lambda: sync.served() == everyone)
        assert set(_answered_by(nginx)) == set(HOSTS)
        assert sync.errors == []
    finally:
        sync.stop()
        core.delete_namespace(namespace)
