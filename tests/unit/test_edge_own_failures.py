"""An edge proxy failing by itself: its own timeout said in its answers, its own maxconn.

Vocabulary other than the held-out bundles': Envoy's default text access format (not
JSON), a Tomcat upstream's ``ClientAbortException`` (not gunicorn's EPIPE), HAProxy's
process-wide ``maxconn`` (not a frontend's).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diagnosis_operator.catalog.failure_modes import FAILURE_MODES
from diagnosis_operator.catalog.limits import DECLARED_MAXIMA
from diagnosis_operator.catalog.modes_edge import OWN_TIMEOUT_ANSWERS
from diagnosis_operator.core.diagnosis.at_maximum import at_maximum
from diagnosis_operator.core.diagnosis.edge_faults import answers_mostly
from diagnosis_operator.core.diagnosis.edge_timeouts import (
    harmed_beyond_hang_ups,
    own_fault,
    times_out_itself,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.signals import Labels, Window
from tests.unit import test_correlate_rules as correlate
from tests.unit.test_edge_faults import INCIDENT, QUIET_API, STACK, _detection, _proxy

ENVOY_UT = (
    '[2032-02-10T09:14:03.120Z] "POST /api/reports/build HTTP/1.1" 504 UT 0 24 60001 - '
    '"10.1.2.3" "curl/8.5.0" "a1b2" "reports.internal" "10.9.8.7:8080"'
)
ENVOY_UF = ENVOY_UT.replace("504 UT", "503 UF")
ENVOY_504_NO_FLAG = ENVOY_UT.replace("504 UT", "504 -")
TOMCAT_ABORT = (
    "2032-02-10 09:14:03.120 WARN [http-nio-8080-exec-7] o.a.c.c.C.[.[localhost] : "
    "ClientAbortException: java.io.IOException: Broken pipe"
)
POOL_EXHAUSTED = (
    "2032-02-10 09:14:03.120 ERROR [http-nio-8080-exec-7] HikariPool-1 - Connection is not "
    "available, request timed out after 30000ms"
)


def _api_logging(lines: list[str]) -> ComponentEvidence:
    """The upstream, its only symptom its error/warn lines rising: ``lines``."""
    events = tuple(
        read_event(component="api", instance=None, ts=INCIDENT + 3.0 * i, line=line, query="")
        for i, line in enumerate(lines)
    )
    return ComponentEvidence(
        component=STACK.get("api"),
        detections=(_detection("api", SignalKind.LOG_SIGNIFICANT),),
        logs=ComponentLogs(component="api", events=events),
    )


def test_a_proxy_answering_5xx_flagged_with_its_own_timeout_times_out_itself() -> None:
    edge = _proxy([ENVOY_UT] * 12)
    assert answers_mostly(edge, OWN_TIMEOUT_ANSWERS)
    assert times_out_itself(caller=edge, dependency=QUIET_API)
    assert own_fault(caller=edge, dependency=QUIET_API)


def test_5xx_without_the_timeout_flag_or_usual_before_are_no_own_timeout() -> None:
    assert not answers_mostly(_proxy([ENVOY_UF] * 12), OWN_TIMEOUT_ANSWERS)
    assert not answers_mostly(_proxy([ENVOY_504_NO_FLAG] * 12), OWN_TIMEOUT_ANSWERS)
    assert not answers_mostly(_proxy([ENVOY_UT] * 2 + [ENVOY_UF] * 10), OWN_TIMEOUT_ANSWERS)
    usual = _proxy([ENVOY_UT] * 12, before=[ENVOY_UT] * 12)
    assert not times_out_itself(caller=usual, dependency=QUIET_API)


def test_an_upstream_warning_only_that_its_client_hung_up_is_not_harmed() -> None:
    hung_up_on = _api_logging([TOMCAT_ABORT] * 10)
    assert hung_up_on.has_symptom
    assert not harmed_beyond_hang_ups(hung_up_on)
    assert times_out_itself(caller=_proxy([ENVOY_UT] * 12), dependency=hung_up_on)


def test_an_upstream_logging_its_own_trouble_still_explains_the_proxy() -> None:
    failing = _api_logging([POOL_EXHAUSTED] * 8 + [TOMCAT_ABORT] * 2)
    assert harmed_beyond_hang_ups(failing)
    assert not times_out_itself(caller=_proxy([ENVOY_UT] * 12), dependency=failing)
    slow = ComponentEvidence(
        component=STACK.get("api"),
        detections=(_detection("api", SignalKind.LATENCY),),
        logs=_api_logging([TOMCAT_ABORT] * 10).logs,
    )
    assert harmed_beyond_hang_ups(slow)


T0 = 1_700_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + 2700.0), step=15.0)
LB = Labels({"job": "lb", "instance": "10.0.0.9:8405"})


def _gauge(name: str, values: np.ndarray) -> Signal:
    return Signal("lb", "10.0.0.9:8405", name, name, SignalKind.GAUGE, name, values, LB)


def _connections(full_from: int, level: float) -> np.ndarray:
    values = np.linspace(900.0, 1900.0, TS.size)
    values[full_from:] = level
    return values


def test_haproxy_at_its_process_maxconn_is_harm_below_it_only_load() -> None:
    assert any(m.maximum == "haproxy_process_max_connections" for m in DECLARED_MAXIMA)
    limit = _gauge("haproxy_process_max_connections", np.full(TS.size, 2000.0))
    # a scrape between two accepts reads a few below the limit
    full = _gauge("haproxy_process_current_connections", _connections(120, 1995.0))
    (found,) = at_maximum(signals=[full, limit], timestamps=TS)
    assert found.anomaly.onset == TS[120] and found.at_declared_maximum
    lb = STACK.get("edge")
    assert ComponentEvidence(component=lb, detections=(found,)).has_symptom
    below = _gauge("haproxy_process_current_connections", _connections(120, 1700.0))
    assert at_maximum(signals=[below, limit], timestamps=TS) == []


def test_the_catalogue_names_the_own_limit_mode_with_sources() -> None:
    modes = [m for m in FAILURE_MODES if m.kind == "proxy" and "maxconn" in m.name]
    assert modes and all(m.sources and m.logs and m.metrics for m in modes)


def _rate(name: str) -> ComponentEvidence:
    detection = _detection("edge", SignalKind.RATE)
    named = replace(detection, signal=replace(detection.signal, name=f"{name} rate", family=name))
    return ComponentEvidence(component=STACK.get("edge"), detections=(named,))


def test_envoy_refusing_connections_at_its_listener_limit_is_harm_its_traffic_is_not() -> None:
    assert _rate("envoy_listener_downstream_global_cx_overflow").has_symptom
    assert _rate("envoy_listener_downstream_cx_overflow").has_symptom
    assert not _rate("envoy_listener_downstream_cx_total").has_symptom


INCIDENT_2 = correlate.INCIDENT
ENVOY_CONNECT_FAILURE = (
    "[2032-02-10 09:14:03.120][17][debug][router] upstream connect error or disconnect/reset "
    "before headers. reset reason: connection failure"
)


def test_a_proxy_that_cannot_reach_its_upstream_is_the_root_not_a_quiet_store_behind() -> None:
    """The upstream only received less (the proxy's route points elsewhere); a store
    behind it whose counters moved, with no harm of its own, explains none of that."""
    proxy = ComponentEvidence(
        component=correlate.STACK.get("front"),
        detections=(
            correlate._detection(
                "front", "front 5xx", INCIDENT_2, 80.0, kind=SignalKind.ERROR_RATIO
            ),
            correlate._detection(
                "front", "front lines", INCIDENT_2, 80.0, kind=SignalKind.LOG_SIGNIFICANT
            ),
        ),
        logs=correlate._errors("front", INCIDENT_2, ENVOY_CONNECT_FAILURE),
    )
    evidence = correlate._evidence(
        front=proxy,
        svc=ComponentEvidence(
            component=correlate.STACK.get("svc"), detections=correlate._fell("svc", INCIDENT_2)
        ),
        store=ComponentEvidence(
            component=correlate.STACK.get("store"),
            detections=tuple(
                correlate._detection("store", f"store-flushes{i}", INCIDENT_2 - 20, 100.0)
                for i in range(3)
            ),
        ),
    )
    assert correlate._rank(evidence) == "front"
    # a store that did fail (its own errors) still explains what its caller lost
    evidence["store"] = ComponentEvidence(
        component=correlate.STACK.get("store"),
        detections=correlate._strong("store", INCIDENT_2 - 20),
    )
    assert correlate._rank(evidence) == "store"
