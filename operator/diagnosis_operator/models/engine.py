"""What a DiagnosisPolicy's ``thresholds`` tune in the diagnosis engine (pure)."""

from __future__ import annotations

from dataclasses import dataclass

# The engine's built-in values: the defaults leave every diagnosis unchanged.
DEFAULT_ANOMALY_SCORE = 6.0
DEFAULT_MIN_CONFIDENCE = 0.0
# The incident gate (core/diagnosis/gate.py): how long and how far a symptom must
# rise above its own baseline before a root cause is named.
DEFAULT_MIN_SYMPTOM_SECONDS = 180.0
DEFAULT_MIN_ERROR_RATIO_RISE = 0.01
DEFAULT_MIN_LATENCY_RISE = 0.5


@dataclass(frozen=True, slots=True)
class EngineSettings:
    """Tunables of one diagnosis.

    ``anomaly_score``: the robust z-score (distance from the baseline's median
    in units of its MAD-based spread) a metric point must pass to count as an
    exceedance; a lone exceedance must pass twice this.  It does not move where
    the baseline ends nor the burst test of sparse event counts.
    ``min_confidence``: a root cause below it is reported as uncertain and gets
    no remediation.  ``step``: seconds between range-query points; ``None``
    lets the window choose (15 s, coarser for long windows).

    The incident gate: a symptom (a 5xx ratio, a latency, severe log lines) counts
    as an incident only when it stayed elevated for ``min_symptom_seconds`` in
    all (at most a quarter of the window), or is still elevated when the window
    ends; a step is elevated when it is at least half way to the anomalous level
    and, for a 5xx ratio, ``min_error_ratio_rise`` (absolute) above its
    baseline, for a latency ``min_latency_rise`` (relative) above it.
    """

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    anomaly_score: float = DEFAULT_ANOMALY_SCORE
    step: float | None = None
    min_symptom_seconds: float = DEFAULT_MIN_SYMPTOM_SECONDS
    min_error_ratio_rise: float = DEFAULT_MIN_ERROR_RATIO_RISE
    min_latency_rise: float = DEFAULT_MIN_LATENCY_RISE

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence {self.min_confidence} is not within 0..1")
        if not self.anomaly_score > 0:
            raise ValueError(f"anomaly_score {self.anomaly_score} must be positive")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"step {self.step} must be a positive number of seconds")
        if self.min_symptom_seconds < 0:
            raise ValueError(f"min_symptom_seconds {self.min_symptom_seconds} must not be negative")
        if not 0.0 <= self.min_error_ratio_rise <= 1.0:
            raise ValueError(f"min_error_ratio_rise {self.min_error_ratio_rise} is not within 0..1")
        if self.min_latency_rise < 0:
            raise ValueError(f"min_latency_rise {self.min_latency_rise} must not be negative")


DEFAULT_ENGINE_SETTINGS = EngineSettings()


@dataclass(frozen=True, slots=True)
class PolicySignal:
    """A policy's ``signalOverrides`` entry rendered for one component.

    ``name`` is the override's name, ``promql`` its query for this component
    (escaped by the catalog's renderer); the collector asks it through the
    ``PromQLSource`` port and the engine analyses its answer as a signal of
    ``component``.
    """

    name: str
    component: str
    promql: str
