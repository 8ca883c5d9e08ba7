"""Addresses behind which many users stand (``catalog.shared_addresses``).  Pure.

Read from the requests counted per client address and user agent at the edges
(``collected.CLIENT_AGENTS``).  A crowd's address is not a flood.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

from diagnosis_operator.catalog.shared_addresses import (
    CROWD_AGENT_MIN_SHARE,
    CROWD_MIN_AGENTS,
    CROWD_MIN_PEERS,
    CROWD_SHARED_SHARE,
)
from diagnosis_operator.core.diagnosis.logs import CLIENT_AGENT_AGENTS
from diagnosis_operator.core.diagnosis.retry_loops import client_of, first_label
from diagnosis_operator.models.signals import LogCount


def crowds(*, agent_counts: Iterable[LogCount], totals: Mapping[str, float]) -> dict[str, str]:
    """Pure: the addresses whose requests are a crowd's, each with why.

    ``totals`` holds every address's requests (its requests whose agent was not
    counted still count in its total).
    """
    per_address: dict[str, Counter[str]] = defaultdict(Counter)
    for count in agent_counts:
        ip = client_of(count.labels)
        agent = first_label(count.labels, CLIENT_AGENT_AGENTS)
        if ip and agent:
            per_address[ip][agent] += float(sum(count.values))
    users: dict[str, set[str]] = defaultdict(set)
    for ip, agents in per_address.items():
        for agent in agents:
            users[agent].add(ip)
    found = {}
    for ip, agents in per_address.items():
        total = max(totals.get(ip, 0.0), float(sum(agents.values())))
        shared = {
            agent: n
            for agent, n in agents.items()
            if n >= CROWD_AGENT_MIN_SHARE * total and len(users[agent]) - 1 >= CROWD_MIN_PEERS
        }
        carried = sum(shared.values())
        if len(shared) >= CROWD_MIN_AGENTS and carried >= CROWD_SHARED_SHARE * total:
            found[ip] = (
                f"many users behind one address: {len(shared)} user agents, each also "
                f"other addresses', carry {carried / total:.0%} of its requests"
            )
    return found
