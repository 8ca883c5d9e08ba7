"""The values detection works on: signals on the evaluation grid and what is found on them.  Pure.

A *signal* is one time series on the grid ``window.start + k*step`` (NaN where
there is no value): a counter turned into a rate, a gauge, a derived RED
signal or a log count (see ``signals.build_signals``).  A *detection* is the
anomaly found on one signal (see ``scoring.detect``).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from diagnosis_operator.models.engine import DEFAULT_ANOMALY_SCORE
from diagnosis_operator.models.findings import Anomaly, EvidenceSource
from diagnosis_operator.models.signals import Labels

FloatArray = npt.NDArray[np.float64]

# Robust z-score an exceedance must pass, and the one a lone exceedance must pass.
Z_THRESHOLD = DEFAULT_ANOMALY_SCORE
Z_SINGLE = 2.0 * Z_THRESHOLD
SCORE_CAP = 100.0
MIN_POINTS = 8
# A short window (a few minutes, as a lab or a quick look records: 13 points at
# 15 s) cannot give eight points of baseline before its fault; there the baseline
# needs a third of the window, never fewer than ``SHORT_MIN_POINTS``.
SHORT_MIN_POINTS = 5


def baseline_points(size: int) -> int:
    """Pure: the fewest points a baseline needs in a window of ``size`` grid points."""
    return max(SHORT_MIN_POINTS, min(MIN_POINTS, size // 3))


def baseline_head(size: int) -> int:
    """Pure: the opening stretch a baseline is first read from (15 % of a long window)."""
    return max(baseline_points(size), int(0.15 * size))


# Labels that tell instances of one component apart (not what the signal measures).
INSTANCE_LABELS = ("instance", "pod", "namespace", "container", "node", "host", "hostname")


class SignalKind(StrEnum):
    RATE = "rate"  # a counter turned into a per-second rate
    GAUGE = "gauge"
    ERROR_RATIO = "error-ratio"  # 5xx share of requests
    REQUEST_RATE = "request-rate"
    LATENCY = "latency"  # mean seconds per request
    CPU = "cpu"  # cores (or the gauge's own unit)
    LOG_LINES = "log-lines"  # all lines per step
    LOG_SIGNIFICANT = "log-significant"  # error/warn/slow/deadlock-ish lines per step


@dataclass(frozen=True, eq=False)
class Signal:
    """One time series on the evaluation grid (NaN where there is no value)."""

    component: str
    instance: str | None
    name: str  # readable, e.g. "http_requests_total 5xx ratio"
    family: str  # what counts as one independent signal (metric family / derived kind)
    kind: SignalKind
    query: str
    values: FloatArray
    labels: Labels
    source: EvidenceSource = EvidenceSource.PROMETHEUS
    # For a ratio of rare events (the 5xx share): the events behind it per step.
    # A ratio with a zero baseline is judged by how unlikely these counts are,
    # not by its own z-score (one failed request in a quiet step is 4% of it).
    events: FloatArray | None = None
    # For the 5xx share: the requests behind it per step (how many trials the
    # ratio rests on, so that a few unlucky requests are told from a failing instance).
    requests: FloatArray | None = None

    @functools.cached_property
    def peer_key(self) -> tuple[str, str, Labels]:
        """Signals with the same key on different instances are siblings."""
        return (self.component, self.name, self.labels.without(*INSTANCE_LABELS))


@dataclass(frozen=True, eq=False)
class Detection:
    """The anomaly found on one signal, with the signal it was found on."""

    signal: Signal
    anomaly: Anomaly
    exceedances: int
    peak: float
    # a gauge standing at the maximum its exporter declares (``at_maximum``): the
    # server refuses what would take it further, harm in its own terms
    at_declared_maximum: bool = False

    @property
    def onset(self) -> float:
        return self.anomaly.onset

    @property
    def score(self) -> float:
        return self.anomaly.score


@dataclass(frozen=True, eq=False)
class SignalScores:
    """Per-signal level summaries, also for signals that are not anomalous.

    Used by sibling comparison: ``level`` is the signal's median over the
    period ``[start, end]`` asked for; ``baseline`` its median before ``start``.
    """

    level: float
    baseline: float
