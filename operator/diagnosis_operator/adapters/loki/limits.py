"""Loki's query limits, and the pure arithmetic that keeps requests within them."""

from __future__ import annotations

from collections.abc import Iterable

from diagnosis_operator.models.signals import Labels, LogCount, Window

# Loki refuses a range query with more than this many steps per series.
MAX_POINTS_PER_SERIES = 11_000
# Loki's max_entries_limit_per_query default.
DEFAULT_MAX_ENTRIES = 5_000
# Loki's max_query_length default (721h).
DEFAULT_MAX_QUERY_LENGTH = 721 * 3600.0


def metric_chunks(
    *, window: Window, step: float, max_points: int, max_length: float
) -> list[tuple[float, float]]:
    """Split ``window`` into ``(start, end)`` pieces on the same step grid.  Pure.

    Each piece has at most ``max_points`` steps per series (Loki counts
    ``(end - start) // step``, which must not exceed 11,000) and spans at most
    ``max_length`` seconds.
    """
    if step <= 0:
        raise ValueError(f"step must be positive, got {step!r}")
    total_steps = int((window.end - window.start) // step)
    per_chunk = max(1, min(max_points, int(max_length // step)))
    chunks: list[tuple[float, float]] = []
    first = 0
    while first <= total_steps:
        last = min(first + per_chunk - 1, total_steps)
        chunks.append((window.start + first * step, window.start + last * step))
        first = last + 1
    return chunks


def default_step(window: Window) -> float:
    """Loki's own default step: duration/250 seconds, at least 1, within 11,000 points.  Pure."""
    seconds = max(float(int(window.duration // 250)), 1.0)
    while window.duration / seconds > MAX_POINTS_PER_SERIES:
        seconds += 1.0
    return seconds


def merge_counts(parts: Iterable[LogCount]) -> list[LogCount]:
    """The pieces of split metric queries joined again, one series per label set.  Pure."""
    merged: dict[Labels, dict[float, float]] = {}
    for part in parts:
        points = merged.setdefault(part.labels, {})
        points.update(zip(part.timestamps, part.values, strict=True))
    return [
        LogCount(
            labels=labels,
            timestamps=tuple(sorted(points)),
            values=tuple(points[ts] for ts in sorted(points)),
        )
        for labels, points in merged.items()
    ]
