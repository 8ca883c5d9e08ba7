"""A route served to every client and then refused to all of them (404...): harm, not misses.

Vocabulary other than the round-10 lab recording's: an Apache combined line, Envoy's
default format, Traefik's JSON, routes ``/v2/carts`` and ``/shop/basket``, clients of
documentation ranges, a 20 s step.
"""

from __future__ import annotations

import json
import re

import numpy as np

from diagnosis_operator.adapters.bundle.regex_dialect import check_common_regex
from diagnosis_operator.catalog.failure_modes import modes_of
from diagnosis_operator.catalog.routes import (
    ROUTE_CLIENT_PATTERN,
    ROUTE_LOST_FILTER,
    ROUTE_REFUSAL_SIGNAL,
    ROUTE_STATUS_PATTERN,
)
from diagnosis_operator.core.diagnosis.collected import ROUTE_REFUSALS, ROUTE_STATUSES
from diagnosis_operator.core.diagnosis.modes import mode_name, rank_modes
from diagnosis_operator.core.diagnosis.route_refusals import backend_route_signals, switch_step
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import build_signals
from diagnosis_operator.models.signals import ComponentSignals, Labels, LogCount, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

STEP = 20.0
START = 1_900_000_000.0
STEPS = 18  # 6 minutes
SWITCH = 10  # the step the new rule took effect
USERS = ("198.51.100.7", "198.51.100.8", "203.0.113.20", "203.0.113.21", "192.0.2.90")

APACHE = (
    '198.51.100.7 - - [07/Mar/2031:10:00:01 +0000] "GET /v2/carts/88 HTTP/1.1" 404 196 "-" "ua"'
)
ENVOY = (
    '[2031-03-07T10:00:01.000Z] "DELETE /shop/basket?item=2 HTTP/2" 405 - 0 0 1 - '
    '"203.0.113.20, 10.0.0.1" "okhttp/4" "id" "shop.example" "10.4.0.7:8080"'
)
TRAEFIK = json.dumps(
    {
        "ClientHost": "192.0.2.90",
        "DownstreamStatus": 404,
        "OriginStatus": 404,
        "RequestMethod": "GET",
        "RequestPath": "/v2/carts/17",
    }
)


def _groups(pattern: str, line: str) -> dict[str, str]:
    match = check_common_regex(pattern).search(line)
    assert match is not None, line
    return {k: v for k, v in match.groupdict().items() if v}


def test_the_route_patterns_read_the_usual_access_formats() -> None:
    assert _groups(ROUTE_STATUS_PATTERN, APACHE) == {"route": "/v2/carts", "status": "404"}
    assert _groups(ROUTE_STATUS_PATTERN, ENVOY) == {"route": "/shop/basket", "status": "405"}
    assert _groups(ROUTE_STATUS_PATTERN, TRAEFIK) == {"troute": "/v2/carts", "tstatus": "404"}
    assert _groups(ROUTE_CLIENT_PATTERN, APACHE) == {"client": "198.51.100.7", "route": "/v2/carts"}
    assert _groups(ROUTE_CLIENT_PATTERN, ENVOY) == {
        "froute": "/shop/basket",
        "fclient": "203.0.113.20",
    }
    assert _groups(ROUTE_CLIENT_PATTERN, TRAEFIK) == {
        "tclient": "192.0.2.90",
        "troute": "/v2/carts",
    }
    for line in (APACHE, ENVOY, TRAEFIK):
        assert re.search(ROUTE_LOST_FILTER, line)
    for refused_by_design in ("401", "403", "429", "499"):
        assert not re.search(ROUTE_LOST_FILTER, APACHE.replace('" 404 ', f'" {refused_by_design} '))


def _count(labels: dict[str, str], per_step: list[float]) -> LogCount:
    stamps = [START + STEP * i for i, v in enumerate(per_step) if v]
    values = [v for v in per_step if v]
    return LogCount(labels=Labels(labels), timestamps=tuple(stamps), values=tuple(values))


def _steps(before: float, after: float) -> list[float]:
    return [before if i < SWITCH else after for i in range(STEPS)]


def _extracted(
    *, route_ok: list[float], route_lost: list[float], refusals: dict[str, list[float]]
) -> dict[str, tuple[LogCount, ...]]:
    statuses = (
        _count({"route": "/v2/carts", "status": "200"}, route_ok),
        _count({"route": "/v2/carts", "status": "404"}, route_lost),
        _count({"route": "/v2/orders", "status": "200"}, [12.0] * STEPS),
        _count({"route": "", "status": ""}, [3.0] * STEPS),  # its error log's lines
    )
    clients = tuple(
        _count({"client": client, "route": "/v2/carts"}, counts)
        for client, counts in refusals.items()
    )
    return {ROUTE_STATUSES: statuses, ROUTE_REFUSALS: clients}


def _signals(extracted: dict[str, tuple[LogCount, ...]]) -> list[Signal]:
    component = ComponentSignals(component="edge", extracted=extracted)
    window = Window(start=START, end=START + STEP * (STEPS - 1))
    return [
        s
        for s in build_signals(component=component, window=window, step=STEP)
        if s.name == ROUTE_REFUSAL_SIGNAL
    ]


def test_a_served_route_refused_to_every_client_is_an_error_ratio_of_the_edge() -> None:
    per_user = _steps(0.0, 6.0)
    extracted = _extracted(
        route_ok=_steps(30.0, 0.0),
        route_lost=_steps(0.0, 30.0),
        refusals=dict.fromkeys(USERS, per_user),
    )
    (signal,) = _signals(extracted)
    assert signal.kind is SignalKind.ERROR_RATIO
    values = np.asarray(signal.values)
    assert np.allclose(values[1:SWITCH], 0.0) and np.allclose(values[SWITCH:], 1.0)
    assert "/v2/carts" in signal.query
    assert "/v2/orders" not in signal.query


def test_the_switch_is_where_the_refused_share_rises() -> None:
    requests = np.asarray(_steps(30.0, 30.0))
    refused = np.asarray(_steps(1.0, 27.0))
    assert switch_step(requests, refused) == SWITCH


def test_a_scanner_s_404s_on_paths_never_served_are_no_harm() -> None:
    """A word list walked by one address: every probed route is new, refused from its start."""
    probes = tuple(
        _count({"route": f"/{word}", "status": "404"}, [0.0] * SWITCH + [5.0] * (STEPS - SWITCH))
        for word in ("wp-admin", "phpmyadmin", ".env", "admin", "backup")
    )
    served = _count({"route": "/v2/carts", "status": "200"}, [30.0] * STEPS)
    scanner = tuple(
        _count({"client": "192.0.2.66", "route": f"/{word}"}, _steps(0.0, 5.0))
        for word in ("wp-admin", "phpmyadmin", ".env", "admin", "backup")
    )
    assert _signals({ROUTE_STATUSES: (*probes, served), ROUTE_REFUSALS: scanner}) == []


def test_a_steady_share_of_404s_on_a_route_is_no_harm() -> None:
    """Missing ids asked all along by every client: the refused share does not switch."""
    extracted = _extracted(
        route_ok=[24.0] * STEPS,
        route_lost=[6.0] * STEPS,
        refusals={user: [1.2] * STEPS for user in USERS},
    )
    assert _signals(extracted) == []


def test_one_client_s_own_misses_on_a_served_route_are_no_harm() -> None:
    """One crawler asking for ids that do not exist outnumbers the users on that route."""
    extracted = _extracted(
        route_ok=[10.0] * STEPS,
        route_lost=_steps(0.0, 40.0),
        refusals={"192.0.2.66": _steps(0.0, 39.0), USERS[0]: _steps(0.0, 1.0)},
    )
    assert _signals(extracted) == []


def test_the_proxy_s_refused_routes_name_its_route_misconfiguration() -> None:
    fits = rank_modes(
        modes_of(("proxy",)),
        metric_names=[ROUTE_REFUSAL_SIGNAL],
        own_lines=[
            "2031/03/07 10:00:00 [notice] 1#1: signal 1 (SIGHUP) received from 9, reconfiguring"
        ],
        caller_lines=[],
    )
    assert "misconfiguration" in str(mode_name(fits))


def _rate(component: str, route: str, code: str, per_step: list[float]) -> Signal:
    return Signal(
        component=component,
        instance="10.4.0.7:8080",
        name="http_server_requests_total rate",
        family="http_server_requests",
        kind=SignalKind.RATE,
        query="",
        values=np.asarray(per_step) / STEP,
        labels=Labels({"uri": route, "status": code, "instance": "10.4.0.7:8080"}),
    )


def _edge_and_backend(backend: list[Signal]) -> dict[str, list[Signal]]:
    per_user = _steps(0.0, 6.0)
    extracted = _extracted(
        route_ok=_steps(30.0, 0.0),
        route_lost=_steps(0.0, 30.0),
        refusals=dict.fromkeys(USERS, per_user),
    )
    return {"edge": _signals(extracted), "carts": backend}


def _topology() -> Topology:
    return Topology(
        components=(
            Component(
                name="edge",
                kind=ComponentKind.PROXY,
                selector=Labels({"job": "edge"}),
                depends_on=("carts",),
            ),
            Component(name="carts", kind=ComponentKind.APP, selector=Labels({"job": "carts"})),
        )
    )


def test_a_backend_refusing_the_clients_own_paths_refused_them_itself() -> None:
    """Its counter: ``/v2/carts/{id}`` served, then 404 for the same route (its release)."""
    backend = [
        _rate("carts", "/v2/carts/{id}", "200", _steps(30.0, 0.0)),
        _rate("carts", "/v2/carts/{id}", "404", _steps(0.0, 30.0)),
    ]
    found = backend_route_signals(
        topology=_topology(), signals=_edge_and_backend(backend), step=STEP
    )
    (signal,) = found["carts"]
    assert signal.name == ROUTE_REFUSAL_SIGNAL and signal.kind is SignalKind.ERROR_RATIO


def test_a_backend_sent_other_paths_did_not_refuse_the_clients_paths() -> None:
    """Its 404s on a path no client sent: the edge rewrote them (the edge stays the root)."""
    backend = [
        _rate("carts", "/v2/carts/{id}", "200", _steps(30.0, 0.0)),
        _rate("carts", "other", "404", _steps(0.0, 30.0)),
    ]
    found = backend_route_signals(
        topology=_topology(), signals=_edge_and_backend(backend), step=STEP
    )
    assert found == {}
