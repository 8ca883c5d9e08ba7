"""An instance at its kind's ceiling of work (``catalog.saturation``): its busy time is harm.  Pure.

A server that runs its work on one thread (Redis) cannot go faster than that
thread: once its CPU counters sum to nearly a core, commands queue and every
caller of that instance waits.  The CPU detections of such an instance are
harm of its own (``ComponentEvidence.harm``), not load its callers sent: a
dependency at its ceiling can explain its callers, whatever the cause of the
work (a hot key, a costly command).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Sequence

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.saturation import Ceiling, ceilings_of
from diagnosis_operator.core.diagnosis.signal_types import (
    Z_THRESHOLD,
    Detection,
    Signal,
    SignalKind,
)

# the counter behind a derived CPU signal: ``sum(rate(<counter>{...}[...]))``
_COUNTER = re.compile(r"rate\(([A-Za-z_:][A-Za-z0-9_:]*)")


def counter_of(signal: Signal) -> str | None:
    """Pure: the CPU-seconds counter a ``cpu usage`` signal is the rate of, if it says."""
    found = _COUNTER.search(signal.query)
    return found.group(1) if found else None


def _busy(detections: Sequence[Detection], ceiling: Ceiling) -> float:
    """The busy cores of one instance: its first counter group present, summed levels."""
    for group in ceiling.counters:
        levels = [
            d.anomaly.value
            for d in detections
            if any(compiled(p).search(counter_of(d.signal) or "") for p in group)
        ]
        if levels:
            return sum(levels)
    return 0.0


def saturated(detections: Sequence[Detection], kinds: tuple[str, ...]) -> tuple[Detection, ...]:
    """Pure: the CPU detections of instances that reached their kind's ceiling.

    Per instance, the levels of its risen CPU counters (``Anomaly.value``,
    the median of the anomalous segment: sustained, not a peak) of the
    ceiling's first counter group present are summed; at or above
    ``cores * share`` of the ceiling, those detections are harm.
    """
    ceilings = ceilings_of(kinds)
    if not ceilings:
        return ()
    by_instance: dict[str | None, list[Detection]] = defaultdict(list)
    for d in detections:
        if (
            d.signal.kind is SignalKind.CPU
            and d.anomaly.direction == "up"
            and d.score >= Z_THRESHOLD
        ):
            by_instance[d.signal.instance].append(d)
    found: list[Detection] = []
    for ceiling in ceilings:
        for members in by_instance.values():
            if _busy(members, ceiling) >= ceiling.cores * ceiling.share:
                found.extend(d for d in members if d not in found)
    return tuple(found)
