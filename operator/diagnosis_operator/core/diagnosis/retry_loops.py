"""Tight retry loops: one client sending the same failing request again and again.  Pure.

Two shapes: a burst of identical failing requests within about a second (from
the failed-request counts per client, request and agent at a fine step, and
from the sampled access lines), and one failing request sent again and again,
one at a time (``tight_loops``), judged against the other clients' traffic.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.core.diagnosis.logs import (
    AGENT_LABELS,
    CLIENT_LABELS,
    REQUEST_LABELS,
    LogEvent,
)
from diagnosis_operator.core.diagnosis.tight_loops import (
    Traffic,
    active_rates,
    repeated_failures,
    share_rose,
)
from diagnosis_operator.models.findings import AbusiveClient, ClientPattern
from diagnosis_operator.models.signals import LogCount

# A retry loop: this many identical failing requests within RETRY_SPAN seconds.
RETRY_MIN_REQUESTS = 5
RETRY_SPAN = 1.0


def first_label(labels: Mapping[str, str], names: Sequence[str]) -> str | None:
    for name in names:
        value = labels.get(name)
        if value:
            return value
    return None


def client_of(labels: Mapping[str, str]) -> str | None:
    """Pure: the client address in an extracted-count label set (any access-line form)."""
    return first_label(labels, CLIENT_LABELS)


@dataclass(frozen=True, slots=True)
class _Burst:
    ip: str
    request: str
    agent: str | None
    requests: int
    first: float
    last: float


def _bursts_from_counts(counts: Iterable[LogCount], *, step: float) -> list[_Burst]:
    """The busiest step of each client's failed-request count, when it holds a loop's
    rate: ``RETRY_MIN_REQUESTS`` per ``RETRY_SPAN``, so a coarser step (a long window)
    needs proportionally more (five failures within two seconds are no tighter a
    loop than within one; the sampled lines still time a second exactly)."""
    needed = RETRY_MIN_REQUESTS * max(1.0, step / RETRY_SPAN)
    bursts = []
    for count in counts:
        ip = client_of(count.labels)
        if not ip or not count.values:
            continue
        best = int(np.argmax(count.values))
        requests = int(count.values[best])
        if requests >= needed and step <= 2 * RETRY_SPAN:
            ts = count.timestamps[best]
            bursts.append(
                _Burst(
                    ip=ip,
                    request=first_label(count.labels, REQUEST_LABELS) or "?",
                    agent=first_label(count.labels, AGENT_LABELS),
                    requests=requests,
                    first=ts - step,
                    last=ts,
                )
            )
    return bursts


def _bursts_from_lines(events: Iterable[LogEvent]) -> list[_Burst]:
    """The densest second of each client's identical requests, by when they were
    sent and by when they ended, whichever holds more.

    A client loops on when it SENDS: a request left at the line's time less its
    own duration (requests sent together end apart when slow). The line's own
    time is what a log count buckets: requests that failed together (an
    upstream closing every connection at once) end within a second however
    they were sent, and a count over fixed steps finds them or not depending on
    where its step edges fall; the lines find them wherever the window starts.
    """
    sent: dict[tuple[str, str, str | None], list[float]] = defaultdict(list)
    ended: dict[tuple[str, str, str | None], list[float]] = defaultdict(list)
    for event in events:
        access = event.access
        if access is None or not access.client:
            continue
        key = (access.client, access.request_key, access.agent)
        sent[key].append(event.ts - (access.latency or 0.0))
        ended[key].append(event.ts)
    strongest: dict[tuple[str, str, str | None], _Burst] = {}
    for burst in [*_densest(sent), *_densest(ended)]:
        key = (burst.ip, burst.request, burst.agent)
        if key not in strongest or burst.requests > strongest[key].requests:
            strongest[key] = burst
    return list(strongest.values())


def _densest(groups: Mapping[tuple[str, str, str | None], list[float]]) -> list[_Burst]:
    bursts = []
    for (ip, request, agent), stamps in groups.items():
        if len(stamps) < RETRY_MIN_REQUESTS:
            continue
        times = np.sort(np.asarray(stamps))
        # for each request, how many follow it within the span (two-pointer via searchsorted)
        ends = np.searchsorted(times, times + RETRY_SPAN, side="right")
        sizes = ends - np.arange(times.size)
        best = int(np.argmax(sizes))
        if sizes[best] >= RETRY_MIN_REQUESTS:
            bursts.append(
                _Burst(
                    ip=ip,
                    request=request,
                    agent=agent,
                    requests=int(sizes[best]),
                    first=float(times[best]),
                    last=float(times[ends[best] - 1]),
                )
            )
    return bursts


def find_retry_loops(
    *,
    retry_counts: Iterable[LogCount],
    retry_step: float,
    access_events: Iterable[LogEvent],
    traffic: Sequence[Traffic] = (),
) -> list[AbusiveClient]:
    """Pure: clients repeating one failing request in a tight loop (strongest burst per client).

    A burst of identical failing requests within about a second, or one failing
    request sent again and again, one at a time (``tight_loops``, judged
    against the other clients' ``traffic`` and its own share of it before),
    whichever holds more requests.
    """
    events = list(access_events)
    best: dict[str, _Burst] = {}
    for burst in [
        *_bursts_from_counts(retry_counts, step=retry_step),
        *_bursts_from_lines(events),
    ]:
        current = best.get(burst.ip)
        if current is None or burst.requests > current.requests:
            best[burst.ip] = burst
    reasons: dict[str, str] = {}
    for loop in repeated_failures(events, rates=active_rates(traffic)):
        if not share_rose(traffic, loop.ip, since=loop.first):
            continue
        current = best.get(loop.ip)
        if current is None or loop.failed > current.requests:
            best[loop.ip] = _Burst(
                ip=loop.ip,
                request=loop.request,
                agent=loop.agent,
                requests=loop.failed,
                first=loop.first,
                last=loop.last,
            )
            agent = f", {loop.agent}" if loop.agent else ""
            reasons[loop.ip] = (
                f"the same failing request sent again and again: {loop.failed} failures over "
                f"{loop.last - loop.first:.0f} s ({loop.request}{agent})"
            )
    loops = []
    for ip, burst in sorted(best.items(), key=lambda item: (-item[1].requests, item[0])):
        span = max(burst.last - burst.first, 0.0)
        within = "within 1 s" if span <= RETRY_SPAN else f"within {span:.0f} s"
        agent = f", {burst.agent}" if burst.agent else ""
        loops.append(
            AbusiveClient(
                ip=ip,
                reason=reasons.get(ip)
                or f"{burst.requests} identical failing requests {within} ({burst.request}{agent})",
                requests=burst.requests,
                pattern=ClientPattern.RETRY_LOOP,
                first_seen=burst.first,
                last_seen=burst.last,
            )
        )
    return loops
