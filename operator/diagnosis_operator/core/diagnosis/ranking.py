"""From component evidence to a root cause: topology-aware ranking.  Pure.

Every component with evidence gets a score in [0, 1]:

    raw = 0.25*strength + 0.10*breadth + 0.10*agreement + 0.20*explains
        + 0.15*first + 0.10*severity + 0.10*blame
    score = raw * 0.45   if a significant dependency went bad first (it explains this one)
            raw          otherwise

"Went bad first" allows a lead of ``tolerance`` (two steps): a caller notices a failure at its
first failed call, a dependency's metrics show it a scrape later.  When at least a third of
the caller's incident error lines that name a dependency name this one ("Lock wait timeout
... sql", "redis ... refused"), the allowed lead grows to 5 % of the window (``named_lead``).

* ``strength``  = 1 - exp(-S/30), S the strongest evidence: the highest robust
  z-score (or burst score) of its signals, or the log score (10 x severity per
  category of severe lines new in the window, damped for single lines);
* ``breadth``   = independent signals (metric families + new log categories) / 5, capped at 1;
* ``agreement`` = 1 when metrics and logs both point at it, 0.5 when one does;
* ``explains``  = share of its anomalous callers (transitively, along dependsOn) that it
  explains by the rule above, directly or through a caller it explains (0.3 without any);
* ``first``     = 1 for the earliest onset of a significant component,
  decreasing linearly with the lag (0 at a tenth of the window);
* ``severity``  = the most severe new log category / 3 (deadlock, connection exhaustion,
  OOM = 1; 0.5 without logs);
* ``blame``     = its largest share of the dependency mentions in the error lines of a
  caller with several dependencies (0.5 when none names any; one dependency tells none apart).

The root is the best-scoring significant component (S >= 11 and either two
independent signals or S >= 20, score >= 0.3): a better-scoring component
with too little evidence neither becomes the root nor hides one.  Its confidence is
``score * (0.55 + 0.45 * min(1, gap / 0.3))`` where ``gap`` is its lead over
the best other component that is not one of its callers: a clear single cause
keeps its score, a close second halves the last part.  ``client`` is the root
when an abusive client's flood, or a costly client's cost, started before (or
without) any backend anomaly, or a costly client arrived while the best component
shows no harm of its own (``client_root``); ``none`` when nothing is
significant, or when the incident gate (``gate.py``)
finds no symptom significant and sustained enough to be an incident.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.core.diagnosis.blame import (
    caller_blame,
    named_dependencies,
    named_lead,
    names_mostly,
)
from diagnosis_operator.core.diagnosis.churn import churn_victim
from diagnosis_operator.core.diagnosis.client_root import clients_cause, heavy
from diagnosis_operator.core.diagnosis.edge_timeouts import own_fault
from diagnosis_operator.core.diagnosis.evidence import (
    ComponentEvidence,
    fails_by_itself,
    only_fell,
)
from diagnosis_operator.core.diagnosis.failure_onset import failure_onset
from diagnosis_operator.core.diagnosis.gate import GateVerdict, incident_gate, reports_down
from diagnosis_operator.core.diagnosis.logs import SEVERITY
from diagnosis_operator.core.diagnosis.messenger import messenger_of
from diagnosis_operator.core.diagnosis.shifted_load import load_symptom_reason, only_asked_more
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.core.diagnosis.surge import traffic_led
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Candidate,
    ClientPattern,
    RootCause,
)
from diagnosis_operator.models.signals import Window
from diagnosis_operator.models.topology import Topology

ROLE_ROOT = "root"
ROLE_AGGRAVATING = "aggravating"
ROLE_SYMPTOM = "symptom"
ROLE_CANDIDATE = "candidate"

MIN_ROOT_SCORE = 0.3


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


@dataclass(frozen=True)
class _Context:
    """What scoring one component needs to know of the others."""

    topology: Topology
    anomalous: Mapping[str, ComponentEvidence]
    onsets: Mapping[str, float]
    earliest: float  # the earliest onset of a significant component (of any, without one)
    span: float  # the lag at which ``first`` reaches 0
    tolerance: float
    blame: Mapping[str, float]
    causes: Callable[[str, str], bool]


def score_components(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    window: Window,
    tolerance: float,
    confined: frozenset[str] = frozenset(),
) -> list[Score]:
    """Pure: the ranking formula of the module docstring, best first.

    ``confined``: callers whose harm stays on instances singled out among
    healthy siblings (``confined_callers``): no shared dependency explains them.
    """
    anomalous = {
        name: ev
        for name, ev in evidence.items()
        if ev.evidence_score >= Z_THRESHOLD and ev.onset is not None
    }
    if not anomalous:
        return []
    onsets = {name: ev.onset for name, ev in anomalous.items() if ev.onset is not None}
    significant_onsets = [onsets[n] for n, ev in anomalous.items() if ev.significant]
    named = named_dependencies(topology=topology, evidence=evidence, window=window)
    context = _Context(
        topology=topology,
        anomalous=anomalous,
        onsets=onsets,
        earliest=min(significant_onsets or onsets.values()),
        span=max(0.1 * window.duration, 60.0),
        tolerance=tolerance,
        blame=caller_blame(named),
        causes=_causes_rule(
            topology=topology,
            evidence=evidence,
            anomalous=anomalous,
            onsets=onsets,
            named=named,
            window=window,
            tolerance=tolerance,
            confined=confined,
        ),
    )
    scores = [_score(name, ev, context) for name, ev in anomalous.items()]
    scores.sort(key=lambda s: (-s.score, onsets[s.component], s.component))
    return scores


def _causes_rule(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    anomalous: Mapping[str, ComponentEvidence],
    onsets: Mapping[str, float],
    named: Mapping[str, Mapping[str, int]],
    window: Window,
    tolerance: float,
    confined: frozenset[str] = frozenset(),
) -> Callable[[str, str], bool]:
    lead = named_lead(window, tolerance)
    self_failing = {
        name for name, ev in evidence.items() if fails_by_itself(evidence=ev, window=window)
    }

    def causes(dependency: str, caller: str) -> bool:
        """Whether a significant ``dependency`` went bad early enough to explain ``caller``.

        Never when the caller fails by itself (``fails_by_itself``), nor when its harm
        stays on one instance while its siblings, calling the same dependency, are
        healthy (``confined``), nor when the caller is a proxy failing in its own path
        (``own_fault``), nor when the caller only did less and the dependency shows no
        harm, nor when the dependency only did less from the caller's onset on: a callee
        whose traffic and CPU fell once its caller broke is what it no longer sends;
        nor when the dependency is a victim of its callers' connection churn (``churn``)."""
        other = anomalous.get(dependency)
        if other is None or not other.significant or caller in self_failing | confined:
            return False
        if churn_victim(evidence=other, tolerance=tolerance, callers=(evidence[caller],)):
            return False
        if own_fault(caller=evidence[caller], dependency=other):
            return False
        if only_fell(evidence[caller]) and not other.has_symptom and not reports_down(other):
            return False
        if (
            (only_fell(other) or only_asked_more(evidence=other, tolerance=tolerance))
            and not reports_down(other)
            and onsets[dependency] >= onsets[caller]
        ):
            return False
        relayed = messenger_of(caller=evidence[caller], dependency=other)
        allowed = lead if relayed or names_mostly(named.get(caller, {}), dependency) else tolerance
        began = failure_onset(caller, dependency, topology, anomalous, onsets, tolerance)
        return onsets[dependency] <= began + allowed

    return causes


def _score(name: str, ev: ComponentEvidence, context: _Context) -> Score:
    """One component's score (the formula of the module docstring)."""
    topology, anomalous, causes = context.topology, context.anomalous, context.causes
    onset = context.onsets[name]
    strength = 1.0 - math.exp(-ev.evidence_score / 30.0)
    breadth = min(1.0, len(ev.families) / 5.0)
    agreement = 1.0 if ev.has_metric_evidence and ev.has_log_evidence else 0.5
    callers = [c for c in _callers(topology, name) if c in anomalous]
    if callers:
        explained = _explained_callers(topology, name, anomalous, causes)
        explains = sum(1 for c in callers if c in explained) / len(callers)
    else:
        explains = 0.3
    first = max(0.0, 1.0 - max(onset - context.earliest - context.tolerance, 0.0) / context.span)
    explained_by = next(
        (d for d in sorted(topology.downstream_of(name)) if d != name and causes(d, name)),
        None,
    )
    severity = max(SEVERITY[c] for c in ev.new_categories) / 3.0 if ev.new_categories else 0.5
    blamed = context.blame.get(name, 0.5)
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
    return Score(
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
    gate: GateVerdict | None = None,
    confined: frozenset[str] = frozenset(),
) -> Ranking:
    """Pure: root cause, roles and confidence (see the module docstring).

    ``gate`` (``gate.incident_gate``) says whether what users felt was
    significant and sustained enough to be an incident; without one, no
    component is named root, however much moved.  Without it, the gate runs
    with the engine's default settings.  ``confined``: see ``score_components``.
    """
    if gate is None:
        gate = incident_gate(evidence=evidence, window=window, step=step)
    tolerance = max(2.0 * step, 30.0)
    scores = score_components(
        topology=topology,
        evidence=evidence,
        window=window,
        tolerance=tolerance,
        confined=confined,
    )
    # A component with too little evidence to be a cause must not hide one that
    # has enough: the root is the best of the significant ones that may be a cause.
    best = next(
        (
            s
            for s in scores
            if evidence[s.component].significant
            and s.score >= MIN_ROOT_SCORE
            and may_be_cause(s, evidence[s.component])
        ),
        scores[0] if scores else None,
    )
    root_ok = (
        best is not None
        and evidence[best.component].significant
        and best.score >= MIN_ROOT_SCORE
        and gate.incident
    )
    if clients_cause(
        evidence=evidence,
        clients=clients,
        best=best.component if best is not None and root_ok else None,
        tolerance=tolerance,
    ):
        return _client_ranking(scores=scores, clients=clients, floods=heavy(clients))
    if best is None or not root_ok:
        return _no_incident(best=best, scores=scores, gate=gate)
    surge = traffic_led(topology=topology, evidence=evidence, root=best.component, window=window)
    if surge is not None:
        return _client_ranking(scores=scores, clients=clients, floods=False, onset=surge)
    return _root_ranking(
        topology=topology, evidence=evidence, scores=scores, best=best, tolerance=tolerance
    )


def may_be_cause(score: Score, evidence: ComponentEvidence) -> bool:
    """Pure: whether a component may be a root cause at all.

    One that shows harm of its own (a symptom, severe new log lines, or an
    availability gauge that fell) may; so may one that explains an anomalous
    caller, or has none.  One whose only change is load (its traffic, its
    connections, its memory moved) while its anomalous callers are explained by
    something else is what those callers sent it, not a cause.
    """
    return evidence.has_symptom or reports_down(evidence) or score.explains > 0.0


def _no_incident(*, best: Score | None, scores: Sequence[Score], gate: GateVerdict) -> Ranking:
    top = best.score if best else 0.0
    if not gate.incident and gate.seen:
        summary = f"No incident in the window: {gate.describe()}."
    elif gate.incident or best is None:
        summary = "No incident in the window: no signal left its baseline far or long enough."
    else:
        summary = (
            "No incident in the window: load moved (traffic, connections, "
            "resources) but no component failed, slowed down or logged severe errors."
        )
    return Ranking(
        root_cause=RootCause(
            component=NO_INCIDENT,
            kind=None,
            instance=None,
            confidence=max(0.5, 1.0 - top),
            summary=summary,
        ),
        candidates=tuple(
            Candidate(component=s.component, score=s.score, reasons=s.reasons()) for s in scores
        ),
        scores=tuple(scores),
        root_onset=None,
    )


def _root_ranking(
    *,
    topology: Topology,
    evidence: Mapping[str, ComponentEvidence],
    scores: Sequence[Score],
    best: Score,
    tolerance: float,
) -> Ranking:
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
        reasons = s.reasons()
        load = (
            load_symptom_reason(
                evidence=evidence[s.component],
                blame=s.blame,
                root=root,
                root_blame=best.blame,
                root_onset=root_ev.onset,
                tolerance=tolerance,
            )
            if role == ROLE_AGGRAVATING
            else None
        )
        if load is not None:
            role, reasons = ROLE_SYMPTOM, (*reasons, load)
        candidates.append(
            Candidate(component=s.component, score=s.score, role=role, reasons=reasons)
        )
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
    *,
    scores: Sequence[Score],
    clients: Sequence[AbusiveClient],
    floods: bool,
    onset: float | None = None,
) -> Ranking:
    """The clients as the root: the strongest abusive one, or the traffic (``onset``)."""
    # a client that floods or costs outweighs one that only retried its failures
    strongest = max(
        clients, key=lambda c: (c.pattern is not ClientPattern.RETRY_LOOP, c.requests), default=None
    )
    confidence = (0.8 if floods else 0.55) * (0.85 if len(clients) > 1 else 1.0)
    candidates = tuple(
        Candidate(component=s.component, score=s.score, role=ROLE_SYMPTOM, reasons=s.reasons())
        for s in scores
    )
    return Ranking(
        root_cause=RootCause(
            component=CLIENT_CAUSE,
            kind=None,
            instance=strongest.ip if strongest else None,
            confidence=confidence,
            summary="",
        ),
        candidates=candidates,
        scores=tuple(scores),
        root_onset=strongest.first_seen if strongest else onset,
    )


# --- affected instances ----------------------------------------------------------------
