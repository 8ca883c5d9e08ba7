"""The incident gate: whether the window holds an incident to explain at all.  Pure.

Something moving is not an incident.  A root cause is named only when what users
feel was significant *and* sustained against its own baseline, in the spirit of
the SLO alerts of the Google SRE workbook ("Alerting on SLOs",
https://sre.google/workbook/alerting-on-slos/: alert on a significant budget
burn over a long enough window, not on every short spike; a short window only
confirms that the burn is still going on).  The gate looks at every symptom of
every component (a 5xx ratio or a latency that rose, error/warn lines, a severe
log category that is new in the window) and measures:

* how long it stayed *elevated*: steps at least half way from its baseline to
  its anomalous level and, for a 5xx ratio, ``min_error_ratio_rise`` (absolute)
  above the baseline, for a latency ``min_latency_rise`` (relative) above it;
  for a log category, the steps holding its lines from its burst on;
* whether it is still elevated at the window's end (it did not heal).

The window holds an incident when a symptom stayed elevated for
``min_symptom_seconds`` in all (at most a quarter of the window), or was still
elevated at the end, or when a data store reported itself down (an
availability gauge such as ``redis_up`` fell to 0 on a component of a stateful
kind, see ``catalog.gate``) and has not healed: still down at the end (a
failover), down for ``min_symptom_seconds``, or back up for less than
``HEALED_SECONDS`` before the window's end (too soon to say), or changed role
meanwhile (``role_change``: a replica promoted, a cluster's election, its callers
told the store is read-only or the cluster down): a failover is an incident
however short.  A store restarted in place (a package upgrade's restart), back
within seconds and serving as before for a minute or more, with no symptom of its
callers lasting or still going on, is a blip that healed by itself.
A proxy's error lines that are its own rate limiter's rejections (``shedding``)
are load shed by design, not a symptom; nor are any component's lines refusing
clients' credentials alike on every instance (``quiet_lines``), and a store's rise
of error lines made of its slow log is judged as its slow log (felt by its callers
or not).  Otherwise it is a blip that healed by
itself (a pod's stall its siblings absorbed, a deploy's few failed requests, a
busy hour): root ``none``, with what was seen in the summary, and nothing to
remediate.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.catalog.gate import STATELESS_KINDS, is_availability_gauge
from diagnosis_operator.core.diagnosis.evidence import SYMPTOM_KINDS, ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import LogCategory
from diagnosis_operator.core.diagnosis.quiet_lines import clients_refused, slow_log_category
from diagnosis_operator.core.diagnosis.retried_deadlocks import deadlock_category
from diagnosis_operator.core.diagnosis.role_change import changed_role
from diagnosis_operator.core.diagnosis.rule_refusals import rules_refusing
from diagnosis_operator.core.diagnosis.shedding import (
    sheds_by_design,
    telemetry_lines,
    telemetry_only,
)
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, Detection, SignalKind
from diagnosis_operator.models.engine import DEFAULT_ENGINE_SETTINGS, EngineSettings
from diagnosis_operator.models.signals import Window, isoformat_z

DEADLOCK_WHAT = f"{LogCategory.DEADLOCK.value} log lines"  # a store's deadlocks, as seen
MAX_WINDOW_SHARE = 0.25  # a short window cannot ask for more than this share of itself
HEALED_SECONDS = 60.0  # a store back up at least this long before the window's end healed


@dataclass(frozen=True, slots=True)
class Seen:
    """One symptom the gate looked at: where, what, from when, and for how long."""

    component: str
    what: str
    onset: float
    seconds: float
    ongoing: bool


@dataclass(frozen=True)
class GateVerdict:
    """Whether the window holds an incident, and what was seen either way."""

    incident: bool
    seen: tuple[Seen, ...] = ()
    down: tuple[str, ...] = ()  # data stores that reported themselves down (and did not heal)
    healed: tuple[Seen, ...] = ()  # data stores down for a moment, back up since
    needed: float = 0.0  # the seconds a symptom had to last
    unfelt: tuple[Seen, ...] = ()  # of ``seen``: slow-log lines none of the store's callers felt

    def describe(self) -> str:
        """One sentence on the symptoms that did not make an incident (empty without any)."""
        short = [s for s in self.seen if s not in self.unfelt]
        sentences = [
            f"{s.component} reported itself down for {s.seconds:.0f} s from "
            f"{isoformat_z(s.onset)[11:19]} and has served since (a restart that healed)"
            for s in self.healed
        ]
        if short:
            parts = [
                f"{s.component} {s.what} for {s.seconds:.0f} s from {isoformat_z(s.onset)[11:19]}"
                for s in sorted(short, key=lambda s: (-s.seconds, s.onset, s.component))[:3]
            ]
            sentences.append(
                f"what was seen was short and healed by itself ({'; '.join(parts)}), below the "
                f"{self.needed:.0f} s a symptom must last (or still be going on at the end) "
                "to be an incident"
            )
        deadlocks = {s.component for s in self.unfelt if s.what == DEADLOCK_WHAT}
        slow = {s.component for s in self.unfelt if s.what != DEADLOCK_WHAT}
        for stores, words in ((slow, "slow statements"), (deadlocks, "retried deadlocks")):
            if stores:
                sentences.append(
                    f"{', '.join(sorted(stores))} logged {words} that none of its callers felt "
                    f"(no latency, errors or error lines of theirs): {words}, not an outage"
                )
        return "; ".join(sentences)


def incident_gate(
    *,
    evidence: Mapping[str, ComponentEvidence],
    window: Window,
    step: float,
    settings: EngineSettings = DEFAULT_ENGINE_SETTINGS,
) -> GateVerdict:
    """Pure: the gate of the module docstring over every component's evidence."""
    needed = min(settings.min_symptom_seconds, MAX_WINDOW_SHARE * window.duration)
    seen: list[Seen] = []
    down: list[str] = []
    healed: list[Seen] = []
    for name, ev in evidence.items():
        seen.extend(_metric_symptoms(ev, step=step, settings=settings))
        seen.extend(_log_symptoms(ev, step=step))
        outage = _outage(ev, step=step)
        if outage is None:
            continue
        if outage.ongoing or outage.seconds >= needed or _failed_over(ev, evidence):
            down.append(name)
        else:
            healed.append(outage)
    unfelt = tuple(s for s in seen if _unfelt_slow_log(s, seen=seen, evidence=evidence))
    incident = bool(down) or any(s.ongoing or s.seconds >= needed for s in seen if s not in unfelt)
    return GateVerdict(
        incident=incident,
        seen=tuple(seen),
        down=tuple(down),
        needed=needed,
        unfelt=unfelt,
        healed=tuple(healed),
    )


def _failed_over(store: ComponentEvidence, evidence: Mapping[str, ComponentEvidence]) -> bool:
    """Pure: whether a store that came back changed role meanwhile (``role_change``)."""
    name = store.component.name
    return changed_role(store, (ev for ev in evidence.values() if name in ev.component.depends_on))


def _outage(ev: ComponentEvidence, *, step: float) -> Seen | None:
    """Pure: how long a data store reported itself down (``None``: it did not).

    ``ongoing`` when it was still down, or back up for less than
    ``HEALED_SECONDS``, at its gauge's last point, or went down more than once
    (back up in between for more than a scrape): a store that keeps going down
    (a crash loop, repeated OOM kills) has not healed.
    """
    found = _down_detections(ev)
    if not found:
        return None
    seconds, ongoing = 0.0, False
    for detection in found:
        low = elevated_steps(detection)
        last = _last_valid(detection)
        steps = np.flatnonzero(low)
        seconds = max(seconds, float(low.sum()) * step)
        back = (last - int(steps[-1])) * step if steps.size else float("inf")
        recurring = bool(steps.size) and bool((np.diff(steps) > 2).any())
        ongoing = ongoing or back < HEALED_SECONDS or recurring
    onset = min(d.onset for d in found)
    what = found[0].signal.name
    return Seen(
        component=ev.component.name, what=what, onset=onset, seconds=seconds, ongoing=ongoing
    )


# What a store logs that is an incident only when its callers felt it: its slow log, and
# deadlocks its transactions retried (``retried_deadlocks``).
SLOW_LOG_WHATS = frozenset(
    f"{category.value} log lines"
    for category in (LogCategory.SLOW_QUERY, LogCategory.SLOW_COMMAND, LogCategory.DEADLOCK)
)


def _unfelt_slow_log(
    symptom: Seen, *, seen: list[Seen], evidence: Mapping[str, ComponentEvidence]
) -> bool:
    """Pure: a data store's slow-log (or deadlock) lines that none of its callers felt.

    A slow log records statements over a threshold, whatever ran them: a nightly
    dump's full reads, a report, an analyst's query.  They are an incident when
    the store's callers felt them (their own latency, errors or error lines), not
    by themselves: a store with callers none of which showed a symptom had
    slow statements, not an outage (no kill for them either).
    """
    store = evidence[symptom.component].component
    if symptom.what not in SLOW_LOG_WHATS or store.kind in STATELESS_KINDS:
        return False
    callers = {name for name, ev in evidence.items() if store.name in ev.component.depends_on}
    felt = {s.component for s in seen}
    return bool(callers) and not callers & felt


def _metric_symptoms(ev: ComponentEvidence, *, step: float, settings: EngineSettings) -> list[Seen]:
    found = []
    harm = ev.harm
    for detection in ev.metric_detections:
        if (
            not (_is_symptom(detection) or detection in harm)
            or sheds_by_design(ev, detection)
            or telemetry_only(ev, detection)
            or clients_refused(ev, detection)
            or rules_refusing(ev, detection)
        ):
            continue
        elevated = elevated_steps(detection, settings=settings)
        if not elevated.any():
            continue
        # judged as its slow log or its deadlocks (``_unfelt_slow_log``)
        slow = slow_log_category(ev, detection) or deadlock_category(ev, detection)
        found.append(
            Seen(
                component=ev.component.name,
                what=detection.signal.name if slow is None else f"{slow.value} log lines",
                onset=detection.onset,
                seconds=float(elevated.sum()) * step,
                ongoing=bool(elevated[_last_valid(detection)]),
            )
        )
    return found


def _is_symptom(detection: Detection) -> bool:
    return (
        detection.signal.kind in SYMPTOM_KINDS
        and detection.anomaly.direction == "up"
        and detection.score >= Z_THRESHOLD
    )


def elevated_steps(
    detection: Detection, *, settings: EngineSettings = DEFAULT_ENGINE_SETTINGS
) -> np.ndarray[tuple[int], np.dtype[np.bool_]]:
    """Pure: the steps where a symptom is elevated (see the module docstring).

    A falling one (a state flag of the catalogue's harm) is mirrored: elevated
    where it is at least half way down.
    """
    values = np.nan_to_num(np.asarray(detection.signal.values, dtype=np.float64), nan=-np.inf)
    anomaly = detection.anomaly
    if anomaly.direction == "down":
        raw = np.asarray(detection.signal.values, dtype=np.float64)
        middle = anomaly.baseline - 0.5 * (anomaly.baseline - anomaly.value)
        low: np.ndarray[tuple[int], np.dtype[np.bool_]] = np.nan_to_num(raw, nan=np.inf) <= middle
        return low & (raw < anomaly.baseline)
    floor = anomaly.baseline + 0.5 * (anomaly.value - anomaly.baseline)
    kind = detection.signal.kind
    if kind is SignalKind.ERROR_RATIO:
        floor = max(floor, anomaly.baseline + settings.min_error_ratio_rise)
    elif kind is SignalKind.LATENCY:
        floor = max(floor, anomaly.baseline * (1.0 + settings.min_latency_rise))
    elevated: np.ndarray[tuple[int], np.dtype[np.bool_]] = (values >= floor) & (
        values > anomaly.baseline
    )
    return elevated


def _last_valid(detection: Detection) -> int:
    valid = np.flatnonzero(np.isfinite(np.asarray(detection.signal.values, dtype=np.float64)))
    return int(valid[-1]) if valid.size else -1


def _log_symptoms(ev: ComponentEvidence, *, step: float) -> list[Seen]:
    """A new severe log category lasts as long as the steps holding its lines."""
    if ev.logs is None:
        return []
    found = []
    for category, (first, _) in ev.new_categories.items():
        lines = [e for e in ev.logs.events if e.category is category and e.ts >= first.ts]
        if telemetry_lines([e.line for e in lines]):
            continue  # the application's telemetry failing to leave it (``shedding``)
        moments = [e.ts for e in lines]
        steps = {int((ts - first.ts) // step) for ts in moments} or {0}
        found.append(
            Seen(
                component=ev.component.name,
                what=f"{category.value} log lines",
                onset=first.ts,
                seconds=len(steps) * step,
                ongoing=False,
            )
        )
    return found


def reports_down(ev: ComponentEvidence) -> bool:
    """Pure: whether a data store (a component of a stateful kind) reported itself down.

    An availability gauge (``catalog.gate``) fell from up towards 0.  One
    instance of a stateless tier down is what its siblings are there for.
    """
    return bool(_down_detections(ev))


def _down_detections(ev: ComponentEvidence) -> list[Detection]:
    """Pure: a data store's availability gauges that fell from up towards 0."""
    if ev.component.kind in STATELESS_KINDS:
        return []
    return [
        d
        for d in ev.metric_detections
        if d.signal.kind is SignalKind.GAUGE
        and is_availability_gauge(d.signal.family)
        and d.anomaly.direction == "down"
        and d.anomaly.baseline > 0
        and d.peak <= 0.5 * d.anomaly.baseline
    ]
