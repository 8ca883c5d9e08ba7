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
* a MySQL component that is the root -> ``kill-mysql-queries`` when its
  evidence names someone to end (``plan_kill``: the lock blocker, an idle
  transaction holding purge back, runaway statements), never the victims and
  nothing when no one holds the others back (a hot row's changing holders, slow
  statements that read few rows).  A MySQL component that only aggravates the
  incident (slow because of the load others put on it) gets it only when its
  own queries are the trouble: full scans or lock contention; killing the
  victims of the load only adds errors;
* an abusive client -> ``rate-limit-client`` on its address.

Everything is ``proposed``: the guards and the policy decide what runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.catalog.instances import drainable
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, recovered
from diagnosis_operator.core.diagnosis.plan_kill import kill_queries, own_queries_at_fault
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT
from diagnosis_operator.core.diagnosis.reported import without_reported
from diagnosis_operator.core.diagnosis.signal_types import Detection, SignalKind
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    AbusiveClient,
    ActionType,
    Candidate,
    ProposedRemediation,
)
from diagnosis_operator.models.topology import ComponentKind, Topology


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
        if role == ROLE_ROOT or (role == ROLE_AGGRAVATING and own_queries_at_fault(ev)):
            kill = kill_queries(name, ev)
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
    if finding.release:
        return "a new release fails on all its instances alike: roll it back (drained, they return)"
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
