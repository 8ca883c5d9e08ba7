"""Tenant isolation on the real apiserver: the chart installed, the operator under its account.

A tenant is a ServiceAccount with Diagnosis / DiagnosisPolicy rights in namespace A
only (no Secrets).  The chart serves A (``tenancy.namespaces``: the RoleBindings are
applied from ``helm template``), not B.  A "listener" on loopback plays the server
of the tenant's choosing and records every byte it receives.

* SubjectAccessReview: the chart's ServiceAccount reads Secrets and writes
  ConfigMaps / traffic objects in A only, never in B or kube-system, reads its own
  tenancy ConfigMap and cannot change it.
* A cross-namespace ``secretRef``, an ``authSecretRef`` for a URL off the admin's
  allow list, and ``rateLimitClient.params.namespace: kube-system`` are refused:
  the policy is not Ready (``NotAllowed``, the field named), the diagnosis says
  why, and the listener receives no credential.  With the listener's origin on
  the admin's allow list (the tenancy ConfigMap), the same token does arrive.
* A report ConfigMap the operator did not create is never patched (the operator's
  writer under its own token, and ``kubectl diagnose create --name``); nor is an
  nginx rate-limit ConfigMap without the operator's managed-by label.
"""

from __future__ import annotations

import contextlib
import io
import ipaddress
import secrets
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.objects import KubernetesObjectStore
from diagnosis_operator.adapters.traffic.common import MANAGED_BY
from diagnosis_operator.adapters.traffic.nginx import ConfigMapSink, NginxBackend
from diagnosis_operator.entrypoints.cli.kubectl.main import main as plugin
from diagnosis_operator.entrypoints.kopf.kube import Kube, NotOwned, OwnerRef
from diagnosis_operator.models.actions import ClientRule, RuleMode
from tests.controlplane.cluster import ControlPlane, write_kubeconfig
from tests.controlplane.operator import (
    NAMESPACE as OPERATOR_NAMESPACE,
)
from tests.controlplane.operator import (
    OperatorInstall,
    OperatorProcess,
    rendered_objects,
)
from tests.k8s_json import as_json, minted_token, request_body

pytestmark = pytest.mark.e2e

WAIT = 60.0
TENANCY_CONFIGMAP = "diagnosis-operator-tenancy"
T = TypeVar("T")
EMPTY_QUERY = b'{"status":"success","data":{"resultType":"matrix","result":[]}}'


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@dataclass
class Listener:
    """A TCP server of the tenant's choosing: records what arrives, answers HTTP 200."""

    received: list[bytes] = field(default_factory=list)
    server: socketserver.ThreadingTCPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @property
    def port(self) -> int:
        assert self.server is not None
        return int(self.server.server_address[1])

    def start(self) -> Listener:
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                sock: socket.socket = self.request
                sock.settimeout(2.0)
                data = b""
                try:
                    while b"\r\n\r\n" not in data and len(data) < 65536:
                        chunk = sock.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                except OSError:
                    pass
                owner.received.append(data)
                reply = (
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    b"Content-Length: %d\r\nConnection: close\r\n\r\n%s"
                    % (len(EMPTY_QUERY), EMPTY_QUERY)
                )
                with contextlib.suppress(OSError):
                    sock.sendall(reply)

        socketserver.ThreadingTCPServer.allow_reuse_address = True
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()
        return self

    def close(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@dataclass
class Tenancy:
    a: str
    b: str
    tenant: client.ApiClient
    kubeconfig: Path
    token: str  # the value of Secret A/prom-token, which the tenant cannot read
    install: OperatorInstall
    listener: Listener
    signals: Listener


TENANT_RULES = [
    {
        "apiGroups": [API_GROUP],
        "resources": ["diagnoses", "diagnosispolicies"],
        "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
    },
    # kubectl diagnose create checks the report ConfigMap's name; nothing else.
    {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get"]},
]


def _namespace(core: client.CoreV1Api, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    return name


def _serve_from_chart(kube_admin: client.ApiClient, namespace: str) -> None:
    """The RoleBindings the chart renders for ``tenancy.namespaces={namespace}``."""
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    objects = rendered_objects("--set", f"tenancy.namespaces={{{namespace}}}")
    bindings = [
        o
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"].get("namespace") == namespace
    ]
    assert len(bindings) == 2, bindings
    for binding in bindings:
        rbac.create_namespaced_role_binding(namespace, request_body(binding))


def _tenant_account(kube_admin: client.ApiClient, namespace: str) -> str:
    core = client.CoreV1Api(kube_admin)
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    core.create_namespaced_service_account(
        namespace, client.V1ServiceAccount(metadata=client.V1ObjectMeta(name="tenant"))
    )
    rbac.create_namespaced_role(
        namespace,
        request_body({"metadata": {"name": "tenant"}, "rules": TENANT_RULES}),
    )
    rbac.create_namespaced_role_binding(
        namespace,
        request_body(
            {
                "metadata": {"name": "tenant"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": "tenant",
                },
                "subjects": [{"kind": "ServiceAccount", "name": "tenant", "namespace": namespace}],
            }
        ),
    )
    minted = core.create_namespaced_service_account_token(
        "tenant",
        namespace,
        client.AuthenticationV1TokenRequest(spec=client.V1TokenRequestSpec(audiences=[])),
    )
    return minted_token(minted)


@pytest.fixture(scope="module")
def world(
    kube_admin: client.ApiClient,
    control_plane: ControlPlane,
    operator_process: OperatorProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Tenancy]:
    core = client.CoreV1Api(kube_admin)
    a, b = _namespace(core, "tenant-a"), _namespace(core, "tenant-b")
    _serve_from_chart(kube_admin, a)
    listener, signals = Listener().start(), Listener().start()
    token = secrets.token_hex(16)
    core.create_namespaced_secret(
        a,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="prom-token"), string_data={"token": token}
        ),
    )
    # B's database password; the host is the listener, so any use of it would be seen.
    core.create_namespaced_secret(
        b,
        client.V1Secret(
            metadata=client.V1ObjectMeta(name="db-root"),
            string_data={
                "host": "127.0.0.1",
                "port": str(listener.port),
                "user": "root",
                "password": token,
            },
        ),
    )
    tenant_token = _tenant_account(kube_admin, a)
    path = tmp_path_factory.mktemp("tenant") / "kubeconfig"
    write_kubeconfig(
        path,
        server=control_plane.server,
        ca_file=control_plane.ca_file,
        token=tenant_token,
        user="tenant",
    )
    try:
        yield Tenancy(
            a=a,
            b=b,
            tenant=control_plane.api_client(token=tenant_token),
            kubeconfig=path,
            token=token,
            install=operator_process.install,
            listener=listener,
            signals=signals,
        )
    finally:
        listener.close()
        signals.close()


# ------------------------------------------------------------------ what the chart grants


def allowed(
    kube_admin: client.ApiClient,
    user: str,
    groups: list[str],
    *,
    resource: str,
    verb: str,
    namespace: str | None,
    group: str = "",
    name: str | None = None,
) -> bool:
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=groups,
            resource_attributes=client.V1ResourceAttributes(
                group=group, resource=resource, verb=verb, namespace=namespace, name=name
            ),
        )
    )
    answer = client.AuthorizationV1Api(kube_admin).create_subject_access_review(review)
    assert answer.status is not None
    return bool(answer.status.allowed)


def operator_may(kube_admin: client.ApiClient, install: OperatorInstall, **what: Any) -> bool:
    user = f"system:serviceaccount:{install.namespace}:{install.service_account}"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{install.namespace}"]
    return allowed(kube_admin, user, [*groups, "system:authenticated"], **what)


ENVOY = "gateway.envoyproxy.io"
ISTIO = "security.istio.io"


def test_chart_grants_secrets_and_writes_only_where_it_serves(
    kube_admin: client.ApiClient, world: Tenancy
) -> None:
    install, a, b = world.install, world.a, world.b
    granted: list[dict[str, Any]] = [
        {"resource": "secrets", "verb": "get", "namespace": a},
        {"resource": "configmaps", "verb": "get", "namespace": a},
        {"resource": "configmaps", "verb": "create", "namespace": a},
        {"resource": "configmaps", "verb": "patch", "namespace": a},
        {"resource": "securitypolicies", "verb": "create", "namespace": a, "group": ENVOY},
        {"resource": "authorizationpolicies", "verb": "delete", "namespace": a, "group": ISTIO},
        {
            "resource": "configmaps",
            "verb": "get",
            "namespace": OPERATOR_NAMESPACE,
            "name": TENANCY_CONFIGMAP,
        },
    ]
    refused: list[dict[str, Any]] = [
        {"resource": "secrets", "verb": "get", "namespace": b},
        {"resource": "secrets", "verb": "get", "namespace": "kube-system"},
        {"resource": "secrets", "verb": "get", "namespace": None},
        {"resource": "secrets", "verb": "list", "namespace": a},
        {"resource": "configmaps", "verb": "create", "namespace": "kube-system"},
        {"resource": "configmaps", "verb": "patch", "namespace": "kube-system"},
        {"resource": "configmaps", "verb": "patch", "namespace": b},
        {"resource": "configmaps", "verb": "create", "namespace": None},
        {"resource": "configmaps", "verb": "delete", "namespace": a},
        {"resource": "securitypolicies", "verb": "create", "namespace": b, "group": ENVOY},
        {
            "resource": "backendtrafficpolicies",
            "verb": "patch",
            "namespace": "kube-system",
            "group": ENVOY,
        },
        {"resource": "authorizationpolicies", "verb": "create", "namespace": b, "group": ISTIO},
        {
            "resource": "configmaps",
            "verb": "update",
            "namespace": OPERATOR_NAMESPACE,
            "name": TENANCY_CONFIGMAP,
        },
        {
            "resource": "configmaps",
            "verb": "patch",
            "namespace": OPERATOR_NAMESPACE,
            "name": TENANCY_CONFIGMAP,
        },
    ]
    missing = [w for w in granted if not operator_may(kube_admin, install, **w)]
    assert not missing, f"the chart does not grant {missing}"
    leaked = [w for w in refused if operator_may(kube_admin, install, **w)]
    assert not leaked, f"the chart grants more than the served namespaces: {leaked}"


def test_the_tenant_itself_cannot_read_the_secrets(
    kube_admin: client.ApiClient, world: Tenancy
) -> None:
    user = f"system:serviceaccount:{world.a}:tenant"
    groups = ["system:serviceaccounts", f"system:serviceaccounts:{world.a}", "system:authenticated"]
    for namespace in (world.a, world.b):
        assert not allowed(
            kube_admin, user, groups, resource="secrets", verb="get", namespace=namespace
        )
    assert allowed(
        kube_admin,
        user,
        groups,
        group=API_GROUP,
        resource="diagnosispolicies",
        verb="create",
        namespace=world.a,
    )
    assert not allowed(
        kube_admin,
        user,
        groups,
        group=API_GROUP,
        resource="diagnoses",
        verb="create",
        namespace=world.b,
    )


# ------------------------------------------------------------------ the tenant's policies


def _policy(world: Tenancy, name: str, **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "components": [{"name": "web", "kind": "app", "selector": {"job": "web"}}],
        "signals": {
            "prometheus": {"url": world.signals.url},
            "loki": {"url": world.signals.url},
        },
    }
    spec.update(extra)
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "DiagnosisPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def _as_tenant(world: Tenancy, plural: str, body: dict[str, Any]) -> None:
    client.CustomObjectsApi(world.tenant).create_namespaced_custom_object(
        API_GROUP, API_VERSION, world.a, plural, body
    )


def _get(world: Tenancy, plural: str, name: str) -> dict[str, Any]:
    return as_json(
        client.CustomObjectsApi(world.tenant).get_namespaced_custom_object(
            API_GROUP, API_VERSION, world.a, plural, name
        )
    )


def _ready(world: Tenancy, name: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        conditions = (_get(world, "diagnosispolicies", name).get("status") or {}).get("conditions")
        return next((c for c in conditions or [] if c["type"] == "Ready"), None)

    return wait_for(f"policy {name} Ready condition", probe)


def _diagnose(world: Tenancy, name: str, policy: str) -> dict[str, Any]:
    _as_tenant(
        world,
        "diagnoses",
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "Diagnosis",
            "metadata": {"name": name},
            "spec": {
                "symptom": {"component": "web"},
                "window": {"lookback": "10m"},
                "policyRef": {"name": policy},
            },
        },
    )

    def finished() -> dict[str, Any] | None:
        found = _get(world, "diagnoses", name)
        phase = (found.get("status") or {}).get("phase")
        return found if phase in ("Completed", "Degraded", "Failed") else None

    return wait_for(f"diagnosis {name} finished", finished)


def _events(kube_admin: client.ApiClient, namespace: str, name: str) -> list[tuple[str, str]]:
    listed = client.CoreV1Api(kube_admin).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return [(str(e.reason), str(e.message)) for e in listed.items]


def _credential_seen(world: Tenancy) -> list[bytes]:
    return [data for data in world.listener.received if world.token.encode() in data]


def test_a_secret_ref_into_another_namespace_is_refused(
    kube_admin: client.ApiClient, world: Tenancy
) -> None:
    body = _policy(world, "cross")
    body["spec"]["components"].append(
        {
            "name": "db",
            "kind": "mysql",
            "selector": {"job": "db"},
            "mysql": {"secretRef": {"name": "db-root", "namespace": world.b}},
        }
    )
    _as_tenant(world, "diagnosispolicies", body)
    ready = _ready(world, "cross")
    assert ready["status"] == "False" and ready["reason"] == "NotAllowed", ready
    assert "spec.components[1].mysql.secretRef.namespace" in ready["message"]
    assert repr(world.b) in ready["message"]
    _diagnose(world, "cross-d", "cross")
    refusal = wait_for(
        "the enrichment refusal event",
        lambda: [
            m for r, m in _events(kube_admin, world.a, "cross-d") if r == "EnrichmentUnavailable"
        ],
    )
    assert "may not read Secrets in namespace" in refusal[0], refusal
    assert world.listener.received == [], "something connected with B's credentials"


def test_an_auth_secret_ref_goes_only_to_an_allowed_origin(
    kube_admin: client.ApiClient, world: Tenancy
) -> None:
    prometheus = {"url": world.listener.url, "authSecretRef": {"name": "prom-token"}}
    body = _policy(
        world, "token", signals={"prometheus": prometheus, "loki": {"url": world.signals.url}}
    )
    _as_tenant(world, "diagnosispolicies", body)
    ready = _ready(world, "token")
    assert ready["status"] == "False" and ready["reason"] == "NotAllowed", ready
    assert "spec.signals.prometheus.url" in ready["message"]
    found = _diagnose(world, "token-d", "token")
    failed = {c["type"]: c for c in found["status"]["conditions"]}["Failed"]
    assert failed["reason"] == "SourceNotConfigured", failed
    assert "spec.signals.prometheus.url" in failed["message"]
    assert "credential allow list" in failed["message"]
    assert _credential_seen(world) == [] and world.listener.received == []

    # The admin allows the listener's origin: the same token now arrives there.
    core = client.CoreV1Api(kube_admin)
    original = core.read_namespaced_config_map(TENANCY_CONFIGMAP, OPERATOR_NAMESPACE).data or {}
    config = {"tenancy.yaml": yaml.safe_dump({"credentialUrls": [world.listener.url]})}
    core.patch_namespaced_config_map(TENANCY_CONFIGMAP, OPERATOR_NAMESPACE, {"data": config})
    try:
        _diagnose(world, "token-allowed", "token")
        assert _credential_seen(world), "the allow-listed origin got no token"
    finally:
        core.patch_namespaced_config_map(TENANCY_CONFIGMAP, OPERATOR_NAMESPACE, {"data": original})


def test_a_rate_limit_namespace_outside_the_tenant_is_refused(
    kube_admin: client.ApiClient, world: Tenancy
) -> None:
    remediation = {
        "rateLimitClient": {
            "enabled": True,
            "params": {"provider": "nginx", "configMap": "limits", "namespace": "kube-system"},
        }
    }
    _as_tenant(world, "diagnosispolicies", _policy(world, "edge", remediation=remediation))
    ready = _ready(world, "edge")
    assert ready["status"] == "False" and ready["reason"] == "NotAllowed", ready
    assert "spec.remediation.rateLimitClient.params.namespace" in ready["message"]
    assert "'kube-system'" in ready["message"]
    assert not operator_may(
        kube_admin, world.install, resource="configmaps", verb="patch", namespace="kube-system"
    )


# ------------------------------------------------------------------ ownership of the report


def test_a_report_configmap_the_operator_did_not_create_is_never_patched(
    kube_admin: client.ApiClient,
    control_plane: ControlPlane,
    world: Tenancy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    core = client.CoreV1Api(kube_admin)
    core.create_namespaced_config_map(
        world.a,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="x-report"), data={"keep": "me"}),
    )
    before = core.read_namespaced_config_map("x-report", world.a)

    out = io.StringIO()
    argv = ["--kubeconfig", str(world.kubeconfig), "-n", world.a, "create", "--service", "web"]
    code = plugin([*argv, "--policy", "edge", "--name", "x"], out=out)
    assert code == 1, out.getvalue()
    assert f"ConfigMap {world.a}/x-report already exists" in capsys.readouterr().err

    # The operator's own writer, under the chart's ServiceAccount, for a real Diagnosis x.
    _as_tenant(
        world,
        "diagnoses",
        {
            "apiVersion": f"{API_GROUP}/{API_VERSION}",
            "kind": "Diagnosis",
            "metadata": {"name": "x"},
            "spec": {
                "symptom": {"component": "web"},
                "window": {"lookback": "5m"},
                "policyRef": {"name": "none"},
            },
        },
    )
    uid = _get(world, "diagnoses", "x")["metadata"]["uid"]
    kube = Kube(api_client=control_plane.api_client(token=world.install.token))
    with pytest.raises(NotOwned, match=f"{world.a}/x-report already exists and is not owned"):
        kube.write_report(
            namespace=world.a, name="x-report", owner=OwnerRef(name="x", uid=uid), data={"r": "1"}
        )
    after = core.read_namespaced_config_map("x-report", world.a)
    assert after.data == {"keep": "me"}
    assert after.metadata is not None and before.metadata is not None
    assert after.metadata.resource_version == before.metadata.resource_version

    # Its own report (ownerReference with the uid) is replaced as before.
    for text in ("first", "second"):
        kube.write_report(
            namespace=world.a,
            name="mine-report",
            owner=OwnerRef(name="x", uid=uid),
            data={"r": text},
        )
    assert core.read_namespaced_config_map("mine-report", world.a).data == {"r": "second"}


def test_a_rate_limit_configmap_the_operator_did_not_create_is_never_patched(
    kube_admin: client.ApiClient, control_plane: ControlPlane, world: Tenancy
) -> None:
    core = client.CoreV1Api(kube_admin)
    for name, labels in (("app-config", None), ("handed-over", dict(MANAGED_BY))):
        core.create_namespaced_config_map(
            world.a,
            client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=name, labels=labels), data={"keep": "me"}
            ),
        )
    store = KubernetesObjectStore(api_client=control_plane.api_client(token=world.install.token))
    now = time.time()
    rule = ClientRule(
        rule_id="tenancy-1",
        network=ipaddress.ip_network("203.0.113.9/32"),
        mode=RuleMode.DENY,
        requests_per_second=0,
        created_at=now,
        expires_at=now + 300,
        level=0,
    )
    foreign = NginxBackend(sink=ConfigMapSink(store=store, namespace=world.a, name="app-config"))
    with pytest.raises(ValueError, match=r"is not labelled app\.kubernetes\.io/managed-by"):
        foreign.apply(rules=[rule])
    assert core.read_namespaced_config_map("app-config", world.a).data == {"keep": "me"}
    mine = NginxBackend(sink=ConfigMapSink(store=store, namespace=world.a, name="handed-over"))
    mine.apply(rules=[rule])
    written = core.read_namespaced_config_map("handed-over", world.a).data or {}
    assert "deny 203.0.113.9/32;" in written["diagnosis-operator-server.conf"], written
