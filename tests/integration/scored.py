"""What every scored held-out suite's tests share: expected files, verdicts, strict xfails.

A suite's test module lists its scenarios (generated or recorded), the names still wrong
since first sight (strict expected failures, so a fix must drop the name), and asserts the
whole diagnosis of each through the same scoring as ``bench/firstsight.py``.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml


def scratch(factory: pytest.TempPathFactory, name: str) -> Iterator[Path]:
    """A module's folder of generated bundles, removed when the module ends (a suite's
    bundles weigh hundreds of MB; pytest would keep them to the end of the run)."""
    folder = factory.mktemp(name)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def load_yaml(path: Path) -> dict[str, Any]:
    """An expected file (a mapping), or a failed assertion naming the file."""
    loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), path
    return loaded


def verdict(folder: Path, expected: dict[str, Any]) -> dict[str, Any]:
    """The bundle diagnosed as the CLI does (its JSON), scored against ``expected``."""
    from bench.firstsight import score

    from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle

    result = diagnose_bundle(folder).to_json()
    scored: dict[str, Any] = score(expected, json.loads(json.dumps(result)))
    return scored


def params(names: list[str], wrong: dict[str, str]) -> list[Any]:
    """One parameter per scenario; those still wrong are strict expected failures."""
    return [
        pytest.param(
            name,
            marks=pytest.mark.xfail(reason=wrong[name], strict=True) if name in wrong else (),
        )
        for name in names
    ]


def recorded(folder: Path) -> list[str]:
    """The recordings kept in ``folder`` (one folder each), sorted."""
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir())


def assert_whole(name: str, scored: dict[str, Any]) -> None:
    assert scored["whole"], f"{name}: {scored['problems']} ({scored['summary']})"


def recording_verdict(folder: Path, name: str, scratch_dir: Path) -> dict[str, Any]:
    """The stored recording ``folder/name`` unpacked into ``scratch_dir`` and scored
    against its own ``expected.yaml``."""
    from tests.lab.scenarios import unpack

    bundle = unpack(folder / name, scratch_dir / name)
    return verdict(bundle, load_yaml(folder / name / "expected.yaml"))


def assert_expectations(folder: Path) -> None:
    """At least three recordings in ``folder``, each with an expectation naming it."""
    names = recorded(folder)
    assert len(names) >= 3
    for name in names:
        expected = load_yaml(folder / name / "expected.yaml")
        assert expected["scenario"] == name
        assert "rootCause" in expected and "remediations" in expected, name


def assert_loadable(folder: Path, scratch_dir: Path) -> None:
    """Each recording in ``folder`` unpacks into a bundle the loader accepts."""
    from diagnosis_operator.adapters.bundle import load_bundle
    from tests.lab.scenarios import unpack

    for name in recorded(folder):
        bundle = unpack(folder / name, scratch_dir / f"load-{name}")
        assert load_bundle(bundle) is not None, name
