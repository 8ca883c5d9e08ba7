"""Callers of a failing dependency are its victims; edge formats that name the client."""

from __future__ import annotations

import json
import re

from diagnosis_operator.core.diagnosis.logs import (
    ACCESS_PATTERN,
    NETWORK_PATTERN,
    parse_access,
    read_event,
)
from diagnosis_operator.core.diagnosis.tight_loops import share_rose
from diagnosis_operator.core.diagnosis.traffic_clients import ClientTraffic, find_abusive_clients
from diagnosis_operator.models.signals import Labels, LogCount

STEPS = tuple(float(1000 + 15 * i) for i in range(40))
ONSET = STEPS[20]
BIG = "192.0.2.200"


def _failure(ts: float, client: str) -> object:
    line = json.dumps(
        {"client_ip": client, "status_code": 504, "http_request": "POST /api/query HTTP/1.1"}
    )
    return read_event(component="lb", instance=None, ts=ts, line=line, query="")


def _fleet(big_after: float) -> tuple[list[LogCount], list[object]]:
    """Nine small callers and a big one (10 a step before the onset, ``big_after`` after),
    all failing on the one request they all send, in proportion to what they send."""
    callers = {f"192.0.2.{n}": (2.0, 2.0) for n in range(1, 10)} | {BIG: (10.0, big_after)}
    counts, events = [], []
    for ip, (before, after) in callers.items():
        per_step = tuple(before if ts <= ONSET else after for ts in STEPS)
        counts.append(LogCount(Labels({"jclient": ip}), STEPS, per_step))
        failures = int(after * 2)
        events += [_failure(ONSET + 1 + 280 * i / failures, ip) for i in range(failures)]
    return counts, events


def _abusive(counts: list[LogCount], events: list[object]) -> list[tuple[str, str]]:
    found = find_abusive_clients(
        client_counts=counts,
        retry_counts=[],
        retry_step=1.0,
        access_events=events,  # type: ignore[arg-type]
        step=15.0,
    )
    return [(c.ip, c.pattern.value) for c in found]


def test_a_big_caller_failing_like_every_other_caller_is_no_retry_loop() -> None:
    # the busiest caller repeats the most failures only because it sends the most
    assert _abusive(*_fleet(big_after=10.0)) == []


def test_a_caller_whose_share_rose_with_its_failures_is_still_a_retry_loop() -> None:
    assert _abusive(*_fleet(big_after=25.0)) == [(BIG, "retry-loop")]


def test_a_share_rises_from_nothing_and_cannot_be_judged_without_a_baseline() -> None:
    steady = ClientTraffic(ip="a", timestamps=STEPS, counts=(5.0,) * 40)
    arrived = ClientTraffic(ip="b", timestamps=STEPS, counts=(0.0,) * 20 + (5.0,) * 20)
    assert share_rose([steady, arrived], "b", since=ONSET)
    assert not share_rose([steady, arrived], "a", since=ONSET)
    assert share_rose([steady], "a", since=STEPS[0] - 1)  # nothing before: no baseline
    assert share_rose([steady], "unlisted", since=ONSET)


TRAEFIK = json.dumps(
    {
        "ClientAddr": "[2001:db8:61a:7b00:5c3e:9d2a:10f:4b7]:50133",
        "ClientHost": "2001:db8:61a:7b00:5c3e:9d2a:10f:4b7",
        "DownstreamStatus": 504,
        "Duration": 1324171537,
        "RequestMethod": "GET",
        "RequestPath": "/api/availability?nights=7",
        "request_User-Agent": "loadtester/1.0",
    }
)


def test_traefik_json_access_lines_name_their_client_request_and_nanosecond_duration() -> None:
    record = parse_access(TRAEFIK)
    assert record is not None
    assert record.client == "2001:db8:61a:7b00:5c3e:9d2a:10f:4b7"
    assert (record.method, record.path, record.status) == ("GET", "/api/availability?nights=7", 504)
    assert record.agent == "loadtester/1.0"
    assert record.latency is not None and abs(record.latency - 1.324) < 0.001
    # whole IPv6 address, not its bracketed form with the port
    client = re.search(ACCESS_PATTERN, TRAEFIK)
    assert client is not None and client.group("jclient") == "2001:db8:61a:7b00:5c3e:9d2a:10f:4b7"
    network = re.search(NETWORK_PATTERN, TRAEFIK)
    assert network is not None and network.group("jnet") == "2001:db8:61a:7b00:"


def test_a_json_duration_stays_in_seconds_outside_formats_that_count_nanoseconds() -> None:
    record = parse_access(json.dumps({"remote_addr": "192.0.2.1", "status": 200, "duration": 1.5}))
    assert record is not None and record.latency == 1.5


def test_haproxy_json_names_its_request_line_http_request() -> None:
    line = json.dumps(
        {"client_ip": "192.0.2.9", "status_code": 504, "http_request": "POST /q HTTP/1.1"}
    )
    record = parse_access(line)
    assert record is not None and (record.method, record.path) == ("POST", "/q")
