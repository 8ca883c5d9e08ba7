"""A store that its callers connect to too often: a victim of connection churn.  Pure.

When a caller stops pooling its connections (a release that opens and closes
one per request), the store's accepted-connections counter rises by an order
of magnitude (``catalog.churn.CHURN_FACTOR``) while the commands it is asked
stay about the same (``SAME_WORK_FACTOR``): its threads, CPU and connection
slots go to handshakes, and it reaches its connection limit.  Its exhaustion
is real, but it is how it is being connected to: the root is the caller.  Such
a store explains none of its callers (``ranking``), and beside the root it is
one more symptom (``shifted_load.load_symptom_reason``).

Not when the store closed its callers' connections (``closed_by_store``: its idle
timeout, its restart of clients): its callers then reconnect as often, but their
errors are about established connections the server closed or reset
(``catalog.churn.SERVER_CLOSED_LINES``), and the store is the root.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from diagnosis_operator.catalog.churn import (
    CALLER_MODE,
    CHURN_FACTOR,
    CONNECTION_COUNTERS,
    SAME_WORK_FACTOR,
    SERVER_CLOSED_LINES,
    SERVER_CLOSED_MIN_LINES,
    ConnectionCounters,
)
from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.findings import Candidate

CHURNED = "connected to too often: connection churn by its callers"  # the reason's words


def _name(detection: Detection) -> str:
    return detection.signal.name.removesuffix(" rate")


def _ratio(detection: Detection) -> float:
    baseline, value = detection.anomaly.baseline, detection.anomaly.value
    return value / baseline if baseline > 0 else float("inf")


def _churn_onset(evidence: ComponentEvidence, counters: ConnectionCounters) -> float | None:
    """When its accepted connections rose ``CHURN_FACTOR`` times, with the same work asked."""
    strong = [d for d in evidence.metric_detections if d.score >= Z_THRESHOLD]
    accepted = [
        d
        for d in strong
        if compiled(counters.accepted).search(_name(d))
        and d.anomaly.direction == "up"
        and d.anomaly.baseline > 0
        and _ratio(d) >= CHURN_FACTOR
    ]
    if not accepted:
        return None
    commands = [d for d in strong if compiled(counters.commands).search(_name(d))]
    for d in commands:
        ratio = _ratio(d)
        if not 1.0 / SAME_WORK_FACTOR <= ratio <= SAME_WORK_FACTOR:
            return None
    return min(d.onset for d in accepted)


def churn_victim(
    *,
    evidence: ComponentEvidence,
    tolerance: float,
    callers: Sequence[ComponentEvidence] = (),
) -> bool:
    """Pure: whether a store's trouble began with connection churn (the module docstring).

    Its new connections per second rose ``CHURN_FACTOR`` times over their
    baseline within ``tolerance`` of its first move, the commands asked of it
    (when they moved at all) stayed within ``SAME_WORK_FACTOR`` of theirs, and
    it does not report itself down (a restart also brings every client back),
    nor did ``callers`` log it closing their connections (``closed_by_store``).
    """
    onset = evidence.onset
    if onset is None or reports_down(evidence):
        return False
    if closed_by_store(callers, since=onset - tolerance):
        return False
    moments = [_churn_onset(evidence, counters) for counters in CONNECTION_COUNTERS]
    return any(m is not None and m <= onset + tolerance for m in moments)


def closed_by_store(callers: Sequence[ComponentEvidence], *, since: float) -> bool:
    """Pure: whether callers logged, from ``since`` on, at least ``SERVER_CLOSED_MIN_LINES``
    errors about established connections the server closed or reset."""
    lines = [
        e.line
        for ev in callers
        if ev.logs is not None
        for e in ev.logs.events
        if e.ts >= since and search_any(SERVER_CLOSED_LINES, e.line)
    ]
    return len(lines) >= SERVER_CLOSED_MIN_LINES


def churning_caller_mode(
    *, candidates: Iterable[Candidate], dependencies: Iterable[str]
) -> str | None:
    """Pure: the root's mode when one of its direct dependencies is its churn victim.

    The ranking gave such a dependency the reason ``CHURNED``: the root opened
    connections to it far more often for the same work (``churn_victim``), which
    is how the root failed, whatever its own metrics show (a CPU rise from the
    handshakes, timeouts waiting for a connection slot).
    """
    direct = set(dependencies)
    churned = any(c.component in direct and CHURNED in c.reasons for c in candidates)
    return CALLER_MODE if churned else None
