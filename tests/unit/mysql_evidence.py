"""Builders of a database component's evidence for the planning tests (kill targets, blockers)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.onsets import new_log_categories, new_slow_queries
from diagnosis_operator.core.diagnosis.plan import plan
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly, Candidate, ProposedRemediation
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Topology


def evidence_of(
    *,
    topology: Topology,
    component: str,
    lines: list[str],
    window: Window,
    first: float,
    spacing: float,
    detections: tuple[Detection, ...] = (),
) -> ComponentEvidence:
    """The component's evidence: its log lines from ``first``, ``spacing`` s apart."""
    events = tuple(
        read_event(component=component, instance=None, ts=first + spacing * i, line=line, query="q")
        for i, line in enumerate(lines)
    )
    logs = ComponentLogs(component=component, events=events)
    return ComponentEvidence(
        component=topology.get(component),
        detections=detections,
        logs=logs,
        new_categories=new_log_categories(logs=logs, window=window),
        slow_queries=new_slow_queries(logs=logs, window=window),
    )


def rising(
    *, component: str, instance: str, name: str, onset: float, level: float, score: float
) -> Detection:
    """A gauge of 240 steps rising from 0 to ``level`` half-way, detected at ``onset``."""
    values = np.zeros(240)
    values[120:] = level
    signal = Signal(component, instance, name, name, SignalKind.GAUGE, "q", values, Labels({}))
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=instance,
        onset=onset,
        peak_ts=onset,
        value=level,
        baseline=0.0,
        score=score,
        direction="up",
        query="q",
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=100, peak=level)


def planned_for_root(
    *, topology: Topology, component: str, evidence: ComponentEvidence
) -> list[ProposedRemediation]:
    """What the planner proposes when ``component`` is the root cause."""
    return plan(
        topology=topology,
        candidates=[Candidate(component=component, score=0.8, role=ROLE_ROOT)],
        evidence={component: evidence},
        affected=[],
        clients=[],
        edge=None,
    )
