"""First-sight accuracy of a red-team round: its scenarios through ``diagnose``, scored once.

    python bench/firstsight.py examples.incidents.holdout3 --round 3
    python bench/firstsight.py --bundles examples/incidents/lab --label lab-1

The second form scores recorded bundles instead of a generated suite: every folder
of DIR holding ``incident.yaml`` and ``expected.yaml`` (its ``metrics.om`` and
``logs.jsonl`` plain or gzipped), written to ``firstsight-LABEL.json``.

Each scenario of the suite is generated, diagnosed through the CLI exactly as a user
runs it (``diagnose --bundle DIR --format json``) and compared with its expected
diagnosis.  The result goes to ``bench/results/firstsight-round-N.json`` and is never
overwritten: the first score of a round is the honest one (issue: "the first score
recorded and never overwritten").  Run it before any engine change made for the round.

Scores (and ``brierRootConfidence``, the calibration of the root cause's confidence):
* root: the root-cause component is the expected one;
* whole: root, affected instances, clients and remediations all as expected, and no
  forbidden action proposed;
* failureMode: the expected mode's words appear in the root cause's summary (reported,
  not part of "whole": the engine names modes only since the catalogue).
"""

from __future__ import annotations

import argparse
import gzip
import importlib
import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _names(items: Any, *keys: str) -> list[str]:
    found = []
    for item in items or []:
        if isinstance(item, dict):
            found.append(next(str(item[k]) for k in keys if k in item))
        else:
            found.append(str(item))
    return sorted(found)


def score(expected: dict[str, Any], got: dict[str, Any]) -> dict[str, Any]:
    """Compare one diagnosis JSON with its expectation; a list of problems per part."""
    problems: dict[str, str] = {}
    root = expected["rootCause"]
    want_root = root["component"] if isinstance(root, dict) else root
    if got["rootCause"]["component"] != want_root:
        problems["root"] = f"want {want_root}, got {got['rootCause']['component']}"
    if "affected" in expected:
        want, have = _names(expected["affected"], "instance"), _names(got["affected"], "instance")
        if want != have:
            problems["affected"] = f"want {want}, got {have}"
    if "clients" in expected:
        want = _names(expected["clients"], "ip", "network")
        have = _names(got["clients"], "ip", "network")
        if want != have:
            problems["clients"] = f"want {want}, got {have}"
    proposed = sorted((r["action"], str(r["target"])) for r in got["remediations"])
    if "remediations" in expected:
        want_r = sorted((r["action"], str(r.get("target"))) for r in expected["remediations"] or [])
        if want_r != proposed:
            problems["remediations"] = f"want {want_r}, got {proposed}"
    forbidden = set(expected.get("forbidden") or [])
    if any(action in forbidden for action, _ in proposed):
        problems["forbidden"] = f"proposed {proposed}, forbidden {sorted(forbidden)}"
    mode = str(expected.get("failureMode") or "")
    summary = str(got["rootCause"].get("summary", "")).lower()
    mode_named = bool(mode) and all(word in summary for word in mode.lower().split()[:2])
    return {
        "root": "root" not in problems,
        "whole": not problems,
        "failureMode": mode_named if mode else None,
        "problems": problems,
        "summary": got["rootCause"].get("summary", ""),
        "confidence": got["rootCause"].get("confidence"),
    }


def brier(rows: list[dict[str, Any]]) -> float | None:
    """The Brier score of the root cause's confidence: mean of (confidence - right)^2.

    0 is a perfectly calibrated and sharp engine, 0.25 one that always says 50 %;
    an engine sure of every answer (confidence 1) scores its error rate.
    """
    pairs = [(r["confidence"], 1.0 if r["root"] else 0.0) for r in rows if r.get("confidence")]
    if not pairs:
        return None
    return round(float(sum((c - right) ** 2 for c, right in pairs)) / len(pairs), 4)


def suite_cases(suite: str, folder: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, bundle folder, expectation) of every scenario of a generated suite."""
    module = importlib.import_module(suite)
    cases = []
    for name in module.SCENARIOS:
        bundle = Path(module.generate(name, folder))
        expected = yaml.safe_load(module.expected_path(name).read_text(encoding="utf-8"))
        cases.append((str(name), bundle, expected))
    return cases


def recorded_cases(root: Path, folder: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """(name, bundle folder, expectation) of every recorded bundle under ``root``."""
    cases = []
    for recorded in sorted(p for p in root.iterdir() if (p / "expected.yaml").is_file()):
        bundle = folder / recorded.name
        bundle.mkdir(parents=True)
        for file in ("incident.yaml", "metrics.om", "logs.jsonl"):
            if (recorded / file).is_file():
                shutil.copy(recorded / file, bundle / file)
            elif (recorded / f"{file}.gz").is_file():
                with gzip.open(recorded / f"{file}.gz", "rb") as packed:
                    (bundle / file).write_bytes(packed.read())
        expected = yaml.safe_load((recorded / "expected.yaml").read_text(encoding="utf-8"))
        cases.append((recorded.name, bundle, expected))
    return cases


def run(cases: list[tuple[str, Path, dict[str, Any]]]) -> list[dict[str, Any]]:
    rows = []
    for name, bundle, expected in cases:
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "diagnosis_operator",
                "diagnose",
                "--bundle",
                str(bundle),
                "--format",
                "json",
                "--quiet",
            ],
            capture_output=True,
            text=True,
            check=False,
            cwd=ROOT,
        )
        seconds = round(time.perf_counter() - started, 2)
        if done.returncode != 0:
            rows.append(
                {
                    "scenario": name,
                    "root": False,
                    "whole": False,
                    "seconds": seconds,
                    "problems": {"diagnose": done.stderr[-2000:]},
                }
            )
            continue
        rows.append(
            {"scenario": name, "seconds": seconds, **score(expected, json.loads(done.stdout))}
        )
        print(
            f"{name}: root {'ok' if rows[-1]['root'] else 'WRONG'}, "
            f"whole {'ok' if rows[-1]['whole'] else 'wrong'}",
            file=sys.stderr,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suite", nargs="?", help="a scenario package, e.g. examples.incidents.holdout3"
    )
    parser.add_argument("--round", help="the red-team round of the suite, e.g. 3")
    parser.add_argument("--bundles", type=Path, help="score recorded bundles in this folder")
    parser.add_argument("--label", help="the result's name with --bundles, e.g. lab-1")
    args = parser.parse_args(argv)
    if args.bundles is not None:
        if args.suite or not args.label:
            parser.error("--bundles takes --label LABEL and no suite")
        label = args.label
    else:
        if not args.suite or not args.round:
            parser.error("a suite needs --round N (or score recorded --bundles DIR --label L)")
        label = f"round-{args.round}"
    out = RESULTS / f"firstsight-{label}.json"
    if out.exists():
        print(
            f"{out} exists: a first-sight score is recorded once, never overwritten",
            file=sys.stderr,
        )
        return 2
    sys.path.insert(0, str(ROOT))
    commit = subprocess.run(
        ["git", "rev-parse", "HEAD"], capture_output=True, text=True, cwd=ROOT, check=False
    ).stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        if args.bundles is not None:
            rows = run(recorded_cases(args.bundles, Path(tmp)))
        else:
            rows = run(suite_cases(args.suite, Path(tmp)))
    total = len(rows)
    modes = [r for r in rows if r.get("failureMode") is not None]
    summary = {
        "scenarios": total,
        "rootRight": sum(r["root"] for r in rows),
        "wholeRight": sum(r["whole"] for r in rows),
        "failureModeNamed": sum(bool(r["failureMode"]) for r in modes),
        "failureModeExpected": len(modes),
        "brierRootConfidence": brier(rows),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "round": args.round or label,
                "suite": args.suite or str(args.bundles),
                "engineCommit": commit,
                "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                "machine": {"python": platform.python_version(), "platform": platform.platform()},
                "summary": summary,
                "scenarios": rows,
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
