"""Skewed host clocks: log lines read at the time they happened, not as stamped.  Pure.

Metric samples carry Prometheus' time (the scrape's), log lines the time of the
host that wrote them.  A host whose clock runs minutes slow writes lines that
seem to predate what its own metrics, and its callers' lines, show of the same
events: ordered as stamped, that host "went bad first" and is blamed for a
chain it only followed.  A senior engineer notices the clock before believing
the order: the host's own clock reading (``catalog.clocks.CLOCK_SERIES``,
gathered during the scrape) sits a constant distance from the scrape's
timestamp.

``clock_offsets`` measures that distance per host; ``corrected`` moves the
log lines (and log-derived counts) of a skewed host by it, so every event is
ordered on one clock.  Lines moved out of the window are left out (they
happened after it ended, or before it began).
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from diagnosis_operator.catalog.clocks import CLOCK_SERIES, HOST_LABELS, MIN_SKEW_SECONDS
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    LogLine,
    LogStream,
    Series,
    SignalSet,
    Window,
)

MIN_SAMPLES = 3  # clock readings needed to call an offset steady
STEADY_SHARE = 0.1  # readings may scatter by this share of the offset (a clock drifting slowly)
STEADY_FLOOR = 2.0  # ... or by this many seconds (scrape latency)


def host_of(instance: str) -> str:
    """Pure: the host part of an address label (``host:port``, ``[v6]:port``, a bare host)."""
    if instance.startswith("["):
        return instance[1 : instance.find("]")] if "]" in instance else instance
    if instance.count(":") == 1:
        return instance.split(":", 1)[0]
    return instance


def hosts_of(labels: Mapping[str, str]) -> frozenset[str]:
    """Pure: every name of the host a series or stream comes from (``HOST_LABELS``)."""
    found = set()
    for name in HOST_LABELS:
        value = labels.get(name)
        if value:
            found.add(host_of(value) if name == "instance" else value)
    return frozenset(found)


def series_offset(series: Series, *, step: float = 0.0) -> float | None:
    """Pure: how far a host's clock reading runs behind the scrape time, if steadily skewed.

    Positive: the host's clock is slow (its lines are stamped early); negative:
    fast.  ``None`` when the readings are too few, scatter (no steady offset),
    or sit within ``MIN_SKEW_SECONDS`` of the scrape time (a clock in step).
    A range query answers at each ``step`` the newest reading before it, up to
    a step old: the offset is taken half a step short of the median distance
    (within half a step of the truth), and a clock in step reads up to a step
    behind.
    """
    gaps = [ts - value for ts, value in zip(series.timestamps, series.values, strict=True)]
    gaps = [g for g in gaps if g == g]  # NaN readings (a failed collector) say nothing
    if len(gaps) < MIN_SAMPLES:
        return None
    middle = statistics.median(gaps)
    scatter = statistics.median(abs(g - middle) for g in gaps)
    if scatter > max(STEADY_FLOOR + step / 2.0, STEADY_SHARE * abs(middle)):
        return None
    # The reading lags its step by 0 to ``step``: a clock in step reads 0 to
    # ``step`` behind, so a slow clock is only told beyond that.
    if -MIN_SKEW_SECONDS <= middle <= step + MIN_SKEW_SECONDS:
        return None
    return middle - step / 2.0


@dataclass(frozen=True, slots=True)
class HostClock:
    """A host whose clock runs ``offset`` seconds behind the scrapes (ahead when negative)."""

    names: frozenset[str]  # the host's names (address, node name) its series carry
    offset: float
    series: str  # the clock series that told


def clock_offsets(
    components: Iterable[ComponentSignals], *, step: float = 0.0
) -> tuple[HostClock, ...]:
    """Pure: every steadily skewed host the collected clock series show (``series_offset``)."""
    clocks: dict[frozenset[str], HostClock] = {}
    for component in components:
        for series in component.series:
            if series.name not in CLOCK_SERIES:
                continue
            names = hosts_of(series.labels)
            offset = series_offset(series, step=step)
            if names and offset is not None and names not in clocks:
                clocks[names] = HostClock(names=names, offset=offset, series=series.name)
    return tuple(clocks.values())


def _clock_of(labels: Labels, clocks: tuple[HostClock, ...]) -> HostClock | None:
    names = hosts_of(labels)
    return next((c for c in clocks if c.names & names), None) if names else None


def _moved_stream(stream: LogStream, offset: float, window: Window) -> LogStream:
    lines = tuple(
        LogLine(ts=line.ts + offset, line=line.line)
        for line in stream.lines
        if window.contains(line.ts + offset)
    )
    return replace(stream, lines=lines)


def _moved_count(count: LogCount, offset: float, window: Window) -> LogCount:
    kept = [
        (ts + offset, value)
        for ts, value in zip(count.timestamps, count.values, strict=True)
        if window.contains(ts + offset)
    ]
    return replace(count, timestamps=tuple(ts for ts, _ in kept), values=tuple(v for _, v in kept))


def _corrected_component(
    component: ComponentSignals, clocks: tuple[HostClock, ...], *, window: Window, step: float
) -> tuple[ComponentSignals, list[HostClock]]:
    """The component's log lines and counts on the scrape clock, and the clocks used."""
    used: list[HostClock] = []

    def clock(labels: Labels) -> HostClock | None:
        found = _clock_of(labels, clocks)
        if found is not None and found not in used:
            used.append(found)
        return found

    def count_moved(count: LogCount) -> LogCount:
        found = clock(count.labels)
        # A count is per step: it moves by whole steps, to stay on the grid.
        return (
            count
            if found is None
            else _moved_count(count, round(found.offset / step) * step, window)
        )

    streams = tuple(
        s if (found := clock(s.labels)) is None else _moved_stream(s, found.offset, window)
        for s in component.log_samples
    )
    counts = tuple(count_moved(c) for c in component.log_counts)
    extracted = {
        key: tuple(count_moved(c) for c in values) for key, values in component.extracted.items()
    }
    if not used:
        return component, used
    moved = replace(component, log_samples=streams, log_counts=counts, extracted=extracted)
    return moved, used


def corrected(signals: SignalSet) -> tuple[SignalSet, list[str]]:
    """Pure: the signal set with every skewed host's log lines on the scrape clock.

    Returns the set (the same object when no host is skewed) and one note per
    component whose lines were moved, naming the host, the offset and the
    series that measured it.
    """
    clocks = clock_offsets(signals.components.values(), step=signals.step)
    if not clocks:
        return signals, []
    notes: list[str] = []
    components: dict[str, ComponentSignals] = {}
    for name, component in signals.components.items():
        moved, used = _corrected_component(
            component, clocks, window=signals.window, step=signals.step
        )
        components[name] = moved
        for host in used:
            way = "behind" if host.offset > 0 else "ahead of"
            notes.append(
                f"{name}: the clock of host {'/'.join(sorted(host.names))} runs "
                f"{abs(host.offset):.0f} s {way} the scrapes ({host.series}); its log "
                f"lines are read {host.offset:+.0f} s from their stamps"
            )
    return replace(signals, components=components), notes
