"""Client traffic: floods (of one address or one network) and tight retry loops.  Pure.

Inputs are what Loki aggregates (requests per client per step, and failed
requests per client, request and agent per fine step) plus the sampled access
lines the log reader parsed.  A *flood* is one client whose share of the
requests is far above the others'; a *retry loop* is one client sending the
same failing request many times within about a second (``retry_loops``).
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from diagnosis_operator.core.diagnosis.crowds import crowds
from diagnosis_operator.core.diagnosis.logs import NETWORK_LABELS, LogEvent
from diagnosis_operator.core.diagnosis.retry_loops import client_of, find_retry_loops, first_label
from diagnosis_operator.models.findings import AbusiveClient, ClientPattern
from diagnosis_operator.models.signals import LogCount

# A flood: at least this share of all requests seen, and this many times the
# typical (median) client, and at least this many requests per second at peak.
FLOOD_MIN_SHARE = 0.25
FLOOD_MIN_RATIO = 10.0
FLOOD_MIN_PEAK_RATE = 1.0
FLOOD_MIN_CLIENTS = 3
FLOOD_NEW_CLIENT_RATIO = 3.0  # a client that arrived with its flood (silent before it)


@dataclass(frozen=True, slots=True)
class ClientTraffic:
    """Requests of one client over the window, per step of the collector's grid."""

    ip: str
    timestamps: tuple[float, ...]
    counts: tuple[float, ...]

    @property
    def total(self) -> float:
        return float(sum(self.counts))


def merge_client_counts(counts: Iterable[LogCount]) -> list[ClientTraffic]:
    """Pure: one traffic series per client address (the text and JSON groups merged)."""
    per_client: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for count in counts:
        ip = client_of(count.labels)
        if not ip:
            continue
        for ts, value in zip(count.timestamps, count.values, strict=True):
            per_client[ip][ts] += value
    traffic = []
    for ip, points in per_client.items():
        ordered = sorted(points.items())
        traffic.append(
            ClientTraffic(
                ip=ip, timestamps=tuple(t for t, _ in ordered), counts=tuple(v for _, v in ordered)
            )
        )
    traffic.sort(key=lambda t: (-t.total, t.ip))
    return traffic


def find_floods(
    *, traffic: Sequence[ClientTraffic], step: float, crowds: Collection[str] = ()
) -> list[AbusiveClient]:
    """Pure: clients whose request volume dwarfs everyone else's.

    The addresses in ``crowds`` are many users' (``core.diagnosis.crowds``): none floods.
    """
    if len(traffic) < FLOOD_MIN_CLIENTS:
        return []
    totals = np.array([t.total for t in traffic])
    grand_total = float(totals.sum())
    if grand_total <= 0:
        return []
    grid = np.array(sorted({ts for client in traffic for ts in client.timestamps}))
    floods = []
    for index, client in enumerate(traffic):
        others = np.delete(totals, index)
        typical = float(np.median(others)) if others.size else 0.0
        share = client.total / grand_total
        counts = np.asarray(client.counts)
        peak = float(counts.max()) if counts.size else 0.0
        peak_rate = peak / step
        if share < FLOOD_MIN_SHARE or peak_rate < FLOOD_MIN_PEAK_RATE or client.ip in crowds:
            continue
        dense = on_grid(client, grid)
        first_index, last_index = flood_span(
            dense, low_share=FLOOD_EDGE_SHARE, high_share=FLOOD_BUSY_SHARE
        )
        # A client absent before its flood (it arrived with it) needs a smaller lead
        # over the typical client than one that was already the busiest.
        arrived = first_index > 0 and float(dense[:first_index].mean()) <= NETWORK_SILENT_REQUESTS
        needed = FLOOD_NEW_CLIENT_RATIO if arrived else FLOOD_MIN_RATIO
        if client.total < needed * max(typical, 1.0):
            continue
        first = float(grid[first_index]) - step
        last = float(grid[last_index])
        ratio = client.total / max(typical, 1.0)
        floods.append(
            AbusiveClient(
                ip=client.ip,
                reason=(
                    f"{share:.0%} of all requests ({int(client.total)}), {ratio:.0f}x the "
                    f"typical client; "
                    f"peak {peak_rate:.1f} req/s"
                ),
                requests=int(client.total),
                pattern=ClientPattern.FLOOD,
                first_seen=first,
                last_seen=last,
            )
        )
    return floods


FLOOD_BUSY_SHARE = 0.5  # of the way from its quiet to its busy level: flooding
FLOOD_EDGE_SHARE = 0.1  # still part of the flood's rise or fall


def on_grid(client: ClientTraffic, grid: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """A client's requests per step on the common grid; steps without any are zero."""
    dense = np.zeros(grid.size)
    dense[np.searchsorted(grid, np.asarray(client.timestamps))] = client.counts
    return dense


def flood_span(
    counts: npt.NDArray[np.float64], *, low_share: float, high_share: float
) -> tuple[int, int]:
    """Pure: first and last index of a client's flood in its per-step request counts.

    Its quiet and busy levels are the 10th and 90th percentiles, so a flood
    lasting most of the window still has a start (a median would be the flood
    itself).  The flood is where the counts pass ``high_share`` of the way
    between the two, widened over the neighbouring steps still above
    ``low_share`` of it (the rise and the fall).
    """
    low = float(np.percentile(counts, 10))
    high = float(np.percentile(counts, 90))
    if high <= low:
        high = float(counts.max())
    busy = np.flatnonzero(counts >= low + high_share * (high - low))
    if busy.size == 0:
        return 0, counts.size - 1
    edge = low + low_share * (high - low)
    first, last = int(busy[0]), int(busy[-1])
    while first > 0 and counts[first - 1] > edge:
        first -= 1
    while last + 1 < counts.size and counts[last + 1] > edge:
        last += 1
    return first, last


# A range flood: at least this many distinct addresses of one network, arriving
# together (busy at least NETWORK_SURGE_RATIO times its own level before), with
# FLOOD_MIN_RATIO times the typical network's requests and FLOOD_MIN_PEAK_RATE.
NETWORK_MIN_MEMBERS = 10
NETWORK_SURGE_RATIO = 10.0
NETWORK_SILENT_REQUESTS = 0.1  # per step on average before it: the range was not there
# A range silent before still needs a multiple of the typical network's requests,
# as a client that arrived with its flood does (FLOOD_NEW_CLIENT_RATIO): addresses
# first seen in the window are ordinary users too (a mobile carrier's pool, privacy
# address rotation, a new population) and a range of them at once or twice the
# typical network's volume is not abusive by being new.
NETWORK_NEW_RATIO = FLOOD_NEW_CLIENT_RATIO


def network_of(prefix: str) -> str | None:
    """Pure: the CIDR of a network prefix as NETWORK_PATTERN extracts it.

    ``"203.0.113."`` is ``203.0.113.0/24``; ``"2001:db8:1:2:"`` is
    ``2001:db8:1:2::/64``; anything else (not an address prefix) is ``None``.
    """
    if prefix.endswith(".") and prefix.count(".") == 3:
        text = f"{prefix}0/24"
    elif prefix.endswith(":") and prefix.count(":") == 4:
        text = f"{prefix}:/64"
    else:
        return None
    try:
        return str(ipaddress.ip_network(text, strict=True))
    except ValueError:
        return None


def merge_network_counts(counts: Iterable[LogCount]) -> list[ClientTraffic]:
    """Pure: one traffic series per client network (``ip`` holds the CIDR)."""
    per_network: dict[str, dict[float, float]] = defaultdict(lambda: defaultdict(float))
    for count in counts:
        prefix = first_label(count.labels, NETWORK_LABELS)
        network = network_of(prefix) if prefix else None
        if network is None:
            continue
        for ts, value in zip(count.timestamps, count.values, strict=True):
            per_network[network][ts] += value
    traffic = [
        ClientTraffic(
            ip=network,
            timestamps=tuple(sorted(points)),
            counts=tuple(points[t] for t in sorted(points)),
        )
        for network, points in per_network.items()
    ]
    traffic.sort(key=lambda t: (-t.total, t.ip))
    return traffic


def _parsed_address(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if "%" in ip:  # an IPv6 zone index: ipaddress would keep any text after it
        return None
    try:
        return ipaddress.ip_address(ip)
    except ValueError:
        return None


@dataclass(frozen=True)
class _Listed:
    """The per-address top list on the common grid, shared by every network's test."""

    grid: npt.NDArray[np.float64]
    dense_clients: Mapping[str, npt.NDArray[np.float64]]
    addresses: Mapping[str, ipaddress.IPv4Address | ipaddress.IPv6Address | None]
    smallest: npt.NDArray[np.float64]  # per step, the smallest listed count (1 without any)
    flagged_ips: frozenset[str]
    totals: npt.NDArray[np.float64]  # every network's requests


def find_network_floods(
    *,
    networks: Sequence[ClientTraffic],
    clients: Sequence[ClientTraffic],
    flagged: Sequence[AbusiveClient],
    step: float,
) -> list[AbusiveClient]:
    """Pure: networks whose many small addresses flood together.

    A network's requests minus those of its addresses already flagged one by
    one must, on their own, dwarf the typical network's (``FLOOD_MIN_RATIO``,
    ``FLOOD_MIN_PEAK_RATE``; ``NETWORK_NEW_RATIO`` times it for a range
    silent before, ``NETWORK_SILENT_REQUESTS``), come from at least ``NETWORK_MIN_MEMBERS``
    addresses, and start inside the window: busy at least
    ``NETWORK_SURGE_RATIO`` times the network's level before.  How many
    addresses at least took part follows from the per-address top list: an
    address missing from it sent no more in a step than the smallest listed
    one, so the rest of the network needs at least rest / smallest addresses.
    """
    if not networks:
        return []
    grid = np.array(
        sorted({ts for series in (*networks, *clients) for ts in series.timestamps}),
        dtype=np.float64,
    )
    dense_clients = {c.ip: on_grid(c, grid) for c in clients}
    listed = np.stack(list(dense_clients.values())) if dense_clients else np.zeros((1, grid.size))
    smallest = np.where(listed > 0, listed, np.inf).min(axis=0)
    context = _Listed(
        grid=grid,
        dense_clients=dense_clients,
        # Parsed once: every network below tests every client address.
        addresses={ip: _parsed_address(ip) for ip in dense_clients},
        smallest=np.where(np.isfinite(smallest), smallest, 1.0),
        flagged_ips=frozenset(c.ip for c in flagged),
        totals=np.array([n.total for n in networks]),
    )
    floods = [
        _network_flood(index, network, listed=context, step=step)
        for index, network in enumerate(networks)
    ]
    return [flood for flood in floods if flood is not None]


def _network_flood(
    index: int, network: ClientTraffic, *, listed: _Listed, step: float
) -> AbusiveClient | None:
    """The flood of one network (``networks[index]``), if its rest floods on its own."""
    cidr = ipaddress.ip_network(network.ip)
    counts = on_grid(network, listed.grid)
    inside = [
        ip for ip, address in listed.addresses.items() if address is not None and address in cidr
    ]
    rest = counts.copy()
    for ip in inside:
        if ip in listed.flagged_ips:
            rest -= listed.dense_clients[ip]
    rest = np.maximum(rest, 0.0)
    unlisted = rest.copy()
    known = [ip for ip in inside if ip not in listed.flagged_ips]
    for ip in known:
        unlisted -= listed.dense_clients[ip]
    unlisted = np.maximum(unlisted, 0.0)
    members = len(known) + int(np.ceil(unlisted / listed.smallest).max(initial=0.0))
    others = np.delete(listed.totals, index)
    typical = float(np.median(others)) if others.size else 0.0
    total = float(rest.sum())
    peak_rate = float(rest.max(initial=0.0)) / step
    if members < NETWORK_MIN_MEMBERS or peak_rate < FLOOD_MIN_PEAK_RATE:
        return None
    first_index, last_index = flood_span(
        rest, low_share=FLOOD_EDGE_SHARE, high_share=FLOOD_BUSY_SHARE
    )
    before = float(rest[:first_index].mean()) if first_index > 0 else None
    busy = float(rest[first_index : last_index + 1].mean())
    if before is None or busy < NETWORK_SURGE_RATIO * max(before, 1.0 / step):
        return None
    # A range silent before that arrives with many addresses at once needs a few
    # times the typical network's volume; a range that was already there, ten times it.
    ratio = NETWORK_NEW_RATIO if before <= NETWORK_SILENT_REQUESTS else FLOOD_MIN_RATIO
    if total < ratio * max(typical, 1.0):
        return None
    return AbusiveClient(
        ip=network.ip,
        reason=(
            f"at least {members} addresses of {network.ip} together: {int(total)} "
            f"requests, {busy / step:.1f} req/s (peak {peak_rate:.1f}) against "
            f"{before / step:.2f} before; {total / max(typical, 1.0):.0f}x the typical "
            f"network"
        ),
        requests=int(total),
        pattern=ClientPattern.FLOOD,
        first_seen=float(listed.grid[first_index]) - step,
        last_seen=float(listed.grid[last_index]),
        members=members,
    )


def find_abusive_clients(
    *,
    client_counts: Iterable[LogCount],
    retry_counts: Iterable[LogCount],
    retry_step: float,
    access_events: Iterable[LogEvent],
    step: float,
    network_counts: Iterable[LogCount] = (),
    agent_counts: Iterable[LogCount] = (),
) -> list[AbusiveClient]:
    """Pure: floods (of one address, then of one range) and retry loops.

    A client in both a flood and a retry loop is listed once (as a flood).  An
    address many users stand behind (``agent_counts``, ``core.diagnosis.crowds``)
    is no flood.
    """
    traffic = merge_client_counts(client_counts)
    crowded = crowds(agent_counts=agent_counts, totals={t.ip: t.total for t in traffic})
    floods = find_floods(traffic=traffic, step=step, crowds=crowded)
    loops = find_retry_loops(
        retry_counts=retry_counts,
        retry_step=retry_step,
        access_events=access_events,
        traffic=traffic,
    )
    flooding = {c.ip for c in floods}
    single = [*floods, *(c for c in loops if c.ip not in flooding)]
    ranges = find_network_floods(
        networks=merge_network_counts(network_counts), clients=traffic, flagged=single, step=step
    )
    return [*floods, *ranges, *(c for c in loops if c.ip not in flooding)]
