"""A surge of requests at the edge before any harm: the clients' traffic is the cause.  Pure.

A retry storm from a whole client fleet (an app release retrying without
backoff, thousands of addresses, none of them abusive by itself), a flash crowd
past capacity: the work asked at the edge (``catalog.work.WORK_METRICS``, the
derived request rates) at least doubles, and only then do the edge and the
backends behind it fail.  No component failed by a fault of its own first: the
edge (where clients arrive) is the first to show anything, and what it showed
first is more requests.  The cause is the clients' traffic, even with no
single address to name: the root is ``client`` without an address, and nothing
is rate-limited (no address to aim at) or drained (every instance alike).

Not when the edge fails by itself (``evidence.fails_by_itself``, or its own
error log, not its access lines, reports trouble from the surge on: it ran out
of workers or connections under the load), nor when any other component showed harm before
the surge (a backend failing first is the cause; the retries its failures
bring follow it).
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnosis_operator.core.diagnosis.collected import is_edge
from diagnosis_operator.core.diagnosis.evidence import (
    SYMPTOM_KINDS,
    ComponentEvidence,
    fails_by_itself,
)
from diagnosis_operator.core.diagnosis.shifted_load import asked_more
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection, SignalKind
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Topology

SURGE_FACTOR = 2.0  # the work asked at least doubles


def _surged(detection: Detection) -> bool:
    anomaly = detection.anomaly
    work = detection.signal.kind is SignalKind.REQUEST_RATE or asked_more(
        detection.signal.name.removesuffix(" rate")
    )
    return (
        work
        and detection.score >= Z_THRESHOLD
        and anomaly.direction == "up"
        and anomaly.baseline > 0
        and anomaly.value >= SURGE_FACTOR * anomaly.baseline
    )


def first_harm(evidence: ComponentEvidence) -> float | None:
    """Pure: when a component first showed harm (failures, slowness, severe lines, lost work)."""
    moments = [
        d.onset
        for d in evidence.metric_detections
        if d.score >= Z_THRESHOLD and d.signal.kind in SYMPTOM_KINDS and d.anomaly.direction == "up"
    ]
    moments += [d.onset for d in evidence.harm]
    moments += [event.ts for event, _ in evidence.new_categories.values()]
    return min(moments, default=None)


def surge_onset(evidence: ComponentEvidence) -> float | None:
    """Pure: when the work asked of a component at least doubled, if no harm came before."""
    surged = [d.onset for d in evidence.metric_detections if _surged(d)]
    if not surged:
        return None
    onset = min(surged)
    harm = first_harm(evidence)
    return onset if harm is None or harm >= onset else None


def _own_errors_since(evidence: ComponentEvidence, onset: float) -> bool:
    """Whether the edge's own error log (not its access lines) reported trouble from ``onset``.

    A proxy that says it ran out of something ("worker_connections are not
    enough", "accept() failed (24: Too many open files)") failed by its own
    limits under the load: it is the root, whatever brought the load.
    """
    if evidence.logs is None:
        return False
    return any(
        e.access is None and e.severity >= 1.0 and e.ts >= onset for e in evidence.logs.events
    )


def traffic_led(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    root: str,
    window: Window,
) -> float | None:
    """Pure: the surge's onset when the clients' traffic, not ``root``, caused the incident.

    ``root`` is an edge whose first move was a surge of requests (``surge_onset``),
    not failing by itself, and no other component showed harm before the surge.
    ``None``: the root stands.
    """
    ev = evidence.get(root)
    if ev is None or not is_edge(topology, topology.get(root)):
        return None
    if fails_by_itself(evidence=ev, window=window):
        return None
    onset = surge_onset(ev)
    if onset is None or _own_errors_since(ev, onset):
        return None
    for name, other in evidence.items():
        harm = first_harm(other) if name != root else None
        if harm is not None and harm < onset:
            return None
    return onset
