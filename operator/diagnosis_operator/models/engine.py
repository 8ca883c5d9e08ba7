"""What a DiagnosisPolicy's ``thresholds`` tune in the diagnosis engine (pure)."""

from __future__ import annotations

from dataclasses import dataclass

# The engine's built-in values: the defaults leave every diagnosis unchanged.
DEFAULT_ANOMALY_SCORE = 6.0
DEFAULT_MIN_CONFIDENCE = 0.0


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
    """

    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    anomaly_score: float = DEFAULT_ANOMALY_SCORE
    step: float | None = None

    def __post_init__(self) -> None:
        if not 0.0 <= self.min_confidence <= 1.0:
            raise ValueError(f"min_confidence {self.min_confidence} is not within 0..1")
        if not self.anomaly_score > 0:
            raise ValueError(f"anomaly_score {self.anomaly_score} must be positive")
        if self.step is not None and not self.step > 0:
            raise ValueError(f"step {self.step} must be a positive number of seconds")


DEFAULT_ENGINE_SETTINGS = EngineSettings()
