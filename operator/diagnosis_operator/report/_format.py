"""Pure formatting of times, durations and numbers for the report's sentences."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from diagnosis_operator.models.signals import Window, from_seconds

# Enough to read a chain row; the rest stays in the JSON.
MAX_EVENTS_PER_CHAIN_ROW = 4


def _is_same_day(window: Window) -> bool:
    return from_seconds(window.start).date() == from_seconds(window.end).date()


def stamp(ts: float) -> str:
    """``2025-12-11 09:07:07Z`` (milliseconds only when there are some)."""
    moment = from_seconds(ts)
    text = moment.strftime("%Y-%m-%d %H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond // 1000:03d}"
    return text + "Z"


def clock(ts: float, *, window: Window) -> str:
    """Time of day when the window is within one day, else the full stamp."""
    if _is_same_day(window):
        return from_seconds(ts).strftime("%H:%M:%S")
    return stamp(ts)


def duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 1:
        return "under a second"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def num(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    if value == int(value) and abs(value) < 1e15:
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:.2f}".rstrip("0").rstrip(".")
    return f"{value:.3g}"


def percent(fraction: float) -> str:
    return f"{fraction * 100:.0f}%"


def span(first: float | None, last: float | None, *, window: Window) -> str:
    if first is None:
        return "—"
    if last is None or last - first < 1:
        return clock(first, window=window)
    return f"{clock(first, window=window)}–{clock(last, window=window)}"


def limited(texts: Iterable[str], limit: int = MAX_EVENTS_PER_CHAIN_ROW) -> list[str]:
    unique: list[str] = []
    for text in texts:
        if text not in unique:
            unique.append(text)
    if len(unique) > limit:
        return [*unique[:limit], f"and {len(unique) - limit} more"]
    return unique


def params_text(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(params.items()))


def short(text: str, limit: int = 30) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
