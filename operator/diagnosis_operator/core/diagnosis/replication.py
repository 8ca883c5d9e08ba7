"""A semi-synchronous primary depends on its replicas: the edges no topology lists.  Pure.

A primary whose commits wait for a replica's acknowledgement
(``catalog.replication``: sessions waiting for an ACK rose, or the replicas
acknowledging fell, or its error log says it waits for the reply of a binlog)
fails because of a replica, not of its own accord.  Every other MySQL
component of the topology that is not already on either side of it, and that
reported itself down or has significant evidence of its own, is one of the
replicas it may wait for: ``with_replicas`` adds it to the primary's
``dependsOn`` before ranking, so the ranking's usual rules (who went bad
first, who explains whom) decide between the replica and the primary.
Without such a replica in the topology nothing changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from diagnosis_operator.catalog.failure_modes import catalog_kinds
from diagnosis_operator.catalog.mode_types import MYSQL
from diagnosis_operator.catalog.replication import (
    SEMI_SYNC_CLIENTS,
    SEMI_SYNC_LOG,
    SEMI_SYNC_WAITS,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.models.topology import Topology, TopologyError


def _is_mysql(ev: ComponentEvidence) -> bool:
    names = [d.signal.name for d in ev.detections]
    return catalog_kinds(ev.component, names)[0] == MYSQL


def waits_for_replica(ev: ComponentEvidence) -> bool:
    """Pure: whether a MySQL primary's commits wait for a replica's acknowledgement."""
    for detection in ev.metric_detections:
        if detection.score < Z_THRESHOLD:
            continue
        name, direction = detection.signal.name, detection.anomaly.direction
        if SEMI_SYNC_WAITS.search(name) and direction == "up":
            return True
        if SEMI_SYNC_CLIENTS.search(name) and direction == "down":
            return True
    if ev.logs is None or ev.onset is None:
        return False
    onset = ev.onset
    return any(e.ts >= onset and SEMI_SYNC_LOG.search(e.line) for e in ev.logs.events)


def _may_be_replica(topology: Topology, primary: str, name: str, ev: ComponentEvidence) -> bool:
    if name == primary or not _is_mysql(ev):
        return False
    if name in topology.downstream_of(primary) or primary in topology.downstream_of(name):
        return False
    return reports_down(ev) or ev.significant


def with_replicas(*, topology: Topology, evidence: Mapping[str, ComponentEvidence]) -> Topology:
    """Pure: the topology with each waiting primary depending on its candidate replicas."""
    added: dict[str, tuple[str, ...]] = {}
    for primary, ev in evidence.items():
        if primary not in topology.names or not _is_mysql(ev) or not waits_for_replica(ev):
            continue
        replicas = tuple(
            name
            for name, other in sorted(evidence.items())
            if name in topology.names
            and _may_be_replica(topology, primary, name, other)
            and not waits_for_replica(other)
        )
        if replicas:
            added[primary] = replicas
    if not added:
        return topology
    try:
        return Topology(
            components=tuple(
                replace(c, depends_on=c.depends_on + added[c.name]) if c.name in added else c
                for c in topology
            )
        )
    except TopologyError:  # two primaries waiting on each other: leave the topology as declared
        return topology
