"""The PromQL subset of ``models.promql_subset`` evaluated over a bundle, as Prometheus does.

A range query at every instant ``start + k*step`` (milliseconds, like
Prometheus); an instant vector takes the newest sample within the 5 minute
lookback; a range ``[r]`` holds the samples in ``[t - r, t]`` (Prometheus 2.x, the
version this project runs against); ``rate`` / ``increase`` follow Prometheus' ``extrapolatedRate``
(counter resets, extrapolation to the range's edges within 110 % of the
average sample interval, never below zero for counters); ``irate`` uses the
last two samples, ``last_over_time`` the newest.  Aggregations drop every label but the ``by`` ones.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from diagnosis_operator.models.bundle import Bundle, Float64Array, Int64Array, StoredSeries
from diagnosis_operator.models.promql_subset import SubsetQuery
from diagnosis_operator.models.signals import Labels, MetricType, Series, Window
from diagnosis_operator.models.timefmt import prometheus_ms, prometheus_step_ms

LOOKBACK_MS = 5 * 60 * 1000
# Each answer is computed over the instants at once: the values, and which
# instants have one (a series is absent where it has no sample in range).
BoolArray = npt.NDArray[np.bool_]
_Values = tuple[str, Labels, Float64Array, BoolArray]
_KEEP_NAME = (None, "last_over_time")


def evaluate(bundle: Bundle, query: SubsetQuery, *, window: Window, step: float) -> list[Series]:
    """The answer of ``query`` over ``window`` at ``step`` (raises ``ValueError`` on a bad step)."""
    step_ms = prometheus_step_ms(step)
    start_ms, end_ms = prometheus_ms(window.start), prometheus_ms(window.end)
    instants = start_ms + step_ms * np.arange((end_ms - start_ms) // step_ms + 1, dtype=np.int64)
    wanted = {**({"__name__": query.metric} if query.metric else {}), **query.equalities}
    # In Prometheus' order (by label set, the name included): sums add up alike.
    picked = sorted(
        (
            stored
            for stored in bundle.series_of(wanted)
            if all(m.matches(_label(stored, m.name)) for m in query.matchers)
        ),
        key=_storage_order,
    )
    # Functions drop the metric name, except last_over_time (as in Prometheus).
    named = query.function in _KEEP_NAME
    per_series: list[_Values] = [
        (stored.name if named else "", stored.labels, *_values(stored, query, instants))
        for stored in picked
    ]
    if query.aggregation is not None:
        per_series = _aggregate(per_series, query)
    seconds = instants / 1000.0
    types = {stored.name: stored.type for stored in picked}
    out = [
        Series(
            name=name,
            labels=labels,
            timestamps=tuple(seconds[present].tolist()),
            values=tuple(values[present].tolist()),
            type=types.get(name, MetricType.UNKNOWN) if name else MetricType.GAUGE,
        )
        for name, labels, values, present in per_series
        if bool(present.any())
    ]
    out.sort(key=lambda series: (series.name, tuple(series.labels.items())))
    return out


def _storage_order(stored: StoredSeries) -> list[tuple[str, str]]:
    return sorted([("__name__", stored.name), *stored.labels.items()])


def _label(stored: StoredSeries, name: str) -> str | None:
    return stored.name if name == "__name__" else stored.labels.get(name)


def _values(
    stored: StoredSeries, query: SubsetQuery, instants: Int64Array
) -> tuple[Float64Array, BoolArray]:
    """The series' value at every instant, and where it has one."""
    stamps = stored.timestamps_ms
    if query.function is None:
        # An instant vector: the newest sample within the lookback, at every instant.
        newest = np.searchsorted(stamps, instants, side="right") - 1
        clipped = np.maximum(newest, 0)
        present = (newest >= 0) & (stamps[clipped] >= instants - LOOKBACK_MS)
        return stored.values[clipped], present
    assert query.range_seconds is not None  # the parser gives functions a range
    if query.function == "last_over_time":
        # The newest sample in [at - range, at] (Prometheus 2.x: closed at both ends).
        range_ms = round(query.range_seconds * 1000)
        low = np.searchsorted(stamps, instants - range_ms, side="left")
        high = np.searchsorted(stamps, instants, side="right")
        return stored.values[np.maximum(high - 1, 0)], high > low
    found = [_value_at(stored, query, int(at)) for at in instants.tolist()]
    present = np.fromiter((value is not None for value in found), dtype=bool, count=len(found))
    values = np.fromiter(
        (0.0 if value is None else value for value in found), dtype=np.float64, count=len(found)
    )
    return values, present


def _value_at(stored: StoredSeries, query: SubsetQuery, at: int) -> float | None:
    stamps: Int64Array = stored.timestamps_ms
    assert query.range_seconds is not None  # the parser gives functions a range
    range_ms = round(query.range_seconds * 1000)
    # Prometheus 2.x selects a range closed at both ends: [at - range, at].
    low = int(np.searchsorted(stamps, at - range_ms, side="left"))
    high = int(np.searchsorted(stamps, at, side="right"))
    if query.function == "last_over_time":
        return float(stored.values[high - 1]) if high > low else None
    if high - low < 2:
        return None
    times = stamps[low:high].tolist()
    values = stored.values[low:high].tolist()
    if query.function == "irate":
        return _irate(times, values)
    return _extrapolated(
        times, values, start=at - range_ms, end=at, per_second=query.function == "rate"
    )


def _irate(times: Sequence[int], values: Sequence[float]) -> float:
    last, previous = values[-1], values[-2]
    change = last if last < previous else last - previous
    return change / ((times[-1] - times[-2]) / 1000.0)


def _extrapolated(
    times: Sequence[int], values: Sequence[float], *, start: int, end: int, per_second: bool
) -> float:
    """Prometheus' ``extrapolatedRate`` for a counter over ``[start, end]``."""
    result = values[-1] - values[0]
    for previous, current in itertools.pairwise(values):
        if current < previous:
            result += previous
    sampled = (times[-1] - times[0]) / 1000.0
    average = sampled / (len(times) - 1)
    to_start = (times[0] - start) / 1000.0
    to_end = (end - times[-1]) / 1000.0
    if result > 0 and values[0] >= 0:
        to_zero = sampled * (values[0] / result)
        to_start = min(to_start, to_zero)
    threshold = average * 1.1
    interval = sampled
    interval += to_start if to_start < threshold else average / 2
    interval += to_end if to_end < threshold else average / 2
    result *= interval / sampled
    if per_second:
        result /= (end - start) / 1000.0
    return result if math.isfinite(result) else 0.0


def _aggregate(per_series: list[_Values], query: SubsetQuery) -> list[_Values]:
    by_name = "__name__" in query.by
    groups: dict[tuple[str, Labels], list[tuple[Float64Array, BoolArray]]] = {}
    for name, labels, values, present in per_series:
        key = Labels({label: labels[label] for label in query.by if labels.get(label)})
        groups.setdefault((name if by_name else "", key), []).append((values, present))
    return [
        (name, key, *_combined(members, query.aggregation or "sum"))
        for (name, key), members in groups.items()
    ]


def _combined(
    members: list[tuple[Float64Array, BoolArray]], aggregation: str
) -> tuple[Float64Array, BoolArray]:
    """The members combined at each instant, over those present there.

    Member by member in order, as Python's ``sum``, ``min`` and ``max`` over
    the present values would (the same additions in the same order, the same
    comparisons): the answer is bit for bit the one of a loop per instant.
    """
    size = len(members[0][0])
    count = np.zeros(size, dtype=np.int64)
    total = np.zeros(size, dtype=np.float64)
    chosen = np.zeros(size, dtype=np.float64)
    for values, present in members:
        if aggregation in ("sum", "avg"):
            total = np.where(present, total + values, total)
        elif aggregation in ("min", "max"):
            better = values < chosen if aggregation == "min" else values > chosen
            chosen = np.where(present & ((count == 0) | better), values, chosen)
        count += present
    seen = count > 0
    if aggregation == "count":
        return count.astype(np.float64), seen
    if aggregation == "avg":
        return total / np.maximum(count, 1), seen
    return (total if aggregation == "sum" else chosen), seen
