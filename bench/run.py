"""Benchmarks (not tests): ``make bench`` or ``.venv/bin/python bench/run.py``.

For every scenario bundle of ``examples/incidents/generate.py`` and for the
large bundle, this runs ``diagnosis-operator diagnose --bundle B --format json``
as a child process and records its wall time and peak RSS (the child's own
rusage from ``os.wait4``, the per-child form of ``getrusage(RUSAGE_CHILDREN)``),
and, on the same metrics with the true onset from the expected diagnosis, runs
RCAEval's BARO.  Root-cause accuracy of both is computed over the scenarios that
have an expected diagnosis.  Results go to ``bench/results/latest.json`` and a
table is printed; see ``bench/README.md``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))

from baro_baseline import BaroOutcome, baro_unavailable_reason, run_baro  # noqa: E402

DEFAULT_SCENARIOS = ("reference", "cache-outage", "bad-pod", "client-flood", "quiet")
LARGE = "large"
ONSET_KEYS = ("onset", "faultStart", "fault_start", "injectTime", "inject_time", "incidentStart")


@dataclass
class EngineRun:
    ok: bool
    exit_code: int
    wall_seconds: float
    peak_rss_mib: float
    root_cause: str | None = None
    ranked: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Expected:
    root_cause: str | None
    onset: float | None
    source: str


# --------------------------------------------------------------------------- bundles


# The scenario suites: the examples, and the two red-team sets the engine was never
# tuned on before they were written (accuracy over them is the honest figure).
SUITES = (
    "examples.incidents.generate",
    "examples.incidents.holdout",
    "examples.incidents.holdout2",
)


def _suite_of(name: str) -> Any | None:
    for module_name in SUITES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        if name in getattr(module, "SCENARIOS", ()):
            return module
    return None


def scenario_names() -> tuple[list[str], str]:
    names: list[str] = []
    sources: list[str] = []
    for module_name in SUITES:
        try:
            module = importlib.import_module(module_name)
        except ImportError as error:
            sources.append(f"{module_name} not importable ({error})")
            continue
        names += [n for n in module.SCENARIOS if n not in names]
        sources.append(module_name)
    if not names:
        return list(DEFAULT_SCENARIOS), "; ".join(sources)
    return names, ", ".join(sources)


def write_bundle(name: str, out_dir: Path, *, large_size: tuple[int, int, int]) -> tuple[Path, str]:
    """The bundle folder, written by the examples' generator."""
    from examples.incidents import generate as generator

    if name == LARGE:
        extra = getattr(generator, "EXTRA", {})
        if LARGE not in extra:
            raise RuntimeError("examples/incidents/generate.py has no 'large' scenario")
        series, points, lines = large_size
        module = importlib.import_module(extra[LARGE])
        folder = out_dir / LARGE
        module.write(folder, series=series, points=points, lines=lines)
        return folder, extra[LARGE]
    suite = _suite_of(name) or generator
    return Path(suite.generate(name, out_dir)), suite.__name__


def bundle_size(folder: Path) -> dict[str, int]:
    series: set[str] = set()
    samples = 0
    with (folder / "metrics.om").open(encoding="utf-8") as metrics:
        for line in metrics:
            if line.startswith("#") or not line.strip():
                continue
            samples += 1
            series.add(line.rsplit(" ", 2)[0] if line.count(" ") >= 2 else line)
    with (folder / "logs.jsonl").open("rb") as logs:
        log_lines = sum(1 for _ in logs)
    size = sum(path.stat().st_size for path in folder.iterdir() if path.is_file())
    return {"series": len(series), "samples": samples, "logLines": log_lines, "bytes": size}


def _seconds(value: object) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
        return moment.timestamp()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


def read_expected(name: str, folder: Path) -> Expected | None:
    candidates: list[Path] = []
    suite = _suite_of(name)
    if suite is not None and hasattr(suite, "expected_path"):
        candidates.append(Path(suite.expected_path(name)))
    candidates += [folder / "expected.yaml", folder / "expected-diagnosis.yaml"]
    for path in candidates:
        if not path.is_file():
            continue
        doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(doc, dict):
            continue
        cause = doc.get("rootCause", doc.get("root_cause", doc.get("component")))
        root = cause.get("component") if isinstance(cause, dict) else cause
        onset = None
        for scope in (doc, cause if isinstance(cause, dict) else {}):
            for key in ONSET_KEYS:
                if onset is None and key in scope:
                    onset = _seconds(scope[key])
        onsets = doc.get("onsets")
        if onset is None and isinstance(onsets, dict) and onsets:
            # the root's own first anomaly is the fault's start; else the earliest one
            own = _seconds(onsets.get(root)) if isinstance(root, str) else None
            stamps = [_seconds(value) for value in onsets.values()]
            onset = (
                own if own is not None else min((s for s in stamps if s is not None), default=None)
            )
        if onset is None and isinstance(doc.get("timeline"), list):
            stamps = [_seconds(e.get("ts")) for e in doc["timeline"] if isinstance(e, dict)]
            onset = min((s for s in stamps if s is not None), default=None)
        return Expected(
            str(root) if root is not None else None,
            onset,
            str(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path),
        )
    return None


def selectors_of(folder: Path) -> list[tuple[str, dict[str, str]]]:
    doc = yaml.safe_load((folder / "incident.yaml").read_text(encoding="utf-8"))
    components = doc.get("topology", {}).get("components", [])
    return [
        (str(c["name"]), {str(k): str(v) for k, v in (c.get("selector") or {}).items()})
        for c in components
    ]


# --------------------------------------------------------------------------- the engine


def run_engine(folder: Path, *, timeout: float) -> EngineRun:
    command = [
        sys.executable,
        "-m",
        "diagnosis_operator",
        "diagnose",
        "--bundle",
        str(folder),
        "--format",
        "json",
    ]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT / "operator"), os.environ.get("PYTHONPATH", "")]),
    }
    out_path = folder.parent / f".{folder.name}.diagnosis.json"
    err_path = folder.parent / f".{folder.name}.diagnosis.err"
    with out_path.open("wb") as out, err_path.open("wb") as err:
        started = time.perf_counter()
        child = subprocess.Popen(command, stdout=out, stderr=err, env=env)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() > deadline:
                child.kill()
                pid, status, usage = os.wait4(child.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    code = child.returncode
    peak_mib = usage.ru_maxrss / 1024  # Linux reports KiB
    stderr = err_path.read_text(encoding="utf-8", errors="replace").strip()
    if wall > timeout:
        return EngineRun(False, code, wall, peak_mib, error=f"killed after {timeout:.0f} s")
    if code != 0:
        return EngineRun(
            False, code, wall, peak_mib, error=stderr.splitlines()[-1] if stderr else f"exit {code}"
        )
    try:
        result = json.loads(out_path.read_text(encoding="utf-8"))
        root = result["rootCause"]["component"]
        ranked = [root] + [
            c["component"] for c in result.get("candidates", []) if c.get("component") != root
        ]
    except (ValueError, KeyError, TypeError) as error:
        return EngineRun(False, code, wall, peak_mib, error=f"output is not a diagnosis: {error}")
    return EngineRun(
        True, code, wall, peak_mib, root_cause=str(root), ranked=[str(r) for r in ranked]
    )


# --------------------------------------------------------------------------- accuracy and output


def accuracy(hits: Sequence[tuple[str | None, Sequence[str], str]]) -> dict[str, Any]:
    """(expected, ranked answer, scenario) -> top-1 and top-3 accuracy."""
    cases = [(expected, ranked) for expected, ranked, _ in hits if expected is not None]
    if not cases:
        return {"cases": 0, "top1": None, "top3": None}
    top1 = sum(1 for expected, ranked in cases if ranked[:1] == [expected])
    top3 = sum(1 for expected, ranked in cases if expected in ranked[:3])
    return {
        "cases": len(cases),
        "top1": round(top1 / len(cases), 3),
        "top3": round(top3 / len(cases), 3),
    }


def _cell(value: object, width: int) -> str:
    text = "—" if value is None else (f"{value:.2f}" if isinstance(value, float) else str(value))
    return text[:width].ljust(width)


def print_table(rows: Sequence[Mapping[str, Any]], summary: Mapping[str, Any]) -> None:
    columns = (
        ("scenario", 14),
        ("expected", 10),
        ("engine", 10),
        ("wall s", 8),
        ("peak MiB", 9),
        ("BARO", 10),
        ("BARO s", 8),
        ("series", 7),
        ("log lines", 10),
    )
    print("  ".join(name.ljust(width) for name, width in columns))
    print("  ".join("-" * width for _, width in columns))
    for row in rows:
        print("  ".join(_cell(row.get(name), width) for name, width in columns))
    print()
    for who in ("engine", "baro"):
        acc = summary[who]
        print(
            f"{who:>6} root-cause accuracy over {acc['cases']} scenarios: "
            f"top-1 {acc['top1']}, top-3 {acc['top3']}"
        )
    if summary.get("baroNote"):
        print(f"  BARO: {summary['baroNote']}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="diagnosis-operator benchmarks (see bench/README.md)"
    )
    parser.add_argument(
        "--work", type=Path, default=ROOT / "out" / "bench", help="where bundles are written"
    )
    parser.add_argument("--out", type=Path, default=HERE / "results" / "latest.json")
    parser.add_argument("--scenarios", nargs="*", help="default: every scenario of generate.py")
    parser.add_argument("--no-large", action="store_true", help="skip the large bundle")
    parser.add_argument("--large-series", type=int, default=10_000)
    parser.add_argument("--large-points", type=int, default=240)
    parser.add_argument("--large-lines", type=int, default=1_000_000)
    parser.add_argument("--timeout", type=float, default=1800.0, help="per diagnose run, seconds")
    args = parser.parse_args(argv)

    names, source = scenario_names()
    if args.scenarios:
        names = list(args.scenarios)
    if not args.no_large:
        names.append(LARGE)
    args.work.mkdir(parents=True, exist_ok=True)
    baro_reason = baro_unavailable_reason()

    rows: list[dict[str, Any]] = []
    report: dict[str, Any] = {
        "when": datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": {
            "platform": platform.platform(),
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
        },
        "scenarioSource": source,
        "scenarios": {},
    }
    engine_hits: list[tuple[str | None, Sequence[str], str]] = []
    baro_hits: list[tuple[str | None, Sequence[str], str]] = []
    for name in names:
        entry: dict[str, Any] = {}
        report["scenarios"][name] = entry
        print(f"[bench] {name}: writing the bundle", file=sys.stderr)
        started = time.perf_counter()
        try:
            folder, writer = write_bundle(
                name, args.work, large_size=(args.large_series, args.large_points, args.large_lines)
            )
        except Exception as error:
            entry["error"] = f"cannot write the bundle: {type(error).__name__}: {error}"
            rows.append({"scenario": name, "engine": "no bundle"})
            continue
        entry["bundle"] = {
            "path": str(folder),
            "writer": writer,
            "writeSeconds": round(time.perf_counter() - started, 2),
            **bundle_size(folder),
        }
        expected = read_expected(name, folder)
        entry["expected"] = asdict(expected) if expected else None

        print(f"[bench] {name}: diagnose", file=sys.stderr)
        engine = run_engine(folder, timeout=args.timeout)
        entry["engine"] = asdict(engine)

        baro: BaroOutcome | None = None
        if expected is not None and expected.onset is not None:
            print(f"[bench] {name}: BARO", file=sys.stderr)
            baro = run_baro(
                metrics=folder / "metrics.om", onset=expected.onset, selectors=selectors_of(folder)
            )
            entry["baro"] = asdict(baro)
        else:
            entry["baro"] = {"available": False, "note": "no expected onset for this bundle"}

        if expected is not None and name != LARGE:
            engine_hits.append((expected.root_cause, engine.ranked if engine.ok else [], name))
            if baro_reason is None:  # a scenario BARO could not run on is a miss for it
                ranked = list(baro.ranked_components) if baro and baro.available else []
                baro_hits.append((expected.root_cause, ranked, name))
        rows.append(
            {
                "scenario": name,
                "expected": expected.root_cause if expected else None,
                "engine": engine.root_cause if engine.ok else f"error {engine.exit_code}",
                "wall s": engine.wall_seconds,
                "peak MiB": engine.peak_rss_mib,
                "BARO": (baro.root_component if baro and baro.available else None),
                "BARO s": (baro.seconds if baro and baro.available else None),
                "series": entry["bundle"]["series"],
                "log lines": entry["bundle"]["logLines"],
            }
        )
    summary = {
        "engine": accuracy(engine_hits),
        "baro": accuracy(baro_hits),
        "baroNote": baro_reason
        or "BARO ranks metrics only: it cannot answer 'none' (quiet) or 'client'; "
        "those count as misses",
    }
    report["summary"] = summary
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print_table(rows, summary)
    print(f"\nwritten: {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
