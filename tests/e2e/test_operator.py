"""The operator on a real apiserver, under its shipped ClusterRole only.

What is checked: the apiserver refuses invalid Diagnoses and policies with the
field named; a Diagnosis walks to a terminal phase with standard conditions for
its generation, a policy snapshot and Events; editing the spec re-runs it; a
DiagnosisPolicy gets Ready/Invalid by meaning; and the operator needs no verb
beyond its ClusterRole (SubjectAccessReview, and no 403 in its log).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from tests.controlplane.cluster import free_port
from tests.controlplane.operator import OperatorProcess, onboard
from tests.k8s_json import as_json
from tests.services.prometheus import PrometheusServer

pytestmark = pytest.mark.e2e

T = TypeVar("T")
WAIT = 90.0
TERMINAL = {"Completed", "Degraded", "Failed"}

POLICY_SPEC: dict[str, Any] = {
    "components": [
        {"name": "gateway", "kind": "proxy", "selector": {"job": "gateway"}, "dependsOn": ["api"]},
        {"name": "api", "kind": "app", "selector": {"job": "api"}, "dependsOn": ["db"]},
        {"name": "db", "kind": "mysql", "selector": {"job": "mysql"}},
    ]
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
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    client.CoreV1Api(kube_admin).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name))
    )
    onboard(kube_admin, operator_process.install, name)  # reports are written here
    yield name


@pytest.fixture(scope="module")
def custom(kube_admin: client.ApiClient) -> client.CustomObjectsApi:
    return client.CustomObjectsApi(kube_admin)


def diagnosis(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "Diagnosis",
        "metadata": {"name": name},
        "spec": spec,
    }


def policy(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{API_GROUP}/{API_VERSION}",
        "kind": "DiagnosisPolicy",
        "metadata": {"name": name},
        "spec": spec,
    }


def rejection(create: Callable[[], Any]) -> str:
    with pytest.raises(client.ApiException) as caught:
        create()
    assert caught.value.status == 422, caught.value.body
    assert caught.value.body is not None
    message: str = json.loads(caught.value.body)["message"]
    return message


def get_diag(custom: client.CustomObjectsApi, namespace: str, name: str) -> dict[str, Any]:
    return as_json(
        custom.get_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses", name)
    )


def terminal(
    custom: client.CustomObjectsApi, namespace: str, name: str, generation: int = 1
) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        found = get_diag(custom, namespace, name)
        status = found.get("status") or {}
        if status.get("phase") in TERMINAL and status.get("observedGeneration") == generation:
            return found
        return None

    return wait_for(f"diagnosis {namespace}/{name} to end (generation {generation})", probe)


def conditions_of(obj: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {c["type"]: c for c in (obj.get("status") or {}).get("conditions", [])}


def event_reasons(kube_admin: client.ApiClient, namespace: str, name: str) -> set[str | None]:
    events = client.CoreV1Api(kube_admin).list_namespaced_event(
        namespace, field_selector=f"involvedObject.name={name}"
    )
    return {event.reason for event in events.items}


# --------------------------------------------------------------------------- admission


VALID_SPEC: dict[str, Any] = {
    "symptom": {"component": "gateway"},
    "window": {"lookback": "30m"},
    "policyRef": {"name": "shop"},
}


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"mode": "bogus"}, "spec.mode", "Unsupported value"),
        ({"window": None}, "spec.window", "Required value"),
        (
            {
                "window": {
                    "lookback": "30m",
                    "start": "2024-05-01T10:00:00Z",
                    "end": "2024-05-01T11:00:00Z",
                }
            },
            "spec.window",
            "set exactly one form",
        ),
        ({"window": {"start": "2024-05-01T10:00:00Z"}}, "spec.window", "start and end go together"),
        (
            {"window": {"start": "2024-05-01T11:00:00Z", "end": "2024-05-01T10:00:00Z"}},
            "spec.window.end",
            "end must be after start",
        ),
        ({"window": {"lookback": "thirty minutes"}}, "spec.window.lookback", "should match"),
        ({"symptom": {}}, "spec.symptom", "set at least one of component, selector or route"),
        ({"policyRef": {"name": ""}}, "spec.policyRef.name", "at least 1 chars long"),
    ],
)
def test_invalid_diagnosis_is_refused_naming_the_field(
    custom: client.CustomObjectsApi, namespace: str, change: dict[str, Any], field: str, words: str
) -> None:
    spec = {**VALID_SPEC, **change}
    spec = {key: value for key, value in spec.items() if value is not None}
    name = f"bad-{uuid.uuid4().hex[:6]}"
    message = rejection(
        lambda: custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis(name, spec)
        )
    )
    assert field in message, message
    assert words in message, message


def test_policy_with_unknown_dependency_is_refused(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    spec = {
        "components": [
            {"name": "api", "kind": "app", "selector": {"job": "api"}, "dependsOn": ["nowhere"]},
        ]
    }
    message = rejection(
        lambda: custom.create_namespaced_custom_object(
            API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("broken", spec)
        )
    )
    assert "spec.components" in message and "every dependsOn must name a component" in message, (
        message
    )


def test_default_mode_is_observe(custom: client.CustomObjectsApi, namespace: str) -> None:
    created = custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis("defaults", VALID_SPEC)
    )
    assert as_json(created)["spec"]["mode"] == "observe"


# --------------------------------------------------------------------------- policies


def test_policy_becomes_ready_or_invalid_by_meaning(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("shop", POLICY_SPEC)
    )
    cyclic = {
        "components": [
            {"name": "a", "kind": "app", "selector": {"job": "a"}, "dependsOn": ["b"]},
            {"name": "b", "kind": "app", "selector": {"job": "b"}, "dependsOn": ["a"]},
        ]
    }
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("cyclic", cyclic)
    )

    def ready(name: str) -> dict[str, Any] | None:
        found = as_json(
            custom.get_namespaced_custom_object(
                API_GROUP, API_VERSION, namespace, "diagnosispolicies", name
            )
        )
        return conditions_of(found).get("Ready")

    good = wait_for("policy shop Ready", lambda: ready("shop"))
    assert good["status"] == "True" and good["reason"] == "Valid"
    assert good["observedGeneration"] == 1
    bad = wait_for("policy cyclic Ready", lambda: ready("cyclic"))
    assert bad["status"] == "False" and bad["reason"] == "Invalid"
    assert "cycle" in bad["message"], bad


def test_every_refused_signal_override_is_reported_by_index_in_prometheus_words(
    kube_admin: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    prometheus_server: PrometheusServer,
) -> None:
    # Within the PromQL subset policies may use (so admitted), but RE2 has no
    # look-around: Prometheus refuses those in its own words; one lacks its selector.
    overrides = [
        {
            "name": "look-ahead",
            "componentKind": "app",
            "promql": 'rate(up{{matchers},instance=~"a(?=b)"}[5m])',
        },
        {"name": "fine", "componentKind": "app", "promql": "max(up{selector})"},
        {"name": "unscoped", "component": "db", "promql": "sum(up)"},
        {
            "name": "look-behind",
            "component": "gateway",
            "promql": 'sum by (instance) (up{{matchers},instance=~"(?<=a)b"})',
        },
    ]
    spec = {
        **POLICY_SPEC,
        "signals": {"prometheus": {"url": prometheus_server.url}},
        "signalOverrides": overrides,
    }
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("bad-promql", spec)
    )
    found = wait_for(
        "policy bad-promql checked",
        lambda: (lambda p: p if "PromQLChecked" in conditions_of(p) else None)(
            as_json(
                custom.get_namespaced_custom_object(
                    API_GROUP, API_VERSION, namespace, "diagnosispolicies", "bad-promql"
                )
            )
        ),
    )
    conditions = conditions_of(found)
    ready = conditions["Ready"]
    assert (ready["status"], ready["reason"]) == ("False", "InvalidPromQL"), ready
    assert conditions["PromQLChecked"]["status"] == "False"
    # All three refusals, each by index and name: the template's and Prometheus' alike.
    assert ready["message"].startswith("3 signalOverrides refused: "), ready
    for where in ("[0] (look-ahead)", "[2] (unscoped)", "[3] (look-behind)"):
        assert f"spec.signalOverrides{where}" in ready["message"], (where, ready)
    assert "(fine)" not in ready["message"]
    problems = found["status"]["overrideProblems"]
    assert [(p["index"], p["name"], p["foundBy"]) for p in problems] == [
        (0, "look-ahead", "prometheus"),
        (2, "unscoped", "template"),
        (3, "look-behind", "prometheus"),
    ]
    assert "(?=" in problems[0]["error"] and "(?<" in problems[2]["error"]
    assert "(?=" in problems[0]["promql"]
    assert "{selector} or {matchers}" in problems[1]["error"]
    events = client.CoreV1Api(kube_admin).list_namespaced_event(
        namespace, field_selector="involvedObject.name=bad-promql"
    )
    said = {str(e.message) for e in events.items if e.reason == "InvalidSignalOverride"}
    assert {m.split(" ", 1)[0] for m in said} == {
        "spec.signalOverrides[0]",
        "spec.signalOverrides[2]",
        "spec.signalOverrides[3]",
    }, said


def test_a_diagnosis_of_a_component_the_policy_lacks_fails_saying_so(
    kube_admin: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("known", POLICY_SPEC)
    )
    spec = {**VALID_SPEC, "symptom": {"component": "payments"}, "policyRef": {"name": "known"}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis("stranger", spec)
    )
    found = terminal(custom, namespace, "stranger")
    failed = conditions_of(found)["Failed"]
    assert failed["reason"] == "UnknownComponent", failed
    assert "'payments' is not a component of DiagnosisPolicy known" in failed["message"]
    assert "rootCause" not in found["status"]
    wait_for(
        "a Warning Event UnknownComponent",
        lambda: "UnknownComponent" in event_reasons(kube_admin, namespace, "stranger"),
    )


# --------------------------------------------------------------------------- diagnoses


def test_diagnosis_reaches_a_terminal_phase_with_conditions_and_events(
    kube_admin: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis("checkout", VALID_SPEC)
    )
    found = terminal(custom, namespace, "checkout")
    status = found["status"]
    conditions = conditions_of(found)
    # The policy has no signal sources and the operator runs without defaults, so
    # the run stops at the sources.
    expected = "SourceNotConfigured"
    assert status["phase"] == "Failed", status
    assert conditions["Failed"]["status"] == "True"
    assert conditions["Failed"]["reason"] == expected, conditions["Failed"]
    assert conditions["Progressing"]["status"] == "False"
    assert conditions["Complete"]["status"] == "False"
    assert all(
        c["observedGeneration"] == found["metadata"]["generation"] for c in conditions.values()
    )
    assert status["observedGeneration"] == found["metadata"]["generation"]
    snapshot = status["policySnapshot"]
    assert snapshot["name"] == "shop" and snapshot["generation"] == 1
    assert [c["name"] for c in snapshot["spec"]["components"]] == ["gateway", "api", "db"]
    assert status["window"]["start"] < status["window"]["end"]
    reasons = wait_for(
        "events of checkout",
        lambda: (lambda r: r if {"Started", expected} <= r else None)(
            event_reasons(kube_admin, namespace, "checkout")
        ),
    )
    assert {"Started", expected} <= reasons


def test_editing_the_spec_of_a_finished_diagnosis_runs_it_again(
    custom: client.CustomObjectsApi, namespace: str
) -> None:
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis("rerun", VALID_SPEC)
    )
    first = terminal(custom, namespace, "rerun", generation=1)
    custom.patch_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", "rerun", {"spec": {"mode": "dry-run"}}
    )
    second = terminal(custom, namespace, "rerun", generation=2)
    assert second["metadata"]["generation"] == 2
    assert all(c["observedGeneration"] == 2 for c in conditions_of(second).values())
    assert second["status"]["startedAt"] >= first["status"]["startedAt"]


def test_missing_policy_fails_after_bounded_retries(
    kube_admin: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    spec = {**VALID_SPEC, "policyRef": {"name": "does-not-exist"}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis("orphan", spec)
    )
    found = terminal(custom, namespace, "orphan")
    failed = conditions_of(found)["Failed"]
    assert failed["reason"] == "PolicyNotFound"
    assert f"{namespace}/does-not-exist" in failed["message"]
    reasons = wait_for(
        "events of orphan",
        lambda: (lambda r: r if "PolicyNotFound" in r else None)(
            event_reasons(kube_admin, namespace, "orphan")
        ),
    )
    assert "WaitingForPolicy" in reasons


def test_unreachable_source_fails_naming_the_url_after_retries(
    kube_admin: client.ApiClient, custom: client.CustomObjectsApi, namespace: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    spec = {**POLICY_SPEC, "signals": {"prometheus": {"url": closed}, "loki": {"url": closed}}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy("nowhere", spec)
    )
    custom.create_namespaced_custom_object(
        API_GROUP,
        API_VERSION,
        namespace,
        "diagnoses",
        diagnosis("blind", {**VALID_SPEC, "policyRef": {"name": "nowhere"}}),
    )
    failed = conditions_of(terminal(custom, namespace, "blind"))["Failed"]
    assert failed["reason"] == "SourceUnavailable", failed
    assert closed in failed["message"] and "after 1 retries" in failed["message"], failed


# --------------------------------------------------------------------------- least privilege

# Exactly what the operator calls (handlers/kube.py, kopf's watches, annotations,
# Events and peering).  The ClusterRole must grant this and nothing else.
NEEDED = {
    ("diagnosis.dev", "diagnoses", "list"),
    ("diagnosis.dev", "diagnoses", "watch"),
    ("diagnosis.dev", "diagnoses", "patch"),
    ("diagnosis.dev", "diagnoses/status", "patch"),
    ("diagnosis.dev", "diagnosispolicies", "get"),
    ("diagnosis.dev", "diagnosispolicies", "list"),
    ("diagnosis.dev", "diagnosispolicies", "watch"),
    ("diagnosis.dev", "diagnosispolicies", "patch"),
    ("diagnosis.dev", "diagnosispolicies/status", "patch"),
    ("", "events", "create"),
    ("kopf.dev", "clusterkopfpeerings", "list"),
    ("kopf.dev", "clusterkopfpeerings", "watch"),
    ("kopf.dev", "clusterkopfpeerings", "patch"),
    # drain-pod (adapters/kubernetes.py): guards, quarantine, eviction
    ("", "pods", "get"),
    ("", "pods", "list"),
    ("", "pods", "patch"),
    ("", "pods/eviction", "create"),
    ("", "services", "list"),
    # Secrets, ConfigMaps and the rate-limit objects and the
    # policies' PrometheusRules are granted per namespace only
    # (the -secrets and -writer ClusterRoles, tests/e2e/test_tenancy.py).
}
NOT_GRANTED = [
    ("diagnosis.dev", "diagnoses", "delete"),
    ("diagnosis.dev", "diagnoses", "update"),
    ("diagnosis.dev", "diagnoses", "create"),
    ("", "secrets", "list"),
    ("", "secrets", "watch"),
    ("", "configmaps", "delete"),
    ("", "configmaps", "list"),
    ("gateway.envoyproxy.io", "securitypolicies", "list"),
    ("security.istio.io", "authorizationpolicies", "update"),
    ("monitoring.coreos.com", "prometheusrules", "list"),
    ("", "pods", "create"),
    ("", "namespaces", "list"),
    ("apiextensions.k8s.io", "customresourcedefinitions", "list"),
    ("rbac.authorization.k8s.io", "clusterroles", "escalate"),
]


def granted(operator_process: OperatorProcess) -> set[tuple[str, str, str]]:
    rules = operator_process.install.cluster_role["rules"]
    return {
        (group, resource, verb)
        for rule in rules
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def allowed(
    kube_admin: client.ApiClient, install: Any, namespace: str, key: tuple[str, str, str]
) -> bool:
    group, resource, verb = key
    resource, _, subresource = resource.partition("/")
    user = f"system:serviceaccount:{install.namespace}:{install.service_account}"
    review = client.V1SubjectAccessReview(
        spec=client.V1SubjectAccessReviewSpec(
            user=user,
            groups=[
                "system:serviceaccounts",
                f"system:serviceaccounts:{install.namespace}",
                "system:authenticated",
            ],
            resource_attributes=client.V1ResourceAttributes(
                group=group,
                resource=resource,
                subresource=subresource or None,
                verb=verb,
                namespace=None if resource.startswith("cluster") else namespace,
            ),
        )
    )
    answer = client.AuthorizationV1Api(kube_admin).create_subject_access_review(review)
    assert answer.status is not None
    return bool(answer.status.allowed)


def test_cluster_role_grants_exactly_what_the_operator_needs(
    kube_admin: client.ApiClient, operator_process: OperatorProcess, namespace: str
) -> None:
    assert granted(operator_process) == NEEDED
    install = operator_process.install
    refused = [key for key in sorted(NEEDED) if not allowed(kube_admin, install, namespace, key)]
    assert not refused, f"the shipped RBAC does not allow {refused}"
    leaked = [key for key in NOT_GRANTED if allowed(kube_admin, install, namespace, key)]
    assert not leaked, f"the shipped RBAC allows more than needed: {leaked}"


def test_operator_log_has_no_forbidden_calls(operator_process: OperatorProcess) -> None:
    # Runs after the diagnoses above (file order): every call they caused is in the log.
    text = operator_process.log_text()
    # A failed Prometheus or Loki query is logged with its query text, which may hold
    # " 403" or "forbidden" as what it looks for in access lines: not an API call refused.
    offending = [
        line
        for line in text.splitlines()
        if (" 403" in line or "Forbidden" in line or "forbidden" in line)
        and "query failed: " not in line
    ]
    assert not offending, "\n".join(offending[:20])
    assert operator_process.process.popen.poll() is None, "the operator died during the run"
