"""Record a live window for an incident bundle: the series and log lines the live path reads.

Per topology component, the metrics are asked through the same query the live
collection sends (``SeriesSource.range_series`` of the component's selector at
the diagnosis step, see ``service/collect.py``), and the log lines through the
component's stream selector with no line filter (``LogSource.sample_lines``),
at most ``max_lines`` per component.  A component whose lines reach that cap is
named in ``truncated``: its bundle holds the oldest ``max_lines`` only.
"""

from __future__ import annotations

from dataclasses import dataclass

from diagnosis_operator.models.signals import Labels, LogStream, Series, Window
from diagnosis_operator.models.topology import Topology
from diagnosis_operator.ports import LogSource, SeriesSource

DEFAULT_MAX_LINES = 200_000


@dataclass(frozen=True, slots=True)
class Recording:
    series: tuple[Series, ...]
    streams: tuple[LogStream, ...]
    truncated: tuple[str, ...]


def record_window(
    *,
    topology: Topology,
    window: Window,
    step: float,
    series: SeriesSource,
    logs: LogSource,
    max_lines: int = DEFAULT_MAX_LINES,
    lookback: float = 0.0,
) -> Recording:
    """Every component's series and log lines over ``window``; a failed query raises."""
    if max_lines <= 0:
        raise ValueError(f"max_lines must be positive, got {max_lines}")
    if lookback < 0:
        raise ValueError(f"lookback must not be negative, got {lookback}")
    metrics_window = Window(start=window.start - lookback, end=window.end)
    found_series: dict[tuple[str, Labels], Series] = {}
    found_streams: dict[Labels, LogStream] = {}
    truncated: list[str] = []
    for component in topology:
        selector = dict(component.selector)
        for item in series.range_series(selector=selector, window=metrics_window, step=step):
            found_series.setdefault((item.name, item.labels), item)
        streams = logs.sample_lines(
            selector=selector, window=window, line_filter=None, limit=max_lines
        )
        if sum(len(stream.lines) for stream in streams) >= max_lines:
            truncated.append(component.name)
        for stream in streams:
            found_streams.setdefault(stream.labels, stream)
    return Recording(
        series=tuple(found_series.values()),
        streams=tuple(found_streams.values()),
        truncated=tuple(truncated),
    )
