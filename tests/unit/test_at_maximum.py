"""A gauge at the largest value its type allows (``at_maximum``, ``catalog.limits``)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.at_maximum import at_maximum
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.signals import Labels, Window

T0 = 1_700_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + 3000.0), step=15.0)
INT_MAX = 2147483647.0
VALUE = "mysql_info_schema_auto_increment_column"
MAXIMUM = "mysql_info_schema_auto_increment_column_max"


def _gauge(name: str, values: np.ndarray, table: str = "events") -> Signal:
    labels = Labels({"instance": "10.0.0.5:9104", "schema": "app", "table": table})
    return Signal("db", "10.0.0.5:9104", name, name, SignalKind.GAUGE, name, values, labels)


def _climb(reach: int) -> np.ndarray:
    """Six inserts a second, at the INT maximum from step ``reach`` on."""
    steps = np.arange(TS.size, dtype=float)
    return np.minimum(INT_MAX, INT_MAX - (reach - steps) * 6 * 15)


def test_a_key_reaching_its_types_maximum_is_detected_at_that_step() -> None:
    reach = 120
    found = at_maximum(
        signals=[_gauge(VALUE, _climb(reach)), _gauge(MAXIMUM, np.full(TS.size, INT_MAX))],
        timestamps=TS,
    )
    (detection,) = found
    assert detection.anomaly.onset == TS[reach]
    assert detection.anomaly.direction == "up" and "auto-increment" in detection.anomaly.signal


def test_below_its_maximum_always_at_it_or_another_tables_maximum_is_nothing() -> None:
    maximum = np.full(TS.size, INT_MAX)
    below = np.linspace(48e6, 49e6, TS.size)
    always = np.full(TS.size, 255.0)
    signals = [
        _gauge(VALUE, below),
        _gauge(MAXIMUM, maximum),
        # a lookup table full since long before the window: no onset in it
        _gauge(VALUE, always, "flags"),
        _gauge(MAXIMUM, np.full(TS.size, 255.0), "flags"),
        # a full key whose maximum is another table's: no pair
        _gauge(VALUE, _climb(100), "orphan"),
    ]
    assert at_maximum(signals=signals, timestamps=TS) == []
    # migrated to BIGINT before the end: the maximum moved, the key is no longer at it
    migrated = np.full(TS.size, INT_MAX)
    migrated[150:] = 9223372036854775807.0
    assert (
        at_maximum(signals=[_gauge(VALUE, _climb(100)), _gauge(MAXIMUM, migrated)], timestamps=TS)
        == []
    )
