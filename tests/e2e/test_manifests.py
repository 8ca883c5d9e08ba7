"""The chart renders what the operator needs, and manifests/install.yaml is its current output."""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from tests.controlplane.operator import REPO, find, helm_template, rendered_objects

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
        == find(objects, "ClusterRole")["metadata"]["name"]
    )


def _verbs(role: dict[str, Any], resource: str) -> set[str]:
    return {
        verb for rule in role["rules"] if resource in rule["resources"] for verb in rule["verbs"]
    }


def test_namespaced_install_binds_per_namespace() -> None:
    objects = rendered_objects(
        "--set", "watch.allNamespaces=false", "--set", "watch.namespaces={shop,payments}"
    )
    bindings = [o for o in objects if o["kind"] == "RoleBinding"]
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["payments", "shop"]
    assert not [o for o in objects if o["kind"] == "ClusterRoleBinding"]
    peerings = [o for o in objects if o["kind"] == "KopfPeering"]
    assert sorted(p["metadata"]["namespace"] for p in peerings) == ["payments", "shop"]
    role = find(objects, "ClusterRole")
    assert _verbs(role, "kopfpeerings") == {"list", "watch", "patch"}
    assert not _verbs(role, "clusterkopfpeerings")


def test_webhook_adds_only_create_on_diagnoses() -> None:
    plain = find(rendered_objects(), "ClusterRole")
    webhook = find(rendered_objects("--set", "alertmanagerWebhook.enabled=true"), "ClusterRole")
    assert _verbs(webhook, "diagnoses") - _verbs(plain, "diagnoses") == {"create"}


@pytest.mark.parametrize(
    ("values", "words"),
    [
        (["--set", "peering.enabled=false"], "replicaCount > 1 needs peering"),
        (["--set", "watch.allNamespaces=false"], "watch.namespaces must list namespaces"),
        (["--set", "image.pullPolicy=Sometimes"], "pullPolicy"),
    ],
)
def test_chart_refuses_unsafe_values(values: list[str], words: str) -> None:
    with pytest.raises(AssertionError, match=words):
        helm_template(*values)
