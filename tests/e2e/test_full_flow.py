"""The whole thing, end to end, on a real apiserver: the delivery issue's "done when".

Set-up, as a user would do it:

* the reference incident bundle, moved in time so that it ends just now, is
  backfilled into a real Prometheus (promtool) and pushed to the Loki test server;
* the chart is rendered with ``alertmanagerWebhook.enabled=true`` and
  ``signals.prometheusUrl`` / ``signals.lokiUrl`` / ``signals.lokiTenant`` set, and
  applied as admin (a release of its own beside the session's default install);
  the operator runs with the rendered Deployment's args and environment (the
  token Secret's key as a file, the ports on loopback) under the release's
  ServiceAccount token only;
* ``manifests/examples/policy-reference.yaml`` is the DiagnosisPolicy, without
  signal sources: the operator's defaults (the chart values) are used.

Then (a) ``kubectl-diagnose create`` and an API-created Diagnosis over the exact
incident window both complete with the root cause, the affected instance, the
client and proposed remediations in status, Events and a report ConfigMap owned
by the Diagnosis; ``kubectl-diagnose report`` prints the Markdown; the live
diagnosis equals ``diagnose --bundle`` on the same bundle.  (b) An alert posted
to a real Alertmanager routed to the operator's webhook gives exactly one
Diagnosis, which completes with a report; the webhook creates it in ``dry-run``
mode (chart value ``alertmanagerWebhook.mode``), so approving matters: the plugin
shows the action waiting for approval with its key and approves it, recorded with
the user's name, and the operator then performs it as a dry run (nothing changes).
The reference policy is the shipped example with one action enabled, approval
still required, as docs/policies.md describes; in ``observe`` mode the plugin
refuses to approve (docs/approvals.md).

Only one operator serves Diagnoses at a time: this one joins the chart's kopf
peering with a priority above any the default install draws, so a session
operator (``tests/controlplane/operator.py``), if one runs, stands by meanwhile.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client, utils

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.adapters.replay import push_logs
from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle
from diagnosis_operator.entrypoints.cli.kubectl.main import main as plugin
from diagnosis_operator.models.controls import approvals_from
from diagnosis_operator.models.signals import isoformat_z
from tests.controlplane.cluster import (
    ControlPlane,
    Process,
    start_process,
    tail,
    write_kubeconfig,
)
from tests.controlplane.operator import (
    REPO,
    OperatorInstall,
    find,
    operator_argv,
    operator_role,
)
from tests.controlplane.release import render_release
from tests.fakes.receiver import Receiver
from tests.k8s_json import as_json, metadata_of, minted_token, request_body
from tests.services.alertmanager import AlertmanagerFactory, WebhookReceiver
from tests.services.loki import LokiTestServer
from tests.services.ports import LOOPBACK, free_port
from tests.services.prometheus import PrometheusServer, start_prometheus
from tests.services.type_exporter import type_exporter

if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
from examples.incidents import generate as generator

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 180.0  # a deadline for failing, not a measured threshold
RELEASE = "diag-full"
POLICY = "reference"
# The ConfigMap nginx would include the rate-limit rules from (never written here: dry run).
NGINX_CONFIGMAP = "nginx-client-limits"
WEBHOOK_TOKEN = "full-flow-webhook-token"
# Above any priority `diagnosis-operator run` draws for itself (1..2**30).
LEAD_PRIORITY = 2**30 + 7
EXAMPLES = REPO / "manifests" / "examples"
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


# --------------------------------------------------------------------------- the incident


def _iso_shifted(text: str, seconds: float) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() + seconds
    return datetime.fromtimestamp(moment, UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def shift_bundle(source: Path, target: Path, seconds: float) -> Path:
    """``source`` with every timestamp moved by ``seconds`` (nothing else changes)."""
    target.mkdir(parents=True, exist_ok=True)
    incident = yaml.safe_load((source / "incident.yaml").read_text(encoding="utf-8"))
    for key in ("start", "end"):
        incident["window"][key] = _iso_shifted(str(incident["window"][key]), seconds)
    (target / "incident.yaml").write_text(yaml.safe_dump(incident), encoding="utf-8")
    with (
        (source / "metrics.om").open(encoding="utf-8") as lines,
        (target / "metrics.om").open("w", encoding="utf-8") as out,
    ):
        for line in lines:
            if line.startswith("#") or not line.strip():
                out.write(line)
                continue
            head, _, stamp = line.rstrip("\n").rpartition(" ")
            out.write(f"{head} {float(stamp) + seconds:.3f}\n")
    with (
        (source / "logs.jsonl").open(encoding="utf-8") as lines,
        (target / "logs.jsonl").open("w", encoding="utf-8") as out,
    ):
        for line in lines:
            entry = json.loads(line)
            entry["ts"] = _iso_shifted(entry["ts"], seconds)
            out.write(json.dumps(entry) + "\n")
    return target


@dataclass
class Incident:
    bundle: Path
    prometheus: PrometheusServer
    loki_url: str
    loki_tenant: str
    window_start: float
    window_end: float
    offline: dict[str, Any]  # diagnose --bundle on the same (shifted) bundle


@pytest.fixture(scope="module")
def incident(
    tmp_path_factory: pytest.TempPathFactory, loki_server: LokiTestServer
) -> Iterator[Incident]:
    folder = tmp_path_factory.mktemp("full-flow")
    original = generator.generate("reference", folder / "original")
    window = load_bundle(original).window
    # Whole minutes, so that the incident ends in the minute before now.
    shift = ((time.time() - window.end) // 60) * 60
    bundle = shift_bundle(original, folder / "now" / "reference", shift)
    loaded = load_bundle(bundle)
    # A scraping Prometheus knows each family's declared type; backfill alone does not.
    types = contextlib.ExitStack()
    prometheus = start_prometheus(
        workdir=folder / "prometheus",
        openmetrics=bundle / "metrics.om",
        type_targets=[types.enter_context(type_exporter(bundle / "metrics.om"))],
    )
    tenant = f"full-flow-{uuid.uuid4().hex[:8]}"
    from diagnosis_operator.adapters.loki import LokiClient

    loki = LokiClient(loki_server.url, tenant=tenant, retries=0, timeout=60.0)
    try:
        push_logs(bundle=loaded, client=loki)
    finally:
        loki.close()
    try:
        yield Incident(
            bundle=bundle,
            prometheus=prometheus,
            loki_url=loki_server.url,
            loki_tenant=tenant,
            window_start=loaded.window.start,
            window_end=loaded.window.end,
            offline=diagnose_bundle(bundle).to_json(),
        )
    finally:
        prometheus.process.stop()
        types.close()


# --------------------------------------------------------------------------- the operator


@dataclass
class FullOperator:
    process: Process
    install: OperatorInstall
    namespace: str  # where the policy and the Diagnoses live
    webhook_url: str
    metrics_url: str

    def log_text(self) -> str:
        return self.process.log.read_text(encoding="utf-8", errors="replace")


def _apply(kube_admin: client.ApiClient, objects: list[dict[str, Any]]) -> None:
    """Create the release's objects as admin; the CRDs and the shared peering exist already."""
    custom = client.CustomObjectsApi(kube_admin)
    for obj in objects:
        if obj["kind"] == "CustomResourceDefinition":
            continue
        group, _, version = obj["apiVersion"].rpartition("/")
        if group == "kopf.dev":
            try:
                custom.create_cluster_custom_object(group, version, obj["kind"].lower() + "s", obj)
            except client.ApiException as error:
                if error.status != 409:
                    raise
            continue
        utils.create_from_dict(kube_admin, obj)  # type: ignore[no-untyped-call]  # unannotated


def _peers(kube_admin: client.ApiClient, peering: str) -> dict[str, Any]:
    found = as_json(
        client.CustomObjectsApi(kube_admin).get_cluster_custom_object(
            "kopf.dev", "v1", "clusterkopfpeerings", peering
        )
    )
    return dict(found.get("status") or {})


@pytest.fixture(scope="module")
def full_operator(
    request: pytest.FixtureRequest,
    control_plane: ControlPlane,
    kube_admin: client.ApiClient,
    operator_install: OperatorInstall,  # the CRDs and the peering object
    incident: Incident,
) -> Iterator[FullOperator]:
    del operator_install
    namespace = f"full-{uuid.uuid4().hex[:6]}"
    values = [
        "--set",
        "alertmanagerWebhook.enabled=true",
        "--set",
        f"alertmanagerWebhook.namespace={namespace}",
        "--set",
        f"alertmanagerWebhook.policy={POLICY}",
        # The alert fires at the 502s; the diagnosis looks back to the incident's start.
        "--set",
        "alertmanagerWebhook.lookback=50m",
        # Alert-driven diagnoses whose actions a person approves (docs/approvals.md).
        "--set",
        "alertmanagerWebhook.mode=dry-run",
        "--set",
        f"signals.prometheusUrl={incident.prometheus.url}",
        "--set",
        f"signals.lokiUrl={incident.loki_url}",
        "--set",
        f"signals.lokiTenant={incident.loki_tenant}",
        "--set",
        "grafanaDashboard.enabled=true",
        # The namespace it serves with Secrets and its report (RoleBindings from the values).
        "--set",
        f"tenancy.namespaces={{{namespace}}}",
    ]
    objects = render_release(RELEASE, values)
    core = client.CoreV1Api(kube_admin)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace)))
    _apply(kube_admin, objects)
    # The token Secret the chart mounts (the user creates it: docs/alertmanager.md).
    deployment = find(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    secret_volume = next(v for v in pod["volumes"] if "secret" in v)
    secret_name = secret_volume["secret"]["secretName"]
    secret_key = secret_volume["secret"]["items"][0]["key"]
    core.create_namespaced_secret(
        RELEASE,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name=secret_name),
            string_data={secret_key: WEBHOOK_TOKEN},
        ),
    )
    account = find(objects, "ServiceAccount")["metadata"]
    minted = core.create_namespaced_service_account_token(
        account["name"],
        account["namespace"],
        client.AuthenticationV1TokenRequest(
            spec=client.V1TokenRequestSpec(audiences=[], expiration_seconds=3 * 3600)
        ),
    )
    install = OperatorInstall(
        objects=objects,
        namespace=account["namespace"],
        service_account=account["name"],
        token=minted_token(minted),
        cluster_role=operator_role(objects),
    )

    directory = control_plane.directory / RELEASE
    directory.mkdir(exist_ok=True)
    token_file = directory / "operator.token"
    token_file.write_text(install.token, encoding="utf-8")
    token_file.chmod(0o600)
    # The Secret's key as a file where the pod would have it mounted.
    mount = next(
        m for m in pod["containers"][0]["volumeMounts"] if m["name"] == secret_volume["name"]
    )
    secret_dir = directory / mount["mountPath"].lstrip("/")
    secret_dir.mkdir(parents=True, exist_ok=True)
    (secret_dir / secret_key).write_text(WEBHOOK_TOKEN, encoding="utf-8")

    container = pod["containers"][0]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIAG_", "KUBECONFIG"))}
    rendered_env = {
        item["name"]: _env_value(item, namespace=install.namespace) for item in container["env"]
    }
    assert rendered_env["DIAG_PROMETHEUS_URL"] == incident.prometheus.url
    assert rendered_env["DIAG_WEBHOOK_NAMESPACE"] == namespace
    http_port = free_port()
    rendered_env.update(
        {
            "DIAG_HTTP_PORT": str(http_port),
            "DIAG_HTTP_ADDRESS": LOOPBACK,
            "DIAG_WEBHOOK_TOKEN_FILE": str(
                secret_dir / Path(rendered_env["DIAG_WEBHOOK_TOKEN_FILE"]).name
            ),
            # Fail fast on sources in tests: one retry, two seconds apart.
            "DIAG_SOURCE_RETRIES": "1",
            "DIAG_SOURCE_RETRY_DELAY": "2",
        }
    )
    env.update(rendered_env)
    liveness = f"http://{LOOPBACK}:{free_port()}/healthz"
    argv = [
        str(Path(sys.executable).with_name("diagnosis-operator")),
        *operator_argv(deployment),
        f"--liveness={liveness}",
        f"--priority={LEAD_PRIORITY}",
        f"--server={control_plane.server}",
        f"--token-file={token_file}",
        f"--certificate-authority={control_plane.ca_file}",
    ]
    process = start_process(RELEASE, argv, directory=directory, env=env)
    extra: list[Path] = getattr(request.session, "_diagnosis_extra_logs", [])
    request.session._diagnosis_extra_logs = [*extra, process.log]  # type: ignore[attr-defined]
    peering = next(a.split("=", 1)[1] for a in argv if a.startswith("--peering="))
    try:

        def ready() -> bool:
            if process.popen.poll() is not None:
                pytest.fail(f"the operator exited:\n{tail(process.log)}")
            try:
                with urllib.request.urlopen(liveness, timeout=3) as answer:
                    live = answer.status == 200
                with urllib.request.urlopen(
                    f"http://{LOOPBACK}:{http_port}/healthz", timeout=3
                ) as answer:
                    served = answer.status == 200
            except OSError:
                return False
            return bool(live and served)

        wait_for("the operator's liveness and HTTP endpoints", ready)
        # It leads the peering (any other operator of the session stands by).
        wait_for(
            "the operator in the peering",
            lambda: any(
                isinstance(p, dict) and p.get("priority") == LEAD_PRIORITY
                for p in _peers(kube_admin, peering).values()
            ),
        )
        yield FullOperator(
            process=process,
            install=install,
            namespace=namespace,
            webhook_url=f"http://{LOOPBACK}:{http_port}/alertmanager",
            metrics_url=f"http://{LOOPBACK}:{http_port}/metrics",
        )
    finally:
        process.stop()


def _env_value(item: dict[str, Any], *, namespace: str) -> str:
    """An env entry's value as the kubelet resolves it (the downward API's namespace)."""
    if "value" in item:
        return str(item["value"])
    field = item["valueFrom"]["fieldRef"]["fieldPath"]
    assert field == "metadata.namespace", f"{item['name']}: no test value for {field}"
    return namespace


# --------------------------------------------------------------------------- helpers


@pytest.fixture(scope="module")
def custom(kube_admin: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_admin)


def example(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((EXAMPLES / name).read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def shop(full_operator: FullOperator, custom: client.CustomObjectsApi) -> str:
    """The namespace holding the reference policy (the shipped example), Ready.

    One action is let act, as docs/policies.md says: rate-limit-client, at an nginx
    whose include files are a ConfigMap, approval still required (as shipped).
    """
    namespace = full_operator.namespace
    policy = example("policy-reference.yaml")
    assert policy["metadata"]["name"] == POLICY
    assert "signals" not in policy["spec"]  # the operator's defaults are what is tested
    limit = policy["spec"]["remediation"]["rateLimitClient"]
    assert limit["requireApproval"] is True and limit["params"]["provider"] == "nginx"
    limit["enabled"] = True
    limit["params"]["configMap"] = NGINX_CONFIGMAP
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy
    )
    wait_for("the reference policy Ready", lambda: _ready_condition(custom, namespace, POLICY))
    return namespace


def _ready_condition(
    custom: client.CustomObjectsApi, namespace: str, name: str
) -> dict[str, Any] | None:
    found = as_json(
        custom.get_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnosispolicies", name
        )
    )
    for condition in (found.get("status") or {}).get("conditions", []):
        if condition["type"] == "Ready" and condition["status"] == "True":
            return dict(condition)
    return None


@pytest.fixture(scope="module")
def alice(
    kube_admin: client.ApiClient,
    control_plane: ControlPlane,
    shop: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Path:
    """A user's kubeconfig with the documented approver role in the shop namespace."""
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_service_account(
        shop, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="alice"))
    )
    token = minted_token(
        core.create_namespaced_service_account_token(
            "alice",
            shop,
            client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
        )
    )
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    role = f"{shop}-approver"
    rbac.create_cluster_role(
        request_body(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": role},
                "rules": APPROVER_RULES,
            }
        )
    )
    rbac.create_namespaced_role_binding(
        shop,
        request_body(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": "alice", "namespace": shop}],
            }
        ),
    )
    path = tmp_path_factory.mktemp("alice") / "kubeconfig"
    write_kubeconfig(
        path, server=control_plane.server, ca_file=control_plane.ca_file, token=token, user="alice"
    )
    return path


def run_plugin(kubeconfig: Path, *argv: str) -> tuple[int, str, str]:
    out = io.StringIO()
    err = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = err
    try:
        code = plugin(["--kubeconfig", str(kubeconfig), *argv], out=out)
    finally:
        sys.stderr = real_stderr
    return code, out.getvalue(), err.getvalue()


def get_diagnosis(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return as_json(
        custom.get_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses", name)
    )


def finished(
    custom: client.CustomObjectsApi, namespace: str, name: str, operator: FullOperator
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = get_diagnosis(custom, namespace, name)
        phase = (found.get("status") or {}).get("phase")
        if phase == "Failed":
            raise AssertionError(
                f"{name} failed: {found['status'].get('conditions')}\n{tail(operator.process.log)}"
            )
        return found if phase == "Completed" else None

    return wait_for(f"diagnosis {namespace}/{name} Completed", probe)


def event_reasons(kube_admin: client.ApiClient, namespace: str, name: str) -> set[str | None]:
    events = client.CoreV1Api(kube_admin).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return {event.reason for event in events.items}


def check_reference_status(status: dict[str, Any]) -> None:
    """What the reference report concludes, as the operator writes it in status."""
    assert status["rootCause"]["component"] == "mysql", status["rootCause"]
    assert [a["instance"].rsplit(":", 1)[0] for a in status["affected"]] == ["10.0.2.101"]
    assert [c["ip"] for c in status["clients"]] == ["192.168.10.100"]
    roles = {c["component"]: c["role"] for c in status["candidates"]}
    assert roles["mysql"] == "root" and roles["redis"] == "aggravating", roles
    actions = {r["action"] for r in status["remediations"]}
    assert actions == {"drain-pod", "kill-mysql-queries", "rate-limit-client"}
    assert status["evidence"] and status["timeline"]


def check_report(
    kube_admin: client.ApiClient, namespace: str, diagnosis: dict[str, Any]
) -> dict[str, str]:
    """The report ConfigMap exists, is owned by the Diagnosis, and holds JSON and Markdown."""
    name = diagnosis["status"]["reportRef"]["name"]
    config_map = client.CoreV1Api(kube_admin).read_namespaced_config_map(name, namespace)
    owners = metadata_of(config_map).owner_references or []
    assert [(o.kind, o.name, o.uid) for o in owners] == [
        ("Diagnosis", diagnosis["metadata"]["name"], diagnosis["metadata"]["uid"])
    ]
    assert config_map.data is not None
    data: dict[str, str] = dict(config_map.data)
    reported = json.loads(data["diagnosis.json"])
    assert reported["rootCause"]["component"] == diagnosis["status"]["rootCause"]["component"]
    assert "mysql" in data["report.md"]
    return data


# --------------------------------------------------------------------------- (a) by hand


def test_plugin_create_completes_with_the_root_cause_and_a_report(
    full_operator: FullOperator,
    incident: Incident,
    shop: str,
    alice: Path,
    custom: client.CustomObjectsApi,
    kube_admin: client.ApiClient,
) -> None:
    # Look back over the whole incident (it ended in the last minute or two).
    since = f"{int((time.time() - incident.window_start) // 60) + 1}m"
    code, out, err = run_plugin(
        alice,
        "-n",
        shop,
        "create",
        "--service",
        "nginx",
        "--route",
        "/api/v2/data.json",
        "--since",
        since,
        "--name",
        "by-hand",
    )
    assert code == 0, err
    assert "by-hand" in out
    found = finished(custom, shop, "by-hand", full_operator)
    assert found["spec"]["mode"] == "observe"
    status = found["status"]
    check_reference_status(status)
    assert all(r["state"] == "proposed" for r in status["remediations"]), status["remediations"]
    reasons = wait_for(
        "the Events of by-hand",
        lambda: (lambda r: r if {"Started", "RootCauseFound"} <= r else None)(
            event_reasons(kube_admin, shop, "by-hand")
        ),
    )
    assert {"Started", "RootCauseFound"} <= reasons
    data = check_report(kube_admin, shop, found)

    code, printed, err = run_plugin(alice, "-n", shop, "report", "by-hand")
    assert code == 0, err
    assert printed.strip() == data["report.md"].strip()
    assert printed.lstrip().startswith("#") and "10.0.2.101" in printed
    code, shown, err = run_plugin(alice, "-n", shop, "show", "by-hand")
    assert code == 0, err
    assert "Completed" in shown and "mysql" in shown
    # Every proposal has its key from the start, but in observe mode nothing will run:
    # approving is refused, and nothing is recorded.
    keys = [r.get("idempotencyKey") for r in status["remediations"]]
    assert all(keys) and all(str(key) in shown for key in keys), status["remediations"]
    code, _, err = run_plugin(alice, "-n", shop, "approve", "by-hand", "rate-limit-client")
    assert code == 1
    assert "mode observe: nothing will run; switch the Diagnosis to dry-run or remediate" in err
    assert not approvals_from(get_diagnosis(custom, shop, "by-hand")["metadata"].get("annotations"))


def test_the_operator_diagnoses_the_window_as_offline_does(
    full_operator: FullOperator,
    incident: Incident,
    shop: str,
    custom: client.CustomObjectsApi,
    kube_admin: client.ApiClient,
) -> None:
    """Over the bundle's own window, the operator's status is ``diagnose --bundle``'s result."""
    diagnosis = example("diagnosis.yaml")
    diagnosis["metadata"]["name"] = "exact-window"
    diagnosis["spec"]["window"] = {
        "start": isoformat_z(incident.window_start),
        "end": isoformat_z(incident.window_end),
    }
    diagnosis["spec"]["mode"] = "dry-run"
    custom.create_namespaced_custom_object(API_GROUP, API_VERSION, shop, "diagnoses", diagnosis)
    found = finished(custom, shop, "exact-window", full_operator)
    status = found["status"]
    check_reference_status(status)
    offline = incident.offline
    assert status["rootCause"]["component"] == offline["rootCause"]["component"]
    assert status["rootCause"].get("instance") == offline["rootCause"]["instance"]
    assert status["rootCause"]["summary"] == offline["rootCause"]["summary"]
    assert [(c["component"], c["role"]) for c in status["candidates"]] == [
        (c["component"], c["role"]) for c in offline["candidates"]
    ]
    assert [(a["component"], a["instance"]) for a in status["affected"]] == [
        (a["component"], a["instance"]) for a in offline["affected"]
    ]
    assert [(c["ip"], c["requests"]) for c in status["clients"]] == [
        (c["ip"], c["requests"]) for c in offline["clients"]
    ]
    assert [(r["action"], r["target"]) for r in status["remediations"]] == [
        (r["action"], r["target"]) for r in offline["remediations"]
    ]
    assert [(t["component"], t["event"]) for t in status["timeline"]] == [
        (t["component"], t["event"]) for t in offline["timeline"]
    ][: len(status["timeline"])]
    report = json.loads(check_report(kube_admin, shop, found)["diagnosis.json"])
    assert report["rootCause"] == offline["rootCause"]
    assert report["remediations"] == offline["remediations"] or all(
        r["state"] != "running" for r in status["remediations"]
    )


# --------------------------------------------------------------------------- (b) from an alert


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """A loopback receiver for the policy's CloudEvents notification sink."""
    with Receiver() as started:
        yield started


def _notify_receiver(custom: client.CustomObjectsApi, namespace: str, url: str) -> None:
    """The reference policy tells a CloudEvents receiver both events (docs/notifications.md)."""
    events = ["completed", "approvalRequired"]
    sink = {"name": "events", "kind": "webhook", "url": url, "events": events}
    custom.patch_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnosispolicies",
        POLICY,
        {"spec": {"notifications": [sink]}},
    )


def _check_notifications(receiver: Receiver, *, name: str, namespace: str, key: str) -> None:
    """One event each: completed, then approvalRequired naming the exact approve command."""
    wait_for("two notifications", lambda: len(receiver.bodies()) >= 2)
    by_type = {body["type"]: body for body in receiver.bodies()}
    assert len(receiver.bodies()) == 2, receiver.bodies()
    completed = by_type["dev.diagnosis.diagnosis.completed.v1"]["data"]
    assert completed["rootCause"]["found"] is True
    assert completed["rootCause"]["component"] == "mysql"
    waiting = by_type["dev.diagnosis.diagnosis.approval-required.v1"]["data"]
    commands = [a["approveCommand"] for a in waiting["actions"] if a["approveCommand"]]
    assert commands == [f"kubectl diagnose approve {name} {key} -n {namespace}"]


def test_alert_through_alertmanager_gives_one_diagnosis_that_can_be_approved(
    receiver: Receiver,
    full_operator: FullOperator,
    incident: Incident,
    shop: str,
    alice: Path,
    alertmanager_factory: AlertmanagerFactory,
    custom: client.CustomObjectsApi,
    kube_admin: client.ApiClient,
) -> None:
    def from_alerts() -> list[dict[str, Any]]:
        listed = custom.list_namespaced_custom_object(
            API_GROUP,
            API_VERSION,
            shop,
            "diagnoses",
            label_selector=f"{API_GROUP}/trigger=alertmanager",
        )
        return list(as_json(listed)["items"])

    _notify_receiver(custom, shop, receiver.url)
    alertmanager = alertmanager_factory(
        receivers=[
            WebhookReceiver(name="diagnosis", url=full_operator.webhook_url, token=WEBHOOK_TOKEN)
        ]
    )
    # The 502s on nginx began about 10 minutes before the incident's end.
    fired = incident.window_end - 10 * 60
    alertmanager.post_alerts(
        [
            {
                "labels": {
                    "alertname": "Upstream502",
                    "job": "nginx",
                    "route": "/api/v2/data.json",
                    "severity": "page",
                },
                "annotations": {"summary": "nginx answers 502 on /api/v2/data.json"},
                "startsAt": isoformat_z(fired),
            }
        ]
    )
    # The first delivery, then repeats (group_interval / repeat_interval): one Diagnosis.
    wait_for(
        "three webhook deliveries",
        lambda: alertmanager.metric("alertmanager_notifications_total", integration="webhook") >= 3,
    )
    assert (
        alertmanager.metric("alertmanager_notifications_failed_total", integration="webhook") == 0
    )
    (created,) = from_alerts()
    name = created["metadata"]["name"]
    symptom = created["spec"]["symptom"]
    assert (symptom["component"], symptom["route"]) == ("nginx", "/api/v2/data.json")
    assert "Upstream502" in symptom["description"]
    assert created["spec"]["policyRef"] == {"name": POLICY}
    assert created["spec"]["mode"] == "dry-run"  # the webhook's mode (chart value)

    found = finished(custom, shop, name, full_operator)
    assert len(from_alerts()) == 1
    check_reference_status(found["status"])
    check_report(kube_admin, shop, found)

    code, listed, err = run_plugin(alice, "-n", shop, "list")
    assert code == 0 and name in listed, err
    code, shown, err = run_plugin(alice, "-n", shop, "show", name)
    assert code == 0 and "Completed" in shown, err

    # The one action the policy lets act waits for a person, under the key shown.
    proposed = [r for r in found["status"]["remediations"] if r["state"] == "proposed"]
    assert [r["action"] for r in proposed] == ["rate-limit-client"], found["status"]
    action, key = proposed[0]["action"], proposed[0]["idempotencyKey"]
    assert f"waits for approval: kubectl diagnose approve {name} {key}" in proposed[0]["reason"]
    assert key in shown
    _check_notifications(receiver, name=name, namespace=shop, key=key)
    # Approve it by its action name, as a user would.
    code, out, err = run_plugin(alice, "-n", shop, "approve", name, action)
    assert code == 0, err
    approved = get_diagnosis(custom, shop, name)
    approvals = approvals_from(approved["metadata"].get("annotations"))
    assert approvals[key].user == f"system:serviceaccount:{shop}:alice"
    assert approvals[key].user in out and key in out

    # The approval takes effect: every guard passes, and the mode makes it a dry run.
    def settled() -> dict[str, Any] | None:
        items = get_diagnosis(custom, shop, name)["status"]["remediations"]
        item = next(r for r in items if r["idempotencyKey"] == key)
        return dict(item) if item["state"] != "proposed" else None

    done = wait_for("the approved action to be dry-run", settled)
    assert done["state"] == "skipped", done
    assert "dry run (the diagnosis is in dry-run mode)" in done["reason"], done
    assert "192.168.10.100" in done["reason"]
    with pytest.raises(client.ApiException) as missing:
        client.CoreV1Api(kube_admin).read_namespaced_config_map(NGINX_CONFIGMAP, shop)
    assert missing.value.status == 404  # nothing was written

    # The operator counted the notifications on its /metrics.
    with urllib.request.urlopen(full_operator.metrics_url, timeout=10) as answer:
        text = answer.read().decode()
    assert 'diagnosis_operator_alert_notifications_total{result="created"} 1.0' in text


# --------------------------------------------------------------------------- examples


def test_every_example_applies_and_validates(
    full_operator: FullOperator, custom: client.CustomObjectsApi, kube_admin: client.ApiClient
) -> None:
    """Every manifest in manifests/examples is accepted by the apiserver and is valid."""
    namespace = f"examples-{uuid.uuid4().hex[:6]}"
    client.CoreV1Api(kube_admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=namespace))
    )
    files = sorted(EXAMPLES.glob("*.yaml"))
    assert {f.name for f in files} >= {
        "policy-reference.yaml",
        "policy-webapp.yaml",
        "diagnosis.yaml",
    }
    policies = []
    for path in files:
        for obj in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            plural = {"DiagnosisPolicy": "diagnosispolicies", "Diagnosis": "diagnoses"}[obj["kind"]]
            created = custom.create_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, plural, obj
            )
            assert as_json(created)["metadata"]["generation"] == 1, path
            if plural == "diagnosispolicies":
                policies.append(obj["metadata"]["name"])
    for name in policies:
        condition = wait_for(
            f"policy {name} Ready", partial(_ready_condition, custom, namespace, name)
        )
        assert condition["reason"] == "Valid"
