"""The nginx rule the way a cluster delivers it: ConfigMap -> reloader sidecar -> real nginx.

The operator's rate-limit-client (the policy's nginx provider, under the chart's
RBAC) writes its rule files into a ConfigMap on the real apiserver; the reloader
(``diagnosis-operator nginx-reloader``, run as its own process as in a sidecar)
writes them into nginx's include directory, checks them with ``nginx -t`` and
reloads the real nginx.  The sidecar runs exactly as the chart renders it
(``nginxReloader.enabled``: its args -- the rule files tested alone with
``nginx -t``, SIGHUP to the master in the pid file -- and the Role that lets
nginx's ServiceAccount read only that ConfigMap).  The limited client address
(bound as the source of the requests) gets 429 and the denied one 403, while
another loopback address keeps getting 200; when the rules' TTL runs out the
operator removes them, and both addresses get 200 again.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client

from diagnosis_operator.adapters.kubernetes.objects import KubernetesObjectStore
from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationState,
    RemediationStatus,
)
from diagnosis_operator.entrypoints.bootstrap.connections import traffic_backend
from diagnosis_operator.ports import TrafficPolicyBackend
from diagnosis_operator.service.remediate import (
    ActionPorts,
    DiagnosisRef,
    expire_rules,
    remediate,
)
from tests.controlplane.cluster import ControlPlane, Process, start_process
from tests.controlplane.operator import (
    OperatorInstall,
    apply_objects,
    onboard,
    rendered_objects,
)
from tests.e2e.drain_world import new_namespace, operator_ports, reset_ledger, wait_for
from tests.k8s_json import minted_token
from tests.services.nginx import NginxFactory, NginxServer

pytestmark = pytest.mark.e2e

FLOODER, RETRIER, NEIGHBOUR = "127.0.0.5", "127.0.0.7", "127.0.0.6"
CONFIGMAP = "edge-limits"
SERVERS = """\
include @CONF@/rules/*-http.conf;
server {
    listen 127.0.0.1:@PORT@;
    include @CONF@/rules/*-server.conf;
    location / { root @CONF@/html; }
}
"""


def _policy(namespace: str, *, deny: bool = False) -> DiagnosisPolicySpec:
    limit: dict[str, Any] = {
        "enabled": True,
        "requireApproval": False,
        "ttl": "10m",
        "budget": {"maxActions": 5, "window": "1h"},
        "params": {
            "provider": "nginx",
            "configMap": CONFIGMAP,
            "namespace": namespace,
            "requestsPerSecond": 1,
        },
    }
    if deny:
        limit["limits"] = {"ladder": [{"mode": "deny", "ttlSeconds": 600}]}
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [{"name": "edge", "kind": "proxy", "selector": {"job": "nginx"}}],
            "remediation": {"rateLimitClient": limit},
        }
    )


def _chart_objects(server: NginxServer, namespace: str) -> list[dict[str, Any]]:
    """The chart's nginxReloader objects (Role, RoleBinding, sidecar ConfigMap) for this nginx."""
    settings = {
        "enabled": "true",
        "namespace": namespace,
        "configMap": CONFIGMAP,
        "serviceAccount": "nginx",
        "directory": str(server.conf_dir / "rules"),
        "interval": "1",
        # the chart's default: nginx -t on the rule files alone, SIGHUP to the master
        "pidFile": str(server.prefix / "nginx.pid"),
    }
    flags = [
        arg for key, value in settings.items() for arg in ("--set", f"nginxReloader.{key}={value}")
    ]
    return [
        obj
        for obj in rendered_objects(*flags)
        if obj["metadata"]["name"].endswith("-nginx-reloader")
    ]


@pytest.fixture
def reloader(
    control_plane: ControlPlane, kube_admin: client.ApiClient, nginx_factory: NginxFactory
) -> Iterator[tuple[NginxServer, Callable[[str], Process]]]:
    """nginx, and ``start(namespace)``: the chart's sidecar as rendered, under its Role."""
    server = nginx_factory(servers=SERVERS, files={"html/index.html": "ok\n", "rules/.keep": ""})
    core = client.CoreV1Api(kube_admin)
    started: list[Process] = []

    def start(namespace: str) -> Process:
        objects = _chart_objects(server, namespace)
        assert sorted(obj["kind"] for obj in objects) == ["ConfigMap", "Role", "RoleBinding"]
        core.create_namespaced_service_account(
            namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="nginx"))
        )
        apply_objects(kube_admin, objects)
        minted = core.create_namespaced_service_account_token(
            "nginx",
            namespace,
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        )
        token = control_plane.directory / f"nginx-{namespace}.token"
        token.write_text(minted_token(minted), encoding="utf-8")
        [sidecar] = yaml.safe_load(
            next(o for o in objects if o["kind"] == "ConfigMap")["data"]["sidecar.yaml"]
        )
        argv = [
            str(Path(sys.executable).with_name("diagnosis-operator")),
            *sidecar["args"],
            f"--server={control_plane.server}",
            f"--token-file={token}",
            f"--certificate-authority={control_plane.ca_file}",
        ]
        process = start_process("nginx-reloader", argv, directory=control_plane.directory)
        started.append(process)
        return process

    yield server, start
    for process in started:
        process.stop()


def _statuses(server: NginxServer, client_ip: str, count: int = 4) -> list[int]:
    return [server.request("/", client_ip=client_ip)[0] for _ in range(count)]


@dataclass
class Edge:
    """The operator's side: its ports under the chart's RBAC, one Diagnosis per client."""

    control_plane: ControlPlane
    install: OperatorInstall
    namespace: str
    started: float = field(default_factory=time.time)

    def backend(self, spec: DiagnosisPolicySpec) -> TrafficPolicyBackend:
        api = self.control_plane.api_client(token=self.install.token)
        store = KubernetesObjectStore(api_client=api)
        return traffic_backend(policy=spec, namespace=self.namespace, store=store)

    def limit(
        self, client_ip: str, spec: DiagnosisPolicySpec
    ) -> tuple[DiagnosisRef, RemediationStatus]:
        ref = DiagnosisRef(
            namespace=self.namespace, name=f"flood-{client_ip}", uid=str(uuid.uuid4())
        )
        proposal = RemediationStatus(
            action=RemediationAction.RATE_LIMIT_CLIENT,
            target=client_ip,
            state=RemediationState.PROPOSED,
            reason=f"abusive traffic from {client_ip}",
            params={"component": "edge", "pattern": "flood"},
        )
        cluster, ledger = operator_ports(self.control_plane, self.install)
        backend = self.backend(spec)
        [item] = remediate(
            diagnosis=ref,
            policy=spec,
            remediations=[proposal],
            cluster=cluster,
            ledger=ledger,
            now=self.started,
            mode=Mode.REMEDIATE,
            record=lambda _items: None,
            ports=ActionPorts(traffic=lambda: backend),
        )
        assert item.state is RemediationState.SUCCEEDED, item.reason
        return ref, item

    def expire(self, ref: DiagnosisRef, item: RemediationStatus, spec: DiagnosisPolicySpec) -> str:
        cluster, _ = operator_ports(self.control_plane, self.install)
        backend = self.backend(spec)
        [lifted] = expire_rules(
            diagnosis=ref,
            remediations=[item],
            traffic=lambda: backend,
            cluster=cluster,
            now=self.started + 601,
            record=lambda _items: None,
        )
        return lifted.reason


def test_limited_and_denied_clients_get_429_and_403_until_the_ttl_ends(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
    reloader: tuple[NginxServer, Callable[[str], Process]],
) -> None:
    server, start = reloader
    core = client.CoreV1Api(kube_admin)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "edge")
    onboard(kube_admin, operator_install, namespace)  # the admin serves it: rules written here
    process = start(namespace)
    assert _statuses(server, FLOODER) == [200] * 4

    edge = Edge(control_plane=control_plane, install=operator_install, namespace=namespace)
    limiting, denying = _policy(namespace), _policy(namespace, deny=True)
    limited = edge.limit(FLOODER, limiting)
    denied = edge.limit(RETRIER, denying)

    wait_for("nginx to limit the flooding address", lambda: 429 in _statuses(server, FLOODER))
    wait_for("nginx to deny the retrying address", lambda: _statuses(server, RETRIER) == [403] * 4)
    assert _statuses(server, NEIGHBOUR) == [200] * 4
    server_conf = (server.conf_dir / "rules" / "diagnosis-operator-server.conf").read_text()
    assert "limit_req zone=" in server_conf and f"deny {RETRIER}/32;" in server_conf

    assert "rule removed because its TTL ran out" in edge.expire(*limited, limiting)
    assert "rule removed because its TTL ran out" in edge.expire(*denied, denying)
    wait_for(
        "both addresses to be served again",
        lambda: _statuses(server, FLOODER) + _statuses(server, RETRIER) == [200] * 8,
    )
    assert "nginx reloaded" in process.log.read_text(encoding="utf-8")
