"""Third held-out set (``examples/incidents/holdout3``): bundles, and diagnoses since fixes.

Written without reading the engine, from public postmortems' shapes: an idle blocker
transaction, PDO/JDBC lock and connection errors, PostgreSQL slots, lock queues and
replica lag, a Redis KEYS storm and a cluster failover, proxies failing by themselves,
single-pod CPU burn and a half-window canary leak, a bad release on every pod, client
abuse (IPv4 loop, thin /24 plus IPv6), OOM crash loops, node disk pressure, three
windows without an incident, and a reference-like combination.

These tests check that every bundle is accepted by ``bundle validate`` (the CLI), that
the generators are deterministic and use their own dates and names, and that each
expected file is consistent with its bundle.  Whether ``diagnose`` matches the expected
files was scored once at first sight (bench/results/firstsight-round-3.json), before any
fix; the test at the end keeps the fixes from regressing.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.test_holdout_scenarios import assert_bundle_validates

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from examples.incidents import holdout3  # noqa: E402

from tests.integration.scored import scratch  # noqa: E402

ACTIONS = {"drain-pod", "kill-mysql-queries", "rate-limit-client"}
KEYS = {
    "scenario",
    "rootCause",
    "failureMode",
    "roles",
    "affected",
    "clients",
    "aggravating",
    "onsets",
    "remediations",
    "forbidden",
}
EARLIER = [
    ROOT / "examples/incidents/expected",
    ROOT / "examples/incidents/holdout/expected",
    ROOT / "examples/incidents/holdout2/expected",
]


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout3")


def _bundle(name: str, folder: Path) -> Path:
    target = folder / name
    if not target.exists():
        holdout3.generate(name, folder)
    return target


def _expected(name: str) -> dict[str, Any]:
    loaded = yaml.safe_load(holdout3.expected_path(name).read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), name
    return loaded


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in ("incident.yaml", "metrics.om", "logs.jsonl"):
        digest.update((folder / file).read_bytes())
    return digest.hexdigest()


def _earlier_names() -> set[str]:
    names: set[str] = set()
    for folder in EARLIER:
        for path in folder.glob("*.yaml"):
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            root = data.get("rootCause")
            names.add(root["component"] if isinstance(root, dict) else str(root))
            names |= set(data.get("roles") or {}) | set(data.get("onsets") or {})
            names |= set(data.get("aggravating") or [])
    return names - {"none", "client"}


def test_holdout3_has_22_scenarios_each_with_expected_file() -> None:
    assert len(holdout3.SCENARIOS) == 22
    files = {p.stem for p in (holdout3.HERE / "expected").glob("*.yaml")}
    assert files == set(holdout3.SCENARIOS)
    assert all(story and "\n" not in story for story in holdout3.SCENARIOS.values())


@pytest.mark.parametrize("name", list(holdout3.SCENARIOS))
def test_holdout3_bundle_validates(name: str, bundles: Path) -> None:
    assert_bundle_validates(_bundle(name, bundles))


@pytest.mark.parametrize("name", list(holdout3.SCENARIOS))
def test_holdout3_expected_file_fits_its_bundle(name: str, bundles: Path) -> None:
    text = holdout3.expected_path(name).read_text(encoding="utf-8")
    assert text.startswith("#"), "the story and the reasoning come first, as a comment"
    expected = _expected(name)
    assert expected["scenario"] == name
    assert set(expected) <= KEYS, set(expected) - KEYS
    folder = _bundle(name, bundles)
    incident = yaml.safe_load((folder / "incident.yaml").read_text(encoding="utf-8"))
    components = {c["name"] for c in incident["topology"]["components"]}
    root = expected["rootCause"]["component"]
    assert root in components | {"none", "client"}
    assert set(expected.get("roles") or {}) <= components
    assert set(expected.get("aggravating") or []) <= components
    for entry in expected["affected"]:
        assert entry["component"] in components
    actions = [(r["action"], str(r["target"])) for r in expected["remediations"]]
    assert {a for a, _ in actions} <= ACTIONS
    assert not {a for a, _ in actions} & set(expected.get("forbidden") or [])
    drains = {t for a, t in actions if a == "drain-pod"}
    assert drains == {str(e["instance"]) for e in expected["affected"]}
    limited = {t for a, t in actions if a == "rate-limit-client"}
    listed = {str(c.get("ip", c.get("network"))) for c in expected["clients"]}
    assert limited == listed
    if root == "client":
        assert listed, "a client root names its clients"
    if root == "none":
        assert not actions and not expected["affected"] and not listed
    logs = (folder / "logs.jsonl").read_text(encoding="utf-8")
    for value in [e["instance"] for e in expected["affected"]] + sorted(listed):
        probe = value.rsplit(".", 1)[0] + "." if "/" in value else value
        assert probe in logs, f"{value} does not occur in the logs"
    for start in (expected.get("onsets") or {}).values():
        assert incident["window"]["start"] <= start < incident["window"]["end"]


def test_holdout3_generators_are_deterministic_and_distinct(bundles: Path, tmp_path: Path) -> None:
    earlier = _earlier_names()
    dates: set[str] = set()
    names: dict[str, str] = {}
    for name in holdout3.SCENARIOS:
        first = _bundle(name, bundles)
        again = holdout3.generate(name, tmp_path)
        assert _digest(first) == _digest(again), name
        incident = yaml.safe_load((first / "incident.yaml").read_text(encoding="utf-8"))
        assert incident["window"]["start"].startswith("2027-")
        dates.add(incident["window"]["start"][:10])
        for component in incident["topology"]["components"]:
            assert component["name"] not in names, (component["name"], names.get(component["name"]))
            assert component["name"] not in earlier, component["name"]
            names[component["name"]] = name
    assert len(dates) == len(holdout3.SCENARIOS)


def test_credential_stuffing_range_hides_below_per_ip_ranking(bundles: Path) -> None:
    """Each /24 member sends less than the busiest ordinary user; the IPv6 host is loud."""
    expected = _expected("id-credential-stuffing-v6")
    (entry,) = [c for c in expected["clients"] if "network" in c]
    (host,) = [c["ip"] for c in expected["clients"] if "ip" in c]
    network = ipaddress.ip_network(entry["network"])
    counts: dict[str, int] = {}
    folder = _bundle("id-credential-stuffing-v6", bundles)
    with (folder / "logs.jsonl").open(encoding="utf-8") as lines:
        for raw in lines:
            row = json.loads(raw)
            if row["labels"].get("job") == "id-edge":
                client = json.loads(row["line"])["client"]
                counts[client] = counts.get(client, 0) + 1
    members = {ip: n for ip, n in counts.items() if ipaddress.ip_address(ip) in network}
    ordinary = {ip: n for ip, n in counts.items() if ip not in members and ip != host}
    assert len(members) == entry["members"]
    assert max(members.values()) < max(ordinary.values())
    assert counts[host] > 10 * max(ordinary.values())


def test_canary_series_begin_halfway(bundles: Path) -> None:
    expected = _expected("cart-canary-leak")
    instance = expected["affected"][0]["instance"]
    folder = _bundle("cart-canary-leak", bundles)
    incident = yaml.safe_load((folder / "incident.yaml").read_text(encoding="utf-8"))
    start = datetime.fromisoformat(incident["window"]["start"].replace("Z", "+00:00")).timestamp()
    first = min(
        float(line.rsplit(" ", 1)[1])
        for line in (folder / "metrics.om").read_text(encoding="utf-8").splitlines()
        if f'instance="{instance}"' in line
    )
    assert 29 * 60 <= first - start <= 31 * 60


def test_unknown_holdout3_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        holdout3.generate("no-such-scenario", tmp_path)


# --------------------------------------------------------------------------- diagnoses
# Scored once at first sight (bench/results/firstsight-round-3.json: root 17/22, whole
# 13/22); the general fixes that followed are held here so that none of them regresses.
# The scenarios still diagnosed wrong are expected failures (strict: a fix must drop
# the name from this list, so the list says what is still open).
# Round 4's engine work made the last three right (declared gauges, logfmt 5xx, silent
# ranges arriving together, retry loops timed by when requests were sent).
STILL_WRONG: dict[str, str] = {}


@pytest.mark.parametrize(
    "name",
    [
        pytest.param(
            name,
            marks=pytest.mark.xfail(reason=STILL_WRONG[name], strict=True)
            if name in STILL_WRONG
            else (),
        )
        for name in holdout3.SCENARIOS
    ],
)
def test_holdout3_whole_diagnosis_as_expected(name: str, bundles: Path) -> None:
    """Root, affected instances, clients, remediations, nothing forbidden (the CLI's JSON)."""
    from bench.firstsight import score

    from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle

    result = diagnose_bundle(_bundle(name, bundles)).to_json()
    verdict = score(_expected(name), json.loads(json.dumps(result)))
    assert verdict["whole"], f"{name}: {verdict['problems']} ({verdict['summary']})"
