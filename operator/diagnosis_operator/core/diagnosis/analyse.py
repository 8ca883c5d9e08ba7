"""detect -> correlate -> explain -> plan: a SignalSet in, a DiagnosisResult out.  Pure.

``analyse`` is everything after ``collect``: the kopf handler and
``diagnose --bundle`` both reach it through ``service.diagnose.run_diagnosis``,
so offline and live give the same result for the same signals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from diagnosis_operator.core.diagnosis import clock_skew, explain
from diagnosis_operator.core.diagnosis import plan as planner
from diagnosis_operator.core.diagnosis.affected import (
    AffectedFinding,
    find_affected,
    sole_affected_instance,
)
from diagnosis_operator.core.diagnosis.behind_root import in_front_of_root
from diagnosis_operator.core.diagnosis.churn import churning_caller_mode
from diagnosis_operator.core.diagnosis.collected import SAMPLES
from diagnosis_operator.core.diagnosis.confined import confined_callers
from diagnosis_operator.core.diagnosis.consumers import with_consumers
from diagnosis_operator.core.diagnosis.coverage import assess
from diagnosis_operator.core.diagnosis.data_end import data_end, without_tail
from diagnosis_operator.core.diagnosis.detections import all_detections
from diagnosis_operator.core.diagnosis.edge_traffic import EdgeTraffic, edge_traffic
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, incident_events
from diagnosis_operator.core.diagnosis.fleet import without_fleet_harm
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.in_turn import without_in_turn
from diagnosis_operator.core.diagnosis.leaks import Leak, ranked_with_leak
from diagnosis_operator.core.diagnosis.logs import (
    ComponentLogs,
    LogCategory,
    read_component_logs,
    upstream_errors,
)
from diagnosis_operator.core.diagnosis.long_running import long_running
from diagnosis_operator.core.diagnosis.messenger import with_relayed_instances
from diagnosis_operator.core.diagnosis.modes import root_failure_mode
from diagnosis_operator.core.diagnosis.onsets import new_log_categories, new_slow_queries
from diagnosis_operator.core.diagnosis.own_statuses import with_own_statuses
from diagnosis_operator.core.diagnosis.ranking import Ranking
from diagnosis_operator.core.diagnosis.replication import with_replicas
from diagnosis_operator.core.diagnosis.reported import with_reported
from diagnosis_operator.core.diagnosis.rollout import with_releases
from diagnosis_operator.core.diagnosis.route_refusals import backend_route_signals
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal
from diagnosis_operator.core.diagnosis.signals import build_signals, grid_timestamps, health_series
from diagnosis_operator.core.diagnosis.store_instances import with_stalled_store_instances
from diagnosis_operator.models.coverage import Coverage, Outcome
from diagnosis_operator.models.engine import DEFAULT_ENGINE_SETTINGS, EngineSettings
from diagnosis_operator.models.findings import (
    NO_CONCLUSION,
    NO_INCIDENT,
    DiagnosisResult,
    ProposedRemediation,
    RootCause,
)
from diagnosis_operator.models.signals import (
    SignalSet,
    Window,
    isoformat_z,
)
from diagnosis_operator.models.topology import ComponentKind, Topology


def analyse(
    *,
    topology: Topology,
    signals: SignalSet,
    symptom: str | None,
    on_stage: Callable[[str], None] | None = None,
    settings: EngineSettings | None = None,
    symptom_component: str | None = None,
) -> DiagnosisResult:
    """Pure: a SignalSet in, a DiagnosisResult out.

    A root cause less confident than ``settings.min_confidence`` keeps its rank
    but is reported as uncertain, with a warning and no remediation.  What the
    sources could not give (``core.diagnosis.coverage``) scales the confidence
    down (degraded) or leaves no conclusion at all (failed: root ``unknown``).
    """
    coverage = assess(signals, symptom_component=symptom_component)
    if coverage.outcome is Outcome.FAILED:
        return no_conclusion(signals=signals, symptom=symptom, coverage=coverage)
    # Log lines of a host whose clock is skewed, read at the time they happened.
    signals, notes = clock_skew.corrected(signals)
    result = _conclude(
        topology=topology,
        signals=signals,
        symptom=symptom,
        on_stage=on_stage,
        settings=settings or DEFAULT_ENGINE_SETTINGS,
        coverage=coverage,
    )
    return replace(result, warnings=(*notes, *result.warnings)) if notes else result


def _conclude(
    *,
    topology: Topology,
    signals: SignalSet,
    symptom: str | None,
    on_stage: Callable[[str], None] | None,
    settings: EngineSettings,
    coverage: Coverage,
) -> DiagnosisResult:
    """The engine on what the sources gave (complete or degraded)."""
    window = signals.window
    timestamps = grid_timestamps(window=window, step=signals.step)
    built = _built(topology=topology, signals=signals)
    detections = all_detections(
        topology=topology, read=built, timestamps=timestamps, z_threshold=settings.anomaly_score
    )
    by_component = _by_component(detections)
    evidence, topology = _evidence(topology, by_component, built, timestamps, window)
    edges = edge_traffic(topology=topology, signals=signals, logs=built.logs, detections=detections)
    affected = _affected(
        topology=topology,
        detections=by_component,
        built=built,
        evidence=evidence,
        timestamps=timestamps,
    )
    evidence = with_relayed_instances(evidence, affected)
    gate = incident_gate(evidence=evidence, window=window, step=signals.step, settings=settings)
    ranking, leak = ranked_with_leak(
        topology=topology,
        evidence=evidence,
        clients=edges.abusive,
        signals=signals,
        gate=gate,
        confined=confined_callers(evidence=evidence, affected=affected),
        by_component=built.by_component,
        on_stage=on_stage,
    )
    found = _Found(
        topology=topology,
        ranking=ranking,
        evidence=evidence,
        affected=_kept(affected, ranking, topology=topology, built=built, timestamps=timestamps),
        edges=edges,
        symptom=symptom,
        seen=frozenset(s.component for s in gate.seen),
        coverage=coverage,
        leak=leak,
    )
    root, uncertain = _root_cause(found, settings=settings, warnings=built.warnings)
    return _result(
        found,
        root=root,
        uncertain=uncertain,
        detections=detections,
        built=built,
        timestamps=timestamps,
        window=window,
    )


def _kept(
    affected: list[AffectedFinding],
    ranking: Ranking,
    *,
    topology: Topology,
    built: _Built,
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    """The affected instances worth reporting: none without an incident, none behind the root,
    none of half a fleet degraded alike (``fleet``)."""
    root = ranking.root_cause.component
    if root == NO_INCIDENT:
        return []
    own = without_fleet_harm(affected, built.by_component, timestamps)
    return in_front_of_root(own, topology=topology, root=root)


def _by_component(detections: Sequence[Detection]) -> dict[str, list[Detection]]:
    grouped: dict[str, list[Detection]] = {}
    for detection in detections:
        grouped.setdefault(detection.signal.component, []).append(detection)
    return grouped


@dataclass(frozen=True)
class _Built:
    """Every component's signals and read logs, and what could not be collected."""

    by_component: dict[str, list[Signal]]
    all_signals: list[Signal]
    logs: dict[str, ComponentLogs]
    warnings: list[str]


def _built(*, topology: Topology, signals: SignalSet) -> _Built:
    built = _Built(by_component={}, all_signals=[], logs={}, warnings=[])
    end = data_end(signals.components.values(), window=signals.window)
    if end is not None:
        built.warnings.append(
            f"no metric changed after {isoformat_z(end)}: the window runs past the last "
            "scrape, its last steps are left out"
        )
    for component in topology:
        collected = signals.components.get(component.name)
        if collected is None:
            built.warnings.append(f"{component.name}: no signals collected")
            continue
        if end is not None:
            collected = without_tail(collected, end=end)
        built.warnings.extend(collected.errors)
        made = build_signals(
            component=health_series(component, collected), window=signals.window, step=signals.step
        )
        built.by_component[component.name] = made
        built.all_signals.extend(made)
        built.logs[component.name] = read_component_logs(
            component=component.name,
            streams=collected.log_samples,
            query=collected.queries.get(SAMPLES, ""),
        )
        if not collected.series and not collected.log_samples and not collected.log_counts:
            built.warnings.append(f"{component.name}: selector matched no series and no log lines")
    refused = backend_route_signals(
        topology=topology, signals=built.by_component, step=signals.step
    )
    for name, extra in refused.items():  # the edge's refused routes refused by the backend
        built.by_component[name].extend(extra)
        built.all_signals.extend(extra)
    return built


def _evidence(
    topology: Topology,
    detections: Mapping[str, Sequence[Detection]],
    built: _Built,
    timestamps: FloatArray,
    window: Window,
) -> tuple[dict[str, ComponentEvidence], Topology]:
    """Every component's evidence, and the topology with the edges the evidence implies."""
    logs = built.logs
    own = {
        component.name: ComponentEvidence(
            component=component,
            detections=tuple(detections.get(component.name, ())),
            logs=logs.get(component.name),
            new_categories=new_log_categories(logs=logs[component.name], window=window)
            if component.name in logs
            else {},
            slow_queries=new_slow_queries(logs=logs[component.name], window=window)
            if component.name in logs
            else (),
            long_running=long_running(built.by_component.get(component.name, ()), timestamps)
            if component.kind is ComponentKind.MYSQL
            else (),
        )
        for component in topology
    }
    # A dependency's failure as its callers report it, in its own vocabulary.
    reported = with_reported(topology=topology, evidence=own, window=window)
    # A semi-synchronous primary waits for its replicas: edges no topology lists.
    replicated = with_replicas(topology=topology, evidence=reported)
    # A queue whose only trouble is its consumers' lag waits on its consumers.
    return reported, with_consumers(topology=replicated, evidence=reported)


def _affected(
    *,
    topology: Topology,
    detections: Mapping[str, Sequence[Detection]],
    built: _Built,
    evidence: Mapping[str, ComponentEvidence],
    timestamps: FloatArray,
) -> list[AffectedFinding]:
    # Only a burst of upstream errors names a degraded upstream; a few 5xx lines
    # of an ordinary hour name whichever upstream served them.
    upstream_counts: dict[str, Mapping[str, int]] = {}
    upstream_seen: dict[str, Mapping[str, list[float]]] = {}
    log_horizon = {
        name: max(e.ts for e in read.events) for name, read in built.logs.items() if read.events
    }
    for name in built.logs:
        named = upstream_errors(
            incident_events(evidence=evidence[name], category=LogCategory.UPSTREAM_ERROR)
        )
        upstream_counts[name] = {address: len(events) for address, events in named.items()}
        upstream_seen[name] = {address: [e.ts for e in events] for address, events in named.items()}
    found = find_affected(
        topology=topology,
        detections=detections,
        signals=built.by_component,
        timestamps=timestamps,
        upstream_errors=upstream_counts,
        upstream_seen=upstream_seen,
        log_horizon=log_horizon,
    )
    found = with_releases(found, signals=built.by_component, timestamps=timestamps)
    found = with_own_statuses(
        found, signals=built.by_component, detections=detections, timestamps=timestamps
    )
    found = with_stalled_store_instances(
        found, topology=topology, evidence=evidence, signals=built.by_component
    )
    return without_in_turn(found, evidence=evidence, signals=built.by_component)


@dataclass(frozen=True)
class _Found:
    """What the ranking found, with what explaining and planning it needs."""

    topology: Topology
    ranking: Ranking
    evidence: Mapping[str, ComponentEvidence]
    affected: list[AffectedFinding]
    edges: EdgeTraffic
    symptom: str | None
    seen: frozenset[str]  # components the incident gate saw a symptom on
    coverage: Coverage  # what the sources gave (complete or degraded here)
    leak: Leak | None = None  # the root's release leaked a database resource (``leaks``)


def _root_cause(
    found: _Found, *, settings: EngineSettings, warnings: list[str]
) -> tuple[RootCause, bool]:
    """The root cause with its summary, and whether it is too uncertain to act on."""
    ranking = found.ranking
    summary = explain.summary(
        root_cause=ranking.root_cause,
        candidates=ranking.candidates,
        evidence=found.evidence,
        affected=found.affected,
        clients=found.edges.abusive,
        symptom=found.symptom,
        dependencies=found.topology.downstream_of(ranking.root_cause.component),
    )
    root_name = ranking.root_cause.component
    mode = churning_caller_mode(
        candidates=ranking.candidates,
        dependencies=(
            found.topology.get(root_name).depends_on if root_name in found.topology.names else ()
        ),
    ) or root_failure_mode(
        topology=found.topology,
        evidence=found.evidence,
        root_cause=ranking.root_cause,
        clients=found.edges.abusive,
    )
    if found.leak is not None:  # the ranking's chain of callers does not apply to it
        mode, summary = found.leak.mode, f"{found.leak.describe()}."
    if mode:
        summary = f"{ranking.root_cause.component}: {mode}. {summary}"
    coverage = found.coverage
    confidence = coverage.scaled(ranking.root_cause.confidence)
    if coverage.outcome is Outcome.DEGRADED:
        summary = f"Degraded ({coverage.reason}, confidence scaled to {confidence:.2f}): {summary}"
        warnings.insert(0, f"{coverage.reason}: {coverage.message}")
    uncertain = ranking.root_cause.component != NO_INCIDENT and confidence < settings.min_confidence
    if uncertain:
        summary = f"Uncertain: {summary}"
        warnings.append(
            f"root cause {ranking.root_cause.component}: confidence "
            f"{confidence:.2f} is below the policy's minConfidence "
            f"{settings.min_confidence:.2f}; no remediation proposed"
        )
    root = RootCause(
        component=ranking.root_cause.component,
        kind=ranking.root_cause.kind,
        instance=ranking.root_cause.instance
        or sole_affected_instance(component=ranking.root_cause.component, affected=found.affected),
        confidence=confidence,
        summary=summary,
        failure_mode=mode,
    )
    return root, uncertain


def _result(
    found: _Found,
    *,
    root: RootCause,
    uncertain: bool,
    detections: Sequence[Detection],
    built: _Built,
    timestamps: FloatArray,
    window: Window,
) -> DiagnosisResult:
    topology, ranking, evidence = found.topology, found.ranking, found.evidence
    affected, abusive = found.affected, found.edges.abusive
    quiet = root.component == NO_INCIDENT
    # Without an incident, the evidence is what was seen: the symptoms the gate
    # judged too short (a blip is reported, not dropped).
    shown = [c for c in ranking.candidates if not quiet or c.component in found.seen]
    chain = (
        explain.evidence_chain(
            topology=topology,
            candidates=shown,
            evidence=evidence,
            affected=affected,
            clients=abusive,
            client_query=found.edges.client_query,
        )
        if shown
        else []
    )
    events = (
        [] if quiet else explain.timeline(evidence=evidence, affected=affected, clients=abusive)
    )
    advice = explain.recommendations(
        topology=topology,
        root_cause=root,
        candidates=ranking.candidates,
        evidence=evidence,
        affected=affected,
        clients=abusive,
    )
    proposals = [] if quiet or uncertain else _proposals(found)
    plotted = explain.key_signals(
        detections=detections, signals=built.by_component, timestamps=timestamps, affected=affected
    )
    return DiagnosisResult(
        window=window,
        root_cause=root,
        candidates=ranking.candidates,
        affected=tuple(a.instance for a in affected),
        clients=tuple(abusive),
        timeline=tuple(events),
        evidence=tuple(chain),
        remediations=tuple(proposals),
        recommendations=tuple(advice),
        key_signals=tuple(plotted),
        symptom=found.symptom,
        warnings=tuple(built.warnings),
        coverage=found.coverage,
    )


def no_conclusion(
    *, signals: SignalSet, symptom: str | None, coverage: Coverage
) -> DiagnosisResult:
    """Pure: the result when the sources gave nothing to conclude from (no root cause)."""
    warnings = [e for c in signals.components.values() for e in c.errors][:32]
    return DiagnosisResult(
        window=signals.window,
        root_cause=RootCause(
            component=NO_CONCLUSION,
            kind=None,
            instance=None,
            confidence=0.0,
            summary=f"No conclusion ({coverage.reason}): {coverage.message}",
        ),
        symptom=symptom,
        warnings=(f"{coverage.reason}: {coverage.message}", *warnings),
        coverage=coverage,
    )


def _proposals(found: _Found) -> list[ProposedRemediation]:
    topology, edge_names = found.topology, found.edges.names
    edge = next((name for name in edge_names if topology.get(name).kind.value == "proxy"), None)
    return planner.plan(
        topology=topology,
        candidates=found.ranking.candidates,
        evidence=found.evidence,
        affected=found.affected,
        clients=found.edges.abusive,
        edge=edge or (edge_names[0] if edge_names else None),
        root=found.ranking.root_cause.component,
    )
