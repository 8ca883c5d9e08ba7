"""Which failure mode of the catalogue fits a root cause best.  Pure.

A mode fits by its signatures (``catalog.failure_modes``) found in the root's
evidence:

* ``metrics``: its metric signatures among the root's anomalous signals (one
  point per distinct metric family that moved, at most three; the exporters'
  self-metrics never count);
* ``logs``: its log signatures among the root's own lines from its onset on;
* ``callers``: its caller signatures among its direct callers' error lines
  from the caller's (or the root's) onset on;
* ``states``: its thread-state signatures among the states of the root's
  thread-state gauges that rose (``moved_states``: threads waiting for the
  global read lock), each a line of the server's own at full strength.

A log or caller signature weighs 2 at full strength (``saturation`` of the
lines it matched: 1 line 0.33, 7 lines or more 1.0): a database's own
"Deadlock found" and its callers' ``Error 1213`` say more than one metric.
The best mode is named; a second one within ``SECOND_SHARE`` of it is named
too ("lock contention and connection exhaustion").  A client root is named
by its pattern (retry loop, request flood); no incident names nothing.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.catalog.failure_modes import (
    FailureMode,
    catalog_kinds,
    compiled,
    is_self_metric,
    modes_of,
)
from diagnosis_operator.catalog.server_locks import STATE_LABEL, THREAD_STATE_SERIES
from diagnosis_operator.core.diagnosis import vocabulary
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import SEVERITY
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    AbusiveClient,
    ClientPattern,
    RootCause,
)
from diagnosis_operator.models.topology import Topology

LINE_WEIGHT = 2.0
METRIC_WEIGHT = 1.0
MAX_METRIC_HITS = 3
SECOND_SHARE = 0.75
TRAFFIC_SURGE = "traffic surge (retry storm or crowd)"
CLIENT_MODES: Mapping[ClientPattern, str] = {
    ClientPattern.RETRY_LOOP: "retry loop",
    ClientPattern.FLOOD: "request flood",
    ClientPattern.COSTLY: "costly requests (expensive to serve: slow or large responses)",
}


@dataclass(frozen=True, slots=True)
class ModeFit:
    """How well one mode's signatures fit the evidence."""

    mode: FailureMode
    score: float
    metric_hits: int = 0
    log_hits: int = 0
    caller_hits: int = 0


def saturation(count: int) -> float:
    """Pure: 0 for no line, growing with the lines matched, 1 from 7 lines on."""
    return min(1.0, math.log2(1 + count) / 3.0) if count > 0 else 0.0


def _line_score(patterns: Sequence[str], lines: Sequence[str]) -> tuple[float, int]:
    score, hits = 0.0, 0
    for pattern in patterns:
        count = vocabulary.count(pattern, lines)
        score += LINE_WEIGHT * saturation(count)
        hits += count
    return score, hits


def fit(
    mode: FailureMode,
    *,
    metric_names: Sequence[str],
    own_lines: Sequence[str],
    caller_lines: Sequence[str],
    states: Sequence[str] = (),
) -> ModeFit:
    """Pure: one mode's fit to the evidence (see the module docstring)."""
    metric_hits = sum(
        1 for name in metric_names if any(compiled(p).search(name) for p in mode.metrics)
    )
    logs, log_hits = _line_score(mode.logs, own_lines)
    callers, caller_hits = _line_score(mode.callers, caller_lines)
    metrics = METRIC_WEIGHT * min(metric_hits, MAX_METRIC_HITS)
    told = sum(1 for p in mode.states if any(compiled(p).search(state) for state in states))
    return ModeFit(
        mode=mode,
        score=metrics + logs + callers + LINE_WEIGHT * told,
        metric_hits=metric_hits,
        log_hits=log_hits,
        caller_hits=caller_hits,
    )


def rank_modes(
    modes: Iterable[FailureMode],
    *,
    metric_names: Sequence[str],
    own_lines: Sequence[str],
    caller_lines: Sequence[str],
    states: Sequence[str] = (),
) -> list[ModeFit]:
    """Pure: the modes that fit at all, best first (catalogue order breaks ties)."""
    fits = [
        fit(
            m,
            metric_names=metric_names,
            own_lines=own_lines,
            caller_lines=caller_lines,
            states=states,
        )
        for m in modes
    ]
    ranked = sorted(
        (f for f in fits if f.score > 0), key=lambda f: -f.score
    )  # stable: catalogue order
    return ranked


def mode_name(fits: Sequence[ModeFit]) -> str | None:
    """Pure: the best mode's name, and the runner-up's when it fits nearly as well."""
    if not fits:
        return None
    best = fits[0]
    if len(fits) > 1 and fits[1].score >= SECOND_SHARE * best.score:
        return f"{best.mode.name} and {fits[1].mode.name}"
    return best.mode.name


def moved_metrics(evidence: ComponentEvidence, kind: str | None) -> list[str]:
    """Pure: the distinct metric families that moved, without the exporters' own."""
    names: list[str] = []
    for detection in evidence.metric_detections:
        if detection.score < Z_THRESHOLD:
            continue
        name = detection.signal.name.removesuffix(" rate")
        if is_self_metric(name, kind) or name in names:
            continue
        names.append(name)
    return names


def moved_states(evidence: ComponentEvidence) -> list[str]:
    """Pure: the thread states whose thread-state gauge rose (``catalog.server_locks``)."""
    states: list[str] = []
    for detection in evidence.metric_detections:
        signal = detection.signal
        if (
            detection.score < Z_THRESHOLD
            or detection.anomaly.direction != "up"
            or THREAD_STATE_SERIES.search(signal.name) is None
        ):
            continue
        state = signal.labels.get(STATE_LABEL)
        if state and state not in states:
            states.append(state)
    return states


def _own_lines(evidence: ComponentEvidence) -> list[str]:
    if evidence.logs is None:
        return []
    since = evidence.onset
    return [e.line for e in evidence.logs.events if since is None or e.ts >= since]


def _caller_lines(
    *, topology: Topology, evidence: Mapping[str, ComponentEvidence], root: str
) -> list[str]:
    root_onset = evidence[root].onset
    lines: list[str] = []
    for caller in topology.dependents_of(root):
        ev = evidence.get(caller)
        if ev is None or ev.logs is None:
            continue
        moments = [t for t in (ev.onset, root_onset) if t is not None]
        since = min(moments) if moments else None
        lines.extend(
            e.line
            for e in ev.logs.events
            if SEVERITY[e.category] >= 1.0 and (since is None or e.ts >= since)
        )
    return lines


def root_failure_mode(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    root_cause: RootCause,
    clients: Sequence[AbusiveClient] = (),
) -> str | None:
    """Pure: the failure mode of the root cause (see the module docstring)."""
    if root_cause.component == CLIENT_CAUSE:
        strongest = max(clients, key=lambda c: c.requests, default=None)
        # no single address: the fleet's traffic surged (``surge.traffic_led``)
        return CLIENT_MODES.get(strongest.pattern) if strongest else TRAFFIC_SURGE
    if root_cause.component not in topology.names or root_cause.component not in evidence:
        return None
    ev = evidence[root_cause.component]
    raw = [d.signal.name.removesuffix(" rate") for d in ev.metric_detections]
    kinds = catalog_kinds(ev.component, raw)
    fits = rank_modes(
        modes_of(kinds),
        metric_names=moved_metrics(ev, kinds[0]),
        own_lines=_own_lines(ev),
        caller_lines=_caller_lines(topology=topology, evidence=evidence, root=ev.component.name),
        states=moved_states(ev),
    )
    return mode_name(fits)
