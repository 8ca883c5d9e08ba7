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
  pattern).  Lock contention calls for it even without a slow log: the
  long-running transaction holding the locks is what ends it.  A MySQL
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

from diagnosis_operator.catalog.instances import drainable
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import (
    ComponentEvidence,
    incident_events,
    recovered,
)
from diagnosis_operator.core.diagnosis.logs import (
    LogCategory,
    statement_fingerprint,
    statement_prefix,
)
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT
from diagnosis_operator.core.diagnosis.signal_types import SignalKind
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
    for name, ev in sorted(evidence.items()):
        if topology.get(name).kind is not ComponentKind.MYSQL:
            continue
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
OWN_SATURATION_KINDS = (SignalKind.CPU,)


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
    if (
        root is not None
        and root in topology.downstream_of(component)
        and not own_saturation(finding)
    ):
        return f"its trouble may be its share of {root}'s failure: nothing of its own saturated"
    return None


def own_saturation(finding: AffectedFinding) -> bool:
    """Pure: whether an affected instance's own resources rose (CPU), not only its failures."""
    return any(
        d.signal.kind in OWN_SATURATION_KINDS and d.anomaly.direction == "up"
        for d in finding.detections
    )


def healed(finding: AffectedFinding) -> bool:
    """Pure: whether an affected instance only had a rise that ended long ago, without failures."""
    return (
        bool(finding.detections)
        and not any(d.signal.kind in FAILURE_KINDS for d in finding.detections)
        and all(recovered(d) for d in finding.detections)
    )


_LOCK_WAIT_WORDS = ("lock wait", "lock_wait", "waiting for table metadata lock")


def lock_contention(ev: ComponentEvidence) -> bool:
    """Pure: whether a database's incident logs show transactions fighting over locks.

    New deadlocks, or lock-wait timeouts among the lines of a category that is
    new in the incident (an ordinary hour may hold a stray one).
    """
    if LogCategory.DEADLOCK in ev.new_categories:
        return True
    return any(
        any(word in event.line.lower() for word in _LOCK_WAIT_WORDS)
        for category in ev.new_categories
        for event in incident_events(evidence=ev, category=category)
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
    slow = [e.slow_query for e in ev.slow_queries if e.slow_query is not None]
    exhausted = LogCategory.TOO_MANY_CONNECTIONS in cats
    locked = lock_contention(ev)
    if not slow and not exhausted and not locked:
        return None
    params: dict[str, Any] = {}
    reasons = []
    timed = [s.query_time for s in slow if s.query_time is not None and s.query_time > 0]
    if timed:
        # below the shortest slow run seen, so the runaway statements are caught
        params["busyTime"] = max(MIN_BUSY_TIME, math.floor(0.8 * min(timed)))
        reasons.append(f"slow queries ran {min(timed):.1f}-{max(timed):.1f} s")
    else:
        params["busyTime"] = DEFAULT_BUSY_TIME
    if slow:
        fingerprints = Counter(statement_fingerprint(s.statement) for s in slow)
        top, count = fingerprints.most_common(1)[0]
        if count * 2 >= len(slow):
            example = next(s for s in slow if statement_fingerprint(s.statement) == top)
            prefix = statement_prefix(example.statement)
            if len(prefix) >= 12:
                params["matchInfo"] = prefix
                params["statement"] = top
    if exhausted:
        reasons.append("connections ran out (too many connections)")
    if locked:
        reasons.append("transactions deadlock or wait for locks: end the long-running lock holder")
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons) if reasons else f"{name}: long-running queries",
        params=params,
    )
