"""RCAEval's BARO on an incident bundle's metrics, given the true onset.

BARO (Pham et al., FSE 2024) scores every metric by how far its values after
the onset leave the distribution before it (a RobustScaler fitted on the
normal period, score = max z after the onset) and ranks the metrics.  We give
it the bundle's metrics as RCAEval expects them: one row per timestamp, a
``time`` column and one column per series, counters turned into per-second
rates.  The top-ranked series' component (by the topology selectors) is
BARO's root cause.  BARO reads no logs and cannot answer "no incident" or
"outside clients", so those scenarios count as misses for it.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})?\s+(\S+)(?:\s+(\S+))?\s*$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class BaroOutcome:
    available: bool
    root_component: str | None
    ranked_components: tuple[str, ...]
    top_series: tuple[str, ...]
    series: int
    seconds: float  # BARO itself, not the parsing
    parse_seconds: float
    note: str = ""


def baro_unavailable_reason() -> str | None:
    """None when RCAEval's BARO imports, else why not (exactly)."""
    try:
        from RCAEval.e2e.baro import baro  # noqa: F401
    except Exception as error:
        return f"cannot import RCAEval.e2e.baro: {type(error).__name__}: {error}"
    return None


def _counter_names(types: Mapping[str, str]) -> tuple[set[str], set[str]]:
    monotonic = {name for name, kind in types.items() if kind in ("counter", "histogram")}
    summaries = {name for name, kind in types.items() if kind == "summary"}
    return monotonic, summaries


def _is_counter(sample: str, monotonic: set[str], summaries: set[str]) -> bool:
    if sample in monotonic or sample.endswith("_total"):
        return True
    for suffix in ("_total", "_bucket", "_sum", "_count", "_created"):
        if sample.endswith(suffix):
            base = sample[: -len(suffix)]
            if base in monotonic or (suffix in ("_sum", "_count") and base in summaries):
                return True
    return False


def read_metrics(
    path: Path,
) -> tuple[dict[str, dict[str, str]], dict[str, list[tuple[float, float]]], set[str]]:
    """Series id -> labels (with ``__name__``), series id -> samples, counter series ids."""
    types: dict[str, str] = {}
    labels_of: dict[str, dict[str, str]] = {}
    samples: dict[str, list[tuple[float, float]]] = {}
    raw_names: dict[str, str] = {}
    with path.open(encoding="utf-8") as source:
        for line in source:
            if line.startswith("#"):
                parts = line.split()
                if len(parts) >= 4 and parts[1] == "TYPE":
                    types[parts[2]] = parts[3]
                continue
            match = _SAMPLE.match(line)
            if not match or match.group(4) is None:
                continue
            name, label_text, value, stamp = match.groups()
            key = name + (label_text or "")
            if key not in labels_of:
                labels = dict(_LABEL.findall(label_text or ""))
                labels["__name__"] = name
                labels_of[key] = labels
                raw_names[key] = name
                samples[key] = []
            try:
                samples[key].append((float(stamp), float(value)))
            except ValueError:
                continue
    monotonic, summaries = _counter_names(types)
    counters = {key for key, name in raw_names.items() if _is_counter(name, monotonic, summaries)}
    return labels_of, samples, counters


def _frame(samples: Mapping[str, list[tuple[float, float]]], counters: set[str]) -> Any:
    import numpy as np
    import pandas as pd

    stamps = sorted({round(ts, 3) for points in samples.values() for ts, _ in points})
    position = {ts: index for index, ts in enumerate(stamps)}
    grid = np.array(stamps)
    columns: dict[str, Any] = {"time": grid}
    for key, points in samples.items():
        values = np.full(len(stamps), np.nan)
        for ts, value in points:
            values[position[round(ts, 3)]] = value
        column = pd.Series(values).ffill().bfill().to_numpy()
        if key in counters:
            rate = np.diff(column, prepend=column[0]) / np.diff(grid, prepend=grid[0] - 1.0)
            column = np.clip(rate, 0, None)  # a counter reset is not a negative rate
            column[0] = column[1] if len(column) > 1 else 0.0
        columns[key] = np.nan_to_num(column)
    return pd.DataFrame(columns)


def component_of(
    labels: Mapping[str, str], selectors: Sequence[tuple[str, Mapping[str, str]]]
) -> str | None:
    for name, selector in selectors:
        if all(labels.get(key) == value for key, value in selector.items()):
            return name
    return None


def run_baro(
    *, metrics: Path, onset: float, selectors: Sequence[tuple[str, Mapping[str, str]]]
) -> BaroOutcome:
    reason = baro_unavailable_reason()
    if reason is not None:
        return BaroOutcome(False, None, (), (), 0, math.nan, math.nan, reason)
    from RCAEval.e2e.baro import baro

    started = time.perf_counter()
    labels_of, samples, counters = read_metrics(metrics)
    frame = _frame(samples, counters)
    parsed = time.perf_counter()
    # A dataset name other than None makes RCAEval's preprocess drop the time
    # column and constant columns, as it does for its own datasets.
    outcome = baro(frame, inject_time=onset, dataset="incident-bundle")
    finished = time.perf_counter()
    ranks = [str(column) for column in outcome["ranks"]]
    components: list[str] = []
    for column in ranks:
        component = component_of(labels_of.get(column, {}), selectors)
        if component is not None and component not in components:
            components.append(component)
    return BaroOutcome(
        available=True,
        root_component=components[0] if components else None,
        ranked_components=tuple(components),
        top_series=tuple(ranks[:3]),
        series=len(samples),
        seconds=finished - parsed,
        parse_seconds=parsed - started,
    )
