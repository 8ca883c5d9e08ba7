"""The metric helpers count what they are told, under bounded labels."""

from __future__ import annotations

from typing import Any

import pytest

from diagnosis_operator.models.signals import Labels, LogCount, Window
from diagnosis_operator.service import metrics
from tests.fakes.logs import FakeLogSource
from tests.fakes.metrics import FakeSeriesSource


def value(name: str, **labels: str) -> float:
    found = metrics.REGISTRY.get_sample_value(name, labels)
    return 0.0 if found is None else found


def test_record_diagnosis_counts_and_times() -> None:
    before = value("diagnosis_operator_diagnoses_total", outcome="diagnosed")
    count_before = value("diagnosis_operator_diagnosis_duration_seconds_count", outcome="diagnosed")
    sum_before = value("diagnosis_operator_diagnosis_duration_seconds_sum", outcome="diagnosed")
    metrics.record_diagnosis("diagnosed", 3.5)
    assert value("diagnosis_operator_diagnoses_total", outcome="diagnosed") == before + 1
    assert (
        value("diagnosis_operator_diagnosis_duration_seconds_count", outcome="diagnosed")
        == count_before + 1
    )
    assert (
        value("diagnosis_operator_diagnosis_duration_seconds_sum", outcome="diagnosed")
        == sum_before + 3.5
    )


def test_running_diagnoses_are_counted_while_they_run_even_when_they_fail() -> None:
    name = "diagnosis_operator_diagnoses_running"
    before = value(name)
    with metrics.diagnosis_running():
        assert value(name) == before + 1
    try:
        with metrics.diagnosis_running():
            raise RuntimeError("engine error")
    except RuntimeError:
        pass
    assert value(name) == before


def test_record_query_counts_errors_apart() -> None:
    queries = value("diagnosis_operator_signal_queries_total", backend="loki")
    errors = value("diagnosis_operator_signal_query_errors_total", backend="loki")
    metrics.record_query("loki", ok=True)
    metrics.record_query("loki", ok=False)
    assert value("diagnosis_operator_signal_queries_total", backend="loki") == queries + 2
    assert value("diagnosis_operator_signal_query_errors_total", backend="loki") == errors + 1


def test_actions_and_guard_denials() -> None:
    before = value("diagnosis_operator_actions_total", action="drain-pod", outcome="dry-run")
    metrics.record_action("drain-pod", "dry-run")
    assert value("diagnosis_operator_actions_total", action="drain-pod", outcome="dry-run") == (
        before + 1
    )
    denied = value("diagnosis_operator_guard_denials_total", action="drain-pod", reason="cooldown")
    metrics.record_guard_denial("drain-pod", "cooldown")
    assert (
        value("diagnosis_operator_guard_denials_total", action="drain-pod", reason="cooldown")
        == denied + 1
    )


def test_label_values_are_bounded() -> None:
    metrics.record_action("x" * 500, "")
    assert (
        value(
            "diagnosis_operator_actions_total",
            action="x" * metrics.MAX_LABEL_LENGTH,
            outcome="unknown",
        )
        >= 1
    )


def test_exposition_is_prometheus_text() -> None:
    metrics.record_alert_notification("created")
    body, content_type = metrics.exposition()
    assert content_type.startswith("text/plain")
    text = body.decode()
    assert "# TYPE diagnosis_operator_diagnosis_duration_seconds histogram" in text
    assert 'diagnosis_operator_alert_notifications_total{result="created"}' in text


def test_dashboard_uses_only_metrics_the_operator_exports() -> None:
    import json
    import re
    from pathlib import Path

    dashboard = Path(__file__).resolve().parents[2] / (
        "charts/diagnosis-operator/dashboards/diagnosis-operator.json"
    )
    panels = json.loads(dashboard.read_text())["panels"]
    used = {
        name
        for panel in panels
        for target in panel["targets"]
        for name in re.findall(r"diagnosis_operator_\w+", target["expr"])
    }
    suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}
    exported = {
        family.name + suffix
        for family in metrics.REGISTRY.collect()
        for suffix in suffixes.get(family.type, ("",))
    }
    assert used, "the dashboard queries nothing"
    assert used <= exported, used - exported


class _FailingLogs(FakeLogSource):
    backend = "loki"

    def count_lines(self, **_: object) -> list[LogCount]:
        raise RuntimeError("loki answered 500")


def test_collect_records_each_query_where_it_is_answered() -> None:
    """The live path counts every query it sends, failed ones apart, under the source's name."""
    from diagnosis_operator.models.topology import Component, ComponentKind, Topology
    from diagnosis_operator.service.collect import backend_name, collect

    topology = Topology(
        (Component(name="api", kind=ComponentKind.APP, selector=Labels({"job": "api"})),)
    )
    series, logs = FakeSeriesSource(raw=[]), _FailingLogs()
    assert backend_name(series) == "fakeseriessource"
    ok_series = value("diagnosis_operator_signal_queries_total", backend="fakeseriessource")
    sent_logs = value("diagnosis_operator_signal_queries_total", backend="loki")
    failed_logs = value("diagnosis_operator_signal_query_errors_total", backend="loki")
    collect(topology=topology, window=Window(0.0, 600.0), series=series, logs=logs, step=60.0)
    assert value("diagnosis_operator_signal_queries_total", backend="fakeseriessource") == (
        ok_series + 1
    )
    # two failed count queries (all lines, significant lines), the samples answered
    assert value("diagnosis_operator_signal_query_errors_total", backend="loki") == failed_logs + 2
    assert value("diagnosis_operator_signal_queries_total", backend="loki") > sent_logs + 2


KEPT = """
import sys
from diagnosis_operator.service import metrics
metrics.record_query("bundle", ok=False)
metrics.record_action("drain-pod", "dry-run")
with metrics.diagnosis_running():
    metrics.record_diagnosis("diagnosed", 2.0)
before = "prometheus_client" in sys.modules
get = metrics.REGISTRY.get_sample_value
print(before, get("diagnosis_operator_signal_queries_total", {"backend": "bundle"}),
      get("diagnosis_operator_signal_query_errors_total", {"backend": "bundle"}),
      get("diagnosis_operator_actions_total", {"action": "drain-pod", "outcome": "dry-run"}),
      get("diagnosis_operator_diagnoses_running"),
      get("diagnosis_operator_diagnosis_duration_seconds_sum", {"outcome": "diagnosed"}))
"""


def test_records_before_the_registry_exists_are_kept_and_replayed() -> None:
    """A fresh process records without prometheus-client; the registry then shows it all."""
    import subprocess
    import sys

    child = subprocess.run(
        [sys.executable, "-c", KEPT],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": ":".join(sys.path)},
    )
    assert child.stdout.split() == ["False", "1.0", "1.0", "1.0", "0.0", "2.0"]


def test_too_many_kept_records_build_the_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metrics, "_pending", [])
    monkeypatch.setattr(metrics, "PENDING_LIMIT", 2)
    built = metrics._built
    monkeypatch.setattr(metrics, "_built", _NotBuilt(built))
    for _ in range(2):
        metrics.record_guard_denial("kept-limit", "r")
    assert len(metrics._pending) == 2  # kept: the registry is not wanted yet
    metrics.record_guard_denial("kept-limit", "r")  # one more than kept: built, replayed
    assert metrics._pending == []
    assert value("diagnosis_operator_guard_denials_total", action="kept-limit", reason="r") == 3


class _NotBuilt:
    """``_built`` as if the registry had not been made yet (until called)."""

    def __init__(self, built: Any) -> None:
        self.built = built
        self.calls = 0

    def __call__(self) -> Any:
        self.calls += 1
        return self.built()

    def cache_info(self) -> Any:
        return type("Info", (), {"currsize": self.calls})()
