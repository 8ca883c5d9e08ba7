"""Clients whose every request misses the cache (cache penetration).  Pure.

A client need not dwarf the others to be the cause: one asking for a new key with
each request drives a store's lookups that find nothing, in proportion to its own
rate (``catalog.cache_misses``).  A client is such a *miss-driving* client when

* it arrived in the window (silent before its span, ``traffic_clients.flood_span``)
  and sends at least ``FLOOD_MIN_PEAK_RATE`` requests a second over its span;
* everyone else sends, over the same span, at most ``OTHERS_MAX_GROWTH`` times what
  they sent before (the added load is the newcomer's);
* a store's miss counter (``MISS_COUNTERS``) rose, detected as an anomaly starting
  within ``MATCH_STEPS`` steps of the client's arrival, and its rise over the
  client's span is between ``MISS_MATCH_LOW`` and ``MISS_MATCH_HIGH`` times the
  client's requests per second.

It is listed as a flood (of misses), first seen when it arrived.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from diagnosis_operator.catalog.cache_misses import (
    MATCH_STEPS,
    MISS_COUNTERS,
    MISS_MATCH_HIGH,
    MISS_MATCH_LOW,
    OTHERS_MAX_GROWTH,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray
from diagnosis_operator.core.diagnosis.traffic_clients import (
    FLOOD_BUSY_SHARE,
    FLOOD_EDGE_SHARE,
    FLOOD_MIN_PEAK_RATE,
    NETWORK_SILENT_REQUESTS,
    ClientTraffic,
    flood_span,
    on_grid,
)
from diagnosis_operator.models.findings import AbusiveClient, ClientPattern


@dataclass(frozen=True)
class _Arrival:
    """A client that arrived in the window: its span on the grid and its rate over it."""

    client: ClientTraffic
    first: int
    last: int
    rate: float  # requests per second over the span


def is_miss_counter(detection: Detection) -> bool:
    """Pure: whether a detection is a store's count of lookups that found nothing, rising."""
    signal = detection.signal
    name = signal.name.removesuffix(" rate")
    return detection.anomaly.direction == "up" and any(
        name == metric and all(signal.labels.get(k) == v for k, v in labels)
        for metric, labels in MISS_COUNTERS
    )


def find_miss_clients(
    *,
    traffic: Sequence[ClientTraffic],
    detections: Iterable[Detection],
    timestamps: FloatArray,
    step: float,
    flagged: Iterable[str] = (),
) -> list[AbusiveClient]:
    """Pure: the newly arrived clients whose requests are a store's misses (module docstring)."""
    misses = [d for d in detections if is_miss_counter(d)]
    if not misses or len(traffic) < 2:
        return []
    grid = np.array(sorted({ts for c in traffic for ts in c.timestamps}), dtype=np.float64)
    dense = {c.ip: on_grid(c, grid) for c in traffic}
    total = np.sum(np.stack(list(dense.values())), axis=0)
    skip = set(flagged)
    found = []
    for client in traffic:
        arrival = _arrival(client, dense[client.ip], step=step)
        if client.ip in skip or arrival is None:
            continue
        if not _others_steady(total - dense[client.ip], arrival):
            continue
        matched = [
            (m, rise)
            for m in misses
            if (rise := _matches(m, arrival=arrival, grid=grid, on=timestamps, step=step))
            is not None
        ]
        if matched:
            found.append(_listed(arrival, *matched[0], grid=grid, step=step))
    return found


def _arrival(client: ClientTraffic, dense: FloatArray, *, step: float) -> _Arrival | None:
    first, last = flood_span(dense, low_share=FLOOD_EDGE_SHARE, high_share=FLOOD_BUSY_SHARE)
    if first == 0 or float(dense[:first].mean()) > NETWORK_SILENT_REQUESTS:
        return None
    rate = float(dense[first : last + 1].mean()) / step
    if rate < FLOOD_MIN_PEAK_RATE:
        return None
    return _Arrival(client=client, first=first, last=last, rate=rate)


def _others_steady(others: FloatArray, arrival: _Arrival) -> bool:
    before = float(others[: arrival.first].mean())
    during = float(others[arrival.first : arrival.last + 1].mean())
    return during <= OTHERS_MAX_GROWTH * before


def _matches(
    miss: Detection, *, arrival: _Arrival, grid: FloatArray, on: FloatArray, step: float
) -> float | None:
    """The miss counter's rise over the client's span, when it matches the client."""
    start = float(grid[arrival.first]) - step
    if abs(miss.onset - start) > MATCH_STEPS * step:
        return None
    values = _on_clients_grid(miss.signal.values, stamps=on, grid=grid, step=step)
    before = values[: arrival.first]
    during = values[arrival.first : arrival.last + 1]
    if not np.isfinite(before).any() or not np.isfinite(during).any():
        return None
    rise = float(np.nanmean(during)) - float(np.nanmean(before))
    if not MISS_MATCH_LOW * arrival.rate <= rise <= MISS_MATCH_HIGH * arrival.rate:
        return None
    return rise


def _on_clients_grid(
    values: FloatArray, *, stamps: FloatArray, grid: FloatArray, step: float
) -> FloatArray:
    """A signal's values (on ``stamps``) at the client grid's instants (NaN without one near)."""
    if stamps.size == 0:
        return np.full(grid.size, np.nan)
    index = np.clip(np.searchsorted(stamps, grid), 0, stamps.size - 1)
    left = np.maximum(index - 1, 0)
    nearest = np.where(np.abs(stamps[left] - grid) < np.abs(stamps[index] - grid), left, index)
    near = np.abs(stamps[nearest] - grid) <= step / 2
    return np.where(near, values[nearest], np.nan)


def _listed(
    arrival: _Arrival, miss: Detection, rise: float, *, grid: FloatArray, step: float
) -> AbusiveClient:
    client = arrival.client
    store = miss.signal.component
    metric = miss.signal.name.removesuffix(" rate")
    return AbusiveClient(
        ip=client.ip,
        reason=(
            f"new, {arrival.rate:.1f} req/s, each a miss: {store}'s {metric} rose by "
            f"{rise:.1f}/s with it while the other clients sent no more than before "
            "(cache penetration)"
        ),
        requests=int(client.total),
        pattern=ClientPattern.FLOOD,
        first_seen=float(grid[arrival.first]) - step,
        last_seen=float(grid[arrival.last]),
    )
