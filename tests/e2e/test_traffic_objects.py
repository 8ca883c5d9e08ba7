"""The traffic backends' objects against the vendors' own CRD schemas on a real apiserver.

The vendor CRDs (``crds/vendor``, byte-for-byte upstream) are created with a plain
create (``securitypolicies`` is too big for client-side apply), then the backends
apply and remove rules through an ``ObjectStore`` on the Kubernetes API.  The
apiserver checks every object against the OpenAPI schema and CEL rules; a
deliberately invalid object proves that checking is on.
"""

from __future__ import annotations

import ipaddress
import time
import uuid
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from diagnosis_operator.adapters.traffic.envoy_gateway import EnvoyGatewayBackend, PolicyTarget
from diagnosis_operator.adapters.traffic.istio import IstioBackend
from diagnosis_operator.adapters.traffic.nginx import ConfigMapSink, NginxBackend
from diagnosis_operator.models.actions import ClientRule, RuleMode
from tests.k8s_json import as_json, request_body

pytestmark = pytest.mark.e2e

VENDOR = Path(__file__).resolve().parents[2] / "crds" / "vendor"
CRD_FILES = (
    "gateway.networking.k8s.io_gatewayclasses.yaml",
    "gateway.networking.k8s.io_gateways.yaml",
    "gateway.networking.k8s.io_httproutes.yaml",
    "gateway.envoyproxy.io_securitypolicies.yaml",
    "gateway.envoyproxy.io_backendtrafficpolicies.yaml",
    "security.istio.io_authorizationpolicies.yaml",
)
PLURALS = {
    "SecurityPolicy": "securitypolicies",
    "BackendTrafficPolicy": "backendtrafficpolicies",
    "AuthorizationPolicy": "authorizationpolicies",
}
NOW = 1_800_000_000.0


def _rule(cidr: str, mode: RuleMode, rule_id: str, rps: float = 5.0) -> ClientRule:
    return ClientRule(
        rule_id=rule_id,
        network=ipaddress.ip_network(cidr),
        mode=mode,
        requests_per_second=rps,
        created_at=NOW,
        expires_at=NOW + 600,
        level=0,
    )


class KubeObjectStore:
    """A test-side ``ObjectStore`` on the Kubernetes API (CRs and ConfigMaps)."""

    def __init__(self, api_client: client.ApiClient) -> None:
        self.custom = client.CustomObjectsApi(api_client)
        self.core = client.CoreV1Api(api_client)

    def get(
        self, *, api_version: str, kind: str, namespace: str, name: str
    ) -> dict[str, Any] | None:
        try:
            if kind == "ConfigMap":
                found = self.core.read_namespaced_config_map(name, namespace)
                # sanitize_for_serialization is unannotated; it gives the model's JSON.
                plain = client.ApiClient().sanitize_for_serialization(found)  # type: ignore[no-untyped-call]
                return as_json(plain)
            group, version = api_version.split("/")
            return as_json(
                self.custom.get_namespaced_custom_object(
                    group, version, namespace, PLURALS[kind], name
                )
            )
        except ApiException as error:
            if error.status == 404:
                return None
            raise

    def put(self, *, obj: Mapping[str, Any]) -> None:
        body = dict(obj)
        meta = body["metadata"]
        current = self.get(
            api_version=body["apiVersion"],
            kind=body["kind"],
            namespace=meta["namespace"],
            name=meta["name"],
        )
        if body["kind"] == "ConfigMap":
            if current is None:
                self.core.create_namespaced_config_map(meta["namespace"], request_body(body))
            else:
                body["metadata"] = {
                    **meta,
                    "resourceVersion": current["metadata"]["resourceVersion"],
                }
                self.core.replace_namespaced_config_map(
                    meta["name"], meta["namespace"], request_body(body)
                )
            return
        group, version = body["apiVersion"].split("/")
        plural = PLURALS[body["kind"]]
        if current is None:
            self.custom.create_namespaced_custom_object(
                group, version, meta["namespace"], plural, body
            )
        else:
            body["metadata"] = {**meta, "resourceVersion": current["metadata"]["resourceVersion"]}
            self.custom.replace_namespaced_custom_object(
                group, version, meta["namespace"], plural, meta["name"], body
            )

    def delete(self, *, api_version: str, kind: str, namespace: str, name: str) -> None:
        try:
            if kind == "ConfigMap":
                self.core.delete_namespaced_config_map(name, namespace)
                return
            group, version = api_version.split("/")
            self.custom.delete_namespaced_custom_object(
                group, version, namespace, PLURALS[kind], name
            )
        except ApiException as error:
            if error.status != 404:
                raise


def _established(api: client.ApiextensionsV1Api, name: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        crd = api.read_custom_resource_definition(name)
        for condition in (crd.status and crd.status.conditions) or []:
            if condition.type == "Established" and condition.status == "True":
                return
        time.sleep(0.5)
    pytest.fail(f"CRD {name} not Established after {timeout:.0f} s")


@pytest.fixture(scope="module")
def vendor_crds(kube_admin: client.ApiClient) -> client.ApiClient:
    extensions = client.ApiextensionsV1Api(kube_admin)
    names = []
    for file in CRD_FILES:
        crd = yaml.safe_load((VENDOR / file).read_text())
        names.append(crd["metadata"]["name"])
        try:
            extensions.create_custom_resource_definition(crd)
        except ApiException as error:
            if error.status != 409:  # already created by another test in this session
                raise
    for name in names:
        _established(extensions, name)
    return kube_admin


@pytest.fixture
def namespace(vendor_crds: client.ApiClient) -> Iterator[str]:
    name = f"traffic-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(vendor_crds)
    core.create_namespace(request_body({"metadata": {"name": name}}))
    yield name
    core.delete_namespace(name)


def test_envoy_gateway_policies_pass_the_vendor_schema(
    vendor_crds: client.ApiClient, namespace: str
) -> None:
    store = KubeObjectStore(vendor_crds)
    backend = EnvoyGatewayBackend(
        store=store,
        namespace=namespace,
        targets=[
            PolicyTarget(kind="Gateway", name="public"),
            PolicyTarget(kind="HTTPRoute", name="api"),
        ],
    )
    deny = _rule("203.0.113.7/32", RuleMode.DENY, "d1")
    deny6 = _rule("2001:db8::7/128", RuleMode.DENY, "d2")
    limit = _rule("198.51.100.0/28", RuleMode.RATE_LIMIT, "l1", rps=10)
    limit6 = _rule("2001:db8:1::/64", RuleMode.RATE_LIMIT, "l2", rps=0.5)
    backend.apply(rules=[deny, deny6, limit, limit6])

    stored = store.get(
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind="SecurityPolicy",
        namespace=namespace,
        name=backend.deny_name,
    )
    assert stored is not None
    assert stored["spec"]["authorization"]["rules"][0]["principal"]["clientCIDRs"] == [
        "203.0.113.7/32"
    ]
    btp = store.get(
        api_version="gateway.envoyproxy.io/v1alpha1",
        kind="BackendTrafficPolicy",
        namespace=namespace,
        name=backend.rate_limit_name,
    )
    assert btp is not None
    assert btp["spec"]["rateLimit"]["local"]["rules"][1]["limit"] == {
        "requests": 30,
        "unit": "Minute",
    }
    assert set(backend.active()) == {deny, deny6, limit, limit6}

    backend.remove(rules=[deny, deny6])
    assert set(backend.active()) == {limit, limit6}
    backend.remove(rules=[limit, limit6])
    assert backend.active() == ()


def test_istio_authorization_policy_passes_the_vendor_schema(
    vendor_crds: client.ApiClient, namespace: str
) -> None:
    store = KubeObjectStore(vendor_crds)
    backend = IstioBackend(store=store, namespace=namespace, selector={"istio": "ingressgateway"})
    deny = _rule("203.0.113.0/24", RuleMode.DENY, "d1")
    backend.apply(rules=[deny])
    assert backend.active() == (deny,)
    via_target = IstioBackend(
        store=store,
        namespace=namespace,
        target=PolicyTarget(kind="Gateway", name="public"),
        policy_name="diagnosis-operator-deny-gw",
    )
    via_target.apply(rules=[deny])
    assert via_target.active() == (deny,)
    backend.remove(rules=[deny])
    assert backend.active() == ()


def test_nginx_configmap_round_trips(vendor_crds: client.ApiClient, namespace: str) -> None:
    store = KubeObjectStore(vendor_crds)
    backend = NginxBackend(sink=ConfigMapSink(store=store, namespace=namespace, name="edge-limits"))
    deny = _rule("203.0.113.7/32", RuleMode.DENY, "d1")
    backend.apply(rules=[deny])
    assert backend.active() == (deny,)
    stored = store.get(api_version="v1", kind="ConfigMap", namespace=namespace, name="edge-limits")
    assert (
        stored is not None
        and "deny 203.0.113.7/32;" in stored["data"]["diagnosis-operator-server.conf"]
    )


def test_the_apiserver_really_checks_vendor_schemas(
    vendor_crds: client.ApiClient, namespace: str
) -> None:
    backend = EnvoyGatewayBackend(
        store=KubeObjectStore(vendor_crds),
        namespace=namespace,
        targets=[PolicyTarget(name="public")],
    )
    (bad,) = backend.render(rules=[_rule("203.0.113.7/32", RuleMode.DENY, "d1")])
    bad["spec"]["targetRefs"] = [{"group": "", "kind": "Service", "name": "x"}]
    with pytest.raises(ApiException) as refused:
        client.CustomObjectsApi(vendor_crds).create_namespaced_custom_object(
            "gateway.envoyproxy.io", "v1alpha1", namespace, "securitypolicies", bad
        )
    assert refused.value.status == 422
    assert "targetRefs" in (refused.value.body or "")
