"""Costly clients: one address taking a dominant, new share of the server's work.  Pure.

A flood is counted in requests; a client can hurt a service just as much with
few requests that each cost a lot (``catalog.client_cost``).  The collector
counts, per client address at an edge, the requests that held the server a
second or more (*slow*), the responses of a hundred kilobytes or more
(*big*) and those of ten megabytes or more (*huge*: where ordinary answers are
big already, a client whose every answer is a hundred times bigger still stands
out).  A client is *costly* when, in any of these counts,

* it took at least ``COSTLY_MIN_SHARE`` of them and ``COSTLY_MIN_REQUESTS``,
* its share of them is ``COSTLY_SHARE_RATIO`` times its share of all requests
  (when everyone's requests slow down alike, the busiest client's share of the
  slow ones is only its share of the traffic: that is no cost of its own), and
* it is new: before its costly span (``traffic_clients.flood_span``) it took at
  most ``COSTLY_QUIET_BEFORE`` of what it took per step during it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

from diagnosis_operator.catalog.client_cost import (
    BIG_BYTES,
    COSTLY_MIN_REQUESTS,
    COSTLY_MIN_SHARE,
    COSTLY_QUIET_BEFORE,
    COSTLY_SHARE_RATIO,
    HUGE_BYTES,
    SLOW_SECONDS,
)
from diagnosis_operator.core.diagnosis.traffic_clients import (
    FLOOD_BUSY_SHARE,
    FLOOD_EDGE_SHARE,
    ClientTraffic,
    flood_span,
    merge_client_counts,
    on_grid,
)
from diagnosis_operator.models.findings import AbusiveClient, ClientPattern
from diagnosis_operator.models.signals import LogCount

COSTS = (
    ("slow", f"requests of {SLOW_SECONDS:g} s or more"),
    ("big", f"responses of {BIG_BYTES // 1000} kB or more"),
    ("huge", f"responses of {HUGE_BYTES // 1_000_000} MB or more"),
)


def find_costly_clients(
    *,
    slow_counts: Iterable[LogCount],
    big_counts: Iterable[LogCount],
    huge_counts: Iterable[LogCount] = (),
    traffic: Sequence[ClientTraffic],
    step: float,
) -> list[AbusiveClient]:
    """Pure: the clients whose slow or big requests dominate, newly (module docstring)."""
    all_requests = sum(t.total for t in traffic)
    requests = {t.ip: t.total for t in traffic}
    found: dict[str, AbusiveClient] = {}
    for (_, what), counts in zip(COSTS, (slow_counts, big_counts, huge_counts), strict=True):
        costs = merge_client_counts(counts)
        # every step any client was seen in: a client's quiet steps are on it
        grid = np.array(
            sorted({ts for c in (*costs, *traffic) for ts in c.timestamps}), dtype=np.float64
        )
        for client in _costly(
            costs,
            grid=grid,
            what=what,
            requests=requests,
            all_requests=all_requests,
            step=step,
        ):
            found.setdefault(client.ip, client)
    return list(found.values())


def _costly(
    costs: Sequence[ClientTraffic],
    *,
    grid: npt.NDArray[np.float64],
    what: str,
    requests: dict[str, float],
    all_requests: float,
    step: float,
) -> list[AbusiveClient]:
    grand_total = sum(c.total for c in costs)
    if grand_total < COSTLY_MIN_REQUESTS:
        return []
    costly = []
    for client in costs:
        share = client.total / grand_total
        request_share = requests.get(client.ip, 0.0) / all_requests if all_requests > 0 else 0.0
        if (
            client.total < COSTLY_MIN_REQUESTS
            or share < COSTLY_MIN_SHARE
            or share < COSTLY_SHARE_RATIO * request_share
        ):
            continue
        dense = on_grid(client, grid)
        first, last = flood_span(dense, low_share=FLOOD_EDGE_SHARE, high_share=FLOOD_BUSY_SHARE)
        before = float(dense[:first].mean()) if first > 0 else None
        busy = float(dense[first : last + 1].mean())
        if before is None or before > COSTLY_QUIET_BEFORE * busy:
            continue  # as costly from the start of the window: nothing new
        costly.append(
            AbusiveClient(
                ip=client.ip,
                reason=(
                    f"{share:.0%} of the {what} ({int(client.total)} of {int(grand_total)}) "
                    f"from {request_share:.0%} of the requests: a costly client"
                ),
                requests=int(client.total),
                pattern=ClientPattern.COSTLY,
                first_seen=float(grid[first]) - step,
                last_seen=float(grid[last]),
            )
        )
    return costly


def with_costly(
    costly: Sequence[AbusiveClient], others: Sequence[AbusiveClient]
) -> list[AbusiveClient]:
    """Pure: the costly clients first, then the other abusive ones not among them.

    A costly client that also retried its failing requests is listed once, as
    costly: its cost is why it matters.
    """
    named = {c.ip for c in costly}
    return [*costly, *(c for c in others if c.ip not in named)]
