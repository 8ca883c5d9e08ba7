"""Instances behind the root cause are not affected by a fault of their own.  Pure.

An instance singled out among its siblings is listed as affected (and may be
drained) because it is worse than they are for a reason of its own: a leak,
a crash loop, a bad node.  When the root cause lies in front of its
component (the root is one of its callers, directly or through others), all
the instance receives is what the root let through: traffic cut by an edge
whose certificate expired, a trickle of requests whose mean latency is noise.
Whatever sets it apart then is the root's doing or chance, and draining it
removes capacity without touching the fault.
"""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.models.topology import Topology


def in_front_of_root(
    affected: Sequence[AffectedFinding], *, topology: Topology, root: str
) -> list[AffectedFinding]:
    """Pure: the affected instances that are not behind ``root`` (not among its dependencies).

    A root that is no component of the topology (a client, no incident)
    keeps them all.
    """
    if root not in topology.names:
        return list(affected)
    behind = topology.downstream_of(root) - {root}
    return [f for f in affected if f.instance.component not in behind]
