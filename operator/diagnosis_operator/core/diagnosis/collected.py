"""What the collector fills and the analysis reads back.  Pure.

The keys under ``ComponentSignals.extracted`` and ``ComponentSignals.queries``
that ``service.collect`` fills, which components are edges (where clients
arrive) and the finer grid step of their retry counts.
"""

from __future__ import annotations

import math

from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

SIGNIFICANT_LINES = "significant"  # error/warn/slow/deadlock-ish lines per step
CLIENTS = "clients"
RETRIES = "retries"
NETWORKS = "networks"
CLIENT_AGENTS = "client-agents"  # per client address and user agent
SLOW_REQUESTS = "slow-requests"  # per client: requests that took a second or more
BIG_RESPONSES = "big-responses"  # per client: responses of 100 kB or more
HUGE_RESPONSES = "huge-responses"  # per client: responses of 10 MB or more
ROUTE_STATUSES = "route-statuses"  # per route and status: requests (``catalog.routes``)
ROUTE_REFUSALS = "route-refusals"  # per route and client: requests refused 404/405/...
RULE_REFUSALS = "rule-refusals"  # per route and client: requests refused 403 (access rules)
SAMPLES = "samples"
RETRY_MAX_POINTS = 3600


def retry_step(window: Window) -> float:
    """Pure: about one second, coarser for long windows (bounded points per series)."""
    return float(max(1, math.ceil(window.duration / RETRY_MAX_POINTS)))


def is_edge(topology: Topology, component: Component) -> bool:
    """Pure: a proxy, or a component nothing depends on (clients arrive there)."""
    return component.kind is ComponentKind.PROXY or not topology.dependents_of(component.name)
