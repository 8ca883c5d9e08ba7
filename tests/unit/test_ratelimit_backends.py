"""The traffic backends' rendering and rule bookkeeping, against in-memory stores."""

from __future__ import annotations

import ipaddress

import pytest

from diagnosis_operator.adapters.traffic.common import TooManyRules, UnsupportedRule
from diagnosis_operator.adapters.traffic.envoy_gateway import (
    EnvoyGatewayBackend,
    PolicyTarget,
    limit_of,
)
from diagnosis_operator.adapters.traffic.istio import IstioBackend
from diagnosis_operator.adapters.traffic.nginx import NginxBackend, rate_text
from diagnosis_operator.core.remediation.ratelimit import expired, plan_rules
from diagnosis_operator.models.actions import ClientRule, RateLimitPolicy, RuleMode
from tests.fakes.traffic import FakeNginxSink, FakeObjectStore

NOW = 1_800_000_000.0


def rule(
    cidr: str, mode: RuleMode, *, rps: float = 5.0, rule_id: str | None = None, shadow: bool = False
) -> ClientRule:
    network = ipaddress.ip_network(cidr)
    return ClientRule(
        rule_id=rule_id or f"r{abs(hash(cidr)) % 10**8}",
        network=network,
        mode=mode,
        requests_per_second=rps,
        created_at=NOW,
        expires_at=NOW + 600,
        level=0,
        shadow=shadow,
    )


DENY = rule("203.0.113.7/32", RuleMode.DENY, rule_id="aaa")
LIMIT = rule("198.51.100.0/28", RuleMode.RATE_LIMIT, rps=10, rule_id="bbb")
LIMIT6 = rule("2001:db8::/64", RuleMode.RATE_LIMIT, rps=0.5, rule_id="ccc")


def envoy(store: FakeObjectStore) -> EnvoyGatewayBackend:
    return EnvoyGatewayBackend(
        store=store, namespace="edge", targets=[PolicyTarget(kind="Gateway", name="public")]
    )


def test_envoy_security_policy_denies_by_client_cidr() -> None:
    (policy,) = envoy(FakeObjectStore()).render(rules=[DENY])
    assert policy["kind"] == "SecurityPolicy"
    assert policy["apiVersion"] == "gateway.envoyproxy.io/v1alpha1"
    spec = policy["spec"]
    assert spec["targetRefs"] == [
        {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "public"}
    ]
    assert spec["authorization"]["defaultAction"] == "Allow"
    assert spec["authorization"]["rules"] == [
        {"name": "deny-aaa", "action": "Deny", "principal": {"clientCIDRs": ["203.0.113.7/32"]}}
    ]


def test_envoy_backend_traffic_policy_limits_by_source_cidr() -> None:
    (policy,) = envoy(FakeObjectStore()).render(rules=[LIMIT, LIMIT6])
    assert policy["kind"] == "BackendTrafficPolicy"
    local = policy["spec"]["rateLimit"]["local"]["rules"]
    assert local == [
        {
            "clientSelectors": [{"sourceCIDR": {"type": "Exact", "value": "198.51.100.0/28"}}],
            "limit": {"requests": 10, "unit": "Second"},
        },
        {
            "clientSelectors": [{"sourceCIDR": {"type": "Exact", "value": "2001:db8::/64"}}],
            "limit": {"requests": 30, "unit": "Minute"},
        },
    ]


def test_envoy_apply_merge_remove_and_read_back() -> None:
    store = FakeObjectStore()
    backend = envoy(store)
    backend.apply(rules=[DENY])
    backend.apply(rules=[LIMIT])
    assert store.kinds() == ["BackendTrafficPolicy", "SecurityPolicy"]
    assert {r.rule_id for r in backend.active()} == {"aaa", "bbb"}
    # A second backend instance (an operator restart) sees the same rules.
    assert set(envoy(store).active()) == {DENY, LIMIT}
    backend.remove(rules=[DENY])
    assert store.kinds() == ["BackendTrafficPolicy"]
    backend.remove(rules=[LIMIT])
    assert store.objects == {}


def test_envoy_refuses_more_rules_than_the_schema_allows() -> None:
    many = [rule(f"198.51.100.{i}/32", RuleMode.RATE_LIMIT, rule_id=f"id{i}") for i in range(17)]
    with pytest.raises(TooManyRules, match="17 rate-limit rules"):
        envoy(FakeObjectStore()).render(rules=many)


def test_shadow_rules_are_never_enforced() -> None:
    store = FakeObjectStore()
    envoy(store).apply(rules=[rule("203.0.113.9/32", RuleMode.DENY, shadow=True)])
    assert store.objects == {}


@pytest.mark.parametrize(
    ("rps", "expected"),
    [
        (10, {"requests": 10, "unit": "Second"}),
        (0.5, {"requests": 30, "unit": "Minute"}),
        (1 / 60, {"requests": 1, "unit": "Minute"}),
        (1 / 7200, {"requests": 1, "unit": "Hour"}),
    ],
)
def test_envoy_limit_units(rps: float, expected: dict[str, object]) -> None:
    assert limit_of(rule("203.0.113.1/32", RuleMode.RATE_LIMIT, rps=rps)) == expected


def test_istio_authorization_policy_denies_remote_ip_blocks() -> None:
    store = FakeObjectStore()
    backend = IstioBackend(
        store=store, namespace="istio-system", selector={"istio": "ingressgateway"}
    )
    other = rule("2001:db8::5/128", RuleMode.DENY, rule_id="ddd")
    (policy,) = backend.render(rules=[DENY, other])
    assert policy["apiVersion"] == "security.istio.io/v1"
    assert policy["spec"] == {
        "action": "DENY",
        "rules": [
            {"from": [{"source": {"remoteIpBlocks": ["203.0.113.7/32", "2001:db8::5/128"]}}]}
        ],
        "selector": {"matchLabels": {"istio": "ingressgateway"}},
    }
    backend.apply(rules=[DENY, other])
    backend.remove(rules=[DENY])
    assert backend.active() == (other,)
    backend.remove(rules=[other])
    assert store.objects == {}


def test_istio_refuses_rate_limits() -> None:
    backend = IstioBackend(store=FakeObjectStore(), namespace="x")
    with pytest.raises(UnsupportedRule, match="bbb"):
        backend.apply(rules=[LIMIT])


def test_nginx_files() -> None:
    sink = FakeNginxSink()
    backend = NginxBackend(sink=sink)
    files = backend.files([DENY, LIMIT, LIMIT6])
    http = files["diagnosis-operator-http.conf"]
    server = files["diagnosis-operator-server.conf"]
    assert "geo $diagnosis_operator_rl_0 {" in http
    assert "198.51.100.0/28 1;" in http and "2001:db8::/64 1;" in http
    assert (
        "limit_req_zone $diagnosis_operator_rl_key_0 zone=diagnosis_operator_rl_0:1m rate=10r/s;"
        in http
    )
    assert "rate=30r/m;" in http
    assert "limit_req zone=diagnosis_operator_rl_0;" in server and "limit_req_status 429;" in server
    assert "deny 203.0.113.7/32;" in server
    backend.apply(rules=[DENY, LIMIT])
    assert {r.rule_id for r in backend.active()} == {"aaa", "bbb"}
    backend.remove(rules=expired(rules=backend.active(), now=NOW + 600))
    assert backend.active() == ()
    assert "deny 203" not in sink.files["diagnosis-operator-server.conf"]
    assert "geo " not in sink.files["diagnosis-operator-http.conf"]
    (configmap,) = backend.render(rules=[DENY])
    assert (
        configmap["kind"] == "ConfigMap" and "diagnosis-operator-server.conf" in configmap["data"]
    )


@pytest.mark.parametrize(
    ("rps", "text"), [(5, "5r/s"), (0.5, "30r/m"), (1 / 600, "1r/m"), (2.5, "150r/m")]
)
def test_nginx_rate_text(rps: float, text: str) -> None:
    assert rate_text(rps) == text


def test_planned_rules_flow_into_a_backend() -> None:
    plan = plan_rules(
        clients=["203.0.113.50", "10.1.1.1"],
        policy=RateLimitPolicy(allow=("10.0.0.0/8",)),
        history=[],
        now=NOW,
        reason="flood",
    )
    store = FakeObjectStore()
    envoy(store).apply(rules=plan.rules)
    (obj,) = store.objects.values()
    values = [
        s["sourceCIDR"]["value"]
        for r in obj["spec"]["rateLimit"]["local"]["rules"]
        for s in r["clientSelectors"]
    ]
    assert values == ["203.0.113.50/32"]
