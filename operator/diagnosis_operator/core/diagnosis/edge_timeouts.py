"""A proxy giving up on an upstream that answers as it always did: its own timeout.  Pure.

A slow upstream makes its proxy time out too, but then the upstream itself
shows it: its latency rose, its errors, its saturation (``has_symptom``).  When
a proxy's own lines mostly say it stopped waiting (``catalog.modes_edge.
READ_TIMED_OUT``: nginx's ``upstream timed out ... while reading response
header from upstream``) and the upstream shows no harm of its own (its answers
as fast and as successful as before, written to a connection the proxy had
closed), the proxy's timeout was set below the upstream's ordinary answer
time: a configuration of the proxy's own (nginx's ``proxy_read_timeout``).
Nothing behind it explains it; rolling the proxy's configuration back does.
An instance it timed out on that stopped answering its own scrapes (a hung
process: its ``up`` fell) is that instance's failure, however quiet the rest.
"""

from __future__ import annotations

from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.catalog.modes_edge import READ_TIMED_OUT
from diagnosis_operator.core.diagnosis.edge_faults import (
    named_upstreams,
    own_path_fault,
    says_mostly,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down


def times_out_itself(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether a proxy mostly timed out waiting on a ``dependency`` showing no harm."""
    return (
        says_mostly(caller, READ_TIMED_OUT)
        and not dependency.has_symptom
        and not reports_down(dependency)
        and not _named_instance_down(caller=caller, dependency=dependency)
    )


def _named_instance_down(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether an address the proxy timed out on is an instance whose ``up`` fell."""
    named = named_upstreams(caller)
    return any(
        d.signal.instance in named
        and is_availability_gauge(d.signal.family)
        and d.anomaly.direction == "down"
        for d in dependency.detections
    )


def own_fault(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether a proxy's failures are its own, not ``dependency``'s.

    Its path (``edge_faults.own_path_fault``: its certificate, its route) or its
    own timeout (``times_out_itself``).
    """
    return own_path_fault(caller=caller, dependency=dependency) or times_out_itself(
        caller=caller, dependency=dependency
    )
