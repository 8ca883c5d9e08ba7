"""Client traffic: floods and tight retry loops, from Loki-style counts and sampled lines."""

from __future__ import annotations

import re

from diagnosis_operator.core.diagnosis.logs import ACCESS_PATTERN, NETWORK_PATTERN, read_event
from diagnosis_operator.core.diagnosis.traffic_clients import (
    find_abusive_clients,
    find_floods,
    merge_client_counts,
    network_of,
)
from diagnosis_operator.models.findings import ClientPattern
from diagnosis_operator.models.signals import Labels, LogCount

STEPS = tuple(float(1000 + 15 * i) for i in range(40))


def counts(ip: str, per_step: list[float], *, json_form: bool = False) -> LogCount:
    label = "jclient" if json_form else "client"
    return LogCount(Labels({label: ip}), STEPS[: len(per_step)], tuple(per_step))


def test_one_client_far_above_the_rest_is_a_flood() -> None:
    normal = [counts(f"10.0.0.{i}", [3.0] * 40) for i in range(1, 9)]
    flood = counts("198.51.100.7", [3.0] * 20 + [400.0] * 20)
    found = find_floods(traffic=merge_client_counts([*normal, flood]), step=15.0)
    assert [c.ip for c in found] == ["198.51.100.7"]
    assert found[0].pattern is ClientPattern.FLOOD
    assert found[0].first_seen == STEPS[20] - 15.0


def test_even_traffic_is_no_flood_and_text_and_json_groups_merge() -> None:
    even = [counts(f"10.0.0.{i}", [5.0] * 40) for i in range(1, 6)]
    even.append(counts("10.0.0.1", [5.0] * 40, json_form=True))
    traffic = merge_client_counts(even)
    assert len(traffic) == 5
    assert traffic[0].ip == "10.0.0.1" and traffic[0].total == 400.0
    assert find_floods(traffic=traffic, step=15.0) == []


def _access(ip: str, ts: float, path: str = "/x", status: int = 502) -> str:
    return (
        f'{ip} - - [01/Jan/2030:00:00:00 +0000] "GET {path} HTTP/1.1" {status} 0 "-" "bot/1" rt=2.0'
    )


def test_identical_failing_requests_within_a_second_are_a_retry_loop() -> None:
    lines = [_access("203.0.113.9", 5000.0 + i * 0.1) for i in range(6)]
    lines += [_access("203.0.113.10", 5000.0 + i * 10.0) for i in range(6)]  # slow, not a loop
    stamps = [5000.0 + i * 0.1 for i in range(6)] + [5000.0 + i * 10.0 for i in range(6)]
    events = [
        read_event(component="edge", instance=None, ts=ts, line=line, query="q")
        for ts, line in zip(stamps, lines, strict=True)
    ]
    found = find_abusive_clients(
        client_counts=[], retry_counts=[], retry_step=1.0, access_events=events, step=15.0
    )
    assert [(c.ip, c.requests, c.pattern) for c in found] == [
        ("203.0.113.9", 6, ClientPattern.RETRY_LOOP)
    ]


def test_retry_loop_from_fine_grained_counts() -> None:
    retry = LogCount(
        Labels({"client": "192.0.2.44", "request": "POST /login HTTP/1.1", "agent": "curl/8"}),
        (7000.0, 7001.0),
        (2.0, 9.0),
    )
    found = find_abusive_clients(
        client_counts=[], retry_counts=[retry], retry_step=1.0, access_events=[], step=15.0
    )
    assert len(found) == 1 and found[0].requests == 9 and "POST /login" in found[0].reason


def _envoy(client: str, ts: str = "2030-01-01T00:00:00.000Z", status: int = 503) -> str:
    # Envoy's default access-log format: the client is in X-Forwarded-For
    return (
        f'[{ts}] "GET /v1/items?page=2 HTTP/1.1" {status} UO 0 81 0 - "{client}, 10.0.0.9" '
        '"sync-agent/1.0" "5f0c-11aa" "api.example.net" "-"'
    )


def test_envoy_access_lines_name_the_forwarded_client() -> None:
    ipv6 = "2001:db8:40::17"
    match = re.search(ACCESS_PATTERN, _envoy(ipv6))
    assert match is not None
    assert match.group("fclient") == ipv6 and match.group("fagent") == "sync-agent/1.0"
    events = [
        read_event(
            component="edge", instance=None, ts=5000.0 + i * 0.05, line=_envoy(ipv6), query="q"
        )
        for i in range(8)
    ]
    found = find_abusive_clients(
        client_counts=[], retry_counts=[], retry_step=1.0, access_events=events, step=15.0
    )
    assert [(c.ip, c.pattern) for c in found] == [(ipv6, ClientPattern.RETRY_LOOP)]
    retry = LogCount(
        Labels({"fclient": ipv6, "frequest": "GET /v1/items HTTP/1.1", "fagent": "sync/1"}),
        (7000.0,),
        (12.0,),
    )
    loops = find_abusive_clients(
        client_counts=[], retry_counts=[retry], retry_step=1.0, access_events=[], step=15.0
    )
    assert (
        loops[0].ip == ipv6 and "GET /v1/items" in loops[0].reason and "sync/1" in loops[0].reason
    )


def test_a_flood_lasting_most_of_the_window_starts_where_it_rose() -> None:
    normal = [counts(f"10.0.0.{i}", [3.0] * 40) for i in range(1, 9)]
    # absent before it rose (Loki leaves out steps without lines), then flooding
    flood = LogCount(Labels({"fclient": "2001:db8::7"}), STEPS[10:], (150.0,) + (600.0,) * 29)
    found = find_floods(traffic=merge_client_counts([*normal, flood]), step=15.0)
    assert [c.ip for c in found] == ["2001:db8::7"]
    assert found[0].first_seen == STEPS[10] - 15.0
    assert found[0].last_seen == STEPS[39]


def net_counts(prefix: str, per_step: list[float]) -> LogCount:
    return LogCount(Labels({"jnet": prefix}), STEPS[: len(per_step)], tuple(per_step))


def test_network_prefixes_become_the_broadest_allowed_cidrs() -> None:
    assert network_of("203.0.113.") == "203.0.113.0/24"
    assert network_of("2001:db8:1:2:") == "2001:db8:1:2::/64"
    assert network_of("999.1.2.") is None
    assert network_of("10.1.") is None


def test_network_pattern_extracts_the_prefix_of_every_access_form() -> None:
    pattern = re.compile(NETWORK_PATTERN)
    text = '203.0.113.9 - - [01/Jan/2030:00:00:00 +0000] "POST /login HTTP/1.1" 401 0 "-" "ua"'
    assert pattern.search(text)["net"] == "203.0.113."  # type: ignore[index]
    json_line = '{"remote_addr":"2001:db8:1:2::9","status":"401"}'
    assert pattern.search(json_line)["jnet"] == "2001:db8:1:2:"  # type: ignore[index]


def _range_scenario(range_counts: list[float], user_rate: float = 4.0) -> list[str]:
    # ordinary users: one busy address per network; the range: 40 addresses, each tiny
    users = [counts(f"198.18.{i}.1", [user_rate] * 40) for i in range(12)]
    listed = [counts("203.0.113.1", [0.0] * 20 + [1.0] * 20)]
    networks = [net_counts(f"198.18.{i}.", [user_rate] * 40) for i in range(12)]
    networks.append(net_counts("203.0.113.", range_counts))
    found = find_abusive_clients(
        client_counts=[*users, *listed],
        retry_counts=[],
        retry_step=1.0,
        access_events=[],
        step=15.0,
        network_counts=networks,
    )
    return [c.ip for c in found if c.members is not None]


def test_many_small_addresses_of_one_range_arriving_together_are_one_flood() -> None:
    assert _range_scenario([0.0] * 20 + [100.0] * 20) == ["203.0.113.0/24"]
    # the same range busy all along did not arrive together: no range flood
    assert _range_scenario([100.0] * 40) == []


def test_a_range_holding_only_one_flooding_address_is_not_a_range_flood() -> None:
    users = [counts(f"198.18.{i}.1", [4.0] * 40) for i in range(12)]
    flood = counts("203.0.113.7", [0.0] * 20 + [400.0] * 20)
    networks = [net_counts(f"198.18.{i}.", [4.0] * 40) for i in range(12)]
    networks.append(net_counts("203.0.113.", [0.0] * 20 + [400.0] * 20))
    found = find_abusive_clients(
        client_counts=[*users, flood],
        retry_counts=[],
        retry_step=1.0,
        access_events=[],
        step=15.0,
        network_counts=networks,
    )
    assert [c.ip for c in found] == ["203.0.113.7"]
    assert found[0].to_json().get("network") is None


def test_a_silent_range_arriving_with_many_addresses_needs_a_few_times_the_typical_volume() -> None:
    # the range sends 5x the typical network's requests in the hour: enough for a
    # range that was not there before (a credential-stuffing wave spread thin), not
    # for one that was already busy (that needs FLOOD_MIN_RATIO)
    assert _range_scenario([0.0] * 20 + [40.0] * 20) == ["203.0.113.0/24"]
    assert _range_scenario([1.0] * 20 + [40.0] * 20) == []


def test_a_new_range_of_ordinary_users_at_the_typical_volume_is_no_flood() -> None:
    # 60 addresses of one range first seen in the window (a mobile carrier's pool,
    # address rotation) sending 1.5x and 2.5x the typical network's requests:
    # new, not abusive
    assert _range_scenario([0.0] * 20 + [60.0] * 20, user_rate=20.0) == []
    assert _range_scenario([0.0] * 20 + [20.0] * 20) == []


def test_a_retry_loop_is_timed_by_when_requests_were_sent_not_when_they_ended() -> None:
    # six identical requests sent within 0.5 s, each answered after 1-6 s
    sent = [9000.0 + 0.1 * i for i in range(6)]
    durations = [1.0 + i for i in range(6)]
    events = [
        read_event(
            component="edge",
            instance=None,
            ts=start + took,
            line=(
                f'203.0.113.9 - - [01/Jan/2030:00:00:00 +0000] "GET /x HTTP/1.1" 502 0 "-" '
                f'"bot/1" rt={took:.3f}'
            ),
            query="q",
        )
        for start, took in zip(sent, durations, strict=True)
    ]
    found = find_abusive_clients(
        client_counts=[], retry_counts=[], retry_step=1.0, access_events=events, step=15.0
    )
    assert [(c.ip, c.requests) for c in found] == [("203.0.113.9", 6)]
    assert found[0].first_seen == sent[0]


def test_a_client_arriving_with_its_flood_needs_a_smaller_lead_than_the_busiest_one() -> None:
    # four ordinary clients; one new address sends half of all requests, 4x the typical
    normal = [counts(f"10.0.0.{i}", [10.0] * 40) for i in range(1, 5)]
    arrived = counts("198.51.100.7", [0.0] * 20 + [80.0] * 20)
    found = find_floods(traffic=merge_client_counts([*normal, arrived]), step=15.0)
    assert [c.ip for c in found] == ["198.51.100.7"]
    # the same volume from a client that was always there is only the busiest client
    always = counts("198.51.100.7", [40.0] * 40)
    assert find_floods(traffic=merge_client_counts([*normal, always]), step=15.0) == []


def test_requests_sent_apart_that_failed_together_are_found_wherever_the_step_edges_fall() -> None:
    # seven identical requests sent 0.7 s apart, all ended within 0.8 s (the upstream
    # closed every connection at once): a 2 s count splits them 4 + 3 when a step edge
    # falls among them, the lines still show seven failures within a second
    ended = [9020.0 + 0.12 * i for i in range(7)]
    took = [9.5 - 0.58 * i for i in range(7)]
    events = [
        read_event(
            component="edge",
            instance=None,
            ts=ts,
            line=(
                f'203.0.113.9 - - [01/Jan/2030:00:00:00 +0000] "GET /x HTTP/1.1" 502 0 "-" '
                f'"bot/1" rt={rt:.3f}'
            ),
            query="q",
        )
        for ts, rt in zip(ended, took, strict=True)
    ]
    split = LogCount(
        Labels({"client": "203.0.113.9", "request": "GET /x HTTP/1.1", "agent": "bot/1"}),
        (9020.4, 9022.4),
        (4.0, 3.0),
    )
    found = find_abusive_clients(
        client_counts=[], retry_counts=[split], retry_step=2.0, access_events=events, step=15.0
    )
    assert [(c.ip, c.requests, c.pattern) for c in found] == [
        ("203.0.113.9", 7, ClientPattern.RETRY_LOOP)
    ]
    assert "within 1 s" in found[0].reason


def test_a_coarser_count_step_needs_a_loops_rate_not_a_loops_count() -> None:
    # a window over an hour is counted at 2 s: five failures within 2 s are not a tight
    # loop (they were not one at 1 s), ten are
    def found(per_step: float) -> list[str]:
        retry = LogCount(
            Labels({"client": "192.0.2.44", "request": "POST /q HTTP/1.1", "agent": "x/1"}),
            (7000.0, 7002.0),
            (1.0, per_step),
        )
        clients = find_abusive_clients(
            client_counts=[], retry_counts=[retry], retry_step=2.0, access_events=[], step=15.0
        )
        return [c.ip for c in clients]

    assert found(5.0) == []
    assert found(9.0) == []
    assert found(10.0) == ["192.0.2.44"]
