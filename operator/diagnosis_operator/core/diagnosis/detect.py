"""Per-signal anomaly detection against a robust baseline.  Pure.

The collector hands over raw metric series (values as stored, no ``rate``) and
log-derived counts, all on the same evaluation grid (``window.start + k*step``).
This module:

1. turns every metric series into a *signal* on that grid: counters (named
   ``*_total``/``*_count``/``*_sum``, or non-decreasing over the window) become
   per-second rates with Prometheus' reset rule (a drop means the counter
   restarted from zero);
2. derives the RED signals where the labels allow it: the 5xx ratio of every
   counter family with a ``code``/``status`` label, mean latency from a
   histogram or summary ``_sum``/``_count`` pair, CPU (cores) from
   ``*cpu*seconds_total``, each per instance;
3. scores all signals at once (numpy, one row per signal): a two-segment
   least-squares split (applied twice, so that a burst that came and went is
   not taken for the baseline) places the end of the baseline; median and MAD
   of the baseline give a robust z-score; points beyond both the z threshold
   and the baseline's own envelope (min/max) are exceedances.  A signal is
   anomalous when it has enough exceedances (one is enough when it is extreme);
   its onset is the first exceedance.

Nothing here reads a clock, the environment or the network.
"""

from __future__ import annotations

import functools
import json
import math
import re
import warnings
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from diagnosis_operator.models.engine import DEFAULT_ANOMALY_SCORE
from diagnosis_operator.models.findings import Anomaly, EvidenceSource
from diagnosis_operator.models.signals import ComponentSignals, Labels, LogCount, Series, Window

FloatArray = npt.NDArray[np.float64]

# Robust z-score an exceedance must pass, and the one a lone exceedance must pass.
Z_THRESHOLD = DEFAULT_ANOMALY_SCORE
Z_SINGLE = 2.0 * Z_THRESHOLD
SCORE_CAP = 100.0
MIN_POINTS = 8
# Labels that tell instances of one component apart (not what the signal measures).
INSTANCE_LABELS = ("instance", "pod", "namespace", "container", "node", "host", "hostname")
# Keys under ComponentSignals.extracted / log_counts that the collector fills.
SIGNIFICANT_LINES = "significant"

_COUNTER_SUFFIXES = ("_total", "_count", "_sum", "_bucket")
_SKIPPED_SUFFIXES = ("_bucket", "_created", "_info")
_STATUS_LABELS = ("code", "status", "status_code", "response_code")


class SignalKind(StrEnum):
    RATE = "rate"  # a counter turned into a per-second rate
    GAUGE = "gauge"
    ERROR_RATIO = "error-ratio"  # 5xx share of requests
    REQUEST_RATE = "request-rate"
    LATENCY = "latency"  # mean seconds per request
    CPU = "cpu"  # cores (or the gauge's own unit)
    LOG_LINES = "log-lines"  # all lines per step
    LOG_SIGNIFICANT = "log-significant"  # error/warn/slow/deadlock-ish lines per step


@dataclass(frozen=True, eq=False)
class Signal:
    """One time series on the evaluation grid (NaN where there is no value)."""

    component: str
    instance: str | None
    name: str  # readable, e.g. "http_requests_total 5xx ratio"
    family: str  # what counts as one independent signal (metric family / derived kind)
    kind: SignalKind
    query: str
    values: FloatArray
    labels: Labels
    source: EvidenceSource = EvidenceSource.PROMETHEUS
    # For a ratio of rare events (the 5xx share): the events behind it per step.
    # A ratio with a zero baseline is judged by how unlikely these counts are,
    # not by its own z-score (one failed request in a quiet step is 4% of it).
    events: FloatArray | None = None
    # For the 5xx share: the requests behind it per step (how many trials the
    # ratio rests on, so that a few unlucky requests are told from a failing instance).
    requests: FloatArray | None = None

    @functools.cached_property
    def peer_key(self) -> tuple[str, str, Labels]:
        """Signals with the same key on different instances are siblings."""
        return (self.component, self.name, self.labels.without(*INSTANCE_LABELS))


@dataclass(frozen=True, eq=False)
class Detection:
    """The anomaly found on one signal, with the signal it was found on."""

    signal: Signal
    anomaly: Anomaly
    exceedances: int
    peak: float

    @property
    def onset(self) -> float:
        return self.anomaly.onset

    @property
    def score(self) -> float:
        return self.anomaly.score


@dataclass(frozen=True, eq=False)
class SignalScores:
    """Per-signal level summaries, also for signals that are not anomalous.

    Used by sibling comparison: ``level`` is the signal's median over the
    period ``[start, end]`` asked for; ``baseline`` its median before ``start``.
    """

    level: float
    baseline: float


def grid_timestamps(*, window: Window, step: float) -> FloatArray:
    """Pure: the evaluation timestamps of the window (range-query semantics)."""
    return np.fromiter(window.steps(step), dtype=np.float64)


def _grid_index(
    timestamps: Sequence[float], *, start: float, step: float, size: int
) -> npt.NDArray[np.intp]:
    index = np.rint((np.asarray(timestamps, dtype=np.float64) - start) / step).astype(np.intp)
    return np.clip(index, -1, size)


def _on_grid(
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


_NEEDS_ESCAPE = re.compile(r'["\\\x00-\x1f]')


def _quote(value: str) -> str:
    if _NEEDS_ESCAPE.search(value) is None:
        return f'"{value}"'  # what json.dumps gives for it, without its cost
    return json.dumps(value, ensure_ascii=False)


def _selector_text(name: str, labels: Mapping[str, str], extra: str = "") -> str:
    inner = ",".join(f"{key}={_quote(value)}" for key, value in sorted(labels.items()))
    if extra:
        inner = f"{inner},{extra}" if inner else extra
    return f"{name}{{{inner}}}"


def is_counter_name(name: str) -> bool:
    """Pure: names that Prometheus conventions reserve for counters."""
    return name.endswith(_COUNTER_SUFFIXES)


def _looks_monotonic(values: FloatArray) -> bool:
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
    valid = np.isfinite(values)
    column = np.arange(size)
    last_valid = np.where(valid, column[None, :], -1)
    np.maximum.accumulate(last_valid, axis=1, out=last_valid)
    previous = np.full((rows, size), -1, dtype=np.intp)
    previous[:, 1:] = last_valid[:, :-1]
    row_index = np.arange(rows)[:, None]
    before = values[row_index, np.maximum(previous, 0)]
    with np.errstate(invalid="ignore"):
        change = valid & (previous >= 0) & (values != before)
    last_change = np.where(change, column[None, :], -1)
    np.maximum.accumulate(last_change, axis=1, out=last_change)
    prior_change = np.full((rows, size), -1, dtype=np.intp)
    prior_change[:, 1:] = last_change[:, :-1]
    has_gap = change & (prior_change >= 0)
    gaps = np.where(has_gap, column[None, :] - prior_change, 0)
    counted = has_gap.sum(axis=1)
    enough = counted >= SAMPLE_PERIOD_MIN_CHANGES
    needed = SAMPLE_PERIOD_SHARE * np.maximum(counted, 1)
    # a gap of one step is a multiple of no longer period: many of them rule all out
    candidates = enough & ((has_gap & (gaps == 1)).sum(axis=1) <= counted - needed)
    if not candidates.any():
        return periods
    chosen = np.flatnonzero(candidates)
    sub_gaps, sub_has = gaps[chosen], has_gap[chosen]
    for period in range(2, SAMPLE_PERIOD_MAX + 1):
        share = (sub_has & (sub_gaps % period == 0)).sum(axis=1)
        periods[chosen] = np.where(share >= needed[chosen], period, periods[chosen])
    return periods


# Labels naming the node a series was scraped from or describes (cAdvisor, the
# kubelet, node agents): the ``instance`` of such a series is the node's scrape
# address, not the workload instance's.
NODE_LABELS = ("node", "node_name", "nodename", "kubernetes_node", "kubernetes_io_hostname")
PodKey = tuple[str, str]  # (namespace, pod)


def instance_names(label_sets: Iterable[Mapping[str, str]]) -> dict[PodKey, str]:
    """Pure: the instance name of every pod (namespace, pod) that the label sets mention.

    A pod is one instance whatever scraped its series: its own endpoint
    (``instance`` is the pod's address), the kubelet's cAdvisor (``instance``
    is the node's), an exporter describing many pods (``instance`` is the
    exporter's).  A pod goes by the ``instance`` value that belongs to it
    alone: never seen with another pod, not on a series that names a node;
    among those, the one most of its series carry.  A pod without one goes
    by its pod name, so a node or an exporter is never taken for it.
    """
    pods_of: dict[str, set[PodKey]] = defaultdict(set)
    own: dict[PodKey, dict[str, int]] = {}
    for labels in label_sets:
        pod = labels.get("pod")
        if not pod:
            continue
        key = (labels.get("namespace", ""), pod)
        counts = own.setdefault(key, {})
        address = labels.get("instance")
        if not address:
            continue
        pods_of[address].add(key)
        if not any(labels.get(name) for name in NODE_LABELS):
            counts[address] = counts.get(address, 0) + 1
    names: dict[PodKey, str] = {}
    for key, counts in own.items():
        mine = [(-n, address) for address, n in counts.items() if len(pods_of[address]) == 1]
        names[key] = min(mine)[1] if mine else key[1]
    return names


def instance_of(labels: Mapping[str, str], *, pods: Mapping[PodKey, str]) -> str | None:
    """Pure: the instance a series or stream belongs to (its pod first, see ``instance_names``)."""
    pod = labels.get("pod")
    if pod:
        return pods.get((labels.get("namespace", ""), pod), pod)
    for name in ("instance", "host", "hostname"):
        if labels.get(name):
            return labels[name]
    return None


def build_signals(*, component: ComponentSignals, window: Window, step: float) -> list[Signal]:
    """Pure: every metric series and log count of a component as signals on the grid."""
    size = len(grid_timestamps(window=window, step=step))
    signals: list[Signal] = []
    rates: dict[tuple[str, Labels], FloatArray] = {}
    pods = instance_names(series.labels for series in component.series)

    kept = [series for series in component.series if not series.name.endswith(_SKIPPED_SUFFIXES)]
    raws = [
        _on_grid(
            series.timestamps, series.values, start=window.start, step=step, size=size, fill=np.nan
        )
        for series in kept
    ]
    counters = [
        is_counter_name(series.name) or _looks_monotonic(raw)
        for series, raw in zip(kept, raws, strict=True)
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

    signals.extend(_derived_signals(component.component, rates, step, pods=pods))
    signals.extend(_log_signals(component, window=window, step=step, size=size, pods=pods))
    return signals


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
    selector = _selector_text(series.name, series.labels)
    query = f"rate({selector}[{rate_range(step)}])" if counter else selector
    family = series.name
    for suffix in _COUNTER_SUFFIXES:
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


def rate_range(step: float) -> str:
    """Pure: the range shown in rate() queries for a grid step (4 steps, at least 1m)."""
    seconds = max(60, round(4 * step))
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def _sum_rows(rows: Iterable[FloatArray]) -> FloatArray:
    stacked = np.vstack(list(rows))
    total: FloatArray = np.nansum(stacked, axis=0)
    total[np.isnan(stacked).all(axis=0)] = np.nan
    return total


def _derived_signals(
    component: str,
    rates: Mapping[tuple[str, Labels], FloatArray],
    step: float,
    *,
    pods: Mapping[PodKey, str],
) -> list[Signal]:
    window_text = rate_range(step)
    derived: list[Signal] = []
    by_family_instance: dict[tuple[str, str | None], list[tuple[Labels, FloatArray]]] = defaultdict(
        list
    )
    for (name, labels), values in rates.items():
        by_family_instance[(name, instance_of(labels, pods=pods))].append((labels, values))

    for (name, instance), members in sorted(
        by_family_instance.items(), key=lambda item: (item[0][0], item[0][1] or "")
    ):
        instance_labels = _common_instance_labels(labels for labels, _ in members)
        status_members = [
            (labels, values)
            for labels, values in members
            if any(labels.get(key) for key in _STATUS_LABELS)
        ]
        if status_members and not name.endswith(("_sum", "_bucket")):
            total = _sum_rows(values for _, values in status_members)
            errors = [
                values for labels, values in status_members if _status_of(labels).startswith("5")
            ]
            # a 5xx series that does not exist yet counted no failure yet
            error_rate = (
                np.where(np.isnan(total), np.nan, np.nan_to_num(_sum_rows(errors), nan=0.0))
                if errors
                else np.where(np.isnan(total), np.nan, 0.0)
            )
            with np.errstate(invalid="ignore", divide="ignore"):
                ratio = np.where(total > 0, error_rate / np.where(total > 0, total, 1.0), np.nan)
            status_label = next(
                key for key in _STATUS_LABELS if any(key in labels for labels, _ in status_members)
            )
            selector = _selector_text(name, instance_labels)
            errors_selector = _selector_text(name, instance_labels, f'{status_label}=~"5.."')
            derived.append(
                Signal(
                    component=component,
                    instance=instance,
                    name=f"{name} 5xx ratio",
                    family=f"{name} errors",
                    kind=SignalKind.ERROR_RATIO,
                    query=(
                        f"sum(rate({errors_selector}[{window_text}])) / "
                        f"sum(rate({selector}[{window_text}]))"
                    ),
                    values=ratio,
                    labels=instance_labels,
                    events=error_rate * step,
                    requests=total * step,
                )
            )
            derived.append(
                Signal(
                    component=component,
                    instance=instance,
                    name=f"{name} request rate",
                    family=f"{name} requests",
                    kind=SignalKind.REQUEST_RATE,
                    query=f"sum(rate({selector}[{window_text}]))",
                    values=total,
                    labels=instance_labels,
                )
            )
        if name.endswith("_sum"):
            base = name[: -len("_sum")]
            counts = by_family_instance.get((base + "_count", instance))
            if counts:
                total_sum = _sum_rows(values for _, values in members)
                total_count = _sum_rows(values for _, values in counts)
                with np.errstate(invalid="ignore", divide="ignore"):
                    mean = np.where(
                        total_count > 0,
                        total_sum / np.where(total_count > 0, total_count, 1.0),
                        np.nan,
                    )
                count_selector = _selector_text(base + "_count", instance_labels)
                derived.append(
                    Signal(
                        component=component,
                        instance=instance,
                        name=f"{base} mean",
                        family=f"{base} latency",
                        kind=SignalKind.LATENCY,
                        query=(
                            f"sum(rate({_selector_text(name, instance_labels)}[{window_text}])) / "
                            f"sum(rate({count_selector}[{window_text}]))"
                        ),
                        values=mean,
                        labels=instance_labels,
                    )
                )
        if is_cpu_usage_counter(name):
            derived.append(
                Signal(
                    component=component,
                    instance=instance,
                    name="cpu usage",
                    family="cpu",
                    kind=SignalKind.CPU,
                    query=f"sum(rate({_selector_text(name, instance_labels)}[{window_text}]))",
                    values=_sum_rows(values for _, values in members),
                    labels=instance_labels,
                )
            )
    return derived


# CPU-time counters that are not time spent running: waiting for a core or a
# throttled period is no usage (adding it would count a throttled pod twice).
_NOT_CPU_USAGE = ("throttl", "steal", "wait", "idle", "period")


def is_cpu_usage_counter(name: str) -> bool:
    """Pure: a counter of CPU seconds used (``process_cpu_seconds_total``, cAdvisor usage...)."""
    lowered = name.lower()
    return (
        "cpu" in lowered
        and "seconds" in lowered
        and name.endswith("_total")
        and not any(word in lowered for word in _NOT_CPU_USAGE)
    )


def _status_of(labels: Mapping[str, str]) -> str:
    for key in _STATUS_LABELS:
        value = labels.get(key)
        if value:
            return value
    return ""


def _common_instance_labels(label_sets: Iterable[Labels]) -> Labels:
    sets = list(label_sets)
    if not sets:
        return Labels()
    common = dict(sets[0])
    for labels in sets[1:]:
        common = {key: value for key, value in common.items() if labels.get(key) == value}
    return Labels(
        {key: value for key, value in common.items() if key in INSTANCE_LABELS or key == "job"}
    )


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
            values = _on_grid(
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


def _fill_gaps(matrix: FloatArray) -> tuple[FloatArray, npt.NDArray[np.bool_]]:
    """Forward-fill then back-fill NaNs along each row; also return the valid mask."""
    valid = np.isfinite(matrix)
    rows, cols = matrix.shape
    index = np.where(valid, np.arange(cols)[None, :], 0)
    np.maximum.accumulate(index, axis=1, out=index)
    filled = matrix[np.arange(rows)[:, None], index]
    first_valid = np.argmax(valid, axis=1)
    leading = np.arange(cols)[None, :] < first_valid[:, None]
    filled = np.where(leading, matrix[np.arange(rows), first_valid][:, None], filled)
    filled = np.where(np.isfinite(filled), filled, 0.0)
    return filled, valid


def _best_split(
    cum1: FloatArray,
    cum2: FloatArray,
    *,
    lo: npt.NDArray[np.intp],
    hi: npt.NDArray[np.intp],
    end: npt.NDArray[np.intp],
) -> tuple[npt.NDArray[np.intp], FloatArray]:
    """Best two-segment split k of x[0:end] per row with lo <= k <= hi; returns (k, gain)."""
    rows, width = cum1.shape  # cum has a leading 0 column: width = T + 1
    ks = np.arange(width)[None, :]
    row_index = np.arange(rows)
    s1_end = cum1[row_index, end][:, None]
    s2_end = cum2[row_index, end][:, None]
    n_end = end[:, None].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = cum2 - cum1**2 / ks
        right_n = n_end - ks
        right = (s2_end - cum2) - (s1_end - cum1) ** 2 / right_n
        cost = left + right
        total = s2_end[:, 0] - s1_end[:, 0] ** 2 / n_end[:, 0]
    allowed = (ks >= lo[:, None]) & (ks <= hi[:, None])
    cost = np.where(allowed & np.isfinite(cost), cost, np.inf)
    best = np.argmin(cost, axis=1)
    best_cost = cost[row_index, best]
    with np.errstate(invalid="ignore", divide="ignore"):
        gain = np.where(total > 1e-12, 1.0 - best_cost / total, 0.0)
    gain = np.where(np.isfinite(best_cost), gain, 0.0)
    return best.astype(np.intp), gain


def baseline_end(values: FloatArray) -> npt.NDArray[np.intp]:
    """Pure: per row, the index where the baseline ends (exclusive).

    A least-squares two-segment split of the whole row; when the part before
    the split holds a strong change of its own (a burst that came and went),
    that earlier split is used instead.
    """
    rows, size = values.shape
    min_base = max(MIN_POINTS, int(0.15 * size))
    cum1 = np.zeros((rows, size + 1))
    cum2 = np.zeros((rows, size + 1))
    np.cumsum(values, axis=1, out=cum1[:, 1:])
    np.cumsum(values**2, axis=1, out=cum2[:, 1:])
    full = np.full(rows, size, dtype=np.intp)
    first, _ = _best_split(
        cum1,
        cum2,
        lo=np.full(rows, min_base, dtype=np.intp),
        hi=np.full(rows, size - 2, dtype=np.intp),
        end=full,
    )
    second, gain = _best_split(
        cum1, cum2, lo=np.full(rows, min_base, dtype=np.intp), hi=first - 2, end=first
    )
    use_second = (first - 2 >= min_base) & (gain > 0.5)
    split = np.where(use_second, second, first)
    return np.minimum(split, first_departure(values, min_base=min_base))


DEPARTURE_RUN = 3  # consecutive points beyond the opening stretch that end a baseline


def first_departure(values: FloatArray, *, min_base: int) -> npt.NDArray[np.intp]:
    """Pure: per row, the first index where the row leaves its opening stretch for good.

    The opening ``min_base`` points give a robust level and spread; the first
    run of ``DEPARTURE_RUN`` points beyond both the z threshold and the opening
    envelope, all on the same side, ends the baseline (the row's length when
    there is none).  A least-squares split alone puts the end of the baseline
    at the biggest change, which for an excursion that rose, fell back and rose
    again (a cache that filled up, crashed and came back) is inside the
    excursion, and the excursion would then count as normal.
    """
    rows, size = values.shape
    if size < min_base + DEPARTURE_RUN:
        return np.full(rows, size, dtype=np.intp)
    head = values[:, :min_base]
    level = np.median(head, axis=1)
    deviation = np.abs(head - level[:, None])
    scale = np.maximum.reduce(
        [
            1.4826 * np.median(deviation, axis=1),
            1.2533 * deviation.mean(axis=1),
            0.02 * np.abs(level),
            1e-9 * (1.0 + np.abs(level)),
        ]
    )
    z = (values - level[:, None]) / scale[:, None]
    above = (z > Z_THRESHOLD) & (values > head.max(axis=1)[:, None])
    below = (z < -Z_THRESHOLD) & (values < head.min(axis=1)[:, None])
    found = np.full(rows, size, dtype=np.intp)
    for side in (above, below):
        run = side[:, : size - DEPARTURE_RUN + 1].copy()
        for offset in range(1, DEPARTURE_RUN):
            run &= side[:, offset : size - DEPARTURE_RUN + 1 + offset]
        run[:, :min_base] = False
        has = run.any(axis=1)
        found = np.where(has, np.minimum(found, np.argmax(run, axis=1)), found)
    return found


DETECT_CHUNK = 2048  # signals scored at once: bounds the memory of the matrices


def detect(
    *, signals: Sequence[Signal], timestamps: FloatArray, z_threshold: float = Z_THRESHOLD
) -> list[Detection]:
    """Pure: score every signal (vectorised); return the anomalous ones, strongest first.

    Signals are scored independently, in chunks of ``DETECT_CHUNK`` rows.
    ``z_threshold`` is the robust z-score an exceedance must pass (a lone one
    twice this); baseline placement and the sparse-count burst test keep theirs.
    """
    usable = [
        s
        for s in signals
        if s.values.shape == timestamps.shape and np.isfinite(s.values).sum() >= MIN_POINTS
    ]
    if not usable or timestamps.size < MIN_POINTS + 2:
        return []
    detections: list[Detection] = []
    for first in range(0, len(usable), DETECT_CHUNK):
        detections.extend(
            _detect_rows(usable[first : first + DETECT_CHUNK], timestamps, z_threshold=z_threshold)
        )
    detections.sort(key=lambda d: (-d.score, d.onset, d.signal.name))
    return detections


def _detect_rows(
    usable: Sequence[Signal], timestamps: FloatArray, *, z_threshold: float
) -> list[Detection]:
    raw = np.vstack([s.values for s in usable])
    filled, valid = _fill_gaps(raw)
    rows, size = filled.shape
    ends = baseline_end(filled)
    column = np.arange(size)[None, :]
    in_base = (column < ends[:, None]) & valid
    base = np.where(in_base, filled, np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        # all-NaN rows warn; they have no baseline and never pass the tests below
        warnings.simplefilter("ignore", category=RuntimeWarning)
        median = np.nanmedian(base, axis=1)
        deviation = np.abs(base - median[:, None])
        mad = 1.4826 * np.nanmedian(deviation, axis=1)
        mean_dev = 1.2533 * np.nanmean(deviation, axis=1)
        env_hi = np.nanmax(base, axis=1)
        env_lo = np.nanmin(base, axis=1)
    scale = np.maximum.reduce(
        [mad, mean_dev, 0.02 * np.abs(median), np.full(rows, 1e-9) * (1.0 + np.abs(median))]
    )
    z = (filled - median[:, None]) / scale[:, None]
    after = (column >= ends[:, None]) & valid
    up = after & (z > z_threshold) & (filled > env_hi[:, None])
    down = after & (z < -z_threshold) & (filled < env_lo[:, None])
    up_strength = np.where(up, np.minimum(z, SCORE_CAP), 0.0)
    down_strength = np.where(down, np.minimum(-z, SCORE_CAP), 0.0)
    going_up = up_strength.sum(axis=1) >= down_strength.sum(axis=1)
    exceed = np.where(going_up[:, None], up, down)
    strength = np.where(going_up[:, None], up_strength, down_strength)
    count = exceed.sum(axis=1)
    peak_strength = strength.max(axis=1)
    significant = (count >= 2) | ((count == 1) & (peak_strength >= 2.0 * z_threshold))
    # A series that began in the window (a pod the autoscaler added, an
    # exporter restarted) has no baseline of its own to depart from.
    min_base = max(MIN_POINTS, int(0.15 * size))
    significant &= (in_base.sum(axis=1) >= MIN_POINTS) & (
        valid[:, :min_base].sum(axis=1) >= MIN_POINTS // 2
    )
    # Nor is growth at the pace the baseline already had (a morning ramp) a
    # departure: the points must also stand out from the baseline's trend.
    significant &= departs_from_trend(
        filled, in_base, after=after, scale=scale, going_up=going_up, z_limit=z_threshold
    )
    top3 = -np.sort(-strength, axis=1)[:, :3]
    top_mean = top3.sum(axis=1) / np.maximum(np.minimum(count, 3), 1)
    persistence = np.where(count >= 3, 1.0, np.where(count == 2, 0.8, 0.6))
    score = top_mean * persistence

    # Sparse event counts (deadlocks, error lines...) have a zero baseline where
    # z-scores mean nothing: judge them by how unlikely their densest burst is.
    step = float(timestamps[1] - timestamps[0])
    per_step = np.array([_count_scale(s, step) for s in usable])
    counts = filled * per_step[:, None]
    for position, behind in enumerate(usable):
        if behind.events is not None and behind.events.shape == timestamps.shape:
            counts[position] = np.where(np.isfinite(behind.events), behind.events, 0.0)
            per_step[position] = 1.0
    integral = np.all(np.abs(counts - np.rint(counts)) < 1e-6, axis=1)
    sparse = (per_step > 0) & integral & (median == 0) & (mad == 0)
    if sparse.any():
        sparse_rows = np.flatnonzero(sparse)
        exposure = np.vstack(
            [_requests_or(usable[row], valid[row]) for row in sparse_rows.tolist()]
        )
        by_requests = np.array(
            [_has_requests(usable[row], timestamps) for row in sparse_rows.tolist()], dtype=bool
        )
        sp_score, sp_onset, sp_marks = _burst_test(
            np.rint(counts[sparse_rows]),
            valid[sparse_rows],
            step=step,
            min_start=max(MIN_POINTS, int(0.15 * size)),
            exposure=exposure,
            by_exposure=by_requests,
        )
        significant[sparse_rows] = sp_score >= Z_THRESHOLD
        score[sparse_rows] = sp_score
        going_up[sparse_rows] = True
        exceed[sparse_rows] = sp_marks
        strength[sparse_rows] = np.where(sp_marks, filled[sparse_rows], 0.0)
        count[sparse_rows] = sp_marks.sum(axis=1)
        del sp_onset

    detections: list[Detection] = []
    for row in np.flatnonzero(significant).tolist():
        signal = usable[row]
        marks = np.flatnonzero(exceed[row])
        if marks.size == 0:
            continue
        onset_index = int(marks[0])
        if not sparse[row]:
            # An excursion that went one way and then (further) the other, like
            # memory that filled up and then crashed to zero, began with the first.
            onset_up = bool(going_up[row])
            other = np.flatnonzero(down[row] if onset_up else up[row])
            if other.size >= 2 and other[0] < onset_index:
                onset_index, onset_up = int(other[0]), not onset_up
            onset_index = _excursion_start(
                z[row], valid[row], onset_index, floor=int(ends[row]), up=onset_up
            )
        peak_index = int(marks[np.argmax(strength[row, marks])])
        level = float(np.median(filled[row, marks]))
        anomaly = Anomaly(
            component=signal.component,
            signal=signal.name,
            instance=signal.instance,
            onset=float(timestamps[onset_index]),
            peak_ts=float(timestamps[peak_index]),
            value=level,
            baseline=float(median[row]),
            score=float(score[row]),
            direction="up" if going_up[row] else "down",
            query=signal.query,
            source=signal.source,
        )
        detections.append(
            Detection(
                signal=signal,
                anomaly=anomaly,
                exceedances=int(count[row]),
                peak=float(filled[row, peak_index]),
            )
        )
    detections.sort(key=lambda d: (-d.score, d.onset, d.signal.name))
    return detections


TREND_T = 3.0  # t statistic a baseline's slope needs to be taken for a trend


def departs_from_trend(
    values: FloatArray,
    in_base: npt.NDArray[np.bool_],
    *,
    after: npt.NDArray[np.bool_],
    scale: FloatArray,
    going_up: npt.NDArray[np.bool_],
    z_limit: float,
) -> npt.NDArray[np.bool_]:
    """Pure: per row, whether it departs from its baseline's trend, not only its level.

    The least-squares line through the baseline points (``in_base``) is the
    row's trend when its slope is clear (t >= ``TREND_T``); otherwise the
    trend is flat and this test is the level test again.  A row departs when,
    after its baseline, at least two points (or one twice as far) lie beyond
    ``z_limit`` baseline spreads (``scale``) from the trend carried forward,
    in the row's direction.  Traffic that was already growing at that pace (a
    morning ramp) does not depart; a level shift, a spike or a ramp that
    starts or steepens within the window does.
    """
    rows, size = values.shape
    x = np.broadcast_to(np.arange(size, dtype=np.float64), (rows, size))
    weight = in_base.astype(np.float64)
    n = weight.sum(axis=1)
    safe_n = np.maximum(n, 1.0)
    mean_x = (weight * x).sum(axis=1) / safe_n
    mean_y = (weight * values).sum(axis=1) / safe_n
    dx = np.where(in_base, x - mean_x[:, None], 0.0)
    dy = np.where(in_base, values - mean_y[:, None], 0.0)
    spread = (dx * dx).sum(axis=1)
    has_spread = (spread > 0) & (n >= MIN_POINTS)
    slope = np.where(has_spread, (dx * dy).sum(axis=1) / np.where(has_spread, spread, 1.0), 0.0)
    residual = np.where(in_base, dy - slope[:, None] * dx, 0.0)
    sigma = np.sqrt((residual * residual).sum(axis=1) / np.maximum(n - 2.0, 1.0))
    slope_error = sigma / np.sqrt(np.where(has_spread, spread, 1.0))
    clear = has_spread & (np.abs(slope) >= TREND_T * np.maximum(slope_error, 1e-12))
    slope = np.where(clear, slope, 0.0)
    trend = np.where(
        clear[:, None], mean_y[:, None] + slope[:, None] * (x - mean_x[:, None]), values
    )
    z = (values - trend) / scale[:, None]
    z = np.where(going_up[:, None], z, -z)
    beyond = after & (z > z_limit)
    count = beyond.sum(axis=1)
    strongest = np.where(beyond, z, 0.0).max(axis=1)
    departs = (count >= 2) | ((count == 1) & (strongest >= 2.0 * z_limit))
    result: npt.NDArray[np.bool_] = np.where(clear, departs, True)
    return result


Z_ONSET = 3.0  # how far from the baseline a point must be to belong to an excursion


def _excursion_start(
    z: FloatArray, valid: npt.NDArray[np.bool_], index: int, *, floor: int, up: bool
) -> int:
    """The first point of the excursion holding the first exceedance at ``index``.

    A signal that rises over a few minutes crosses the z threshold some steps
    after it left its normal band; the onset is where it left (consecutive
    points at least ``Z_ONSET`` out on the same side, not before ``floor``).
    """
    sign = 1.0 if up else -1.0
    while index - 1 >= floor and valid[index - 1] and sign * z[index - 1] > Z_ONSET:
        index -= 1
    return index


def _has_requests(signal: Signal, timestamps: FloatArray) -> bool:
    return signal.requests is not None and signal.requests.shape == timestamps.shape


def _requests_or(signal: Signal, valid: npt.NDArray[np.bool_]) -> FloatArray:
    """The requests behind a ratio's events per step; one per valid step for other counts."""
    requests = signal.requests
    if requests is not None and requests.shape == valid.shape:
        return np.nan_to_num(requests, nan=0.0)
    return valid.astype(np.float64)


BURST_SPAN = 180.0  # seconds over which a burst of sparse events is counted
BURST_P = 1e-4  # a burst at least this unlikely under the baseline rate is anomalous
_POISSON_KMAX = 64


def _count_scale(signal: Signal, step: float) -> float:
    """What turns a signal's values into event counts per step (0: not a count)."""
    if signal.kind is SignalKind.RATE:
        return step
    if signal.kind in (SignalKind.LOG_LINES, SignalKind.LOG_SIGNIFICANT):
        return 1.0
    return 0.0


def poisson_tail(k: npt.NDArray[np.int64], mu: FloatArray) -> FloatArray:
    """Pure: P(X >= k) for X ~ Poisson(mu), element-wise.

    ``mu`` is either one value per row of ``k`` or an array shaped like ``k``;
    ``k`` is capped at ``_POISSON_KMAX``.  The upper tail is summed directly so
    that tiny probabilities keep their precision.
    """
    kmax = _POISSON_KMAX
    mu_full = np.broadcast_to(mu[:, None] if mu.ndim == 1 and k.ndim == 2 else mu, k.shape)
    index = np.clip(k, 0, kmax)
    asked = index > 0
    tail = np.ones(k.shape, dtype=np.float64)
    if not asked.any():
        return tail
    # Only the cells that ask for a tail (k > 0) are summed.
    wanted_k = index[asked]
    wanted_mu = np.maximum(np.ascontiguousarray(mu_full[asked]), 1e-12)
    # sum_{i=k}^{kmax} mu^i e^-mu / i!: the first term in logs, the next ones by
    # the ratio mu / i, until every remaining term is negligible.
    term = np.exp(-wanted_mu + wanted_k * np.log(wanted_mu) - _log_factorials(kmax)[wanted_k])
    total = term.copy()
    for i in range(1, kmax):
        following = wanted_k + i
        live = following <= kmax
        if not live.any():
            break
        term = np.where(live, term * wanted_mu / np.maximum(following, 1), 0.0)
        total += term
        if not (term > 1e-17 * total).any():
            break
    tail[asked] = np.minimum(total, 1.0)
    return tail


def _log_factorials(kmax: int) -> FloatArray:
    values = np.zeros(kmax + 1)
    values[1:] = np.cumsum(np.log(np.arange(1, kmax + 1)))
    return values


RARE_RATIO_MIN_EVENTS = 10  # failed requests a burst of a ratio's events must hold


def _burst_test(
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
    hit = p < BURST_P
    first_window = np.where(hit.any(axis=1), np.argmax(hit, axis=1), size)
    for row in np.flatnonzero(first_window < size):
        start = int(first_window[row])
        first_window[row] = _cusum_start(
            events_per_step[row],
            start=start,
            stop=int(stop[start]),
            usual=float(expected[row, start]) / width,
            burst=float(window_sums[row, start : int(stop[start])].max()) / width,
        )
    events = events_per_step > 0
    onset_mask = events & (column >= first_window[:, None])
    onset = np.where(onset_mask.any(axis=1), np.argmax(onset_mask, axis=1), size)
    score = np.where(onset < size, score, 0.0)
    return score, onset.astype(np.intp), onset_mask


def _cusum_start(counts: FloatArray, *, start: int, stop: int, usual: float, burst: float) -> int:
    """Where the burst in the first unlikely window ``[start, stop)`` began (Poisson CUSUM).

    The window is the first that is unlikely, but it may open with ordinary
    events that merely precede the burst.  The CUSUM statistic with the
    reference value between the usual rate and the burst's (the densest
    window's) climbs through the burst; the burst began right after the
    statistic was last at zero.
    """
    usual = max(usual, 1e-9)
    if burst <= usual:
        return start
    reference = (burst - usual) / math.log(burst / usual)
    level = 0.0
    began = start
    for index in range(start, stop):
        level = max(0.0, level + float(counts[index]) - reference)
        if level == 0.0:
            began = index + 1
    return min(began, stop - 1)


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
