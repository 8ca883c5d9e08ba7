"""A proxy's own rate limiter shedding a burst is no symptom (``shedding``, the gate)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.shedding import (
    is_client_miss_line,
    is_rate_limit_line,
    sheds_by_design,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEPS = 241
ONSET = T0 + 1800.0
LIMITED = (
    '2029/09/11 09:00:02 [error] 4410#4410: *26 limiting requests, excess: 10.370 by zone "claim", '
    'client: 203.0.113.7, server: s, request: "GET /claim HTTP/1.1", host: "s"'
)
REFUSED = (
    "2029/09/11 09:00:02 [error] 4410#4410: *26 connect() failed (111: Connection refused) "
    'while connecting to upstream, client: 203.0.113.7, upstream: "http://10.0.0.9:8000/claim"'
)


def _edge(
    kind: ComponentKind, line: str, *, count: int = 60
) -> tuple[ComponentEvidence, Detection]:
    component = Component("edge", kind, Labels({"job": "edge"}))
    values = np.zeros(STEPS)
    values[120:] = 40.0  # ongoing at the end: an incident, unless it is shedding
    signal = Signal(
        component="edge",
        instance="10.0.0.5:9113",
        name="error/warn log lines",
        family="log:significant",
        kind=SignalKind.LOG_SIGNIFICANT,
        query="q",
        values=values,
        labels=Labels({"job": "edge", "instance": "10.0.0.5:9113"}),
    )
    anomaly = Anomaly(
        component="edge",
        signal=signal.name,
        instance=signal.instance,
        onset=ONSET,
        peak_ts=ONSET,
        value=40.0,
        baseline=0.0,
        score=100.0,
        direction="up",
        query="q",
    )
    detection = Detection(signal=signal, anomaly=anomaly, exceedances=120, peak=40.0)
    events = tuple(
        read_event(component="edge", instance="10.0.0.5:9113", ts=ONSET + i, line=line, query="")
        for i in range(count)
    )
    logs = ComponentLogs(component="edge", events=events)
    return ComponentEvidence(component=component, detections=(detection,), logs=logs), detection


def test_the_limiters_lines_are_told_apart() -> None:
    assert is_rate_limit_line(LIMITED)
    assert is_rate_limit_line('[error] 7#7: *1 limiting connections by zone "perip", client: x')
    assert not is_rate_limit_line(REFUSED)


def test_a_proxy_shedding_a_burst_is_no_incident() -> None:
    ev, detection = _edge(ComponentKind.PROXY, LIMITED)
    assert sheds_by_design(ev, detection)
    assert not incident_gate(evidence={"edge": ev}, window=WINDOW, step=15.0).incident


def test_real_errors_or_another_kind_still_make_an_incident() -> None:
    ev, detection = _edge(ComponentKind.PROXY, REFUSED)
    assert not sheds_by_design(ev, detection)
    assert incident_gate(evidence={"edge": ev}, window=WINDOW, step=15.0).incident
    app, detection = _edge(ComponentKind.APP, LIMITED)
    assert not sheds_by_design(app, detection)
    few, detection = _edge(ComponentKind.PROXY, LIMITED, count=3)
    assert not sheds_by_design(few, detection)


MISSING = (
    '2029/09/11 09:00:02 [error] 4410#4410: *26 open() "/srv/www/html/.env" failed (2: No such '
    'file or directory), client: 203.0.113.7, server: , request: "GET /.env HTTP/1.1", host: "s"'
)
NO_INDEX = (
    '2029/09/11 09:00:02 [error] 4410#4410: *27 "/srv/www/html/admin/index.html" is not found '
    '(2: No such file or directory), client: 203.0.113.7, request: "GET /admin/ HTTP/1.1"'
)


def test_a_clients_requests_for_missing_files_are_no_incident() -> None:
    # a scanner walking a word list: nginx logs each 404 at error level
    assert is_client_miss_line(MISSING) and is_client_miss_line(NO_INDEX)
    assert not is_client_miss_line(REFUSED)
    ev, detection = _edge(ComponentKind.PROXY, MISSING)
    assert sheds_by_design(ev, detection)
    assert not incident_gate(evidence={"edge": ev}, window=WINDOW, step=15.0).incident


def test_a_missing_file_the_proxy_itself_needs_is_not_a_clients_miss() -> None:
    # nginx failing to open its own certificate or config is its own failure
    own = (
        '2029/09/11 09:00:02 [emerg] 1#1: cannot load certificate "/etc/nginx/tls.crt": '
        "BIO_new_file() failed (SSL: error:80000002:system library::No such file or directory)"
    )
    ev, detection = _edge(ComponentKind.PROXY, own)
    assert not sheds_by_design(ev, detection)
    assert incident_gate(evidence={"edge": ev}, window=WINDOW, step=15.0).incident
