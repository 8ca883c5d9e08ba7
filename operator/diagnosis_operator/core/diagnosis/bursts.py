"""Bursts of sparse events: when a quiet count became unlikely, and where the burst began.  Pure.

Sparse event counts (deadlocks, error lines, failed requests...) have a zero
baseline where z-scores mean nothing: they are judged by how unlikely their
densest burst is under the rate before it (``burst_test``, Poisson tail), and
the burst's start is found by a Poisson CUSUM (``cusum_start`` on counts per
grid step, ``burst_start`` on event times).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from diagnosis_operator.core.diagnosis.signal_types import SCORE_CAP, FloatArray, Signal, SignalKind
from diagnosis_operator.core.diagnosis.stats import poisson_tail

BURST_SPAN = 180.0  # seconds over which a burst of sparse events is counted
BURST_P = 1e-4  # a burst at least this unlikely under the baseline rate is anomalous
RARE_RATIO_MIN_EVENTS = 10  # failed requests a burst of a ratio's events must hold


def count_scale(signal: Signal, step: float) -> float:
    """Pure: what turns a signal's values into event counts per step (0: not a count)."""
    if signal.kind is SignalKind.RATE:
        return step
    if signal.kind in (SignalKind.LOG_LINES, SignalKind.LOG_SIGNIFICANT):
        return 1.0
    return 0.0


def has_requests(signal: Signal, timestamps: FloatArray) -> bool:
    return signal.requests is not None and signal.requests.shape == timestamps.shape


def requests_or(signal: Signal, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """The requests behind a ratio's events per step; one per valid step for other counts."""
    requests = signal.requests
    if requests is not None and requests.shape == valid.shape:
        return np.nan_to_num(requests, nan=0.0)
    return valid.astype(np.float64)


def burst_test(
    counts: FloatArray,
    valid: npt.NDArray[np.bool_],
    *,
    step: float,
    min_start: int,
    exposure: FloatArray | None = None,
    by_exposure: npt.NDArray[np.bool_] | None = None,
) -> tuple[FloatArray, npt.NDArray[np.intp], npt.NDArray[np.bool_]]:
    """Score sparse count rows by their first sufficiently unlikely burst.

    Every ``BURST_SPAN`` window starting at or after ``min_start`` is judged
    against the rate of everything before it, taken at a cautious upper bound
    (``(n + 1 + sqrt(n + 1)) / steps``): a baseline picked because it happened
    to be quiet, or a short one, must not make ordinary noise look like a
    burst.  Rows marked in ``by_exposure`` count events per unit of their
    ``exposure`` row (failed requests per request), so that traffic that
    grows brings proportionally more failures without a burst, and their
    bursts must hold ``RARE_RATIO_MIN_EVENTS`` events (a few unlucky requests
    are no burst, however unlikely).  Returns (score, onset index, marks): the
    score is 2.5 * -log10(p) of the most unlikely window, the onset the first
    event of the first window with p < BURST_P, the marks the events from
    there on.
    """
    rows, size = counts.shape
    column = np.arange(size)[None, :]
    events_per_step = np.where(valid, counts, 0.0)
    cum = np.zeros((rows, size + 1))
    np.cumsum(events_per_step, axis=1, out=cum[:, 1:])
    per_request = (by_exposure if by_exposure is not None else np.zeros(rows, dtype=bool))[:, None]
    units = np.where(per_request, exposure if exposure is not None else 0.0, valid)
    seen = np.zeros((rows, size + 1))
    np.cumsum(units, axis=1, out=seen[:, 1:])
    width = max(2, round(BURST_SPAN / step))
    stop = np.minimum(np.arange(size) + width, size)
    window_sums = cum[:, stop] - cum[:, :size]
    before = cum[:, :size]
    rate = (before + 1.0 + np.sqrt(before + 1.0)) / np.maximum(seen[:, :size], 1.0)
    expected = np.where(per_request, rate * (seen[:, stop] - seen[:, :size]), rate * width)
    # no fewer events than expected is never unlikely: only the others are summed
    observed = np.rint(window_sums).astype(np.int64)
    p = poisson_tail(np.where(observed > expected, observed, 0), expected)
    p = np.where(column >= min_start, p, 1.0)
    p = np.where(per_request & (observed < RARE_RATIO_MIN_EVENTS), 1.0, p)
    min_p = p.min(axis=1)
    score = np.minimum(SCORE_CAP, 2.5 * -np.log10(np.maximum(min_p, 1e-40)))
    first_window = _burst_starts(
        p < BURST_P,
        events_per_step=events_per_step,
        stop=stop,
        expected=expected,
        window_sums=window_sums,
        width=width,
    )
    events = events_per_step > 0
    onset_mask = events & (column >= first_window[:, None])
    onset = np.where(onset_mask.any(axis=1), np.argmax(onset_mask, axis=1), size)
    score = np.where(onset < size, score, 0.0)
    return score, onset.astype(np.intp), onset_mask


def _burst_starts(
    hit: npt.NDArray[np.bool_],
    *,
    events_per_step: FloatArray,
    stop: npt.NDArray[np.intp],
    expected: FloatArray,
    window_sums: FloatArray,
    width: int,
) -> npt.NDArray[np.intp]:
    """Per row, where the burst in its first unlikely window (``hit``) began (its size: none)."""
    size = events_per_step.shape[1]
    first_window: npt.NDArray[np.intp] = np.where(hit.any(axis=1), np.argmax(hit, axis=1), size)
    for row in np.flatnonzero(first_window < size):
        start = int(first_window[row])
        first_window[row] = cusum_start(
            events_per_step[row],
            start=start,
            stop=int(stop[start]),
            usual=float(expected[row, start]) / width,
            burst=float(window_sums[row, start : int(stop[start])].max()) / width,
        )
    return first_window


def cusum_start(counts: FloatArray, *, start: int, stop: int, usual: float, burst: float) -> int:
    """Where the burst in the first unlikely window ``[start, stop)`` began (Poisson CUSUM).

    The window is the first that is unlikely, but it may open with ordinary
    events that merely precede the burst.  The CUSUM statistic with the
    reference value between the usual rate and the burst's (the densest
    window's) climbs through the burst; the burst began right after the
    statistic was last at zero.
    """
    reference = _cusum_reference(usual=usual, burst=burst)
    if reference is None:
        return start
    level = 0.0
    began = start
    for index in range(start, stop):
        level = max(0.0, level + float(counts[index]) - reference)
        if level == 0.0:
            began = index + 1
    return min(began, stop - 1)


def burst_start(stamps: Sequence[float], *, index: int, span: float, usual_rate: float) -> int:
    """Pure: the first event of the burst in the unlikely stretch opened by ``stamps[index]``.

    The stretch may open with ordinary events that merely precede the burst.
    A Poisson CUSUM over the stretch (each event adds one, time takes away the
    reference rate between the usual rate and the stretch's rate) climbs
    through the burst; the burst starts at the event after which it never
    returned to zero.
    """
    end = bisect.bisect_left(stamps, stamps[index] + span)
    reference = _cusum_reference(usual=usual_rate, burst=(end - index) / span)
    if reference is None:
        return index
    level = 0.0
    began = index
    previous = stamps[index]
    for position in range(index, end):
        level = max(0.0, level - reference * (stamps[position] - previous))
        previous = stamps[position]
        if level == 0.0:
            began = position
        level += 1.0
    return began


def _cusum_reference(*, usual: float, burst: float) -> float | None:
    """The Poisson CUSUM's reference rate between ``usual`` and ``burst`` (None: no burst)."""
    usual = max(usual, 1e-9)
    if burst <= usual:
        return None
    return (burst - usual) / math.log(burst / usual)
