"""A gauge that reached the largest value its type allows, and stays there.  Pure.

Some exporters publish a value beside the maximum it can ever take
(``catalog.limits.DECLARED_MAXIMA``: an AUTO_INCREMENT column's next value and
the largest value of its integer type).  Such a gauge climbs steadily for years
and says nothing; the step at which it reaches its maximum is the moment the
server starts refusing what would take it further (every INSERT into the
table), whatever its other series show.  A proxy publishes its own admission
limit beside its count the same way (HAProxy's process or frontend ``maxconn``):
at it, it stops accepting.  ``at_maximum`` finds it: the gauge stood below its
maximum in the window, then at it (from the entry's ``full_share`` of it) for
``MIN_AT_MAXIMUM_STEPS`` steps or more up to the end of the data; a detection of
score ``AT_MAXIMUM_SCORE``, its onset at the first step at the maximum, marked
``at_declared_maximum``: harm in the server's own terms (``ComponentEvidence.harm``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from diagnosis_operator.catalog.limits import (
    AT_MAXIMUM_SCORE,
    DECLARED_MAXIMA,
    MIN_AT_MAXIMUM_STEPS,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal
from diagnosis_operator.models.findings import Anomaly


def _reached_from(values: FloatArray, declared: FloatArray, share: float) -> int | None:
    """The first step of a final run at the maximum, after a step below it; or None."""
    finite = np.isfinite(values) & np.isfinite(declared) & (declared > 0)
    maximum = declared * share
    at = finite & (values >= maximum)
    below = finite & (values < maximum)
    seen = np.flatnonzero(finite)
    if seen.size == 0 or not at[seen[-1]] or not below.any():
        return None
    start = int(np.flatnonzero(below)[-1]) + 1
    if int(np.sum(at[start:])) < MIN_AT_MAXIMUM_STEPS:
        return None
    return start + int(np.argmax(at[start:]))


def at_maximum(*, signals: Sequence[Signal], timestamps: FloatArray) -> list[Detection]:
    """Pure: detections of gauges that reached their declared maximum (see the module)."""
    found: list[Detection] = []
    for declared in DECLARED_MAXIMA:
        maxima = {
            (s.component, s.labels.without("__name__")): s
            for s in signals
            if s.name == declared.maximum
        }
        for signal in signals:
            if signal.name != declared.value:
                continue
            limit = maxima.get((signal.component, signal.labels.without("__name__")))
            if limit is None:
                continue
            start = _reached_from(signal.values, limit.values, declared.full_share)
            if start is None:
                continue
            onset = float(timestamps[start])
            value = float(signal.values[start])
            anomaly = Anomaly(
                component=signal.component,
                signal=f"{signal.name} at its maximum ({declared.what})",
                instance=signal.instance,
                onset=onset,
                peak_ts=onset,
                value=value,
                baseline=float(np.nanmin(signal.values)),
                score=AT_MAXIMUM_SCORE,
                direction="up",
                query=signal.query,
                source=signal.source,
            )
            steps = int(np.sum(signal.values[start:] >= declared.full_share * limit.values[start:]))
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
