"""Bounded memory: a 30-day window stays under the chart's memory limit.

The issue saw a 30-day window drive the operator to 3.8 GB resident, against a
chart limit of 512 MiB.  This test builds an incident bundle whose window is 30
days, with data over all of it (metrics a sample a minute, access logs from a
new client address on almost every line, so that per-client counts have an
unbounded number of series), diagnoses it in a fresh ``diagnosis-operator
diagnose`` process, and asserts that its peak resident set (with the parser it forks) stayed
under the limit the chart sets (read from ``charts/.../values.yaml``, not
copied).  It is a bound on behaviour (memory), not on time.

The bundle path runs the same ``collect`` and engine as the live path
(``service.collect``: steps coarsened to at most ``MAX_POINTS`` per series,
sampled lines capped per part and cut to ``MAX_LINE_CHARS``, count series capped
at ``MAX_COUNT_SERIES``), on 2 cores in well under a minute.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from diagnosis_operator.models.signals import isoformat_z

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
VALUES = REPO / "charts" / "diagnosis-operator" / "values.yaml"
DAYS = 30
START = 1_767_225_600.0  # 2026-01-01T00:00:00Z
END = START + DAYS * 86_400
METRIC_STEP = 60
LOG_STEP = 20  # an access line every 20 s over 30 days: 129,600 lines, each from a new client
UNITS = {"Ki": 1024, "Mi": 1024**2, "Gi": 1024**3}


def chart_memory_limit() -> int:
    """The Deployment's memory limit in bytes, as the chart's values set it."""
    values = yaml.safe_load(VALUES.read_text(encoding="utf-8"))
    text = str(values["resources"]["limits"]["memory"])
    for suffix, factor in UNITS.items():
        if text.endswith(suffix):
            return int(float(text[: -len(suffix)]) * factor)
    return int(text)


def write_month_bundle(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "incident.yaml").write_text(
        yaml.safe_dump(
            {
                "format": "incident-bundle/v1",
                "name": "a-month",
                "window": {"start": isoformat_z(START), "end": isoformat_z(END)},
                "symptom": {"component": "edge"},
                "topology": {
                    "components": [
                        {
                            "name": "edge",
                            "kind": "proxy",
                            "selector": {"job": "edge"},
                            "dependsOn": ["app"],
                        },
                        {"name": "app", "kind": "app", "selector": {"job": "app"}},
                    ]
                },
            }
        ),
        encoding="utf-8",
    )
    _write_metrics(folder / "metrics.om")
    _write_logs(folder / "logs.jsonl")
    return folder


def _write_metrics(path: Path) -> None:
    rng = random.Random(7)
    with path.open("w", encoding="utf-8") as out:
        out.write("# HELP http_requests Requests.\n# TYPE http_requests counter\n")
        for job in ("edge", "app"):
            for instance in ("0", "1"):
                for status in ("200", "500"):
                    total = 0
                    for ts in range(int(START), int(END), METRIC_STEP):
                        total += rng.randint(50, 60) if status == "200" else rng.randint(0, 1)
                        out.write(
                            f'http_requests_total{{job="{job}",instance="{job}-{instance}",'
                            f'status="{status}"}} {total} {ts}\n'
                        )
        out.write("# EOF\n")


def _write_logs(path: Path) -> None:
    rng = random.Random(11)
    with path.open("w", encoding="utf-8") as out:
        for ts in range(int(START), int(END), LOG_STEP):
            ip = f"10.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
            status = 500 if rng.random() < 0.01 else 200
            line = f'{ip} - - [x] "GET /api/{ts % 97} HTTP/1.1" {status} 512 "-" "agent/{ts % 13}"'
            labels = {"job": "edge", "instance": f"edge-{ts % 2}"}
            out.write(json.dumps({"ts": isoformat_z(ts), "labels": labels, "line": line}) + "\n")
            if ts % 600 == 0:
                labels = {"job": "app", "instance": "app-0"}
                # Now and then a line of 20 kB: a long line is cut when sampled.
                text = "warn: slow request " + ("x" * 20_000 if ts % 21_600 == 0 else "")
                entry = {"ts": isoformat_z(ts), "labels": labels, "line": text}
                out.write(json.dumps(entry) + "\n")


# The CLI run in this process, which then writes its peak resident set (KiB): its own
# (``VmHWM``, the high-water mark of the address space ``exec`` created) plus the largest
# child it waited for (the forked metrics parser).  Not ``RUSAGE_SELF``: Linux carries the
# high-water mark of the image before ``exec`` into it, so a child of a large pytest process
# reports the test runner's size, not its own.  The sum is conservative: the two peaks
# need not coincide, and pages a forked child shares with its parent count twice.
_MEASURED = """
import resource, sys
from diagnosis_operator.entrypoints.cli.main import main
try:
    code = main(sys.argv[2:])
finally:
    with open("/proc/self/status", encoding="ascii") as status:
        own = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    with open(sys.argv[1], "w", encoding="utf-8") as out:
        out.write(f"{own} {children}")
sys.exit(code)
"""


def test_a_thirty_day_window_stays_under_the_charts_memory_limit(tmp_path: Path) -> None:
    limit = chart_memory_limit()
    assert limit == 512 * 1024**2  # the chart's value today; the bound follows it if it moves
    bundle = write_month_bundle(tmp_path / "month")
    peak_file = tmp_path / "peak-rss"
    run = subprocess.run(
        [
            sys.executable,
            "-c",
            _MEASURED,
            str(peak_file),
            "diagnose",
            "--bundle",
            str(bundle),
            "--quiet",
            "--out",
            str(tmp_path / "result.json"),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    own, children = (int(kib) * 1024 for kib in peak_file.read_text(encoding="utf-8").split())
    assert own > 0
    peak = own + children
    result = json.loads((tmp_path / "result.json").read_text(encoding="utf-8"))
    assert result["window"]["start"] == isoformat_z(START)
    assert result["outcome"]["state"] == "complete"
    assert peak < limit, (
        f"peak resident set {peak / 2**20:.0f} MiB >= limit {limit / 2**20:.0f} MiB"
    )
