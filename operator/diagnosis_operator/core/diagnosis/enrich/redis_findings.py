"""What a Redis server's slow log, INFO and LATENCY LATEST show.  Pure."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.enrich.model import (
    DEFAULT_THRESHOLDS,
    Enrichment,
    EnrichThresholds,
)
from diagnosis_operator.core.diagnosis.enrich.redis_slowlog import (
    Found,
    clock,
    ms,
    slowlog_advice,
)
from diagnosis_operator.models.findings import (
    Recommendation,
    Urgency,
)
from diagnosis_operator.models.observations import (
    RedisObservation,
)
from diagnosis_operator.models.signals import Window


def _latency_advice(
    *, observation: RedisObservation, window: Window, thresholds: EnrichThresholds, found: Found
) -> list[Recommendation]:
    """Latency spikes of the window; persistence forks among them call for advice."""
    advice: list[Recommendation] = []
    name = observation.component
    for event in observation.latency:
        at = event.latest_at
        if event.worst < thresholds.latency_seconds:
            continue
        if not window.start - thresholds.window_margin_seconds <= at <= window.end + 1:
            continue
        because = found.add(
            f"latency monitor: {event.event} spiked to {ms(event.latest)} at {clock(at)} "
            f"(worst {ms(event.worst)})",
            "LATENCY LATEST",
            value=event.worst,
            ts=at,
        )
        if "fork" in event.event.lower():
            advice.append(
                Recommendation(
                    component=name,
                    urgency=Urgency.LONG_TERM,
                    text=f"Persistence forks stall {name}: schedule snapshots and AOF rewrites "
                    "away from peak traffic, keep the data set smaller, or turn persistence off "
                    "on a pure cache.",
                    because=because,
                )
            )
    return advice


def redis_findings(
    *,
    observation: RedisObservation,
    window: Window,
    thresholds: EnrichThresholds = DEFAULT_THRESHOLDS,
) -> Enrichment:
    """Pure: hot keys, whole-value reads, connection and memory limits, latency spikes."""
    found = Found(component=observation.component, server=observation.server)
    advice = slowlog_advice(
        observation=observation, window=window, thresholds=thresholds, found=found
    )
    info = observation.info
    if info is not None:
        advice.extend(_connections(observation=observation, found=found, thresholds=thresholds))
        advice.extend(_memory(observation=observation, found=found, thresholds=thresholds))
    advice.extend(
        _latency_advice(observation=observation, window=window, thresholds=thresholds, found=found)
    )
    return Enrichment(evidence=tuple(found.evidence), recommendations=tuple(advice))


def _connections(
    *, observation: RedisObservation, found: Found, thresholds: EnrichThresholds
) -> list[Recommendation]:
    info = observation.info
    if info is None:
        return []
    facts: list[str] = []
    if info.rejected_connections:
        since = f" in {info.uptime_seconds} s of uptime" if info.uptime_seconds else " since start"
        facts.append(f"{info.rejected_connections} connection(s) rejected{since}")
    if info.maxclients and info.connected_clients is not None:
        ratio = info.connected_clients / info.maxclients
        if ratio >= thresholds.near_limit:
            facts.append(
                f"{info.connected_clients} of maxclients {info.maxclients} connected ({ratio:.0%})"
            )
    if not facts:
        return []
    because = found.add(
        "connections: " + "; ".join(facts),
        "INFO clients, stats",
        value=float(info.rejected_connections or info.connected_clients or 0),
    )
    limit = f"maxclients {info.maxclients}" if info.maxclients else "maxclients"
    return [
        Recommendation(
            component=observation.component,
            urgency=Urgency.SHORT_TERM,
            text=f"Keep connections to {observation.component} under {limit}: cap the callers' "
            "pool sizes (their sum across all replicas must stay below the limit), close idle "
            "clients (the timeout setting), and raise maxclients only if the host's file limits "
            "allow.",
            because=because,
        )
    ]


def _memory(
    *, observation: RedisObservation, found: Found, thresholds: EnrichThresholds
) -> list[Recommendation]:
    info = observation.info
    if info is None or not info.maxmemory or info.used_memory is None:
        return []
    ratio = info.used_memory / info.maxmemory
    evicted = info.evicted_keys or 0
    policy = info.maxmemory_policy or "unknown"
    if ratio < thresholds.near_limit and not evicted:
        return []
    because = found.add(
        f"memory: used {info.used_memory} of maxmemory {info.maxmemory} bytes ({ratio:.0%}), "
        f"{evicted} key(s) evicted since start, policy {policy}",
        "INFO memory, stats",
        value=ratio,
    )
    if ratio < thresholds.near_limit or not (evicted or policy == "noeviction"):
        return []
    consequence = (
        "writes fail with OOM errors under noeviction"
        if policy == "noeviction"
        else f"{evicted} keys were evicted"
    )
    return [
        Recommendation(
            component=observation.component,
            urgency=Urgency.SHORT_TERM,
            text=f"Size {observation.component}'s memory: it runs at {ratio:.0%} of maxmemory and "
            f"{consequence}; raise maxmemory (and the container's memory limit with it), set "
            "TTLs on cache keys, or shrink large values.",
            because=because,
        )
    ]
