"""`diagnosis-operator policy render`: formats, several files, errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diagnosis_operator.entrypoints.cli.main import main

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = [REPO / "manifests" / "examples" / "policy-reference.yaml",
            REPO / "manifests" / "examples" / "policy-webapp.yaml"]  # fmt: skip


def render(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["policy", "render", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_each_format_renders_every_policy_of_every_file(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = render(capsys, *map(str, EXAMPLES), "--namespace", "shop")
    assert code == 0
    objects = list(yaml.safe_load_all(out))
    assert [o["kind"] for o in objects] == ["PrometheusRule", "PrometheusRule"]
    for obj, path in zip(objects, EXAMPLES, strict=True):
        meta = yaml.safe_load(path.read_text())["metadata"]
        assert obj["metadata"]["namespace"] == meta.get("namespace", "shop")
        assert obj["metadata"]["name"] == f"{meta['name']}-diagnosis-alerts"
    code, out, _ = render(capsys, *map(str, EXAMPLES), "--format", "rules")
    groups = yaml.safe_load(out)["groups"]
    assert code == 0 and len(groups) == 2
    assert all(
        rule["expr"] and rule["labels"]["diagnosis_policy"] for g in groups for rule in g["rules"]
    )
    code, out, _ = render(capsys, str(EXAMPLES[0]), "--format", "loki")
    (group,) = yaml.safe_load(out)["groups"]
    assert code == 0
    assert all("count_over_time(" in rule["expr"] for rule in group["rules"])


def test_errors_name_the_file_document_and_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    good = yaml.safe_load(EXAMPLES[0].read_text())
    bad = {**good, "spec": {**good["spec"], "thresholds": {"minErrorRatioRise": 3}}}
    path = tmp_path / "policies.yaml"
    path.write_text(yaml.safe_dump_all([good, bad]))
    code, out, err = render(capsys, str(path))
    assert code == 2 and out == ""
    assert (
        f"{path}: document 2 ({good['metadata']['name']}): spec.thresholds.minErrorRatioRise" in err
    )
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "ConfigMap"}))
    code, _, err = render(capsys, str(other))
    assert code == 2 and f"{other}: document 1: apiVersion/kind" in err


def test_the_same_policy_twice_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    copy = tmp_path / "copy.yaml"
    copy.write_text(EXAMPLES[0].read_text())
    code, out, err = render(capsys, str(EXAMPLES[0]), str(copy), "--format", "rules")
    assert code == 2 and out == ""
    assert f"{copy}: document 1" in err and f"is also {EXAMPLES[0]}: document 1" in err
