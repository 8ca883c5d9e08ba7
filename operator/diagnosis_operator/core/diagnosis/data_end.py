"""Where the data ends inside a window that runs past the last scrape.  Pure.

A range query repeats a series' newest sample for up to five minutes after it
(Prometheus' lookback), so a window that ends after the last scrape (a live
Diagnosis whose window reaches "now", a bundle cut short) shows every series
flat at its end: counters then read as a rate of zero and gauges as frozen,
which looks like a component that stopped.  When nothing at all changes in the
whole signal set during that tail, the tail is the lookback repeating, not the
system: its samples are dropped (absent, like a step with no data) instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from diagnosis_operator.models.signals import ComponentSignals, Series, Window

LOOKBACK = 300.0  # seconds: Prometheus' default query lookback delta


def _last_change(series: Series) -> float | None:
    values = series.values
    for index in range(len(values) - 1, 0, -1):
        if values[index] != values[index - 1]:
            return series.timestamps[index]
    return None


def data_end(
    components: Iterable[ComponentSignals], *, window: Window, step: float
) -> float | None:
    """Pure: the time after which only lookback repeats remain, or None (data to the end).

    The newest change of any series in the set; only a tail longer than one
    step and no longer than the lookback counts (a set silent for longer
    stopped for real, or never moved: that is for the detectors to judge).
    """
    changes = [
        ts
        for component in components
        for series in component.series
        if (ts := _last_change(series)) is not None
    ]
    if not changes:
        return None
    last = max(changes)
    tail = window.end - last
    if tail <= step or tail > LOOKBACK:
        return None
    return last


def without_tail(component: ComponentSignals, *, end: float, step: float) -> ComponentSignals:
    """Pure: the component's series without their samples later than one step past ``end``."""
    cut = end + step
    trimmed = tuple(_cut(series, cut) for series in component.series)
    return replace(component, series=tuple(s for s in trimmed if s.timestamps))


def _cut(series: Series, cut: float) -> Series:
    keep = sum(1 for ts in series.timestamps if ts <= cut)
    if keep == len(series.timestamps):
        return series
    return replace(series, timestamps=series.timestamps[:keep], values=series.values[:keep])
