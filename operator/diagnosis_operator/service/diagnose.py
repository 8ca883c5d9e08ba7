"""collect -> detect -> correlate -> explain -> plan: one diagnosis.

``run_diagnosis`` is the one entry point of both paths: the kopf handler calls
it with the live Prometheus and Loki adapters, ``diagnose --bundle`` with a
``BundleSource``.  Everything after ``collect`` is the pure core
(``analyse``), so offline and live give the same result for the same signals.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from diagnosis_operator.core.diagnosis import clients as client_analysis
from diagnosis_operator.core.diagnosis import correlate, explain
from diagnosis_operator.core.diagnosis import plan as planner
from diagnosis_operator.core.diagnosis.detect import (
    Detection,
    Signal,
    build_signals,
    detect,
    grid_timestamps,
)
from diagnosis_operator.core.diagnosis.logs import (
    ComponentLogs,
    LogCategory,
    LogEvent,
    read_component_logs,
    upstream_errors,
)
from diagnosis_operator.models.engine import DEFAULT_ENGINE_SETTINGS, EngineSettings
from diagnosis_operator.models.findings import NO_INCIDENT, DiagnosisResult, RootCause
from diagnosis_operator.models.signals import LogCount, SignalSet, Window
from diagnosis_operator.models.topology import Topology
from diagnosis_operator.ports import LogSource, SeriesSource
from diagnosis_operator.service.collect import (
    CLIENTS,
    NETWORKS,
    RETRIES,
    SAMPLES,
    collect,
    is_edge,
    retry_step,
)


def run_diagnosis(
    *,
    topology: Topology,
    window: Window,
    symptom: str | None,
    series: SeriesSource,
    logs: LogSource,
    now: float,
    on_stage: Callable[[str], None] | None = None,
    enrich: Callable[[DiagnosisResult], DiagnosisResult] | None = None,
    settings: EngineSettings | None = None,
) -> DiagnosisResult:
    """Collect the window's signals through the sources and diagnose them.

    ``enrich`` (optional, e.g. ``service.enrich.make_enricher``) adds what the
    databases answer when asked directly; it never fails the diagnosis.
    ``settings`` (the policy's thresholds) default to the engine's built-in values.
    """
    settings = settings or DEFAULT_ENGINE_SETTINGS
    del now  # the diagnosis depends on the window only; kept for the callers' contract
    stage = on_stage or (lambda _name: None)
    stage("collecting")
    signal_set = collect(
        topology=topology, window=window, series=series, logs=logs, step=settings.step
    )
    stage("correlating")
    result = analyse(
        topology=topology, signals=signal_set, symptom=symptom, on_stage=stage, settings=settings
    )
    if enrich is None:
        return result
    stage("enriching")
    return enrich(result)


def analyse(
    *,
    topology: Topology,
    signals: SignalSet,
    symptom: str | None,
    on_stage: Callable[[str], None] | None = None,
    settings: EngineSettings | None = None,
) -> DiagnosisResult:
    """Pure: a SignalSet in, a DiagnosisResult out.

    A root cause less confident than ``settings.min_confidence`` keeps its rank
    but is reported as uncertain, with a warning and no remediation.
    """
    settings = settings or DEFAULT_ENGINE_SETTINGS
    window = signals.window
    step = signals.step
    timestamps = grid_timestamps(window=window, step=step)

    by_component: dict[str, list[Signal]] = {}
    all_signals: list[Signal] = []
    component_logs: dict[str, ComponentLogs] = {}
    warnings: list[str] = []
    for component in topology:
        collected = signals.components.get(component.name)
        if collected is None:
            warnings.append(f"{component.name}: no signals collected")
            continue
        warnings.extend(collected.errors)
        built = build_signals(component=collected, window=window, step=step)
        by_component[component.name] = built
        all_signals.extend(built)
        component_logs[component.name] = read_component_logs(
            component=component.name,
            streams=collected.log_samples,
            query=collected.queries.get(SAMPLES, ""),
        )
        if not collected.series and not collected.log_samples and not collected.log_counts:
            warnings.append(f"{component.name}: selector matched no series and no log lines")

    detections = detect(
        signals=all_signals, timestamps=timestamps, z_threshold=settings.anomaly_score
    )
    detections_by_component: dict[str, list[Detection]] = {}
    for detection in detections:
        detections_by_component.setdefault(detection.signal.component, []).append(detection)

    evidence = {
        component.name: correlate.ComponentEvidence(
            component=component,
            detections=tuple(detections_by_component.get(component.name, ())),
            logs=component_logs.get(component.name),
            new_categories=correlate.new_log_categories(
                logs=component_logs[component.name], window=window
            )
            if component.name in component_logs
            else {},
            slow_queries=correlate.new_slow_queries(
                logs=component_logs[component.name], window=window
            )
            if component.name in component_logs
            else (),
        )
        for component in topology
    }

    edge_names = [c.name for c in topology if is_edge(topology, c)]
    access_events: list[LogEvent] = []
    client_counts: list[LogCount] = []
    retry_counts: list[LogCount] = []
    network_counts: list[LogCount] = []
    client_query = ""
    for name in edge_names:
        collected = signals.components.get(name)
        if collected is None:
            continue
        client_counts.extend(collected.extracted.get(CLIENTS, ()))
        retry_counts.extend(collected.extracted.get(RETRIES, ()))
        network_counts.extend(collected.extracted.get(NETWORKS, ()))
        client_query = (
            client_query or collected.queries.get(RETRIES, "") or collected.queries.get(CLIENTS, "")
        )
        if name in component_logs:
            access_events.extend(e for e in component_logs[name].events if e.access is not None)
    abusive = client_analysis.find_abusive_clients(
        client_counts=client_counts,
        retry_counts=retry_counts,
        retry_step=retry_step(window),
        access_events=access_events,
        step=step,
        network_counts=network_counts,
    )

    # Only a burst of upstream errors names a degraded upstream; a few 5xx lines
    # of an ordinary hour name whichever upstream served them.
    upstream_counts: dict[str, Mapping[str, int]] = {}
    upstream_seen: dict[str, Mapping[str, list[float]]] = {}
    log_horizon = {
        name: max(e.ts for e in read.events) for name, read in component_logs.items() if read.events
    }
    for name in component_logs:
        named = upstream_errors(
            correlate.incident_events(evidence=evidence[name], category=LogCategory.UPSTREAM_ERROR)
        )
        upstream_counts[name] = {address: len(events) for address, events in named.items()}
        upstream_seen[name] = {address: [e.ts for e in events] for address, events in named.items()}
    affected = correlate.find_affected(
        topology=topology,
        detections=detections_by_component,
        signals=by_component,
        timestamps=timestamps,
        upstream_errors=upstream_counts,
        upstream_seen=upstream_seen,
        log_horizon=log_horizon,
    )
    ranking = correlate.rank(
        topology=topology, evidence=evidence, clients=abusive, window=window, step=step
    )
    if ranking.root_cause.component == NO_INCIDENT:
        affected = []
    if on_stage is not None:
        on_stage("planning")

    summary = explain.summary(
        root_cause=ranking.root_cause,
        candidates=ranking.candidates,
        evidence=evidence,
        affected=affected,
        clients=abusive,
        symptom=symptom,
    )
    uncertain = (
        ranking.root_cause.component != NO_INCIDENT
        and ranking.root_cause.confidence < settings.min_confidence
    )
    if uncertain:
        summary = f"Uncertain: {summary}"
        warnings.append(
            f"root cause {ranking.root_cause.component}: confidence "
            f"{ranking.root_cause.confidence:.2f} is below the policy's minConfidence "
            f"{settings.min_confidence:.2f}; no remediation proposed"
        )
    root = RootCause(
        component=ranking.root_cause.component,
        kind=ranking.root_cause.kind,
        instance=ranking.root_cause.instance
        or correlate.sole_affected_instance(
            component=ranking.root_cause.component, affected=affected
        ),
        confidence=ranking.root_cause.confidence,
        summary=summary,
    )
    quiet = root.component == NO_INCIDENT
    chain = (
        []
        if quiet
        else explain.evidence_chain(
            topology=topology,
            candidates=ranking.candidates,
            evidence=evidence,
            affected=affected,
            clients=abusive,
            client_query=client_query,
        )
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
    edge = next((name for name in edge_names if topology.get(name).kind.value == "proxy"), None)
    proposals = (
        []
        if quiet or uncertain
        else planner.plan(
            topology=topology,
            candidates=ranking.candidates,
            evidence=evidence,
            affected=affected,
            clients=abusive,
            edge=edge or (edge_names[0] if edge_names else None),
        )
    )
    plotted = explain.key_signals(
        detections=detections, signals=by_component, timestamps=timestamps, affected=affected
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
        symptom=symptom,
        warnings=tuple(warnings),
    )
