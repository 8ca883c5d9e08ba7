"""An instance that stopped answering its scrapes while its siblings answer.  Pure.

Prometheus sets ``up`` to 0 when a scrape of a target fails (and exporters
their ``<name>_up`` when they cannot reach what they watch):
https://prometheus.io/docs/concepts/jobs_instances/ ("up{job, instance}: 1 if
the instance is healthy, i.e. reachable, or 0 if the scrape failed").  An
instance frozen, hung or gone stops answering; its other series stop too, so
they show nothing a baseline could judge.  Its siblings, scraped by the same
Prometheus at the same moments, tell the instance from the scraper: when only
it is down, it is down.

``scrape_down`` finds such instances from the availability gauges alone, on
windows too short for a statistical baseline: the gauge was 1 before, is 0
for at least ``MIN_DOWN_STEPS`` steps up to the end of the data, and every
sibling's gauge is 1 over that stretch.  Each is a detection of score
``DOWN_SCORE`` (strong evidence on its own), with its onset at the first
failed scrape.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal
from diagnosis_operator.models.findings import Anomaly

MIN_DOWN_STEPS = 3
DOWN_SCORE = 30.0


def _down_from(values: FloatArray) -> int | None:
    """The index of the first 0 of a final run of zeros after a 1, or None."""
    finite = np.flatnonzero(np.isfinite(values))
    if finite.size == 0 or values[finite[-1]] != 0.0:
        return None
    start = int(finite[-1])
    while start > 0 and (not np.isfinite(values[start - 1]) or values[start - 1] == 0.0):
        start -= 1
    if not np.any(values[:start] >= 1.0):
        return None
    while not np.isfinite(values[start]):
        start += 1
    return start


def scrape_down(
    *, signals: Sequence[Signal], timestamps: FloatArray, detected: Sequence[Detection] = ()
) -> list[Detection]:
    """Pure: detections of instances down while their siblings are up (see the module)."""
    seen = {id(d.signal) for d in detected}
    groups: dict[tuple[object, ...], list[Signal]] = defaultdict(list)
    for signal in signals:
        if signal.instance and is_availability_gauge(signal.family):
            groups[signal.peer_key].append(signal)
    found: list[Detection] = []
    for peers in groups.values():
        if len(peers) < 2:
            continue
        for signal in peers:
            start = _down_from(signal.values)
            if start is None or id(signal) in seen:
                continue
            stretch = slice(start, None)
            zeros = int(np.sum(signal.values[stretch] == 0.0))
            others = [p.values[stretch] for p in peers if p is not signal]
            if zeros < MIN_DOWN_STEPS or not all(
                np.all(np.nan_to_num(v, nan=1.0) >= 1.0) for v in others
            ):
                continue
            onset = float(timestamps[start])
            anomaly = Anomaly(
                component=signal.component,
                signal=signal.name,
                instance=signal.instance,
                onset=onset,
                peak_ts=onset,
                value=0.0,
                baseline=1.0,
                score=DOWN_SCORE,
                direction="down",
                query=signal.query,
                source=signal.source,
            )
            found.append(Detection(signal=signal, anomaly=anomaly, exceedances=zeros, peak=0.0))
    return found
