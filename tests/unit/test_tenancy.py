"""Tenant isolation rules (core.tenancy), the admin's guard caps (core.remediation.caps),
the one secret resolver and the admin configuration loader (bootstrap.secrets)."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any, cast

import pytest
from kubernetes import client

from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.api.tenancy import TenancyConfig
from diagnosis_operator.core.remediation import guard
from diagnosis_operator.core.remediation.caps import capped
from diagnosis_operator.core.tenancy import (
    credential_refusal,
    origin_of,
    policy_refusals,
    secret_refusal,
    write_refusal,
)
from diagnosis_operator.entrypoints.bootstrap.connections import (
    executor_settings,
    mysql_settings,
    traffic_backend,
)
from diagnosis_operator.entrypoints.bootstrap.secrets import (
    SecretRefused,
    load_tenancy,
    resolve_secret,
)
from diagnosis_operator.entrypoints.kopf.context import OperatorContext
from diagnosis_operator.entrypoints.kopf.kube import Kube, owned_by
from diagnosis_operator.entrypoints.kopf.policy import NOT_ALLOWED, check_allowed_then_promql
from diagnosis_operator.models.actions import ActionPolicy, Allowed, DrainPod, GuardPolicy
from diagnosis_operator.models.tenancy import STRICT_RULES, GuardCaps, TenancyRules
from diagnosis_operator.settings import OperatorSettings
from tests.fakes.traffic import FakeObjectStore

GRANTED = TenancyConfig.model_validate(
    {
        "grants": [{"namespace": "shop", "secretNamespaces": ["db"], "writeNamespaces": ["edge"]}],
        "credentialUrls": ["https://prometheus.monitoring.svc:9090", "http://*.loki.svc"],
        "guard": {
            "maxActionsPerWindow": 1,
            "minCooldown": "30m",
            "maxTargets": 2,
            "protectedNamespaces": ["payments"],
            "globalBudget": {"maxActions": 3},
        },
    }
).to_rules(source="test")


def test_origin_of_normalises_scheme_host_and_port() -> None:
    assert origin_of("HTTPS://Prom.Example:443/api") == "https://prom.example:443"
    assert origin_of("http://10.0.0.1/") == "http://10.0.0.1:80"
    assert origin_of("https://ok.example@evil.example/") == "https://evil.example:443"
    assert origin_of("ftp://x") is None and origin_of("http://x:99999") is None


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://prometheus.monitoring.svc:9090", True),
        ("https://prometheus.monitoring.svc:9090/some/path", True),
        ("https://prometheus.monitoring.svc:9091", False),
        ("http://prometheus.monitoring.svc:9090", False),
        ("https://prometheus.monitoring.svc:9090@evil.example", False),
        ("http://a.loki.svc", True),
        ("http://a.loki.svc:3100", False),
        ("http://evil.example/x.loki.svc", False),
        ("http://127.0.0.1:8080", False),
    ],
)
def test_credentials_go_only_to_allow_listed_origins(url: str, allowed: bool) -> None:
    refusal = credential_refusal(GRANTED, url=url, field="spec.signals.prometheus.url")
    assert (refusal is None) is allowed
    if refusal is not None:
        assert refusal.startswith("spec.signals.prometheus.url: ")
        assert "tenancy.credentialUrls" in refusal


def test_no_credential_to_any_policy_url_by_default() -> None:
    assert credential_refusal(STRICT_RULES, url="https://prometheus:9090", field="f") is not None


def test_secrets_and_writes_stay_in_the_policy_namespace_unless_granted() -> None:
    assert (
        secret_refusal(STRICT_RULES, policy_namespace="a", secret_namespace="a", field="f") is None
    )
    refused = secret_refusal(STRICT_RULES, policy_namespace="a", secret_namespace="b", field="f")
    assert refused is not None and "'a'" in refused and "'b'" in refused
    assert (
        secret_refusal(GRANTED, policy_namespace="shop", secret_namespace="db", field="f") is None
    )
    assert secret_refusal(GRANTED, policy_namespace="other", secret_namespace="db", field="f")
    assert write_refusal(GRANTED, policy_namespace="shop", namespace="edge", field="f") is None
    assert write_refusal(GRANTED, policy_namespace="shop", namespace="db", field="f")
    assert write_refusal(STRICT_RULES, policy_namespace="a", namespace="kube-system", field="f")


def _policy(**remediation: Any) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {
                    "name": "db",
                    "kind": "mysql",
                    "selector": {"app": "db"},
                    "mysql": {"secretRef": {"name": "root", "namespace": "other"}},
                }
            ],
            "signals": {
                "prometheus": {
                    "url": "http://127.0.0.1:1/",
                    "authSecretRef": {"name": "token"},
                }
            },
            "remediation": remediation,
        }
    )


def test_policy_refusals_name_every_field() -> None:
    spec = _policy(
        rateLimitClient={"params": {"namespace": "kube-system"}}, drainPod={"enabled": True}
    )
    spec.components[0].namespace = "billing"
    problems = policy_refusals(spec, namespace="a", rules=STRICT_RULES)
    assert [p.split(":")[0] for p in problems] == [
        "spec.signals.prometheus.url",
        "spec.components[0].mysql.secretRef.namespace",
        "spec.components[0].namespace (drainPod is enabled)",
        "spec.remediation.rateLimitClient.params.namespace",
    ]
    spec.remediation.drain_pod.enabled = False
    assert len(policy_refusals(spec, namespace="a", rules=STRICT_RULES)) == 3


def test_caps_never_loosen_and_hold_every_action() -> None:
    loose = ActionPolicy(
        enabled=True, max_per_window=10, cooldown_seconds=0, max_targets=50, allow=("x",)
    )
    tight = ActionPolicy(enabled=True, max_per_window=0, cooldown_seconds=7200, max_targets=1)
    policy = GuardPolicy(drain_pod=loose, kill_mysql_queries=tight, rate_limit_client=loose)
    out = capped(policy, GRANTED.caps)
    assert out.drain_pod.max_per_window == 1 and out.drain_pod.cooldown_seconds == 1800
    assert out.drain_pod.max_targets == 2 and out.drain_pod.allow == ("x",)
    assert out.kill_mysql_queries == tight  # already tighter than every cap
    assert capped(policy, GuardCaps()) == policy


def test_unusable_admin_configuration_holds_every_action_to_a_dry_run() -> None:
    policy = GuardPolicy(drain_pod=ActionPolicy(enabled=True, require_approval=False))
    held = capped(policy, GuardCaps(disabled_reason="ConfigMap x/y is invalid"))
    verdict = guard.check(
        action=DrainPod(component="web", pod="web-1", namespace="shop", reason="test"),
        policy=held,
        ledger=[],
        now=0.0,
        key="k",
    )
    assert isinstance(verdict, Allowed) and verdict.dry_run
    assert "ConfigMap x/y is invalid" in verdict.reason


def _reader(calls: list[tuple[str, str]]) -> Any:
    def read(namespace: str, name: str) -> Mapping[str, str]:
        calls.append((namespace, name))
        return {"token": base64.b64encode(b"s3cret").decode()}

    return read


def test_refused_secrets_are_never_read() -> None:
    calls: list[tuple[str, str]] = []
    with pytest.raises(SecretRefused, match=r"spec\.components\[0\]\.mysql\.secretRef"):
        resolve_secret(
            read=_reader(calls),
            rules=STRICT_RULES,
            policy_namespace="a",
            name="root",
            namespace="b",
            field="spec.components[0].mysql.secretRef",
        )
    with pytest.raises(SecretRefused, match=r"spec\.signals\.loki\.url: no credential"):
        resolve_secret(
            read=_reader(calls),
            rules=STRICT_RULES,
            policy_namespace="a",
            name="token",
            namespace=None,
            field="spec.signals.loki.authSecretRef",
            sent_to="http://listener.a.svc:8080",
            sent_to_field="spec.signals.loki.url",
        )
    assert calls == []
    data = resolve_secret(
        read=_reader(calls),
        rules=GRANTED,
        policy_namespace="shop",
        name="token",
        namespace=None,
        field="f",
        sent_to="http://x.loki.svc",
    )
    assert calls == [("shop", "token")] and "token" in data


def test_connections_use_the_same_resolver() -> None:
    calls: list[tuple[str, str]] = []
    spec = _policy()
    assert spec.components[0].mysql is not None
    with pytest.raises(SecretRefused, match="may not read Secrets in namespace 'other'"):
        mysql_settings(
            connection=spec.components[0].mysql,
            namespace="a",
            secrets=_reader(calls),
            rules=STRICT_RULES,
            field="spec.components[0].mysql.secretRef",
        )
    assert calls == []


def test_rate_limit_objects_only_where_writes_are_allowed() -> None:
    spec = _policy(
        rateLimitClient={
            "params": {"provider": "nginx", "configMap": "limits", "namespace": "kube-system"}
        }
    )
    store = FakeObjectStore()
    with pytest.raises(SecretRefused, match=r"rateLimitClient\.params\.namespace"):
        traffic_backend(policy=spec, namespace="a", store=store, rules=STRICT_RULES)
    granted = TenancyRules(write_grants={"a": frozenset({"kube-system"})})
    assert traffic_backend(policy=spec, namespace="a", store=store, rules=granted) is not None


def test_executor_settings_take_the_tighter_of_settings_and_caps() -> None:
    settings = OperatorSettings(namespaces=("a",), global_budget_max_actions=10)
    chosen = executor_settings(settings, GRANTED)
    assert chosen.budget.max_actions == 3
    assert "payments" in chosen.protected_namespaces
    assert "kube-system" in chosen.protected_namespaces
    assert chosen.caps == GRANTED.caps


def test_load_tenancy_missing_invalid_and_unreadable() -> None:
    assert load_tenancy(read=lambda ns, n: None, namespace="op", name="t") == STRICT_RULES
    bad = load_tenancy(
        read=lambda ns, n: {"tenancy.yaml": "credentialUrls: ['file:///etc']"},
        namespace="op",
        name="t",
    )
    assert bad.caps.disabled_reason is not None
    assert "credentialUrls" in bad.caps.disabled_reason and bad.credential_origins == ()

    def broken(namespace: str, name: str) -> Mapping[str, str]:
        raise RuntimeError("403 Forbidden")

    locked = load_tenancy(read=broken, namespace="op", name="t")
    assert locked.caps.disabled_reason is not None and "403" in locked.caps.disabled_reason
    good = load_tenancy(
        read=lambda ns, n: {"tenancy.yaml": "grants: [{namespace: a, secretNamespaces: [b]}]"},
        namespace="op",
        name="t",
    )
    assert good.secret_grants == {"a": frozenset({"b"})} and good.caps.disabled_reason is None


def test_a_report_is_owned_only_through_the_diagnosis_uid() -> None:
    mine = SimpleNamespace(kind="Diagnosis", uid="u-1", name="x")
    assert owned_by([mine], uid="u-1")
    assert not owned_by([mine], uid="u-2")
    assert not owned_by([SimpleNamespace(kind="Deployment", uid="u-1")], uid="u-1")
    assert not owned_by([], uid="u-1") and not owned_by([mine], uid="")


def _operator(rules: TenancyRules) -> OperatorContext:
    # No Secret is read: a refused reference is refused before the apiserver is asked.
    return OperatorContext(
        settings=OperatorSettings(all_namespaces=True),
        configuration=client.Configuration(),
        kube=cast(Kube, None),
        tenancy=lambda: rules,
    )


def test_the_policy_handler_makes_a_refused_policy_not_ready_naming_the_fields() -> None:
    spec = _policy(rateLimitClient={"params": {"namespace": "kube-system"}})
    problem, reason, verdict = check_allowed_then_promql(
        spec, namespace="a", context=_operator(STRICT_RULES), retry=0
    )
    assert reason == NOT_ALLOWED and problem is not None
    assert "spec.components[0].mysql.secretRef.namespace" in problem
    assert "spec.remediation.rateLimitClient.params.namespace" in problem
    assert verdict.reason == "NotChecked"
    granted = TenancyRules(
        secret_grants={"a": frozenset({"other"})},
        write_grants={"a": frozenset({"kube-system"})},
        credential_origins=("http://127.0.0.1:1",),
    )
    problem, reason, verdict = check_allowed_then_promql(
        spec, namespace="a", context=_operator(granted), retry=0
    )
    assert problem is None and verdict.reason == "NothingToCheck"
