"""An upstream refusing paths the proxy's clients never asked for: the proxy rewrote them.

Vocabulary other than round 11's generated scenario: a Spring-style JSON line, a Go
``slog`` text line, routes ``/docs/pages`` and ``/docs/search``, a 30 s step.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.routes import ROUTE_REFUSAL_SIGNAL
from diagnosis_operator.core.diagnosis.edge_timeouts import own_fault
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.rewritten_paths import sent_other_paths
from diagnosis_operator.core.diagnosis.route_refusals import ROUTES_LABEL
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_950_000_000.0
ONSET = T0 + 600.0
STEPS = 40


def _detection(component: str, name: str, kind: SignalKind, labels: dict[str, str]) -> Detection:
    values = np.zeros(STEPS)
    values[20:] = 1.0
    signal = Signal(
        component=component,
        instance=None,
        name=name,
        family=name,
        kind=kind,
        query="q",
        values=values,
        labels=Labels(labels),
    )
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=ONSET,
        peak_ts=ONSET,
        value=1.0,
        baseline=0.0,
        score=50.0,
        direction="up",
        query="q",
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=20, peak=1.0)


def _edge() -> ComponentEvidence:
    component = Component("docs-edge", ComponentKind.PROXY, Labels({"job": "e"}), ("docs",))
    refusals = _detection(
        "docs-edge",
        ROUTE_REFUSAL_SIGNAL,
        SignalKind.ERROR_RATIO,
        {ROUTES_LABEL: "/docs/pages, /docs/search"},
    )
    return ComponentEvidence(component=component, detections=(refusals,))


def _backend(lines: list[str]) -> ComponentEvidence:
    component = Component("docs", ComponentKind.APP, Labels({"job": "docs"}))
    lines_rose = _detection("docs", "error/warn log lines", SignalKind.LOG_SIGNIFICANT, {})
    events = tuple(
        read_event(component="docs", instance="10.9.0.4:8080", ts=ONSET + i, line=x, query="")
        for i, x in enumerate(lines * 6)
    )
    return ComponentEvidence(
        component=component,
        detections=(lines_rose,),
        logs=ComponentLogs(component="docs", events=events),
    )


REWRITTEN = [
    '{"level":"WARN","message":"No mapping for GET","method":"GET","path":"/","status":404}',
    '{"level":"WARN","message":"No mapping for GET","method":"GET","path":"/7","status":404}',
]
OWN = [
    '{"level":"WARN","message":"page missing","method":"GET","path":"/docs/pages/7","status":404}',
    '{"level":"WARN","message":"no index","method":"GET","path":"/docs/search","status":404}',
]


def test_an_upstream_refusing_paths_no_client_asked_was_sent_them_by_its_proxy() -> None:
    backend = _backend(REWRITTEN)
    assert sent_other_paths(caller=_edge(), dependency=backend)
    assert own_fault(caller=_edge(), dependency=backend)


def test_an_upstream_refusing_the_clients_own_routes_refused_them_itself() -> None:
    backend = _backend(OWN)
    assert not sent_other_paths(caller=_edge(), dependency=backend)
    assert not own_fault(caller=_edge(), dependency=backend)


def test_without_the_edge_s_refused_routes_nothing_is_read_as_rewritten() -> None:
    edge = _edge()
    quiet = ComponentEvidence(component=edge.component)
    assert not sent_other_paths(caller=quiet, dependency=_backend(REWRITTEN))


def test_an_upstream_s_own_errors_among_the_refusals_are_its_own() -> None:
    errors = ['level=ERROR msg="query failed" err="pq: canceling statement due to timeout"'] * 3
    assert not sent_other_paths(caller=_edge(), dependency=_backend(REWRITTEN[:1] + errors))
