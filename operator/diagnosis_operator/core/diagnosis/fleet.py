"""Half the serving fleet degraded alike: the fleet's cause, not an instance's own.  Pure.

Draining takes one instance out of its Service's endpoints so that its siblings
carry its share (Kubernetes "Safely Drain a Node", "Disruptions":
https://kubernetes.io/docs/tasks/administer-cluster/safely-drain-node/,
https://kubernetes.io/docs/concepts/workloads/pods/disruptions/).  That helps
only when the instance is worse than its siblings for a reason of its own, and
only when the siblings can take the load.  When half or more of the instances
serving at the end of the window are singled out together (a shared store's
connection limit reached by the whole fleet, the pods that came last left
without connections), the harm is the fleet's: the healthy half could not carry
the other half's load, and drained pods are replaced by new ones that meet the
same limit.  None of them is affected on its own.

An instance counts as serving when one of its series has a value in the last
``SUSTAINED_SECONDS`` of the window: pods a rolling update replaced earlier are
gone and carry nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

import numpy as np

from diagnosis_operator.core.diagnosis.siblings import SUSTAINED_SECONDS
from diagnosis_operator.core.diagnosis.signal_types import FloatArray, Signal

if TYPE_CHECKING:
    from diagnosis_operator.core.diagnosis.affected import AffectedFinding


def serving_at_end(signals: Sequence[Signal], timestamps: FloatArray) -> set[str]:
    """Pure: the instances with a value in the window's last ``SUSTAINED_SECONDS``."""
    if len(timestamps) == 0:
        return set()
    tail = np.asarray(timestamps) >= float(timestamps[-1]) - SUSTAINED_SECONDS
    return {
        s.instance
        for s in signals
        if s.instance and len(s.values) == len(tail) and np.isfinite(s.values[tail]).any()
    }


def own_harm(
    own: Sequence[AffectedFinding], signals: Sequence[Signal], timestamps: FloatArray
) -> list[AffectedFinding]:
    """Pure: the singled-out instances, or none when they are half the serving fleet or more."""
    if len(own) < 2:
        return list(own)
    serving = serving_at_end(signals, timestamps) | {f.instance.instance for f in own}
    return [] if 2 * len(own) >= len(serving) else list(own)


def without_fleet_harm(
    affected: Sequence[AffectedFinding],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    """Pure: the affected instances, less each component's that are half its serving fleet.

    A new release's instances (``release``) are judged by ``rollout`` and kept.
    """
    kept: list[AffectedFinding] = []
    for component in dict.fromkeys(f.instance.component for f in affected):
        own = [f for f in affected if f.instance.component == component]
        plain = [f for f in own if not f.release]
        left = own_harm(plain, signals.get(component, ()), timestamps)
        kept.extend(f for f in own if f.release or f in left)
    return kept
