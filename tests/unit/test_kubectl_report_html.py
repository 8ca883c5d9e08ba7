"""``kubectl diagnose report NAME --format html [--out F] [--open]`` with a fake cluster.

The browser is injected (``main(opener=...)``): the test sees the URI it would open.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from diagnosis_operator.entrypoints.cli.kubectl.main import main
from tests.fakes.plugin_cluster import FakeCluster
from tests.unit.test_kubectl_plugin import cluster_with_policy, diagnosed
from tests.unit.test_report_samples import full_incident


def reported() -> FakeCluster:
    cluster = cluster_with_policy()
    diagnosed(cluster)
    cluster.configmaps[("team-a", "checkout-1-report")] = {
        "diagnosis.json": json.dumps(full_incident().to_json()),
        "report.md": "# Diagnosis\n",
    }
    return cluster


def report(cluster: FakeCluster, *argv: str) -> tuple[int, str, list[str]]:
    opened: list[str] = []
    out = io.StringIO()
    code = main(
        ["report", "checkout-1", "--format", "html", *argv],
        cluster=cluster,
        out=out,
        opener=opened.append,
    )
    return code, out.getvalue(), opened


def test_html_goes_to_stdout_without_out_or_open() -> None:
    code, out, opened = report(reported())
    assert code == 0 and opened == []
    assert out.lstrip().lower().startswith("<!doctype html>")
    assert "db ran out of connections" in out


def test_html_is_written_to_the_file_and_opened(tmp_path: Path) -> None:
    target = tmp_path / "r.html"
    code, out, opened = report(reported(), "--out", str(target), "--open")
    assert code == 0
    assert f"wrote {target}" in out
    assert "db ran out of connections" in target.read_text(encoding="utf-8")
    assert opened == [target.resolve().as_uri()]


def test_open_without_out_writes_a_temporary_file() -> None:
    code, _, opened = report(reported(), "--open")
    assert code == 0
    [uri] = opened
    assert uri.startswith("file://") and uri.endswith(".html")
    path = Path(uri.removeprefix("file://"))
    try:
        assert "db ran out of connections" in path.read_text(encoding="utf-8")
    finally:
        path.unlink()


def test_open_needs_html_and_an_unreadable_report_is_an_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cluster = reported()
    assert main(["report", "checkout-1", "--open"], cluster=cluster, opener=print) == 2
    assert "--open needs --format html" in capsys.readouterr().err
    cluster.configmaps[("team-a", "checkout-1-report")]["diagnosis.json"] = "{not json"
    code, _, opened = report(cluster)
    assert code == 1 and opened == []
    assert "holds no readable result" in capsys.readouterr().err
