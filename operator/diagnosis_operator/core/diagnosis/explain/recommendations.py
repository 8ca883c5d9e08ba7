"""Recommendations: what to do, each following from evidence that is present.  Pure."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.explain._text import ROLE_PHRASES, clock
from diagnosis_operator.core.diagnosis.logs import (
    LogCategory,
    LogEvent,
    hot_keys,
    statement_fingerprint,
)
from diagnosis_operator.core.diagnosis.plan_kill import waited_before_rows
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Candidate,
    Recommendation,
    RootCause,
    Urgency,
)
from diagnosis_operator.models.topology import ComponentKind, Topology

_URGENCY_ORDER = {Urgency.IMMEDIATE: 0, Urgency.SHORT_TERM: 1, Urgency.LONG_TERM: 2}


def _slow_because(query_time: float | None, rows_examined: int | None) -> str:
    parts = ["slow query"]
    if query_time is not None:
        parts.append(f"Query_time {query_time:.1f} s")
    if rows_examined is not None:
        parts.append(f"{rows_examined} rows examined")
    return ", ".join(parts)


def _immediate(
    affected: Sequence[AffectedFinding], clients: Sequence[AbusiveClient]
) -> list[Recommendation]:
    """Take degraded instances out, rate-limit abusive clients."""
    out: list[Recommendation] = []
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
    return out


def _too_many_connections(name: str, ev: ComponentEvidence) -> list[Recommendation]:
    found = ev.new_categories.get(LogCategory.TOO_MANY_CONNECTIONS)
    if found is None:
        return []
    first, _ = found
    return [
        Recommendation(
            component=name,
            urgency=Urgency.IMMEDIATE,
            text=(
                "Kill long-running and idle queries (SHOW PROCESSLIST / KILL), then "
                "review connection pool limits of the callers and max_connections."
            ),
            because=f"too many connections at {clock(first.ts)}",
        )
    ]


def _slow_queries(name: str, ev: ComponentEvidence) -> list[Recommendation]:
    """An index for each of the first three slow statements, or optimising them."""
    statements: dict[str, LogEvent] = {}
    for event in ev.slow_queries:
        if event.slow_query is not None:
            statements.setdefault(statement_fingerprint(event.slow_query.statement), event)
    out: list[Recommendation] = []
    for fingerprint, event in list(statements.items())[:3]:
        slow = event.slow_query
        if slow is None:
            continue
        because = _slow_because(slow.query_time, slow.rows_examined)
        if slow.lock_victim:
            text = (
                f"`{fingerprint}` spent its time waiting for row locks, not reading: it is a "
                "victim of the transaction holding them, and no index makes it faster. "
                "Keep transactions short (no user or network waits inside them)."
            )
            because += f", Lock_time {slow.lock_time or 0.0:.1f} s"
        elif waited_before_rows(slow):
            text = (
                f"`{fingerprint}` examined no rows: it waited for a server-level lock (a "
                "table's metadata lock behind DDL, a global read lock), not on reading, and "
                "no index makes it faster. End the session holding it; run DDL and backups "
                "apart from long transactions."
            )
        elif slow.full_scan_suspected and slow.where_columns and slow.table:
            columns = ", ".join(slow.where_columns)
            text = (
                f"Add an index on {slow.table}({columns}) for `{fingerprint}` "
                f"(check with EXPLAIN first)."
            )
        else:
            text = f"Optimise `{fingerprint}` (EXPLAIN it; add indexes or limit the rows it reads)."
        out.append(
            Recommendation(component=name, urgency=Urgency.SHORT_TERM, text=text, because=because)
        )
    return out


def _deadlocks(name: str, ev: ComponentEvidence) -> list[Recommendation]:
    found = ev.new_categories.get(LogCategory.DEADLOCK)
    if found is None:
        return []
    first, count = found
    tables = sorted(
        {
            t
            for e in (ev.logs.events if ev.logs else ())
            for t in e.tables
            if e.category is LogCategory.DEADLOCK
        }
    )
    on = f" on {', '.join(tables)}" if tables else ""
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text=(
                f"Review the transactions that deadlock{on}: take locks in one fixed "
                "order, keep transactions short, retry on deadlock with backoff."
            ),
            because=f"{count} deadlock line(s) from {clock(first.ts)}",
        )
    ]


def _hot_keys(name: str, ev: ComponentEvidence) -> list[Recommendation]:
    hot = hot_keys(ev.logs.events) if ev.logs is not None else []
    if not hot:
        return []
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text="Relieve hot keys "
            + ", ".join(k for k, _ in hot)
            + ": cache them locally in the callers or shard them; split large reads "
            "(e.g. HGETALL) into smaller ones.",
            because="hot keys in slow commands: " + ", ".join(f"{k} ({c}x)" for k, c in hot),
        )
    ]


def _guard_datastore(name: str, kind: ComponentKind, role: str) -> list[Recommendation]:
    if kind is not ComponentKind.MYSQL and kind is not ComponentKind.REDIS:
        return []
    return [
        Recommendation(
            component=name,
            urgency=Urgency.LONG_TERM,
            text=(
                f"Put circuit breakers and timeouts in front of {name} in its callers, "
                "and alert on its connections, slow operations and errors."
            ),
            because=f"{name} was {ROLE_PHRASES.get(role, 'part')} of this incident",
        )
    ]


def _component_advice(
    name: str, ev: ComponentEvidence, *, kind: ComponentKind, role: str
) -> list[Recommendation]:
    """What the evidence of one root or aggravating component calls for."""
    return [
        *_too_many_connections(name, ev),
        *_slow_queries(name, ev),
        *_deadlocks(name, ev),
        *_hot_keys(name, ev),
        *_guard_datastore(name, kind, role),
    ]


def _client_policy(root_cause: RootCause, clients: Sequence[AbusiveClient]) -> list[Recommendation]:
    if root_cause.component in (NO_INCIDENT,) or not clients:
        return []
    return [
        Recommendation(
            component=CLIENT_CAUSE,
            urgency=Urgency.LONG_TERM,
            text=(
                "Publish a client retry policy (exponential backoff, retry budgets) and "
                "monitor per-client request rates."
            ),
            because="abusive client traffic during the incident",
        )
    ]


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
    roles = {c.component: c.role for c in candidates}
    out = _immediate(affected, clients)
    for name, ev in evidence.items():
        if roles.get(name) not in (ROLE_ROOT, ROLE_AGGRAVATING) and name != root_cause.component:
            continue
        kind = topology.get(name).kind
        out += _component_advice(name, ev, kind=kind, role=roles.get(name, "root"))
    out += _client_policy(root_cause, clients)
    out.sort(key=lambda r: _URGENCY_ORDER[r.urgency])
    return out
