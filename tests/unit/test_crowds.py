"""Many users behind one address (a NAT) are a crowd, not a flooding client."""

from __future__ import annotations

import json
import re

from diagnosis_operator.core.diagnosis.collected import CLIENT_AGENTS
from diagnosis_operator.core.diagnosis.crowds import crowds
from diagnosis_operator.core.diagnosis.logs import CLIENT_AGENT_AGENTS, CLIENT_AGENT_PATTERN
from diagnosis_operator.core.diagnosis.retry_loops import client_of, first_label
from diagnosis_operator.core.diagnosis.traffic_clients import find_abusive_clients
from diagnosis_operator.models.signals import Labels, LogCount

STEPS = tuple(float(1000 + 15 * i) for i in range(40))
AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_6) Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_2 like Mac OS X) Mobile/15E148",
    "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8)",
    "okhttp/4.12.0",
)
OFFICE = "198.51.100.7"
REMOTE = [f"31.16.7.{k}" for k in range(10, 20)]


def _series(per_step: list[float], **labels: str) -> LogCount:
    return LogCount(Labels(labels), STEPS, tuple(per_step))


def _office_steps(total: float) -> list[float]:
    return [total / 20] * 20 + [total] * 20  # the office arrives at work: 20x its early level


def _remote() -> tuple[list[LogCount], list[LogCount]]:
    """Ordinary remote users: their requests and their (address, agent) counts."""
    clients = [_series([2.0] * 40, jclient=ip) for ip in REMOTE]
    agents = [
        _series([1.0] * 40, jclient=ip, jagent=AGENTS[(k + j) % len(AGENTS)])
        for k, ip in enumerate(REMOTE)
        for j in range(2)
    ]
    return clients, agents


def _flagged(address: str, agents: dict[str, float], total: float) -> list[str]:
    clients, agent_counts = _remote()
    clients.append(_series(_office_steps(total), jclient=address))
    agent_counts += [
        _series(_office_steps(n), jclient=address, jagent=agent) for agent, n in agents.items()
    ]
    found = find_abusive_clients(
        client_counts=clients,
        retry_counts=[],
        retry_step=1.0,
        access_events=[],
        step=15.0,
        agent_counts=agent_counts,
    )
    return [c.ip for c in found]


def test_an_office_behind_one_nat_address_is_a_crowd_not_a_flood() -> None:
    # the population's five agents, in the office's hands as in everyone's
    office = dict.fromkeys(AGENTS, 80.0)
    assert _flagged(OFFICE, office, 400.0) == []
    clients, agent_counts = _remote()
    agent_counts += [_series(_office_steps(80.0), jclient=OFFICE, jagent=a) for a in AGENTS]
    totals = {OFFICE: sum(_office_steps(400.0)), **{ip: 80.0 for ip in REMOTE}}
    assert OFFICE in crowds(agent_counts=agent_counts, totals=totals)
    # without the agents counted, the address floods (as before)
    found = find_abusive_clients(
        client_counts=[*clients, _series(_office_steps(400.0), jclient=OFFICE)],
        retry_counts=[],
        retry_step=1.0,
        access_events=[],
        step=15.0,
    )
    assert [c.ip for c in found] == [OFFICE]


def test_a_single_agent_bot_on_one_address_still_floods() -> None:
    assert _flagged("203.0.113.66", {"python-requests/2.32.3": 400.0}, 400.0) == ["203.0.113.66"]


def test_a_crawler_rotating_agents_no_one_else_sends_still_floods() -> None:
    rotating = {f"Mozilla/5.0 (X11; Linux x86_64) Chrome/{v}.0.{v * 7}": 4.0 for v in range(100)}
    assert _flagged("43.153.108.77", rotating, 400.0) == ["43.153.108.77"]


def test_a_flood_whose_agents_carry_little_of_it_still_floods() -> None:
    # three of the population's agents on a sliver of its requests; the bulk uncounted
    few = dict.fromkeys(AGENTS[:3], 10.0)
    assert _flagged("203.0.113.67", few, 400.0) == ["203.0.113.67"]


def _extract(line: str) -> tuple[str | None, str | None]:
    match = re.search(CLIENT_AGENT_PATTERN, line)
    assert match is not None, line
    groups = {k: v for k, v in match.groupdict().items() if v is not None}
    return client_of(groups), first_label(groups, CLIENT_AGENT_AGENTS)


def test_the_client_agent_pattern_reads_every_access_form() -> None:
    traefik = json.dumps(
        {"ClientHost": "198.51.100.7", "DownstreamStatus": 429, "request_User-Agent": "okhttp/4"}
    )
    nginx = json.dumps({"remote_addr": "127.0.0.57", "http_user_agent": "catalog-sync/0.3"})
    combined = '203.0.113.9 - - [01/Jan/2030:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" "curl/8"'
    envoy = (
        '[2030-01-01T00:00:00.000Z] "GET / HTTP/1.1" 200 - 0 5 3 2 "198.51.100.8" '
        '"Go-http-client/1.1" "id" "host" "10.0.0.1:80"'
    )
    assert _extract(traefik) == ("198.51.100.7", "okhttp/4")
    assert _extract(nginx) == ("127.0.0.57", "catalog-sync/0.3")
    assert _extract(combined) == ("203.0.113.9", "curl/8")
    assert _extract(envoy) == ("198.51.100.8", "Go-http-client/1.1")


def test_an_edge_counts_requests_per_address_and_agent() -> None:
    from diagnosis_operator.service.edge_queries import EDGE_EXTRACTIONS

    patterns = {q.key: q.pattern for q in EDGE_EXTRACTIONS}
    assert patterns[CLIENT_AGENTS] == CLIENT_AGENT_PATTERN


def test_an_office_s_long_tail_of_the_population_s_rarer_agents_is_still_a_crowd() -> None:
    tail = {f"Mozilla/5.0 Firefox/{v}.0": 8.0 for v in range(120, 135)}
    office = {**dict.fromkeys(AGENTS, 40.0), **tail}  # 320 a step, 120 in the tail
    _, agent_counts = _remote()
    agent_counts += [
        _series(_office_steps(n), jclient=OFFICE, jagent=agent) for agent, n in office.items()
    ]
    totals = {OFFICE: sum(_office_steps(320.0))}
    # a tail no one else sends: 37 % of its requests in agents of its own
    assert OFFICE not in crowds(agent_counts=agent_counts, totals=totals)
    # the same tail, also the remote users' rarer browsers
    agent_counts += [
        _series([1.0] * 40, jclient=ip, jagent=agent) for ip in REMOTE[:3] for agent in tail
    ]
    assert OFFICE in crowds(agent_counts=agent_counts, totals=totals)
