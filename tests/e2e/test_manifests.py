"""The chart renders what the operator needs, and manifests/install.yaml is its current output."""

from __future__ import annotations

import json
import subprocess
from typing import Any

import pytest
import yaml

from diagnosis_operator.api.tenancy import TenancyConfig
from tests.controlplane.operator import (
    REPO,
    WEBHOOK_VALUES,
    find,
    helm_template,
    operator_role,
    rendered_objects,
)

pytestmark = pytest.mark.e2e


def test_install_yaml_is_the_current_chart_output() -> None:
    rendered = subprocess.run(
        ["bash", str(REPO / "manifests" / "render.sh"), "--stdout"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    committed = (REPO / "manifests" / "install.yaml").read_text(encoding="utf-8")
    assert committed == rendered, "manifests/install.yaml is stale: run manifests/render.sh"
    assert helm_template() in rendered


def test_chart_ships_the_generated_crds() -> None:
    names = {
        o["metadata"]["name"] for o in rendered_objects() if o["kind"] == "CustomResourceDefinition"
    }
    crds = {path.name for path in (REPO / "crds").glob("*.yaml")}
    assert names == {
        "diagnoses.diagnosis.dev",
        "diagnosispolicies.diagnosis.dev",
        "clusterkopfpeerings.kopf.dev",
        "kopfpeerings.kopf.dev",
    }
    assert len(crds) == len(names)


def test_default_install_is_two_peered_replicas() -> None:
    objects = rendered_objects()
    deployment = find(objects, "Deployment")
    assert deployment["spec"]["replicas"] == 2
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--all-namespaces" in args and "--peering=diagnosis-operator" in args
    assert find(objects, "ClusterKopfPeering")["metadata"]["name"] == "diagnosis-operator"
    assert (
        find(objects, "ClusterRoleBinding")["roleRef"]["name"]
        == operator_role(objects)["metadata"]["name"]
    )


def _verbs(role: dict[str, Any], resource: str) -> set[str]:
    return {
        verb for rule in role["rules"] if resource in rule["resources"] for verb in rule["verbs"]
    }


def test_namespaced_install_binds_per_namespace() -> None:
    objects = rendered_objects(
        "--set", "watch.allNamespaces=false", "--set", "watch.namespaces={shop,payments}"
    )
    bindings = [
        (o["roleRef"]["name"], o["metadata"]["namespace"])
        for o in objects
        if o["kind"] == "RoleBinding" and o["roleRef"]["kind"] == "ClusterRole"
    ]
    # The operator's role, and (tenancy: watch.namespaces by default) its Secrets and writes.
    assert sorted(bindings) == sorted(
        (f"diagnosis-operator{suffix}", namespace)
        for suffix in ("", "-secrets", "-writer")
        for namespace in ("payments", "shop")
    )
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    peerings = [o for o in objects if o["kind"] == "KopfPeering"]
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["payments", "shop"]
    role = operator_role(objects)
    assert _verbs(role, "kopfpeerings") == {"list", "watch", "patch"}
    assert not _verbs(role, "clusterkopfpeerings")


def test_leader_election_replaces_peering_with_one_lease_in_the_release_namespace() -> None:
    objects = rendered_objects("--set", "leaderElection.enabled=true")
    args = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--leader-election" in args and "--lease-name=diagnosis-operator" in args
    assert not [a for a in args if a.startswith(("--peering", "--standalone"))]
    assert find(objects, "Deployment")["spec"]["replicas"] == 2
    assert not [o for o in objects if o["kind"] in ("ClusterKopfPeering", "KopfPeering")]
    assert not any(
        _verbs(role, "clusterkopfpeerings") for role in objects if role["kind"] == "ClusterRole"
    )
    [role] = [o for o in objects if o["kind"] == "Role" and "leases" in str(o["rules"])]
    assert role["metadata"]["namespace"] == "diagnosis-operator"
    assert role["rules"] == [
        {
            "apiGroups": ["coordination.k8s.io"],
            "resources": ["leases"],
            "resourceNames": ["diagnosis-operator"],
            "verbs": ["get", "update"],
        },
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create"]},
    ]
    env = _env(objects)
    assert (env["DIAG_LEASE_DURATION"], env["DIAG_LEASE_RENEW_DEADLINE"]) == ("15", "10")
    # Without it (the default) the chart grants no Lease at all.
    assert "leases" not in json.dumps(rendered_objects())


def test_webhook_adds_only_create_on_diagnoses() -> None:
    plain = operator_role(rendered_objects())
    webhook = operator_role(rendered_objects(*WEBHOOK_VALUES))
    assert _verbs(webhook, "diagnoses") - _verbs(plain, "diagnoses") == {"create"}


def test_tenancy_values_render_the_configmap_and_the_bindings() -> None:
    objects = rendered_objects(
        "--set",
        "tenancy.namespaces={shop}",
        "--set",
        "tenancy.grants[0].namespace=shop",
        "--set",
        "tenancy.grants[0].secretNamespaces={db}",
        "--set",
        "tenancy.grants[0].writeNamespaces={edge}",
        "--set",
        "tenancy.credentialUrls={https://prometheus.monitoring.svc:9090}",
        "--set",
        "tenancy.guard.maxTargets=2",
    )
    config = yaml.safe_load(
        find(objects, "ConfigMap", "diagnosis-operator-tenancy")["data"]["tenancy.yaml"]
    )
    parsed = TenancyConfig.model_validate(config).to_rules(source="chart")
    assert parsed.secret_grants == {"shop": frozenset({"db"})}
    assert parsed.write_grants == {"shop": frozenset({"edge"})}
    assert parsed.credential_origins == ("https://prometheus.monitoring.svc:9090",)
    assert parsed.caps.max_targets == 2
    bindings = {
        (o["roleRef"]["name"], o["metadata"]["namespace"])
        for o in objects
        if o["kind"] == "RoleBinding" and o["metadata"]["namespace"] != "diagnosis-operator"
    }
    assert bindings == {
        ("diagnosis-operator-secrets", "shop"),
        ("diagnosis-operator-secrets", "db"),
        ("diagnosis-operator-writer", "shop"),
        ("diagnosis-operator-writer", "edge"),
    }
    rules = operator_role(objects)["rules"]
    assert not [r for r in rules if {"secrets", "configmaps"} & set(r["resources"])]
    assert not [r for r in rules if "securitypolicies" in r["resources"]]


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["--set", "peering.enabled=false"], "replicaCount > 1 needs peering"),
        (
            ["--set", "leaderElection.enabled=true", "--set", "leaderElection.leaseDuration=1"],
            "leaseDuration",
        ),
        (["--set", "watch.allNamespaces=false"], "watch.namespaces must list namespaces"),
        (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    ],
)
def test_chart_refuses_unsafe_values(values: list[str], words: str) -> None:
    with pytest.raises(AssertionError, match=words):
        helm_template(*values)


def _env(objects: list[dict[str, Any]]) -> dict[str, str]:
    container = find(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]
    return {item["name"]: item.get("value", "") for item in container["env"]}


@pytest.mark.parametrize(
    "values",
    [
        [],
        [*WEBHOOK_VALUES, "--set", "alertmanagerWebhook.tokenSecret.name=am-token"],
        ["--set", "signals.prometheusUrl=http://p:9090", "--set", "signals.lokiUrl=http://l:3100"],
    ],
    ids=["default", "webhook", "signals"],
)
def test_no_env_name_repeats_in_the_deployment(values: list[str]) -> None:
    """A repeated env name is ambiguous (the last one wins) and `kubectl apply` warns."""
    for container in find(rendered_objects(*values), "Deployment")["spec"]["template"]["spec"][
        "containers"
    ]:
        names = [item["name"] for item in container.get("env", [])]
        repeated = sorted({name for name in names if names.count(name) > 1})
        assert not repeated, f"{container['name']} sets {repeated} more than once"


def test_default_env_wires_the_http_port_and_the_signal_urls() -> None:
    plain = _env(rendered_objects())
    assert plain["DIAG_HTTP_PORT"] == "8080" and plain["DIAG_WEBHOOK_ENABLED"] == "false"
    assert not {"DIAG_PROMETHEUS_URL", "DIAG_LOKI_URL", "DIAG_WEBHOOK_TOKEN_FILE"} & set(plain)
    wired = _env(
        rendered_objects(
            "--set",
            "ports.http=9100",
            "--set",
            "signals.prometheusUrl=http://prometheus.monitoring:9090",
            "--set",
            "signals.lokiUrl=http://loki.monitoring:3100",
        )
    )
    assert wired["DIAG_HTTP_PORT"] == "9100"
    assert wired["DIAG_PROMETHEUS_URL"] == "http://prometheus.monitoring:9090"
    assert wired["DIAG_LOKI_URL"] == "http://loki.monitoring:3100"


def test_webhook_mounts_its_token_secret_and_names_its_policy() -> None:
    objects = rendered_objects(
        "--set",
        "alertmanagerWebhook.enabled=true",
        "--set",
        "alertmanagerWebhook.namespace=shop",
        "--set",
        "alertmanagerWebhook.policy=checkout",
        "--set",
        "alertmanagerWebhook.tokenSecret.name=am-token",
    )
    env = _env(objects)
    assert env["DIAG_WEBHOOK_ENABLED"] == "true"
    assert (env["DIAG_WEBHOOK_NAMESPACE"], env["DIAG_WEBHOOK_POLICY"]) == ("shop", "checkout")
    pod = find(objects, "Deployment")["spec"]["template"]["spec"]
    (volume,) = [v for v in pod["volumes"] if "secret" in v]
    assert volume["secret"]["secretName"] == "am-token"
    (mount,) = [m for m in pod["containers"][0]["volumeMounts"] if m["name"] == volume["name"]]
    assert mount["readOnly"] is True
    key = volume["secret"]["items"][0]["path"]
    assert env["DIAG_WEBHOOK_TOKEN_FILE"] == f"{mount['mountPath']}/{key}"


def test_webhook_without_a_policy_is_refused() -> None:
    with pytest.raises(AssertionError, match=r"alertmanagerWebhook\.policy"):
        helm_template("--set", "alertmanagerWebhook.enabled=true")


def test_dashboard_configmap_carries_the_dashboard() -> None:
    dashboard = "diagnosis-operator-dashboard"
    assert not [o for o in rendered_objects() if o["metadata"]["name"] == dashboard]
    objects = rendered_objects("--set", "grafanaDashboard.enabled=true")
    config_map = find(objects, "ConfigMap", dashboard)
    assert config_map["metadata"]["labels"]["grafana_dashboard"] == "1"
    shipped = json.loads(
        (REPO / "charts/diagnosis-operator/dashboards/diagnosis-operator.json").read_text(
            encoding="utf-8"
        )
    )
    assert json.loads(config_map["data"]["diagnosis-operator.json"]) == shipped
