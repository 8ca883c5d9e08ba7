"""A proxy's own access rules refusing most of the clients it served (403): harm, its root.

Refusing one address or a few (a scanner, a banned client) is the rule working.
Vocabulary other than the round-11 lab recordings': Envoy's RBAC, HAProxy's deny, Traefik's
allow list, an Apache combined line, routes ``/v3/quotes`` and ``/v3/rates``, clients of
documentation ranges, a 20 s step.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from diagnosis_operator.catalog.failure_modes import modes_of
from diagnosis_operator.catalog.routes import RULE_REFUSAL_SIGNAL, RULE_REFUSED_FILTER
from diagnosis_operator.core.diagnosis.collected import CLIENTS, ROUTE_STATUSES, RULE_REFUSALS
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.modes import mode_name, rank_modes
from diagnosis_operator.core.diagnosis.rule_refusals import is_rule_refusal, rules_refusing
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import build_signals
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    LogLine,
    LogStream,
    Window,
)
from diagnosis_operator.models.topology import Component, ComponentKind

STEP = 20.0
START = 1_900_000_000.0
STEPS = 18
SWITCH = 10
USERS = ("198.51.100.7", "198.51.100.8", "203.0.113.20", "203.0.113.21", "192.0.2.90")

RULE_LINES = [
    '[2031-03-07T10:00:01.000Z] "GET /v3/quotes HTTP/1.1" 403 - rbac_access_denied_matched_'
    'policy[none] 0 19 0 - "198.51.100.7" "curl/8" "id" "q.example" "-"',
    "Mar  7 10:00:01 lb haproxy[311]: 203.0.113.20:51234 [07/Mar/2031:10:00:01.120] "
    'www~ api/<NOSRV> 0/-1/-1/-1/0 403 192 - - PR-- 1/1/0/0/0 0/0 "GET /v3/rates HTTP/1.1"',
    json.dumps(
        {"level": "debug", "middlewareType": "IPAllowLister", "msg": "Rejecting IP 192.0.2.9"}
    ),
    "2031/03/07 10:00:01 [error] 31#31: *88 access forbidden by rule, client: 192.0.2.9, "
    'server: q.example, request: "GET /v3/quotes HTTP/1.1"',
]
OTHER_LINES = [
    "Error 1045 (28000): Access denied for user 'quotes'@'10.8.3.17' (using password: YES)",
    'level=warn msg="token rejected" error="token is expired"',
    "2031/03/07 10:00:01 [error] 31#31: *90 upstream timed out (110: Connection timed out)",
    "Mar  7 10:00:01 lb haproxy[311]: 203.0.113.20:51234 [07/Mar/2031:10:00:01.120] "
    'www~ api/q1 0/0/1/2/3 403 192 - - ---- 1/1/0/0/0 0/0 "GET /v3/rates HTTP/1.1"',
]


@pytest.mark.parametrize("line", RULE_LINES)
def test_the_proxies_own_rule_refusals_are_recognised(line: str) -> None:
    assert is_rule_refusal(line)


@pytest.mark.parametrize("line", OTHER_LINES)
def test_other_refusals_and_errors_are_no_rule_refusals(line: str) -> None:
    assert not is_rule_refusal(line)


def test_the_refused_filter_reads_403_in_text_and_json_access_lines() -> None:
    apache = '198.51.100.7 - - [07/Mar/2031:10:00:01 +0000] "GET /v3/quotes HTTP/1.1" 403 9 "-"'
    assert re.search(RULE_REFUSED_FILTER, apache)
    assert re.search(RULE_REFUSED_FILTER, '{"request":"GET /v3/rates HTTP/1.1","status":403}')
    assert not re.search(RULE_REFUSED_FILTER, apache.replace('" 403 ', '" 404 '))
    assert not re.search(RULE_REFUSED_FILTER, '{"request":"GET /","status":4031}')


def _count(labels: dict[str, str], per_step: list[float]) -> LogCount:
    stamps = [START + STEP * i for i, v in enumerate(per_step) if v]
    values = [v for v in per_step if v]
    return LogCount(labels=Labels(labels), timestamps=tuple(stamps), values=tuple(values))


def _steps(before: float, after: float) -> list[float]:
    return [before if i < SWITCH else after for i in range(STEPS)]


def _extracted(
    refused: dict[str, list[float]], served: dict[str, list[float]]
) -> dict[str, tuple[LogCount, ...]]:
    """``/v3/quotes``: every client served 200 before; ``refused`` 403 since the switch."""
    lost = np.sum([v for v in refused.values()], axis=0).tolist()
    ok = [30.0 - x for x in lost]
    statuses = (
        _count({"route": "/v3/quotes", "status": "200"}, ok),
        _count({"route": "/v3/quotes", "status": "403"}, lost),
        _count({"route": "/v3/rates", "status": "200"}, [12.0] * STEPS),
    )
    rejected = tuple(_count({"client": c, "route": "/v3/quotes"}, v) for c, v in refused.items())
    clients = tuple(_count({"client": c}, v) for c, v in {**served, **refused}.items())
    return {ROUTE_STATUSES: statuses, RULE_REFUSALS: rejected, CLIENTS: clients}


def _signals(extracted: dict[str, tuple[LogCount, ...]], lines: list[str]) -> list[Signal]:
    streams = (LogStream(Labels({"job": "lb"}), tuple(LogLine(START, x) for x in lines)),)
    component = ComponentSignals(component="lb", extracted=extracted, log_samples=streams)
    window = Window(start=START, end=START + STEP * (STEPS - 1))
    return [
        s
        for s in build_signals(component=component, window=window, step=STEP)
        if s.name == RULE_REFUSAL_SIGNAL
    ]


def test_the_rules_refusing_every_client_it_served_are_an_error_ratio() -> None:
    """A CIDR typo: the deny covers the whole range its users come from."""
    extracted = _extracted(dict.fromkeys(USERS, _steps(0.0, 6.0)), {})
    (signal,) = _signals(extracted, RULE_LINES[:1])
    assert signal.kind is SignalKind.ERROR_RATIO
    values = np.asarray(signal.values)
    assert np.allclose(values[1:SWITCH], 0.0) and np.allclose(values[SWITCH:], 1.0)
    assert "/v3/quotes" in signal.query and "/v3/rates" not in signal.query


def test_403s_without_the_proxy_s_own_rule_lines_are_not_its_rules() -> None:
    """The upstream's own 403s (an expired credential) are judged elsewhere."""
    extracted = _extracted(dict.fromkeys(USERS, _steps(0.0, 6.0)), {})
    assert _signals(extracted, OTHER_LINES) == []


def test_a_few_banned_addresses_among_many_clients_are_the_rule_working() -> None:
    """Two abusive addresses banned: most of the clients seen since are still served."""
    banned = {"192.0.2.66": _steps(0.0, 9.0), "192.0.2.67": _steps(0.0, 8.0)}
    others = {f"198.51.100.{n}": [1.0] * STEPS for n in range(10, 20)}
    assert _signals(_extracted(banned, others), RULE_LINES[:1]) == []


def test_a_scanner_refused_on_paths_never_served_is_the_rule_working() -> None:
    probes = tuple(
        _count({"route": f"/{w}", "status": "403"}, _steps(0.0, 4.0)) for w in (".env", ".git")
    )
    served = _count({"route": "/v3/quotes", "status": "200"}, [30.0] * STEPS)
    scanner = tuple(
        _count({"client": "192.0.2.66", "route": f"/{w}"}, _steps(0.0, 4.0))
        for w in (".env", ".git")
    )
    extracted = {ROUTE_STATUSES: (*probes, served), RULE_REFUSALS: scanner}
    assert _signals(extracted, RULE_LINES[:1]) == []


def test_the_rules_refusing_the_clients_name_an_access_rule_misconfiguration() -> None:
    fits = rank_modes(
        modes_of(("proxy",)),
        metric_names=[RULE_REFUSAL_SIGNAL],
        own_lines=RULE_LINES[:1],
        caller_lines=[],
    )
    assert "access rule misconfiguration" in str(mode_name(fits))


def _lines_rose(lines: list[str]) -> tuple[ComponentEvidence, Detection]:
    """The proxy's error/warn lines rose from the switch (``lines``: what they say)."""
    component = Component("lb", ComponentKind.PROXY, Labels({"job": "lb"}), ("api",))
    values = np.zeros(STEPS)
    values[SWITCH:] = 20.0
    onset = START + STEP * SWITCH
    signal = Signal(
        component="lb",
        instance="10.0.0.3:80",
        name="error/warn log lines",
        family="log:significant",
        kind=SignalKind.LOG_SIGNIFICANT,
        query="q",
        values=values,
        labels=Labels({"job": "lb", "instance": "10.0.0.3:80"}),
    )
    anomaly = Anomaly(
        component="lb",
        signal=signal.name,
        instance=signal.instance,
        onset=onset,
        peak_ts=onset,
        value=20.0,
        baseline=0.0,
        score=100.0,
        direction="up",
        query="q",
    )
    detection = Detection(signal=signal, anomaly=anomaly, exceedances=8, peak=20.0)
    events = tuple(
        read_event(component="lb", instance="10.0.0.3:80", ts=onset + i, line=x, query="")
        for i, x in enumerate(lines * 10)
    )
    logs = ComponentLogs(component="lb", events=events)
    return ComponentEvidence(component=component, detections=(detection,), logs=logs), detection


def test_error_lines_of_the_rules_refusing_a_scanner_are_no_incident() -> None:
    ev, detection = _lines_rose(RULE_LINES[3:])
    assert rules_refusing(ev, detection)
    window = Window(start=START, end=START + STEP * (STEPS - 1))
    assert not incident_gate(evidence={"lb": ev}, window=window, step=STEP).incident


def test_the_proxy_s_own_errors_among_rule_refusals_stay_a_symptom() -> None:
    ev, detection = _lines_rose(RULE_LINES[3:] + OTHER_LINES[2:3] * 2)
    assert not rules_refusing(ev, detection)
    window = Window(start=START, end=START + STEP * (STEPS - 1))
    assert incident_gate(evidence={"lb": ev}, window=window, step=STEP).incident
