"""A release's new instances failing alike: affected, but rolled back, never drained.  Pure.

A rolling update replaces a component's instances one by one; the new ones
are instances too, though their series begin inside the window.  When the
new version is broken (a typo in its configuration, a missing secret), every
new instance fails alike from its first request while the older ones still
serve: judged against its siblings, each new instance hides among the other
new ones, and judged against its own past, it has none.  A senior engineer
compares the new instances with the old: together they fail, the old do not.

Those instances are the degraded ones (``AffectedFinding.release``), yet
draining them is wrong: the ReplicaSet recreates them with the same broken
version.  The remedy is a rollback.  A rollout that replaced every older
instance leaves none to compare with: the component fails on every instance
alike, and no instance is named.  One new instance alone (a canary) is
left to the sibling comparison (``affected``): a leak of its own may be
drained.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.core.diagnosis.affected import (
    AffectedFinding,
    exceeds_share,
)
from diagnosis_operator.core.diagnosis.siblings import has_own_baseline
from diagnosis_operator.core.diagnosis.signal_types import FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.signals import isoformat_z

MIN_NEW = 2  # new instances failing alike: a release (one alone is a canary)
RELEASE_GAP = 0.1  # their error share above the older instances', at least
END_SLACK = 2  # steps an older instance's data may end before the new ones'


def _counts(signal: Signal, period: np.ndarray) -> tuple[float, float]:
    assert signal.events is not None and signal.requests is not None
    return float(np.nansum(signal.events[period])), float(np.nansum(signal.requests[period]))


def _last(signal: Signal) -> int:
    finite = np.flatnonzero(np.isfinite(signal.values))
    return int(finite[-1]) if finite.size else -1


def _serves_to_the_end(old: Signal, new: Sequence[Signal]) -> bool:
    """Whether an older instance still serves when the new ones' data ends (a rollout halfway).

    Once every older instance is gone, the whole component runs the new
    version: an incident on every instance alike, which names no instance.
    """
    return _last(old) >= max(_last(s) for s in new) - END_SLACK


def _release_group(
    component: str, group: Sequence[Signal], timestamps: FloatArray
) -> list[AffectedFinding]:
    """The new instances of one error-ratio signal, when they all fail and the old do not."""
    new = [s for s in group if not has_own_baseline(s, timestamps)]
    old = [s for s in group if has_own_baseline(s, timestamps)]
    if len(new) < MIN_NEW or not any(_serves_to_the_end(s, new) for s in old):
        return []
    starts = [
        float(timestamps[np.isfinite(s.values)].min()) for s in new if np.isfinite(s.values).any()
    ]
    if len(starts) < len(new):
        return []
    period = timestamps >= min(starts)
    old_errors = old_requests = 0.0
    for signal in old:
        errors, requests = _counts(signal, period)
        old_errors, old_requests = old_errors + errors, old_requests + requests
    share = (old_errors + 0.5) / (old_requests + 1.0)
    counts = [_counts(s, period) for s in new]
    if not all(
        exceeds_share(errors, requests, share, gap=RELEASE_GAP) for errors, requests in counts
    ):
        return []
    return [
        AffectedFinding(
            instance=AffectedInstance(
                component=component,
                instance=str(signal.instance),
                reason=(
                    f"new instance (from {isoformat_z(start)}), failing like every new one: "
                    f"{signal.name} {errors / requests:.0%} vs {share:.0%} on the older instances"
                ),
                pod=signal.labels.get("pod"),
                namespace=signal.labels.get("namespace"),
            ),
            detections=(),
            healthy_siblings=len(old),
            release=True,
        )
        for signal, start, (errors, requests) in zip(new, starts, counts, strict=True)
    ]


def release_instances(
    *, component: str, signals: Sequence[Signal], timestamps: FloatArray
) -> list[AffectedFinding]:
    """Pure: the instances of a new release that fail alike while the older ones serve.

    Per error-ratio signal with its counts (the 5xx share), the instances
    whose series began in the window (``siblings.has_own_baseline``: none of
    their own) are new, the others old.  When at least ``MIN_NEW`` new ones
    exist and every one of them fails beyond the old ones' pooled share over
    the same period (by ``RELEASE_GAP``, ``ERROR_EXCESS_MIN`` requests and a
    Poisson surprise), they are the release's degraded instances, as long as
    an older instance still serves to the end (``_serves_to_the_end``).
    """
    groups: dict[object, list[Signal]] = defaultdict(list)
    for signal in signals:
        if (
            signal.kind is SignalKind.ERROR_RATIO
            and signal.instance
            and signal.events is not None
            and signal.requests is not None
            and signal.values.shape == timestamps.shape
        ):
            groups[signal.peer_key].append(signal)
    found: dict[str, AffectedFinding] = {}
    for group in groups.values():
        for finding in _release_group(component, group, timestamps):
            found.setdefault(finding.instance.instance, finding)
    return list(found.values())


def with_releases(
    found: Sequence[AffectedFinding],
    *,
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    """Pure: ``found`` with each component's release instances (``release_instances``).

    A release instance the sibling comparison found too is kept once, as a
    release's (never drained).
    """
    releases = {
        (f.instance.component, f.instance.instance): f
        for component, members in signals.items()
        for f in release_instances(component=component, signals=members, timestamps=timestamps)
    }
    kept = [f for f in found if (f.instance.component, f.instance.instance) not in releases]
    return kept + list(releases.values())
