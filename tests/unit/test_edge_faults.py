"""A proxy failing in its own path (its route, its certificate), and what lies behind it."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.failure_modes import FAILURE_MODES
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.behind_root import in_front_of_root
from diagnosis_operator.core.diagnosis.edge_faults import (
    cannot_connect,
    own_path_fault,
    refuses_handshakes,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import AffectedInstance, Anomaly
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
INCIDENT = T0 + 1800.0
STACK = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("api",)),
        Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
    )
)
NO_ROUTE = (
    "2032/02/10 09:14:03 [error] 77#77: *7286242 connect() failed (113: No route to host) "
    'while connecting to upstream, client: 10.1.2.3, upstream: "http://10.9.8.7:8080/x"'
)
REFUSED = NO_ROUTE.replace("113: No route to host", "111: Connection refused")
READ_TIMEOUT = (
    "2032/02/10 09:14:03 [error] 77#77: *1 upstream timed out (110: Connection timed out) "
    'while reading response header from upstream, upstream: "http://10.9.8.7:8080/x"'
)
BAD_CERT = (
    "2032/01/01 00:00:00 [info] 912#912: *5 SSL_do_handshake() failed (SSL: error:0A000412:"
    "SSL routines::sslv3 alert bad certificate:SSL alert number 42) while SSL handshaking"
)
WRONG_VERSION = (
    "2032/01/01 00:00:00 [info] 912#912: *5 SSL_do_handshake() failed (SSL: error:0A00010B:"
    "SSL routines::wrong version number) while SSL handshaking"
)


def _detection(component: str, kind: SignalKind, direction: str = "up") -> Detection:
    name = f"{component} signal"
    signal = Signal(component, None, name, name, kind, name, np.ones(4), Labels())
    anomaly = Anomaly(component, name, None, INCIDENT, INCIDENT, 3.0, 1.0, 50.0, direction, name)
    return Detection(signal=signal, anomaly=anomaly, exceedances=5, peak=3.0)


def _proxy(lines: list[str], *, before: list[str] | None = None) -> ComponentEvidence:
    events = [
        read_event(component="edge", instance=None, ts=T0 + 10.0 * i, line=line, query="")
        for i, line in enumerate(before or [])
    ] + [
        read_event(component="edge", instance=None, ts=INCIDENT + 2.0 * i, line=line, query="")
        for i, line in enumerate(lines)
    ]
    return ComponentEvidence(
        component=STACK.get("edge"),
        detections=(_detection("edge", SignalKind.LOG_SIGNIFICANT),),
        logs=ComponentLogs(component="edge", events=tuple(events)),
    )


QUIET_API = ComponentEvidence(
    component=STACK.get("api"), detections=(_detection("api", SignalKind.RATE, "down"),)
)
FAILING_API = ComponentEvidence(
    component=STACK.get("api"), detections=(_detection("api", SignalKind.ERROR_RATIO),)
)


def test_the_catalogue_names_both_edge_modes_with_sources() -> None:
    names = {m.name for m in FAILURE_MODES if m.kind == "proxy"}
    assert {"stale upstream (unreachable address)", "certificate expired"} <= names
    for failure in FAILURE_MODES:
        if failure.name in names:
            assert failure.sources and failure.logs


def test_a_proxy_that_cannot_connect_to_a_healthy_upstream_fails_in_its_own_route() -> None:
    edge = _proxy([NO_ROUTE] * 6 + [REFUSED] * 4)
    assert cannot_connect(edge)
    assert own_path_fault(caller=edge, dependency=QUIET_API)


def test_an_upstream_that_fails_itself_still_explains_the_proxy() -> None:
    edge = _proxy([REFUSED] * 10)
    assert cannot_connect(edge)
    assert not own_path_fault(caller=edge, dependency=FAILING_API)


def test_read_timeouts_are_a_slow_upstream_not_a_broken_route() -> None:
    assert not cannot_connect(_proxy([READ_TIMEOUT] * 10))


def test_connect_failures_that_were_usual_before_are_no_new_fault() -> None:
    assert not cannot_connect(_proxy([NO_ROUTE] * 10, before=[NO_ROUTE] * 10))


def test_a_few_lines_among_many_others_are_no_own_fault() -> None:
    assert not cannot_connect(_proxy([NO_ROUTE] * 3 + [READ_TIMEOUT] * 20))


def test_clients_refusing_the_certificate_is_the_proxy_own_fault_whatever_behind() -> None:
    edge = _proxy([BAD_CERT] * 8)
    assert refuses_handshakes(edge)
    assert own_path_fault(caller=edge, dependency=FAILING_API)
    assert not refuses_handshakes(_proxy([WRONG_VERSION] * 8))


def test_only_proxies_fail_in_their_own_path() -> None:
    app = ComponentEvidence(
        component=STACK.get("api"),
        detections=(_detection("api", SignalKind.LOG_SIGNIFICANT),),
        logs=_proxy([BAD_CERT] * 8).logs,
    )
    assert not refuses_handshakes(app)


def _finding(component: str) -> AffectedFinding:
    instance = AffectedInstance(component=component, instance="10.0.0.1:80", reason="x")
    return AffectedFinding(instance=instance, detections=(), healthy_siblings=2)


def test_instances_behind_the_root_are_not_affected_by_a_fault_of_their_own() -> None:
    found = [_finding("edge"), _finding("api"), _finding("db")]
    kept = in_front_of_root(found, topology=STACK, root="edge")
    assert [f.instance.component for f in kept] == ["edge"]
    kept = in_front_of_root(found, topology=STACK, root="api")
    assert [f.instance.component for f in kept] == ["edge", "api"]
    assert in_front_of_root(found, topology=STACK, root="client") == found


def _api_down_on(instance: str) -> ComponentEvidence:
    """The upstream with one instance's traffic stopped (a crashed pod, its scrape down)."""
    signal = Signal("api", instance, "up", "up", SignalKind.GAUGE, "up", np.ones(4), Labels())
    anomaly = Anomaly("api", "up", instance, INCIDENT, INCIDENT, 0.0, 1.0, 50.0, "down", "up")
    detection = Detection(signal=signal, anomaly=anomaly, exceedances=5, peak=0.0)
    return ComponentEvidence(component=STACK.get("api"), detections=(detection,))


def test_connect_failures_to_an_instance_that_went_down_are_that_instance_failure() -> None:
    edge = _proxy([REFUSED] * 10)
    assert cannot_connect(edge)
    # the refused address is one of the upstream's instances, and its own series changed
    assert not own_path_fault(caller=edge, dependency=_api_down_on("10.9.8.7:8080"))
    # another instance's change says nothing about the address the proxy cannot reach
    assert own_path_fault(caller=edge, dependency=_api_down_on("10.9.8.6:8080"))
