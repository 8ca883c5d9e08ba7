"""Routes that were served and are now refused to everyone: a 4xx that is harm.  Pure.

A 4xx is normally the client's own error, so the 5xx ratio leaves it out.  But when a
route (a path's first two segments) that an edge answered with success to its clients
suddenly answers "not found" (``catalog.routes.ROUTE_LOST_STATUSES``) to most of its
requests, from several distinct clients alike, the resource did not vanish for each of
them by chance: the server side moved it (a rewrite, a routing change, a release).  Users
are harmed as surely as by a 5xx.

Read from an edge's access-line counts (``collected.ROUTE_STATUSES``: per route and status;
``collected.ROUTE_REFUSALS``: the refused requests per route and client), route by route.
The switch is the step that splits the route's requests into a *served* stretch before it
(at least ``MIN_SERVED`` requests, at most ``SERVED_REFUSED_SHARE`` of them refused) and a
*refused* one from it on (at least ``MIN_REFUSED`` requests, at least ``REFUSED_SHARE`` of
them refused), opening with refused requests, the one where the refused share rises most.
It is kept when at least ``MIN_CLIENTS`` distinct clients were refused ``MIN_PER_CLIENT``
times or more from the switch on, none of them holding more than ``TOP_CLIENT_SHARE`` of
the refusals.  What this leaves out, by construction:

* a scanner's 404s on paths never served (no served stretch);
* one client's own misses on a served route (one client refused, or most refusals its own);
* a steady share of 404s on a route (missing ids): no served stretch below
  ``SERVED_REFUSED_SHARE``, or no refused one above ``REFUSED_SHARE``;
* credential refusals (401, 403), rate limits (429) and hang-ups (499): not among the
  statuses (``catalog.routes``).

The routes kept give the edge one signal, ``catalog.routes.ROUTE_REFUSAL_SIGNAL``: per
step, the share of their requests refused (an error ratio with its events and requests,
judged against its own baseline like a 5xx ratio).

Who refused them: an edge's dependency whose own request counter (its route label,
``catalog.routes.ROUTE_LABELS``, and its status) shows the same routes switching from
served to refused answered the clients' paths with those statuses itself (a release, its
own routing): it gets the same signal from its counter, the deeper symptom
(``backend_route_signals``).  One that was sent other paths (its refusals on routes it
never served, the edge's routes no longer reaching it) did not: the edge rewrote them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.catalog.routes import (
    ROUTE_CLIENT_LABELS,
    ROUTE_LABELS,
    ROUTE_LOST_STATUSES,
    ROUTE_REFUSAL_SIGNAL,
    ROUTE_STATUS_LABELS,
)
from diagnosis_operator.core.diagnosis.collected import ROUTE_REFUSALS, ROUTE_STATUSES
from diagnosis_operator.core.diagnosis.derived import status_of
from diagnosis_operator.core.diagnosis.signal_types import FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import EvidenceSource
from diagnosis_operator.models.signals import Labels, LogCount
from diagnosis_operator.models.topology import Topology

MIN_SERVED = 10
SERVED_REFUSED_SHARE = 0.1
MIN_REFUSED = 10
REFUSED_SHARE = 0.5
MIN_CLIENTS = 2
MIN_PER_CLIENT = 3
TOP_CLIENT_SHARE = 0.8

OnGrid = Callable[[LogCount], FloatArray]  # a count's values on the evaluation grid


@dataclass(frozen=True, slots=True)
class RouteSwitch:
    """A served route refused since step ``onset``: its requests and refusals per step."""

    route: str
    onset: int
    requests: FloatArray
    refused: FloatArray
    clients_refused: int


def first_label(labels: Labels, names: Sequence[str]) -> str:
    """The value of the first of ``names`` that ``labels`` holds, or ``""``."""
    return next((labels[n] for n in names if labels.get(n)), "")


def _route_names(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n for n in names if n.endswith("route"))


def _status_names(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n for n in names if n.endswith("status"))


def _client_names(names: Sequence[str]) -> tuple[str, ...]:
    return tuple(n for n in names if n.endswith("client"))


def route_series(
    counts: Sequence[LogCount],
    on_grid: OnGrid,
    *,
    refusing: frozenset[int] = ROUTE_LOST_STATUSES,
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Pure: per route, its requests and those answered with a ``refusing`` status, per step."""
    routes = _route_names(ROUTE_STATUS_LABELS)
    statuses = _status_names(ROUTE_STATUS_LABELS)
    found: dict[str, tuple[FloatArray, FloatArray]] = {}
    for count in counts:
        route, status = first_label(count.labels, routes), first_label(count.labels, statuses)
        if not route or not status.isdigit():
            continue
        values = on_grid(count)
        requests, refused = found.get(route, (np.zeros_like(values), np.zeros_like(values)))
        refusal = values if int(status) in refusing else np.zeros_like(values)
        found[route] = (requests + values, refused + refusal)
    return found


def switch_step(requests: FloatArray, refused: FloatArray) -> int | None:
    """Pure: the step where a served route turns refused (module docstring), if any."""
    total_requests, total_refused = float(requests.sum()), float(refused.sum())
    seen = np.cumsum(requests) - requests  # requests before each step
    turned = np.cumsum(refused) - refused
    best, best_rise = None, 0.0
    for k in np.flatnonzero(refused > 0).tolist():
        before, after = float(seen[k]), total_requests - float(seen[k])
        if before < MIN_SERVED or after < MIN_REFUSED:
            continue
        share_before = float(turned[k]) / before
        share_after = (total_refused - float(turned[k])) / after
        if share_before > SERVED_REFUSED_SHARE or share_after < REFUSED_SHARE:
            continue
        if share_after - share_before > best_rise:
            best, best_rise = int(k), share_after - share_before
    return best


def refused_clients(
    counts: Sequence[LogCount], on_grid: OnGrid, *, route: str, onset: int
) -> dict[str, float]:
    """Pure: the clients refused on ``route`` from step ``onset`` on, with their refusals."""
    routes, clients = _route_names(ROUTE_CLIENT_LABELS), _client_names(ROUTE_CLIENT_LABELS)
    found: dict[str, float] = defaultdict(float)
    for count in counts:
        client = first_label(count.labels, clients)
        if client and first_label(count.labels, routes) == route:
            found[client] += float(np.nansum(on_grid(count)[onset:]))
    return dict(found)


def refused_alike(refusals: Mapping[str, float]) -> bool:
    """Several distinct clients refused, none of them holding most of the refusals."""
    several = [n for n in refusals.values() if n >= MIN_PER_CLIENT]
    total = sum(refusals.values())
    return len(several) >= MIN_CLIENTS and max(refusals.values()) <= TOP_CLIENT_SHARE * total


def route_switches(
    extracted: Mapping[str, Sequence[LogCount]], on_grid: OnGrid
) -> list[RouteSwitch]:
    """Pure: the served routes refused to several clients alike since a switch."""
    refusals = extracted.get(ROUTE_REFUSALS, ())
    found = []
    for route, (requests, refused) in sorted(
        route_series(extracted.get(ROUTE_STATUSES, ()), on_grid).items()
    ):
        onset = switch_step(requests, refused)
        if onset is None:
            continue
        clients = refused_clients(refusals, on_grid, route=route, onset=onset)
        if clients and refused_alike(clients):
            found.append(RouteSwitch(route, onset, requests, refused, len(clients)))
    return found


ROUTES_LABEL = "routes"  # the signal's label listing the routes it counts


def _signal(component: str, switches: Sequence[RouteSwitch], query: str) -> Signal:
    requests = np.sum([s.requests for s in switches], axis=0)
    refused = np.sum([s.refused for s in switches], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(requests > 0, refused / np.where(requests > 0, requests, 1.0), np.nan)
    routes = ", ".join(s.route for s in switches)
    return Signal(
        component=component,
        instance=None,
        name=ROUTE_REFUSAL_SIGNAL,
        family=ROUTE_REFUSAL_SIGNAL,
        kind=SignalKind.ERROR_RATIO,
        query=f"{query} (routes served before, now refused: {routes})",
        values=ratio,
        labels=Labels({ROUTES_LABEL: routes}),
        source=EvidenceSource.LOKI,
        events=refused,
        requests=requests,
    )


def route_refusal_signals(
    *,
    component: str,
    extracted: Mapping[str, Sequence[LogCount]],
    on_grid: OnGrid,
    query: str,
) -> list[Signal]:
    """Pure: the edge's ``ROUTE_REFUSAL_SIGNAL`` when some served route switched (else none)."""
    switches = route_switches(extracted, on_grid)
    return [_signal(component, switches, query)] if switches else []


def route_of(path: str) -> str:
    """Pure: a path's route as the edge's patterns read it: its first two segments."""
    bare = path.split("?", 1)[0]
    if not bare.startswith("/"):
        return bare
    return "/" + "/".join([part for part in bare.split("/") if part][:2])


def _counter_routes(
    signals: Sequence[Signal], step: float
) -> dict[str, tuple[FloatArray, FloatArray]]:
    """Per route of a component's status-labelled request counters: requests, refused."""
    found: dict[str, tuple[FloatArray, FloatArray]] = {}
    for s in signals:
        status, route = status_of(s.labels), first_label(s.labels, ROUTE_LABELS)
        if s.kind is not SignalKind.RATE or not route or not status.isdigit():
            continue
        values = np.nan_to_num(np.asarray(s.values, dtype=np.float64)) * step
        key = route_of(route)
        requests, refused = found.get(key, (np.zeros_like(values), np.zeros_like(values)))
        refusal = values if int(status) in ROUTE_LOST_STATUSES else np.zeros_like(values)
        found[key] = (requests + values, refused + refusal)
    return found


def _refused_routes(signals: Sequence[Signal]) -> set[str]:
    return {
        route
        for s in signals
        if s.name == ROUTE_REFUSAL_SIGNAL
        for route in s.labels.get(ROUTES_LABEL, "").split(", ")
        if route
    }


def backend_route_signals(
    *, topology: Topology, signals: Mapping[str, Sequence[Signal]], step: float
) -> dict[str, list[Signal]]:
    """Pure: the edges' dependencies that refused the edges' refused routes themselves."""
    found: dict[str, list[Signal]] = {}
    for edge in topology:
        routes = _refused_routes(signals.get(edge.name, ()))
        for backend in edge.depends_on if routes else ():
            switched = [
                RouteSwitch(route, onset, requests, refused, 0)
                for route, (requests, refused) in sorted(
                    _counter_routes(signals.get(backend, ()), step).items()
                )
                if route in routes and (onset := switch_step(requests, refused)) is not None
            ]
            if switched and backend not in found:
                query = "its request counters by route and status"
                found[backend] = [_signal(backend, switched, query)]
    return found
