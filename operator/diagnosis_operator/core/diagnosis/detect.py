"""The names detection had before it was split into rooms (kept for modules not yet moved).

New code imports from the rooms: ``signal_types`` (Signal, Detection),
``signals`` (building them), ``counters``, ``instances``, ``derived``,
``baseline``, ``scoring`` (``detect``), ``bursts`` and ``stats``.
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.baseline import first_departure
from diagnosis_operator.core.diagnosis.collected import SIGNIFICANT_LINES
from diagnosis_operator.core.diagnosis.counters import counter_rate, sample_periods
from diagnosis_operator.core.diagnosis.instances import instance_names, instance_of
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.signal_types import (
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
    SignalKind,
)
from diagnosis_operator.core.diagnosis.signals import build_signals, grid_timestamps, level_between
from diagnosis_operator.core.diagnosis.stats import poisson_tail

__all__ = [
    "SIGNIFICANT_LINES",
    "Z_THRESHOLD",
    "Detection",
    "FloatArray",
    "Signal",
    "SignalKind",
    "build_signals",
    "counter_rate",
    "detect",
    "first_departure",
    "grid_timestamps",
    "instance_names",
    "instance_of",
    "level_between",
    "poisson_tail",
    "sample_periods",
]
