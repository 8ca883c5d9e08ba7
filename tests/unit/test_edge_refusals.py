"""A proxy refusing users by itself: no server left to send to, its own rate limit's 429s.

Vocabulary other than the held-out bundles': an HAProxy backend of another name and its
syslog header, Envoy's "no healthy upstream" (default text format and JSON), a Traefik
line of a 503 and of a middleware's 429 with other addresses, a 429 ratio of an
ingress-style ``status`` label (not Traefik's ``code``).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from diagnosis_operator.adapters.bundle._line_filter import LineFilters
from diagnosis_operator.catalog.failure_modes import FAILURE_MODES, modes_of
from diagnosis_operator.catalog.modes_edge import NO_UPSTREAM_LEFT, RATE_LIMIT_RATIO
from diagnosis_operator.core.diagnosis.derived import derived_signals
from diagnosis_operator.core.diagnosis.logs import SIGNIFICANT_FILTER, parse_access
from diagnosis_operator.core.diagnosis.modes import mode_name, rank_modes
from diagnosis_operator.core.diagnosis.signal_types import SignalKind
from diagnosis_operator.models.bundle import StoredStream
from diagnosis_operator.models.signals import Labels

HAPROXY_NOSRV = (
    "Mar  3 10:41:07 lb-2 haproxy[911]: 203.0.113.77:51022 [03/Mar/2033:10:41:07.311] "
    "www_front api_back/<NOSRV> 0/-1/-1/-1/0 503 216 - - SC-- 40/40/0/0/0 0/0 "
    '"GET /v2/orders HTTP/1.1"'
)
HAPROXY_NO_SERVER = "Mar  3 10:41:05 lb-2 haproxy[911]: backend api_back has no server available!"
HAPROXY_SERVED = HAPROXY_NOSRV.replace(
    "api_back/<NOSRV> 0/-1/-1/-1/0 503 216", "api_back/s1 0/0/1/12/13 200 916"
).replace("SC--", "----")
HAPROXY_CLIENT_TIMEOUT = HAPROXY_NOSRV.replace(
    "0/-1/-1/-1/0 503 216 - - SC--", "-1/-1/-1/-1/5001 408 212 - - cR--"
)
ENVOY_UH = (
    '[2033-03-03T10:41:07.311Z] "GET /v2/orders HTTP/1.1" 503 UH 0 19 0 - "10.2.3.4" '
    '"okhttp/4.12.0" "9f1c" "orders.internal" "-"'
)
ENVOY_UH_JSON = json.dumps(
    {"response_code": 503, "response_flags": "UH", "path": "/v2/orders", "upstream_host": None}
)
TRAEFIK_429 = json.dumps(
    {
        "ClientHost": "192.0.2.44",
        "DownstreamStatus": 429,
        "Duration": 180000,
        "OriginStatus": 0,
        "RequestMethod": "POST",
        "RequestPath": "/api/tickets",
        "ServiceURL": "",
        "request_User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
    }
)
TRAEFIK_502 = json.dumps(
    {
        "ClientHost": "2001:db8::7",
        "DownstreamStatus": 502,
        "Duration": 1500000000,
        "OriginStatus": 502,
        "RequestMethod": "GET",
        "RequestPath": "/",
        "ServiceURL": "http://10.20.30.40:8080",
    }
)


@pytest.mark.parametrize(
    "line", [HAPROXY_NOSRV, HAPROXY_NO_SERVER, TRAEFIK_502, ENVOY_UH, ENVOY_UH_JSON]
)
def test_a_proxy_with_no_server_left_and_traefiks_5xx_are_significant_lines(line: str) -> None:
    """The collector's filter keeps them, and so does the bundle's prefiltered line filter."""
    assert re.search(SIGNIFICANT_FILTER, line)
    stream = StoredStream(
        labels=Labels({"job": "lb"}),
        timestamps_ns=np.arange(3, dtype=np.int64),
        lines=(HAPROXY_SERVED, line, HAPROXY_SERVED),
    )
    kept = LineFilters().matching(stream, SIGNIFICANT_FILTER, re.compile(SIGNIFICANT_FILTER))
    assert kept.tolist() == [1]


@pytest.mark.parametrize("line", [HAPROXY_SERVED, HAPROXY_CLIENT_TIMEOUT, TRAEFIK_429])
def test_served_requests_client_timeouts_and_429s_are_not_significant(line: str) -> None:
    assert not re.search(SIGNIFICANT_FILTER, line)


def test_traefiks_json_access_fields_are_read() -> None:
    refused = parse_access(TRAEFIK_429)
    assert refused is not None
    assert (refused.client, refused.method, refused.path, refused.status) == (
        "192.0.2.44",
        "POST",
        "/api/tickets",
        429,
    )
    assert refused.latency == pytest.approx(180e-6)  # Duration is in nanoseconds
    assert refused.upstream is None and refused.upstream_field  # a middleware answered
    assert refused.agent is not None and refused.agent.startswith("Mozilla/5.0")
    relayed = parse_access(TRAEFIK_502)
    assert relayed is not None and relayed.status == 502
    assert relayed.upstream == "10.20.30.40:8080" and relayed.latency == pytest.approx(1.5)


def test_the_catalogue_says_no_server_left_in_haproxy_and_envoy_terms() -> None:
    regexes = [re.compile(p, re.IGNORECASE) for p in NO_UPSTREAM_LEFT]
    for line in (HAPROXY_NOSRV, HAPROXY_NO_SERVER, ENVOY_UH, ENVOY_UH_JSON):
        assert any(r.search(line) for r in regexes), line
    for line in (HAPROXY_SERVED, HAPROXY_CLIENT_TIMEOUT, TRAEFIK_502):
        assert not any(r.search(line) for r in regexes), line
    names = {m.name for m in FAILURE_MODES if m.kind == "proxy"}
    assert any(n.startswith("health check misconfiguration") for n in names)
    assert any(n.startswith("rate limit misconfiguration") for n in names)


def test_a_proxy_saying_it_has_no_server_left_is_named_a_health_check_misconfiguration() -> None:
    fits = rank_modes(
        modes_of(("proxy",)),
        metric_names=[],
        own_lines=[ENVOY_UH] * 8 + [HAPROXY_NO_SERVER],
        caller_lines=[],
    )
    assert (mode_name(fits) or "").startswith("health check misconfiguration")


def test_own_429_answers_name_a_rate_limit_misconfiguration() -> None:
    """Traefik's 429 that no service gave, Envoy's local rate limit: the proxy's own."""
    envoy_rl = ENVOY_UH.replace("503 UH", "429 RL")
    fits = rank_modes(
        modes_of(("proxy",)),
        metric_names=[],
        own_lines=[TRAEFIK_429] * 5 + [envoy_rl] * 5,
        caller_lines=[],
    )
    assert (mode_name(fits) or "").startswith("rate limit misconfiguration")
    relayed = rank_modes(
        modes_of(("proxy",)), metric_names=[], own_lines=[TRAEFIK_502] * 9, caller_lines=[]
    )
    assert not (mode_name(relayed) or "").startswith("rate limit")


def test_a_rising_429_ratio_is_named_a_rate_limit_misconfiguration() -> None:
    assert re.search(RATE_LIMIT_RATIO, "nginx_ingress_controller_requests 429 ratio")
    fits = rank_modes(
        modes_of(("proxy",)),
        metric_names=["nginx_ingress_controller_requests 429 ratio"],
        own_lines=[],
        caller_lines=[],
    )
    assert (mode_name(fits) or "").startswith("rate limit misconfiguration")


def _rates(refused: float) -> dict[tuple[str, Labels], np.ndarray]:
    base = {"job": "ingress", "instance": "10.0.0.9:10254"}
    return {
        ("nginx_ingress_controller_requests", Labels({**base, "status": "200"})): np.full(8, 9.0),
        ("nginx_ingress_controller_requests", Labels({**base, "status": "429"})): np.array(
            [0.0] * 4 + [refused] * 4
        ),
    }


def test_a_429_ratio_is_derived_from_a_status_labelled_counter() -> None:
    signals = derived_signals("ingress", _rates(3.0), 15.0, pods={})
    ratio = [s for s in signals if s.name.endswith(" 429 ratio")]
    assert len(ratio) == 1 and ratio[0].kind is SignalKind.ERROR_RATIO
    assert ratio[0].values.tolist() == [0.0] * 4 + [0.25] * 4
    five = next(s for s in signals if s.name.endswith(" 5xx ratio"))
    assert np.nanmax(five.values) == 0.0  # a 429 is no 5xx
    no_429 = {key: values for key, values in _rates(3.0).items() if key[1]["status"] == "200"}
    assert not [s for s in derived_signals("ingress", no_429, 15.0, pods={}) if "429" in s.name]
