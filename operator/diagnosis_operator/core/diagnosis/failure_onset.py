"""When a caller's failure began, as a dependency that caused it must precede it.  Pure.

A caller's first change is not always its failure: a newsletter's readers raise
an application's traffic (its busy seconds, its request rate) minutes before
the database under it seizes up and its answers slow down.  Its failure begins
with its harm (``ComponentEvidence.harm_onset``: errors, slowness, severe new
log lines).  That is the moment a dependency must precede to explain it, unless
another dependency of the caller had already gone bad by its first change: then
that first change was the other dependency's doing (a cache that evicted its
keys sends the caller's misses on), and the first change stands.
"""

from __future__ import annotations

from collections.abc import Mapping

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.models.topology import Topology


def failure_onset(
    caller: str,
    dependency: str,
    topology: Topology,
    anomalous: Mapping[str, ComponentEvidence],
    onsets: Mapping[str, float],
    tolerance: float,
) -> float:
    """Pure: the caller's onset ``dependency`` must precede (see the module docstring)."""
    first = onsets[caller]
    ev = anomalous.get(caller)
    harmed = ev.harm_onset if ev is not None else None
    if harmed is None or harmed <= first or caller not in topology.names:
        return first
    earlier = [
        other
        for other in topology.get(caller).depends_on
        if other != dependency
        and other in anomalous
        and anomalous[other].significant
        and onsets.get(other, float("inf")) <= first + tolerance
    ]
    return first if earlier else harmed
