"""crds/*.yaml are generated from the models and cannot drift from them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnosis_operator.api import CRDS, DiagnosisPolicySpec, DiagnosisSpec, DiagnosisStatus
from diagnosis_operator.api.crdgen import openapi_schema, render_crd_files
from diagnosis_operator.entrypoints.cli.crdgen import default_targets

REPO = Path(__file__).resolve().parents[2]
FORBIDDEN_KEYS = {"anyOf", "oneOf", "allOf", "$ref", "$defs", "title", "const", "not"}


@pytest.mark.parametrize("target", default_targets(REPO), ids=lambda p: str(p.relative_to(REPO)))
def test_committed_crds_equal_the_generator_output(target: Path) -> None:
    for name, text in render_crd_files().items():
        path = target / name
        assert path.exists(), f"{path} missing: run make crds"
        assert path.read_text(encoding="utf-8") == text, f"{path} is stale: run make crds"


def _walk(node: Any, path: str = "") -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        found.append((path, node))
        for key, child in node.get("properties", {}).items():
            found.extend(_walk(child, f"{path}.{key}"))
        if isinstance(node.get("items"), dict):
            found.extend(_walk(node["items"], f"{path}[]"))
        if isinstance(node.get("additionalProperties"), dict):
            found.extend(_walk(node["additionalProperties"], f"{path}{{}}"))
    return found


@pytest.mark.parametrize("crd", CRDS, ids=lambda c: c.kind)
def test_schemas_are_structural(crd: Any) -> None:
    for model in (crd.spec_model, crd.status_model):
        for path, node in _walk(openapi_schema(model)):
            assert "type" in node, f"{model.__name__}{path} has no type"
            assert not FORBIDDEN_KEYS & node.keys(), (
                f"{model.__name__}{path}: {FORBIDDEN_KEYS & node.keys()}"
            )
            assert node.get("default", 0) is not None, f"{model.__name__}{path} defaults to null"


@pytest.mark.parametrize("model", [DiagnosisSpec, DiagnosisStatus, DiagnosisPolicySpec])
def test_every_model_field_is_in_the_schema_and_back(model: Any) -> None:
    """Field by field, both ways, for the top level: aliases on the wire, nothing extra."""
    schema = openapi_schema(model)
    wire = {field.alias or name for name, field in model.model_fields.items()}
    assert set(schema["properties"]) == wire


def test_diagnosis_crd_declares_what_kubectl_shows() -> None:
    manifest = yaml.safe_load(render_crd_files()["diagnosis.dev_diagnoses.yaml"])
    version = manifest["spec"]["versions"][0]
    assert manifest["spec"]["names"]["shortNames"] == ["diag"]
    assert version["subresources"] == {"status": {}}
    assert [c["name"] for c in version["additionalPrinterColumns"]][:2] == ["Phase", "Mode"]
    spec = version["schema"]["openAPIV3Schema"]["properties"]["spec"]
    assert spec["properties"]["mode"]["enum"] == ["observe", "dry-run", "remediate"]
    assert spec["properties"]["mode"]["default"] == "observe"
    assert set(spec["required"]) == {"symptom", "window", "policyRef"}
    rules = [v["rule"] for v in spec["properties"]["window"]["x-kubernetes-validations"]]
    assert any("lookback" in rule for rule in rules)
    status = version["schema"]["openAPIV3Schema"]["properties"]["status"]
    assert status["properties"]["phase"]["enum"] == [
        "Pending",
        "Collecting",
        "Correlating",
        "Planning",
        "Remediating",
        "Completed",
        "Degraded",
        "Failed",
    ]
    conditions = status["properties"]["conditions"]
    assert conditions["x-kubernetes-list-type"] == "map"
    assert set(conditions["items"]["required"]) == {
        "type",
        "status",
        "reason",
        "lastTransitionTime",
    }
    assert status["properties"]["evidence"]["maxItems"] == 50
    states = status["properties"]["remediations"]["items"]["properties"]["state"]["enum"]
    assert "rolled-back" in states and "denied" in states


def test_policy_crd_declares_the_short_name_and_ready_column() -> None:
    manifest = yaml.safe_load(render_crd_files()["diagnosis.dev_diagnosispolicies.yaml"])
    version = manifest["spec"]["versions"][0]
    assert manifest["spec"]["names"]["shortNames"] == ["diagpol"]
    assert any(c["name"] == "Ready" for c in version["additionalPrinterColumns"])
    components = version["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "components"
    ]
    assert components["x-kubernetes-list-map-keys"] == ["name"]
    assert components["items"]["properties"]["kind"]["enum"] == [
        "proxy",
        "app",
        "mysql",
        "redis",
        "other",
    ]
