"""Every pod of a workload ended the same way, one after another: no instance to drain.  Pure.

An instance is singled out when it is worse than its siblings for a reason of
its own.  When the events say that pod after pod of the same component was
ended by Kubernetes for the same reason (``catalog.terminations``: evicted for
its ephemeral storage, OOM-killed), each replacement going the way of the one
before, the fault is in what the pods share (their image, their limits): the
instance that happens to be furthest along at the end of the window is no
more at fault than the ones already gone, and draining it only adds churn.
Such a component has no affected instance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

from diagnosis_operator.catalog.terminations import (
    IN_TURN_SHARE,
    MIN_PODS_IN_TURN,
    POD_NAME,
    TERMINATION_REASONS,
)
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.signal_types import Signal


def ended_pods(ev: ComponentEvidence) -> dict[str, set[str]]:
    """Pure: per termination reason, the distinct pods the component's lines say it ended."""
    pods: dict[str, set[str]] = defaultdict(set)
    for event in ev.logs.events if ev.logs is not None else ():
        for reason, pattern in TERMINATION_REASONS:
            if pattern.search(event.line) is None:
                continue
            named = POD_NAME.search(event.line)
            if named is not None:
                pods[reason].add((named.group(1) or named.group(2)).lower())
            break
    return dict(pods)


def ended_in_turn(ev: ComponentEvidence, instances: int) -> str | None:
    """Pure: the reason pod after pod was ended, when that is the way of most of its pods.

    At least ``MIN_PODS_IN_TURN`` distinct pods, and ``IN_TURN_SHARE`` of the
    ``instances`` the component had in the window.
    """
    for reason, pods in sorted(ended_pods(ev).items()):
        if len(pods) >= MIN_PODS_IN_TURN and len(pods) >= IN_TURN_SHARE * instances:
            return reason
    return None


def without_in_turn(
    found: Sequence[AffectedFinding],
    *,
    evidence: Mapping[str, ComponentEvidence],
    signals: Mapping[str, Sequence[Signal]],
) -> list[AffectedFinding]:
    """Pure: the findings, none of a component whose pods all end the same way in turn."""
    kept = []
    for finding in found:
        name = finding.instance.component
        ev = evidence.get(name)
        instances = len({s.instance for s in signals.get(name, ()) if s.instance})
        if ev is not None and ended_in_turn(ev, instances) is not None:
            continue
        kept.append(finding)
    return kept
