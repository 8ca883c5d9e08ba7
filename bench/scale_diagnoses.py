"""Benchmark (not a test): how many Diagnoses an hour one operator replica sustains.

Runs ``tests/e2e/test_scale.py::test_fifty_concurrent_diagnoses_all_end_once_with_their_own_status``
(the real apiserver, the operator under the chart's ServiceAccount, a real
Prometheus holding the reference incident, the Loki-API test server) with the
whole incident hour as every Diagnosis's window (``SCALE_WINDOW``), and turns
what the test measured into Diagnoses per hour: 50 created at once, from the
first created to the last ended.  The machine's load is recorded beside it:
the development machine is shared, so the figure is a floor, not a promise.

    .venv/bin/python bench/scale_diagnoses.py [--window 3600] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
TEST = "tests/e2e/test_scale.py::test_fifty_concurrent_diagnoses_all_end_once_with_their_own_status"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--window", type=float, default=3600.0, help="seconds per Diagnosis")
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument(
        "--wait", type=float, default=3000.0, help="seconds the fifty may take (shared machine)"
    )
    args = parser.parse_args(argv)
    when = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"scale-diagnoses-{when}.json"
    with tempfile.TemporaryDirectory() as scratch:
        figures_path = Path(scratch) / "figures.json"
        env = {
            **os.environ,
            "SCALE_RESULT": str(figures_path),
            "SCALE_WINDOW": str(args.window),
            "SCALE_WAIT": str(args.wait),
            "PYTHONPATH": f"{ROOT / 'operator'}{os.pathsep}{ROOT}",
        }
        load_before = os.getloadavg()[0]
        started = time.monotonic()
        run = subprocess.run(
            [
                *(sys.executable, "-m", "pytest", TEST, "-q", "-x", "-p", "no:cacheprovider"),
                f"--timeout={args.wait + 600:.0f}",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        log = out.with_suffix(".log")
        log.write_text(run.stdout + run.stderr, encoding="utf-8")
        if not figures_path.exists():
            sys.stderr.write(f"the test measured nothing; its output is in {log}\n")
            return 1
        figures = json.loads(figures_path.read_text(encoding="utf-8"))
        figures["testPassed"] = run.returncode == 0
    elapsed = float(figures["elapsedSeconds"])
    result = {
        "when": when,
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load1Before": round(load_before, 2),
            "load1After": round(os.getloadavg()[0], 2),
        },
        "testSeconds": round(time.monotonic() - started, 1),
        "diagnosesPerHour": round(figures["count"] / elapsed * 3600) if elapsed > 0 else None,
        **figures,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
