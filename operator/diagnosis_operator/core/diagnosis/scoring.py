"""Anomaly detection on all signals at once, against a robust baseline.  Pure.

All signals are scored together (numpy, one row per signal): ``baseline``
places the end of each baseline; median and MAD of the baseline give a robust
z-score; points beyond both the z threshold and the baseline's own envelope
(min/max) are exceedances.  A signal is anomalous when it has enough
exceedances (one is enough when it is extreme) and departs from its
baseline's trend; its onset is the first exceedance, moved back to where the
excursion began.  Sparse event counts are judged by ``bursts`` instead.

Nothing here reads a clock, the environment or the network.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from diagnosis_operator.catalog.effect import is_state_flag, min_effect
from diagnosis_operator.core.diagnosis.baseline import baseline_end, departs_from_trend, fill_gaps
from diagnosis_operator.core.diagnosis.bursts import (
    burst_test,
    count_scale,
    has_requests,
    requests_or,
)
from diagnosis_operator.core.diagnosis.signal_types import (
    SCORE_CAP,
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
    SignalKind,
    baseline_head,
    baseline_points,
)
from diagnosis_operator.models.findings import Anomaly

BoolArray = npt.NDArray[np.bool_]
IntArray = npt.NDArray[np.intp]

DETECT_CHUNK = 2048  # signals scored at once: bounds the memory of the matrices


def detect(
    *, signals: Sequence[Signal], timestamps: FloatArray, z_threshold: float = Z_THRESHOLD
) -> list[Detection]:
    """Pure: score every signal (vectorised); return the anomalous ones, strongest first.

    Signals are scored independently, in chunks of ``DETECT_CHUNK`` rows.
    ``z_threshold`` is the robust z-score an exceedance must pass (a lone one
    twice this); baseline placement and the sparse-count burst test keep theirs.
    """
    usable = [
        s
        for s in signals
        if s.values.shape == timestamps.shape
        and np.isfinite(s.values).sum() >= baseline_points(timestamps.size)
    ]
    if not usable or timestamps.size < baseline_points(timestamps.size) + 2:
        return []
    detections: list[Detection] = []
    for first in range(0, len(usable), DETECT_CHUNK):
        detections.extend(
            _detect_rows(usable[first : first + DETECT_CHUNK], timestamps, z_threshold=z_threshold)
        )
    detections.sort(key=lambda d: (-d.score, d.onset, d.signal.name))
    return detections


@dataclass(frozen=True)
class _Baseline:
    """Per row: where the baseline ends and its robust level, spread and envelope."""

    ends: IntArray
    in_base: BoolArray
    after: BoolArray
    median: FloatArray
    mad: FloatArray
    scale: FloatArray
    env_hi: FloatArray
    env_lo: FloatArray


@dataclass(frozen=True)
class _Rows:
    """Per row: the exceedances, their direction and strength, and the verdict."""

    filled: FloatArray
    valid: BoolArray
    z: FloatArray
    up: BoolArray
    down: BoolArray
    going_up: BoolArray
    exceed: BoolArray
    strength: FloatArray
    count: IntArray
    significant: BoolArray
    score: FloatArray
    sparse: BoolArray


def _detect_rows(
    usable: Sequence[Signal], timestamps: FloatArray, *, z_threshold: float
) -> list[Detection]:
    raw = np.vstack([s.values for s in usable])
    filled, valid = fill_gaps(raw)
    # a change smaller than the unit's floor is no departure (catalog.effect)
    floors = np.array([min_effect(s.family) for s in usable]) / z_threshold
    base = _baseline(filled, valid, floors=floors, counts=_count_gauges(usable, filled, valid))
    rows = _level_test(filled, valid, base, z_threshold=z_threshold)
    _burst_rows(usable, timestamps, rows=rows, base=base)
    detections = [
        _detection(usable[row], row, timestamps=timestamps, rows=rows, base=base)
        for row in np.flatnonzero(rows.significant).tolist()
        if rows.exceed[row].any()
    ]
    detections.sort(key=lambda d: (-d.score, d.onset, d.signal.name))
    return detections


def _count_gauges(usable: Sequence[Signal], filled: FloatArray, valid: BoolArray) -> BoolArray:
    """Per row: a metric gauge whose values are all whole numbers and not a state flag.

    A state flag is 0 or 1: a gauge named like one that goes past 1 counts
    things (MySQL's ``threads_running``, 1 -> 2, is a second thread, not a flip).
    """
    whole: BoolArray = np.all(np.where(valid, np.mod(filled, 1.0) == 0.0, True), axis=1)
    beyond_flag: BoolArray = np.any(valid & (np.abs(filled) > 1.0), axis=1)
    gauges: BoolArray = np.array([s.kind is SignalKind.GAUGE for s in usable], dtype=bool)
    flags: BoolArray = np.array([is_state_flag(s.family) for s in usable], dtype=bool)
    counts: BoolArray = whole & gauges & (~flags | beyond_flag)
    return counts


def _baseline(
    filled: FloatArray, valid: BoolArray, *, floors: FloatArray, counts: BoolArray
) -> _Baseline:
    rows, size = filled.shape
    ends = baseline_end(filled)
    column = np.arange(size)[None, :]
    in_base = (column < ends[:, None]) & valid
    base = np.where(in_base, filled, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # all-NaN rows warn; they have no baseline and never pass the tests below
        warnings.simplefilter("ignore", category=RuntimeWarning)
        median = np.nanmedian(base, axis=1)
        deviation = np.abs(base - median[:, None])
        mad = 1.4826 * np.nanmedian(deviation, axis=1)
        mean_dev = 1.2533 * np.nanmean(deviation, axis=1)
        env_hi = np.nanmax(base, axis=1)
        env_lo = np.nanmin(base, axis=1)
    scale = np.maximum.reduce(
        [
            mad,
            mean_dev,
            0.02 * np.abs(median),
            np.full(rows, 1e-9) * (1.0 + np.abs(median)),
            floors,
            # counts vary like counts: Poisson's spread, at least 1 (catalog.effect)
            np.where(counts, np.sqrt(np.maximum(np.abs(median), 1.0)), 0.0),
        ]
    )
    return _Baseline(
        ends=ends,
        in_base=in_base,
        after=(column >= ends[:, None]) & valid,
        median=median,
        mad=mad,
        scale=scale,
        env_hi=env_hi,
        env_lo=env_lo,
    )


def _level_test(
    filled: FloatArray, valid: BoolArray, base: _Baseline, *, z_threshold: float
) -> _Rows:
    """Exceedances of the robust z threshold and the envelope, after the baseline."""
    size = filled.shape[1]
    z = (filled - base.median[:, None]) / base.scale[:, None]
    up = base.after & (z > z_threshold) & (filled > base.env_hi[:, None])
    down = base.after & (z < -z_threshold) & (filled < base.env_lo[:, None])
    up_strength = np.where(up, np.minimum(z, SCORE_CAP), 0.0)
    down_strength = np.where(down, np.minimum(-z, SCORE_CAP), 0.0)
    going_up = up_strength.sum(axis=1) >= down_strength.sum(axis=1)
    exceed = np.where(going_up[:, None], up, down)
    strength = np.where(going_up[:, None], up_strength, down_strength)
    count = exceed.sum(axis=1)
    peak_strength = strength.max(axis=1)
    significant = (count >= 2) | ((count == 1) & (peak_strength >= 2.0 * z_threshold))
    # A series that began in the window (a pod the autoscaler added, an
    # exporter restarted) has no baseline of its own to depart from.
    least = baseline_points(size)
    significant &= (base.in_base.sum(axis=1) >= least) & (
        valid[:, : baseline_head(size)].sum(axis=1) >= least // 2
    )
    # Nor is growth at the pace the baseline already had (a morning ramp) a
    # departure: the points must also stand out from the baseline's trend.
    significant &= departs_from_trend(
        filled,
        base.in_base,
        after=base.after,
        scale=base.scale,
        going_up=going_up,
        z_limit=z_threshold,
    )
    top3 = -np.sort(-strength, axis=1)[:, :3]
    top_mean = top3.sum(axis=1) / np.maximum(np.minimum(count, 3), 1)
    persistence = np.where(count >= 3, 1.0, np.where(count == 2, 0.8, 0.6))
    return _Rows(
        filled=filled,
        valid=valid,
        z=z,
        up=up,
        down=down,
        going_up=going_up,
        exceed=exceed,
        strength=strength,
        count=count,
        significant=significant,
        score=top_mean * persistence,
        sparse=np.zeros(filled.shape[0], dtype=bool),
    )


def _burst_rows(
    usable: Sequence[Signal], timestamps: FloatArray, *, rows: _Rows, base: _Baseline
) -> None:
    """Rescore (in place) the sparse event counts by their densest burst.

    Sparse event counts (deadlocks, error lines...) have a zero baseline where
    z-scores mean nothing: judge them by how unlikely their densest burst is.
    """
    filled, valid = rows.filled, rows.valid
    step = float(timestamps[1] - timestamps[0])
    per_step = np.array([count_scale(s, step) for s in usable])
    counts = filled * per_step[:, None]
    for position, behind in enumerate(usable):
        if behind.events is not None and behind.events.shape == timestamps.shape:
            counts[position] = np.where(np.isfinite(behind.events), behind.events, 0.0)
            per_step[position] = 1.0
    integral = np.all(np.abs(counts - np.rint(counts)) < 1e-6, axis=1)
    rows.sparse[:] = (per_step > 0) & integral & (base.median == 0) & (base.mad == 0)
    if not rows.sparse.any():
        return
    sparse_rows = np.flatnonzero(rows.sparse)
    exposure = np.vstack([requests_or(usable[row], valid[row]) for row in sparse_rows.tolist()])
    by_requests = np.array(
        [has_requests(usable[row], timestamps) for row in sparse_rows.tolist()], dtype=bool
    )
    sp_score, _, sp_marks = burst_test(
        np.rint(counts[sparse_rows]),
        valid[sparse_rows],
        step=step,
        min_start=baseline_head(filled.shape[1]),
        exposure=exposure,
        by_exposure=by_requests,
    )
    rows.significant[sparse_rows] = sp_score >= Z_THRESHOLD
    rows.score[sparse_rows] = sp_score
    rows.going_up[sparse_rows] = True
    rows.exceed[sparse_rows] = sp_marks
    rows.strength[sparse_rows] = np.where(sp_marks, filled[sparse_rows], 0.0)
    rows.count[sparse_rows] = sp_marks.sum(axis=1)


def _detection(
    signal: Signal, row: int, *, timestamps: FloatArray, rows: _Rows, base: _Baseline
) -> Detection:
    """The anomaly on one significant row (which has at least one exceedance)."""
    marks = np.flatnonzero(rows.exceed[row])
    onset_index = int(marks[0])
    if not rows.sparse[row]:
        # An excursion that went one way and then (further) the other, like
        # memory that filled up and then crashed to zero, began with the first.
        onset_up = bool(rows.going_up[row])
        other = np.flatnonzero(rows.down[row] if onset_up else rows.up[row])
        if other.size >= 2 and other[0] < onset_index:
            onset_index, onset_up = int(other[0]), not onset_up
        onset_index = _excursion_start(
            rows.z[row], rows.valid[row], onset_index, floor=int(base.ends[row]), up=onset_up
        )
    peak_index = int(marks[np.argmax(rows.strength[row, marks])])
    anomaly = Anomaly(
        component=signal.component,
        signal=signal.name,
        instance=signal.instance,
        onset=float(timestamps[onset_index]),
        peak_ts=float(timestamps[peak_index]),
        value=float(np.median(rows.filled[row, marks])),
        baseline=float(base.median[row]),
        score=float(rows.score[row]),
        direction="up" if rows.going_up[row] else "down",
        query=signal.query,
        source=signal.source,
    )
    return Detection(
        signal=signal,
        anomaly=anomaly,
        exceedances=int(rows.count[row]),
        peak=float(rows.filled[row, peak_index]),
    )


Z_ONSET = 3.0  # how far from the baseline a point must be to belong to an excursion


def _excursion_start(
    z: FloatArray, valid: npt.NDArray[np.bool_], index: int, *, floor: int, up: bool
) -> int:
    """The first point of the excursion holding the first exceedance at ``index``.

    A signal that rises over a few minutes crosses the z threshold some steps
    after it left its normal band; the onset is where it left (consecutive
    points at least ``Z_ONSET`` out on the same side, not before ``floor``).
    """
    sign = 1.0 if up else -1.0
    while index - 1 >= floor and valid[index - 1] and sign * z[index - 1] > Z_ONSET:
        index -= 1
    return index
