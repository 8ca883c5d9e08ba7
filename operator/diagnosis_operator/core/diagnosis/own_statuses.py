"""An instance refusing requests its siblings serve: 4xx of its own.  Pure.

Behind a load balancer every instance of a component sees the same clients
and the same requests.  A 4xx is normally the client's fault, so the 5xx
ratio leaves it out; but when one instance alone answers a share of its
requests with a 4xx its siblings do not return (a pod on a node whose clock
runs behind rejects fresh tokens as "used before issued", a pod with a stale
key or a missing route), the fault is the instance's, and its own log says
so.  Its siblings, which never returned that status, counted none of it: a
labelled counter's child appears on its first increment.

An instance is singled out when, from the onset of its rise, its requests
answered with that status exceed what its siblings' pooled share predicts
by ``ERROR_EXCESS_MIN``, by ``OWN_STATUS_GAP`` of its requests, with a
Poisson surprise, its own error lines rose too, and no more than a minority
of the instances do so (a shared cause moves them all).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.core.diagnosis.affected import (
    AffectedFinding,
    exceeds_share,
    minority,
)
from diagnosis_operator.core.diagnosis.derived import status_of
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import AffectedInstance

OWN_STATUS_GAP = 0.05
RATIO_SUFFIX = " 5xx ratio"
RATE_SUFFIX = " rate"


def _requests(signals: Sequence[Signal]) -> dict[tuple[str, str], FloatArray]:
    """Requests per step by (metric, instance), from the 5xx ratios' counts."""
    return {
        (s.name.removesuffix(RATIO_SUFFIX), s.instance): s.requests
        for s in signals
        if s.kind is SignalKind.ERROR_RATIO and s.instance and s.requests is not None
    }


def _client_errors(signals: Sequence[Signal]) -> dict[tuple[str, str], dict[str, list[Signal]]]:
    """The 4xx rate series by (metric, status), per instance."""
    found: dict[tuple[str, str], dict[str, list[Signal]]] = defaultdict(lambda: defaultdict(list))
    for s in signals:
        status = status_of(s.labels)
        if s.kind is SignalKind.RATE and s.instance and status.startswith("4"):
            found[(s.name.removesuffix(RATE_SUFFIX), status)][s.instance].append(s)
    return found


def _outlier(
    detection: Detection,
    *,
    status_series: Mapping[str, list[Signal]],
    requests: Mapping[tuple[str, str], FloatArray],
    timestamps: FloatArray,
) -> tuple[float, float, float] | None:
    """(its share, siblings' share, siblings) when the detection's instance stands out."""
    metric = detection.signal.name.removesuffix(RATE_SUFFIX)
    instance = str(detection.signal.instance)
    step = float(timestamps[1] - timestamps[0]) if timestamps.size > 1 else 1.0
    period = timestamps >= detection.onset
    counts: dict[str, tuple[float, float]] = {}
    for (name, member), per_step in requests.items():
        if name != metric or per_step.shape != timestamps.shape:
            continue
        reqs = float(np.nansum(per_step[period]))
        errs = sum(float(np.nansum(s.values[period])) * step for s in status_series.get(member, []))
        counts[member] = (errs, reqs)
    if instance not in counts or len(counts) < 3:
        return None
    errors, total = counts.pop(instance)
    sib_errors = sum(e for e, _ in counts.values())
    sib_requests = sum(r for _, r in counts.values())
    share = (sib_errors + 0.5) / (sib_requests + 1.0)
    if not exceeds_share(errors, total, share, gap=OWN_STATUS_GAP):
        return None
    return errors / total, share, float(len(counts))


def own_status_instances(
    *,
    component: str,
    signals: Sequence[Signal],
    detections: Sequence[Detection],
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    """Pure: the instances answering a 4xx of their own (module docstring), as findings."""
    requests = _requests(signals)
    by_status = _client_errors(signals)
    complaining = {
        d.signal.instance
        for d in detections
        if d.signal.kind is SignalKind.LOG_SIGNIFICANT and d.anomaly.direction == "up"
    }
    found: dict[str, AffectedFinding] = {}
    for d in sorted(detections, key=lambda d: d.onset):
        status = status_of(d.signal.labels)
        instance = d.signal.instance
        if (
            d.signal.kind is not SignalKind.RATE
            or d.anomaly.direction != "up"
            or not status.startswith("4")
            or not instance
            or instance not in complaining
            or instance in found
        ):
            continue
        key = (d.signal.name.removesuffix(RATE_SUFFIX), status)
        out = _outlier(
            d, status_series=by_status.get(key, {}), requests=requests, timestamps=timestamps
        )
        if out is None:
            continue
        own, share, siblings = out
        reason = f"{key[0]} {status}: {own:.0%} of its requests vs {share:.0%} on its siblings"
        found[instance] = AffectedFinding(
            instance=AffectedInstance(
                component=component,
                instance=instance,
                reason=reason,
                pod=d.signal.labels.get("pod"),
                namespace=d.signal.labels.get("namespace"),
            ),
            detections=(d,),
            healthy_siblings=int(siblings),
        )
    instances = {i for _, i in requests}
    return list(found.values()) if len(found) <= minority(len(instances)) else []


def with_own_statuses(
    found: Sequence[AffectedFinding],
    *,
    signals: Mapping[str, Sequence[Signal]],
    detections: Mapping[str, Sequence[Detection]],
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    """Pure: ``found`` and the instances answering a 4xx of their own not in it already."""
    known = {(f.instance.component, f.instance.instance) for f in found}
    extra = [
        f
        for component, members in signals.items()
        for f in own_status_instances(
            component=component,
            signals=members,
            detections=detections.get(component, ()),
            timestamps=timestamps,
        )
        if (component, f.instance.instance) not in known
    ]
    return [*found, *extra]
