"""The nginx rule the way a cluster delivers it: ConfigMap -> reloader sidecar -> real nginx.

The operator's rate-limit-client (the policy's nginx provider, under the chart's
RBAC) writes its rule files into a ConfigMap on the real apiserver; the reloader
(``diagnosis-operator nginx-reloader``, run as its own process as in a sidecar)
writes them into nginx's include directory, checks them with ``nginx -t`` and
reloads the real nginx.  The sidecar runs exactly as the chart renders it
(``nginxReloader.enabled``: its args -- the rule files tested alone with
``nginx -t``, SIGHUP to the master in the pid file -- and the Role that lets
nginx's ServiceAccount read only that ConfigMap).  The limited client address
(bound as the source of the requests) gets 429 while another loopback address
keeps getting 200; when the rule's TTL runs out the operator removes it, and the
address gets 200 again.
"""

from __future__ import annotations

import sys
import time
import uuid
from collections.abc import Callable, Iterator
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
from diagnosis_operator.service.remediate import (
    ActionPorts,
    DiagnosisRef,
    expire_rules,
    remediate,
)
from tests.controlplane.cluster import ControlPlane, Process, start_process
from tests.controlplane.operator import OperatorInstall, apply_objects, rendered_objects
from tests.e2e.drain_world import new_namespace, operator_ports, reset_ledger, wait_for
from tests.k8s_json import minted_token
from tests.services.nginx import NginxFactory, NginxServer

pytestmark = pytest.mark.e2e

FLOODER, NEIGHBOUR = "127.0.0.5", "127.0.0.6"
CONFIGMAP = "edge-limits"
SERVERS = """\
include @CONF@/rules/*-http.conf;
server {
    listen 127.0.0.1:@PORT@;
    include @CONF@/rules/*-server.conf;
    location / { root @CONF@/html; }
}
"""


def _policy(namespace: str) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [{"name": "edge", "kind": "proxy", "selector": {"job": "nginx"}}],
            "remediation": {
                "rateLimitClient": {
                    "enabled": True,
                    "requireApproval": False,
                    "ttl": "10m",
                    "params": {
                        "provider": "nginx",
                        "configMap": CONFIGMAP,
                        "namespace": namespace,
                        "requestsPerSecond": 1,
                    },
                }
            },
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


def test_a_limited_client_gets_429_through_the_reloader_until_the_ttl_ends(
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
    kube_admin: client.ApiClient,
    reloader: tuple[NginxServer, Callable[[str], Process]],
) -> None:
    server, start = reloader
    core = client.CoreV1Api(kube_admin)
    reset_ledger(core, operator_install.namespace)
    namespace = new_namespace(core, "edge")
    process = start(namespace)
    assert _statuses(server, FLOODER) == [200] * 4

    spec = _policy(namespace)
    backend = traffic_backend(
        policy=spec,
        namespace=namespace,
        store=KubernetesObjectStore(
            api_client=control_plane.api_client(token=operator_install.token)
        ),
    )
    ref = DiagnosisRef(namespace=namespace, name="edge-flood", uid=str(uuid.uuid4()))
    proposal = RemediationStatus(
        action=RemediationAction.RATE_LIMIT_CLIENT,
        target=FLOODER,
        state=RemediationState.PROPOSED,
        reason=f"abusive traffic from {FLOODER}",
        params={"component": "edge", "pattern": "flood"},
    )
    cluster, ledger = operator_ports(control_plane, operator_install)
    started = time.time()
    [item] = remediate(
        diagnosis=ref,
        policy=spec,
        remediations=[proposal],
        cluster=cluster,
        ledger=ledger,
        now=started,
        mode=Mode.REMEDIATE,
        record=lambda _items: None,
        ports=ActionPorts(traffic=lambda: backend),
    )
    assert item.state is RemediationState.SUCCEEDED, item.reason

    wait_for("nginx to limit the flooding address", lambda: 429 in _statuses(server, FLOODER))
    assert _statuses(server, NEIGHBOUR) == [200] * 4
    assert (
        "limit_req zone="
        in (server.conf_dir / "rules" / "diagnosis-operator-server.conf").read_text()
    )

    [lifted] = expire_rules(
        diagnosis=ref,
        remediations=[item],
        traffic=lambda: backend,
        cluster=cluster,
        now=started + 601,
        record=lambda _items: None,
    )
    assert "rule removed because its TTL ran out" in lifted.reason
    wait_for("the address to be served again", lambda: _statuses(server, FLOODER) == [200] * 4)
    assert "nginx reloaded" in process.log.read_text(encoding="utf-8")
