"""Held-out incident scenarios (``examples/incidents/holdout``) through ``diagnose``.

These bundles were written without reading the engine, by other hands than the
ones that tuned it: other dates, names, namespaces, address ranges (IPv6 too),
exporters and log formats.  Each is generated into a temporary folder, loaded
with ``bundle validate`` (the CLI, as a user runs it) and diagnosed; the result
is compared with ``examples/incidents/holdout/expected/NAME.yaml``:

    rootCause: ordersdb                 # or {component: ordersdb}
    roles: {ordersdb: root, catalog-db: [symptom, aggravating]}  # candidates' roles
    affected: [{instance: ...}]         # [] means none
    clients: [{ip: ...}]                # [] means none
    aggravating: [...]
    remediations: [{action: ..., target: ...}]   # [] means none proposed

Every mismatch of a scenario is reported at once, with the engine's summary.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from examples.incidents import holdout  # noqa: E402

from tests.integration.scored import scratch  # noqa: E402


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout")


def _bundle(name: str, folder: Path) -> Path:
    target = folder / name
    if not target.exists():
        holdout.generate(name, folder)
    return target


def _names(items: Any, key: str) -> list[str]:
    return sorted(str(item[key]) if isinstance(item, dict) else str(item) for item in items or [])


def _mismatches(expected: dict[str, Any], result: dict[str, Any]) -> list[str]:
    problems = []
    if "rootCause" in expected:
        root = expected["rootCause"]
        want = root["component"] if isinstance(root, dict) else root
        got = result["rootCause"]["component"]
        if got != want:
            problems.append(f"rootCause: want {want}, got {got} ({result['rootCause']['summary']})")
    roles = {c["component"]: c.get("role") for c in result["candidates"]}
    for component, allowed in (expected.get("roles") or {}).items():
        options = allowed if isinstance(allowed, list) else [allowed]
        if roles.get(component) not in options:
            problems.append(f"role of {component}: want {options}, got {roles.get(component)}")
    for key, field in (("affected", "instance"), ("clients", "ip")):
        if key in expected:
            want_names, got_names = _names(expected[key], field), _names(result[key], field)
            if want_names != got_names:
                problems.append(f"{key}: want {want_names}, got {got_names} {result[key]}")
    if "aggravating" in expected and sorted(result["aggravating"]) != sorted(
        expected["aggravating"] or []
    ):
        problems.append(f"aggravating: want {expected['aggravating']}, got {result['aggravating']}")
    if "remediations" in expected:
        want_r = sorted((r["action"], str(r.get("target"))) for r in expected["remediations"] or [])
        got_r = sorted((r["action"], str(r["target"])) for r in result["remediations"])
        if want_r != got_r:
            problems.append(f"remediations: want {want_r}, got {got_r}")
    return problems


def assert_bundle_validates(folder: Path) -> None:
    """``diagnosis-operator bundle validate`` accepts the bundle and finds every component."""
    done = subprocess.run(
        [sys.executable, "-m", "diagnosis_operator", "bundle", "validate", str(folder)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": ""},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "valid" in done.stdout
    # every declared component is found in the data (the loader refuses otherwise)
    incident = yaml.safe_load((folder / "incident.yaml").read_text(encoding="utf-8"))
    for component in incident["topology"]["components"]:
        assert component["name"] in done.stdout


@pytest.mark.parametrize("name", list(holdout.SCENARIOS))
def test_holdout_bundle_validates(name: str, bundles: Path) -> None:
    assert_bundle_validates(_bundle(name, bundles))


@pytest.mark.parametrize("name", list(holdout.SCENARIOS))
def test_holdout_scenario_matches_expected_diagnosis(name: str, bundles: Path) -> None:
    expected = yaml.safe_load(holdout.expected_path(name).read_text(encoding="utf-8"))
    assert expected["scenario"] == name
    result = diagnose_bundle(_bundle(name, bundles)).to_json()
    problems = _mismatches(expected, result)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in ("incident.yaml", "metrics.om", "logs.jsonl"):
        digest.update((folder / file).read_bytes())
    return digest.hexdigest()


def test_holdout_generators_are_deterministic_and_distinct(bundles: Path, tmp_path: Path) -> None:
    starts: set[str] = set()
    names: dict[str, str] = {}
    for name in holdout.SCENARIOS:
        first = _bundle(name, bundles)
        again = holdout.generate(name, tmp_path)
        assert _digest(first) == _digest(again), name
        incident = yaml.safe_load((first / "incident.yaml").read_text(encoding="utf-8"))
        starts.add(incident["window"]["start"][:10])
        for component in incident["topology"]["components"]:
            assert component["name"] not in names, (
                component["name"],
                names.get(component["name"]),
                name,
            )
            names[component["name"]] = name
    assert len(starts) == len(holdout.SCENARIOS)  # every scenario on its own date


def test_holdout_ipv6_client_is_in_the_data(bundles: Path) -> None:
    expected = yaml.safe_load(holdout.expected_path("ipv6-retry-storm").read_text(encoding="utf-8"))
    ip = expected["clients"][0]["ip"]
    assert ":" in ip
    logs = (_bundle("ipv6-retry-storm", bundles) / "logs.jsonl").read_text(encoding="utf-8")
    assert logs.count(f'\\"{ip}\\"') > 10_000  # the retry loop, not one stray line


def test_unknown_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        holdout.generate("no-such-scenario", tmp_path)
