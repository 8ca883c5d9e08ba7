"""A proxy's own access rules refusing the clients it served: harm, or the rule working.  Pure.

A proxy's ``deny`` (nginx), RBAC policy (Envoy), ``http-request deny`` (HAProxy) or IP
allow list (Traefik) answers 403 itself (``catalog.routes.RULE_REFUSAL_LINES``).  Whom it
refuses decides what it is:

* one address or a few (a scanner probing its word list, a banned client): the rule
  working.  Its lines (nginx logs each refusal at ``error``) are no harm by themselves
  (``rules_refusing``, read by the incident gate);
* most of the clients the proxy served a moment ago, on the routes it served them (a CIDR
  typo denying a whole range, an allow list that lost the clients' network): harm to
  users as surely as a 5xx, and the proxy's configuration is the root.

The second is read like ``route_refusals``' route switch, with the rule's status
(``catalog.routes.RULE_REFUSAL_STATUSES``) and only when the proxy's own lines say its
rules refused (a 403 from the upstream is the application's, an expired credential's):
a route served (``route_refusals.switch_step``) and refused from a step on, to at least
``route_refusals.MIN_CLIENTS`` clients alike, who are at least
``catalog.routes.RULE_CLIENT_SHARE`` of the edge's clients seen since.  It gives the edge
``catalog.routes.RULE_REFUSAL_SIGNAL``, an error ratio.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.catalog.routes import (
    RULE_CLIENT_SHARE,
    RULE_REFUSAL_LINES,
    RULE_REFUSAL_SIGNAL,
    RULE_REFUSAL_STATUSES,
)
from diagnosis_operator.core.diagnosis.collected import CLIENTS, ROUTE_STATUSES, RULE_REFUSALS
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs.patterns import CLIENT_LABELS
from diagnosis_operator.core.diagnosis.route_refusals import (
    MIN_PER_CLIENT,
    OnGrid,
    RouteSwitch,
    first_label,
    refused_alike,
    refused_clients,
    route_series,
    switch_step,
)
from diagnosis_operator.core.diagnosis.shedding import SHED_MIN_LINES, SHED_SHARE, events_since
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.findings import EvidenceSource
from diagnosis_operator.models.signals import Labels, LogCount, LogStream


def is_rule_refusal(line: str) -> bool:
    """Pure: whether a line is a request its proxy's own access rules refused."""
    return search_any(RULE_REFUSAL_LINES, line)


def refused_by_rules(streams: Sequence[LogStream]) -> bool:
    """Pure: whether a component's sampled lines hold refusals of its own access rules."""
    return any(is_rule_refusal(line.line) for s in streams for line in s.lines)


def clients_since(counts: Sequence[LogCount], on_grid: OnGrid, *, onset: int) -> set[str]:
    """Pure: the edge's clients (its busiest) with requests from step ``onset`` on."""
    return {
        client
        for count in counts
        if (client := first_label(count.labels, CLIENT_LABELS))
        and float(np.nansum(on_grid(count)[onset:])) > 0
    }


def _population(refused: Mapping[str, float], seen: set[str]) -> bool:
    """Most of the clients seen since the switch were refused (no list: not judged)."""
    many = {c for c, n in refused.items() if n >= MIN_PER_CLIENT}
    return not seen or len(many & seen) >= RULE_CLIENT_SHARE * len(seen)


def rule_switches(
    extracted: Mapping[str, Sequence[LogCount]], on_grid: OnGrid
) -> list[RouteSwitch]:
    """Pure: served routes refused by the rules to most of the edge's clients since."""
    found = []
    series = route_series(
        extracted.get(ROUTE_STATUSES, ()), on_grid, refusing=RULE_REFUSAL_STATUSES
    )
    for route, (requests, refused) in sorted(series.items()):
        onset = switch_step(requests, refused)
        if onset is None:
            continue
        clients = refused_clients(
            extracted.get(RULE_REFUSALS, ()), on_grid, route=route, onset=onset
        )
        seen = clients_since(extracted.get(CLIENTS, ()), on_grid, onset=onset)
        if clients and refused_alike(clients) and _population(clients, seen):
            found.append(RouteSwitch(route, onset, requests, refused, len(clients)))
    return found


def rule_refusal_signals(
    *,
    component: str,
    extracted: Mapping[str, Sequence[LogCount]],
    streams: Sequence[LogStream],
    on_grid: OnGrid,
    query: str,
) -> list[Signal]:
    """Pure: the edge's ``RULE_REFUSAL_SIGNAL`` when its own rules refused the clients it
    served (the module docstring), else none."""
    if not refused_by_rules(streams):
        return []
    switches = rule_switches(extracted, on_grid)
    if not switches:
        return []
    requests = np.sum([s.requests for s in switches], axis=0)
    refused = np.sum([s.refused for s in switches], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, refused / np.where(requests > 0, requests, 1.0), np.nan)
    routes = ", ".join(s.route for s in switches)
    return [
        Signal(
            component=component,
            instance=None,
            name=RULE_REFUSAL_SIGNAL,
            family=RULE_REFUSAL_SIGNAL,
            kind=SignalKind.ERROR_RATIO,
            query=f"{query} (routes served before, now refused by its own rules: {routes})",
            values=ratio,
            labels=Labels({"routes": routes}),
            source=EvidenceSource.LOKI,
            events=refused,
            requests=requests,
        )
    ]


def rules_refusing(ev: ComponentEvidence, detection: Detection) -> bool:
    """Pure: whether a rise of error/warn lines is mostly the component's own access rules
    refusing requests: no harm by itself (the refused clients' share is judged by
    ``RULE_REFUSAL_SIGNAL``)."""
    if detection.signal.kind is not SignalKind.LOG_SIGNIFICANT or ev.logs is None:
        return False
    lines = [
        e
        for e in events_since(ev, onset=detection.onset, instance=detection.signal.instance)
        if e.severity > 0
    ]
    refused = sum(1 for e in lines if is_rule_refusal(e.line))
    return refused >= SHED_MIN_LINES and refused >= SHED_SHARE * len(lines)
