"""A client that sends one failing request again and again, one at a time.  Pure.

A retry loop is not always fast: a client that waits for each answer and sends
the same request again at once ("retry until it works", no backoff) has one
request in flight at a time, so its rate is bounded by the latency it meets, a
request or two per second, and most of its answers may even be 200.  What gives
it away, in what the access log shows of failures and of each client's traffic:

* one request (method, path, agent) makes nearly all (``LOOP_MIN_SHARE``) of
  the client's failed requests, ``LOOP_MIN_FAILED`` of them at least;
* that is ``LOOP_RATIO`` times what the typical client with failures repeats
  of any one request (clients browsing fail on many different requests);
* while it is there, it sends at least as fast as the typical client: not a
  poller that asks every few seconds;
* it repeats at a loop's rate: ``LOOP_MIN_FAILED`` of those failures within
  ``LOOP_SPAN`` seconds (each resent within seconds), not as many spread over
  the window: a user trying a slow page again now and then over half an hour
  is no loop, however often it fails;
* its share of the traffic rose against its own baseline (``share_rose``):
  ``LOOP_SHARE_RISE`` times its share before its first failure, or it was not
  there before.  A caller that keeps its usual share while its dependency fails
  retries the way every other caller does: the fault's victim, not its cause.
  In a fleet of callers of very different sizes the busiest callers repeat the
  most failures, and only this tells them from a loop.

The Google SRE book ("Addressing Cascading Failures", retries:
https://sre.google/sre-book/addressing-cascading-failures/) describes why such
clients amplify an incident: every failure is sent again immediately; backoff
is what keeps retries from overloading a struggling backend.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from diagnosis_operator.core.diagnosis.logs import LogEvent

LOOP_MIN_FAILED = 10
LOOP_MIN_SHARE = 0.9  # of the client's failed requests: the same one
LOOP_RATIO = 5.0
LOOP_SHARE_RISE = 1.5  # its share of the traffic while looping, against its share before
LOOP_SPAN = 60.0  # seconds holding LOOP_MIN_FAILED of its failures: one every few seconds


class Traffic(Protocol):
    """One client's requests per step (``traffic_clients.ClientTraffic``)."""

    @property
    def ip(self) -> str: ...
    @property
    def timestamps(self) -> tuple[float, ...]: ...
    @property
    def counts(self) -> tuple[float, ...]: ...
    @property
    def total(self) -> float: ...


def active_rates(traffic: Iterable[Traffic]) -> dict[str, float]:
    """Pure: each client's requests per second over the steps it sent any (0: none)."""
    rates = {}
    for client in traffic:
        stamps = [t for t, n in zip(client.timestamps, client.counts, strict=True) if n > 0]
        if len(stamps) < 2:
            rates[client.ip] = 0.0
            continue
        grid = np.diff(np.asarray(client.timestamps))
        step = float(np.median(grid)) if grid.size else 1.0
        rates[client.ip] = client.total / (len(stamps) * step)
    return rates


@dataclass(frozen=True, slots=True)
class Loop:
    """One client's repetition of one failing request."""

    ip: str
    request: str
    agent: str | None
    failed: int
    first: float
    last: float


def repeated_failures(events: Iterable[LogEvent], *, rates: Mapping[str, float]) -> list[Loop]:
    """Pure: clients repeating one failing request (see the module docstring).

    ``events``: access lines of failed requests (5xx, 429) among others;
    ``rates``: each client's requests per second while it was active.
    """
    failures: dict[str, Counter[tuple[str, str | None]]] = defaultdict(Counter)
    stamps: dict[tuple[str, str, str | None], list[float]] = defaultdict(list)
    for event in events:
        access = event.access
        if access is None or not access.client or access.status is None:
            continue
        if access.status < 500 and access.status != 429:
            continue
        failures[access.client][(access.request_key, access.agent)] += 1
        stamps[(access.client, access.request_key, access.agent)].append(event.ts)
    most = {ip: max(counted.values()) for ip, counted in failures.items()}
    loops = []
    for ip, counted in failures.items():
        (request, agent), failed = counted.most_common(1)[0]
        others = [n for other, n in most.items() if other != ip]
        typical = float(np.median(others)) if others else 1.0
        typical_rate = float(np.median([r for other, r in rates.items() if other != ip] or [0.0]))
        if (
            failed < LOOP_MIN_FAILED
            or failed < LOOP_MIN_SHARE * sum(counted.values())
            or failed < LOOP_RATIO * max(typical, 1.0)
            or rates.get(ip, 0.0) < typical_rate
        ):
            continue
        times = stamps[(ip, request, agent)]
        if densest(times, span=LOOP_SPAN) < LOOP_MIN_FAILED:
            continue
        loops.append(
            Loop(
                ip=ip,
                request=request,
                agent=agent,
                failed=failed,
                first=min(times),
                last=max(times),
            )
        )
    return loops


def densest(times: Iterable[float], *, span: float) -> int:
    """Pure: the most of ``times`` that fall within ``span`` seconds of each other."""
    ordered = np.sort(np.asarray(list(times), dtype=np.float64))
    if ordered.size == 0:
        return 0
    ends = np.searchsorted(ordered, ordered + span, side="right")
    return int((ends - np.arange(ordered.size)).max())


def share_rose(traffic: Iterable[Traffic], ip: str, *, since: float) -> bool:
    """Pure: whether ``ip``'s share of all clients' requests rose from before ``since``.

    Its share of the steps ending at or before ``since`` against its share of
    those after: ``LOOP_SHARE_RISE`` times at least.  A client without a
    baseline (no requests of anyone before ``since``, or none of its own) and a
    client missing from the traffic cannot be judged so: its share rose.
    """
    before: dict[str, float] = defaultdict(float)
    after: dict[str, float] = defaultdict(float)
    for client in traffic:
        for ts, n in zip(client.timestamps, client.counts, strict=True):
            (before if ts <= since else after)[client.ip] += n
    all_before, all_after = sum(before.values()), sum(after.values())
    if before[ip] <= 0 or all_before <= 0 or all_after <= 0:
        return True
    return after[ip] / all_after >= LOOP_SHARE_RISE * before[ip] / all_before
