"""An upstream refusing paths its proxy's clients never asked for: the proxy rewrote them.  Pure.

When an edge's served routes are refused to its clients (``route_refusals``: the edge's
``catalog.routes.ROUTE_REFUSAL_SIGNAL``), the upstream behind it often logs the refusals
too: its router did not find what it was asked.  What it says it was asked decides who
refused.  Its own lines naming the very routes the clients asked (``/api/articles/7``
refused: not found) are its own refusals (a release, its own routing).  Its lines naming
paths none of those routes (``/`` where the clients asked ``/api/articles/7``) say it was
sent other paths than the clients': the proxy's rewrite changed them (an ingress-nginx
``rewrite-target: /$1`` where ``/$2`` was meant, "rewrites all paths with /",
https://github.com/kubernetes/website/issues/46546; ``proxy_pass`` with a URI part,
https://nginx.org/en/docs/http/ngx_http_proxy_module.html#proxy_pass).  The upstream
answered what it was sent; its refusals are the proxy's doing, and the ranking does not let
them explain the proxy (``edge_timeouts.own_fault``).

Read from the upstream's lines that carry a request (``AccessRecord``: a path and a status)
from its onset on: at least ``MIN_LINES`` refusals (``catalog.routes.ROUTE_LOST_STATUSES``),
most of its error/warn lines (``SHARE``), and none on a route the edge's clients were
refused.
"""

from __future__ import annotations

from diagnosis_operator.catalog.routes import ROUTE_LOST_STATUSES, ROUTE_REFUSAL_SIGNAL
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.route_refusals import ROUTES_LABEL, route_of

MIN_LINES = 5
SHARE = 0.5


def refused_routes(evidence: ComponentEvidence) -> set[str]:
    """Pure: the routes an edge's clients were refused since they were served."""
    return {
        route
        for d in evidence.metric_detections
        if d.signal.name == ROUTE_REFUSAL_SIGNAL and d.anomaly.direction == "up"
        for route in d.signal.labels.get(ROUTES_LABEL, "").split(", ")
        if route
    }


def sent_other_paths(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether ``dependency`` refused paths other than the routes ``caller``'s clients
    were refused (the module docstring): the caller rewrote them."""
    routes = refused_routes(caller)
    if not routes or dependency.logs is None:
        return False
    since = dependency.onset
    lines = [
        e for e in dependency.logs.events if e.severity > 0 and (since is None or e.ts >= since)
    ]
    refused = [
        e.access.path
        for e in lines
        if e.access is not None and e.access.path and e.access.status in ROUTE_LOST_STATUSES
    ]
    return (
        len(refused) >= MIN_LINES
        and len(refused) >= SHARE * len(lines)
        and not {route_of(p) for p in refused} & routes
    )
