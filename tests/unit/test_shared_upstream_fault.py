"""A request every upstream refused in turn singles none of them out (issue 10).

When a proxy tries each instance of an upstream and every one fails the request alike
(a certificate the proxy refuses, a shared misconfiguration), its access line lists
every address it tried.  Such a line names all of them, so no instance stands apart
from its siblings and none may be drained.  The lines here are JSON and logfmt access
logs of a payments gateway, not those of any example bundle.
"""

from __future__ import annotations

import json

import numpy as np

from diagnosis_operator.core.diagnosis.affected import find_affected
from diagnosis_operator.core.diagnosis.logs.access import parse_access, upstream_errors
from diagnosis_operator.core.diagnosis.logs.model import LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_900_000_000.0
WINDOW = Window(start=T0, end=T0 + 1800.0)
TS = grid_timestamps(window=WINDOW, step=15.0)
PODS = ("10.44.2.7:9443", "10.44.3.8:9443", "10.44.4.9:9443")
STACK = Topology(
    components=(
        Component("gateway", ComponentKind.PROXY, Labels({"job": "gateway"}), ("payments",)),
        Component("payments", ComponentKind.APP, Labels({"job": "payments"})),
    )
)


def _json_line(status: int, upstreams: str) -> str:
    return json.dumps(
        {
            "remote_addr": "198.51.100.23",
            "request": "POST /v2/charges HTTP/1.1",
            "status": status,
            "request_time": 0.02,
            "upstream_addr": upstreams,
            "upstream_status": "502, 502, 502",
        }
    )


def _event(line: str, ts: float) -> LogEvent:
    return LogEvent(
        component="gateway",
        instance="gw-0",
        ts=ts,
        category=LogCategory.UPSTREAM_ERROR,
        line=line,
        query="q",
        access=parse_access(line),
    )


def test_a_json_line_lists_every_upstream_it_tried() -> None:
    record = parse_access(_json_line(502, ", ".join(PODS)))
    assert record is not None
    assert record.upstream == PODS[0]
    assert record.upstreams == PODS


def test_a_logfmt_line_lists_every_upstream_it_tried_across_groups() -> None:
    line = (
        '203.0.113.9 - - [01/Mar/2030:10:00:00 +0000] "GET /v2/refunds HTTP/1.1" 502 150 '
        f'"-" "curl/8.5" upstream_addr="{PODS[0]}, {PODS[1]} : {PODS[2]}" rt=0.004'
    )
    record = parse_access(line)
    assert record is not None
    assert record.upstreams == PODS


def test_one_upstream_named_is_no_list() -> None:
    record = parse_access(_json_line(502, PODS[1]))
    assert record is not None
    assert record.upstream == PODS[1]
    assert record.upstreams == ()


def test_requests_every_instance_refused_single_none_out() -> None:
    events = [_event(_json_line(502, ", ".join(PODS)), T0 + 600.0 + 5.0 * i) for i in range(200)]
    named = upstream_errors(events)
    assert {address: len(found) for address, found in named.items()} == dict.fromkeys(PODS, 200)
    rng = np.random.default_rng(3)
    signals = [
        Signal(
            "payments",
            pod,
            "latency mean",
            "latency",
            SignalKind.LATENCY,
            "q",
            0.05 * (1.0 + 0.05 * rng.standard_normal(TS.size)),
            Labels({"instance": pod, "job": "payments"}),
        )
        for pod in PODS
    ]
    found = find_affected(
        topology=STACK,
        detections={},
        signals={"payments": signals},
        timestamps=TS,
        upstream_errors={"gateway": {a: len(e) for a, e in named.items()}},
        upstream_seen={"gateway": {a: [e.ts for e in found] for a, found in named.items()}},
        log_horizon={"gateway": max(e.ts for e in events)},
    )
    assert found == []
    # the same lines naming only the first instance they reached single it out
    alone = {PODS[0]: [e.ts for e in events]}
    found = find_affected(
        topology=STACK,
        detections={},
        signals={"payments": signals},
        timestamps=TS,
        upstream_errors={"gateway": {PODS[0]: len(events)}},
        upstream_seen={"gateway": alone},
        log_horizon={"gateway": max(e.ts for e in events)},
    )
    assert [f.instance.instance for f in found] == [PODS[0]]
