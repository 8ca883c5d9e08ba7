"""What admission refuses (issue 12): CRD names kubectl can address, malformed guard
entries, label names outside the Prometheus data model.

The apiserver side of the same rules (the CEL in the generated CRDs) is proven
against a real apiserver in tests/e2e/test_admission.py.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from diagnosis_operator.api import CRDS, DiagnosisPolicySpec
from diagnosis_operator.api.crdgen import render_crd_files
from diagnosis_operator.entrypoints.kopf.policy import check_policy
from diagnosis_operator.models.actions import entry_problem

POLICY: dict[str, Any] = {
    "components": [
        {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["svc"]},
        {"name": "svc", "kind": "app", "selector": {"job": "svc", "__name__": "up"}},
    ]
}
MALFORMED_ENTRIES = (
    "192.168.10.0/33",  # the case: a prefix longer than 32 bits
    "10.0.0/8",  # three octets
    "300.1.1.1",  # an octet over 255
    "10.0.0.0/x",
    "2001:db8::/129",
    "fe80:::1",
    "shop/api 1",  # whitespace
    "",
)
GOOD_ENTRIES = (
    "10.0.0.0/8",
    "10.0.0.5",
    "192.168.1.7/24",
    "2001:db8::/32",
    "::1",
    "kube-system/*",
    "blog-web-canary-*",
    "12345",
    "mysql",
    "10.0.*",
)


def _names(manifest: dict[str, Any]) -> set[str]:
    names = manifest["spec"]["names"]
    return {
        names["kind"].lower(),
        names["plural"],
        names["singular"],
        *names.get("shortNames", []),
    }


def test_no_category_is_a_resource_name() -> None:
    """kubectl expands a category before it looks up a resource: a category named
    like a resource makes `kubectl get diagnosis NAME` ask for two kinds."""
    manifests = [yaml.safe_load(text) for text in render_crd_files().values()]
    every_name = set().union(*(_names(m) for m in manifests))
    for manifest in manifests:
        for category in manifest["spec"]["names"].get("categories", []):
            assert category not in every_name, (
                f"{manifest['metadata']['name']}: category {category!r} shadows a resource name"
            )
    for crd in CRDS:
        assert not set(crd.categories) & {crd.singular, crd.plural, *crd.short_names}


def _policy_with(entries: list[str], *, field: str = "neverList") -> dict[str, Any]:
    spec = copy.deepcopy(POLICY)
    spec["remediation"] = {"rateLimitClient": {field: entries}}
    return spec


@pytest.mark.parametrize("entry", MALFORMED_ENTRIES)
@pytest.mark.parametrize("field", ["neverList", "allowList"])
def test_malformed_guard_entries_are_refused_naming_the_field(entry: str, field: str) -> None:
    assert entry_problem(entry) is not None
    with pytest.raises(ValidationError) as raised:
        DiagnosisPolicySpec.model_validate(_policy_with(["shop/*", entry], field=field))
    (error,) = raised.value.errors()
    assert error["loc"] == ("remediation", "rateLimitClient", field, 1)


@pytest.mark.parametrize("entry", GOOD_ENTRIES)
def test_well_formed_guard_entries_are_accepted(entry: str) -> None:
    assert entry_problem(entry) is None
    parsed = DiagnosisPolicySpec.model_validate(_policy_with([entry]))
    assert parsed.remediation.rate_limit_client.never_list == [entry]


def test_a_policy_with_a_malformed_entry_is_not_ready() -> None:
    """The policy handler's verdict: Ready False, the message naming the entry."""
    components, problem = check_policy(_policy_with(["192.168.10.0/33"]))
    assert components is None and problem is not None
    assert "spec.remediation.rateLimitClient.neverList.0" in problem
    assert "192.168.10.0/33" in problem
    assert check_policy(_policy_with(["192.168.10.0/24"])) == (2, None)


@pytest.mark.parametrize(
    "name",
    ['job"}or{x="', "job=~", "app.kubernetes.io/name", "1job", "job name", "jöb", "job\n", ""],
)
def test_label_names_outside_the_prometheus_data_model_are_refused(name: str) -> None:
    spec = copy.deepcopy(POLICY)
    spec["components"][1]["selector"] = {"job": "svc", name: "x"}
    with pytest.raises(ValidationError, match=r"components\.1\.selector") as raised:
        DiagnosisPolicySpec.model_validate(spec)
    assert "[a-zA-Z_][a-zA-Z0-9_]*" in str(raised.value)


def test_label_values_are_free_and_names_may_start_with_an_underscore() -> None:
    spec = copy.deepcopy(POLICY)
    spec["components"][1]["selector"] = {"_private": 'a"}or{b="', "Job_2": "x\ny"}
    parsed = DiagnosisPolicySpec.model_validate(spec)
    assert parsed.components[1].selector["_private"] == 'a"}or{b="'


def test_the_crd_carries_the_cel_rules() -> None:
    manifest = yaml.safe_load(render_crd_files()["diagnosis.dev_diagnosispolicies.yaml"])
    spec = manifest["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]
    selector = spec["properties"]["components"]["items"]["properties"]["selector"]
    (rule,) = selector["x-kubernetes-validations"]
    assert "k.matches('^[a-zA-Z_][a-zA-Z0-9_]*$')" in rule["rule"]
    drain = spec["properties"]["remediation"]["properties"]["drainPod"]["properties"]
    for field in ("neverList", "allowList"):
        items = drain[field]["items"]
        assert items["maxLength"] == 253
        rule = items["x-kubernetes-validations"][0]["rule"]
        assert "isIP(self)" in rule and "isCIDR(self)" in rule
