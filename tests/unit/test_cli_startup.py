"""The CLI imports only what the subcommand asked for needs.

``diagnose --bundle`` without a policy or enrichment flags never imports kopf,
the Kubernetes client, the CRD models, a MySQL driver or prometheus-client
(the operator's metrics registry is built when first wanted; seconds of start-up
on a one-hour bundle that takes about one to diagnose); ``--help`` still
lists every subcommand.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from diagnosis_operator.entrypoints.cli.main import SUBCOMMANDS, build_parser, main
from tests.unit.bundle_helpers import write_bundle

CHILD = """
import io, json, sys
from contextlib import redirect_stdout
from diagnosis_operator.entrypoints.cli.main import main
with redirect_stdout(io.StringIO()):
    code = main(["diagnose", "--bundle", sys.argv[1], "--format", "json", "--quiet"])
heavy = ["kopf", "kubernetes", "aiohttp", "pymysql", "diagnosis_operator.api",
         "diagnosis_operator.service.remediate", "diagnosis_operator.entrypoints.kopf",
         "prometheus_client"]
print(json.dumps({"code": code, "loaded": [m for m in heavy if m in sys.modules]}))
"""


def test_an_offline_diagnosis_imports_no_operator_machinery(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "tiny")
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(bundle)],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    answer = json.loads(child.stdout.strip().splitlines()[-1])
    assert answer["code"] in (0, 3, 4), child.stderr
    assert answer["loaded"] == []


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    shown = capsys.readouterr().out
    assert all(name in shown for name in SUBCOMMANDS)


def test_only_the_asked_subcommand_is_registered() -> None:
    parser = build_parser("diagnose")
    args = parser.parse_args(["diagnose", "--bundle", "somewhere"])
    assert args.bundle == "somewhere"
    with pytest.raises(SystemExit):
        parser.parse_args(["run", "--help"])
