"""Moving code must not change what ``diagnose`` prints (the house issue's guard).

``tests/golden/out`` holds the JSON and Markdown output of every scenario bundle as
recorded before the layout changed; this test diagnoses them all again through the
CLI and fails with a diff on any change.  Re-record only for an intended change of
behaviour: ``python tests/golden/record.py record``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

RECORDER = Path(__file__).resolve().parents[1] / "golden" / "record.py"


def test_diagnose_outputs_equal_the_recorded_ones() -> None:
    run = subprocess.run(
        [sys.executable, str(RECORDER), "check"], capture_output=True, text=True, timeout=2400
    )
    assert run.returncode == 0, run.stdout[-20000:] + run.stderr[-5000:]
    assert "outputs unchanged" in run.stdout
