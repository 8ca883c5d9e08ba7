"""Addresses behind which many users stand (``catalog.shared_addresses``).  Pure.

Read from the requests counted per client address and user agent at the edges
(``collected.CLIENT_AGENTS``).  A crowd's address is not a flood.
"""

from __future__ import annotations

from collections import defaultdict
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
    per_address: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
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
        shared = {a: n for a, n in agents.items() if len(users[a]) - 1 >= CROWD_MIN_PEERS}
        main = [a for a, n in shared.items() if n >= CROWD_AGENT_MIN_SHARE * total]
        carried = sum(shared.values())
        if len(main) >= CROWD_MIN_AGENTS and carried >= CROWD_SHARED_SHARE * total:
            found[ip] = (
                f"many users behind one address: {len(main)} user agents of other addresses "
                f"each carry {CROWD_AGENT_MIN_SHARE:.0%} or more of its requests, the "
                f"population's agents {carried / total:.0%} of them"
            )
    return found
