"""DiagnosisPolicy thresholds reach the engine: anomaly score, min confidence, step."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from examples.incidents.generate import generate

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.api import Thresholds
from diagnosis_operator.core.diagnosis.analyse import analyse
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.entrypoints.cli.diagnose import symptom_text
from diagnosis_operator.models.engine import EngineSettings
from diagnosis_operator.models.findings import NO_INCIDENT, DiagnosisResult
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.service.diagnose import run_diagnosis
from tests.unit.test_pipeline import TOPOLOGY, signal_set

START = 2_000_000_000.0
WINDOW = Window(start=START, end=START + 3600.0)
STEP = 15.0


def weak_anomaly() -> Signal:
    """A steady signal that steps up by about 8 robust z-scores after two thirds."""
    timestamps = grid_timestamps(window=WINDOW, step=STEP)
    rng = np.random.default_rng(7)
    values = 100.0 + rng.normal(0.0, 1.0, timestamps.size)
    onset = 2 * timestamps.size // 3
    values[onset:] += 10.0
    return Signal(
        component="web",
        instance=None,
        name="latency",
        family="latency",
        kind=SignalKind.GAUGE,
        query="latency",
        values=values,
        labels=Labels({"job": "web"}),
    )


def test_default_anomaly_score_keeps_a_weak_anomaly_a_higher_one_drops_it() -> None:
    timestamps = grid_timestamps(window=WINDOW, step=STEP)
    signal = weak_anomaly()
    default = detect(signals=[signal], timestamps=timestamps)
    assert [d.signal.name for d in default] == ["latency"]
    assert default[0].anomaly.direction == "up"
    strict = detect(signals=[signal], timestamps=timestamps, z_threshold=40.0)
    assert strict == []


def test_anomaly_score_reaches_the_pipeline() -> None:
    signals = signal_set(incident=True, degraded={"w2"})
    default = analyse(topology=TOPOLOGY, signals=signals, symptom=None)
    assert default.root_cause.component == "db"
    strict = analyse(
        topology=TOPOLOGY,
        signals=signals,
        symptom=None,
        settings=EngineSettings(anomaly_score=1000.0),
    )
    # Metric anomalies no longer count; the database's log evidence still names it.
    assert len(strict.key_signals) < len(default.key_signals)
    assert strict.root_cause.confidence < default.root_cause.confidence


def test_min_confidence_above_the_root_marks_it_uncertain_and_drops_remediations() -> None:
    signals = signal_set(incident=True, degraded={"w2"})
    sure = analyse(topology=TOPOLOGY, signals=signals, symptom=None)
    assert sure.root_cause.component == "db"
    assert sure.remediations
    assert not sure.root_cause.summary.startswith("Uncertain:")
    threshold = min(1.0, sure.root_cause.confidence + 0.01)
    doubtful = analyse(
        topology=TOPOLOGY,
        signals=signals,
        symptom=None,
        settings=EngineSettings(min_confidence=threshold),
    )
    assert doubtful.root_cause.component == sure.root_cause.component
    assert doubtful.candidates == sure.candidates
    assert doubtful.root_cause.summary == f"Uncertain: {sure.root_cause.summary}"
    assert doubtful.remediations == ()
    assert any("minConfidence" in w for w in doubtful.warnings)
    # At or below the root's confidence nothing changes.
    confident = analyse(
        topology=TOPOLOGY,
        signals=signals,
        symptom=None,
        settings=EngineSettings(min_confidence=sure.root_cause.confidence),
    )
    assert confident.to_json() == sure.to_json()


def test_a_quiet_window_is_never_uncertain() -> None:
    result = analyse(
        topology=TOPOLOGY,
        signals=signal_set(incident=False, degraded=set()),
        symptom=None,
        settings=EngineSettings(min_confidence=1.0),
    )
    assert result.root_cause.component == NO_INCIDENT
    assert not result.root_cause.summary.startswith("Uncertain:")


def test_policy_thresholds_map_to_engine_settings() -> None:
    assert Thresholds().to_engine_settings() == EngineSettings()
    tuned = Thresholds.model_validate({"minConfidence": 0.7, "anomalyScore": 4, "step": "1m"})
    assert tuned.to_engine_settings() == EngineSettings(
        min_confidence=0.7, anomaly_score=4.0, step=60.0
    )
    assert Thresholds.model_validate({"step": "0s"}).to_engine_settings().step is None
    with pytest.raises(ValueError, match="min_confidence"):
        EngineSettings(min_confidence=1.5)


def _diagnose_reference(folder: Path, settings: EngineSettings | None) -> DiagnosisResult:
    bundle = load_bundle(folder)
    source = BundleSource(bundle)
    return run_diagnosis(
        topology=bundle.topology,
        window=bundle.window,
        symptom=symptom_text(bundle),
        series=source,
        logs=source,
        now=bundle.window.end,
        settings=settings,
    )


def test_defaults_leave_the_reference_diagnosis_unchanged(tmp_path: Path) -> None:
    folder = generate("reference", tmp_path)
    baseline = _diagnose_reference(folder, None)
    assert baseline.root_cause.component != NO_INCIDENT
    for settings in (EngineSettings(), Thresholds().to_engine_settings()):
        assert _diagnose_reference(folder, settings).to_json() == baseline.to_json()
    # A step other than the window's choice does reach the collector.
    coarse = _diagnose_reference(folder, dataclasses.replace(EngineSettings(), step=60.0))
    assert coarse.to_json() != baseline.to_json()
