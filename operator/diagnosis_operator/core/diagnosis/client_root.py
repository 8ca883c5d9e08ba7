"""When the clients are the root cause rather than a component.  Pure.

A client is the root when what it sent started the trouble: a flood of requests
(``traffic_clients``) or a costly client's cost (``costly_clients``) that began
before, or without, any backend anomaly (within ``tolerance``).  A costly client
is the root too when the best component shows no harm of its own, only its load
moving: a client holding the edge's connections or time leaves the servers
behind it with less to do, not broken; and when the best component is a proxy
whose only harm is its own connection slots running out (the catalogue's proxy
"worker exhaustion" lines: nginx's "worker_connections are not enough"): the
costly client holding its requests open is what took them (a slow-request client,
OWASP "Slow HTTP attacks"; its lines are written when each request ends, so its
cost shows after the slots it filled).  Without a component fit to be the root,
any abusive client is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.catalog.mode_types import PROXY
from diagnosis_operator.catalog.modes_infra import PROXY_MODES
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.vocabulary import search_any
from diagnosis_operator.models.findings import AbusiveClient, ClientPattern
from diagnosis_operator.models.topology import ComponentKind

SLOTS_OUT: tuple[str, ...] = tuple(
    p for m in PROXY_MODES if m.kind == PROXY and m.name == "worker exhaustion" for p in m.logs
)

HEAVY = (ClientPattern.FLOOD, ClientPattern.COSTLY)


def heavy(clients: Sequence[AbusiveClient]) -> bool:
    """Pure: whether a client floods or costs (more than retrying its failures)."""
    return any(c.pattern in HEAVY and c.first_seen is not None for c in clients)


def clients_cause(
    *,
    evidence: Mapping[str, ComponentEvidence],
    clients: Sequence[AbusiveClient],
    best: str | None,
    tolerance: float,
) -> bool:
    """Pure: whether the clients are the root (module docstring).

    ``best`` is the component fit to be the root, ``None`` when there is none.
    """
    if best is None:
        return bool(clients)
    heavy_ones = [c for c in clients if c.pattern in HEAVY and c.first_seen is not None]
    if _first(evidence=evidence, clients=heavy_ones, tolerance=tolerance):
        return True
    costly = any(c.pattern is ClientPattern.COSTLY for c in heavy_ones)
    return costly and (not harmed(evidence[best]) or slots_ran_out(evidence[best]))


def slots_ran_out(evidence: ComponentEvidence) -> bool:
    """Pure: whether a proxy's incident lines say its own connection slots ran out."""
    if evidence.component.kind is not ComponentKind.PROXY or evidence.logs is None:
        return False
    onset = evidence.onset if evidence.onset is not None else float("-inf")
    return any(search_any(SLOTS_OUT, e.line) for e in evidence.logs.events if e.ts >= onset)


def harmed(evidence: ComponentEvidence) -> bool:
    """Pure: whether a component shows harm of its own (not only its load moving)."""
    return evidence.has_symptom or reports_down(evidence)


def _first(
    *,
    evidence: Mapping[str, ComponentEvidence],
    clients: Sequence[AbusiveClient],
    tolerance: float,
) -> bool:
    """Whether a client's flood or cost started before (or without) any backend anomaly."""
    backend_onset = min(
        (ev.onset for ev in evidence.values() if ev.onset is not None and ev.significant),
        default=None,
    )
    start = min((c.first_seen for c in clients if c.first_seen is not None), default=None)
    return start is not None and (backend_onset is None or start <= backend_onset + tolerance)
