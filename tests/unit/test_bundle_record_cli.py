"""``bundle record``'s inputs: the policy file and the times, with errors naming them."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis_operator.entrypoints.cli.bundle_record import parse_time, read_policy
from diagnosis_operator.entrypoints.cli.main import main as cli

POLICY = Path(__file__).resolve().parents[1] / "lab" / "policy.yaml"


def test_times_are_rfc3339_or_epoch_seconds() -> None:
    assert parse_time("2026-01-05T10:00:00Z", "--from") == 1767607200.0
    assert parse_time("2026-01-05T11:00:00+01:00", "--from") == 1767607200.0
    assert parse_time("1767607200.5", "--to") == 1767607200.5
    with pytest.raises(ValueError, match="--to: 'yesterday'"):
        parse_time("yesterday", "--to")


def test_policy_manifest_or_spec_gives_the_topology(tmp_path: Path) -> None:
    manifest = read_policy(str(POLICY))
    assert [c.name for c in manifest.to_topology()] == ["nginx", "api", "mysql", "redis"]
    spec_only = tmp_path / "spec.yaml"
    spec_only.write_text("components:\n  - {name: db, kind: mysql, selector: {job: db}}\n")
    assert [c.name for c in read_policy(str(spec_only)).to_topology()] == ["db"]


def test_bad_policy_names_the_file_and_field(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("spec:\n  components:\n    - {name: db, kind: teapot, selector: {job: db}}\n")
    with pytest.raises(ValueError, match=r"bad.yaml: spec.components.0.kind"):
        read_policy(str(bad))


def test_record_refuses_bad_times_before_asking_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bundle", "record", "--prometheus", "http://127.0.0.1:9", "--loki"]
    argv += ["http://127.0.0.1:9", "--policy", str(POLICY), "--from", "soon"]
    argv += ["--to", "1767607200", "--out", str(tmp_path / "out")]
    assert cli(argv) == 2
    assert "--from: 'soon'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
