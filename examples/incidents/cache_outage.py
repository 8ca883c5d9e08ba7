"""cache-outage: the session cache fills up, evicts, then crashes; every app instance suffers alike.

2026-01-20, window 14:00-15:00 UTC.  From 14:18 ``session-cache`` (Redis) runs
into maxmemory (evictions, misses, slow GETs), from 14:25 to 14:31 it is down
(redis_up 0, connection refused), then restarts and recovers by 14:40.  All
four ``catalog`` instances fail the same share of requests; MySQL only sees
the extra cache-miss reads.  JSON access logs on the ``edge`` proxy, MySQL 8
error-log format.  Expected: root ``session-cache``; no single affected
instance; no abusive client.
"""

from __future__ import annotations

import random

from examples.incidents.sim import BundleWriter, bump, clock, epoch, json_line
from examples.incidents.web_stack import Stack, build_stack, redis_time

NAME = "cache-outage"


def at(when: str) -> float:
    return epoch(f"2026-01-20T{when}Z")


DOWN = (at("14:25:03"), at("14:31:12"))
INSTANCES = {
    f"10.20.1.{n}:8000": {"zone": zone}
    for n, zone in (
        (11, "eu-central-1a"),
        (12, "eu-central-1a"),
        (13, "eu-central-1b"),
        (14, "eu-central-1b"),
    )
}


def trouble(t: float) -> float:
    return max(
        bump(t, at("14:18:00"), at("14:23:00"), at("14:33:00"), at("14:40:00")),
        1.0 if DOWN[0] <= t < DOWN[1] else 0.0,
    )


def app_error(rng: random.Random, upstream: str, t: float) -> str:
    if DOWN[0] <= t < DOWN[1]:
        message = "redis.exceptions.ConnectionError: Error 111 connecting to 10.20.3.5:6379. Connection refused."
    else:
        message = rng.choice(
            (
                "redis.exceptions.TimeoutError: Timeout reading from socket",
                "session lookup failed: redis GET session:* returned nil after eviction; user logged out",
            )
        )
    return json_line(level="error", ts=round(t, 3), msg=message, status=503)


def redis_events(writer: BundleWriter, rng: random.Random) -> None:
    server = {"app": "session-cache", "instance": "10.20.3.5:6379", "stream": "server"}
    for index in range(6):
        t = at("14:19:00") + index * 61 + rng.uniform(0, 20)
        writer.log(
            t,
            server,
            f"1:M {redis_time(t)} # WARNING: maxmemory reached, evicting keys with policy allkeys-lru (used_memory=1073610752)",
        )
    t = DOWN[0] - 0.4
    writer.log(t, server, f"1:M {redis_time(t)} # Out Of Memory allocating 262144 bytes!")
    writer.log(
        t + 0.1,
        server,
        f"1:M {redis_time(t + 0.1)} # === REDIS BUG REPORT START: Cut & paste starting from here ===",
    )
    t = DOWN[1]
    for offset, text in enumerate(
        (
            "1:C {} * oO0OoO0OoO0Oo Redis is starting oO0OoO0OoO0Oo",
            "1:C {} * Redis version=7.2.4, bits=64, commit=00000000, modified=0, pid=1, just started",
            "1:M {} * Server initialized",
            "1:M {} * Ready to accept connections tcp",
        )
    ):
        writer.log(t + offset * 0.05, server, text.format(redis_time(t + offset * 0.05)))
    _ = clock


def build() -> BundleWriter:
    stack = Stack(
        name=NAME,
        bundle_name="catalog-sessions-lost",
        description="Users logged out, 503s on the catalog",
        seed=2026012014,
        data_start=at("13:50:00"),
        window=("2026-01-20T14:00:00Z", "2026-01-20T15:00:00Z"),
        data_end=at("15:00:00"),
        proxy=("edge", {"app": "edge-proxy"}),
        app=("catalog", {"app": "catalog"}),
        mysql=("catalog-db", {"app": "catalog-db"}),
        redis=("session-cache", {"app": "session-cache"}),
        proxy_instance="edge-1",
        proxy_format="json",
        app_instances=INSTANCES,
        mysql_instance="10.20.2.7:9104",
        redis_instance="10.20.3.5:6379",
        mysql_flavor="mysql8",
        client_prefixes=("81.2.69", "85.214.132", "31.13.71"),
        routes=(
            ("GET", "/catalog/items", 4.0, 8200),
            ("GET", "/catalog/item/1042", 3.0, 2100),
            ("POST", "/session/refresh", 1.0, 90),
            ("GET", "/favicon.ico", 0.1, 0),
        ),
        rate=lambda t: 5.0,
        symptom={"component": "edge"},
        cache_trouble=trouble,
        cache_down=lambda t: DOWN[0] <= t < DOWN[1],
        app_error=app_error,
        failure_share=0.45,
        error_status=503,
        slowdown=6.0,
        extra_logs=redis_events,
    )
    return build_stack(stack)
