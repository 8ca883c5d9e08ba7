"""Every field of the CRDs is read (or, for status, written) by the operator's code.

The test walks the committed CRD schemas (``crds/*.yaml``, generated from
``api/``) and, for each field, looks for its name in the package outside
``api/``: an attribute (``.pod_selector``), a keyword or dict key
(``pod_selector=``, ``"pod_selector"``) or its wire name (``"podSelector"``).
A field nothing names is documented and does nothing: wire it or remove it.

This is a name-level check (a field named like another thing passes), so it
catches the fields nobody reads; ``ALLOWED`` lists the fields read in a way a
name search cannot see, each with the file and text where it is read, which
the test checks too (so an entry goes stale loudly).

``Diagnosis.status.policySnapshot.spec`` is a copy of the DiagnosisPolicy spec
and is checked there.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic.alias_generators import to_snake

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "operator" / "diagnosis_operator"
CRDS = ("diagnosis.dev_diagnoses.yaml", "diagnosis.dev_diagnosispolicies.yaml")
SKIPPED = ("Diagnosis.status.policySnapshot.spec",)
KILLER = "core/remediation/killer.py"
KILL_MATCH = "DiagnosisPolicy.spec.remediation.killMysqlQueries.match"


def _read_in(file: str, text: str, why: str) -> tuple[str, str, str]:
    return (file, text, why)


# field path -> (file, text found there, why a name search does not see it)
ALLOWED: dict[str, tuple[str, str, str]] = {
    "DiagnosisPolicy.spec.thresholds.minSymptomDuration": _read_in(
        "api/policy.py",
        "parse_duration(self.min_symptom_duration)",
        "Thresholds.to_engine_settings reads it; service/policy_engine.py calls that",
    ),
    "DiagnosisPolicy.spec.components[].podSelector.matchExpressions": _read_in(
        "api/common.py",
        "for requirement in self.match_expressions",
        "LabelSelector.matches reads it; core/remediation/drain.pod_of_instance calls that",
    ),
    "DiagnosisPolicy.spec.components[].podSelector.matchExpressions[].operator": _read_in(
        "api/common.py",
        "operator = requirement.operator",
        "LabelSelector.matches reads it; core/remediation/drain.pod_of_instance calls that",
    ),
    **{
        f"{KILL_MATCH}.{prefix}{field.capitalize()}": _read_in(
            KILLER,
            f'getattr(policy, f"{prefix}_{{name}}")',
            f"the killer reads every {prefix}_* option by name over its _FIELDS",
        )
        for prefix in ("match", "ignore")
        for field in ("user", "host", "db", "command", "state", "info")
    },
}


def _fields(schema: dict[str, Any], path: str) -> Iterator[str]:
    for name, child in (schema.get("properties") or {}).items():
        here = f"{path}.{name}"
        if here.startswith(SKIPPED):
            continue
        yield here
        yield from _walk(child, here)


def _walk(schema: dict[str, Any], path: str) -> Iterator[str]:
    if schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        yield from _fields(schema["items"], path + "[]")
    else:
        yield from _fields(schema, path)


def crd_fields() -> list[str]:
    found: list[str] = []
    for name in CRDS:
        crd = yaml.safe_load((ROOT / "crds" / name).read_text(encoding="utf-8"))
        kind = crd["spec"]["names"]["kind"]
        [version] = crd["spec"]["versions"]
        schema = version["schema"]["openAPIV3Schema"]["properties"]
        for part in ("spec", "status"):
            found.extend(_walk(schema[part], f"{kind}.{part}"))
    return found


def _code_outside_api() -> str:
    return "\n".join(
        path.read_text(encoding="utf-8")
        for path in sorted(PACKAGE.rglob("*.py"))
        if path.relative_to(PACKAGE).parts[0] != "api"
    )


CODE = _code_outside_api()
FIELDS = crd_fields()


def _named(field: str) -> bool:
    wire = field.rsplit(".", 1)[1].removesuffix("[]")
    snake = to_snake(wire)
    pattern = rf"\.{snake}\b|\b{snake}=|[\"']{snake}[\"']|[\"']{wire}[\"']"
    return re.search(pattern, CODE) is not None


def test_the_walk_sees_the_fields() -> None:
    # The walk reaches nested and list fields (else the test below tests nothing).
    assert "DiagnosisPolicy.spec.components[].podSelector" in FIELDS
    assert "DiagnosisPolicy.spec.signalOverrides[].promql" in FIELDS
    assert "Diagnosis.status.remediations[].idempotencyKey" in FIELDS
    assert len(FIELDS) > 150


@pytest.mark.parametrize("field", [f for f in FIELDS if f not in ALLOWED])
def test_every_crd_field_is_named_by_the_code(field: str) -> None:
    assert _named(field), (
        f"{field} is in the CRD but no code outside api/ reads or writes it: "
        "wire it, or remove it from api/ and the docs (then make crds)"
    )


@pytest.mark.parametrize("field", sorted(ALLOWED))
def test_every_allowed_field_is_still_read_where_it_says(field: str) -> None:
    file, text, why = ALLOWED[field]
    assert field in FIELDS, f"{field} is no longer in the CRD: drop it from ALLOWED"
    assert why
    assert text in (PACKAGE / file).read_text(encoding="utf-8"), f"{field}: {file} lost {text!r}"
