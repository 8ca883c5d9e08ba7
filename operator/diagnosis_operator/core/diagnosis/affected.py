"""Affected instances: those degraded while their siblings are not.  Pure."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from diagnosis_operator.catalog.gate import STATELESS_KINDS, is_availability_gauge
from diagnosis_operator.core.diagnosis.evidence import HEALTH_KINDS
from diagnosis_operator.core.diagnosis.members import by_own_exporter
from diagnosis_operator.core.diagnosis.siblings import (
    SUSTAINED_SECONDS,
    sibling_detection,
    sustained,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import level_between
from diagnosis_operator.core.diagnosis.stats import poisson_tail_log10_bound
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.topology import Component, Topology

PeerKey = tuple[object, ...]


@dataclass(frozen=True)
class AffectedFinding:
    instance: AffectedInstance
    detections: tuple[Detection, ...]
    # instances of the same component that were not singled out (who could take its load)
    healthy_siblings: int = 0
    # one of a new release's instances, all failing alike (``rollout``): roll back, never drain
    release: bool = False
    # a proxy's 5xx lines name it as their upstream
    named_by_proxy: bool = False


def _format_level(signal: Signal, value: float) -> str:
    if not math.isfinite(value):
        return "n/a"
    if signal.kind is SignalKind.ERROR_RATIO:
        return f"{(1.0 - value) * 100:.1f}%"
    if signal.kind is SignalKind.CPU:
        if "percent" in signal.name.lower():
            return f"{value:.1f}%"
        return f"{value * 100:.1f}%"
    if signal.kind is SignalKind.LATENCY:
        return f"{value * 1000:.0f} ms" if value < 1 else f"{value:.2f} s"
    return f"{value:.3g}"


def _label_of(signal: Signal) -> str:
    if signal.kind is SignalKind.ERROR_RATIO:
        return "success"
    if signal.kind is SignalKind.CPU:
        return "CPU"
    if signal.kind is SignalKind.LATENCY:
        return "latency"
    if signal.kind is SignalKind.LOG_SIGNIFICANT:
        return "error/warn log lines per step"
    return signal.name


def find_affected(
    *,
    topology: Topology,
    detections: Mapping[str, Sequence[Detection]],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    upstream_errors: Mapping[str, Mapping[str, int]],
    upstream_seen: Mapping[str, Mapping[str, Sequence[float]]] | None = None,
    log_horizon: Mapping[str, float] | None = None,
) -> list[AffectedFinding]:
    """Pure: instances degraded while their siblings are not.

    ``upstream_errors`` maps a proxy component to counts of 5xx lines per
    upstream address it named; ``upstream_seen`` (optional) to the times each
    address was named, and ``log_horizon`` to the time of the proxy's last
    line that was read (sampled lines may stop before the end of the window).
    An address the proxy all but stopped naming long before its last line
    (``still_failing``) belonged to an instance that recovered: it is no
    longer degraded.
    """
    findings: list[AffectedFinding] = []
    for component in topology:
        comp_signals = signals.get(component.name, ())
        instances = sorted({s.instance for s in comp_signals if s.instance})
        if len(instances) < 2:
            continue
        siblings, singled = _singled_out(
            comp_signals, detections.get(component.name, ()), timestamps=timestamps
        )
        upstream_share = _upstream_shares(
            topology,
            component,
            instances,
            upstream_errors,
            upstream_seen or {},
            log_horizon or {},
        )
        own: list[AffectedFinding] = []
        for instance in instances:
            finding = _finding(
                component.name,
                instance,
                sorted(singled.get(instance, []), key=lambda d: -d.score),
                comp_signals=comp_signals,
                siblings=siblings,
                timestamps=timestamps,
                via_proxy=upstream_share.get(instance),
                stateless=component.kind in STATELESS_KINDS,
            )
            if finding is not None:
                own.append(finding)
        own = _without_displaced_load(own, stateless=component.kind in STATELESS_KINDS)
        # a host's several exporters name one member: its own service's (``members``)
        own, members = by_own_exporter(component, comp_signals, own)
        if members < 2:
            continue  # one server behind several scrape targets: no sibling to stand apart from
        healthy = members - len(own)
        findings.extend(replace(finding, healthy_siblings=healthy) for finding in own)
    return findings


def _without_displaced_load(
    own: list[AffectedFinding], *, stateless: bool
) -> list[AffectedFinding]:
    """Pure: beside an instance harmed by its own health signals, those singled out by load
    alone carry its retried requests (nginx's ``proxy_next_upstream``): not affected."""
    return [f for f in own if _harmed(f, stateless=stateless)] or own


def _harmed(finding: AffectedFinding, *, stateless: bool) -> bool:
    return (
        any(
            (d.signal.kind in HEALTH_KINDS and d.anomaly.direction == "up")
            or (stateless and is_availability_gauge(d.signal.family))
            for d in finding.detections
        )
        or finding.named_by_proxy
    )


def _singled_out(
    comp_signals: Sequence[Signal], detections: Sequence[Detection], *, timestamps: FloatArray
) -> tuple[dict[PeerKey, list[Signal]], dict[str, list[Detection]]]:
    """The component's signals by peer key, and per instance the detections that single it out.

    A detection singles its instance out when at most a minority of the
    siblings with data flagged the same signal, the siblings did not move
    alike, the difference held for a sustained time (``siblings.sustained``)
    and (for an error ratio) its errors stand out.  A health signal whose
    series began inside the window (a canary, a pod a rollout added) has no
    baseline of its own and is judged against its siblings at the same steps
    (``siblings.sibling_detection``), as is one whose rise the detector missed
    while its siblings' smaller rise was flagged: the minority rule then counts
    only the instances that stood apart from their siblings' median.
    """
    with_data: dict[PeerKey, set[str]] = defaultdict(set)
    siblings: dict[PeerKey, list[Signal]] = defaultdict(list)
    for signal in comp_signals:
        if signal.instance and np.isfinite(signal.values).any():
            with_data[signal.peer_key].add(signal.instance)
        siblings[signal.peer_key].append(signal)
    singled: dict[str, list[Detection]] = defaultdict(list)
    # Against its own baseline first.  Where more than a minority rose (the
    # shared dependency's harm), each of them is judged again against its
    # siblings' median, as is what the detector missed: one instance may still
    # stand far above the others.
    flagged = _flagged(detections)
    crowded = {
        key
        for key, per_instance in flagged.items()
        if len(per_instance) > minority(len(with_data.get(key, set())))
    }
    rejudged = [d for d in detections if d.signal.peer_key not in crowded]
    for found in (detections, _sibling_detections(siblings, rejudged, timestamps)):
        for key, per_instance in _flagged(found).items():
            peers = len(with_data.get(key, set()))
            if peers < 2 or len(per_instance) > minority(peers):
                continue
            for instance, detection in per_instance.items():
                if _stands_apart(detection, siblings[key], timestamps):
                    singled[instance].append(detection)
    return siblings, singled


def minority(peers: int) -> int:
    """Pure: how many of ``peers`` instances may rise alike and still be singled out."""
    return max(1, (peers - 1) // 2)


def _flagged(detections: Sequence[Detection]) -> dict[PeerKey, dict[str, Detection]]:
    flagged: dict[PeerKey, dict[str, Detection]] = defaultdict(dict)
    for detection in detections:
        if detection.signal.instance:
            flagged[detection.signal.peer_key][detection.signal.instance] = detection
    return flagged


def _sibling_detections(
    siblings: Mapping[PeerKey, Sequence[Signal]],
    detections: Sequence[Detection],
    timestamps: FloatArray,
) -> list[Detection]:
    """Health signals that rose above their siblings' and that the detector did not flag.

    The detector needs a baseline of the instance's own; a canary that joined
    halfway, or a pod that parted from its siblings in the first minutes, has none.
    """
    detected = {(d.signal.peer_key, d.signal.instance) for d in detections}
    found = []
    for peers in siblings.values():
        for signal in peers:
            if (
                signal.instance
                and _level_like(signal)
                and (signal.peer_key, signal.instance) not in detected
            ):
                detection = sibling_detection(signal=signal, peers=peers, timestamps=timestamps)
                if detection is not None:
                    found.append(detection)
    return found


# Levels a sibling's median is a fair reference for.  Sparse counts (error log
# lines) are left to the burst test: one line against siblings' none is no margin.
SIBLING_KINDS = (SignalKind.LATENCY, SignalKind.CPU, SignalKind.ERROR_RATIO)


def _level_like(signal: Signal) -> bool:
    """Whether a signal can be judged against its siblings' median (an error ratio: with counts)."""
    if signal.kind is SignalKind.ERROR_RATIO:
        return signal.events is not None and signal.requests is not None
    return signal.kind in SIBLING_KINDS


def _stands_apart(detection: Detection, peers: Sequence[Signal], timestamps: FloatArray) -> bool:
    """Whether one instance's detection is its own: apart from its siblings, sustained, material."""
    return (
        not _siblings_moved_alike(detection, peers, timestamps)
        and (
            detection.anomaly.direction != "up"
            or sustained(detection=detection, peers=peers, timestamps=timestamps)
        )
        and errors_stand_out(detection=detection, peers=peers, timestamps=timestamps)
    )


def _finding(
    component: str,
    instance: str,
    found: Sequence[Detection],
    *,
    comp_signals: Sequence[Signal],
    siblings: Mapping[PeerKey, Sequence[Signal]],
    timestamps: FloatArray,
    via_proxy: tuple[int, int, str] | None,
    stateless: bool = False,
) -> AffectedFinding | None:
    """The finding for one instance, when its own detections or a proxy's errors single it out."""
    health = [d for d in found if d.signal.kind in HEALTH_KINDS and d.anomaly.direction == "up"]
    if stateless:
        # A failed scrape while its siblings answer (``scrape_down``): the instance
        # stopped answering.  (A data store's instance down is a failover, not a drain.)
        health += [d for d in found if is_availability_gauge(d.signal.family)]
    # Without a health signal, several others must single it out, and not only by
    # doing less: an instance whose traffic fell away (replaced by a rolling update,
    # taken out of the Service) is not worse off than its siblings.
    load_only = len(found) < 3 or all(d.anomaly.direction == "down" for d in found)
    if not health and load_only and via_proxy is None:
        return None
    reason = _affected_reason(health or found[:2], siblings, timestamps, via_proxy)
    labels = next((d.signal.labels for d in found), None) or _labels_for(comp_signals, instance)
    return AffectedFinding(
        instance=AffectedInstance(
            component=component,
            instance=instance,
            reason=reason,
            pod=labels.get("pod") if labels else None,
            namespace=labels.get("namespace") if labels else None,
        ),
        detections=tuple(found),
        named_by_proxy=via_proxy is not None,
    )


def sole_affected_instance(*, component: str, affected: Sequence[AffectedFinding]) -> str | None:
    """Pure: the root's instance when exactly one of its instances is singled out."""
    own = [a.instance.instance for a in affected if a.instance.component == component]
    return own[0] if len(own) == 1 else None


SIBLING_SHIFT_SHARE = 0.5


def _siblings_moved_alike(
    detection: Detection, signals: Sequence[Signal], timestamps: FloatArray
) -> bool:
    """Whether the siblings' same signal moved at least half as far, the same way.

    A sibling whose signal stayed just under the detection threshold is hit
    too: an instance is singled out only when it is clearly worse off.
    """
    levels = _sibling_levels(detection, signals, timestamps)
    if not levels:
        return False
    shift = detection.anomaly.value - detection.anomaly.baseline
    sibling_shift = float(np.median(levels)) - detection.anomaly.baseline
    if shift == 0 or not math.isfinite(shift) or not math.isfinite(sibling_shift):
        return False
    return sibling_shift / shift >= SIBLING_SHIFT_SHARE


def _sibling_levels(
    detection: Detection, signals: Sequence[Signal], timestamps: FloatArray
) -> list[float]:
    """The level since the detection's onset of the same signal on every other instance."""
    signal = detection.signal
    levels = []
    for other in signals:
        if other.peer_key == signal.peer_key and other.instance != signal.instance:
            summary = level_between(
                signal=other,
                timestamps=timestamps,
                start=detection.onset,
                end=float(timestamps[-1]),
            )
            if summary is not None:
                levels.append(summary.level)
    return levels


# An instance's failed requests single it out only when they are many, a
# material share of its requests, and unlikely at its siblings' error rate.
ERROR_EXCESS_MIN = 10.0
ERROR_SHARE_GAP = 0.01
ERROR_SURPRISE_LOG10 = -4.0


def errors_stand_out(
    *, detection: Detection, peers: Sequence[Signal], timestamps: FloatArray
) -> bool:
    """Pure: whether an instance's error-ratio rise is more than a few unlucky requests.

    From the onset to the end of the window, its failed requests must exceed
    what its siblings' pooled error rate (their baseline's without siblings'
    data) predicts for its number of requests by ``ERROR_EXCESS_MIN``, by
    ``ERROR_SHARE_GAP`` of its requests, and be that unlikely.  A 5xx ratio
    rests on the requests behind it: four random 500s among seventy requests
    are 94 % success for a minute, and no reason to drain anything.  Other
    signals, and ratios without their counts, are not judged here.
    """
    signal = detection.signal
    if signal.kind is not SignalKind.ERROR_RATIO or signal.events is None:
        return True
    if signal.requests is None:
        return True
    period = timestamps >= detection.onset
    errors = float(np.nansum(signal.events[period]))
    requests = float(np.nansum(signal.requests[period]))
    if requests <= 0:
        return False
    sibling_errors = sibling_requests = 0.0
    for other in peers:
        if (
            other.peer_key == signal.peer_key
            and other.instance != signal.instance
            and other.events is not None
            and other.requests is not None
        ):
            sibling_errors += float(np.nansum(other.events[period]))
            sibling_requests += float(np.nansum(other.requests[period]))
    if sibling_requests > 0:
        share = (sibling_errors + 0.5) / (sibling_requests + 1.0)
    else:
        share = detection.anomaly.baseline if math.isfinite(detection.anomaly.baseline) else 0.0
    return exceeds_share(errors, requests, share)


def exceeds_share(
    errors: float, requests: float, share: float, *, gap: float = ERROR_SHARE_GAP
) -> bool:
    """Pure: whether ``errors`` of ``requests`` stand beyond an error ``share``.

    By ``ERROR_EXCESS_MIN`` failed requests, by ``gap`` of the requests, and
    unlikely at that share (``ERROR_SURPRISE_LOG10``, a Poisson tail bound).
    """
    if requests <= 0:
        return False
    expected = requests * share
    return (
        errors - expected >= ERROR_EXCESS_MIN
        and errors / requests - share >= gap
        and poisson_tail_log10_bound(observed=errors, expected=expected) <= ERROR_SURPRISE_LOG10
    )


def _labels_for(signals: Sequence[Signal], instance: str) -> Mapping[str, str] | None:
    for signal in signals:
        if signal.instance == instance:
            return signal.labels
    return None


RECOVERED_SHARE = 0.25  # the final part of the errors' span that must still hold some
RECENT_RATE_SHARE = 0.2  # of their average rate, for the errors to be going on


def still_failing(*, times: Sequence[float], end: float) -> bool:
    """Pure: whether errors at ``times`` still went on near ``end`` (how far logs were read).

    The final ``RECOVERED_SHARE`` of the span from the first error to ``end``
    must hold at least ``RECENT_RATE_SHARE`` of the errors it would hold at
    their average rate: a pod that failed for ninety seconds and then drew
    the odd random error, while the proxy logged on for half an hour, recovered.
    """
    if not times:
        return False
    span = end - min(times)
    if span <= 0:
        return True
    recent = sum(1 for ts in times if ts >= end - RECOVERED_SHARE * span)
    return recent >= RECENT_RATE_SHARE * RECOVERED_SHARE * len(times)


def _upstream_shares(
    topology: Topology,
    component: Component,
    instances: Sequence[str],
    upstream_errors: Mapping[str, Mapping[str, int]],
    upstream_seen: Mapping[str, Mapping[str, Sequence[float]]],
    log_horizon: Mapping[str, float],
) -> dict[str, tuple[int, int, str]]:
    """Instances named by >= 60% (and >= 3) of a calling proxy's 5xx lines, still failing."""
    shares: dict[str, tuple[int, int, str]] = {}
    for caller in topology.dependents_of(component.name):
        counts = upstream_errors.get(caller, {})
        seen = upstream_seen.get(caller, {})
        total = sum(counts.values())
        if total < 3:
            continue
        for address, count in counts.items():
            instance = _match_instance(address, instances)
            if instance is None or count < 3 or count / total < 0.6:
                continue
            times = seen.get(address)
            if times and max(times) - min(times) < SUSTAINED_SECONDS:
                continue  # a stall of a few seconds that healed singles nothing out
            horizon = log_horizon.get(caller)
            if times and horizon is not None and not still_failing(times=times, end=horizon):
                continue
            shares[instance] = (count, total, caller)
    return shares


def _match_instance(address: str, instances: Sequence[str]) -> str | None:
    if address in instances:
        return address
    host = address.rsplit(":", 1)[0] if address.count(":") == 1 else address
    for instance in instances:
        instance_host = instance.rsplit(":", 1)[0] if instance.count(":") == 1 else instance
        if instance_host == host:
            return instance
    return None


def _affected_reason(
    detections: Sequence[Detection],
    peers: Mapping[tuple[object, ...], Sequence[Signal]],
    timestamps: FloatArray,
    via_proxy: tuple[int, int, str] | None,
) -> str:
    parts = []
    seen_labels: set[str] = set()
    for detection in detections:
        signal = detection.signal
        label = _label_of(signal)
        if label in seen_labels:
            continue
        seen_labels.add(label)
        level = detection.anomaly.value
        baseline = detection.anomaly.baseline
        siblings = _sibling_levels(detection, peers.get(signal.peer_key, ()), timestamps)
        text = (
            f"{label} {_format_level(signal, level)} vs {_format_level(signal, baseline)} baseline"
        )
        if siblings:
            text += f" (siblings {_format_level(signal, float(np.median(siblings)))})"
        parts.append(text)
        if len(parts) >= 3:
            break
    if via_proxy is not None:
        count, total, caller = via_proxy
        parts.append(f"{count} of {total} 5xx lines at {caller} name it as upstream")
    return ", ".join(parts) if parts else "degraded while its siblings are not"
