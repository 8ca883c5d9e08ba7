"""Second held-out set (``examples/incidents/holdout2``) through ``diagnose``.

Written without reading the engine: causes and shapes the first sets lack (a full
disk, a retry-amplified two-tier cascade, an OOM crash loop, distributed credential
stuffing, a Sentinel failover, constant benign ERROR noise).  Each bundle is
generated into a temporary folder, checked with ``bundle validate`` (the CLI) and
diagnosed; the result is compared with ``expected/NAME.yaml`` by the holdout
comparison, plus one extension: a client entry ``{network: CIDR, members: N}`` is
met by the CIDR itself or by at least 90 % of its N abusive addresses listed one by
one (nothing else of that range, nothing broader), and a ``rate-limit-client``
target CIDR likewise.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle
from tests.integration.test_holdout_scenarios import _mismatches, assert_bundle_validates

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from examples.incidents import holdout, holdout2  # noqa: E402

from tests.integration.scored import scratch  # noqa: E402

MEMBER_SHARE = 0.9


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "holdout2")


def _bundle(name: str, folder: Path) -> Path:
    target = folder / name
    if not target.exists():
        holdout2.generate(name, folder)
    return target


def _in(text: str, network: ipaddress.IPv4Network | ipaddress.IPv6Network) -> bool:
    try:
        return ipaddress.ip_address(text) in network
    except ValueError:
        return False


def _collapse(values: list[str], network: str, members: int) -> tuple[list[str], str | None]:
    """Replace enough single members of ``network`` by the network itself."""
    net = ipaddress.ip_network(network)
    inside = {v for v in values if _in(v, net)}
    rest = [v for v in values if v not in inside]
    if network in values:
        return values, None  # the range itself, listed once (rest already holds it)
    if inside and len(inside) >= MEMBER_SHARE * members:
        return [*rest, network], None
    if inside:
        share = f">= {MEMBER_SHARE:.0%} of {members}"
        return values, f"{len(inside)} addresses of {network} listed, want the range or {share}"
    return values, None


def _normalise(
    expected: dict[str, Any], result: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """Expected network entries become plain ``ip`` entries; the result is collapsed to match."""
    networks = [c for c in expected.get("clients") or [] if isinstance(c, dict) and "network" in c]
    if not networks:
        return expected, result, []
    problems = []
    clients = [str(c["ip"]) for c in result["clients"]]
    targets = [(r["action"], str(r["target"])) for r in result["remediations"]]
    limited = [t for a, t in targets if a == "rate-limit-client"]
    others = [(a, t) for a, t in targets if a != "rate-limit-client"]
    for entry in networks:
        clients, problem = _collapse(clients, entry["network"], entry["members"])
        limited, problem_r = _collapse(limited, entry["network"], entry["members"])
        problems += [p for p in (problem, problem_r) if p]
    expected = {
        **expected,
        "clients": [{"ip": c.get("ip", c.get("network"))} for c in expected["clients"]],
    }
    result = {
        **result,
        "clients": [{"ip": c} for c in clients],
        "remediations": [{"action": a, "target": t} for a, t in others]
        + [{"action": "rate-limit-client", "target": t} for t in limited],
    }
    return expected, result, problems


@pytest.mark.parametrize("name", list(holdout2.SCENARIOS))
def test_holdout2_bundle_validates(name: str, bundles: Path) -> None:
    assert_bundle_validates(_bundle(name, bundles))


@pytest.mark.parametrize("name", list(holdout2.SCENARIOS))
def test_holdout2_scenario_matches_expected_diagnosis(name: str, bundles: Path) -> None:
    expected = yaml.safe_load(holdout2.expected_path(name).read_text(encoding="utf-8"))
    assert expected["scenario"] == name
    result = diagnose_bundle(_bundle(name, bundles)).to_json()
    expected, result, problems = _normalise(expected, result)
    problems += _mismatches(expected, result)
    assert not problems, f"{name}:\n  " + "\n  ".join(problems)


def _digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for file in ("incident.yaml", "metrics.om", "logs.jsonl"):
        digest.update((folder / file).read_bytes())
    return digest.hexdigest()


def test_holdout2_generators_are_deterministic_and_distinct(bundles: Path, tmp_path: Path) -> None:
    old_dates, old_names = set(), set()
    for module in holdout.SCENARIOS.values():  # the first set's dates and names, from its sources
        source = (holdout.HERE / f"{module.rsplit('.', 1)[1]}.py").read_text(encoding="utf-8")
        old_dates |= set(re.findall(r'start="(\d{4}-\d\d-\d\d)T', source))
        old_names |= set(re.findall(r'Component\(\s*"([^"]+)"', source))
    assert len(old_dates) == len(holdout.SCENARIOS)
    dates: set[str] = set()
    names: dict[str, str] = {}
    for name in holdout2.SCENARIOS:
        first = _bundle(name, bundles)
        again = holdout2.generate(name, tmp_path)
        assert _digest(first) == _digest(again), name
        incident = yaml.safe_load((first / "incident.yaml").read_text(encoding="utf-8"))
        dates.add(incident["window"]["start"][:10])
        for component in incident["topology"]["components"]:
            assert component["name"] not in names, (component["name"], names.get(component["name"]))
            assert component["name"] not in old_names, component["name"]
            names[component["name"]] = name
    assert len(dates) == len(holdout2.SCENARIOS)
    assert not dates & old_dates


def _edge_clients(folder: Path, job: str) -> Counter[str]:
    counts: Counter[str] = Counter()
    with (folder / "logs.jsonl").open(encoding="utf-8") as lines:
        for raw in lines:
            entry = json.loads(raw)
            if entry["labels"].get("job") == job:
                counts[json.loads(entry["line"])["remote_addr"]] += 1
    return counts


def test_credential_stuffing_range_hides_below_per_ip_ranking(bundles: Path) -> None:
    """The /24 is only visible as a range: each member sends less than the busiest real user."""
    expected = yaml.safe_load(
        holdout2.expected_path("credential-stuffing").read_text(encoding="utf-8")
    )
    (entry,) = [c for c in expected["clients"] if "network" in c]
    network = ipaddress.ip_network(entry["network"])
    counts = _edge_clients(_bundle("credential-stuffing", bundles), "auth-edge")
    members = {ip: n for ip, n in counts.items() if _in(ip, network)}
    listed = {str(c.get("ip")) for c in expected["clients"]}
    ordinary = {ip: n for ip, n in counts.items() if ip not in members and ip not in listed}
    assert len(members) == entry["members"]
    assert max(members.values()) < max(ordinary.values())
    assert sum(members.values()) > 10 * max(ordinary.values())


def test_unknown_holdout2_scenario_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown scenario"):
        holdout2.generate("no-such-scenario", tmp_path)
