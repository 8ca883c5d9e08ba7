"""The one instance of a data store that stalled, named affected.  Pure.

The sibling comparison (``affected``) singles an instance out by its health
signals (errors, latency, CPU).  A store's instance that stalled shows its harm
in its own work and waits instead (``catalog.store_stalls``: command time, blocked
clients, the slow log, running threads); its callers name it by address.  Of a
store of several instances (not a stateless tier), the instance is affected when
it is the only one whose stall series rose, and its callers' error lines name its
address more often than all its siblings' together.  A store whose instances all
stalled, or whose callers name another (or none) of them, is left as it was.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.gate import STATELESS_KINDS
from diagnosis_operator.catalog.store_stalls import STALL_METRICS
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.blame import addresses
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY
from diagnosis_operator.core.diagnosis.members import host_of
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection, Signal
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.topology import Component, Topology


def with_stalled_store_instances(
    found: Sequence[AffectedFinding],
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    signals: Mapping[str, Sequence[Signal]],
) -> list[AffectedFinding]:
    """Pure: ``found``, with the stalled instance of each store that has none named."""
    named = {f.instance.component for f in found}
    out = list(found)
    for component in topology:
        ev = evidence.get(component.name)
        if component.kind in STATELESS_KINDS or component.name in named or ev is None:
            continue
        instances = sorted({s.instance for s in signals.get(component.name, ()) if s.instance})
        finding = _stalled(
            component, ev, instances, _caller_addresses(topology, evidence, component)
        )
        if finding is not None:
            out.append(finding)
    return out


def _stalled(
    component: Component,
    ev: ComponentEvidence,
    instances: Sequence[str],
    said: Counter[tuple[str, int]],
) -> AffectedFinding | None:
    if len(instances) < 2:
        return None
    stalls = [d for d in ev.metric_detections if _is_stall(d)]
    stalled = {d.signal.instance for d in stalls if d.signal.instance}
    if len(stalled) != 1:
        return None
    instance = stalled.pop()
    counts = _named_counts(instances, said)
    own = counts.get(instance, 0)
    if own == 0 or own <= sum(counts.values()) - own:
        return None
    first = max((d for d in stalls), key=lambda d: d.score)
    reason = (
        f"{first.signal.name} rose on this instance alone "
        f"({first.anomaly.baseline:.3g} -> {first.anomaly.value:.3g}) while its "
        f"{len(instances) - 1} siblings served; its callers' errors name it ({own} lines)"
    )
    mine = tuple(d for d in ev.metric_detections if d.signal.instance == instance)
    return AffectedFinding(
        instance=AffectedInstance(component=component.name, instance=instance, reason=reason),
        detections=mine,
        healthy_siblings=len(instances) - 1,
    )


def _is_stall(detection: Detection) -> bool:
    return (
        bool(detection.signal.instance)
        and detection.anomaly.direction == "up"
        and detection.score >= Z_THRESHOLD
        and any(compiled(p).search(detection.signal.name) for p in STALL_METRICS)
    )


def _caller_addresses(
    topology: Topology, evidence: Mapping[str, ComponentEvidence], store: Component
) -> Counter[tuple[str, int]]:
    """The ``host:port`` pairs of the store's callers' error lines, counted once a line."""
    said: Counter[tuple[str, int]] = Counter()
    for caller in topology.dependents_of(store.name):
        ev = evidence.get(caller)
        if ev is None or ev.logs is None:
            continue
        for event in ev.logs.events:
            if SEVERITY[event.category] >= 1.0:
                said.update(set(addresses(event.line)))
    return said


def _named_counts(instances: Sequence[str], said: Counter[tuple[str, int]]) -> dict[str, int]:
    """Per instance, the caller lines naming it: its host and port, or its host alone
    when no sibling shares that host (an exporter's instance label has its own port)."""
    hosts = Counter(host_of(i).strip("[]").lower() for i in instances)
    counts: dict[str, int] = {}
    for instance in instances:
        host = host_of(instance).strip("[]").lower()
        port = instance.rsplit(":", 1)[-1]
        counts[instance] = sum(
            n for (h, p), n in said.items() if h == host and (hosts[host] == 1 or str(p) == port)
        )
    return counts
