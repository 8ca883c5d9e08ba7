"""Record (or check) the diagnose output of every scenario bundle.

    python tests/golden/record.py record    # writes tests/golden/out/NAME.{json,md}.gz
    python tests/golden/record.py check     # exits 1 and prints a diff on any change

The refactor guard of the house issue: moving code must not change what `diagnose`
prints.  Outputs are taken through the CLI (as a user runs it) so they do not depend
on where the code lives; timings are dropped before comparing.
"""

from __future__ import annotations

import difflib
import gzip
import json
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "out"
SUITES = ("examples.incidents", "examples.incidents.holdout", "examples.incidents.holdout2")
VOLATILE = {"timings", "elapsedSeconds", "durationSeconds", "generatedAt"}


def _scenarios() -> list[tuple[str, str]]:
    sys.path.insert(0, str(ROOT))
    import importlib

    pairs: list[tuple[str, str]] = []
    for suite in SUITES:
        module = importlib.import_module(
            suite if suite != "examples.incidents" else "examples.incidents.generate"
        )
        pairs.extend((suite, name) for name in module.SCENARIOS if name != "large")
    return pairs


def _generate(suite: str, name: str, folder: Path) -> Path:
    module = "examples.incidents.generate" if suite == "examples.incidents" else suite
    code = f"import {module} as m; print(m.generate({name!r}, {str(folder)!r}))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, check=True, capture_output=True, text=True
    )
    return Path(out.stdout.strip().splitlines()[-1])


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


def _diagnose(bundle: Path, fmt: str) -> str:
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "diagnosis_operator",
            "diagnose",
            "--bundle",
            str(bundle),
            "--format",
            fmt,
            "--quiet",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    )
    if fmt == "json":
        return json.dumps(_strip(json.loads(out.stdout)), indent=1, sort_keys=True) + "\n"
    return out.stdout


def outputs() -> dict[str, str]:
    results: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as tmp:

        def one(pair: tuple[str, str]) -> None:
            suite, name = pair
            bundle = _generate(suite, name, Path(tmp) / suite)
            for fmt, ext in (("json", "json"), ("markdown", "md")):
                results[f"{name}.{ext}"] = _diagnose(bundle, fmt)

        with ThreadPoolExecutor(max_workers=2) as pool:
            list(pool.map(one, _scenarios()))
    return results


def main(argv: list[str]) -> int:
    mode = argv[1] if len(argv) > 1 else "check"
    results = outputs()
    if mode == "record":
        OUT.mkdir(exist_ok=True)
        for name, text in results.items():
            (OUT / f"{name}.gz").write_bytes(gzip.compress(text.encode(), mtime=0))
        print(f"recorded {len(results)} outputs in {OUT}")
        return 0
    bad = 0
    for name, text in sorted(results.items()):
        stored = OUT / f"{name}.gz"
        want = gzip.decompress(stored.read_bytes()).decode() if stored.exists() else ""
        if text != want:
            bad += 1
            sys.stdout.writelines(
                difflib.unified_diff(
                    want.splitlines(True),
                    text.splitlines(True),
                    f"golden/{name}",
                    f"now/{name}",
                    n=2,
                )
            )
    print(f"{len(results) - bad} of {len(results)} outputs unchanged")
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
