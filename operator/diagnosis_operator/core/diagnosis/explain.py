"""Evidence chain, timeline, recommendations, summary and key signals.  Pure.

The evidence chain runs from the root's layer up to where the symptom was seen
(root, aggravating factors, then the callers by distance from the root); every
item quotes the query or the log line behind it.  Recommendations follow only
from evidence that is present.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import (
    EVENT_NAMES,
    LogCategory,
    LogEvent,
    hot_keys,
    statement_fingerprint,
    upstream_errors,
)
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT, ROLE_SYMPTOM
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Candidate,
    Evidence,
    EvidenceSource,
    KeySignal,
    Recommendation,
    RootCause,
    TimelineEvent,
    Urgency,
)
from diagnosis_operator.models.signals import isoformat_z
from diagnosis_operator.models.topology import ComponentKind, Topology

_ROLE_ORDER = {ROLE_ROOT: 0, ROLE_AGGRAVATING: 1, ROLE_SYMPTOM: 2}
MAX_METRIC_EVIDENCE = 3
MAX_KEY_SIGNALS = 40

# How a component's role reads in a sentence ("redis was an aggravating factor of ...").
_ROLE_PHRASES = {
    "root": "the root cause",
    "aggravating": "an aggravating factor",
    "symptom": "a symptom",
    "candidate": "a candidate cause",
}


def _clock(ts: float) -> str:
    return isoformat_z(ts)[11:19]


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
    summary = f"{count} sampled line(s) of {name}, first at {_clock(first.ts)}"
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
            f"at {_clock(first.ts)}"
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
        f"{_num(anomaly.value)} "
        f"from a baseline of {_num(anomaly.baseline)} (peak {_num(detection.peak)}, z "
        f"{anomaly.score:.0f}), "
        f"from {_clock(anomaly.onset)}"
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


def _num(value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 100:
        return f"{value:.0f}"
    return f"{value:.3g}"


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
        if ev is None:
            continue
        for category, (first, count) in sorted(
            ev.new_categories.items(), key=lambda item: item[1][0].ts
        ):
            items.append(_log_evidence(name, category, first, count))
        if ev.logs is not None:
            hot = hot_keys(ev.logs.events)
            if hot:
                slow = [
                    e
                    for e in ev.logs.events
                    if e.slow_command is not None and e.slow_command.duration
                ]
                worst = max(
                    (e.slow_command.duration or 0.0 for e in slow if e.slow_command), default=0.0
                )
                items.append(
                    Evidence(
                        component=name,
                        source=EvidenceSource.LOKI,
                        query=ev.logs.events[0].query if ev.logs.events else "",
                        summary="hot keys in slow commands: "
                        + ", ".join(f"{key} ({count}x)" for key, count in hot)
                        + (f"; slowest {worst * 1000:.0f} ms" if worst else ""),
                        value=float(hot[0][1]),
                    )
                )
            upstreams = upstream_errors(ev.logs.events)
            if upstreams:
                total = sum(len(v) for v in upstreams.values())
                address, events = max(upstreams.items(), key=lambda item: len(item[1]))
                latencies = [
                    e.access.latency for e in events if e.access and e.access.latency is not None
                ]
                summary = (
                    f"{len(events)} of {total} sampled 5xx/timeout lines name upstream {address}"
                )
                if latencies:
                    summary += (
                        f"; latency {min(latencies):.1f}-{max(latencies):.1f} s,"
                        f" {sum(1 for x in latencies if x > 5)} over 5 s"
                    )
                first = min(events, key=lambda e: e.ts)
                items.append(
                    Evidence(
                        component=name,
                        source=EvidenceSource.LOKI,
                        query=first.query,
                        summary=summary,
                        ts=first.ts,
                        value=float(len(events)),
                        line=first.line[:500],
                    )
                )
        for finding in affected:
            if finding.instance.component == name:
                items.append(
                    Evidence(
                        component=name,
                        source=EvidenceSource.PROMETHEUS,
                        query=finding.detections[0].anomaly.query if finding.detections else "",
                        summary=(
                            f"instance {finding.instance.instance} degraded while its "
                            f"siblings are not: "
                        )
                        + finding.instance.reason,
                        ts=min((d.onset for d in finding.detections), default=None),
                        instance=finding.instance.instance,
                    )
                )
        seen_families: set[str] = set()
        for detection in ev.metric_detections:
            if detection.signal.family in seen_families:
                continue
            seen_families.add(detection.signal.family)
            items.append(_metric_evidence(detection))
            if len(seen_families) >= MAX_METRIC_EVIDENCE:
                break
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


_TIMELINE_KINDS = {
    SignalKind.CPU: "CPU spike",
    SignalKind.ERROR_RATIO: "5xx burst",
    SignalKind.LATENCY: "latency rise",
    SignalKind.LOG_SIGNIFICANT: "error log burst",
}


def timeline(
    *,
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
) -> list[TimelineEvent]:
    """Pure: first occurrences (log categories, signal onsets, client bursts), in time order."""
    events: list[TimelineEvent] = []
    for name, ev in evidence.items():
        for category, (first, _) in ev.new_categories.items():
            events.append(
                TimelineEvent(
                    ts=first.ts,
                    component=name,
                    event=f"first {EVENT_NAMES[category]}",
                    source=EvidenceSource.LOKI,
                )
            )
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
            label = "retry burst" if client.pattern.value == "retry-loop" else "traffic flood"
            events.append(
                TimelineEvent(
                    ts=client.first_seen,
                    component=CLIENT_CAUSE,
                    event=f"{label} from {client.ip}",
                    source=EvidenceSource.LOKI,
                )
            )
    events.sort(key=lambda e: (e.ts, e.component, e.event))
    return events


def recommendations(
    *,
    topology: Topology,
    root_cause: RootCause,
    candidates: Sequence[Candidate],
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
) -> list[Recommendation]:
    """Pure: what to do, each following from evidence that is present."""
    out: list[Recommendation] = []
    roles = {c.component: c.role for c in candidates}
    for finding in affected:
        target = finding.instance.pod or finding.instance.instance
        out.append(
            Recommendation(
                component=finding.instance.component,
                urgency=Urgency.IMMEDIATE,
                text=f"Take {target} out of the load balancer and restart it, to free its blocked "
                "workers and the database connections it holds.",
                because=finding.instance.reason,
            )
        )
    for client in clients:
        out.append(
            Recommendation(
                component=CLIENT_CAUSE,
                urgency=Urgency.IMMEDIATE,
                text=f"Rate-limit or block client {client.ip} at the edge; ask its owner for "
                "exponential backoff with jitter.",
                because=client.reason,
            )
        )
    for name, ev in evidence.items():
        if roles.get(name) not in (ROLE_ROOT, ROLE_AGGRAVATING) and name != root_cause.component:
            continue
        kind = topology.get(name).kind
        cats = ev.new_categories
        if LogCategory.TOO_MANY_CONNECTIONS in cats:
            first, _ = cats[LogCategory.TOO_MANY_CONNECTIONS]
            out.append(
                Recommendation(
                    component=name,
                    urgency=Urgency.IMMEDIATE,
                    text=(
                        "Kill long-running and idle queries (SHOW PROCESSLIST / KILL), then "
                        "review connection pool limits of the callers and max_connections."
                    ),
                    because=f"too many connections at {_clock(first.ts)}",
                )
            )
        slow_events = list(ev.slow_queries)
        statements: dict[str, LogEvent] = {}
        for event in slow_events:
            if event.slow_query is not None:
                statements.setdefault(statement_fingerprint(event.slow_query.statement), event)
        for fingerprint, event in list(statements.items())[:3]:
            slow = event.slow_query
            if slow is None:
                continue
            if slow.full_scan_suspected and slow.where_columns and slow.table:
                columns = ", ".join(slow.where_columns)
                out.append(
                    Recommendation(
                        component=name,
                        urgency=Urgency.SHORT_TERM,
                        text=f"Add an index on {slow.table}({columns}) for `{fingerprint}` "
                        f"(check with EXPLAIN first).",
                        because=_slow_because(slow.query_time, slow.rows_examined),
                    )
                )
            else:
                out.append(
                    Recommendation(
                        component=name,
                        urgency=Urgency.SHORT_TERM,
                        text=(
                            f"Optimise `{fingerprint}` (EXPLAIN it; add indexes or limit "
                            f"the rows it reads)."
                        ),
                        because=_slow_because(slow.query_time, slow.rows_examined),
                    )
                )
        if LogCategory.DEADLOCK in cats:
            first, count = cats[LogCategory.DEADLOCK]
            tables = sorted(
                {
                    t
                    for e in (ev.logs.events if ev.logs else ())
                    for t in e.tables
                    if e.category is LogCategory.DEADLOCK
                }
            )
            on = f" on {', '.join(tables)}" if tables else ""
            out.append(
                Recommendation(
                    component=name,
                    urgency=Urgency.SHORT_TERM,
                    text=(
                        f"Review the transactions that deadlock{on}: take locks in one fixed "
                        "order, keep transactions short, retry on deadlock with backoff."
                    ),
                    because=f"{count} deadlock line(s) from {_clock(first.ts)}",
                )
            )
        if ev.logs is not None:
            hot = hot_keys(ev.logs.events)
            if hot:
                out.append(
                    Recommendation(
                        component=name,
                        urgency=Urgency.SHORT_TERM,
                        text="Relieve hot keys "
                        + ", ".join(k for k, _ in hot)
                        + ": cache them locally in the callers or shard them; split large reads "
                        "(e.g. HGETALL) into smaller ones.",
                        because="hot keys in slow commands: "
                        + ", ".join(f"{k} ({c}x)" for k, c in hot),
                    )
                )
        if kind is ComponentKind.MYSQL or kind is ComponentKind.REDIS:
            out.append(
                Recommendation(
                    component=name,
                    urgency=Urgency.LONG_TERM,
                    text=(
                        f"Put circuit breakers and timeouts in front of {name} in its callers, "
                        "and alert on its connections, slow operations and errors."
                    ),
                    because=f"{name} was {_ROLE_PHRASES.get(roles.get(name, 'root'), 'part')} "
                    "of this incident",
                )
            )
    if root_cause.component not in (NO_INCIDENT,) and clients:
        out.append(
            Recommendation(
                component=CLIENT_CAUSE,
                urgency=Urgency.LONG_TERM,
                text=(
                    "Publish a client retry policy (exponential backoff, retry budgets) and "
                    "monitor per-client request rates."
                ),
                because="abusive client traffic during the incident",
            )
        )
    order = {Urgency.IMMEDIATE: 0, Urgency.SHORT_TERM: 1, Urgency.LONG_TERM: 2}
    out.sort(key=lambda r: order[r.urgency])
    return out


def _slow_because(query_time: float | None, rows_examined: int | None) -> str:
    parts = ["slow query"]
    if query_time is not None:
        parts.append(f"Query_time {query_time:.1f} s")
    if rows_examined is not None:
        parts.append(f"{rows_examined} rows examined")
    return ", ".join(parts)


def summary(
    *,
    root_cause: RootCause,
    candidates: Sequence[Candidate],
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
    symptom: str | None,
) -> str:
    """Pure: one paragraph saying what happened, from the root to the symptom."""
    if root_cause.component == NO_INCIDENT:
        return (
            "No incident in the window: no signal left its baseline far or long enough, "
            "and no client traffic was abusive."
        )
    seen_at = f" seen at {symptom}" if symptom else ""
    if root_cause.component == CLIENT_CAUSE:
        lead = ", ".join(f"{c.ip} ({c.reason})" for c in clients[:3])
        victims = ", ".join(c.component for c in candidates) or "no component"
        return f"Abusive client traffic caused the incident{seen_at}: {lead}. Affected: {victims}."
    root = root_cause.component
    ev = evidence.get(root)
    facts = []
    if ev is not None:
        for category, (first, count) in sorted(
            ev.new_categories.items(), key=lambda item: item[1][0].ts
        ):
            facts.append(f"{EVENT_NAMES[category]} ({count}, from {_clock(first.ts)})")
        for detection in ev.metric_detections[:2]:
            facts.append(
                f"{detection.signal.name} {_num(detection.anomaly.baseline)} -> "
                f"{_num(detection.anomaly.value)}"
            )
    text = f"{root} went bad first"
    if ev is not None and ev.onset is not None:
        text += f" (from {_clock(ev.onset)})"
    if facts:
        text += ": " + "; ".join(facts)
    text += "."
    symptoms = [c.component for c in candidates if c.role == ROLE_SYMPTOM]
    if symptoms:
        text += f" Its callers followed: {', '.join(symptoms)}"
        if affected:
            text += (
                " ("
                + "; ".join(f"{a.instance.instance}: {a.instance.reason}" for a in affected)
                + ")"
            )
        text += "."
    aggravating = [c.component for c in candidates if c.role == ROLE_AGGRAVATING]
    if aggravating:
        text += f" Aggravating: {', '.join(aggravating)} degraded later, feeding the same callers."
    if clients:
        text += (
            " Abusive clients added load: "
            + ", ".join(f"{c.ip} ({c.reason})" for c in clients[:3])
            + "."
        )
    if symptom:
        text += f" Symptom{seen_at}."
    return text


def key_signals(
    *,
    detections: Sequence[Detection],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    affected: Sequence[AffectedFinding],
    limit: int = MAX_KEY_SIGNALS,
) -> list[KeySignal]:
    """Pure: the anomalous signals worth plotting (affected instances first) and their siblings."""
    chosen: list[Signal] = []
    anomalous: set[int] = set()
    ordered = [d for f in affected for d in f.detections[:2]] + list(detections)
    seen_keys: set[tuple[object, ...]] = set()
    for detection in ordered:
        signal = detection.signal
        anomalous.add(id(signal))
        key = signal.peer_key
        if key in seen_keys:
            continue
        seen_keys.add(key)
        peers = [s for s in signals.get(signal.component, ()) if s.peer_key == key]
        for peer in [signal, *(p for p in peers if p is not signal)][:6]:
            if len(chosen) >= limit:
                break
            chosen.append(peer)
        if len(chosen) >= limit:
            break
    out = []
    for signal in chosen:
        finite = np.isfinite(signal.values)
        out.append(
            KeySignal(
                component=signal.component,
                instance=signal.instance,
                signal=signal.name,
                query=signal.query,
                timestamps=tuple(float(t) for t in timestamps[finite]),
                values=tuple(round(float(v), 6) for v in signal.values[finite]),
                anomalous=id(signal) in anomalous,
            )
        )
    return out
