"""A redo log checkpoint age past InnoDB's synchronous flush point.  Pure.

The checkpoint age is measured against the capacity its exporter publishes beside
it (``catalog.redo_log.FLUSH_POINTS``: the synchronous preflush age itself,
``Innodb_checkpoint_max_age``, the configured log size).  Past the synchronous
point the threads that write flush pages themselves and wait: harm in the
server's own terms, however its callers fare.  ``past_flush_point`` finds it: the
age stood below the point in the window, then was past it for at least
``MIN_PAST_STEPS`` steps (waves count: a sharp checkpoint lowers the age at once);
a detection of score ``PAST_SCORE``, its onset at the first step past the point,
marked ``at_declared_maximum`` (``ComponentEvidence.harm``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.redo_log import (
    CHECKPOINT_AGE,
    FLUSH_POINTS,
    MIN_PAST_STEPS,
    PAST_SCORE,
    FlushPoint,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels

_Key = tuple[str, Labels, str]


def first_past(values: FloatArray, point: FloatArray) -> int | None:
    """Pure: the first step past ``point`` after one below it, when past for enough steps."""
    finite = np.isfinite(values) & np.isfinite(point) & (point > 0)
    past = finite & (values >= point)
    below = finite & (values < point)
    if not below.any():
        return None
    after = int(np.flatnonzero(below)[0])
    steps = np.flatnonzero(past[after:])
    if steps.size < MIN_PAST_STEPS:
        return None
    return after + int(steps[0])


def _capacity(age: Signal, gauges: Mapping[_Key, Signal]) -> tuple[FlushPoint, FloatArray] | None:
    """The first flush point whose capacity gauges are all published beside ``age``."""
    labels = age.labels.without("__name__")
    for point in FLUSH_POINTS:
        found = [gauges.get((age.component, labels, name)) for name in point.capacity]
        if all(g is not None for g in found):
            product = np.prod([g.values for g in found if g is not None], axis=0)
            return point, product * point.share
    return None


def past_flush_point(*, signals: Sequence[Signal], timestamps: FloatArray) -> list[Detection]:
    """Pure: detections of checkpoint ages past the synchronous flush point (see the module)."""
    wanted = {name for point in FLUSH_POINTS for name in point.capacity}
    gauges = {
        (s.component, s.labels.without("__name__"), s.name): s for s in signals if s.name in wanted
    }
    found: list[Detection] = []
    for signal in signals:
        if compiled(CHECKPOINT_AGE).search(signal.name) is None:
            continue
        measured = _capacity(signal, gauges)
        if measured is None:
            continue
        point, limit = measured
        start = first_past(signal.values, limit)
        if start is None:
            continue
        onset, value = float(timestamps[start]), float(signal.values[start])
        anomaly = Anomaly(
            component=signal.component,
            signal=(
                f"{signal.name} past the synchronous flush point "
                f"({point.share:.0%} of {' x '.join(point.capacity)})"
            ),
            instance=signal.instance,
            onset=onset,
            peak_ts=onset,
            value=value,
            baseline=float(np.nanmedian(signal.values[:start])),
            score=PAST_SCORE,
            direction="up",
            query=signal.query,
            source=signal.source,
        )
        steps = int(np.sum(signal.values[start:] >= limit[start:]))
        found.append(
            Detection(
                signal=signal,
                anomaly=anomaly,
                exceedances=steps,
                peak=value,
                at_declared_maximum=True,
            )
        )
    return found
