"""Counters on the grid: which series are counters, and their per-second rates.  Pure.

Counters (declared so, or, with no declared type, named ``*_total``/``*_count``/
``*_sum`` or non-decreasing over the window) become per-second rates with
Prometheus' reset rule (a drop means the counter restarted from zero), over
the period their real samples are apart.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from diagnosis_operator.core.diagnosis.signal_types import FloatArray
from diagnosis_operator.models.signals import MetricType

COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
# Prometheus' naming conventions: a metric carries its base unit as a suffix,
# and an accumulating count adds ``_total`` after it; a name that ends in a
# unit is therefore a level (memory in bytes, a lag in seconds), however it
# moves.  https://prometheus.io/docs/practices/naming/#metric-names
GAUGE_UNIT_SUFFIXES = (
    "_bytes",
    "_seconds",
    "_ratio",
    "_percent",
    "_celsius",
    "_volts",
    "_amperes",
    "_joules",
    "_meters",
    "_grams",
)


def is_counter_name(name: str) -> bool:
    """Pure: names that Prometheus conventions reserve for counters."""
    return name.endswith(COUNTER_SUFFIXES)


def is_counter(name: str, declared: MetricType, values: FloatArray) -> bool:
    """Pure: whether a series is a counter (its rate is the signal) or a gauge.

    A declared type (``# TYPE`` in a bundle, Prometheus' metadata live) decides:
    a gauge that only grows (replication lag, a WAL distance, a leak) is still a
    level, never a rate, and a summary's quantiles are levels while its
    ``_count`` and ``_sum`` count.  Without a declared type, the naming
    conventions decide (``_total``: a counter; a unit suffix: a gauge), then
    monotonicity.
    """
    if declared is MetricType.GAUGE:
        return False
    if declared is MetricType.COUNTER:
        return True
    if declared in (MetricType.HISTOGRAM, MetricType.SUMMARY):
        return is_counter_name(name)
    if is_counter_name(name):
        return True
    return not name.endswith(GAUGE_UNIT_SUFFIXES) and looks_monotonic(values)


def looks_monotonic(values: FloatArray) -> bool:
    finite = values[np.isfinite(values)]
    if finite.size < 4:
        return False
    diffs = np.diff(finite)
    return bool((diffs >= 0).all() and int((diffs > 0).sum()) >= 3 and finite[-1] > finite[0])


def counter_rate(values: FloatArray, *, step: float, period: int | None = None) -> FloatArray:
    """Pure: per-second increase of a counter on the grid; a drop is a counter reset.

    The increase is taken over one sample period (``sample_periods``; given
    or found from the values): a counter scraped every step gives the
    increase since the previous step; one whose samples the range query
    repeats (scraped less often than the grid steps) gives the increase since
    its previous real sample, spread over the time between them, as ``rate``
    over a range of two scrapes does, instead of zero at a repeat and double
    at the next change.
    """
    rate = np.full(values.shape, np.nan, dtype=np.float64)
    if values.size < 2:
        return rate
    diffs = np.diff(values)
    increase = np.where(diffs < 0, values[1:], diffs)
    if period is None:
        period = int(sample_periods(values[None, :])[0])
    if period <= 1:
        rate[1:] = increase / step
        return rate
    cumulative = np.concatenate(([0.0], np.cumsum(np.where(np.isfinite(increase), increase, 0.0))))
    # cumulative[i] is the increase up to grid point i
    windowed = cumulative[period:] - cumulative[:-period]
    rate[period:] = np.where(np.isfinite(values[period:]), windowed / (period * step), np.nan)
    return rate


SAMPLE_PERIOD_MAX = 20  # grid steps; samples further apart leave gaps (5 min lookback)
SAMPLE_PERIOD_MIN_CHANGES = 8
SAMPLE_PERIOD_SHARE = 0.8


def sample_periods(values: FloatArray) -> npt.NDArray[np.intp]:
    """Pure: per row, how many grid steps apart a counter's real samples are (1: every step).

    A range query repeats the newest sample at every step until the next one
    (lookback), so a counter scraped every 30 s on a 15 s grid changes at
    every other step only, and nearly all (``SAMPLE_PERIOD_SHARE``) the gaps
    between its changes are multiples of that period; the longest such period
    is the row's.  A counter scraped at every step, or a sparse one that
    moves now and then, shows no such period (or too few changes to tell) and
    keeps 1.
    """
    rows, size = values.shape
    periods = np.ones(rows, dtype=np.intp)
    if size < SAMPLE_PERIOD_MIN_CHANGES + 2:
        return periods
    with np.errstate(invalid="ignore"):
        steps = np.diff(values, axis=1)
        change = np.isfinite(steps) & (steps != 0)  # across a gap: not seen as a change
    counted = change.sum(axis=1) - 1  # gaps between consecutive changes
    needed = SAMPLE_PERIOD_SHARE * np.maximum(counted, 1)
    # a gap of one step is a multiple of no longer period: many of them rule all out
    one_step = (change[:, 1:] & change[:, :-1]).sum(axis=1)
    candidates = np.flatnonzero(
        (counted >= SAMPLE_PERIOD_MIN_CHANGES) & (one_step <= counted - needed)
    )
    if candidates.size == 0:
        return periods
    rows_at, columns_at = np.nonzero(change[candidates])  # row-major: columns ascend per row
    same_row = rows_at[1:] == rows_at[:-1]
    gap_rows = rows_at[1:][same_row]
    gaps = (columns_at[1:] - columns_at[:-1])[same_row]
    found = np.ones(candidates.size, dtype=np.intp)
    for period in range(2, SAMPLE_PERIOD_MAX + 1):
        share = np.bincount(gap_rows, weights=gaps % period == 0, minlength=candidates.size)
        found = np.where(share >= needed[candidates], period, found)
    periods[candidates] = found
    return periods
