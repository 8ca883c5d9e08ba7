"""Alerting rules rendered from a policy (core/rules) and their sync as a PrometheusRule."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping
from typing import Any

import pytest

from diagnosis_operator.api import ConditionStatus, DiagnosisPolicySpec
from diagnosis_operator.core.diagnosis.logs.patterns import SIGNIFICANT_FILTER
from diagnosis_operator.core.rules import (
    PROMETHEUS_RULE_API_VERSION,
    PROMETHEUS_RULE_KIND,
    AlertRule,
    RulesError,
    loki_rule_file,
    prometheus_rule,
    prometheus_rule_file,
    render_rules,
    rule_object_name,
    template_literal,
)
from diagnosis_operator.models.querytext import quote
from diagnosis_operator.ports import ClusterError
from diagnosis_operator.service.alert_rules import sync_alert_rules
from tests.fakes.traffic import FakeObjectStore

HOSTILE = 'a"b\\c\n{{ .Foo }}'
UID = "0c1d2e3f-uid"


def policy(**extra: Any) -> DiagnosisPolicySpec:
    spec: dict[str, Any] = {
        "components": [
            {"name": "edge", "kind": "proxy", "selector": {"job": "ingress"}, "dependsOn": ["api"]},
            {"name": "api", "kind": "app", "selector": {"job": HOSTILE}, "dependsOn": ["db"]},
            {"name": "db", "kind": "mysql", "selector": {"job": "orders-db"}},
        ],
        **extra,
    }
    return DiagnosisPolicySpec.model_validate(spec)


def rules_of(spec: DiagnosisPolicySpec) -> list[AlertRule]:
    return list(render_rules(spec, policy="checkout", namespace="shop").prometheus)


def one(rules: list[AlertRule], *, component: str, signal: str) -> AlertRule:
    found = [
        rule
        for rule in rules
        if dict(rule.labels)["diagnosis_component"] == component
        and dict(rule.labels)["diagnosis_signal"] == signal
    ]
    assert len(found) == 1, [(r.alert, dict(r.labels)) for r in rules]
    return found[0]


def test_thresholds_and_baseline_are_carried_into_the_expressions() -> None:
    spec = policy(
        thresholds={"minErrorRatioRise": 0.05, "minLatencyRise": 0.3, "minSymptomDuration": "90s"},
        alerts={"baseline": "30m"},
    )
    rules = rules_of(spec)
    ratio = one(rules, component="api", signal="error_ratio")
    assert ratio.alert == "DiagnosisErrorRatioHigh"
    assert ratio.expr.endswith("[30m:30s] offset 2m) + 0.05)"), ratio.expr
    assert "quantile_over_time(0.5, " in ratio.expr
    assert ratio.for_seconds == 90.0
    latency = one(rules, component="api", signal="latency_mean")
    assert latency.expr.endswith(") * 1.3)"), latency.expr
    assert "http_request_duration_seconds_sum" in latency.expr
    # The proxy is measured at the ingress too; the data store by its up gauges only.
    one(rules, component="edge", signal="ingress_error_ratio")
    down = one(rules, component="db", signal="mysql_up")
    assert (down.alert, down.for_seconds) == ("DiagnosisDataStoreDown", 60.0)
    assert down.expr == '(min by (instance) (mysql_up{job="orders-db"})) < 0.5'
    assert not [r for r in rules if dict(r.labels)["diagnosis_component"] == "db"
                and "error" in dict(r.labels)["diagnosis_signal"]]  # fmt: skip
    assert not [r for r in rules if dict(r.labels)["diagnosis_component"] == "api"
                and r.alert == "DiagnosisDataStoreDown"]  # fmt: skip


def test_every_alert_names_its_policy_component_and_selector() -> None:
    spec = policy(alerts={"labels": {"severity": "page"}})
    ruleset = render_rules(spec, policy="checkout", namespace="shop")
    for rule in (*ruleset.prometheus, *ruleset.loki):
        labels = dict(rule.labels)
        assert labels["diagnosis_policy"] == "checkout"
        assert labels["diagnosis_namespace"] == "shop"
        assert labels["severity"] == "page"
        component = labels["diagnosis_component"]
        selector = next(c.selector for c in spec.components if c.name == component)
        assert labels["job"] == template_literal(selector["job"])
    assert {dict(r.labels)["diagnosis_component"] for r in ruleset.loki} == {"edge", "api", "db"}


def test_policy_values_are_quoted_in_queries_and_literal_in_templates() -> None:
    rules = rules_of(policy())
    ratio = one(rules, component="api", signal="error_ratio")
    assert f"job={quote(HOSTILE)}" in ratio.expr
    assert HOSTILE not in ratio.expr  # never pasted raw
    labels = dict(ratio.labels)
    assert labels["job"] == 'a"b\\c\n{{ "{{" }} .Foo }}'
    assert template_literal("{{{{x") == '{{ "{{" }}{{ "{{" }}x'
    assert template_literal("plain } text }}") == "plain } text }}"
    for _, text in ratio.annotations:
        assert ".Foo" not in text  # annotations hold component names only, no selector values


def test_the_log_rule_uses_the_collectors_filter_quoted() -> None:
    ruleset = render_rules(policy(), policy="checkout", namespace="shop")
    (api,) = [r for r in ruleset.loki if dict(r.labels)["diagnosis_component"] == "api"]
    assert api.alert == "DiagnosisSignificantLogLines"
    assert f"{{job={quote(HOSTILE)}}} |~ {quote(SIGNIFICANT_FILTER)}" in api.expr
    assert "[1h] offset 2m" in api.expr and "unless on (instance)" in api.expr


def test_unusable_settings_name_the_field() -> None:
    with pytest.raises(ValueError, match="shorter than 4m"):
        policy(alerts={"baseline": "3m"})
    unchecked = policy().model_copy(
        update={"alerts": policy().alerts.model_copy(update={"baseline": "3m"})}
    )
    with pytest.raises(RulesError, match=r"spec\.alerts\.baseline"):
        render_rules(unchecked, policy="p", namespace="n")
    empty = DiagnosisPolicySpec.model_validate(
        {"components": [{"name": "api", "kind": "app", "selector": {"job": ""}}]}
    )
    with pytest.raises(RulesError, match=r"spec\.components\[0\] \(api\)\.selector"):
        render_rules(empty, policy="p", namespace="n")
    endless = policy(thresholds={"minLatencyRise": math.inf})
    with pytest.raises(RulesError, match=r"spec\.thresholds\.minLatencyRise: inf"):
        render_rules(endless, policy="p", namespace="n")
    with pytest.raises(ValueError, match="diagnosis_"):
        policy(alerts={"labels": {"diagnosis_component": "other"}})


def test_documents_prometheus_rule_file_and_loki_file() -> None:
    spec = policy(alerts={"ruleLabels": {"release": "kps"}})
    ruleset = render_rules(spec, policy="checkout", namespace="shop")
    obj = prometheus_rule(ruleset, labels=spec.alerts.rule_labels, owner_uid=UID)
    assert (obj["apiVersion"], obj["kind"]) == (PROMETHEUS_RULE_API_VERSION, PROMETHEUS_RULE_KIND)
    meta = obj["metadata"]
    assert (meta["name"], meta["namespace"]) == ("checkout-diagnosis-alerts", "shop")
    assert meta["labels"]["release"] == "kps"
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "diagnosis.dev/v1alpha1",
            "kind": "DiagnosisPolicy",
            "name": "checkout",
            "uid": UID,
            "controller": True,
            "blockOwnerDeletion": False,
        }
    ]
    assert obj["spec"] == prometheus_rule_file(ruleset)
    (group,) = obj["spec"]["groups"]
    assert group["name"] == "diagnosis/shop/checkout"
    assert group["rules"][0]["for"] == "3m"
    assert "ownerReferences" not in prometheus_rule(ruleset)["metadata"]
    (logs,) = loki_rule_file(ruleset)["groups"]
    assert len(logs["rules"]) == 3
    long_name = "p" * 250
    assert len(rule_object_name(long_name)) <= 253
    assert rule_object_name(long_name) != rule_object_name("p" * 249)


class NotServedStore(FakeObjectStore):
    """A cluster without the PrometheusRule API: reads find nothing, creates answer 404."""

    def put(self, *, obj: Mapping[str, Any]) -> None:
        raise ClusterError(
            what="create PrometheusRule",
            status=404,
            body="the server could not find the requested resource",
        )


def key() -> tuple[str, str, str, str]:
    return (PROMETHEUS_RULE_API_VERSION, PROMETHEUS_RULE_KIND, "shop", "checkout-diagnosis-alerts")


def sync(store: FakeObjectStore, spec: DiagnosisPolicySpec) -> tuple[ConditionStatus, str]:
    outcome = sync_alert_rules(store=store, spec=spec, policy="checkout", namespace="shop", uid=UID)
    return outcome.status, outcome.reason


def test_sync_creates_keeps_corrects_and_restores() -> None:
    store = FakeObjectStore()
    spec = policy(alerts={"sync": True})
    assert sync(store, spec) == (ConditionStatus.TRUE, "Created")
    assert store.objects[key()]["metadata"]["ownerReferences"][0]["uid"] == UID
    assert sync(store, spec) == (ConditionStatus.TRUE, "InSync")
    assert store.puts == 1
    edited = store.objects[key()]
    edited["spec"]["groups"][0]["rules"][0]["expr"] = "vector(1)"
    assert sync(store, spec) == (ConditionStatus.TRUE, "Corrected")
    assert store.objects[key()]["spec"]["groups"][0]["rules"][0]["expr"] != "vector(1)"
    store.objects.pop(key())
    assert sync(store, spec) == (ConditionStatus.TRUE, "Created")
    tighter = policy(alerts={"sync": True}, thresholds={"minErrorRatioRise": 0.2})
    assert sync(store, tighter) == (ConditionStatus.TRUE, "Corrected")
    assert "+ 0.2)" in store.objects[key()]["spec"]["groups"][0]["rules"][0]["expr"]


def test_sync_off_deletes_only_its_own_object_and_never_touches_anothers() -> None:
    store = FakeObjectStore()
    assert sync(store, policy(alerts={"sync": True}))[1] == "Created"
    assert sync(store, policy()) == (ConditionStatus.FALSE, "Disabled")
    assert key() not in store.objects
    foreign = prometheus_rule(
        render_rules(policy(), policy="checkout", namespace="shop"), owner_uid="someone-else"
    )
    store.put(obj=foreign)
    before = copy.deepcopy(store.objects[key()])
    assert sync(store, policy(alerts={"sync": True})) == (ConditionStatus.FALSE, "Conflict")
    assert sync(store, policy()) == (ConditionStatus.FALSE, "Disabled")
    assert store.objects[key()] == before


def test_a_cluster_without_the_crd_is_reported_not_raised() -> None:
    status, reason = sync(NotServedStore(), policy(alerts={"sync": True}))
    assert (status, reason) == (ConditionStatus.FALSE, "NotInstalled")
    outcome = sync_alert_rules(
        store=NotServedStore(), spec=policy(alerts={"sync": True}), policy="checkout",
        namespace="shop", uid=UID,
    )  # fmt: skip
    assert "install the Prometheus Operator CRDs" in outcome.message
