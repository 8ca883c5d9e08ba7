"""Where a signal's baseline ends, and whether it departs from the baseline's trend.  Pure.

A two-segment least-squares split (applied twice, so that a burst that came
and went is not taken for the baseline) places the end of the baseline, no
later than the first run of points that leaves the opening stretch for good.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from diagnosis_operator.core.diagnosis.signal_types import (
    Z_THRESHOLD,
    FloatArray,
    baseline_head,
    baseline_points,
)


def fill_gaps(matrix: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Forward-fill then back-fill NaNs along each row; also return the valid mask."""
    valid = np.isfinite(matrix)
    rows, cols = matrix.shape
    index = np.where(valid, np.arange(cols)[None, :], 0)
    np.maximum.accumulate(index, axis=1, out=index)
    filled = matrix[np.arange(rows)[:, None], index]
    first_valid = np.argmax(valid, axis=1)
    leading = np.arange(cols)[None, :] < first_valid[:, None]
    filled = np.where(leading, matrix[np.arange(rows), first_valid][:, None], filled)
    filled = np.where(np.isfinite(filled), filled, 0.0)
    return filled, valid


def _best_split(
    cum1: FloatArray,
    cum2: FloatArray,
    *,
    lo: npt.NDArray[np.intp],
    hi: npt.NDArray[np.intp],
    end: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Best two-segment split k of x[0:end] per row with lo <= k <= hi; returns (k, gain)."""
    rows, width = cum1.shape  # cum has a leading 0 column: width = T + 1
    ks = np.arange(width)[None, :]
    row_index = np.arange(rows)
    s1_end = cum1[row_index, end][:, None]
    s2_end = cum2[row_index, end][:, None]
    n_end = end[:, None].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = cum2 - cum1**2 / ks
        right_n = n_end - ks
        right = (s2_end - cum2) - (s1_end - cum1) ** 2 / right_n
        cost = left + right
        total = s2_end[:, 0] - s1_end[:, 0] ** 2 / n_end[:, 0]
    allowed = (ks >= lo[:, None]) & (ks <= hi[:, None])
    cost = np.where(allowed & np.isfinite(cost), cost, np.inf)
    best = np.argmin(cost, axis=1)
    best_cost = cost[row_index, best]
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(total > 1e-12, 1.0 - best_cost / total, 0.0)
    gain = np.where(np.isfinite(best_cost), gain, 0.0)
    return best.astype(np.intp), gain


def baseline_end(values: FloatArray) -> npt.NDArray[np.intp]:
    """Pure: per row, the index where the baseline ends (exclusive).

    A least-squares two-segment split of the whole row; when the part before
    the split holds a strong change of its own (a burst that came and went),
    that earlier split is used instead.
    """
    rows, size = values.shape
    min_base = baseline_head(size)
    cum1 = np.zeros((rows, size + 1))
    cum2 = np.zeros((rows, size + 1))
    np.cumsum(values, axis=1, out=cum1[:, 1:])
    np.cumsum(values**2, axis=1, out=cum2[:, 1:])
    full = np.full(rows, size, dtype=np.intp)
    first, _ = _best_split(
        cum1,
        cum2,
        lo=np.full(rows, min_base, dtype=np.intp),
        hi=np.full(rows, size - 2, dtype=np.intp),
        end=full,
    )
    second, gain = _best_split(
        cum1, cum2, lo=np.full(rows, min_base, dtype=np.intp), hi=first - 2, end=first
    )
    use_second = (first - 2 >= min_base) & (gain > 0.5)
    split = np.where(use_second, second, first)
    return np.minimum(split, first_departure(values, min_base=min_base))


DEPARTURE_RUN = 3  # consecutive points beyond the opening stretch that end a baseline


def first_departure(values: FloatArray, *, min_base: int) -> npt.NDArray[np.intp]:
    """Pure: per row, the first index where the row leaves its opening stretch for good.

    The opening ``min_base`` points give a robust level and spread; the first
    run of ``DEPARTURE_RUN`` points beyond both the z threshold and the opening
    envelope, all on the same side, ends the baseline (the row's length when
    there is none).  A least-squares split alone puts the end of the baseline
    at the biggest change, which for an excursion that rose, fell back and rose
    again (a cache that filled up, crashed and came back) is inside the
    excursion, and the excursion would then count as normal.
    """
    rows, size = values.shape
    if size < min_base + DEPARTURE_RUN:
        return np.full(rows, size, dtype=np.intp)
    head = values[:, :min_base]
    level = np.median(head, axis=1)
    deviation = np.abs(head - level[:, None])
    scale = np.maximum.reduce(
        [
            1.4826 * np.median(deviation, axis=1),
            1.2533 * deviation.mean(axis=1),
            0.02 * np.abs(level),
            1e-9 * (1.0 + np.abs(level)),
        ]
    )
    z = (values - level[:, None]) / scale[:, None]
    above = (z > Z_THRESHOLD) & (values > head.max(axis=1)[:, None])
    below = (z < -Z_THRESHOLD) & (values < head.min(axis=1)[:, None])
    found = np.full(rows, size, dtype=np.intp)
    for side in (above, below):
        run = side[:, : size - DEPARTURE_RUN + 1].copy()
        for offset in range(1, DEPARTURE_RUN):
            run &= side[:, offset : size - DEPARTURE_RUN + 1 + offset]
        run[:, :min_base] = False
        has = run.any(axis=1)
        found = np.where(has, np.minimum(found, np.argmax(run, axis=1)), found)
    return found


TREND_T = 3.0  # t statistic a baseline's slope needs to be taken for a trend


def departs_from_trend(
    values: FloatArray,
    in_base: npt.NDArray[np.bool_],
    *,
    after: npt.NDArray[np.bool_],
    scale: FloatArray,
    going_up: npt.NDArray[np.bool_],
    z_limit: float,
) -> npt.NDArray[np.bool_]:
    """Pure: per row, whether it departs from its baseline's trend, not only its level.

    The least-squares line through the baseline points (``in_base``) is the
    row's trend when its slope is clear (t >= ``TREND_T``); otherwise the
    trend is flat and this test is the level test again.  A row departs when,
    after its baseline, at least two points (or one twice as far) lie beyond
    ``z_limit`` baseline spreads (``scale``) from the trend carried forward,
    in the row's direction.  Traffic that was already growing at that pace (a
    morning ramp) does not depart; a level shift, a spike or a ramp that
    starts or steepens within the window does.
    """
    rows, size = values.shape
    x = np.broadcast_to(np.arange(size, dtype=np.float64), (rows, size))
    weight = in_base.astype(np.float64)
    n = weight.sum(axis=1)
    safe_n = np.maximum(n, 1.0)
    mean_x = (weight * x).sum(axis=1) / safe_n
    mean_y = (weight * values).sum(axis=1) / safe_n
    dx = np.where(in_base, x - mean_x[:, None], 0.0)
    dy = np.where(in_base, values - mean_y[:, None], 0.0)
    spread = (dx * dx).sum(axis=1)
    has_spread = (spread > 0) & (n >= baseline_points(size))
    slope = np.where(has_spread, (dx * dy).sum(axis=1) / np.where(has_spread, spread, 1.0), 0.0)
    residual = np.where(in_base, dy - slope[:, None] * dx, 0.0)
    sigma = np.sqrt((residual * residual).sum(axis=1) / np.maximum(n - 2.0, 1.0))
    slope_error = sigma / np.sqrt(np.where(has_spread, spread, 1.0))
    clear = has_spread & (np.abs(slope) >= TREND_T * np.maximum(slope_error, 1e-12))
    slope = np.where(clear, slope, 0.0)
    trend = np.where(
        clear[:, None], mean_y[:, None] + slope[:, None] * (x - mean_x[:, None]), values
    )
    z = (values - trend) / scale[:, None]
    z = np.where(going_up[:, None], z, -z)
    beyond = after & (z > z_limit)
    count = beyond.sum(axis=1)
    strongest = np.where(beyond, z, 0.0).max(axis=1)
    departs = (count >= 2) | ((count == 1) & (strongest >= 2.0 * z_limit))
    result: npt.NDArray[np.bool_] = np.where(clear, departs, True)
    return result
