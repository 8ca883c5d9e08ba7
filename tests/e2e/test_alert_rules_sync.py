"""A policy's alerting rules kept as a PrometheusRule on a real apiserver (``alerts.sync``).

The operator runs under its shipped ClusterRole.  Without the Prometheus Operator CRD the
policy says so (``AlertRules`` False, ``NotInstalled``) and stays Ready.  With the vendor
CRD (``crds/vendor``, byte-for-byte upstream: the apiserver checks the object against its
schema) the PrometheusRule is created owned by the policy, restored after an edit and
after a delete, and garbage-collected by kube-controller-manager with the policy.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.operator import OperatorProcess, onboard, wait_established
from tests.k8s_json import as_json, request_body

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 90.0  # seconds before giving up, not a measured threshold
CRD_FILE = (
    Path(__file__).resolve().parents[2]
    / "crds"
    / "vendor"
    / ("monitoring.coreos.com_prometheusrules.yaml")
)
CRD_NAME = "prometheusrules.monitoring.coreos.com"
GROUP, VERSION, PLURAL = "monitoring.coreos.com", "v1", "prometheusrules"
SPEC: dict[str, Any] = {
    "components": [
        {"name": "api", "kind": "app", "selector": {"job": "api"}, "dependsOn": ["db"]},
        {"name": "db", "kind": "mysql", "selector": {"job": "mysql"}},
    ],
    "thresholds": {"minSymptomDuration": "2m"},
    "alerts": {"sync": True, "labels": {"severity": "page"}, "ruleLabels": {"release": "kps"}},
}


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = WAIT) -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.5)


@pytest.fixture(scope="module")
def namespace(kube_admin: client.ApiClient, operator_process: OperatorProcess) -> Iterator[str]:
    name = f"rules-{uuid.uuid4().hex[:8]}"
    core = client.CoreV1Api(kube_admin)
    core.create_namespace(request_body({"metadata": {"name": name}}))
    onboard(kube_admin, operator_process.install, name)  # its PrometheusRules are written here
    yield name
    core.delete_namespace(name)


@pytest.fixture(scope="module")
def custom(kube_admin: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_admin)


def create_policy(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    body = {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "DiagnosisPolicy",
        "metadata": {"name": name},
        "spec": SPEC,
    }
    return as_json(
        custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnosispolicies", body
        )
    )


def condition(custom: client.CustomObjectsApi, namespace: str, name: str, kind: str) -> Any:
    found = as_json(
        custom.get_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnosispolicies", name
        )
    )
    conditions = (found.get("status") or {}).get("conditions", [])
    return next((c for c in conditions if c["type"] == kind), None)


def rule_object(custom: client.CustomObjectsApi, namespace: str, name: str) -> Any:
    try:
        return as_json(
            custom.get_namespaced_custom_object(
                GROUP, VERSION, namespace, PLURAL, f"{name}-diagnosis-alerts"
            )
        )
    except client.ApiException as error:
        if error.status == 404:
            return None
        raise


def test_without_the_crd_the_policy_says_so_and_stays_ready(
    kube_admin: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    extensions = client.ApiextensionsV1Api(kube_admin)
    try:
        extensions.delete_custom_resource_definition(CRD_NAME)
    except client.ApiException as error:
        if error.status != 404:
            raise

    def gone() -> bool:
        try:
            extensions.read_custom_resource_definition(CRD_NAME)
        except client.ApiException as error:
            return bool(error.status == 404)
        return False

    wait_for("no PrometheusRule CRD", gone)
    create_policy(custom, namespace, "early")
    ready = wait_for("policy early Ready", lambda: condition(custom, namespace, "early", "Ready"))
    assert ready["status"] == "True", ready
    found = condition(custom, namespace, "early", "AlertRules")
    assert (found["status"], found["reason"]) == ("False", "NotInstalled"), found
    assert "install the Prometheus Operator CRDs" in found["message"]
    events = client.CoreV1Api(kube_admin).list_namespaced_event(
        namespace, field_selector="involvedObject.name=early"
    )
    warned = [e for e in events.items if e.reason == "AlertRulesNotInstalled"]
    assert warned and warned[0].type == "Warning", [e.reason for e in events.items]


def test_rules_are_owned_restored_and_collected_with_the_policy(
    kube_admin: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator_process: OperatorProcess,
) -> None:
    extensions = client.ApiextensionsV1Api(kube_admin)
    try:
        extensions.create_custom_resource_definition(yaml.safe_load(CRD_FILE.read_text()))
    except client.ApiException as error:
        if error.status != 409:
            raise
    wait_established(extensions, CRD_NAME)
    # The policy created before the CRD gets its rules at the next resync.
    wait_for("rules of policy early", lambda: rule_object(custom, namespace, "early"))

    policy = create_policy(custom, namespace, "checkout")
    uid = policy["metadata"]["uid"]
    rule = wait_for("rules of policy checkout", lambda: rule_object(custom, namespace, "checkout"))
    (owner,) = rule["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"], owner["controller"]) == (
        "DiagnosisPolicy", "checkout", uid, True
    )  # fmt: skip
    assert rule["metadata"]["labels"]["release"] == "kps"
    (group,) = rule["spec"]["groups"]
    assert {r["labels"]["diagnosis_policy"] for r in group["rules"]} == {"checkout"}
    assert {r["labels"]["severity"] for r in group["rules"]} == {"page"}
    assert {r["for"] for r in group["rules"] if r["alert"] != "DiagnosisDataStoreDown"} == {"2m"}
    rendered = group["rules"]
    synced = wait_for(
        "AlertRules True",
        lambda: (lambda c: c if c and c["status"] == "True" else None)(
            condition(custom, namespace, "checkout", "AlertRules")
        ),
    )
    assert synced["reason"] in ("Created", "InSync"), synced

    # Someone edits the rules: restored at the next resync.
    edited = [{**rendered[0], "expr": "vector(1)"}, *rendered[1:]]
    custom.patch_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "checkout-diagnosis-alerts",
        {"spec": {"groups": [{"name": group["name"], "rules": edited}]}},
    )  # fmt: skip
    wait_for(
        "the edited rules restored",
        lambda: (lambda r: r and r["spec"]["groups"][0]["rules"] == rendered)(
            rule_object(custom, namespace, "checkout")
        ),
    )
    # Someone deletes them: created again.
    first_uid = rule["metadata"]["uid"]
    custom.delete_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, "checkout-diagnosis-alerts"
    )
    again = wait_for(
        "the deleted rules recreated",
        lambda: (lambda r: r if r and r["metadata"]["uid"] != first_uid else None)(
            rule_object(custom, namespace, "checkout")
        ),
    )
    assert again["spec"]["groups"][0]["rules"] == rendered
    # Then it stays as rendered: the next resyncs find nothing to correct.
    wait_for(
        "AlertRules InSync",
        lambda: (lambda c: c and c["reason"] == "InSync")(
            condition(custom, namespace, "checkout", "AlertRules")
        ),
    )

    # The policy goes: the garbage collector takes its rules with it.
    custom.delete_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", "checkout"
    )
    wait_for("rules collected", lambda: rule_object(custom, namespace, "checkout") is None)
    assert " 403" not in operator_process.log_text()
