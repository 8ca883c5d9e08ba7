"""Every generated incident scenario through ``diagnose``, compared with its expected diagnosis.

The expected-diagnosis YAML of a scenario (``examples/incidents/expected/NAME.yaml``)
is read tolerantly; each key present is checked:

    rootCause: mysql            # or {component: mysql}
    affected: [10.0.2.101:8080] # instances (or [{instance: ...}]); [] means none
    clients: [192.168.10.100]   # client IPs (or [{ip: ...}]); [] means none
    aggravating: [redis]
    remediations: [{action: drain-pod, target: ...}, ...]  # [] means none proposed

Plus the perturbed reference: the reference bundle with its addresses, tables,
host names, keys and times rewritten must give the same structural diagnosis,
which shows nothing in the engine is tuned to one bundle.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnosis_operator.entrypoints.cli.diagnose import diagnose_bundle

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
from examples.incidents import generate as generator  # noqa: E402

from tests.integration.scored import scratch  # noqa: E402


@pytest.fixture(scope="module")
def bundles(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    yield from scratch(tmp_path_factory, "bundles")


def _generate(name: str, folder: Path) -> Path:
    target = folder / name
    if not target.exists():
        try:
            generator.generate(name, folder)
        except ModuleNotFoundError as error:
            pytest.fail(f"scenario {name} has no generator: {error}")
    return target


def _names(items: Any, key: str) -> list[str]:
    out = []
    for item in items or []:
        out.append(str(item[key]) if isinstance(item, dict) else str(item))
    return sorted(out)


@pytest.mark.parametrize("name", list(generator.SCENARIOS))
def test_scenario_matches_expected_diagnosis(name: str, bundles: Path) -> None:
    expected_file = generator.expected_path(name)
    if not expected_file.is_file():
        pytest.fail(f"no expected diagnosis for {name} ({expected_file})")
    folder = _generate(name, bundles)
    expected = yaml.safe_load(expected_file.read_text(encoding="utf-8")) or {}
    result = diagnose_bundle(folder).to_json()

    if "rootCause" in expected:
        root = expected["rootCause"]
        want = root["component"] if isinstance(root, dict) else root
        assert result["rootCause"]["component"] == want, result["rootCause"]
    if "affected" in expected:
        assert _names(result["affected"], "instance") == _names(expected["affected"], "instance")
    if "clients" in expected:
        assert _names(result["clients"], "ip") == _names(expected["clients"], "ip")
    if "aggravating" in expected:
        assert sorted(result["aggravating"]) == sorted(expected["aggravating"] or [])
    if "remediations" in expected:
        got = sorted((r["action"], r["target"]) for r in result["remediations"])
        want_actions = sorted(
            (r["action"], r.get("target")) for r in expected["remediations"] or []
        )
        assert [a for a, _ in got] == [a for a, _ in want_actions]
        for (action, target), (_, wanted_target) in zip(got, want_actions, strict=True):
            if wanted_target is not None:
                assert target == wanted_target, action


# --- the reference incident, as the report tells it, and perturbed ----------------------

REFERENCE_WORDS = {
    "10.0.2.101": "10.77.3.41",
    "192.168.10.100": "172.29.200.5",
    "api-server-01": "web-node-a7",
    "payments": "ledger_rows",
    "orders": "purchases",
    "products": "catalog_items",
    "carts": "baskets",
    "cart:22": "bag:918",
    "counter:login": "tally:signin",
}
# The SQL column is renamed only where SQL filters on it (label and JSON key names stay).
SQL_COLUMN = ("status", "state_code")
SHIFT = timedelta(days=41, hours=5, minutes=17, seconds=13)


def _check_reference(result: dict[str, Any], words: dict[str, str]) -> None:
    assert result["rootCause"]["component"] == "mysql"
    assert result["rootCause"]["confidence"] >= 0.6
    affected_hosts = [a["instance"].rsplit(":", 1)[0] for a in result["affected"]]
    assert affected_hosts == [words["10.0.2.101"]]
    assert [c["ip"] for c in result["clients"]] == [words["192.168.10.100"]]
    assert result["aggravating"] == ["redis"]
    actions = {r["action"]: r["target"] for r in result["remediations"]}
    assert set(actions) == {"drain-pod", "kill-mysql-queries", "rate-limit-client"}
    assert actions["kill-mysql-queries"] == "mysql"
    assert actions["rate-limit-client"] == words["192.168.10.100"]
    assert actions["drain-pod"].startswith(words["10.0.2.101"])
    kill = next(r for r in result["remediations"] if r["action"] == "kill-mysql-queries")
    assert words["payments"] in kill["params"]["matchInfo"]
    index_advice = [r["text"] for r in result["recommendations"] if "index" in r["text"].lower()]
    column = SQL_COLUMN[1] if words["payments"] != "payments" else SQL_COLUMN[0]
    assert any(f"{words['payments']}({column})" in text for text in index_advice)
    first = {e["component"]: e["ts"] for e in reversed(result["timeline"])}
    assert first["mysql"] <= first["redis"]


def test_reference_incident_is_diagnosed_like_the_report(bundles: Path) -> None:
    folder = _generate("reference", bundles)
    _check_reference(diagnose_bundle(folder).to_json(), {k: k for k in REFERENCE_WORDS})


@pytest.mark.parametrize("lead", [0.0, 15.4, 37.9])
def test_the_diagnosis_does_not_depend_on_where_the_window_starts(
    bundles: Path, tmp_path: Path, lead: float
) -> None:
    # A live Diagnosis's window starts wherever the clock was ("--since 62m"): its steps,
    # and the edges of every count, fall anywhere relative to the incident's events.
    source = _generate("reference", bundles)
    incident = yaml.safe_load((source / "incident.yaml").read_text(encoding="utf-8"))
    start = datetime.fromisoformat(str(incident["window"]["start"]).replace("Z", "+00:00"))
    end = datetime.fromisoformat(str(incident["window"]["end"]).replace("Z", "+00:00"))
    incident["window"]["start"] = (start - timedelta(seconds=lead)).isoformat()
    incident["window"]["end"] = (end + timedelta(seconds=101.3)).isoformat()
    (tmp_path / "incident.yaml").write_text(yaml.safe_dump(incident), encoding="utf-8")
    for name in ("metrics.om", "logs.jsonl"):
        (tmp_path / name).symlink_to(source / name)
    _check_reference(diagnose_bundle(tmp_path).to_json(), {k: k for k in REFERENCE_WORDS})


def _rewrite_text(text: str) -> str:
    for old, new in REFERENCE_WORDS.items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w])", new, text)
    return re.sub(rf"\b{SQL_COLUMN[0]}(\s*=\s*')", rf"{SQL_COLUMN[1]}\1", text)


def _shift_iso(text: str) -> str:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + SHIFT
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _metrics_lines(path: Path) -> Iterator[str]:
    offset = SHIFT.total_seconds()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("#") or not line.strip():
                yield _rewrite_text(line)
                continue
            head, _, stamp = line.rstrip("\n").rpartition(" ")
            yield f"{_rewrite_text(head)} {float(stamp) + offset:.3f}\n"


def perturb(source: Path, target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    incident = yaml.safe_load((source / "incident.yaml").read_text(encoding="utf-8"))
    for key in ("start", "end"):
        incident["window"][key] = _shift_iso(str(incident["window"][key]))
    (target / "incident.yaml").write_text(yaml.safe_dump(incident), encoding="utf-8")
    with (target / "metrics.om").open("w", encoding="utf-8") as out:
        out.writelines(_metrics_lines(source / "metrics.om"))
    with (
        (source / "logs.jsonl").open(encoding="utf-8") as handle,
        (target / "logs.jsonl").open("w", encoding="utf-8") as out,
    ):
        for raw in handle:
            entry = json.loads(raw)
            entry["ts"] = _shift_iso(entry["ts"])
            entry["labels"] = {k: _rewrite_text(v) for k, v in entry["labels"].items()}
            entry["line"] = _rewrite_text(entry["line"])
            out.write(json.dumps(entry) + "\n")


def test_perturbed_reference_gives_the_same_structural_diagnosis(bundles: Path) -> None:
    source = _generate("reference", bundles)
    target = bundles / "reference-perturbed"
    perturb(source, target)
    _check_reference(diagnose_bundle(target).to_json(), REFERENCE_WORDS)


def test_cli_writes_json_and_refuses_a_bad_bundle(bundles: Path, tmp_path: Path) -> None:
    folder = _generate("reference", bundles)
    out = tmp_path / "result.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnosis_operator",
            "diagnose",
            "--bundle",
            str(folder),
            "--format",
            "json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": ""},
    )
    assert done.returncode == 0, done.stderr
    assert "collecting" in done.stderr and "analysing" in done.stderr
    assert json.loads(out.read_text(encoding="utf-8"))["rootCause"]["component"] == "mysql"
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "incident.yaml").write_text("format: nope\n", encoding="utf-8")
    (bad / "logs.jsonl").write_text("", encoding="utf-8")
    refused = subprocess.run(
        [sys.executable, "-m", "diagnosis_operator", "diagnose", "--bundle", str(bad)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT / "operator"), "PATH": ""},
    )
    assert refused.returncode == 2
    assert "incident.yaml" in refused.stderr


# --- held-out variants of other scenarios: names, addresses, times and log format changed ---
# Each variant rewrites a generated bundle consistently (incident.yaml, metrics.om,
# logs.jsonl), shifts every timestamp and turns JSON application lines into logfmt
# (``key=value``), then checks the diagnosis has the same structure under the new names.


def _rewrite_words(text: str, words: dict[str, str], prefixes: dict[str, str]) -> str:
    for old, new in prefixes.items():
        text = re.sub(rf"(?<![\d.]){re.escape(old)}", new, text)
    for old, new in words.items():
        text = re.sub(rf"(?<![\w.]){re.escape(old)}(?![\w])", new, text)
    return text


def _to_logfmt(line: str) -> str:
    if not line.startswith("{"):
        return line
    try:
        fields = json.loads(line)
    except ValueError:
        return line
    if not isinstance(fields, dict):
        return line
    parts = []
    for key, value in fields.items():
        text = str(value)
        parts.append(f"{key}={json.dumps(text) if (' ' in text or '=' in text) else text}")
    return " ".join(parts)


def rewrite_bundle(
    source: Path,
    target: Path,
    *,
    words: dict[str, str],
    prefixes: dict[str, str],
    shift: timedelta,
) -> None:
    def moved(text: str) -> str:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00")) + shift
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"

    target.mkdir(parents=True, exist_ok=True)
    incident = yaml.safe_load(
        _rewrite_words((source / "incident.yaml").read_text(encoding="utf-8"), words, prefixes)
    )
    for key in ("start", "end"):
        incident["window"][key] = moved(str(incident["window"][key]))
    (target / "incident.yaml").write_text(yaml.safe_dump(incident), encoding="utf-8")
    offset = shift.total_seconds()
    with (
        (source / "metrics.om").open(encoding="utf-8") as handle,
        (target / "metrics.om").open("w", encoding="utf-8") as out,
    ):
        for line in handle:
            if line.startswith("#"):
                out.write(line)
                continue
            head, _, stamp = line.rstrip("\n").rpartition(" ")
            out.write(f"{_rewrite_words(head, words, prefixes)} {float(stamp) + offset:.3f}\n")
    with (
        (source / "logs.jsonl").open(encoding="utf-8") as handle,
        (target / "logs.jsonl").open("w", encoding="utf-8") as out,
    ):
        for raw in handle:
            entry = json.loads(raw)
            entry["ts"] = moved(entry["ts"])
            entry["labels"] = {
                k: _rewrite_words(v, words, prefixes) for k, v in entry["labels"].items()
            }
            entry["line"] = _to_logfmt(_rewrite_words(entry["line"], words, prefixes))
            out.write(json.dumps(entry) + "\n")


HELD_OUT: dict[str, dict[str, Any]] = {
    "bad-pod": {
        "words": {
            "checkout": "payflow",
            "shop": "retail",
            "orders-db": "ledger-db",
            "orders-mysql": "ledger-sql",
            "cart-redis": "basket-kv",
        },
        "prefixes": {"10.244.": "10.91."},
        "shift": -timedelta(days=203, hours=7, minutes=41, seconds=29),
        "root": "payflow",
        "affected": ["10.91.2.17:8080"],
        "actions": [("drain-pod", "10.91.2.17:8080")],
    },
    "cache-outage": {
        "words": {"session-cache": "token-store", "catalog": "listing", "edge": "front"},
        "prefixes": {"10.20.": "172.18."},
        "shift": timedelta(days=77, hours=9, minutes=3, seconds=51),
        "root": "token-store",
        "affected": [],
        "actions": [],
    },
}


@pytest.mark.parametrize("name", sorted(HELD_OUT))
def test_rewritten_scenario_gives_the_same_structural_diagnosis(name: str, bundles: Path) -> None:
    variant = HELD_OUT[name]
    source = _generate(name, bundles)
    target = bundles / f"{name}-rewritten"
    rewrite_bundle(
        source, target, words=variant["words"], prefixes=variant["prefixes"], shift=variant["shift"]
    )
    logs = (target / "logs.jsonl").read_text(encoding="utf-8")
    for old in variant["words"]:  # the names really changed
        assert not re.search(rf"(?<![\w.]){re.escape(old)}(?![\w])", logs), old
    assert '\\"level\\"' not in logs  # application lines are logfmt now
    result = diagnose_bundle(target).to_json()
    assert result["rootCause"]["component"] == variant["root"], result["rootCause"]
    assert sorted(a["instance"] for a in result["affected"]) == variant["affected"]
    assert result["clients"] == []
    assert sorted((r["action"], r["target"]) for r in result["remediations"]) == variant["actions"]
