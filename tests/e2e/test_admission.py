"""The docs' kubectl commands and the CRDs' admission rules, on the real apiserver.

The CRDs are the chart's (``operator_install``); the commands run through the real
kubectl of the control plane's release, built from Go modules like the control
plane itself (``bash tests/controlplane/build.sh kubectl``, cached in
``~/.cache/diagnosis-operator/bin``).  Objects are sent with ``--dry-run=server``
where only admission is under test, so nothing but the docs' examples is stored.
"""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from pydantic import ValidationError

from diagnosis_operator.api import DiagnosisPolicySpec
from tests.controlplane.cluster import KUBE_VERSION, binary
from tests.controlplane.operator import REPO, OperatorInstall

pytestmark = pytest.mark.e2e

NAMESPACE = "admission"
Kubectl = Callable[..., subprocess.CompletedProcess[str]]
POLICY: dict[str, Any] = {
    "apiVersion": "diagnosis.dev/v1alpha1",
    "kind": "DiagnosisPolicy",
    "metadata": {"name": "guarded"},
    "spec": {"components": [{"name": "edge", "kind": "proxy", "selector": {"job": "edge"}}]},
}


@pytest.fixture(scope="module")
def kubectl(
    operator_install: OperatorInstall, admin_kubeconfig: Path, kube_admin: client.ApiClient
) -> Kubectl:
    executable = binary("kubectl", KUBE_VERSION)
    try:
        client.CoreV1Api(kube_admin).create_namespace(
            client.V1Namespace(metadata=client.V1ObjectMeta(name=NAMESPACE))
        )
    except ApiException as error:
        if error.status != 409:
            raise

    def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(executable), "--kubeconfig", str(admin_kubeconfig), "-n", NAMESPACE, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    return run


def _ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"{result.args[3:]} failed: {result.stderr}"
    return result.stdout


def test_the_docs_kubectl_commands_address_one_resource(kubectl: Kubectl) -> None:
    for example in ("policy-reference.yaml", "diagnosis.yaml"):
        _ok(kubectl("apply", "-f", str(REPO / "manifests" / "examples" / example)))
    listed = ["diagnosis.diagnosis.dev/api-502s"]
    # Before the fix, kubectl expanded the category "diagnosis" to both kinds first:
    # "error: you must specify only one resource" for a name, both kinds listed without one.
    assert _ok(kubectl("get", "diagnosis", "api-502s", "-o", "name")).split() == listed
    # docs/approvals.md: switch the mode before approving
    _ok(
        kubectl(
            "patch", "diagnosis", "api-502s", "--type", "merge", "-p", '{"spec":{"mode":"dry-run"}}'
        )
    )
    mode = _ok(kubectl("get", "diagnosis", "api-502s", "-o", "jsonpath={.spec.mode}"))
    assert mode == "dry-run"
    # kubectl get diagnosis -n shop -w (manifests/examples/diagnosis.yaml), get diagnoses, diag
    assert _ok(kubectl("get", "diagnosis", "-o", "name")).split() == listed
    assert _ok(kubectl("get", "diagnoses", "-o", "name")).split() == listed
    assert _ok(kubectl("get", "diag", "api-502s", "-o", "name")).split() == listed
    assert _ok(kubectl("get", "diagnosispolicy", "reference", "-o", "name")).strip()
    # the category still lists both kinds together
    both = _ok(kubectl("get", "diagnosis-operator", "-o", "name")).split()
    assert set(both) == {*listed, "diagnosispolicy.diagnosis.dev/reference"}


def _admitted(kubectl: Kubectl, spec: dict[str, Any], *, refusal: tuple[str, ...]) -> bool:
    """Whether the apiserver admits the policy (server dry run); pydantic must agree,
    and a refusal must name the field and say why (``refusal``)."""
    body = copy.deepcopy(POLICY)
    body["spec"] = spec
    result = kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(body))
    try:
        DiagnosisPolicySpec.model_validate(spec)
    except ValidationError:
        parsed = False
    else:
        parsed = True
    assert parsed is (result.returncode == 0), f"pydantic and the apiserver disagree: {result}"
    if result.returncode != 0:
        for words in refusal:
            assert words in result.stderr
    return result.returncode == 0


@pytest.mark.parametrize(
    ("entry", "accepted"),
    [
        ("192.168.10.0/33", False),
        ("10.0.0/8", False),
        ("300.1.1.1", False),
        ("2001:db8::/129", False),
        ("fe80:::1", False),
        ("shop/api 1", False),
        ("10.0.0.0/8", True),
        ("192.168.1.7/24", True),
        ("10.0.0.5", True),
        ("2001:db8::/32", True),
        ("kube-system/*", True),
        ("12345", True),
    ],
)
def test_guard_entries_are_checked_at_admission(
    kubectl: Kubectl, entry: str, accepted: bool
) -> None:
    spec = copy.deepcopy(POLICY["spec"])
    spec["remediation"] = {"drainPod": {"neverList": ["shop/*", entry]}}
    where = ("spec.remediation.drainPod.neverList[1]",)
    assert _admitted(kubectl, spec, refusal=where) is accepted


@pytest.mark.parametrize(
    ("name", "accepted"),
    [
        ('job"}or{x="', False),
        ("app.kubernetes.io/name", False),
        ("1job", False),
        ("job name", False),
        ("job", True),
        ("_private", True),
        ("Job_2", True),
    ],
)
def test_selector_label_names_are_checked_at_admission(
    kubectl: Kubectl, name: str, accepted: bool
) -> None:
    spec = copy.deepcopy(POLICY["spec"])
    spec["components"][0]["selector"] = {"job": "edge", name: 'v"}'}
    refusal = ("spec.components[0].selector", "Prometheus data model")
    assert _admitted(kubectl, spec, refusal=refusal) is accepted


def test_the_shipped_examples_still_pass_admission(kubectl: Kubectl) -> None:
    for path in sorted((REPO / "manifests" / "examples").glob("policy-*.yaml")):
        for document in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if document and document.get("kind") == "DiagnosisPolicy":
                _ok(kubectl("apply", "--dry-run=server", "-f", "-", stdin=json.dumps(document)))
