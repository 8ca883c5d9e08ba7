"""From anomalies to a root cause: topology-aware ranking, affected instances.  Pure.

Every component with evidence gets a score in [0, 1]:

    raw = 0.25*strength + 0.10*breadth + 0.10*agreement + 0.20*explains
        + 0.15*first + 0.10*severity + 0.10*blame
    score = raw * 0.45   if a significant dependency went bad first (it explains this one)
            raw          otherwise

"Went bad first" allows a lead of ``tolerance`` (two steps): a caller notices a
failure at its first failed call, a dependency's metrics show it a scrape
later.  When at least a third of the caller's incident error lines that name a
dependency name this one ("Lock wait timeout ... sql", "redis ... refused"),
the allowed lead grows to 5 % of the window (``named_lead``).

* ``strength``  = 1 - exp(-S/30), S the strongest evidence: the highest robust
  z-score (or burst score) of its signals, or the log score (10 x severity per
  category of severe lines new in the window, damped for single lines);
* ``breadth``   = independent signals (metric families + new log categories) / 5, capped at 1;
* ``agreement`` = 1 when metrics and logs both point at it, 0.5 when one does;
* ``explains``  = share of its anomalous callers (transitively, along dependsOn)
  that it explains by the rule above, directly or through a caller it explains
  (0.3 without anomalous callers);
* ``first``     = 1 for the earliest onset of a significant component,
  decreasing linearly with the lag (0 at a tenth of the window);
* ``severity``  = the most severe new log category / 3 (deadlock, connection
  exhaustion, OOM = 1; 0.5 without logs);
* ``blame``     = its largest share of the dependency mentions in the error lines
  of a caller with several dependencies (0.5 when no such caller names any;
  a caller with one dependency cannot tell dependencies apart).

The root is the best-scoring significant component (S >= 11 and either two
independent signals or S >= 20, score >= 0.3): a better-scoring component
with too little evidence neither becomes the root nor hides one.  Its confidence is
``score * (0.55 + 0.45 * min(1, gap / 0.3))`` where ``gap`` is its lead over
the best other component that is not one of its callers: a clear single cause
keeps its score, a close second halves the last part.  ``client`` is the root
when an abusive client's flood started before (or without) any backend
anomaly; ``none`` when nothing is significant.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from diagnosis_operator.core.diagnosis.detect import (
    Z_THRESHOLD,
    Detection,
    FloatArray,
    Signal,
    SignalKind,
    level_between,
)
from diagnosis_operator.core.diagnosis.logs import (
    SEVERITY,
    ComponentLogs,
    LogCategory,
    LogEvent,
    statement_fingerprint,
)
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    AffectedInstance,
    Candidate,
    ClientPattern,
    RootCause,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

ROLE_ROOT = "root"
ROLE_AGGRAVATING = "aggravating"
ROLE_SYMPTOM = "symptom"
ROLE_CANDIDATE = "candidate"

MIN_ROOT_EVIDENCE = 11.0
MIN_ROOT_SCORE = 0.3
STRONG_EVIDENCE = 20.0
NEW_CATEGORY_MIN_SEVERITY = 1.5
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
    def has_symptom(self) -> bool:
        """Whether it shows what users feel: failures, slowness or severe new log lines.

        Traffic, connections, CPU or memory that moved are load, not harm: a
        window where only they moved (a morning ramp, an autoscaler adding
        pods) holds no incident to diagnose.
        """
        if self.new_categories:
            return True
        return any(
            d.signal.kind in SYMPTOM_KINDS
            and d.anomaly.direction == "up"
            and d.score >= Z_THRESHOLD
            for d in self.metric_detections
        )

    @property
    def only_recovered_slowness(self) -> bool:
        """Whether all it shows users is slowness that ended long before the evidence did.

        No failures and no severe new log lines, and every latency rise
        recovered (see ``recovered``): a short pause that healed itself, not
        an incident to diagnose or remediate.
        """
        if self.new_categories:
            return False
        symptoms = [
            d
            for d in self.metric_detections
            if d.signal.kind in SYMPTOM_KINDS
            and d.anomaly.direction == "up"
            and d.score >= Z_THRESHOLD
        ]
        return bool(symptoms) and all(
            d.signal.kind is SignalKind.LATENCY and recovered(d) for d in symptoms
        )

    @property
    def significant(self) -> bool:
        return self.evidence_score >= MIN_ROOT_EVIDENCE and (
            len(self.families) >= 2 or self.evidence_score >= STRONG_EVIDENCE
        )


def new_log_categories(
    *,
    logs: ComponentLogs,
    window: Window,
    baseline_fraction: float = 0.25,
    span: float = 300.0,
    max_p: float = 1e-3,
) -> dict[LogCategory, tuple[LogEvent, int]]:
    """Pure: severe log categories that start (or burst) in the incident part of the window.

    The first ``baseline_fraction`` of the window gives each category's usual
    rate.  A category is new at the first event that opens a ``span``-second
    stretch holding more of it than that rate makes plausible (Poisson tail
    below ``max_p``); the most severe categories (deadlocks, connection
    exhaustion, out of memory) are new at their first line when the baseline
    had none.  Slow queries are judged per statement fingerprint, so a slow
    report that runs every hour does not hide a new slow statement.  Returns the
    first event from the onset on and the number of events from there.
    """
    cut = window.start + baseline_fraction * window.duration
    before_span = max(cut - window.start, 1.0)
    grouped: dict[tuple[LogCategory, str], list[LogEvent]] = defaultdict(list)
    for event in logs.events:
        if SEVERITY[event.category] >= NEW_CATEGORY_MIN_SEVERITY:
            key = ""
            if event.slow_query is not None:
                key = statement_fingerprint(event.slow_query.statement)
            grouped[(event.category, key)].append(event)
    found: dict[LogCategory, tuple[LogEvent, int]] = {}
    for (category, fingerprint), events in grouped.items():
        events.sort(key=lambda e: e.ts)
        stamps = [e.ts for e in events]
        before = bisect.bisect_left(stamps, cut)
        if before == len(events):
            continue
        onset_index: int | None = None
        if before == 0 and (SEVERITY[category] >= 3.0 or fingerprint):
            onset_index = 0
        else:
            expected = (before + 0.5) / before_span * span
            for index in range(before, len(events)):
                inside = bisect.bisect_left(stamps, stamps[index] + span) - index
                if _poisson_tail(inside, expected) < max_p:
                    onset_index = burst_start(
                        stamps, index=index, span=span, usual_rate=(before + 0.5) / before_span
                    )
                    break
        if onset_index is None:
            continue
        first = events[onset_index]
        count = len(events) - onset_index
        current = found.get(category)
        if current is None or first.ts < current[0].ts:
            found[category] = (first, count + (current[1] if current else 0))
        else:
            found[category] = (current[0], current[1] + count)
    return found


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


def burst_start(stamps: Sequence[float], *, index: int, span: float, usual_rate: float) -> int:
    """Pure: the first event of the burst in the unlikely stretch opened by ``stamps[index]``.

    The stretch may open with ordinary events that merely precede the burst.
    A Poisson CUSUM over the stretch (each event adds one, time takes away the
    reference rate between the usual rate and the stretch's rate) climbs
    through the burst; the burst starts at the event after which it never
    returned to zero.
    """
    end = bisect.bisect_left(stamps, stamps[index] + span)
    burst_rate = (end - index) / span
    usual = max(usual_rate, 1e-9)
    if burst_rate <= usual:
        return index
    reference = (burst_rate - usual) / math.log(burst_rate / usual)
    level = 0.0
    began = index
    previous = stamps[index]
    for position in range(index, end):
        level = max(0.0, level - reference * (stamps[position] - previous))
        previous = stamps[position]
        if level == 0.0:
            began = position
        level += 1.0
    return began


def new_slow_queries(
    *, logs: ComponentLogs, window: Window, baseline_fraction: float = 0.25
) -> tuple[LogEvent, ...]:
    """Pure: slow-query events after the window's first part whose statement was not slow in it."""
    cut = window.start + baseline_fraction * window.duration
    usual = {
        statement_fingerprint(e.slow_query.statement)
        for e in logs.events
        if e.slow_query is not None and e.ts < cut
    }
    return tuple(
        e
        for e in logs.events
        if e.slow_query is not None
        and e.ts >= cut
        and statement_fingerprint(e.slow_query.statement) not in usual
    )


def _poisson_tail(k: int, mu: float) -> float:
    """P(X >= k) for X ~ Poisson(mu)."""
    if k <= 0:
        return 1.0
    term = math.exp(-mu)
    below = 0.0
    for i in range(k):
        below += term
        term *= mu / (i + 1)
    return max(0.0, 1.0 - below) if below < 0.999 else _upper_sum(k, mu)


def _upper_sum(k: int, mu: float) -> float:
    log_term = -mu + k * math.log(max(mu, 1e-300)) - math.lgamma(k + 1)
    total = 0.0
    term = math.exp(log_term)
    i = k
    while term > 1e-300 and i < k + 200:
        total += term
        i += 1
        term *= mu / i
    return total


@dataclass(frozen=True, slots=True)
class Score:
    component: str
    score: float
    strength: float
    breadth: float
    agreement: float
    explains: float
    first: float
    explained_by: str | None
    severity: float = 0.5
    blame: float = 0.5

    def reasons(self) -> tuple[str, ...]:
        out = [
            f"strength {self.strength:.2f}",
            f"breadth {self.breadth:.2f}",
            f"metric/log agreement {self.agreement:.2f}",
            f"explains callers {self.explains:.2f}",
            f"earliest {self.first:.2f}",
            f"log severity {self.severity:.2f}",
            f"named by callers' errors {self.blame:.2f}",
        ]
        if self.explained_by:
            out.append(f"explained by earlier {self.explained_by}")
        return tuple(out)


def named_lead(window: Window, tolerance: float) -> float:
    """Pure: how much earlier a caller may fail than a dependency its errors name.

    A caller notices a failing dependency at its first failed call, while the
    dependency's own metrics show it only once scraped and aggregated; when
    the caller's errors say which dependency failed, a lead of a few minutes
    is no evidence against it.
    """
    return max(tolerance, 0.05 * window.duration)


def score_components(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    window: Window,
    tolerance: float,
) -> list[Score]:
    """Pure: the ranking formula of the module docstring, best first."""
    anomalous = {
        name: ev
        for name, ev in evidence.items()
        if ev.evidence_score >= Z_THRESHOLD and ev.onset is not None
    }
    if not anomalous:
        return []
    onsets = {name: ev.onset for name, ev in anomalous.items() if ev.onset is not None}
    significant_onsets = [onsets[n] for n, ev in anomalous.items() if ev.significant]
    earliest = min(significant_onsets or onsets.values())
    span = max(0.1 * window.duration, 60.0)
    named = named_dependencies(topology=topology, evidence=evidence, window=window)
    blame = caller_blame(named)
    lead = named_lead(window, tolerance)

    self_failing = {
        name for name, ev in evidence.items() if fails_by_itself(evidence=ev, window=window)
    }

    def causes(dependency: str, caller: str) -> bool:
        """Whether a significant ``dependency`` went bad early enough to explain ``caller``.

        Never when the caller fails by itself (``fails_by_itself``), nor when
        the dependency only did less, from the caller's onset on: a callee
        whose traffic and CPU fell once its caller broke is what the broken
        caller no longer sends it.
        """
        other = anomalous.get(dependency)
        if other is None or not other.significant or caller in self_failing:
            return False
        if only_fell(other) and onsets[dependency] >= onsets[caller]:
            return False
        allowed = lead if _names_mostly(named.get(caller, {}), dependency) else tolerance
        return onsets[dependency] <= onsets[caller] + allowed

    scores = []
    for name, ev in anomalous.items():
        onset = onsets[name]
        strength = 1.0 - math.exp(-ev.evidence_score / 30.0)
        breadth = min(1.0, len(ev.families) / 5.0)
        agreement = 1.0 if ev.has_metric_evidence and ev.has_log_evidence else 0.5
        callers = [c for c in _callers(topology, name) if c in anomalous]
        if callers:
            explained = _explained_callers(topology, name, anomalous, causes)
            explains = sum(1 for c in callers if c in explained) / len(callers)
        else:
            explains = 0.3
        first = max(0.0, 1.0 - max(onset - earliest - tolerance, 0.0) / span)
        explained_by = next(
            (d for d in sorted(topology.downstream_of(name)) if d != name and causes(d, name)),
            None,
        )
        severity = max(SEVERITY[c] for c in ev.new_categories) / 3.0 if ev.new_categories else 0.5
        blamed = blame.get(name, 0.5)
        raw = (
            0.25 * strength
            + 0.10 * breadth
            + 0.10 * agreement
            + 0.20 * explains
            + 0.15 * first
            + 0.10 * severity
            + 0.10 * blamed
        )
        if explained_by:
            raw *= 0.45
        scores.append(
            Score(
                component=name,
                score=raw,
                strength=strength,
                breadth=breadth,
                agreement=agreement,
                explains=explains,
                first=first,
                explained_by=explained_by,
                severity=severity,
                blame=blamed,
            )
        )
    scores.sort(key=lambda s: (-s.score, onsets[s.component], s.component))
    return scores


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
    """Pure: whether all a component shows is less activity (no symptom, every anomaly down)."""
    strong = [d for d in evidence.metric_detections if d.score >= Z_THRESHOLD]
    return (
        bool(strong)
        and not evidence.has_symptom
        and all(d.anomaly.direction == "down" for d in strong)
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
    if not any(e.access is not None and e.access.upstream for e in evidence.logs.events):
        return False
    cut = window.start + 0.25 * window.duration
    own = [e.ts for e in evidence.logs.events if e.access is None and e.severity >= 1.0]
    before = sum(1 for ts in own if ts < cut)
    after = len(own) - before
    usual = (before + 1.0 + math.sqrt(before + 1.0)) / max(cut - window.start, 1.0)
    return _poisson_tail(after, usual * max(window.end - cut, 1.0)) < OWN_ERRORS_MAX_P


NAMED_SHARE = 1 / 3  # share of a caller's dependency mentions that says "this one failed"


def _names_mostly(mentions: Mapping[str, int], dependency: str) -> bool:
    total = sum(mentions.values())
    return total > 0 and mentions.get(dependency, 0) / total >= NAMED_SHARE


def _explained_callers(
    topology: Topology,
    name: str,
    anomalous: Mapping[str, ComponentEvidence],
    causes: Callable[[str, str], bool],
) -> set[str]:
    """Anomalous callers ``name`` explains, directly or through a caller it explains."""
    explained: set[str] = set()
    frontier = [name]
    while frontier:
        current = frontier.pop()
        for caller in topology.dependents_of(current):
            if caller in explained or caller not in anomalous:
                continue
            if current == name:
                ok = causes(name, caller)
            else:
                ok = anomalous[current].onset is not None and causes(current, caller)
            if ok:
                explained.add(caller)
                frontier.append(caller)
    return explained


_KIND_WORDS: Mapping[ComponentKind, tuple[str, ...]] = {
    ComponentKind.MYSQL: ("mysql", "mariadb", "sql"),
    ComponentKind.REDIS: ("redis",),
}


def named_dependencies(
    *, topology: Topology, evidence: Mapping[str, ComponentEvidence], window: Window
) -> dict[str, dict[str, int]]:
    """Pure: per caller with several dependencies, how many of its incident error lines name each.

    A caller's error lines (severity >= 1, after the window's first quarter)
    name a dependency by component name or by kind ("mysql", "redis"...).  A
    caller with a single dependency is left out: its errors (often access
    lines whose paths may hold any word) cannot tell one dependency from
    another.
    """
    cut = window.start + 0.25 * window.duration
    named: dict[str, dict[str, int]] = {}
    for caller in topology:
        if len(caller.depends_on) < 2:
            continue
        ev = evidence.get(caller.name)
        if ev is None or ev.logs is None:
            continue
        words = {
            dependency: (dependency.lower(), *_KIND_WORDS.get(topology.get(dependency).kind, ()))
            for dependency in caller.depends_on
        }
        mentions = dict.fromkeys(caller.depends_on, 0)
        for event in ev.logs.events:
            if event.ts < cut or SEVERITY[event.category] < 1.0:
                continue
            text = event.line.lower()
            for dependency, keys in words.items():
                if any(key in text for key in keys):
                    mentions[dependency] += 1
        if any(mentions.values()):
            named[caller.name] = mentions
    return named


def caller_blame(named: Mapping[str, Mapping[str, int]]) -> dict[str, float]:
    """Pure: per dependency, its largest share of a caller's dependency mentions.

    A dependency named by none of its callers' errors gets 0 from a caller
    that names others; one whose callers name nothing is absent (neutral).
    """
    blame: dict[str, float] = {}
    for mentions in named.values():
        total = sum(mentions.values())
        for dependency, count in mentions.items():
            blame[dependency] = max(blame.get(dependency, 0.0), count / total)
    return blame


def _callers(topology: Topology, name: str) -> frozenset[str]:
    """Components that depend on ``name``, transitively."""
    return frozenset(c.name for c in topology if name in topology.downstream_of(c.name))


@dataclass(frozen=True)
class Ranking:
    root_cause: RootCause
    candidates: tuple[Candidate, ...]
    scores: tuple[Score, ...]
    root_onset: float | None


def rank(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    clients: Sequence[AbusiveClient],
    window: Window,
    step: float,
) -> Ranking:
    """Pure: root cause, roles and confidence (see the module docstring)."""
    tolerance = max(2.0 * step, 30.0)
    scores = score_components(
        topology=topology, evidence=evidence, window=window, tolerance=tolerance
    )
    by_name = {s.component: s for s in scores}
    # A component with too little evidence to be a cause must not hide one that
    # has enough: the root is the best of the significant ones.
    best = next(
        (s for s in scores if evidence[s.component].significant and s.score >= MIN_ROOT_SCORE),
        scores[0] if scores else None,
    )
    # Without a symptom anywhere there is nothing to explain, however much moved.
    # Slowness that healed itself long before the evidence ends is no symptom either.
    symptomatic = any(ev.has_symptom and not ev.only_recovered_slowness for ev in evidence.values())
    root_ok = (
        best is not None
        and evidence[best.component].significant
        and best.score >= MIN_ROOT_SCORE
        and symptomatic
    )
    backend_onset = min(
        (ev.onset for ev in evidence.values() if ev.onset is not None and ev.significant),
        default=None,
    )
    floods = [c for c in clients if c.pattern is ClientPattern.FLOOD and c.first_seen is not None]
    flood_start = min((c.first_seen for c in floods if c.first_seen is not None), default=None)
    client_first = flood_start is not None and (
        backend_onset is None or flood_start <= backend_onset + tolerance
    )

    if client_first or (not root_ok and clients):
        return _client_ranking(
            topology=topology, scores=scores, clients=clients, floods=bool(floods)
        )
    if best is None or not root_ok:
        top = best.score if best else 0.0
        return Ranking(
            root_cause=RootCause(
                component=NO_INCIDENT,
                kind=None,
                instance=None,
                confidence=max(0.5, 1.0 - top),
                summary=(
                    "No incident in the window: no signal left its baseline far or long enough."
                    if symptomatic or best is None
                    else "No incident in the window: load moved (traffic, connections, "
                    "resources) but no component failed, slowed down or logged severe errors."
                ),
            ),
            candidates=tuple(
                Candidate(component=s.component, score=s.score, reasons=s.reasons()) for s in scores
            ),
            scores=tuple(scores),
            root_onset=None,
        )

    root = best.component
    root_ev = evidence[root]
    callers = _callers(topology, root)
    root_victims = callers
    others = [s for s in scores if s.component != root and s.component not in callers]
    gap = max(0.0, best.score - (others[0].score if others else 0.0))
    confidence = best.score * (0.55 + 0.45 * min(1.0, gap / 0.3))
    candidates = []
    for s in scores:
        if s.component == root:
            role = ROLE_ROOT
        elif s.component in callers:
            role = ROLE_SYMPTOM
        elif _callers(topology, s.component) & root_victims and evidence[s.component].significant:
            role = ROLE_AGGRAVATING
        else:
            role = ROLE_CANDIDATE
        candidates.append(
            Candidate(component=s.component, score=s.score, role=role, reasons=s.reasons())
        )
    del by_name
    component = topology.get(root)
    return Ranking(
        root_cause=RootCause(
            component=root,
            kind=component.kind.value,
            instance=None,
            confidence=min(confidence, 0.99),
            summary="",
        ),
        candidates=tuple(candidates),
        scores=tuple(scores),
        root_onset=root_ev.onset,
    )


def _client_ranking(
    *, topology: Topology, scores: Sequence[Score], clients: Sequence[AbusiveClient], floods: bool
) -> Ranking:
    del topology
    strongest = max(clients, key=lambda c: c.requests)
    confidence = (0.8 if floods else 0.55) * (0.85 if len(clients) > 1 else 1.0)
    candidates = tuple(
        Candidate(component=s.component, score=s.score, role=ROLE_SYMPTOM, reasons=s.reasons())
        for s in scores
    )
    return Ranking(
        root_cause=RootCause(
            component=CLIENT_CAUSE,
            kind=None,
            instance=strongest.ip,
            confidence=confidence,
            summary="",
        ),
        candidates=candidates,
        scores=tuple(scores),
        root_onset=strongest.first_seen,
    )


# --- affected instances ----------------------------------------------------------------


@dataclass(frozen=True)
class AffectedFinding:
    instance: AffectedInstance
    detections: tuple[Detection, ...]


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
        with_data: dict[tuple[object, ...], set[str]] = defaultdict(set)
        siblings: dict[tuple[object, ...], list[Signal]] = defaultdict(list)
        for signal in comp_signals:
            if signal.instance and np.isfinite(signal.values).any():
                with_data[signal.peer_key].add(signal.instance)
            siblings[signal.peer_key].append(signal)
        flagged: dict[tuple[object, ...], dict[str, Detection]] = defaultdict(dict)
        for detection in detections.get(component.name, ()):
            if detection.signal.instance:
                flagged[detection.signal.peer_key][detection.signal.instance] = detection
        singled: dict[str, list[Detection]] = defaultdict(list)
        for key, per_instance in flagged.items():
            peers = len(with_data.get(key, set()))
            if peers < 2:
                continue
            if len(per_instance) <= max(1, (peers - 1) // 2):
                for instance, detection in per_instance.items():
                    if not _siblings_moved_alike(
                        detection, siblings[key], timestamps
                    ) and errors_stand_out(
                        detection=detection, peers=siblings[key], timestamps=timestamps
                    ):
                        singled[instance].append(detection)
        upstream_share = _upstream_shares(
            topology,
            component,
            instances,
            upstream_errors,
            upstream_seen or {},
            log_horizon or {},
        )
        for instance in instances:
            found = sorted(singled.get(instance, []), key=lambda d: -d.score)
            health = [
                d for d in found if d.signal.kind in HEALTH_KINDS and d.anomaly.direction == "up"
            ]
            via_proxy = upstream_share.get(instance)
            if not health and len(found) < 3 and via_proxy is None:
                continue
            reason = _affected_reason(health or found[:2], siblings, timestamps, via_proxy)
            labels = next((d.signal.labels for d in found), None) or _labels_for(
                comp_signals, instance
            )
            findings.append(
                AffectedFinding(
                    instance=AffectedInstance(
                        component=component.name,
                        instance=instance,
                        reason=reason,
                        pod=labels.get("pod") if labels else None,
                        namespace=labels.get("namespace") if labels else None,
                    ),
                    detections=tuple(found),
                )
            )
    return findings


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
    if not levels:
        return False
    shift = detection.anomaly.value - detection.anomaly.baseline
    sibling_shift = float(np.median(levels)) - detection.anomaly.baseline
    if shift == 0 or not math.isfinite(shift) or not math.isfinite(sibling_shift):
        return False
    return sibling_shift / shift >= SIBLING_SHIFT_SHARE


# An instance's failed requests single it out only when they are many, a
# material share of its requests, and unlikely at its siblings' error rate.
ERROR_EXCESS_MIN = 10.0
ERROR_SHARE_GAP = 0.01
ERROR_SURPRISE_LOG10 = -4.0


def poisson_tail_log10_bound(*, observed: float, expected: float) -> float:
    """Pure: an upper bound of log10 P(X >= observed), X ~ Poisson(expected) (Chernoff).

    Exact enough to tell noise from a failing instance, and free of the
    underflow a direct sum has at thousands of events.
    """
    if observed <= expected:
        return 0.0
    mu = max(expected, 1e-9)
    return (observed - mu - observed * math.log(observed / mu)) / math.log(10.0)


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
    expected = requests * share
    return (
        errors - expected >= ERROR_EXCESS_MIN
        and errors / requests - share >= ERROR_SHARE_GAP
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
        siblings = []
        for other in peers.get(signal.peer_key, ()):
            if other.peer_key == signal.peer_key and other.instance != signal.instance:
                summary = level_between(
                    signal=other,
                    timestamps=timestamps,
                    start=detection.onset,
                    end=float(timestamps[-1]),
                )
                if summary is not None:
                    siblings.append(summary.level)
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


__all__ = [
    "ROLE_AGGRAVATING",
    "ROLE_CANDIDATE",
    "ROLE_ROOT",
    "ROLE_SYMPTOM",
    "AffectedFinding",
    "ComponentEvidence",
    "Ranking",
    "Score",
    "errors_stand_out",
    "fails_by_itself",
    "find_affected",
    "new_log_categories",
    "new_slow_queries",
    "only_fell",
    "poisson_tail_log10_bound",
    "rank",
    "score_components",
    "sole_affected_instance",
    "still_failing",
]
