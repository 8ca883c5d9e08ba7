"""client-flood: two client IPs hammer /search; latency rises on every instance.

2026-04-15, window 18:00-19:00 UTC.  From 18:31:20 to 18:44 the clients
100.72.14.9 and 100.72.14.10 (``Go-http-client/1.1``) send about 60 requests
per second each to ``/search?q=...``; ordinary users make about 4 per second
in all.  All ``search-api`` instances slow down and shed some load (503), the
database sees more queries but no locks, Redis is fine.  Access logs end in
``$request_time $upstream_response_time`` and are written stream by stream
(unsorted across streams).  Expected: root ``client``, clients those two IPs,
remediation ``rate-limit-client``; no single affected instance.
"""

from __future__ import annotations

import random

from examples.incidents.sim import BundleWriter, Request, bump, epoch, json_line
from examples.incidents.web_stack import Stack, build_stack

NAME = "client-flood"
FLOODERS = ("100.72.14.9", "100.72.14.10")
INSTANCES = {f"172.31.{a}.{b}:9000": {} for a, b in ((8, 21), (8, 22), (9, 40))}


def at(when: str) -> float:
    return epoch(f"2026-04-15T{when}Z")


FLOOD = (at("18:31:20"), at("18:32:00"), at("18:43:00"), at("18:44:00"))


def load(upstream: str, t: float) -> float:
    return 0.7 * bump(t, *FLOOD)


def flood(rng: random.Random) -> list[Request]:
    requests = []
    upstreams = list(INSTANCES)
    for client in FLOODERS:
        t = FLOOD[0]
        while t < FLOOD[3]:
            t += rng.expovariate(60.0)
            pressure = bump(t, *FLOOD)
            took = round(0.05 + 1.8 * pressure * rng.random(), 3)
            shed = rng.random() < 0.2 * pressure
            upstream = rng.choice(upstreams)
            requests.append(
                Request(
                    ts=t + took,
                    client=client,
                    method="GET",
                    path=f"/search?q={rng.choice(('a', 'ab', 'abc', 'shoes', 'x'))}&page={rng.randint(1, 400)}",
                    status=503 if shed else 200,
                    size=118 if shed else 14200,
                    request_time=took,
                    upstream=upstream,
                    upstream_status="503" if shed else "200",
                    user_agent="Go-http-client/1.1",
                    route="/search",
                )
            )
    return requests


def app_error(rng: random.Random, upstream: str, t: float) -> str:
    return json_line(
        level="warning", ts=round(t, 3), msg="request queue full (256), shedding load", status=503
    )


def build() -> BundleWriter:
    stack = Stack(
        name=NAME,
        bundle_name="search-slow",
        description="Search is slow for everyone",
        seed=2026041518,
        data_start=at("17:50:00"),
        window=("2026-04-15T18:00:00Z", "2026-04-15T19:00:00Z"),
        data_end=at("19:00:00"),
        proxy=("lb", {"job": "lb"}),
        app=("search-api", {"job": "search-api"}),
        mysql=("search-db", {"job": "search-db"}),
        redis=("search-cache", {"job": "search-cache"}),
        proxy_instance="lb-a",
        proxy_format="timing",
        app_instances=INSTANCES,
        mysql_instance="search-db-1",
        redis_instance="search-cache-1",
        mysql_flavor="mysql8",
        client_prefixes=("73.15.201", "24.6.130", "98.207.44", "71.202.9"),
        routes=(
            ("GET", "/search", 3.0, 14000),
            ("GET", "/suggest", 2.0, 800),
            ("GET", "/favicon.ico", 0.05, 0),
        ),
        rate=lambda t: 4.0,
        symptom={"component": "lb", "route": "/search"},
        app_trouble=load,
        app_error=app_error,
        failure_share=0.15,
        error_status=503,
        slowdown=15.0,
        cpu=lambda instance, t: 0.25 + 0.6 * bump(t, *FLOOD),
        extra_requests=flood,
        sort_logs=False,
    )
    return build_stack(stack)
