"""Every metric series and log count of a component as a signal on the evaluation grid.  Pure.

The collector hands over raw metric series (values as stored, no ``rate``) and
log-derived counts, all on the same evaluation grid (``window.start + k*step``).
Every metric series becomes a signal on that grid (counters as per-second
rates, see ``counters``), the RED signals are derived where the labels allow
it (see ``derived``), and every log count becomes a signal too.

Nothing here reads a clock, the environment or the network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np
import numpy.typing as npt

from diagnosis_operator.catalog.failure_modes import catalog_kinds, is_self_metric
from diagnosis_operator.core.diagnosis.collected import ROUTE_STATUSES, SIGNIFICANT_LINES
from diagnosis_operator.core.diagnosis.counters import (
    COUNTER_SUFFIXES,
    counter_rate,
    is_counter,
    sample_periods,
)
from diagnosis_operator.core.diagnosis.derived import derived_signals
from diagnosis_operator.core.diagnosis.instances import PodKey, instance_names, instance_of
from diagnosis_operator.core.diagnosis.queries import rate_range, selector_text
from diagnosis_operator.core.diagnosis.route_refusals import route_refusal_signals
from diagnosis_operator.core.diagnosis.rule_refusals import rule_refusal_signals
from diagnosis_operator.core.diagnosis.signal_types import (
    FloatArray,
    Signal,
    SignalKind,
    SignalScores,
)
from diagnosis_operator.models.findings import EvidenceSource
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    Series,
    Window,
    policy_query_key,
)
from diagnosis_operator.models.topology import Component

_SKIPPED_SUFFIXES = ("_bucket", "_created", "_info")


def grid_timestamps(*, window: Window, step: float) -> FloatArray:
    """Pure: the evaluation timestamps of the window (range-query semantics)."""
    return np.fromiter(window.steps(step), dtype=np.float64)


def _grid_index(
    timestamps: Sequence[float], *, start: float, step: float, size: int
) -> npt.NDArray[np.intp]:
    index = np.rint((np.asarray(timestamps, dtype=np.float64) - start) / step).astype(np.intp)
    return np.clip(index, -1, size)


def on_grid(
    timestamps: Sequence[float],
    values: Sequence[float],
    *,
    start: float,
    step: float,
    size: int,
    fill: float,
) -> FloatArray:
    out = np.full(size, fill, dtype=np.float64)
    if not timestamps:
        return out
    index = _grid_index(timestamps, start=start, step=step, size=size)
    keep = (index >= 0) & (index < size)
    out[index[keep]] = np.asarray(values, dtype=np.float64)[keep]
    return out


def build_signals(*, component: ComponentSignals, window: Window, step: float) -> list[Signal]:
    """Pure: every metric series and log count of a component as signals on the grid."""
    size = len(grid_timestamps(window=window, step=step))
    signals: list[Signal] = []
    rates: dict[tuple[str, Labels], FloatArray] = {}
    pods = instance_names(series.labels for series in component.series)

    kept = [series for series in component.series if not series.name.endswith(_SKIPPED_SUFFIXES)]
    raws = [
        on_grid(
            series.timestamps, series.values, start=window.start, step=step, size=size, fill=np.nan
        )
        for series in kept
    ]
    counters = [
        is_counter(series.name, series.type, raw) for series, raw in zip(kept, raws, strict=True)
    ]
    counter_rows = [raw for raw, counter in zip(raws, counters, strict=True) if counter]
    periods = iter(sample_periods(np.vstack(counter_rows)).tolist() if counter_rows else [])
    built: list[tuple[Series, FloatArray, bool]] = []
    for series, raw, counter in zip(kept, raws, counters, strict=True):
        values = counter_rate(raw, step=step, period=next(periods)) if counter else raw
        if counter:
            rates[(series.name, series.labels)] = values
        built.append((series, values, counter))
    for series, values, counter in built:
        # A histogram's or summary's ``_sum`` moves only when requests end: it
        # is as sparse as its ``_count``, whose requests are its events.
        count = (
            rates.get((series.name[: -len("_sum")] + "_count", series.labels))
            if counter and series.name.endswith("_sum")
            else None
        )
        signals.append(
            _metric_signal(
                component.component,
                series,
                values,
                counter,
                step,
                pods=pods,
                events=None if count is None else count * step,
            )
        )

    signals.extend(derived_signals(component.component, rates, step, pods=pods))
    signals.extend(_policy_signals(component, window=window, step=step, size=size, pods=pods))
    signals.extend(_route_signals(component, window=window, step=step, size=size))
    signals.extend(_rule_signals(component, window=window, step=step, size=size))
    logs = _log_signals(component, window=window, step=step, size=size, pods=pods)
    spans = lifespans(kept, pods=pods, window=window, step=step)
    signals.extend(_within_lifespans(logs, spans, start=window.start, step=step))
    return signals


def _route_signals(
    component: ComponentSignals, *, window: Window, step: float, size: int
) -> list[Signal]:
    """An edge's served routes refused to every client (``route_refusals``), if any."""
    return route_refusal_signals(
        component=component.component,
        extracted=component.extracted,
        on_grid=lambda count: on_grid(
            count.timestamps, count.values, start=window.start, step=step, size=size, fill=0.0
        ),
        query=component.queries.get(ROUTE_STATUSES, ""),
    )


def _rule_signals(
    component: ComponentSignals, *, window: Window, step: float, size: int
) -> list[Signal]:
    """An edge's own access rules refusing most of its clients (``rule_refusals``), if any."""
    return rule_refusal_signals(
        component=component.component,
        extracted=component.extracted,
        streams=component.log_samples,
        on_grid=lambda count: on_grid(
            count.timestamps, count.values, start=window.start, step=step, size=size, fill=0.0
        ),
        query=component.queries.get(ROUTE_STATUSES, ""),
    )


def lifespans(
    series: Sequence[Series], *, pods: Mapping[PodKey, str], window: Window, step: float
) -> dict[str, tuple[float, float]]:
    """Pure: when each instance whose metric series began or ended inside the window was there.

    An instance that appears mid-window (a rollout's new pod, a canary, a
    scale-out) had no history before its first scrape, and one that left (a
    scale-in, a drain) has none after its last: its log counts there are no
    lines because there was no instance, not a quiet one.  Instances present
    from the window's start to its end are left out.
    """
    seen: dict[str, list[float]] = {}
    for one in series:
        if not one.timestamps:
            continue
        instance = instance_of(one.labels, pods=pods)
        if instance is None:
            continue
        span = seen.setdefault(instance, [one.timestamps[0], one.timestamps[-1]])
        span[0] = min(span[0], one.timestamps[0])
        span[1] = max(span[1], one.timestamps[-1])
    return {
        instance: (first, last)
        for instance, (first, last) in seen.items()
        if first > window.start + 2 * step or last < window.end - 2 * step
    }


# A new instance logging at most this many times what the others logged per
# instance before it came (plus a line per few steps) logs like they did.
LIKE_PEERS_FACTOR = 2.0
LIKE_PEERS_FLOOR = 0.5  # lines per step


def _within_lifespans(
    signals: list[Signal], spans: Mapping[str, tuple[float, float]], *, start: float, step: float
) -> list[Signal]:
    """Log signals without the steps when their instance was not there (NaN: no history).

    The instance was there from its first scrape or its first line, whichever
    came first, to its last scrape or its last line, whichever came last.  A
    new instance that logs far more than the others did per instance before
    it came (a bad release's first pod, a crash-looping replacement) keeps its
    quiet past: its lines are a rise against what instances of the component
    used to log, as a senior engineer would compare them.
    """
    out: list[Signal] = []
    for signal in signals:
        span = spans.get(signal.instance or "")
        if span is None:
            out.append(signal)
            continue
        values = signal.values.copy()
        grid = np.arange(values.size)
        born, gone = (max(0, int(np.rint((ts - start) / step))) for ts in span)
        lines = np.flatnonzero(np.nan_to_num(values) > 0)
        if lines.size:
            born, gone = min(born, int(lines[0])), max(gone, int(lines[-1]))
        peers = [s.values[:born] for s in signals if s.name == signal.name and s is not signal]
        if _logs_like_peers(values[born : gone + 1], peers):
            values[grid < born] = np.nan
        values[grid > gone] = np.nan
        out.append(replace(signal, values=values))
    return out


def _logs_like_peers(own: FloatArray, peers: Sequence[FloatArray]) -> bool:
    """Whether an instance's lines per step stay near the others' before it came."""
    kept = [p for p in peers if p.size]
    before = np.concatenate(kept) if kept else np.empty(0)
    before = before[np.isfinite(before)]
    own = own[np.isfinite(own)]
    if before.size == 0 or own.size == 0:
        return False
    usual = float(np.mean(before))
    return float(np.mean(own)) <= LIKE_PEERS_FACTOR * usual + LIKE_PEERS_FLOOR


def _metric_signal(
    component: str,
    series: Series,
    values: FloatArray,
    counter: bool,
    step: float,
    *,
    pods: Mapping[PodKey, str],
    events: FloatArray | None = None,
) -> Signal:
    selector = selector_text(series.name, series.labels)
    query = f"rate({selector}[{rate_range(step)}])" if counter else selector
    family = series.name
    for suffix in COUNTER_SUFFIXES:
        if family.endswith(suffix):
            family = family[: -len(suffix)]
            break
    kind = SignalKind.RATE if counter else SignalKind.GAUGE
    lowered = series.name.lower()
    if (
        not counter
        and "cpu" in lowered
        and any(w in lowered for w in ("percent", "ratio", "usage", "utili"))
    ):
        kind = SignalKind.CPU
    return Signal(
        component=component,
        instance=instance_of(series.labels, pods=pods),
        name=series.name + (" rate" if counter else ""),
        family=family,
        kind=kind,
        query=query,
        values=values,
        labels=series.labels,
        events=events,
    )


def _policy_signals(
    component: ComponentSignals,
    *,
    window: Window,
    step: float,
    size: int,
    pods: Mapping[PodKey, str],
) -> list[Signal]:
    """A policy's own signals (``signalOverrides``): its PromQL already says what to
    compute, so each answer is taken as it is (a gauge), quoting that PromQL."""
    signals: list[Signal] = []
    for name, answers in sorted(component.policy_series.items()):
        query = component.queries.get(policy_query_key(name), "")
        for series in answers:
            values = on_grid(
                series.timestamps,
                series.values,
                start=window.start,
                step=step,
                size=size,
                fill=np.nan,
            )
            signals.append(
                Signal(
                    component=component.component,
                    instance=instance_of(series.labels, pods=pods),
                    name=name,
                    family=name,
                    kind=SignalKind.GAUGE,
                    query=query,
                    values=values,
                    labels=series.labels,
                )
            )
    return signals


def _log_signals(
    component: ComponentSignals,
    *,
    window: Window,
    step: float,
    size: int,
    pods: Mapping[PodKey, str],
) -> list[Signal]:
    signals: list[Signal] = []
    sets: list[tuple[str, SignalKind, Sequence[LogCount], str]] = [
        (
            "log lines",
            SignalKind.LOG_LINES,
            component.log_counts,
            component.queries.get("lines", ""),
        ),
        (
            "error/warn log lines",
            SignalKind.LOG_SIGNIFICANT,
            component.extracted.get(SIGNIFICANT_LINES, ()),
            component.queries.get(SIGNIFICANT_LINES, ""),
        ),
    ]
    for name, kind, counts, query in sets:
        for count in counts:
            values = on_grid(
                count.timestamps, count.values, start=window.start, step=step, size=size, fill=0.0
            )
            signals.append(
                Signal(
                    component=component.component,
                    instance=instance_of(count.labels, pods=pods),
                    name=name,
                    family=name,
                    kind=kind,
                    query=query,
                    values=values,
                    labels=count.labels,
                    source=EvidenceSource.LOKI,
                )
            )
    return signals


# --- scoring -----------------------------------------------------------------------


def level_between(
    *, signal: Signal, timestamps: FloatArray, start: float, end: float
) -> SignalScores | None:
    """Pure: the signal's median in [start, end] and before start (None without data)."""
    values = signal.values
    during = values[(timestamps >= start) & (timestamps <= end)]
    before = values[timestamps < start]
    during = during[np.isfinite(during)]
    before = before[np.isfinite(before)]
    if during.size == 0:
        return None
    return SignalScores(
        level=float(np.median(during)),
        baseline=float(np.median(before)) if before.size else float("nan"),
    )


def health_series(component: Component, collected: ComponentSignals) -> ComponentSignals:
    """Pure: the component's series without what its exporter says about itself.

    An exporter's Go runtime, process and scrape bookkeeping (``is_self_metric``)
    move with the exporter, not with the component it exports: they are never
    evidence, onsets or scores of the component.
    """
    kind = catalog_kinds(component, (s.name for s in collected.series))[0]
    kept = tuple(s for s in collected.series if not is_self_metric(s.name, kind))
    return collected if len(kept) == len(collected.series) else replace(collected, series=kept)
