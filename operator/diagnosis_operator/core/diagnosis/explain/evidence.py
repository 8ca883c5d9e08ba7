"""The evidence chain: from the root's layer up to where the symptom was seen.  Pure.

Root, aggravating factors, then the callers by distance from the root; every
item quotes the query or the log line behind it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.explain._text import clock, num
from diagnosis_operator.core.diagnosis.logs import (
    EVENT_NAMES,
    ComponentLogs,
    LogCategory,
    LogEvent,
    hot_keys,
    upstream_errors,
)
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT, ROLE_SYMPTOM
from diagnosis_operator.core.diagnosis.signal_types import Detection
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    AbusiveClient,
    Candidate,
    Evidence,
    EvidenceSource,
)
from diagnosis_operator.models.topology import Topology

_ROLE_ORDER = {ROLE_ROOT: 0, ROLE_AGGRAVATING: 1, ROLE_SYMPTOM: 2}
MAX_METRIC_EVIDENCE = 3


def chain_order(*, topology: Topology, candidates: Sequence[Candidate]) -> list[str]:
    """Pure: components from the root layer up: root, aggravating, then callers by depth."""

    def key(candidate: Candidate) -> tuple[int, int, str]:
        return (
            _ROLE_ORDER.get(candidate.role, 3),
            topology.depth(candidate.component),
            candidate.component,
        )

    return [c.component for c in sorted(candidates, key=key)]


def _log_evidence(component: str, category: LogCategory, first: LogEvent, count: int) -> Evidence:
    name = EVENT_NAMES[category]
    summary = f"{count} sampled line(s) of {name}, first at {clock(first.ts)}"
    if first.slow_query is not None:
        slow = first.slow_query
        summary = f"slow query `{slow.statement}`"
        if slow.query_time is not None:
            summary += f", Query_time {slow.query_time:.1f} s"
        if slow.rows_examined is not None:
            summary += f", {slow.rows_examined} rows examined"
        if slow.full_scan_suspected:
            summary += " (full table scan suspected)"
        summary += (
            f"; {count} slow entr{'y' if count == 1 else 'ies'} in the sample, first "
            f"at {clock(first.ts)}"
        )
    elif first.tables:
        summary += f"; tables: {', '.join(first.tables)}"
    return Evidence(
        component=component,
        source=EvidenceSource.LOKI,
        query=first.query,
        summary=summary,
        ts=first.ts,
        value=float(count),
        baseline=0.0,
        instance=first.instance,
        line=first.line[:500],
    )


def _metric_evidence(detection: Detection) -> Evidence:
    anomaly = detection.anomaly
    signal = detection.signal
    where = f" on {signal.instance}" if signal.instance else ""
    summary = (
        f"{signal.name}{where} {'rose' if anomaly.direction == 'up' else 'fell'} to "
        f"{num(anomaly.value)} "
        f"from a baseline of {num(anomaly.baseline)} (peak {num(detection.peak)}, z "
        f"{anomaly.score:.0f}), "
        f"from {clock(anomaly.onset)}"
    )
    return Evidence(
        component=signal.component,
        source=anomaly.source,
        query=anomaly.query,
        summary=summary,
        ts=anomaly.onset,
        value=anomaly.value,
        baseline=anomaly.baseline,
        instance=signal.instance,
    )


def _hot_key_evidence(name: str, logs: ComponentLogs) -> list[Evidence]:
    hot = hot_keys(logs.events)
    if not hot:
        return []
    slow = [e for e in logs.events if e.slow_command is not None and e.slow_command.duration]
    worst = max((e.slow_command.duration or 0.0 for e in slow if e.slow_command), default=0.0)
    return [
        Evidence(
            component=name,
            source=EvidenceSource.LOKI,
            query=logs.events[0].query if logs.events else "",
            summary="hot keys in slow commands: "
            + ", ".join(f"{key} ({count}x)" for key, count in hot)
            + (f"; slowest {worst * 1000:.0f} ms" if worst else ""),
            value=float(hot[0][1]),
        )
    ]


def _upstream_evidence(name: str, logs: ComponentLogs) -> list[Evidence]:
    upstreams = upstream_errors(logs.events)
    if not upstreams:
        return []
    total = sum(len(v) for v in upstreams.values())
    address, events = max(upstreams.items(), key=lambda item: len(item[1]))
    latencies = [e.access.latency for e in events if e.access and e.access.latency is not None]
    summary = f"{len(events)} of {total} sampled 5xx/timeout lines name upstream {address}"
    if latencies:
        summary += (
            f"; latency {min(latencies):.1f}-{max(latencies):.1f} s,"
            f" {sum(1 for x in latencies if x > 5)} over 5 s"
        )
    first = min(events, key=lambda e: e.ts)
    return [
        Evidence(
            component=name,
            source=EvidenceSource.LOKI,
            query=first.query,
            summary=summary,
            ts=first.ts,
            value=float(len(events)),
            line=first.line[:500],
        )
    ]


def _affected_evidence(name: str, affected: Sequence[AffectedFinding]) -> list[Evidence]:
    return [
        Evidence(
            component=name,
            source=EvidenceSource.PROMETHEUS,
            query=finding.detections[0].anomaly.query if finding.detections else "",
            summary=(f"instance {finding.instance.instance} degraded while its siblings are not: ")
            + finding.instance.reason,
            ts=min((d.onset for d in finding.detections), default=None),
            instance=finding.instance.instance,
        )
        for finding in affected
        if finding.instance.component == name
    ]


def _metric_items(ev: ComponentEvidence) -> list[Evidence]:
    items: list[Evidence] = []
    seen_families: set[str] = set()
    for detection in ev.metric_detections:
        if detection.signal.family in seen_families:
            continue
        seen_families.add(detection.signal.family)
        items.append(_metric_evidence(detection))
        if len(seen_families) >= MAX_METRIC_EVIDENCE:
            break
    return items


def _component_evidence(
    name: str, ev: ComponentEvidence, *, affected: Sequence[AffectedFinding]
) -> list[Evidence]:
    items = [
        _log_evidence(name, category, first, count)
        for category, (first, count) in sorted(
            ev.new_categories.items(), key=lambda item: item[1][0].ts
        )
    ]
    if ev.logs is not None:
        items += _hot_key_evidence(name, ev.logs)
        items += _upstream_evidence(name, ev.logs)
    items += _affected_evidence(name, affected)
    items += _metric_items(ev)
    return items


def evidence_chain(
    *,
    topology: Topology,
    candidates: Sequence[Candidate],
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
    client_query: str,
) -> list[Evidence]:
    """Pure: evidence items ordered from the root layer up to the symptom layer."""
    items: list[Evidence] = []
    for name in chain_order(topology=topology, candidates=candidates):
        ev = evidence.get(name)
        if ev is not None:
            items += _component_evidence(name, ev, affected=affected)
    for client in clients:
        items.append(
            Evidence(
                component=CLIENT_CAUSE,
                source=EvidenceSource.LOKI,
                query=client_query,
                summary=f"client {client.ip}: {client.reason}",
                ts=client.first_seen,
                value=float(client.requests),
            )
        )
    return items
