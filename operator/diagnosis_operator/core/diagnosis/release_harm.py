"""A release whose new instances are worse than the old ones were: the component's harm.  Pure.

A rolling update replaces a component's instances; the new ones are
instances too, though their series begin inside the window.  When the new
version is broken in itself (a handler that blocks Node's event loop, a CPU
limit that throttles every period, a keep-alive timeout its proxy does not
expect), every new instance is worse than the old ones from its first
requests: slower, more often failing, lagging, throttled.  Judged against
its own past it has none, so the statistical detection sees nothing; judged
against its siblings it hides among the other new ones.  The proxy in front
of it then answers the errors and the waits, and alone shows a departure.

A senior engineer compares the new instances with the old: ``release_harm``
does, per signal that reads worse the higher it goes (latency, the 5xx share,
the catalogue's ``releases.DEGRADATION_UP``, the 5xx a caller's access log
blames on each instance: ``upstream_reports``).  It is the release's harm
when at least ``MIN_NEW`` new instances exist and every one of them stands
above the old instances' level, from its first points and over its life
(a JVM warming up is slow for a minute, not for its life; an incident that
came later was not there at their start), while the old ones, over the time
they served beside the new, did not, and the new ones serve no more requests
each than the old ones did (worse under more load is the load's).  Each such
instance gives a detection of the component, dated at its first scrape: the
release began the harm.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.releases import DEGRADATION_UP
from diagnosis_operator.core.diagnosis.affected import ERROR_EXCESS_MIN, ERROR_SURPRISE_LOG10
from diagnosis_operator.core.diagnosis.logs import ComponentLogs
from diagnosis_operator.core.diagnosis.siblings import has_own_baseline
from diagnosis_operator.core.diagnosis.signal_types import (
    SCORE_CAP,
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
    SignalKind,
)
from diagnosis_operator.core.diagnosis.stats import poisson_tail_log10_bound
from diagnosis_operator.core.diagnosis.upstream_reports import reported_signals
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.topology import Topology

MIN_NEW = 2  # new instances worse alike: a release (one alone is a canary: ``affected``)
FIRST_POINTS = 6  # a new instance's opening points, worse already when the release is
LEVEL_RATIO = 2.0  # a new instance's level, at least this many times the old instances'
LOAD_RATIO = 1.5  # more requests per new instance than this many times the old's: load
SPREAD_FLOOR = 0.05  # of the old level: the least spread a flat series is judged with
MIN_SPREAD = 1e-9


def _degrades_up(signal: Signal) -> bool:
    """Whether ``signal`` reads worse the higher it goes (and is per instance)."""
    if not signal.instance:
        return False
    if signal.kind in (SignalKind.LATENCY, SignalKind.ERROR_RATIO):
        return True
    name = signal.name.removesuffix(" rate")
    return any(compiled(p).search(name) for p in DEGRADATION_UP)


def _finite(values: FloatArray) -> FloatArray:
    return values[np.isfinite(values)]


def _first(signal: Signal) -> int:
    return int(np.flatnonzero(np.isfinite(signal.values))[0])


def _level_score(reference: FloatArray, level: float) -> float:
    """How far ``level`` stands above ``reference`` (robust z; 0 when not ``LEVEL_RATIO`` x)."""
    median = float(np.median(reference))
    spread = 1.4826 * float(np.median(np.abs(reference - median)))
    spread = max(spread, SPREAD_FLOOR * abs(median), MIN_SPREAD)
    if level < LEVEL_RATIO * median or level <= median:
        return 0.0
    return min(SCORE_CAP, (level - median) / spread)


def _count_score(old: Sequence[Signal], signal: Signal, begin: int) -> float:
    """For counts (errors per step): how unlikely the new instance's are at the old rate.

    Both are read at the same steps: those the old instances served beside
    the new ones (from ``begin``, the first new one's start); the old ones'
    earlier life when they never served beside it (a ``Recreate`` rollout).
    """
    beside = np.zeros(signal.values.size, dtype=bool)
    for s in old:
        beside[begin:] |= np.isfinite(s.values[begin:])
    own = signal.values[_first(signal) :]
    mask = beside[_first(signal) :] & np.isfinite(own)
    if mask.sum() >= 2:
        period = [s.values[begin:][beside[begin:]] for s in old]
        own = own[mask]
    else:
        period = [s.values[:begin] for s in old]
        own = _finite(own)
    rate = (sum(float(np.nansum(v)) for v in period) + 0.5) / max(
        sum(int(np.isfinite(v).sum()) for v in period), 1
    )
    observed, expected = float(own.sum()), rate * own.size
    if (
        observed - expected < ERROR_EXCESS_MIN
        or observed < LEVEL_RATIO * expected
        or poisson_tail_log10_bound(observed=observed, expected=expected) > ERROR_SURPRISE_LOG10
    ):
        return 0.0
    return float(min(SCORE_CAP, (observed - expected) / np.sqrt(expected + 1.0)))


def _counts(signal: Signal) -> bool:
    """Whether a signal's values are counts of events (no requests to divide by)."""
    return signal.events is not None and signal.requests is None


def _worse(old: Sequence[Signal], signal: Signal, reference: FloatArray, begin: int) -> float:
    """A new instance's score against the old ones (0: not worse from its start, for life)."""
    start = _first(signal)
    if _counts(signal):
        return _count_score(old, signal, begin)
    life = _finite(signal.values[start:])
    opening = life[:FIRST_POINTS]
    if life.size < 2 or reference.size < 2:
        return 0.0
    return min(
        _level_score(reference, float(np.median(life))),
        _level_score(reference, float(np.median(opening))),
    )


def _old_stayed(old: Sequence[Signal], begin: int, reference: FloatArray) -> bool:
    """Whether the old instances, beside the new ones, stayed at their level."""
    beside = [_finite(s.values[begin:]) for s in old]
    values = np.concatenate(beside) if beside else np.empty(0)
    if values.size < 2:
        return True
    return _level_score(reference, float(np.median(values))) < Z_THRESHOLD


def _group_detections(group: Sequence[Signal], timestamps: FloatArray) -> list[Detection]:
    new = [s for s in group if not has_own_baseline(s, timestamps) and np.isfinite(s.values).any()]
    old = [s for s in group if has_own_baseline(s, timestamps)]
    if len(new) < MIN_NEW or not old:
        return []
    begin = min(_first(s) for s in new)
    before = [_finite(s.values[:begin]) for s in old]
    reference = np.concatenate(before) if before else np.empty(0)
    if reference.size < 2 or (not _counts(new[0]) and not _old_stayed(old, begin, reference)):
        return []
    scores = [_worse(old, s, reference, begin) for s in new]
    if min(scores) < Z_THRESHOLD:
        return []
    median = float(np.median(reference))
    return [_detection(s, score, median, timestamps) for s, score in zip(new, scores, strict=True)]


def _detection(signal: Signal, score: float, baseline: float, timestamps: FloatArray) -> Detection:
    start = _first(signal)
    life = _finite(signal.values[start:])
    onset = float(timestamps[start])
    peak = int(np.nanargmax(signal.values))
    anomaly = Anomaly(
        component=signal.component,
        signal=signal.name,
        instance=signal.instance,
        onset=onset,
        peak_ts=float(timestamps[peak]),
        value=float(np.median(life)),
        baseline=baseline,
        score=float(score),
        direction="up",
        query=signal.query,
        source=signal.source,
    )
    return Detection(
        signal=signal, anomaly=anomaly, exceedances=int(life.size), peak=float(life.max())
    )


def _busier(signals: Sequence[Signal], timestamps: FloatArray) -> bool:
    """Whether the new instances serve more requests each than the old ones did.

    Worse under more load is the load's doing (a retry storm right after a
    deploy), not the release's: the comparison holds at the same load only.
    """
    groups: dict[object, list[Signal]] = defaultdict(list)
    for signal in signals:
        if signal.kind is SignalKind.REQUEST_RATE and signal.instance:
            groups[signal.peer_key].append(signal)
    for group in groups.values():
        new = [s for s in group if not has_own_baseline(s, timestamps)]
        old = [s for s in group if has_own_baseline(s, timestamps)]
        if not new or not old or not any(np.isfinite(s.values).any() for s in new):
            continue
        begin = min(_first(s) for s in new if np.isfinite(s.values).any())
        before = np.concatenate([_finite(s.values[:begin]) for s in old])
        life = [_finite(s.values[_first(s) :]) for s in new if np.isfinite(s.values).any()]
        if before.size and any(
            v.size and np.median(v) > LOAD_RATIO * np.median(before) for v in life
        ):
            return True
    return False


def release_harm(
    *, signals: Sequence[Signal], timestamps: FloatArray, detected: Sequence[Detection] = ()
) -> list[Detection]:
    """Pure: the detections of new instances worse than the old (see the module docstring).

    Signals already detected on their own are left to that detection; none
    when the new instances serve more requests each than the old ones did
    (``_busier``: worse under more load is the load's doing).
    """
    if _busier(signals, timestamps):
        return []
    seen = {id(d.signal) for d in detected}
    groups: dict[object, list[Signal]] = defaultdict(list)
    for signal in signals:
        if _degrades_up(signal) and signal.values.shape == timestamps.shape:
            groups[signal.peer_key].append(signal)
    found: list[Detection] = []
    for group in groups.values():
        found.extend(d for d in _group_detections(group, timestamps) if id(d.signal) not in seen)
    return found


def release_detections(
    *,
    topology: Topology,
    signals: Mapping[str, Sequence[Signal]],
    logs: Mapping[str, ComponentLogs],
    timestamps: FloatArray,
    detected: Sequence[Detection],
) -> list[Detection]:
    """Pure: ``release_harm`` of every component's signals and of the 5xx its callers
    blame on each of its instances (``upstream_reports``)."""
    reported = reported_signals(
        topology=topology, logs=logs, signals=signals, timestamps=timestamps
    )
    return [
        d
        for name, members in signals.items()
        for d in release_harm(
            signals=[*members, *reported.get(name, ())], timestamps=timestamps, detected=detected
        )
    ]
