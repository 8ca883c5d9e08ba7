"""What arrives at the edge components: the clients their access lines count.  Pure.

Gathered from every edge's collected counts (clients, retries, networks, slow and
big answers) and read access lines: the abusive clients (floods, retries, ranges),
the costly ones (server time and bytes, not request counts) and those whose every
request is a store's miss (cache penetration, ``miss_clients``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.core.diagnosis.collected import (
    BIG_RESPONSES,
    CLIENT_AGENTS,
    CLIENTS,
    HUGE_RESPONSES,
    NETWORKS,
    RETRIES,
    SLOW_REQUESTS,
    is_edge,
    retry_step,
)
from diagnosis_operator.core.diagnosis.costly_clients import find_costly_clients, with_costly
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogEvent
from diagnosis_operator.core.diagnosis.miss_clients import find_miss_clients
from diagnosis_operator.core.diagnosis.signal_types import Detection
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.diagnosis.traffic_clients import (
    find_abusive_clients,
    merge_client_counts,
)
from diagnosis_operator.models.findings import AbusiveClient
from diagnosis_operator.models.signals import LogCount, SignalSet
from diagnosis_operator.models.topology import Topology


@dataclass(frozen=True)
class EdgeTraffic:
    """What arrives at the edge components: the abusive clients and the query to show."""

    names: list[str]
    abusive: list[AbusiveClient]
    client_query: str


def edge_traffic(
    *,
    topology: Topology,
    signals: SignalSet,
    logs: Mapping[str, ComponentLogs],
    detections: Sequence[Detection] = (),
) -> EdgeTraffic:
    """The abusive and costly clients, and those ``detections`` show a store's misses."""
    edge_names = [c.name for c in topology if is_edge(topology, c)]
    access_events: list[LogEvent] = []
    client_counts: list[LogCount] = []
    retry_counts: list[LogCount] = []
    network_counts: list[LogCount] = []
    agent_counts: list[LogCount] = []
    slow_counts: list[LogCount] = []
    big_counts: list[LogCount] = []
    huge_counts: list[LogCount] = []
    client_query = ""
    for name in edge_names:
        collected = signals.components.get(name)
        if collected is None:
            continue
        client_counts.extend(collected.extracted.get(CLIENTS, ()))
        retry_counts.extend(collected.extracted.get(RETRIES, ()))
        network_counts.extend(collected.extracted.get(NETWORKS, ()))
        agent_counts.extend(collected.extracted.get(CLIENT_AGENTS, ()))
        slow_counts.extend(collected.extracted.get(SLOW_REQUESTS, ()))
        big_counts.extend(collected.extracted.get(BIG_RESPONSES, ()))
        huge_counts.extend(collected.extracted.get(HUGE_RESPONSES, ()))
        client_query = (
            client_query or collected.queries.get(RETRIES, "") or collected.queries.get(CLIENTS, "")
        )
        if name in logs:
            access_events.extend(e for e in logs[name].events if e.access is not None)
    abusive = find_abusive_clients(
        client_counts=client_counts,
        retry_counts=retry_counts,
        retry_step=retry_step(signals.window),
        access_events=access_events,
        step=signals.step,
        network_counts=network_counts,
        agent_counts=agent_counts,
    )
    costly = find_costly_clients(
        slow_counts=slow_counts,
        big_counts=big_counts,
        huge_counts=huge_counts,
        traffic=(traffic := merge_client_counts(client_counts)),
        step=signals.step,
    )
    abusive = with_costly(costly, abusive)
    misses = find_miss_clients(
        traffic=traffic,
        detections=detections,
        timestamps=grid_timestamps(window=signals.window, step=signals.step),
        step=signals.step,
        flagged=[c.ip for c in abusive],
    )
    return EdgeTraffic(names=edge_names, abusive=[*abusive, *misses], client_query=client_query)
