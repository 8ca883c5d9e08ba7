"""A proxy relaying its upstream's failures is the messenger, not the cause."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.messenger import SOURCES
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.messenger import (
    messenger_of,
    relays_failures,
    with_relayed_instances,
)
from diagnosis_operator.core.diagnosis.onsets import new_log_categories
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import AffectedInstance, Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3000.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
INCIDENT = T0 + 1500.0
STACK = Topology(
    components=(
        Component("ingress", ComponentKind.PROXY, Labels({"job": "ingress"}), ("orders",)),
        Component("orders", ComponentKind.APP, Labels({"job": "orders"})),
    )
)
# ingress-nginx's default log format: ... $upstream_addr $upstream_response_length
# $upstream_response_time $upstream_status $req_id
RELAYED = (
    '10.3.{i}.9 - - [01/Jan/2027:10:00:00 +0000] "GET /orders/{i} HTTP/1.1" 504 160 "-" '
    '"curl/8.5" 231 60.001 [shop-orders-8080] [] 10.7.1.4:8080 0 60.000 504 abc{i}'
)
# Envoy's default format, the proxy's own circuit breaking (UO): no upstream answered
OWN_REFUSAL = (
    '[2027-01-01T10:00:00.000Z] "GET /orders/{i} HTTP/1.1" 503 UO 0 81 0 - "10.3.0.9" '
    '"curl/8.5" "abc{i}" "orders" "-"'
)


def _detection(component: str, family: str, onset: float, kind: SignalKind) -> Detection:
    values = np.where(onset <= TS, 1.0, 0.0)
    signal = Signal(component, None, family, family, kind, family, values, Labels())
    anomaly = Anomaly(component, family, None, onset, onset, 1.0, 0.0, 80.0, "up", family)
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=1.0)


def _proxy(line: str) -> ComponentEvidence:
    events = tuple(
        read_event(
            component="ingress",
            instance=None,
            ts=INCIDENT + 4.0 * i,
            line=line.format(i=i),
            query="",
        )
        for i in range(40)
    )
    logs = ComponentLogs(component="ingress", events=events)
    return ComponentEvidence(
        component=STACK.get("ingress"),
        detections=(
            _detection("ingress", "nginx 5xx ratio", INCIDENT + 15.0, SignalKind.ERROR_RATIO),
            _detection("ingress", "request duration", INCIDENT + 15.0, SignalKind.LATENCY),
        ),
        logs=logs,
        new_categories=new_log_categories(logs=logs, window=WINDOW),
    )


# A Tomcat app whose series show it a scrape and a rate window after the proxy's
# first 504: more than the two steps a caller may lead an unnamed dependency by.
SLOW_APP = ComponentEvidence(
    component=STACK.get("orders"),
    detections=(
        _detection("orders", "http_server_requests_seconds", INCIDENT + 45.0, SignalKind.LATENCY),
        _detection("orders", "tomcat_threads_busy_threads", INCIDENT + 45.0, SignalKind.GAUGE),
        _detection("orders", "container_cpu_usage_seconds_total", INCIDENT + 60.0, SignalKind.CPU),
    ),
)
# The same app whose only move is its traffic falling: nothing of its own harmed
QUIET_APP = ComponentEvidence(
    component=STACK.get("orders"),
    detections=(
        _detection(
            "orders", "http_server_requests_seconds_count", INCIDENT + 45.0, SignalKind.REQUEST_RATE
        ),
    ),
)


def test_the_catalogue_cites_the_proxies_upstream_fields() -> None:
    assert SOURCES and all(s.startswith("https://") for s in SOURCES)


def test_a_proxy_relaying_its_upstreams_504s_is_their_messenger() -> None:
    edge = _proxy(RELAYED)
    assert relays_failures(edge)
    assert messenger_of(caller=edge, dependency=SLOW_APP)
    assert not messenger_of(caller=edge, dependency=QUIET_APP)


def test_a_proxys_own_refusals_are_not_relayed() -> None:
    assert not relays_failures(_proxy(OWN_REFUSAL))


def test_the_slow_app_behind_the_messenger_is_the_root_though_the_proxy_saw_it_first() -> None:
    ranking = rank(
        topology=STACK,
        evidence={"ingress": _proxy(RELAYED), "orders": SLOW_APP},
        clients=[],
        window=WINDOW,
        step=STEP,
    )
    assert ranking.root_cause.component == "orders"
    ingress = next(c for c in ranking.candidates if c.component == "ingress")
    assert "explained by earlier orders" in ingress.reasons


def _canary(*, named_by_proxy: bool) -> AffectedFinding:
    # one new pod of several, slower than its siblings from its first requests:
    # no baseline of its own, so only the sibling comparison sees it
    return AffectedFinding(
        instance=AffectedInstance("orders", "10.7.1.9:8080", "latency 1.9 s (siblings 70 ms)"),
        detections=(
            _detection(
                "orders", "http_server_requests_seconds", INCIDENT + 45.0, SignalKind.LATENCY
            ),
        ),
        healthy_siblings=5,
        named_by_proxy=named_by_proxy,
    )


def test_a_canary_the_proxy_names_becomes_its_components_evidence() -> None:
    unseen = {"ingress": _proxy(RELAYED), "orders": ComponentEvidence(STACK.get("orders"))}
    seen = with_relayed_instances(unseen, [_canary(named_by_proxy=True)])
    assert seen["orders"].detections and seen["ingress"] is unseen["ingress"]
    ranking = rank(topology=STACK, evidence=seen, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "orders"
    # not named by the proxy: left as it was; evidence of its own: left to that evidence
    assert not with_relayed_instances(unseen, [_canary(named_by_proxy=False)])["orders"].detections
    own = {"ingress": _proxy(RELAYED), "orders": SLOW_APP}
    assert with_relayed_instances(own, [_canary(named_by_proxy=True)])["orders"] is SLOW_APP
