"""The live loop's timings (a measurement, not a test): ``bench/live_heal.py``.

Runs the live-heal e2e (``tests/e2e/test_live_heal.py``: the lab, the test
apiserver, the operator under its chart's ServiceAccount) with
``DIAG_LIVE_TIMINGS`` set, so that each scenario writes, in seconds:

* ``alert_to_diagnosis``: a lab alert first seen firing in Prometheus -> the
  webhook's Diagnosis created (its ``creationTimestamp``);
* ``diagnosis_to_first_action``: -> the first action applied (the executor's
  ``appliedAt``);
* ``first_action_to_verified``: -> the last applied action's verification (the
  verifier's ``at``), which waits for the policy's ``verification.after`` and for
  the PromQL sustain period (rate window + ``sustain``) by design.

The results go to a new file (``--out``, e.g. ``bench/results/live-heal-timings-2.json``;
an existing one is never overwritten) with the machine's description, and a table is
printed.  ``-k`` selects scenarios as pytest does.  The test's own pass/fail is
reported, never used as a threshold.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEST = "tests/e2e/test_live_heal.py"
COLUMNS = ("alert_to_diagnosis", "diagnosis_to_first_action", "first_action_to_verified")


def table(results: dict[str, Any]) -> str:
    head = f"{'scenario':<14} {'alert->Diagnosis':>17} {'Diagnosis->action':>18} "
    head += f"{'action->verified':>17}  root cause, actions"
    lines = [head]
    for name, row in results.items():
        cells = [row.get(c) for c in COLUMNS]
        shown = [f"{c:.1f} s" if isinstance(c, int | float) else "-" for c in cells]
        found = [
            f"{d.get('rootCause')}: "
            + (", ".join(f"{a[0]} {a[2]}" for a in d.get("actions") or []) or "no action")
            for d in row.get("diagnoses") or []
        ]
        lines.append(
            f"{name:<14} {shown[0]:>17} {shown[1]:>18} {shown[2]:>17}  "
            + ("; ".join(found) or "no Diagnosis")
        )
    return "\n".join(lines)


def run(select: str | None) -> tuple[int, dict[str, Any]]:
    """Run the e2e; its exit code and the timings it wrote."""
    with tempfile.TemporaryDirectory() as tmp:
        timings = Path(tmp) / "timings.json"
        env = {
            **os.environ,
            "DIAG_LIVE_TIMINGS": str(timings),
            "PYTHONPATH": f"{ROOT / 'operator'}:{ROOT}",
        }
        command = [sys.executable, "-m", "pytest", TEST, "-q", "-rA", "-p", "no:cacheprovider"]
        if select:
            command += ["-k", select]
        done = subprocess.run(command, cwd=ROOT, env=env, check=False)
        found = json.loads(timings.read_text(encoding="utf-8")) if timings.exists() else {}
    return done.returncode, found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        required=True,
        help="a new file (bench/results/live-heal-timings-N.json); results are never overwritten",
    )
    parser.add_argument("-k", dest="select", help="pytest -k expression (scenarios)")
    parser.add_argument(
        "--from",
        dest="given",
        type=Path,
        help="a DIAG_LIVE_TIMINGS file a run of the e2e wrote (no new run)",
    )
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"{args.out} exists: results are kept, name a new file")
    code: int | None = None
    if args.given is not None:
        results = json.loads(args.given.read_text(encoding="utf-8"))
    else:
        code, results = run(args.select)
    report = {
        "measured": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "testExitCode": code,
        "scenarios": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(table(results))
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
