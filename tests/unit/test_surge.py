"""A surge of requests at the edge before any harm: the clients' traffic is the root."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.diagnosis.surge import first_harm, surge_onset, traffic_led
from diagnosis_operator.models.findings import CLIENT_CAUSE, Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
SURGE = T0 + 600.0

STACK = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("bff",)),
        Component("bff", ComponentKind.APP, Labels({"job": "bff"})),
    )
)


def _detection(
    component: str,
    name: str,
    onset: float,
    *,
    kind: SignalKind = SignalKind.RATE,
    baseline: float = 6.0,
    value: float = 18.0,
) -> Detection:
    values = np.where(onset <= TS, value, baseline)
    signal = Signal(component, None, name, name, kind, name, values, Labels())
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=onset,
        peak_ts=onset,
        value=value,
        baseline=baseline,
        score=60.0,
        direction="up",
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=value)


REQUESTS = "nginx_http_requests_total rate"


def _errors(component: str, onset: float) -> Detection:
    return _detection(
        component, "5xx ratio", onset, kind=SignalKind.ERROR_RATIO, baseline=0.0, value=0.3
    )


def _edge(*detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get("edge"), detections=detections)


def _bff(*detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get("bff"), detections=detections)


def test_requests_that_tripled_before_the_errors_are_a_surge() -> None:
    edge = _edge(_detection("edge", REQUESTS, SURGE), _errors("edge", SURGE + 15))
    assert surge_onset(edge) == SURGE
    assert first_harm(edge) == SURGE + 15


def test_requests_rising_after_the_errors_are_the_errors_retried() -> None:
    edge = _edge(_detection("edge", REQUESTS, SURGE + 60), _errors("edge", SURGE))
    assert surge_onset(edge) is None


def test_a_rise_short_of_double_is_no_surge() -> None:
    edge = _edge(_detection("edge", REQUESTS, SURGE, value=9.0), _errors("edge", SURGE + 15))
    assert surge_onset(edge) is None


def test_a_backend_failing_before_the_surge_is_the_cause() -> None:
    edge = _edge(_detection("edge", REQUESTS, SURGE), _errors("edge", SURGE + 15))
    evidence = {"edge": edge, "bff": _bff(_errors("bff", SURGE - 120))}
    assert traffic_led(topology=STACK, evidence=evidence, root="edge", window=WINDOW) is None
    loaded = {"edge": edge, "bff": _bff(_detection("bff", "http_requests_total rate", SURGE))}
    assert traffic_led(topology=STACK, evidence=loaded, root="edge", window=WINDOW) == SURGE
    # only an edge (where clients arrive) can be led by their traffic
    assert traffic_led(topology=STACK, evidence=loaded, root="bff", window=WINDOW) is None


def test_a_fleet_surge_before_any_harm_makes_the_clients_the_root_without_an_address() -> None:
    evidence = {
        "edge": _edge(
            _detection("edge", REQUESTS, SURGE),
            _errors("edge", SURGE + 15),
            _detection("edge", "nginx_connections_active", SURGE, kind=SignalKind.GAUGE),
        ),
        "bff": _bff(
            _detection("bff", "http_requests_total rate", SURGE + 15),
            _detection("bff", "limiter_rejected_total rate", SURGE + 15),
        ),
    }
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == CLIENT_CAUSE
    assert ranking.root_cause.instance is None
    assert ranking.root_onset == SURGE
    # the same errors with the requests flat: the edge itself
    flat = dict(evidence, edge=_edge(_errors("edge", SURGE + 15)))
    ranking = rank(topology=STACK, evidence=flat, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component != CLIENT_CAUSE


def test_an_edge_whose_own_error_log_says_it_ran_out_is_the_root_under_a_surge() -> None:
    alert = "2026/12/06 11:10:03 [alert] 31#31: 256 worker_connections are not enough"
    events = tuple(
        read_event(component="edge", instance=None, ts=SURGE + 20 + i, line=alert, query="")
        for i in range(10)
    )
    edge = ComponentEvidence(
        component=STACK.get("edge"),
        detections=(_detection("edge", REQUESTS, SURGE), _errors("edge", SURGE + 15)),
        logs=ComponentLogs(component="edge", events=events),
    )
    evidence = {"edge": edge, "bff": _bff()}
    assert traffic_led(topology=STACK, evidence=evidence, root="edge", window=WINDOW) is None
