"""Callers whose harm stays on instances singled out among healthy siblings.  Pure.

The instances of one component call the same dependencies.  When only one of
them is worse off (slow, failing, logging errors) while its siblings serve as
before, what the component shows is that instance's own trouble: a shared
dependency would have hit the siblings too.  Such a caller is *confined*; no
dependency is taken to explain it (``ranking._causes_rule``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import SYMPTOM_KINDS, ComponentEvidence
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD


def confined_callers(
    *, evidence: Mapping[str, ComponentEvidence], affected: Sequence[AffectedFinding]
) -> frozenset[str]:
    """Pure: the components whose every symptom is on an instance singled out among healthy ones.

    Every rising symptom signal (5xx ratio, latency, error lines) must belong
    to a singled-out instance, and every line of a severe log category new in
    the window must come from one too; a component with healthy siblings
    left and at least one such symptom is confined.
    """
    singled: dict[str, set[str]] = {}
    for finding in affected:
        if finding.healthy_siblings > 0:
            singled.setdefault(finding.instance.component, set()).add(finding.instance.instance)
    return frozenset(
        name
        for name, instances in singled.items()
        if name in evidence and _confined(evidence[name], instances)
    )


def _confined(ev: ComponentEvidence, instances: set[str]) -> bool:
    symptoms = [
        d
        for d in ev.metric_detections
        if d.signal.kind in SYMPTOM_KINDS and d.anomaly.direction == "up" and d.score >= Z_THRESHOLD
    ]
    if not symptoms or any(d.signal.instance not in instances for d in symptoms):
        return False
    if ev.logs is None:
        return True
    for category, (first, _) in ev.new_categories.items():
        lines = [e for e in ev.logs.events if e.category is category and e.ts >= first.ts]
        if any(e.instance not in instances for e in lines):
            return False
    return True
