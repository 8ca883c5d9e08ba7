"""The timeline: first occurrences of log categories, signal onsets and client bursts.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import EVENT_NAMES
from diagnosis_operator.core.diagnosis.signal_types import SignalKind
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    AbusiveClient,
    EvidenceSource,
    TimelineEvent,
)

_TIMELINE_KINDS = {
    SignalKind.CPU: "CPU spike",
    SignalKind.ERROR_RATIO: "5xx burst",
    SignalKind.LATENCY: "latency rise",
    SignalKind.LOG_SIGNIFICANT: "error log burst",
}


def _metric_events(name: str, ev: ComponentEvidence) -> list[TimelineEvent]:
    """The first onsets of a component's signals: one per kind or family, at most four."""
    events: list[TimelineEvent] = []
    seen: set[str] = set()
    for detection in sorted(ev.metric_detections, key=lambda d: d.onset):
        label = _TIMELINE_KINDS.get(detection.signal.kind)
        if label is None and detection.signal.family in seen:
            continue
        key = label or detection.signal.family
        if key in seen or len(seen) >= 4:
            continue
        seen.add(key)
        where = f" on {detection.signal.instance}" if detection.signal.instance else ""
        moved = "rose" if detection.anomaly.direction == "up" else "fell"
        text = label or f"{detection.signal.name} {moved}"
        events.append(
            TimelineEvent(
                ts=detection.onset,
                component=name,
                event=f"{text}{where}",
                source=detection.anomaly.source,
            )
        )
    return events


def _component_events(name: str, ev: ComponentEvidence) -> list[TimelineEvent]:
    events = [
        TimelineEvent(
            ts=first.ts,
            component=name,
            event=f"first {EVENT_NAMES[category]}",
            source=EvidenceSource.LOKI,
        )
        for category, (first, _) in ev.new_categories.items()
    ]
    return events + _metric_events(name, ev)


def _other_events(
    affected: Sequence[AffectedFinding], clients: Sequence[AbusiveClient]
) -> list[TimelineEvent]:
    """Degraded instances and the first request of each abusive client."""
    events: list[TimelineEvent] = []
    for finding in affected:
        onset = min((d.onset for d in finding.detections), default=None)
        if onset is not None:
            events.append(
                TimelineEvent(
                    ts=onset,
                    component=finding.instance.component,
                    event=f"instance {finding.instance.instance} degraded",
                )
            )
    for client in clients:
        if client.first_seen is not None:
            label = _CLIENT_LABELS.get(client.pattern.value, "traffic flood")
            events.append(
                TimelineEvent(
                    ts=client.first_seen,
                    component=CLIENT_CAUSE,
                    event=f"{label} from {client.ip}",
                    source=EvidenceSource.LOKI,
                )
            )
    return events


_CLIENT_LABELS = {"retry-loop": "retry burst", "costly": "costly requests"}


def timeline(
    *,
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
) -> list[TimelineEvent]:
    """Pure: first occurrences (log categories, signal onsets, client bursts), in time order."""
    events: list[TimelineEvent] = []
    for name, ev in evidence.items():
        events += _component_events(name, ev)
    events += _other_events(affected, clients)
    events.sort(key=lambda e: (e.ts, e.component, e.event))
    return events
