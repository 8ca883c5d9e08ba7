"""An operator release of its own, rendered from the chart with given values, leading the peering.

``start_release(...)`` renders the chart as release ``name`` in its own namespace
(CRDs and the shared peering object exist already: the session's
``operator_install``), applies it as admin, creates the webhook token Secret the
chart mounts, mints the release's ServiceAccount token and runs
``diagnosis-operator run`` with the rendered Deployment's args and environment
(the downward API's namespace resolved, the Secret's key as a file, the HTTP
server on loopback) plus ``env``, under that token only.  It joins the chart's
kopf peering with a priority above any a default install draws, so a session
operator, if one runs, stands by meanwhile.  ``ReleaseOperator.stop()`` stops it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from kubernetes import client, utils

from tests.controlplane.cluster import (
    HELM_VERSION,
    ControlPlane,
    Process,
    binary,
    start_process,
    tail,
)
from tests.controlplane.operator import (
    CHART,
    KUBE_VERSION_FOR_HELM,
    OperatorInstall,
    find,
    operator_argv,
    operator_role,
)
from tests.k8s_json import as_json, minted_token
from tests.services.ports import LOOPBACK, free_port

READY_WAIT = 180.0  # a deadline for failing, not a measured threshold


@dataclass
class ReleaseOperator:
    process: Process
    install: OperatorInstall
    http_url: str  # its HTTP server: /alertmanager/..., /metrics
    webhook_token: str

    def webhook_url(self, namespace: str, policy: str) -> str:
        return f"{self.http_url}/alertmanager/{namespace}/{policy}"

    def log_text(self) -> str:
        return self.process.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        self.process.stop()


def render_release(name: str, values: list[str]) -> list[dict[str, Any]]:
    """``helm template`` of the chart as release ``name`` in namespace ``name`` (no CRDs)."""
    done = subprocess.run(
        [
            str(binary("helm", HELM_VERSION)),
            "template",
            name,
            str(CHART),
            "--namespace",
            name,
            "--kube-version",
            KUBE_VERSION_FOR_HELM,
            "--set",
            "createNamespace=true",
            *values,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return [
        doc
        for doc in yaml.safe_load_all(done.stdout)
        if doc and doc["kind"] != "CustomResourceDefinition"
    ]


def _apply(kube_admin: client.ApiClient, objects: list[dict[str, Any]]) -> None:
    custom = client.CustomObjectsApi(kube_admin)
    for obj in objects:
        group, _, version = obj["apiVersion"].rpartition("/")
        if group == "kopf.dev":
            try:
                custom.create_cluster_custom_object(group, version, obj["kind"].lower() + "s", obj)
            except client.ApiException as error:
                if error.status != 409:
                    raise
            continue
        utils.create_from_dict(kube_admin, obj)  # type: ignore[no-untyped-call]  # unannotated


def _install(
    kube_admin: client.ApiClient, objects: list[dict[str, Any]], token: str
) -> OperatorInstall:
    _apply(kube_admin, objects)
    core = client.CoreV1Api(kube_admin)
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    secret = next(v for v in pod["volumes"] if "secret" in v)["secret"]
    account = find(objects, "ServiceAccount")["metadata"]
    core.create_namespaced_secret(
        account["namespace"],
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=secret["secretName"]),
            string_data={secret["items"][0]["key"]: token},
        ),
    )
    minted = core.create_namespaced_service_account_token(
        account["name"],
        account["namespace"],
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3 * 3600)
        ),
    )
    return OperatorInstall(
        objects=objects,
        namespace=account["namespace"],
        service_account=account["name"],
        token=minted_token(minted),
        cluster_role=operator_role(objects),
    )


def _env(container: dict[str, Any], *, namespace: str) -> dict[str, str]:
    """The container's env as the kubelet resolves it (the downward API's namespace)."""
    out = {}
    for item in container["env"]:
        if "value" in item:
            out[item["name"]] = str(item["value"])
            continue
        path = item["valueFrom"]["fieldRef"]["fieldPath"]
        assert path == "metadata.namespace", f"{item['name']}: no test value for {path}"
        out[item["name"]] = namespace
    return out


def start_release(
    *,
    name: str,
    values: list[str],
    env: dict[str, str],
    priority: int,
    control_plane: ControlPlane,
    kube_admin: client.ApiClient,
    webhook_token: str,
) -> ReleaseOperator:
    """Install release ``name`` and run its operator (module docstring); ready when returned."""
    objects = render_release(name, ["--set", "alertmanagerWebhook.enabled=true", *values])
    install = _install(kube_admin, objects, webhook_token)
    deployment = find(objects, "Deployment")
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    directory = control_plane.directory / name
    directory.mkdir(exist_ok=True)
    token_file = directory / "operator.token"
    token_file.write_text(install.token, encoding="utf-8")
    token_file.chmod(0o600)
    webhook_file = directory / "webhook.token"
    webhook_file.write_text(webhook_token, encoding="utf-8")
    http_port = free_port()
    process_env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAG_", "KUBECONFIG"))}
    process_env.update(_env(container, namespace=install.namespace))
    process_env.update(
        {
            "DIAG_HTTP_PORT": str(http_port),
            "DIAG_HTTP_ADDRESS": LOOPBACK,
            "DIAG_WEBHOOK_TOKEN_FILE": str(webhook_file),
            **env,
        }
    )
    liveness = f"http://{LOOPBACK}:{free_port()}/healthz"
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *operator_argv(deployment),
        f"--liveness={liveness}",
        f"--priority={priority}",
        f"--server={control_plane.server}",
        f"--token-file={token_file}",
        f"--certificate-authority={control_plane.ca_file}",
    ]
    process = start_process(name, argv, directory=directory, env=process_env)
    operator = ReleaseOperator(
        process=process,
        install=install,
        http_url=f"http://{LOOPBACK}:{http_port}",
        webhook_token=webhook_token,
    )
    peering = next(a.split("=", 1)[1] for a in argv if a.startswith("--peering="))
    try:
        _wait_ready(operator, liveness, kube_admin, peering, priority)
    except BaseException:
        process.stop()
        raise
    return operator


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=3) as answer:
            return int(answer.status) == 200
    except OSError:
        return False


def _wait_ready(
    operator: ReleaseOperator,
    liveness: str,
    kube_admin: client.ApiClient,
    peering: str,
    priority: int,
) -> None:
    custom = client.CustomObjectsApi(kube_admin)

    def leading() -> bool:
        found = as_json(
            custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
        )
        peers = (found.get("status") or {}).values()
        return any(isinstance(p, dict) and p.get("priority") == priority for p in peers)

    deadline = time.monotonic() + READY_WAIT
    while not (_answers(liveness) and _answers(f"{operator.http_url}/healthz") and leading()):
        if operator.process.popen.poll() is not None or time.monotonic() > deadline:
            log = tail(operator.process.log)
            raise AssertionError(f"the release's operator is not ready:\n{log}")
        time.sleep(0.5)
