"""A proxy giving up on an upstream that answers as it always did: its own timeout.  Pure.

A slow upstream makes its proxy time out too, but then the upstream itself
shows it: its latency rose, its errors, its saturation (``has_symptom``).  When
a proxy mostly says it stopped waiting, in its own lines (``catalog.modes_edge.
READ_TIMED_OUT``: nginx's ``upstream timed out ... while reading response
header from upstream``) or in the 5xx it answered (``OWN_TIMEOUT_ANSWERS``:
Envoy's response flag ``UT``, HAProxy's termination state ``sH``), and the
upstream shows no harm of its own (its answers as fast and as successful as
before, written to a connection the proxy had closed), the proxy's timeout was
set below the upstream's ordinary answer time: a configuration of the proxy's
own (nginx's ``proxy_read_timeout``, an Envoy route's ``timeout``).  Nothing
behind it explains it; rolling the proxy's configuration back does.

What the upstream logs about the closed connection (``CALLER_GAVE_UP``: EPIPE,
broken pipe, a client that went away) is the consequence, not harm: an upstream
whose only symptom is its warning lines, mostly those, is unharmed.  An
instance it timed out on that stopped answering its own scrapes (a hung
process: its ``up`` fell) is that instance's failure, however quiet the rest.
"""

from __future__ import annotations

from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.catalog.modes_edge import (
    CALLER_GAVE_UP,
    OWN_TIMEOUT_ANSWERS,
    READ_TIMED_OUT,
)
from diagnosis_operator.core.diagnosis.edge_faults import (
    answers_mostly,
    lines_mostly,
    named_upstreams,
    own_path_fault,
    says_mostly,
)
from diagnosis_operator.core.diagnosis.evidence import SYMPTOM_KINDS, ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.rewritten_paths import sent_other_paths
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, SignalKind


def times_out_itself(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether a proxy mostly timed out waiting on a ``dependency`` showing no harm."""
    return (
        (says_mostly(caller, READ_TIMED_OUT) or answers_mostly(caller, OWN_TIMEOUT_ANSWERS))
        and not harmed_beyond_hang_ups(dependency)
        and not reports_down(dependency)
        and not _named_instance_down(caller=caller, dependency=dependency)
    )


def harmed_beyond_hang_ups(evidence: ComponentEvidence) -> bool:
    """Pure: whether a component shows harm (``has_symptom``) other than its callers
    hanging up on it.

    Its only symptom its error/warn lines rising, and those lines, from its onset
    on, mostly saying the client went away (``CALLER_GAVE_UP``): no harm of its own.
    """
    if not evidence.has_symptom:
        return False
    if evidence.new_categories or evidence.harm or evidence.logs is None:
        return True
    symptoms = [
        d
        for d in evidence.metric_detections
        if d.signal.kind in SYMPTOM_KINDS and d.anomaly.direction == "up" and d.score >= Z_THRESHOLD
    ]
    if any(d.signal.kind is not SignalKind.LOG_SIGNIFICANT for d in symptoms):
        return True
    return not lines_mostly(evidence.logs.events, onset=evidence.onset, patterns=CALLER_GAVE_UP)


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

    Its path (``edge_faults.own_path_fault``: its certificate, its route), its
    own timeout (``times_out_itself``) or its rewrite (``rewritten_paths``: the
    dependency refused paths its clients never asked for).
    """
    return (
        own_path_fault(caller=caller, dependency=dependency)
        or times_out_itself(caller=caller, dependency=dependency)
        or sent_other_paths(caller=caller, dependency=dependency)
    )
