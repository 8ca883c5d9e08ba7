"""Benchmark (not a test): offline diagnosis against the cost of only reading the bundle.

For every one-hour scenario bundle (``examples/incidents`` ``generate.py`` all,
``holdout``, ``holdout2``, ``holdout3``) and for the large bundle
(``examples/incidents/large.py``), this measures, each as a child process:

- **read**: only parsing ``metrics.om`` and ``logs.jsonl`` with the bundle
  adapters (``parse_openmetrics``, ``parse_log_entries``), one after the other;
  the child reports the in-process seconds of each parse, and the runner the
  child's wall time and peak RSS;
- **diagnose**: the whole ``python -m diagnosis_operator diagnose --bundle B
  --format json --quiet`` process: wall time and peak RSS.

Once per run and tree, **imports**: a child that only imports what an offline
``diagnose`` imports (the CLI's ``diagnose`` parser, the bundle adapters, the
engine) and exits: the start-up floor every bundle pays.

Peak RSS is the child's own ``ru_maxrss`` (``os.wait4``); with a forked helper
process (the large bundle's metrics parse) the figure is the larger of the
two, as ``ru_maxrss`` of a child does not include its own children: the runner
adds ``RUSAGE_CHILDREN`` of the child through ``/usr/bin/time`` when present.
The one-minute load average is recorded with each figure: the development
machine is shared.

``--baseline SRC`` names another ``operator/`` source tree (e.g. the commit
before a change, extracted with ``git archive``): every figure is then taken
for both trees, interleaved, in the same run ("before" and "after" side by
side).  Results go to ``--out`` (default: a new time-stamped file in
``bench/results/``; an existing file is never overwritten).

    .venv/bin/python bench/offline_speed.py                      # this tree only
    git archive BASE operator | tar -x -C /tmp/base
    .venv/bin/python bench/offline_speed.py --baseline /tmp/base/operator
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SUITES = (
    "examples.incidents.generate",
    "examples.incidents.holdout",
    "examples.incidents.holdout2",
    "examples.incidents.holdout3",
)
LARGE = "large"
TIME = "/usr/bin/time"

_READ_CHILD = """
import json, sys, time
started = time.perf_counter()
from diagnosis_operator.adapters.bundle.openmetrics import parse_openmetrics
from diagnosis_operator.adapters.bundle.logs_jsonl import parse_log_entries
imported = time.perf_counter()
folder = sys.argv[1]
series, _ = parse_openmetrics(folder + "/metrics.om")
metrics_done = time.perf_counter()
streams, _ = parse_log_entries(folder + "/logs.jsonl")
logs_done = time.perf_counter()
print(json.dumps({
    "importSeconds": round(imported - started, 3),
    "metricsSeconds": round(metrics_done - imported, 3),
    "logsSeconds": round(logs_done - metrics_done, 3),
    "series": len(series),
    "streams": len(streams),
}))
"""

_IMPORT_CHILD = """
import json, time
started = time.perf_counter()
from diagnosis_operator.entrypoints.cli.main import build_parser
build_parser("diagnose")
import diagnosis_operator.entrypoints.bootstrap.offline
import diagnosis_operator.service.diagnose
print(json.dumps({"importSeconds": round(time.perf_counter() - started, 3)}))
"""


def write_bundles(
    work: Path, *, large: tuple[int, int, int] | None, reuse: bool = False
) -> dict[str, Path]:
    """Every scenario bundle of the suites (and the large one) under ``work``.

    With ``reuse``, a bundle folder already in ``work`` is taken as it is.
    """
    sys.path.insert(0, str(ROOT))
    folders: dict[str, Path] = {}
    for module_name in SUITES:
        module = importlib.import_module(module_name)
        for name in module.SCENARIOS:
            if name == LARGE or name in folders:
                continue
            if reuse and (work / name / "incident.yaml").is_file():
                folders[name] = work / name
            else:
                folders[name] = Path(module.generate(name, work))
    if large is not None and reuse and (work / LARGE / "incident.yaml").is_file():
        folders[LARGE] = work / LARGE
    elif large is not None:
        large_module = importlib.import_module("examples.incidents.large")
        series, points, lines = large
        folders[LARGE] = large_module.write(work / LARGE, series=series, points=points, lines=lines)
    return folders


def _run_child(command: list[str], source: Path, timeout: float) -> dict[str, Any]:
    """Wall seconds, peak RSS (MiB, child and its own children) and stdout of a child."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(source), str(ROOT)])}
    with tempfile.TemporaryDirectory(prefix="offline-speed-") as scratch:
        time_file = Path(scratch) / "time.txt"
        timed = (
            [TIME, "-f", "%M %U %S", "-o", str(time_file), *command]
            if Path(TIME).exists()
            else command
        )
        load = os.getloadavg()[0]
        started = time.perf_counter()
        child = subprocess.run(timed, env=env, capture_output=True, timeout=timeout, check=False)
        wall = time.perf_counter() - started
        # /usr/bin/time: peak RSS (KiB) and user + system CPU seconds of the child
        # and of the children it waited for (a forked parser).
        measured = time_file.read_text().split()[-3:] if time_file.exists() else ["0", "0", "0"]
    peak_kib, user, system = int(measured[0]), float(measured[1]), float(measured[2])
    result: dict[str, Any] = {
        "wallSeconds": round(wall, 3),
        "cpuSeconds": round(user + system, 2),
        "peakMiB": round(peak_kib / 1024, 1),
        "load1": round(load, 2),
        "exit": child.returncode,
    }
    if child.returncode != 0:
        result["error"] = child.stderr.decode(errors="replace").strip().splitlines()[-1:]
    result["stdout"] = child.stdout
    return result


def measure_read(folder: Path, source: Path, timeout: float) -> dict[str, Any]:
    run = _run_child([sys.executable, "-c", _READ_CHILD, str(folder)], source, timeout)
    stdout = run.pop("stdout")
    if run["exit"] == 0:
        run.update(json.loads(stdout))
    return run


def measure_imports(source: Path, timeout: float) -> dict[str, Any]:
    run = _run_child([sys.executable, "-c", _IMPORT_CHILD], source, timeout)
    stdout = run.pop("stdout")
    if run["exit"] == 0:
        run.update(json.loads(stdout))
    return run


def measure_diagnose(folder: Path, source: Path, timeout: float) -> dict[str, Any]:
    command = [sys.executable, "-m", "diagnosis_operator", "diagnose", "--bundle", str(folder)]
    run = _run_child([*command, "--format", "json", "--quiet"], source, timeout)
    stdout = run.pop("stdout")
    if run["exit"] == 0:
        run["rootCause"] = (json.loads(stdout).get("rootCause") or {}).get("component")
    return run


def _best(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The fastest of repeated runs (the least disturbed by the shared machine).

    With repeats, also every run's wall and CPU seconds and their medians.
    """
    ok = [run for run in runs if run["exit"] == 0] or runs
    best = dict(min(ok, key=lambda run: run["wallSeconds"]))
    if len(runs) > 1:
        best["allWallSeconds"] = [run["wallSeconds"] for run in runs]
        best["allCpuSeconds"] = [run["cpuSeconds"] for run in runs]
        best["medianWallSeconds"] = round(statistics.median(best["allWallSeconds"]), 3)
        best["medianCpuSeconds"] = round(statistics.median(best["allCpuSeconds"]), 2)
        best["allPeakMiB"] = [run["peakMiB"] for run in runs]
    return best


def measure(
    folders: dict[str, Path],
    trees: dict[str, Path],
    repeat: int,
    timeout: float,
    *,
    table: dict[str, Any],
    floor: dict[str, Any],
    save: Callable[[], None],
) -> None:
    """Fill ``table`` bundle by bundle, saving after each (a stopped run keeps its figures).

    ``floor``: the start-up floor (imports) per tree, ``repeat`` times, interleaved.
    """
    imports: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
    for _ in range(repeat):
        for label, source in trees.items():
            imports[label].append(measure_imports(source, timeout))
    floor.update({label: _best(runs) for label, runs in imports.items()})
    for label in trees:
        cpu = _median(floor[label], "Cpu")
        print(f"{'imports':28} {label:6} cpu {cpu:5.2f}s", file=sys.stderr)
    save()
    for name, folder in folders.items():
        entry: dict[str, Any] = {"bytes": sum(p.stat().st_size for p in folder.iterdir())}
        reads: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        runs: dict[str, list[dict[str, Any]]] = {label: [] for label in trees}
        for _ in range(repeat):  # the trees interleaved: each sees the same load
            for label, source in trees.items():
                reads[label].append(measure_read(folder, source, timeout))
                runs[label].append(measure_diagnose(folder, source, timeout))
        for label in trees:
            entry[label] = {"read": _best(reads[label]), "diagnose": _best(runs[label])}
            read, whole = entry[label]["read"], entry[label]["diagnose"]
            print(
                f"{name:28} {label:6} read {read['wallSeconds']:6.2f}s"
                f" cpu {read['cpuSeconds']:5.2f}s {read['peakMiB']:5.0f}MiB"
                f"  diagnose {whole['wallSeconds']:6.2f}s"
                f" cpu {whole['cpuSeconds']:5.2f}s {whole['peakMiB']:5.0f}MiB"
                f"  load {whole['load1']:.1f}",
                file=sys.stderr,
            )
        table[name] = entry
        save()


def _median(figures: dict[str, Any], kind: str) -> float:
    """The median ``Wall`` or ``Cpu`` seconds of repeated runs, else the one run's."""
    one = figures.get(f"{kind.lower()}Seconds", 0.0)
    return float(figures.get(f"median{kind}Seconds", one))


def table(report: dict[str, Any]) -> str:
    """A Markdown table of a results file: read and diagnose, each tree side by side."""
    labels = list(report["trees"])
    head = ["bundle", "MB"]
    for label in labels:
        head += [f"{label} read s (cpu)", f"{label} diagnose s (cpu)", f"{label} MiB", "load"]
    # With repeats, the medians of wall and CPU seconds (else the one run's figures).
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    if report.get("imports"):  # the start-up floor: imports only, in the diagnose column
        cells = ["(imports only)", "-"]
        for label in labels:
            floor = report["imports"][label]
            cpu = f"{_median(floor, 'Wall'):.2f} ({_median(floor, 'Cpu'):.2f})"
            cells += ["-", cpu, f"{floor['peakMiB']:.0f}", f"{floor['load1']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    for name, entry in report["bundles"].items():
        cells = [name, f"{entry['bytes'] / 1e6:.0f}"]
        for label in labels:
            read, whole = entry[label]["read"], entry[label]["diagnose"]
            cells += [
                f"{_median(read, 'Wall'):.2f} ({_median(read, 'Cpu'):.2f})",
                f"{_median(whole, 'Wall'):.2f} ({_median(whole, 'Cpu'):.2f})",
                f"{whole['peakMiB']:.0f}",
                f"{whole['load1']:.1f}",
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="where bundles are written (default: tmp)")
    parser.add_argument("--out", type=Path, help="default: bench/results/offline-speed-STAMP.json")
    parser.add_argument("--baseline", type=Path, help="an operator/ source tree to compare with")
    parser.add_argument("--no-large", action="store_true")
    parser.add_argument("--large-series", type=int, default=10_000)
    parser.add_argument("--large-points", type=int, default=240)
    parser.add_argument("--large-lines", type=int, default=1_000_000)
    parser.add_argument("--only", nargs="*", help="measure only these bundles")
    parser.add_argument("--reuse", action="store_true", help="keep bundles already in --work")
    parser.add_argument("--large-first", action="store_true", help="measure the large one first")
    parser.add_argument("--label", default="after", help="the name of this tree's figures")
    parser.add_argument(
        "--tree", type=Path, default=ROOT / "operator", help="the operator/ tree to measure"
    )
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--table", type=Path, help="print a results file as a table, run nothing")
    args = parser.parse_args(argv)
    if args.table:
        sys.stdout.write(table(json.loads(args.table.read_text(encoding="utf-8"))))
        return 0

    stamp = datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ")
    out = args.out or HERE / "results" / f"offline-speed-{stamp}.json"
    if out.exists():
        parser.error(f"--out {out} exists; results are never overwritten")
    work = args.work or Path(tempfile.mkdtemp(prefix="offline-speed-bundles-"))
    large = None if args.no_large else (args.large_series, args.large_points, args.large_lines)
    try:
        folders = write_bundles(work, large=large, reuse=args.reuse)
        if args.only:
            folders = {name: path for name, path in folders.items() if name in args.only}
        if args.large_first and LARGE in folders:
            folders = {LARGE: folders[LARGE], **folders}
        trees = {args.label: args.tree.resolve()}
        if args.baseline:
            trees = {"before": args.baseline.resolve(), **trees}
        bundles: dict[str, Any] = {}
        startup: dict[str, Any] = {}
        report = {
            "when": stamp,
            "machine": {
                "platform": platform.platform(),
                "python": platform.python_version(),
                "cpus": os.cpu_count(),
            },
            "trees": {label: str(path) for label, path in trees.items()},
            "repeat": args.repeat,
            "complete": False,
            "imports": startup,
            "bundles": bundles,
        }
        out.parent.mkdir(parents=True, exist_ok=True)

        def save() -> None:
            out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")

        measure(folders, trees, args.repeat, args.timeout, table=bundles, floor=startup, save=save)
        report["complete"] = True
        save()
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
