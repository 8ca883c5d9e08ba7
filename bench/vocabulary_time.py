"""Benchmark (not a test): CPU seconds of the engine's catalogue vocabulary searches.

Runs one offline ``diagnose`` per bundle and tree in a child process, with the three
functions that search the failure-mode catalogue's log and caller signatures line by
line (``blame.line_names``, ``reported._category``, ``modes._line_score``) wrapped to
add up the CPU seconds spent in them (``time.process_time``; the wrapper's own cost
is inside the figure), and the child's whole in-process CPU seconds beside them (the
forked metrics parser not included). Trees take turns run by run.

    git archive BASE operator | tar -x -C /tmp/base
    .venv/bin/python bench/vocabulary_time.py --bundles DIR/reference DIR/client-flood \\
        --tree before=/tmp/base/operator --tree after=operator --out results/x.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_CHILD = """
import contextlib, io, json, sys, time
from diagnosis_operator.core.diagnosis import blame, modes, reported
spent = {}
def wrap(module, name):
    inner = getattr(module, name)
    def timed(*args, **kwargs):
        started = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent[name] = spent.get(name, 0.0) + time.process_time() - started
    setattr(module, name, timed)
wrap(blame, "line_names"); wrap(reported, "_category"); wrap(modes, "_line_score")
started = time.process_time()
from diagnosis_operator.entrypoints.cli.main import main
with contextlib.redirect_stdout(io.StringIO()):
    main(["diagnose", "--bundle", sys.argv[1], "--format", "json", "--quiet"])
print(json.dumps({"cpuSeconds": time.process_time() - started, "searchSeconds": spent}))
"""


def run_once(bundle: Path, tree: Path) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    load = os.getloadavg()[0]
    child = subprocess.run(
        [sys.executable, "-c", _CHILD, str(bundle)],
        env=env,
        capture_output=True,
        check=True,
        timeout=600,
    )
    result: dict[str, Any] = json.loads(child.stdout)
    result["load1"] = round(load, 2)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bundles", nargs="+", type=Path, required=True)
    parser.add_argument("--tree", action="append", required=True, help="LABEL=operator/ tree")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.out.exists():
        parser.error(f"--out {args.out} exists; results are never overwritten")
    trees = dict(item.split("=", 1) for item in args.tree)
    report: dict[str, Any] = {
        "when": datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ"),
        "trees": trees,
        "repeat": args.repeat,
        "bundles": {},
    }
    for bundle in args.bundles:
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        for _ in range(args.repeat):
            for label, tree in trees.items():
                runs[label].append(run_once(bundle, Path(tree).resolve()))
        entry: dict[str, Any] = {}
        for label, done in runs.items():
            searched = [sum(run["searchSeconds"].values()) for run in done]
            entry[label] = {
                "medianCpuSeconds": round(statistics.median(r["cpuSeconds"] for r in done), 3),
                "medianSearchSeconds": round(statistics.median(searched), 3),
                "runs": done,
            }
            print(
                f"{bundle.name:28} {label:6} cpu {entry[label]['medianCpuSeconds']:.3f}s"
                f" searching {entry[label]['medianSearchSeconds']:.3f}s",
                file=sys.stderr,
            )
        report["bundles"][bundle.name] = entry
        args.out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
