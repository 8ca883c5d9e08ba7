"""What one component's signals and logs say, summarised for ranking.  Pure."""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from diagnosis_operator.catalog.failure_modes import catalog_kinds, harm_direction
from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.core.diagnosis.logs import SEVERITY, ComponentLogs, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.long_running import LongRunning
from diagnosis_operator.core.diagnosis.saturated import saturated
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection, SignalKind
from diagnosis_operator.core.diagnosis.stats import poisson_tail_at
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Component, ComponentKind

MIN_ROOT_EVIDENCE = 11.0
STRONG_EVIDENCE = 20.0
HEALTH_KINDS = (
    SignalKind.ERROR_RATIO,
    SignalKind.LATENCY,
    SignalKind.CPU,
    SignalKind.LOG_SIGNIFICANT,
)
# What users feel (see ComponentEvidence.has_symptom).
SYMPTOM_KINDS = (SignalKind.ERROR_RATIO, SignalKind.LATENCY, SignalKind.LOG_SIGNIFICANT)


@dataclass(frozen=True)
class ComponentEvidence:
    """What one component's signals and logs say, summarised for ranking."""

    component: Component
    detections: tuple[Detection, ...] = ()
    logs: ComponentLogs | None = None
    # severe log categories that are new (or much more frequent) in the incident,
    # with their first event and how many sampled lines fell in them
    new_categories: Mapping[LogCategory, tuple[LogEvent, int]] = field(default_factory=dict)
    # slow-query events of statements that were not slow before the incident
    slow_queries: tuple[LogEvent, ...] = ()
    # statements its processlist shows running far longer than its workload's, still
    # running (``long_running``: a database's runaway statements, not yet in its slow log)
    long_running: tuple[LongRunning, ...] = ()

    @property
    def metric_detections(self) -> tuple[Detection, ...]:
        return tuple(d for d in self.detections if d.signal.kind is not SignalKind.LOG_LINES)

    @property
    def metric_score(self) -> float:
        return max((d.score for d in self.metric_detections), default=0.0)

    @property
    def log_score(self) -> float:
        total = 0.0
        for category, (_, count) in self.new_categories.items():
            total += 10.0 * SEVERITY[category] * min(1.0, math.log2(1 + count) / 2.0)
        return min(total, 100.0)

    @property
    def evidence_score(self) -> float:
        return max(self.metric_score, self.log_score)

    @property
    def families(self) -> frozenset[str]:
        names = {d.signal.family for d in self.metric_detections}
        names.update(f"log:{category.value}" for category in self.new_categories)
        return frozenset(names)

    @property
    def has_metric_evidence(self) -> bool:
        return any(d.signal.kind is not SignalKind.LOG_SIGNIFICANT for d in self.metric_detections)

    @property
    def has_log_evidence(self) -> bool:
        return bool(self.new_categories) or any(
            d.signal.kind is SignalKind.LOG_SIGNIFICANT for d in self.metric_detections
        )

    @property
    def onset(self) -> float | None:
        moments = [d.onset for d in self.metric_detections if d.score >= Z_THRESHOLD]
        moments.extend(event.ts for event, _ in self.new_categories.values())
        return min(moments) if moments else None

    @property
    def harm_onset(self) -> float | None:
        """The first moment it showed harm (``has_symptom``): not load, which may move earlier.

        ``None`` without harm.  A caller whose traffic rose before its dependency
        failed was not failing yet: its failure begins with its harm.
        """
        harmed = set(self.harm)
        moments = [
            d.onset
            for d in self.metric_detections
            if d.score >= Z_THRESHOLD
            and (d in harmed or (d.signal.kind in SYMPTOM_KINDS and d.anomaly.direction == "up"))
        ]
        moments.extend(event.ts for event, _ in self.new_categories.values())
        return min(moments) if moments else None

    @functools.cached_property
    def harm(self) -> tuple[Detection, ...]:
        """Its metrics that moved the way the catalogue calls harm (``FailureMode.harm``).

        Work the component lost or refused (evicted keys, rejected
        connections) rising, a state flag of its own health falling, a
        one-thread server's CPU at its ceiling: harm in its own terms, whether
        or not its callers show it; a gauge at the maximum its exporter declares
        (``at_maximum``: a column's type, a proxy's maxconn) refuses what would take
        it further.
        """
        names = [d.signal.name.removesuffix(" rate") for d in self.metric_detections]
        kinds = catalog_kinds(self.component, names)
        lost = tuple(
            d
            for d, name in zip(self.metric_detections, names, strict=True)
            if d.score >= Z_THRESHOLD and harm_direction(name, kinds) == d.anomaly.direction
        )
        # a one-thread server at its ceiling (``catalog.saturation``): its callers wait;
        # a gauge at its declared maximum (``at_maximum``): the server refuses more
        at_maximum = tuple(d for d in self.metric_detections if d.at_declared_maximum)
        ceiling = saturated(self.metric_detections, kinds) + at_maximum
        return lost + tuple(d for i, d in enumerate(ceiling) if d not in lost + ceiling[:i])

    @property
    def has_symptom(self) -> bool:
        """Whether it shows harm: failures, slowness, severe new log lines, lost work.

        Traffic, connections, CPU or memory that moved are load, not harm: a
        window where only they moved (a morning ramp, an autoscaler adding
        pods) holds no incident to diagnose.  The catalogue's harm metrics
        (``harm``) are harm however the callers fare.
        """
        if self.new_categories or self.harm:
            return True
        return any(
            d.signal.kind in SYMPTOM_KINDS
            and d.anomaly.direction == "up"
            and d.score >= Z_THRESHOLD
            for d in self.metric_detections
        )

    @property
    def significant(self) -> bool:
        return self.evidence_score >= MIN_ROOT_EVIDENCE and (
            len(self.families) >= 2 or self.evidence_score >= STRONG_EVIDENCE
        )


def incident_events(*, evidence: ComponentEvidence, category: LogCategory) -> list[LogEvent]:
    """Pure: a component's events that are not ordinary: from a burst on, when one is new.

    Upstream errors, timeouts and the like are read from the onset of the
    category's burst (``new_categories``); a category without a burst gives
    none, since an ordinary hour has a few of everything.
    """
    found = evidence.new_categories.get(category)
    if found is None or evidence.logs is None:
        return []
    onset = found[0].ts
    return [e for e in evidence.logs.events if e.ts >= onset]


RECOVERED_TAIL_SHARE = 0.25  # of the evidence's points, after the last elevated one


def recovered(detection: Detection) -> bool:
    """Pure: whether a rise ended well before the evidence did.

    Elevated means at least half way from the baseline to the anomalous
    level; the points after the last elevated one must be at least
    ``RECOVERED_TAIL_SHARE`` of the series.
    """
    values = np.asarray(detection.signal.values, dtype=np.float64)
    if values.size == 0:
        return False
    anomaly = detection.anomaly
    midpoint = anomaly.baseline + 0.5 * (anomaly.value - anomaly.baseline)
    elevated = np.flatnonzero(np.nan_to_num(values, nan=-np.inf) >= midpoint)
    if elevated.size == 0:
        return False
    return values.size - 1 - int(elevated[-1]) >= RECOVERED_TAIL_SHARE * values.size


def only_fell(evidence: ComponentEvidence) -> bool:
    """Pure: whether all a component shows is less activity (no symptom, every anomaly down).

    A failed scrape (an availability gauge down to 0) is no less activity: the
    instance stopped answering.
    """
    strong = [d for d in evidence.metric_detections if d.score >= Z_THRESHOLD]
    return (
        bool(strong)
        and not evidence.has_symptom
        and all(d.anomaly.direction == "down" for d in strong)
        and not any(is_availability_gauge(d.signal.family) for d in strong)
    )


SELF_FAILED_SHARE = 0.8  # of a proxy's incident 5xx lines that name no upstream
SELF_FAILED_MIN_LINES = 5
OWN_ERRORS_MAX_P = 1e-3


def fails_by_itself(*, evidence: ComponentEvidence, window: Window) -> bool:
    """Pure: whether a proxy answers its failures itself, without reaching any upstream.

    Most (``SELF_FAILED_SHARE``) of its incident 5xx access lines name no
    upstream address although its lines name upstreams otherwise (the format
    has the field), and its own error lines (not access lines: a failed
    reload, a resolver or rate-limit error) burst after the window's first
    quarter (Poisson tail below ``OWN_ERRORS_MAX_P`` at the cautious upper
    bound of their earlier rate).  Such a proxy is the cause of its errors;
    the quiet behind it is their consequence.
    """
    if evidence.component.kind is not ComponentKind.PROXY or evidence.logs is None:
        return False
    failed = [
        e
        for e in incident_events(evidence=evidence, category=LogCategory.UPSTREAM_ERROR)
        if e.access is not None and e.access.status is not None and e.access.status >= 500
    ]
    if len(failed) < SELF_FAILED_MIN_LINES:
        return False
    unnamed = sum(1 for e in failed if not (e.access and e.access.upstream))
    if unnamed < SELF_FAILED_SHARE * len(failed):
        return False
    if not any(
        e.access is not None and (e.access.upstream or e.access.upstream_field)
        for e in evidence.logs.events
    ):
        return False
    cut = window.start + 0.25 * window.duration
    own = [e.ts for e in evidence.logs.events if e.access is None and e.severity >= 1.0]
    before = sum(1 for ts in own if ts < cut)
    after = len(own) - before
    usual = (before + 1.0 + math.sqrt(before + 1.0)) / max(cut - window.start, 1.0)
    return poisson_tail_at(after, usual * max(window.end - cut, 1.0)) < OWN_ERRORS_MAX_P
