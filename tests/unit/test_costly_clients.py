"""A costly client, not a frequent one, can be the root cause (issue 10).

A client's weight is the server time and the bytes its requests take, not only their
number.  The access lines here are an Envoy gateway's and a JSON-logging nginx's, the
clients a report exporter over IPv4 and a slow uploader: none of an example bundle.
"""

from __future__ import annotations

import re

import numpy as np

from diagnosis_operator.catalog.client_cost import (
    BIG_RESPONSE_FILTER,
    HUGE_RESPONSE_FILTER,
    SLOW_REQUEST_FILTER,
)
from diagnosis_operator.core.diagnosis.client_root import clients_cause
from diagnosis_operator.core.diagnosis.costly_clients import find_costly_clients, with_costly
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.traffic_clients import merge_client_counts
from diagnosis_operator.models.findings import AbusiveClient, Anomaly, ClientPattern
from diagnosis_operator.models.signals import Labels, LogCount
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 2_000_000_000.0
STEP = 30.0
STEPS = 120  # an hour
TS = tuple(T0 + STEP * i for i in range(STEPS))
ARRIVES = 60  # the step the costly client starts at
EXPORTER = "192.0.2.77"
USERS = tuple(f"198.51.100.{i}" for i in range(10, 30))


def _count(ip: str, per_step: list[float]) -> LogCount:
    points = [(t, v) for t, v in zip(TS, per_step, strict=True) if v > 0]
    return LogCount(
        labels=Labels({"client": ip}),
        timestamps=tuple(t for t, _ in points),
        values=tuple(v for _, v in points),
    )


def _users(level: float, *, slowed_from: int | None = None) -> list[LogCount]:
    """Every ordinary user's requests per step (or, from ``slowed_from``, their slow ones)."""
    rng = np.random.default_rng(5)
    counts = []
    for ip in USERS:
        per_step = [
            float(rng.poisson(level)) if slowed_from is None or i >= slowed_from else 0.0
            for i in range(STEPS)
        ]
        counts.append(_count(ip, per_step))
    return counts


def _arriving(ip: str, level: float, *, start: int = ARRIVES) -> LogCount:
    return _count(ip, [level if i >= start else 0.0 for i in range(STEPS)])


def test_the_filters_read_the_cost_of_envoy_and_json_nginx_lines() -> None:
    slow = re.compile(SLOW_REQUEST_FILTER)
    big = re.compile(BIG_RESPONSE_FILTER)
    envoy = (
        '[2030-03-01T10:00:00.000Z] "GET /reports/export?year=2029 HTTP/1.1" 200 - 0 '
        '{sent} {duration} {duration} "192.0.2.77" "report-bot/2.1" "id" "api" "10.2.0.4:8080"'
    )
    assert slow.search(envoy.format(sent=5_400_000, duration=4500))
    assert big.search(envoy.format(sent=5_400_000, duration=4500))
    assert not slow.search(envoy.format(sent=2_100, duration=450))
    assert not big.search(envoy.format(sent=2_100, duration=450))
    upload = (
        '{"remote_addr":"203.0.113.40","request":"PUT /files/blob HTTP/1.1","status":200,'
        '"body_bytes_sent":120,"request_time":%s}'
    )
    assert slow.search(upload % "38.204")
    assert not slow.search(upload % "0.204")
    assert not big.search(upload % "38.204")


def test_a_report_exporter_taking_the_big_responses_is_costly() -> None:
    traffic = merge_client_counts([*_users(4.0), _arriving(EXPORTER, 1.0)])
    big = [_arriving(EXPORTER, 1.0), _count(USERS[0], [1.0 if i == 3 else 0.0 for i in TS])]
    found = find_costly_clients(slow_counts=[], big_counts=big, traffic=traffic, step=STEP)
    assert [(c.ip, c.pattern) for c in found] == [(EXPORTER, ClientPattern.COSTLY)]
    assert found[0].first_seen is not None
    assert abs(found[0].first_seen - (TS[ARRIVES] - STEP)) <= STEP
    assert "responses of 100 kB or more" in found[0].reason


def test_the_huge_filter_reads_a_whole_table_in_one_answer() -> None:
    big = re.compile(BIG_RESPONSE_FILTER)
    huge = re.compile(HUGE_RESPONSE_FILTER)
    combined = (
        '2001:db8:7:1::2f - - [01/Mar/2030:10:00:00 +0000] "GET /api/items?limit={n} HTTP/1.1" '
        '200 {sent} "-" "sync-agent/1.4"'
    )
    json_line = '{"remote_addr":"192.0.2.9","status":200,"body_bytes_sent":%d,"request_time":0.4}'
    for line in (combined.format(n=100, sent=640_000), json_line % 640_000):
        assert big.search(line) and not huge.search(line)  # an ordinary listing page
    for line in (combined.format(n=100_000, sent=254_000_000), json_line % 254_000_000):
        assert big.search(line) and huge.search(line)  # the whole table at once


def test_a_client_taking_the_huge_answers_is_costly_where_every_answer_is_big() -> None:
    # every user's listing pages are over 100 kB and, the server busy, over a second:
    # the sync agent's few requests are a small share of both counts, but each of its
    # answers is a hundred times theirs
    agent = "2001:db8:7:1::2f"
    traffic = merge_client_counts([*_users(4.0), _arriving(agent, 0.5)])
    slow = [*_users(3.0, slowed_from=ARRIVES), _arriving(agent, 0.5)]
    big = [*_users(1.0), _arriving(agent, 0.5)]
    huge = [_arriving(agent, 0.5)]
    assert find_costly_clients(slow_counts=slow, big_counts=big, traffic=traffic, step=STEP) == []
    found = find_costly_clients(
        slow_counts=slow, big_counts=big, huge_counts=huge, traffic=traffic, step=STEP
    )
    assert [(c.ip, c.pattern) for c in found] == [(agent, ClientPattern.COSTLY)]
    assert "responses of 10 MB or more" in found[0].reason
    # a client whose huge answers were there before the window's trouble is nothing new
    always = [_arriving(agent, 0.5, start=0)]
    assert (
        find_costly_clients(
            slow_counts=slow, big_counts=big, huge_counts=always, traffic=traffic, step=STEP
        )
        == []
    )


def test_an_edge_counts_each_client_s_huge_answers() -> None:
    from diagnosis_operator.core.diagnosis.collected import HUGE_RESPONSES
    from diagnosis_operator.service.edge_queries import EDGE_EXTRACTIONS

    filters = {q.key: q.line_filter for q in EDGE_EXTRACTIONS}
    assert filters[HUGE_RESPONSES] == HUGE_RESPONSE_FILTER


def test_a_slow_uploader_holding_the_server_is_costly() -> None:
    uploader = "203.0.113.40"
    traffic = merge_client_counts([*_users(3.0), _arriving(uploader, 0.5)])
    slow = [_arriving(uploader, 0.5)]
    found = find_costly_clients(slow_counts=slow, big_counts=[], traffic=traffic, step=STEP)
    assert [c.ip for c in found] == [uploader]


def test_everyone_slowed_alike_is_no_client_s_cost() -> None:
    # a stalled server: every request is slow from the onset on, the busiest client's
    # (a partner's gateway sending two thirds of all requests) most of them
    partner = "192.0.2.200"
    traffic = merge_client_counts([*_users(1.0), _arriving(partner, 40.0, start=0)])
    slow = [*_users(1.0, slowed_from=ARRIVES), _arriving(partner, 40.0)]
    found = find_costly_clients(slow_counts=slow, big_counts=[], traffic=traffic, step=STEP)
    assert found == []
    # the same slow requests from a client that sent few requests single it out
    few = merge_client_counts([*_users(1.0), _arriving(partner, 4.0, start=0)])
    found = find_costly_clients(slow_counts=slow, big_counts=[], traffic=few, step=STEP)
    assert [c.ip for c in found] == [partner]


def test_a_client_as_costly_from_the_start_is_nothing_new() -> None:
    traffic = merge_client_counts([*_users(4.0), _arriving(EXPORTER, 1.0, start=0)])
    big = [_arriving(EXPORTER, 1.0, start=0)]
    assert find_costly_clients(slow_counts=[], big_counts=big, traffic=traffic, step=STEP) == []


def test_a_costly_client_replaces_its_own_retry_loop() -> None:
    costly = AbusiveClient(EXPORTER, "costly", 60, ClientPattern.COSTLY, TS[ARRIVES])
    loop = AbusiveClient(EXPORTER, "loop", 9, ClientPattern.RETRY_LOOP, TS[ARRIVES + 5])
    other = AbusiveClient(USERS[3], "loop", 9, ClientPattern.RETRY_LOOP, TS[ARRIVES + 5])
    assert with_costly([costly], [loop, other]) == [costly, other]


def _evidence(name: str, kind: SignalKind, onset_step: int) -> ComponentEvidence:
    values = np.zeros(STEPS)
    values[onset_step:] = 5.0
    signal = Signal(name, None, "s", "s", kind, "q", values, Labels({}))
    anomaly = Anomaly(
        component=name,
        signal="s",
        instance=None,
        onset=TS[onset_step],
        peak_ts=TS[onset_step],
        value=5.0,
        baseline=0.0,
        score=40.0,
        direction="up",
        query="q",
    )
    return ComponentEvidence(
        component=Component(name, ComponentKind.APP, Labels({"job": name})),
        detections=(Detection(signal=signal, anomaly=anomaly, exceedances=60, peak=5.0),),
    )


def test_a_costly_client_is_the_root_when_its_cost_came_first() -> None:
    costly = AbusiveClient(EXPORTER, "costly", 60, ClientPattern.COSTLY, TS[ARRIVES])
    loop = AbusiveClient(EXPORTER, "loop", 60, ClientPattern.RETRY_LOOP, TS[ARRIVES])
    evidence = {"reports": _evidence("reports", SignalKind.LATENCY, ARRIVES + 1)}
    assert clients_cause(evidence=evidence, clients=[costly], best="reports", tolerance=60.0)
    # a client that only retried its failures is no cause of them
    assert not clients_cause(evidence=evidence, clients=[loop], best="reports", tolerance=60.0)


def test_a_late_costly_client_is_the_root_only_beside_a_component_without_harm() -> None:
    late = AbusiveClient(EXPORTER, "costly", 60, ClientPattern.COSTLY, TS[ARRIVES + 20])
    harmed = {"reports": _evidence("reports", SignalKind.LATENCY, ARRIVES)}
    loaded = {"reports": _evidence("reports", SignalKind.REQUEST_RATE, ARRIVES)}
    assert not clients_cause(evidence=harmed, clients=[late], best="reports", tolerance=60.0)
    assert clients_cause(evidence=loaded, clients=[late], best="reports", tolerance=60.0)


def _proxy_with_lines(*lines: str) -> ComponentEvidence:
    from dataclasses import replace

    from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event

    base = _evidence("edge", SignalKind.ERROR_RATIO, ARRIVES)
    events = tuple(
        read_event(component="edge", instance=None, ts=TS[ARRIVES + 1], line=line, query="q")
        for line in lines
    )
    return replace(
        base,
        component=Component("edge", ComponentKind.PROXY, Labels({"job": "edge"})),
        logs=ComponentLogs(component="edge", events=events),
    )


def test_a_late_costly_client_took_the_slots_a_proxy_ran_out_of() -> None:
    # a client holding requests open: its lines come when each ends, after the proxy's
    # own "worker_connections are not enough" (nginx) — it took the slots
    late = AbusiveClient(EXPORTER, "costly", 60, ClientPattern.COSTLY, TS[ARRIVES + 20])
    out = _proxy_with_lines(
        "2030/01/02 10:00:00 [alert] 7#7: 1024 worker_connections are not enough"
    )
    assert clients_cause(evidence={"edge": out}, clients=[late], best="edge", tolerance=60.0)
    # the same proxy failing otherwise (its upstream timing out) is harmed of its own
    other = _proxy_with_lines(
        "2030/01/02 10:00:00 [error] 7#7: *9 upstream timed out (110: Connection timed out)"
    )
    assert not clients_cause(evidence={"edge": other}, clients=[late], best="edge", tolerance=60.0)
