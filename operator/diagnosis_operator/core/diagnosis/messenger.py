"""A proxy relaying its upstream's failures: the messenger, not the cause.  Pure.

A proxy in front of a slow or failing application answers 5xx/504 for it
(``catalog.messenger``).  It sees the failure at its first failed request;
the application's own series show it a scrape and a rate window later.  When
the proxy's incident 5xx access lines are mostly its upstream's answers (none
of the proxy's own refusals: ``catalog.releases.EDGE_OWN_FLAGS``) and the
upstream shows harm of its own beyond callers hanging up on it
(``edge_timeouts.harmed_beyond_hang_ups``), the ranking allows the upstream
the lead it allows a dependency its caller's errors name
(``blame.named_lead``).  A proxy failing in its own path or on its own
timeout (``edge_timeouts.own_fault``) is judged before this and stays the
cause.

An upstream instance whose own series began inside the window (a canary, a
new pod) has no baseline of its own, so the detector sees nothing of its
component; judged against its siblings (``affected``) it stands out, and the
proxy's 5xx lines name it (``named_by_proxy``).  ``with_relayed_instances``
makes those sibling comparisons the component's evidence when it has none of
its own: the messenger's report names it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from diagnosis_operator.catalog.messenger import RELAYED_MIN_LINES, RELAYED_SHARE
from diagnosis_operator.catalog.releases import EDGE_OWN_FLAGS
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.edge_timeouts import harmed_beyond_hang_ups
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, incident_events
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.logs import LogCategory
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.core.diagnosis.upstream_reports import flags_of
from diagnosis_operator.models.topology import ComponentKind


def relays_failures(caller: ComponentEvidence) -> bool:
    """Pure: whether a proxy's incident 5xx answers are mostly its upstream's.

    At least ``RELAYED_MIN_LINES`` 5xx access lines from the burst of its
    upstream errors on, and ``RELAYED_SHARE`` of them carry none of the
    proxy's own refusal flags.
    """
    if caller.component.kind is not ComponentKind.PROXY:
        return False
    failed = [
        e
        for e in incident_events(evidence=caller, category=LogCategory.UPSTREAM_ERROR)
        if e.access is not None and e.access.status is not None and e.access.status >= 500
    ]
    if len(failed) < RELAYED_MIN_LINES:
        return False
    relayed = sum(1 for e in failed if not flags_of(e.line) & EDGE_OWN_FLAGS)
    return relayed >= RELAYED_SHARE * len(failed)


def messenger_of(*, caller: ComponentEvidence, dependency: ComponentEvidence) -> bool:
    """Pure: whether ``caller`` is a proxy relaying the failures of a harmed ``dependency``."""
    return relays_failures(caller) and (
        harmed_beyond_hang_ups(dependency) or reports_down(dependency)
    )


def with_relayed_instances(
    evidence: Mapping[str, ComponentEvidence], affected: Sequence[AffectedFinding]
) -> dict[str, ComponentEvidence]:
    """Pure: ``evidence`` with the sibling comparisons of instances a proxy's 5xx name.

    Only for a component with no evidence of its own (below ``Z_THRESHOLD``)
    whose instance was singled out among its siblings and named by its proxy.
    """
    out = dict(evidence)
    for finding in affected:
        name = finding.instance.component
        current = out.get(name)
        if not finding.named_by_proxy or current is None or not finding.detections:
            continue
        if evidence[name].evidence_score >= Z_THRESHOLD:
            continue
        out[name] = replace(current, detections=(*current.detections, *finding.detections))
    return out
