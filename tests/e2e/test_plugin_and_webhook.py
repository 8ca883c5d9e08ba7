"""Alertmanager -> webhook -> apiserver, and ``kubectl diagnose`` on what it created.

The real Alertmanager delivers to the webhook app (in-process, loopback), whose
``KubernetesDiagnosisWriter`` runs under a ServiceAccount bound to the chart's own
ClusterRole rendered with ``alertmanagerWebhook.enabled=true``: the webhook needs no
verb beyond it.  The running operator then reconciles the Diagnosis.  The plugin
runs as a user (a ServiceAccount with a kubeconfig) holding the "approver" rights
documented in docs/approvals.md; it lists, shows and approves.
"""

from __future__ import annotations

import asyncio
import io
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.writer import KubernetesDiagnosisWriter
from diagnosis_operator.api import Mode
from diagnosis_operator.core.alerts import AlertRouting
from diagnosis_operator.entrypoints.cli.kubectl.main import main as plugin
from diagnosis_operator.entrypoints.http.webhook import PolicyRouting, TokenSource, build_app
from diagnosis_operator.models.controls import CONTROL_CONFIGMAP, approvals_from, paused_from
from tests.controlplane.cluster import ControlPlane, write_kubeconfig
from tests.controlplane.operator import (
    WEBHOOK_VALUES,
    OperatorProcess,
    onboard,
    operator_role,
    rendered_objects,
)
from tests.k8s_json import as_json, request_body
from tests.services.alertmanager import AlertmanagerFactory, WebhookReceiver
from tests.services.ports import LOOPBACK, free_port

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 120.0  # a deadline for failing, not a measured threshold
TERMINAL = {"Completed", "Degraded", "Failed"}
TOKEN = "e2e-webhook-token"
ACTION_KEY = "5d41402abc4b2a76b9719d911017c592"
APPROVER_RULES = [  # docs/approvals.md: the "diagnosis-approver" role
    {
        "apiGroups": [API_GROUP],
        "resources": ["diagnoses"],
        "verbs": ["get", "list", "create", "patch"],
    },
    {"apiGroups": [API_GROUP], "resources": ["diagnosispolicies"], "verbs": ["get", "list"]},
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
]


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


def service_account_token(api: client.ApiClient, *, namespace: str, name: str) -> str:
    core = client.CoreV1Api(api)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name=name))
    )
    minted = core.create_namespaced_service_account_token(
        name,
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    assert minted.status is not None
    return str(minted.status.token)


def bind(
    api: client.ApiClient,
    *,
    role_name: str,
    rules: list[dict[str, Any]],
    namespace: str,
    account: str,
) -> None:
    rbac = client.RbacAuthorizationV1Api(api)
    rbac.create_cluster_role(
        request_body(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role_name},
                "rules": rules,
            }
        )
    )
    rbac.create_namespaced_role_binding(
        namespace,
        request_body(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role_name},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role_name,
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            }
        ),
    )


@pytest.fixture(scope="module")
def namespace(kube_admin: client.ApiClient, operator_process: OperatorProcess) -> str:
    name = f"e2e-alerts-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(kube_admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    onboard(kube_admin, operator_process.install, name)
    client.CustomObjectsApi(kube_admin).create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        name,
        "diagnosispolicies",
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "DiagnosisPolicy",
            "metadata": {"name": "checkout"},
            "spec": {
                "components": [
                    {
                        "name": "frontend",
                        "kind": "proxy",
                        "selector": {"job": "frontend"},
                        "dependsOn": ["payments"],
                    },
                    {"name": "payments", "kind": "app", "selector": {"job": "payments-api"}},
                ],
                # nothing listens there: the operator's diagnosis fails, which is fine here
                "signals": {"prometheus": {"url": f"http://{LOOPBACK}:{free_port()}"}},
            },
        },
    )
    return name


@pytest.fixture(scope="module")
def webhook_url(
    kube_admin: client.ApiClient, control_plane: ControlPlane, namespace: str
) -> Iterator[str]:
    """The webhook app, writing with the chart's webhook-enabled ClusterRole only."""
    chart_role = operator_role(rendered_objects(*WEBHOOK_VALUES))
    token = service_account_token(kube_admin, namespace=namespace, name="webhook")
    bind(
        kube_admin,
        role_name=f"{namespace}-webhook",
        rules=chart_role["rules"],
        namespace=namespace,
        account="webhook",
    )
    writer = KubernetesDiagnosisWriter(api_client=control_plane.api_client(token=token))
    app = build_app(
        writer=writer,
        # dry-run: approving matters (in observe mode the plugin refuses; docs/approvals.md)
        routing=PolicyRouting(
            reader=writer,
            template=AlertRouting(policy="checkout", namespace=namespace, mode=Mode.DRY_RUN.value),
        ),
        token=TokenSource(value=TOKEN),
    )
    port = free_port()
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app)
    started = threading.Event()

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        loop.run_until_complete(web.TCPSite(runner, LOOPBACK, port).start())
        started.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, name="webhook-e2e", daemon=True)
    thread.start()
    assert started.wait(30)
    yield f"http://{LOOPBACK}:{port}/alertmanager"
    asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(timeout=30)
    loop.close()


@pytest.fixture(scope="module")
def approver_kubeconfig(
    kube_admin: client.ApiClient,
    control_plane: ControlPlane,
    namespace: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    token = service_account_token(kube_admin, namespace=namespace, name="alice")
    bind(
        kube_admin,
        role_name=f"{namespace}-approver",
        rules=APPROVER_RULES,
        namespace=namespace,
        account="alice",
    )
    path = tmp_path_factory.mktemp("approver") / "kubeconfig"
    write_kubeconfig(
        path, server=control_plane.server, ca_file=control_plane.ca_file, token=token, user="alice"
    )
    return path


def run_plugin(kubeconfig: Path, *argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = plugin(["--kubeconfig", str(kubeconfig), *argv], out=out)
    return code, out.getvalue()


def test_alert_to_diagnosis_to_plugin_approval(
    alertmanager_factory: AlertmanagerFactory,
    webhook_url: str,
    approver_kubeconfig: Path,
    kube_admin: client.ApiClient,
    namespace: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    custom = client.CustomObjectsApi(kube_admin)

    def diagnoses() -> list[dict[str, Any]]:
        found = custom.list_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses")
        return list(as_json(found)["items"])

    alertmanager = alertmanager_factory(
        receivers=[WebhookReceiver(name="diagnosis", url=webhook_url, token=TOKEN)]
    )
    starts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    alertmanager.post_alerts(
        [
            {
                "labels": {"alertname": "PaymentsErrors", "job": "payments-api"},
                "annotations": {"summary": "payments 5xx"},
                "startsAt": starts,
            }
        ]
    )
    # first delivery, then at least two repeats (group_interval / repeat_interval)
    wait_for(
        "three webhook deliveries",
        lambda: alertmanager.metric("alertmanager_notifications_total", integration="webhook") >= 3,
    )
    assert (
        alertmanager.metric("alertmanager_notifications_failed_total", integration="webhook") == 0
    )
    (created,) = diagnoses()
    name = created["metadata"]["name"]
    assert created["spec"]["symptom"]["component"] == "payments"
    assert created["spec"]["policyRef"] == {"name": "checkout"}
    assert created["spec"]["mode"] == "dry-run"
    assert created["metadata"]["labels"]["diagnosis.dev/trigger"] == "alertmanager"

    # the operator takes it to a terminal phase (sources are unreachable: Failed)
    def terminal() -> dict[str, Any] | None:
        item = as_json(
            custom.get_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, "diagnoses", name
            )
        )
        return item if (item.get("status") or {}).get("phase") in TERMINAL else None

    finished = wait_for("a terminal phase", terminal)

    code, listed = run_plugin(approver_kubeconfig, "-n", namespace, "list")
    assert code == 0, capsys.readouterr().err
    assert name in listed and str(finished["status"]["phase"]) in listed
    code, shown = run_plugin(approver_kubeconfig, "show", name, "-n", namespace)
    assert code == 0 and f"Phase:        {finished['status']['phase']}" in shown

    # play a later state of the operator: one proposed remediation awaiting approval
    custom.patch_namespaced_custom_object_status(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        name,
        {
            "status": {
                "remediations": [
                    {
                        "action": "drain-pod",
                        "target": "payments-0",
                        "state": "proposed",
                        "idempotencyKey": ACTION_KEY,
                    }
                ]
            }
        },
        _content_type="application/merge-patch+json",
    )
    code, out = run_plugin(approver_kubeconfig, "-n", namespace, "approve", name, "drain-pod")
    assert code == 0, capsys.readouterr().err
    approved = as_json(
        custom.get_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses", name)
    )
    approvals = approvals_from(approved["metadata"].get("annotations"))
    assert approvals[ACTION_KEY].user == f"system:serviceaccount:{namespace}:alice"
    assert approvals[ACTION_KEY].user in out

    # no right to pause: a clear 403, nothing written
    code, _ = run_plugin(approver_kubeconfig, "--operator-namespace", namespace, "pause")
    assert code == 1
    assert "forbidden (HTTP 403)" in capsys.readouterr().err


def test_pause_and_resume_as_admin(
    admin_kubeconfig: Path, kube_admin: client.ApiClient, operator_process: OperatorProcess
) -> None:
    operator_namespace = operator_process.install.namespace
    core = client.CoreV1Api(kube_admin)
    code, _ = run_plugin(
        admin_kubeconfig, "--operator-namespace", operator_namespace, "pause", "--reason", "e2e"
    )
    assert code == 0
    data = core.read_namespaced_config_map(CONTROL_CONFIGMAP, operator_namespace).data
    assert data is not None
    assert paused_from(data) and data["pausedBy"] == "admin"
    assert (
        run_plugin(admin_kubeconfig, "--operator-namespace", operator_namespace, "resume")[0] == 0
    )
    data = core.read_namespaced_config_map(CONTROL_CONFIGMAP, operator_namespace).data
    assert not paused_from(data)
