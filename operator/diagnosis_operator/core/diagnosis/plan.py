"""Diagnosis -> proposed remediations.  Pure.

Only evidence calls for an action:

* an instance degraded while its siblings are not -> ``drain-pod`` on it (an
  incident that hits all instances alike lists no affected instance, so no drain),
  unless (``drain_refusal``) all it showed was a rise that healed long before the
  evidence ended, without failures (``healed``): draining a recovered pod only
  removes capacity; or its component's kind is not drainable (the catalogue's
  ``instances.DRAIN_POLICY``: databases, caches, proxies' admin endpoints); or no
  healthy sibling is left to carry its load; or the root cause is a client's
  flood (draining moves the flood onto the siblings); or the root cause is a
  dependency of its component and the instance showed no saturation of its own
  (its errors and latency may be its share of the dependency's failure: its
  connections on the failing shard or replica);
* a MySQL component that is the root, with slow queries, connection
  exhaustion or lock contention (deadlocks, lock wait timeouts) in its logs ->
  ``kill-mysql-queries``, with a busy-time threshold below the observed
  Query_time and, when one statement dominates, the literal head of that
  statement (``matchInfo``; the executor escapes it before using it as a
  pattern).  Lock contention calls for it even without a slow log, aimed at
  the blocker, not its victims (``catalog.locks``): when no statement of the
  slow log scanned (the slow ones only waited for locks, or there are none),
  the kill carries ``matchBlocker`` and no busy time or statement head, so the
  executor picks the transaction the others wait on (the lock-wait tables, or
  an idle transaction older than every waiter) and ends its connection; when
  full scans are there, they hold the locks and pt-kill's busy-time match
  aims at them.  Statements that only waited never set the busy time or the
  statement head.  A MySQL
  component that only aggravates the incident (slow because of the load
  others put on it) gets it only when its own queries are the trouble: full
  scans or lock contention; killing the victims of the load only adds errors;
* an abusive client -> ``rate-limit-client`` on its address.

Everything is ``proposed``: the guards and the policy decide what runs.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.catalog.instances import drainable
from diagnosis_operator.catalog.locks import BLOCKING_THREAD, LOCK_WAIT_SERIES, LOCK_WAIT_WORDS
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import (
    ComponentEvidence,
    incident_events,
    recovered,
)
from diagnosis_operator.core.diagnosis.logs import (
    LogCategory,
    SlowQuery,
    statement_fingerprint,
    statement_prefix,
)
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT
from diagnosis_operator.core.diagnosis.reported import without_reported
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection, SignalKind
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    AbusiveClient,
    ActionType,
    Candidate,
    ProposedRemediation,
)
from diagnosis_operator.models.topology import ComponentKind, Topology

# Busy time (seconds) proposed when connections ran out but no slow query was timed.
DEFAULT_BUSY_TIME = 30
MIN_BUSY_TIME = 1


def plan(
    *,
    topology: Topology,
    candidates: Sequence[Candidate],
    evidence: Mapping[str, ComponentEvidence],
    affected: Sequence[AffectedFinding],
    clients: Sequence[AbusiveClient],
    edge: str | None,
    root: str | None = None,
) -> list[ProposedRemediation]:
    """Pure: the remediations the evidence calls for (possibly none).

    ``root`` is the root cause's component (``client`` for a client's flood).
    """
    proposals: list[ProposedRemediation] = []
    for finding in affected:
        if drain_refusal(finding, topology=topology, root=root) is not None:
            continue
        instance = finding.instance
        params: dict[str, Any] = {"component": instance.component, "instance": instance.instance}
        if instance.pod:
            params["pod"] = instance.pod
        if instance.namespace:
            params["namespace"] = instance.namespace
        proposals.append(
            ProposedRemediation(
                action=ActionType.DRAIN_POD,
                # the instance, as the contract names it; the pod (if any) is in params
                target=instance.instance,
                reason=(
                    f"{instance.instance} of {instance.component} is degraded while its "
                    f"siblings are not: {instance.reason}"
                ),
                params=params,
            )
        )
    roles = {c.component: c.role for c in candidates}
    for name, reported in sorted(evidence.items()):
        if topology.get(name).kind is not ComponentKind.MYSQL:
            continue
        ev = without_reported(reported)  # a kill rests on the database's own lines
        role = roles.get(name)
        if role == ROLE_ROOT or (role == ROLE_AGGRAVATING and _own_queries_at_fault(ev)):
            kill = _kill_queries(name, ev)
            if kill is not None:
                proposals.append(kill)
    for client in clients:
        params = {"pattern": client.pattern.value, "requests": client.requests}
        if edge:
            params["component"] = edge
        proposals.append(
            ProposedRemediation(
                action=ActionType.RATE_LIMIT_CLIENT,
                target=client.ip,
                reason=f"abusive traffic from {client.ip}: {client.reason}",
                params=params,
            )
        )
    return proposals


FAILURE_KINDS = (SignalKind.ERROR_RATIO, SignalKind.LOG_SIGNIFICANT)
# What an instance can show that a failing dependency does not put on it: its own saturation.


def drain_refusal(finding: AffectedFinding, *, topology: Topology, root: str | None) -> str | None:
    """Pure: why an affected instance must not be drained (``None``: it may be)."""
    component = finding.instance.component
    if healed(finding):
        return "it recovered long before the evidence ended"
    if component not in topology.names or not drainable(topology.get(component).kind):
        return f"{component} is not a kind whose instances can be drained"
    if finding.healthy_siblings < 1:
        return "no healthy sibling is left to carry its load"
    if root == CLIENT_CAUSE:
        return "the root cause is a client's flood: draining moves it onto the siblings"
    return None


def healed(finding: AffectedFinding) -> bool:
    """Pure: whether an affected instance only had a rise that ended long ago, without failures."""
    return (
        bool(finding.detections)
        and not any(_failure(d) for d in finding.detections)
        and all(recovered(d) for d in finding.detections)
    )


def _failure(detection: Detection) -> bool:
    """Failed requests, severe lines, or a failed scrape (its availability gauge at 0)."""
    return detection.signal.kind in FAILURE_KINDS or is_availability_gauge(detection.signal.family)


def lock_contention(ev: ComponentEvidence) -> bool:
    """Pure: whether a database's incident logs show transactions fighting over locks.

    New deadlocks, or lock-wait timeouts among the lines of a category that is
    new in the incident (an ordinary hour may hold a stray one).
    """
    if LogCategory.DEADLOCK in ev.new_categories:
        return True
    return any(
        any(word in event.line.lower() for word in LOCK_WAIT_WORDS)
        for category in ev.new_categories
        for event in incident_events(evidence=ev, category=category)
    )


def waits_for_locks(ev: ComponentEvidence) -> bool:
    """Pure: whether transactions wait for each other's locks on this database.

    Its logs say so (``lock_contention``), a lock-wait watcher in its logs names
    the thread others wait on (``blocking_pid`` of the sys schema's
    ``innodb_lock_waits`` and ``schema_table_lock_waits`` views: row and
    metadata locks), its slow statements spent their time waiting for locks
    (``SlowQuery.lock_victim``), or its own row-lock wait series rose
    (``catalog.locks.LOCK_WAIT_SERIES``).
    """
    if lock_contention(ev) or _named_holders(ev):
        return True
    if any(e.slow_query is not None and e.slow_query.lock_victim for e in ev.slow_queries):
        return True
    return any(
        d.anomaly.direction == "up"
        and d.score >= Z_THRESHOLD
        and (LOCK_WAIT_SERIES.search(d.signal.family) or LOCK_WAIT_SERIES.search(d.signal.name))
        for d in ev.metric_detections
    )


def _own_queries_at_fault(ev: ComponentEvidence) -> bool:
    """Pure: whether a database's own statements cause trouble, not only suffer the load.

    Full scans (many rows read for few returned) or lock contention are the
    statements' doing; slow single-row reads under a flood of cache misses are
    not, and killing them only turns slow answers into errors.
    """
    if lock_contention(ev):
        return True
    return any(
        e.slow_query is not None and e.slow_query.full_scan_suspected for e in ev.slow_queries
    )


def _kill_queries(name: str, ev: ComponentEvidence) -> ProposedRemediation | None:
    cats = ev.new_categories
    found = [e.slow_query for e in ev.slow_queries if e.slow_query is not None]
    # statements that only waited for another transaction's locks are its victims
    victims = [s for s in found if s.lock_victim]
    slow = [s for s in found if not s.lock_victim]
    exhausted = LogCategory.TOO_MANY_CONNECTIONS in cats
    locked = waits_for_locks(ev)
    if not slow and not exhausted and not locked:
        return None
    if locked and not any(s.full_scan_suspected for s in slow):
        return _kill_blocker(name, victims=victims, exhausted=exhausted, named=_named_holders(ev))
    params: dict[str, Any] = {}
    reasons = []
    timed = [s.query_time for s in slow if s.query_time is not None and s.query_time > 0]
    if timed:
        # below the shortest slow run seen, so the runaway statements are caught
        params["busyTime"] = max(MIN_BUSY_TIME, math.floor(0.8 * min(timed)))
        reasons.append(f"slow queries ran {min(timed):.1f}-{max(timed):.1f} s")
    else:
        params["busyTime"] = DEFAULT_BUSY_TIME
    params.update(_dominant_statement(slow))
    if exhausted:
        reasons.append("connections ran out (too many connections)")
    if locked:
        reasons.append(
            "transactions wait for locks while long scans run: end the scans, "
            "which hold the locks the others wait for"
        )
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons) if reasons else f"{name}: long-running queries",
        params=params,
    )


def _dominant_statement(slow: Sequence[SlowQuery]) -> dict[str, Any]:
    """``matchInfo`` (a literal head) and ``statement`` when one statement is half the log."""
    if not slow:
        return {}
    fingerprints = Counter(statement_fingerprint(s.statement) for s in slow)
    top, count = fingerprints.most_common(1)[0]
    if count * 2 < len(slow):
        return {}
    example = next(s for s in slow if statement_fingerprint(s.statement) == top)
    prefix = statement_prefix(example.statement)
    if len(prefix) < 12:
        return {}
    return {"matchInfo": prefix, "statement": top}


def _named_holders(ev: ComponentEvidence) -> list[str]:
    """Threads the database's logs name as holding the locks others wait for (most named first)."""
    if ev.logs is None:
        return []
    named = Counter(
        match.group(1) for event in ev.logs.events for match in BLOCKING_THREAD.finditer(event.line)
    )
    return [thread for thread, _ in named.most_common(3)]


def _kill_blocker(
    name: str, *, victims: Sequence[SlowQuery], exhausted: bool, named: Sequence[str]
) -> ProposedRemediation:
    """Kill the transaction the others wait on (``matchBlocker``), never the waiters."""
    reasons = ["transactions wait for row locks held by another transaction"]
    if named:
        reasons.append(f"the logs name the holding thread(s) {', '.join(named)}")
    if victims:
        shapes = len({statement_fingerprint(s.statement) for s in victims})
        reasons.append(
            f"the {len(victims)} slow statement(s) of {shapes} shape(s) in the slow log "
            "only waited for those locks: they are the victims and are not killed"
        )
    if exhausted:
        reasons.append("connections ran out (too many connections) as the waiters piled up")
    reasons.append(
        "end the blocking transaction: the one the lock-wait tables name, or an idle "
        "transaction older than every waiter (its connection, since an idle one runs no query)"
    )
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons),
        params={"matchBlocker": True, "mode": "connection"},
    )
