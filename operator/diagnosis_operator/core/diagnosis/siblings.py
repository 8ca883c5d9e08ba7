"""One instance against its siblings, step by step: by a margin, over a sustained time.  Pure.

An instance is worse than its siblings only where, at the same instants, its
health signal stands out from theirs, and only if it does so for a sustained
time: a change that lasted one scrape (a failover's burst of log lines, a
45-second stall that healed) singles nothing out.  ``SUSTAINED_SECONDS`` is the
usual ``for:`` of a Prometheus alerting rule ("Alerting rules":
https://prometheus.io/docs/prometheus/latest/configuration/alerting_rules/), and
never fewer than ``SUSTAINED_MIN_STEPS`` points of the grid.

Two references:

* an instance with a baseline of its own (``singled_steps``): a step counts when
  the instance is at least half way up from its baseline to its anomalous level
  and its siblings (their median at that step) shared less than half its rise;
* the siblings at the same steps (``sibling_detection``): for an instance whose
  series began inside the window (a canary, a pod a rolling update or the
  autoscaler added) and so has no baseline of its own, or one that parted from
  its siblings before its own baseline was long enough for the detector; a step
  counts when it is at least ``LATE_RATIO`` times their median and above it by
  more than their spread (``Z_THRESHOLD`` robust deviations).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from diagnosis_operator.core.diagnosis.signal_types import (
    MIN_POINTS,
    SCORE_CAP,
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
)
from diagnosis_operator.models.findings import Anomaly

SUSTAINED_SECONDS = 120.0
SUSTAINED_MIN_STEPS = 3
SUSTAINED_SHARE = 0.2  # of a short window's span
SIBLING_SHARE = 0.5  # of the instance's rise that siblings may share at a step
LATE_RATIO = 1.5  # half again its siblings' median: a margin no sibling jitter reaches
MAD_TO_SIGMA = 1.4826
BASELINE_SHARE = 0.15  # the first part of the window a series needs data in to have a baseline


def sustained_steps(timestamps: FloatArray) -> int:
    """Pure: how many grid points a difference must hold to be sustained."""
    if timestamps.size < 2:
        return SUSTAINED_MIN_STEPS
    step = float(timestamps[1] - timestamps[0])
    if step <= 0:
        return SUSTAINED_MIN_STEPS
    # In a short window (a few minutes, as a lab or a quick look records), sustained
    # is a share of what was observed, not more than the window holds.
    span = float(timestamps[-1] - timestamps[0]) + step
    sustained = min(SUSTAINED_SECONDS, SUSTAINED_SHARE * span)
    return max(SUSTAINED_MIN_STEPS, math.ceil(sustained / step - 1e-9))


def sibling_reference(signal: Signal, peers: Sequence[Signal]) -> FloatArray:
    """Pure: per step, the median of the same signal on every other instance (NaN: none)."""
    rows = _sibling_rows(signal, peers)
    if not rows:
        return np.full(signal.values.shape, np.nan)
    stacked = np.vstack(rows)
    finite = np.isfinite(stacked).any(axis=0)
    reference = np.full(signal.values.shape, np.nan)
    if finite.any():
        reference[finite] = np.nanmedian(stacked[:, finite], axis=0)
    return reference


def _sibling_rows(signal: Signal, peers: Sequence[Signal]) -> list[FloatArray]:
    """The same signal's values on every other instance, on the same grid."""
    return [
        other.values
        for other in peers
        if other.peer_key == signal.peer_key
        and other.instance != signal.instance
        and other.values.shape == signal.values.shape
    ]


def singled_steps(*, detection: Detection, peers: Sequence[Signal], timestamps: FloatArray) -> int:
    """Pure: the steps since its onset at which a detected rise is the instance's own."""
    signal = detection.signal
    anomaly = detection.anomaly
    rise = anomaly.value - anomaly.baseline
    if not math.isfinite(rise) or rise <= 0 or signal.values.shape != timestamps.shape:
        return 0
    values = signal.values
    reference = sibling_reference(signal, peers)
    after = timestamps >= anomaly.onset
    elevated = np.nan_to_num(values, nan=-np.inf) >= anomaly.baseline + 0.5 * rise
    own_rise = values - anomaly.baseline
    shared = reference - anomaly.baseline
    # a step without siblings' data shows no difference from them
    apart = np.isfinite(reference) & (np.nan_to_num(shared, nan=np.inf) < SIBLING_SHARE * own_rise)
    return int(np.count_nonzero(after & elevated & apart))


def sustained(*, detection: Detection, peers: Sequence[Signal], timestamps: FloatArray) -> bool:
    """Pure: whether a detected rise stood apart from the siblings for a sustained time."""
    return singled_steps(
        detection=detection, peers=peers, timestamps=timestamps
    ) >= sustained_steps(timestamps)


def has_own_baseline(signal: Signal, timestamps: FloatArray) -> bool:
    """Pure: whether a series has data early enough in the window to be its own baseline."""
    size = signal.values.size
    head = max(MIN_POINTS, int(BASELINE_SHARE * size))
    if signal.values.shape != timestamps.shape:
        return False
    return int(np.isfinite(signal.values[:head]).sum()) >= MIN_POINTS // 2


def sibling_detection(
    *, signal: Signal, peers: Sequence[Signal], timestamps: FloatArray
) -> Detection | None:
    """Pure: a rise of one instance's signal judged against its siblings at the same steps.

    ``None`` unless the series stood ``LATE_RATIO`` times above its siblings'
    median, beyond their spread (``apart_from_siblings``), at
    ``sustained_steps`` of its points.  A series with a baseline of its own
    must have run with its siblings in that baseline (its first
    ``BASELINE_SHARE`` of the window) and parted from them later: an instance
    that always ran hotter than its siblings is not degraded, one that began
    to is, and rose ``LATE_RATIO`` times above its own early level (a sibling
    that stayed up while the others went down is not).  The detection's
    baseline is the siblings' median at the steps it stood apart, its onset
    the first of them.  It must still stand apart at its last steps
    (``_apart_at_the_end``).
    """
    apart = apart_from_siblings(signal=signal, peers=peers)
    if apart is None or signal.values.shape != timestamps.shape:
        return None
    if has_own_baseline(signal, timestamps):
        head = np.zeros(apart.shape, dtype=bool)
        head[: max(MIN_POINTS, int(BASELINE_SHARE * apart.size))] = True
        seen = head & np.isfinite(signal.values)
        if np.count_nonzero(apart & head) * 2 >= np.count_nonzero(seen):
            return None
        # and it rose from its own level: a pod still up while its siblings crashed to
        # zero stands above them without being worse off
        own = float(np.median(signal.values[seen]))
        risen = np.nan_to_num(signal.values, nan=-np.inf) > LATE_RATIO * max(own, 0.0)
        apart = apart & ~head & risen
    count = int(np.count_nonzero(apart))
    if count < sustained_steps(timestamps) or not _apart_at_the_end(
        signal, peers, apart, timestamps
    ):
        return None
    return _detection(signal, peers, timestamps, apart)


def _apart_at_the_end(
    signal: Signal, peers: Sequence[Signal], apart: np.ndarray, timestamps: FloatArray
) -> bool:
    """Whether the instance still stands apart at its last steps beside its siblings.

    A drain acts on the present: an instance that parted from its siblings for
    a while and then ran like them again (new pods of a rolling update failing
    like every other new pod once the old ones are gone, or a pod that healed)
    is not worse off than its siblings now.  Most of its last
    ``sustained_steps`` steps with sibling data must still be apart.
    """
    reference = sibling_reference(signal, peers)
    shared = np.flatnonzero(np.isfinite(signal.values) & np.isfinite(reference))
    last = shared[-sustained_steps(timestamps) :]
    return last.size > 0 and 2 * int(np.count_nonzero(apart[last])) > last.size


def apart_from_siblings(*, signal: Signal, peers: Sequence[Signal]) -> np.ndarray | None:
    """Pure: the steps at which a signal stood ``LATE_RATIO`` times above its siblings' median.

    Above by more than ``Z_THRESHOLD`` of the siblings' robust spread too, so a
    flat zero (no error lines) is not doubled by one line.  ``None``: no sibling data.
    """
    values = signal.values
    reference = sibling_reference(signal, peers)
    both = np.isfinite(values) & np.isfinite(reference)
    if not both.any():
        return None
    spread = _sibling_spread(signal, peers, both)
    margin = np.maximum((LATE_RATIO - 1.0) * np.abs(reference), Z_THRESHOLD * spread)
    excess = values - reference
    return both & (np.nan_to_num(excess, nan=-np.inf) > np.nan_to_num(margin, nan=np.inf))


def _detection(
    signal: Signal, peers: Sequence[Signal], timestamps: FloatArray, apart: np.ndarray
) -> Detection:
    values = signal.values
    reference = sibling_reference(signal, peers)
    spread = _sibling_spread(signal, peers, apart)
    level = float(np.median(values[apart]))
    base = float(np.median(reference[apart]))
    score = min(SCORE_CAP, (level - base) / spread) if spread > 0 else SCORE_CAP
    steps = np.flatnonzero(apart)
    peak_at = int(steps[int(np.argmax(values[apart]))])
    return Detection(
        signal=signal,
        anomaly=Anomaly(
            component=signal.component,
            signal=signal.name,
            instance=signal.instance,
            onset=float(timestamps[int(steps[0])]),
            peak_ts=float(timestamps[peak_at]),
            value=level,
            baseline=base,
            score=float(score),
            direction="up",
            query=signal.query,
            source=signal.source,
        ),
        exceedances=int(steps.size),
        peak=float(values[peak_at]),
    )


def _sibling_spread(signal: Signal, peers: Sequence[Signal], period: np.ndarray) -> float:
    """The siblings' robust spread around their own medians over ``period`` (0: flat).

    One array operation over the siblings (a median per sibling, then the median of
    every deviation), not one per sibling: a component of hundreds of instances
    judges each against all the others.
    """
    rows = _sibling_rows(signal, peers)
    if not rows:
        return 0.0
    stacked = np.vstack(rows)
    stacked = np.where(period[np.newaxis, :] & np.isfinite(stacked), stacked, np.nan)
    stacked = stacked[np.isfinite(stacked).any(axis=1)]
    if not stacked.size:
        return 0.0
    medians = _row_medians(stacked)
    deviations = np.abs(stacked - medians[:, np.newaxis])
    return float(MAD_TO_SIGMA * np.median(deviations[np.isfinite(deviations)]))


def _row_medians(stacked: FloatArray) -> FloatArray:
    """Pure: each row's median over its finite values (every row has one)."""
    ordered = np.sort(stacked, axis=1)  # NaN sorts last
    counts = np.isfinite(stacked).sum(axis=1)
    rows = np.arange(stacked.shape[0])
    low = ordered[rows, (counts - 1) // 2]
    high = ordered[rows, counts // 2]
    medians: FloatArray = (low + high) / 2.0
    return medians
