"""The outcome a diagnosis may claim (core/diagnosis/coverage.py), and the CLI's exit status.

Pure rules first (complete, degraded with a scaled confidence, failed), then
``diagnosis-operator diagnose --bundle`` on a bundle whose window lies beyond its
data: exit 4, root ``unknown``, never "no incident"; and the collector's bounds
(lines cut, count series capped).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from diagnosis_operator.core.diagnosis.analyse import analyse
from diagnosis_operator.core.diagnosis.coverage import assess
from diagnosis_operator.entrypoints.cli.diagnose import (
    EXIT_DEGRADED,
    EXIT_NO_CONCLUSION,
    exit_status,
    render,
)
from diagnosis_operator.entrypoints.cli.main import main
from diagnosis_operator.models.coverage import Outcome
from diagnosis_operator.models.engine import PolicySignal
from diagnosis_operator.models.findings import NO_CONCLUSION, NO_INCIDENT
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    Series,
    SignalSet,
    Window,
)
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from diagnosis_operator.ports import SignalError
from diagnosis_operator.service import collect as collector
from tests.fakes.logs import FakeLogSource
from tests.fakes.metrics import FakeSeriesSource
from tests.unit.bundle_helpers import INCIDENT, write_bundle

WINDOW = Window(1_700_000_000.0, 1_700_003_600.0)
TOPOLOGY = Topology(
    components=(
        Component("web", ComponentKind.PROXY, Labels({"job": "web"}), depends_on=("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
    )
)


def _flat(job: str) -> Series:
    stamps = tuple(WINDOW.start + 60.0 * i for i in range(61))
    return Series(name="up", labels=Labels({"job": job}), timestamps=stamps, values=(1.0,) * 61)


def _signals(**components: ComponentSignals) -> SignalSet:
    return SignalSet(window=WINDOW, step=15.0, components=components)


def test_every_query_answered_with_data_is_complete() -> None:
    signals = _signals(web=ComponentSignals("web", series=(_flat("web"),), asked=10))
    coverage = assess(signals)
    assert coverage.outcome is Outcome.COMPLETE
    assert coverage.scaled(0.8) == pytest.approx(0.8)


def test_some_failed_queries_degrade_and_scale_the_confidence() -> None:
    signals = _signals(
        web=ComponentSignals("web", series=(_flat("web"),), asked=8, failed=2, errors=("e1", "e2")),
        db=ComponentSignals("db", series=(_flat("db"),), asked=2),
    )
    coverage = assess(signals, symptom_component="web")
    assert coverage.outcome is Outcome.DEGRADED
    assert coverage.reason == "PartialData"
    assert coverage.scaled(1.0) == pytest.approx(0.8)
    assert "2 of 10 queries" in coverage.message and "e1" in coverage.message


def test_all_failed_or_the_symptoms_metrics_failed_or_no_data_is_failed() -> None:
    failed = _signals(web=ComponentSignals("web", asked=3, failed=3, errors=("HTTP 500",)))
    assert assess(failed).reason == "SourcesFailed"
    assert assess(failed).scaled(1.0) == 0.0
    timed = _signals(web=ComponentSignals("web", asked=3, failed=3, timed_out=3))
    assert assess(timed).reason == "DeadlineExceeded"
    symptom = _signals(
        web=ComponentSignals("web", asked=3, failed=1, series_failed=True, errors=("x",)),
        db=ComponentSignals("db", series=(_flat("db"),), asked=3),
    )
    assert assess(symptom, symptom_component="web").reason == "SymptomSourceFailed"
    assert assess(symptom, symptom_component="db").outcome is Outcome.DEGRADED
    empty = _signals(
        web=ComponentSignals(
            "web", asked=3, log_counts=(LogCount(Labels({}), (WINDOW.start,), (0.0,)),)
        )
    )
    assert assess(empty).reason == "NoData"


def test_a_policy_signals_answer_is_data_and_its_failure_counts() -> None:
    only_policy = _signals(
        db=ComponentSignals("db", asked=4, policy_series={"lock-waits": (_flat("db"),)})
    )
    assert assess(only_policy).outcome is Outcome.COMPLETE
    empty_policy = _signals(db=ComponentSignals("db", asked=4, policy_series={"lock-waits": ()}))
    assert assess(empty_policy).reason == "NoData"


class _FailingPromQL:
    """A ``PromQLSource`` whose every range query fails."""

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]:
        raise SignalError(backend="prometheus", query=promql, window=window, status=500)

    def query_instant(self, *, promql: str, at: float) -> list[Series]:
        raise SignalError(backend="prometheus", query=promql, window=None, status=500)


def test_collect_counts_a_policy_signal_among_the_queries_asked() -> None:
    signal = PolicySignal(name="lock-waits", component="db", promql='max(waits{job="db"})')
    signals = collector.collect(
        topology=TOPOLOGY,
        window=WINDOW,
        series=FakeSeriesSource(raw=[_flat("db")]),
        logs=FakeLogSource(),
        policy_signals=(signal,),
        promql=_FailingPromQL(),
    )
    db = signals.components["db"]
    without = collector.collect(
        topology=TOPOLOGY,
        window=WINDOW,
        series=FakeSeriesSource(raw=[_flat("db")]),
        logs=FakeLogSource(),
    ).components["db"]
    assert db.asked == without.asked + 1 and db.failed == 1
    assert any("policy signal lock-waits" in error for error in db.errors)
    assert assess(signals).outcome is Outcome.DEGRADED


def test_analyse_names_no_root_without_data_and_never_no_incident() -> None:
    result = analyse(
        topology=TOPOLOGY,
        signals=_signals(web=ComponentSignals("web", asked=2), db=ComponentSignals("db", asked=2)),
        symptom=None,
    )
    assert result.root_cause.component == NO_CONCLUSION != NO_INCIDENT
    assert result.root_cause.confidence == 0.0
    assert result.coverage.outcome is Outcome.FAILED
    assert result.to_json()["outcome"]["state"] == "failed"
    assert not result.remediations


def test_analyse_on_part_of_the_evidence_scales_the_quiet_verdict() -> None:
    signals = _signals(
        web=ComponentSignals("web", series=(_flat("web"),), asked=4, failed=2, errors=("a", "b")),
        db=ComponentSignals("db", series=(_flat("db"),), asked=4),
    )
    result = analyse(topology=TOPOLOGY, signals=signals, symptom=None)
    assert result.coverage.outcome is Outcome.DEGRADED
    assert result.root_cause.confidence == pytest.approx(0.75 * 1.0, abs=0.26)
    assert result.root_cause.confidence < 1.0
    assert result.root_cause.summary.startswith("Degraded")


def test_the_cli_refuses_a_bundle_window_beyond_its_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    later = INCIDENT.replace("2025-01-01T00:10:00Z", "2025-03-01T00:10:00Z").replace(
        "2025-01-01T00:20:00Z", "2025-03-01T00:20:00Z"
    )
    bundle = write_bundle(tmp_path / "later", incident=later)
    assert main(["diagnose", "--bundle", str(bundle), "--quiet"]) == 2
    assert "holds no metric sample and no log line" in capsys.readouterr().err


def test_the_cli_exit_status_says_degraded_or_no_conclusion(
    capsys: pytest.CaptureFixture[str],
) -> None:
    degraded = analyse(
        topology=TOPOLOGY,
        signals=_signals(
            web=ComponentSignals("web", series=(_flat("web"),), asked=4, failed=1, errors=("a",)),
            db=ComponentSignals("db", series=(_flat("db"),), asked=4),
        ),
        symptom=None,
    )
    nothing = analyse(
        topology=TOPOLOGY,
        signals=_signals(web=ComponentSignals("web", asked=2, failed=2, errors=("HTTP 500",))),
        symptom=None,
    )
    assert exit_status(degraded) == EXIT_DEGRADED
    assert "DEGRADED (PartialData)" in capsys.readouterr().err
    assert exit_status(nothing) == EXIT_NO_CONCLUSION
    assert "FAILED (SourcesFailed)" in capsys.readouterr().err
    assert json.loads(render(nothing, "json"))["rootCause"]["component"] == "unknown"
    assert "no conclusion" in render(nothing, "markdown")


def test_the_cli_exits_0_on_a_bundle_with_data(tmp_path: Path) -> None:
    bundle = write_bundle(tmp_path / "tiny")
    assert main(["diagnose", "--bundle", str(bundle), "--quiet", "--out", str(tmp_path / "o")]) == 0
    assert json.loads((tmp_path / "o").read_text())["outcome"]["state"] == "complete"


def test_collect_cuts_long_lines_and_caps_count_series(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "MAX_COUNT_SERIES", 5)
    logs = FakeLogSource()
    long_line = "x" * (collector.MAX_LINE_CHARS * 3) + " error"
    logs.add({"job": "web", "instance": "w1"}, [(WINDOW.start + 10, long_line)])
    for n in range(40):
        logs.add(
            {"job": "web", "instance": "w1"},
            [(WINDOW.start + 20 + i, f'10.0.0.{n} - - "GET / HTTP/1.1" 200 1') for i in range(n)],
        )
    signals = collector.collect(
        topology=TOPOLOGY, window=WINDOW, series=FakeSeriesSource(raw=[]), logs=logs
    )
    web = signals.components["web"]
    lines = [line for stream in web.log_samples for line in stream.lines]
    assert lines and all(len(line.line) <= collector.MAX_LINE_CHARS for line in lines)
    for counts in web.extracted.values():
        assert len(counts) <= 5
    assert web.asked > 0 and web.failed == 0


def test_busiest_keeps_the_counts_with_the_most_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(collector, "MAX_COUNT_SERIES", 2)
    counts = [LogCount(Labels({"ip": str(n)}), (WINDOW.start,), (float(n),)) for n in (3, 9, 1, 7)]
    assert [c.labels["ip"] for c in collector.busiest(counts)] == ["9", "7"]
