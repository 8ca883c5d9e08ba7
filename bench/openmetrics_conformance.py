"""Check (not a test): the bundle OpenMetrics parser against ``prometheus_client`` on every bundle.

``tests/unit/test_openmetrics_conformance.py`` checks edge cases and a handful of
bundles; this runs the same comparison (same normalisations, see that module) over
every scenario bundle of every suite and the large bundle, each thinned to the first
``--stamps`` timestamps of every family (``prometheus_client``'s parser is pure
Python).  Prints one line per bundle; exits 1 if any differs.

    .venv/bin/python bench/openmetrics_conformance.py --work /tmp/bundles --reuse
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT / "operator"), str(ROOT), str(HERE)]

from offline_speed import write_bundles  # noqa: E402
from tests.unit.test_openmetrics_conformance import assert_conform, thinned  # noqa: E402


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", type=Path, help="where bundles are written (default: tmp)")
    parser.add_argument("--reuse", action="store_true", help="keep bundles already in --work")
    parser.add_argument("--stamps", type=int, default=8)
    args = parser.parse_args(argv)
    work = args.work or Path(tempfile.mkdtemp(prefix="om-conformance-"))
    failed = 0
    try:
        folders = write_bundles(work, large=(10_000, 240, 1_000), reuse=args.reuse)
        for name, folder in folders.items():
            text = (folder / "metrics.om").read_text(encoding="utf-8")
            with tempfile.TemporaryDirectory() as scratch:
                try:
                    count = assert_conform(thinned(text, stamps=args.stamps), Path(scratch))
                except (AssertionError, ValueError) as error:
                    failed += 1
                    print(f"{name}: DIFFERS: {type(error).__name__}: {str(error)[:300]}")
                    continue
            print(f"{name}: same {count} samples and types")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"{len(folders) - failed} of {len(folders)} bundles conform")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
