"""The operator running against the test control plane, under its shipped RBAC only.

``operator_install`` renders the Helm chart with the cached helm (default values,
exactly what ``manifests/install.yaml`` holds) and applies it as admin: CRDs,
namespace, ServiceAccount, ClusterRole, binding, peering object (and the inert
Deployment/Service/NetworkPolicy: nothing runs them without a kubelet).  It then
mints a token for the ServiceAccount with the TokenRequest API.

``operator_process`` runs ``.venv/bin/diagnosis-operator run`` as a subprocess
with that token (not the admin's), with peering as the chart configures it, and
waits for its liveness endpoint.  Its log file is shown when a test fails.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, utils

from tests.controlplane.cluster import (
    HELM_VERSION,
    ControlPlane,
    Process,
    binary,
    free_port,
    start_process,
    tail,
)
from tests.k8s_json import minted_token, request_body

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "charts" / "diagnosis-operator"
RELEASE = "diagnosis-operator"
NAMESPACE = "diagnosis-operator"
KUBE_VERSION_FOR_HELM = "1.36.3"
OPERATOR_READY_TIMEOUT = 90.0
# `helm template` values that enable the Alertmanager webhook (it needs the policy it routes to).
WEBHOOK_VALUES = (
    "--set",
    "alertmanagerWebhook.enabled=true",
    "--set",
    "alertmanagerWebhook.namespace=default",
    "--set",
    "alertmanagerWebhook.policy=default",
)


def helm_template(*extra: str) -> str:
    """``helm template`` of the chart as manifests/render.sh runs it."""
    helm = binary("helm", HELM_VERSION)
    result = subprocess.run(
        [
            str(helm),
            "template",
            RELEASE,
            str(CHART),
            "--namespace",
            NAMESPACE,
            "--kube-version",
            KUBE_VERSION_FOR_HELM,
            "--include-crds",
            "--set",
            "createNamespace=true",
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise AssertionError(f"helm template failed: {result.stderr}")
    return result.stdout


def rendered_objects(*extra: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(helm_template(*extra)) if doc]


def find(objects: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    matches = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(matches) == 1, f"expected one {kind} {name or ''} in the chart, found {len(matches)}"
    return matches[0]


def operator_role(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """The operator's own ClusterRole (named as its ServiceAccount); the chart also ships
    the per-namespace ``-secrets`` and ``-writer`` ClusterRoles (tenant isolation)."""
    account = find(objects, "ServiceAccount")["metadata"]["name"]
    return find(objects, "ClusterRole", account)


def onboard(kube_admin: client.ApiClient, install: OperatorInstall, namespace: str) -> None:
    """What the admin does to serve a tenant namespace (the chart's ``tenancy.namespaces``
    renders the same): bind the ``-secrets`` and ``-writer`` ClusterRoles in it."""
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    base = install.cluster_role["metadata"]["name"]
    for role in (f"{base}-secrets", f"{base}-writer"):
        rbac.create_namespaced_role_binding(
            namespace,
            request_body(
                {
                    "apiVersion": "rbac.authorization.k8s.io/v1",
                    "kind": "RoleBinding",
                    "metadata": {"name": role, "namespace": namespace},
                    "roleRef": {
                        "apiGroup": "rbac.authorization.k8s.io",
                        "kind": "ClusterRole",
                        "name": role,
                    },
                    "subjects": [
                        {
                            "kind": "ServiceAccount",
                            "name": install.service_account,
                            "namespace": install.namespace,
                        }
                    ],
                }
            ),
        )


def wait_established(api: client.ApiextensionsV1Api, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = api.read_custom_resource_definition(name)
        for condition in (crd.status and crd.status.conditions) or []:
            if condition.type == "Established" and condition.status == "True":
                return
        time.sleep(0.5)
    raise AssertionError(f"CRD {name} not Established after {timeout}s")


def apply_objects(api_client: client.ApiClient, objects: list[dict[str, Any]]) -> None:
    """Create every rendered object as admin (CRDs first, waiting until they serve)."""
    extensions = client.ApiextensionsV1Api(api_client)
    custom = client.CustomObjectsApi(api_client)
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        extensions.create_custom_resource_definition(request_body(crd))
    for crd in (o for o in objects if o["kind"] == "CustomResourceDefinition"):
        wait_established(extensions, crd["metadata"]["name"])
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        group, _, version = obj["apiVersion"].rpartition("/")
        if group.endswith("kopf.dev") or group == "kopf.dev":
            plural = obj["kind"].lower() + "s"
            namespace = obj["metadata"].get("namespace")
            if namespace:
                custom.create_namespaced_custom_object(group, version, namespace, plural, obj)
            else:
                custom.create_cluster_custom_object(group, version, plural, obj)
            continue
        utils.create_from_dict(api_client, obj)  # type: ignore[no-untyped-call]  # unannotated


@dataclass
class OperatorInstall:
    objects: list[dict[str, Any]]
    namespace: str
    service_account: str
    token: str
    cluster_role: dict[str, Any]


@dataclass
class OperatorProcess:
    process: Process
    install: OperatorInstall
    liveness: str
    metrics_url: str  # the operator's HTTP server: /metrics, /alertmanager beside it
    webhook_token: str = ""  # its bearer token (/alertmanager, /reports)

    @property
    def http_url(self) -> str:
        return self.metrics_url.removesuffix("/metrics")

    @property
    def log(self) -> Path:
        return self.process.log

    def log_text(self) -> str:
        return self.process.log.read_text(encoding="utf-8", errors="replace")


@pytest.fixture(scope="session")
def operator_install(control_plane: ControlPlane, kube_admin: client.ApiClient) -> OperatorInstall:
    objects = rendered_objects()
    apply_objects(kube_admin, objects)
    account = find(objects, "ServiceAccount")["metadata"]
    request = client.AuthenticationV1TokenRequest(
        spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3 * 3600)
    )
    minted = client.CoreV1Api(kube_admin).create_namespaced_service_account_token(
        account["name"], account["namespace"], request
    )
    return OperatorInstall(
        objects=objects,
        namespace=account["namespace"],
        service_account=account["name"],
        token=minted_token(minted),
        cluster_role=operator_role(objects),
    )


def operator_argv(deployment: dict[str, Any]) -> list[str]:
    """The container's args from the rendered Deployment (so the test runs what ships)."""
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    return [arg for arg in container["args"] if not arg.startswith("--liveness")]


@pytest.fixture(scope="session")
def operator_process(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    operator_install: OperatorInstall,
) -> Iterator[OperatorProcess]:
    directory = control_plane.directory
    token_file = directory / "operator.token"
    token_file.write_text(operator_install.token, encoding="utf-8")
    token_file.chmod(0o600)
    port = free_port()
    liveness = f"http://127.0.0.1:{port}/healthz"
    executable = Path(sys.executable).with_name("diagnosis-operator")
    argv = [
        str(executable),
        *operator_argv(find(operator_install.objects, "Deployment")),
        f"--liveness={liveness}",
        f"--server={control_plane.server}",
        f"--token-file={token_file}",
        f"--certificate-authority={control_plane.ca_file}",
    ]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAG_", "KUBECONFIG"))}
    # Fail fast on sources in tests: one retry, two seconds apart.
    env.update({"DIAG_SOURCE_RETRIES": "1", "DIAG_SOURCE_RETRY_DELAY": "2"})
    # A policy's PrometheusRule (alerts.sync) is checked for drift at every timer tick.
    env["DIAG_ALERT_RULES_RESYNC"] = "1"
    # Its HTTP server (/metrics, the webhook and /reports behind a token) on loopback.
    http_port = free_port()
    webhook_token = secrets.token_hex(16)
    env.update(
        {
            "DIAG_HTTP_PORT": str(http_port),
            "DIAG_HTTP_ADDRESS": "127.0.0.1",
            "DIAG_WEBHOOK_ENABLED": "true",
            "DIAG_WEBHOOK_TOKEN": webhook_token,
            "DIAG_WEBHOOK_NAMESPACE": "default",
            "DIAG_WEBHOOK_POLICY": "none",
            # Notifications link to the reports this server serves.
            "DIAG_NOTIFY_REPORT_BASE_URL": f"http://127.0.0.1:{http_port}",
        }
    )
    process = start_process("operator", argv, directory=directory, env=env)
    request.session._diagnosis_extra_logs = [process.log]  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + OPERATOR_READY_TIMEOUT
        while True:
            if process.popen.poll() is not None:
                pytest.fail(
                    f"the operator exited with {process.popen.returncode}:\n{tail(process.log)}"
                )
            try:
                with urllib.request.urlopen(liveness, timeout=3) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the operator's liveness endpoint never answered:\n{tail(process.log)}"
                )
            time.sleep(0.5)
        yield OperatorProcess(
            process=process,
            install=operator_install,
            liveness=liveness,
            metrics_url=f"http://127.0.0.1:{http_port}/metrics",
            webhook_token=webhook_token,
        )
    finally:
        process.stop()
