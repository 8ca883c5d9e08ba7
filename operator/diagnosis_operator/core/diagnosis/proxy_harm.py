"""A proxy whose own behaviour harms the app behind it: the proxy is the root.  Pure.

The ranking names the first component that went bad; an app overloaded or
refusing behind a proxy went bad first, yet the proxy made it so
(``catalog.proxy_harm``):

* retry amplification (``amplified_retries``): the proxy's retries to its
  upstream, almost none before, are several times the requests it received
  from the upstream's onset on, and rose no later than the upstream's trouble.
  A retry budget caps retries to a small share of the requests (Envoy's
  ``retry_budget``, the SRE book's 10 %), so retries several times the requests
  are the proxy's policy multiplying the load: a blip became an overload.  An
  upstream overloaded on its own (retries near none per request) stays the root;
* forwarded-header trust lost (``forwarding_collapsed``): the app refuses its
  users by its own limiter (its 429/403 share rose), the number of clients it
  tracks collapsed by a large factor, and the proxy reloaded or restarted just
  before: the app now sees the proxy's peers in place of its users.  An app
  whose client count did not move (it always saw one address) stays the root.

``proxy_rerooted`` then makes the proxy the root and the app its symptom.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np

from diagnosis_operator.catalog.proxy_harm import (
    AMPLIFIED_RETRIES,
    CLIENT_COUNT_GAUGES,
    COLLAPSE_FACTOR,
    REFUSAL_RATIOS,
    RELOAD_LEAD_SECONDS,
    RELOAD_TIMESTAMPS,
    REQUEST_COUNTERS,
    RETRY_COUNTERS,
    USUAL_RETRIES,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT, ROLE_SYMPTOM, Ranking
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, FloatArray, Signal
from diagnosis_operator.models.findings import Candidate, RootCause
from diagnosis_operator.models.topology import ComponentKind, Topology

RATE = " rate"


@dataclass(frozen=True, slots=True)
class ProxyHarm:
    """A proxy found to cause its upstream's trouble, and why."""

    proxy: str
    upstream: str
    reason: str
    mode: str


def _matches(name: str, patterns: Sequence[str]) -> bool:
    return any(re.search(p, name) for p in patterns)


def _counter_rate(signals: Sequence[Signal], patterns: Sequence[str]) -> FloatArray | None:
    """The summed per-step rate of the first catalogued counter present (NaN as 0)."""
    for pattern in patterns:
        rates = [
            np.nan_to_num(s.values)
            for s in signals
            if s.name.endswith(RATE) and re.search(pattern, s.name.removesuffix(RATE))
        ]
        if rates:
            total: FloatArray = np.sum(rates, axis=0)
            return total
    return None


def amplified_retries(
    *, signals: Sequence[Signal], timestamps: FloatArray, onset: float, tolerance: float
) -> float | None:
    """Pure: retries per request received from ``onset`` on, when amplified (else ``None``).

    Amplified: at least ``AMPLIFIED_RETRIES`` per request from the onset on, at
    most ``USUAL_RETRIES`` before ``onset - tolerance`` (retries were not the usual).
    """
    retries = _counter_rate(signals, RETRY_COUNTERS)
    requests = _counter_rate(signals, REQUEST_COUNTERS)
    if retries is None or requests is None:
        return None
    before = timestamps < onset - tolerance
    after = timestamps >= onset
    asked_before, asked_after = float(requests[before].sum()), float(requests[after].sum())
    if asked_after <= 0.0:
        return None
    ratio = float(retries[after].sum()) / asked_after
    usual = float(retries[before].sum()) / asked_before if asked_before > 0.0 else 0.0
    return ratio if ratio >= AMPLIFIED_RETRIES and usual <= USUAL_RETRIES else None


def _retries_onset(evidence: ComponentEvidence) -> float | None:
    moments = [
        d.onset
        for d in evidence.metric_detections
        if d.score >= Z_THRESHOLD
        and d.anomaly.direction == "up"
        and _matches(d.signal.name.removesuffix(RATE), RETRY_COUNTERS)
    ]
    return min(moments) if moments else None


def clients_collapsed(evidence: ComponentEvidence) -> bool:
    """Pure: whether an app's tracked-client gauge fell by ``COLLAPSE_FACTOR`` or more
    (to a few, not to none) while its own limiter's refusals (429/403 share) rose."""
    detections = [d for d in evidence.metric_detections if d.score >= Z_THRESHOLD]
    refused = any(
        d.anomaly.direction == "up" and _matches(d.signal.name, REFUSAL_RATIOS) for d in detections
    )
    collapsed = any(
        d.anomaly.direction == "down"
        and _matches(d.signal.name, CLIENT_COUNT_GAUGES)
        and d.anomaly.value >= 1.0
        and d.anomaly.baseline >= COLLAPSE_FACTOR * d.anomaly.value
        for d in detections
    )
    return refused and collapsed


def reloaded_before(*, signals: Sequence[Signal], onset: float, tolerance: float) -> float | None:
    """Pure: the proxy's reload (or start) time just before ``onset``, from its
    catalogued timestamp gauges (``RELOAD_LEAD_SECONDS`` before, ``tolerance`` after)."""
    for s in signals:
        if RATE in s.name or not _matches(s.name, RELOAD_TIMESTAMPS):
            continue
        moments = s.values[np.isfinite(s.values)]
        near = moments[(moments >= onset - RELOAD_LEAD_SECONDS) & (moments <= onset + tolerance)]
        if near.size:
            return float(near.max())
    return None


def find_proxy_harm(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    root: str,
    tolerance: float,
) -> ProxyHarm | None:
    """Pure: the proxy calling ``root`` whose own behaviour caused ``root``'s trouble."""
    upstream = evidence.get(root)
    if upstream is None or upstream.onset is None:
        return None
    onset = upstream.onset
    for caller in sorted(topology.dependents_of(root)):
        proxy = evidence.get(caller)
        if proxy is None or proxy.component.kind is not ComponentKind.PROXY:
            continue
        own = signals.get(caller, ())
        ratio = amplified_retries(
            signals=own, timestamps=timestamps, onset=onset, tolerance=tolerance
        )
        began = _retries_onset(proxy)
        if ratio is not None and began is not None and began <= onset + tolerance:
            reason = f"its retries ({ratio:.1f} per request received) overloaded {root}"
            return ProxyHarm(caller, root, reason, "retry storm (no retry budget)")
        if clients_collapsed(upstream) and reloaded_before(
            signals=own, onset=onset, tolerance=tolerance
        ):
            reason = (
                f"{root}'s tracked clients collapsed and its limiter refused users "
                "right after this proxy reloaded: forwarded client addresses lost"
            )
            return ProxyHarm(caller, root, reason, "misconfiguration (forwarded headers)")
    return None


def rerooted_to_proxy(*, ranking: Ranking, harm: ProxyHarm, topology: Topology) -> Ranking:
    """Pure: the ranking with the harming proxy as root and its upstream as symptom."""
    found = next((c for c in ranking.candidates if c.component == harm.proxy), None)
    first = Candidate(
        component=harm.proxy,
        score=found.score if found else 0.0,
        role=ROLE_ROOT,
        reasons=(*(found.reasons if found else ()), harm.reason),
    )
    rest = tuple(
        replace(c, role=ROLE_SYMPTOM) if c.component == harm.upstream else c
        for c in ranking.candidates
        if c.component != harm.proxy
    )
    return replace(
        ranking,
        root_cause=RootCause(
            component=harm.proxy,
            kind=topology.get(harm.proxy).kind.value,
            instance=None,
            confidence=ranking.root_cause.confidence,
            summary="",
        ),
        candidates=(first, *rest),
    )


def proxy_rerooted(
    *,
    ranking: Ranking,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    signals: Mapping[str, Sequence[Signal]],
    timestamps: FloatArray,
    step: float,
) -> tuple[Ranking, ProxyHarm | None]:
    """Pure: ``rerooted_to_proxy`` when ``find_proxy_harm`` finds the root's proxy at fault."""
    root = ranking.root_cause.component
    if root not in topology.names:
        return ranking, None
    harm = find_proxy_harm(
        topology=topology,
        evidence=evidence,
        signals=signals,
        timestamps=timestamps,
        root=root,
        tolerance=max(2.0 * step, 30.0),
    )
    if harm is None:
        return ranking, None
    return rerooted_to_proxy(ranking=ranking, harm=harm, topology=topology), harm
