# size: two linear scenario scripts of one family, each telling one story
"""Redis scenarios of round 11 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import redis_log
from examples.incidents.holdout5.common import py_log, redis_more
from examples.incidents.holdout9.common import pino
from examples.incidents.holdout11.common import (
    every,
    finish,
    level,
    pods,
    say_some,
    stack,
    within,
)


def cart_redis_swapping() -> Bundle:  # size: one linear scenario script
    """cart-cache runs Redis 7.0 on an 8 GiB VM without maxmemory; its data grew to 6.9 GiB
    RSS and at 16:18 the nightly backup agent on the same VM takes 1.5 GiB: the kernel
    swaps Redis pages out.  Commands touching swapped pages wait on disk: Redis latency
    0.2 ms -> 50-900 ms spikes, redis-py "Timeout reading from socket", ~25 % of cart calls
    500 through ingress-nginx.  Root: cart-cache (its host swapping)."""
    b = Bundle(
        "cart-redis-swapping",
        "2038-08-03T16:00:00Z",
        description="cart API timeouts since ~16:20",
        symptom={"component": "cart-ingress"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 18.0
    bad = within(onset, 99)
    ns = "cart"
    rl = {"job": "redis", "instance": "10.88.7.21:9121"}
    b.component("cart-cache", "redis", {"job": "redis", "instance": "10.88.7.21:9121"})
    ps = pods("10.88.{k}.45:8000", "cart-api-5b6d8", ("h1j", "k2l", "m3n"), "10.88.0.{k}:10250")
    routes = [
        Route("GET", "/cart", "/cart", 0.55, 0.006, 1600),
        Route("POST", "/cart/items", "/cart/items", 0.3, 0.01, 300),
        Route("GET", "/healthz", "/healthz", 0.15, 0.001, 20),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and "cart" in e.path:
            if rng.random() < 0.26:
                fail(e, 500, 1.0 + rng.uniform(0.0, 0.05), size=80)
            elif rng.random() < 0.4:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.05, 0.9)

    site = stack(
        b,
        edge_name="cart-ingress",
        app="cart-api",
        ns=ns,
        deps=["cart-cache"],
        ps=ps,
        routes=routes,
        prefixes=["2a00:23c5:", "86.150.", "81.129.", "2a02:c7c:"],
        clients=700,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.88.0.2:10254"},
        rate=lambda m: 7.0,
        cluster="cart-cart-api-80",
    )
    say_some(
        site,
        0.5,
        lambda e: py_log(
            b,
            e.t,
            "ERROR",
            "cart.store",
            "redis.exceptions.TimeoutError: Timeout reading from socket",
        ),
    )
    finish(site, ns, "cart-api", "web", go=False)
    redis_exporter(
        b,
        rl,
        ops=level(bad, 900.0, 1400.0),
        used=lambda m: 6.4e9 + m * 1e6,
        maxmemory=0.0,
        clients=level(bad, 140.0, 60.0),
        blocked=lambda m: 0.0,
        cmd_usec={"get": level(bad, 0.55, 0.003), "hset": level(bad, 0.2, 0.001)},
        cpu=level(bad, 0.08, 0.1),
    )
    redis_more(b, rl, connections=level(bad, 6.0, 0.6))
    b.gauge("redis_memory_used_rss_bytes", rl, lambda m: 6.9e9 if m < onset else 5.3e9)
    b.gauge("redis_mem_fragmentation_ratio", rl, lambda m: 1.07 if m < onset else 0.82)
    nl = {"job": "node", "instance": "10.88.7.21:9100"}
    node_exporter(
        b,
        nl,
        busy=level(bad, 0.3, 0.1),
        avail=level(bad, 0.12e9, 0.9e9),
        mem_total=8.3e9,
        iowait=level(bad, 0.35, 0.01),
        cores=2,
    )
    b.gauge("node_memory_SwapTotal_bytes", nl, lambda m: 4.29e9)
    b.gauge("node_memory_SwapFree_bytes", nl, lambda m: 2.6e9 if m >= onset else 4.28e9)
    b.counter("node_vmstat_pswpin", nl, level(bad, 2400.0, 0.0), start=1.2e6)
    b.counter("node_vmstat_pswpout", nl, level(bad, 1900.0, 0.0), start=3.4e6)
    b.counter("node_vmstat_pgmajfault", nl, level(bad, 2100.0, 2.0), start=9.9e6)
    rlog = {"job": "redis", "instance": "10.88.7.21"}
    for t in every(b, 0, b.minutes, 240, 360):
        b.log(t, rlog, redis_log(b, t, 811, "M", "*", "100 changes in 300 seconds. Saving..."))
        b.log(
            t + 1, rlog, redis_log(b, t + 1, 811, "M", "*", "Background saving started by pid 3301")
        )
    for t in every(b, onset, b.minutes, 20, 45):
        b.log(
            t,
            {"job": "node", "instance": "10.88.7.21", "unit": "backup-agent.service"},
            f"backup-agent: uploading chunk {rng.randint(100, 900)}/1024 of snapshot-20380803",
        )
    return b


def tokens_redis_idle_timeout() -> Bundle:  # size: one linear scenario script
    """At 10:40 an operator applies `CONFIG SET timeout 60` on tokens-cache (was 0) to shed
    leaked connections, and CONFIG REWRITE.  The Node token service's ioredis-like pool keeps
    idle connections for minutes: Redis closes those idle over 60 s, and each borrow of one
    fails "Connection closed by server" / ECONNRESET before the pool notices: ~8 % of token
    checks 500 at Envoy, spread over all pods; Redis itself is idle and fast.  Root:
    tokens-cache (its idle timeout, a configuration change)."""
    from examples.incidents.holdout4.common import envoy_json_line

    b = Bundle(
        "tokens-redis-idle-timeout",
        "2038-09-14T10:25:00Z",
        description="intermittent 500s on token validation",
        symptom={"component": "tokens-gw"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "identity"
    rl = {"job": "redis-exporter", "instance": "tokens-cache-0:9121"}
    b.component("tokens-cache", "redis", {"job": "redis-exporter"})
    suffixes = ("p9q", "r8s", "t7u", "v6w")
    ps = pods("100.70.{k}.8:3000", "tokens-svc-6d4f7", suffixes, "100.70.0.{k}:10250")
    routes = [
        Route("POST", "/v1/introspect", "/v1/introspect", 0.8, 0.004, 300),
        Route("POST", "/v1/revoke", "/v1/revoke", 0.2, 0.006, 80),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.08:
            fail(e, 500, rng.uniform(0.001, 0.01), size=64)

    site = stack(
        b,
        edge_name="tokens-gw",
        app="tokens-svc",
        ns=ns,
        deps=["tokens-cache"],
        ps=ps,
        routes=routes,
        prefixes=["100.64.", "100.65.", "100.66."],
        clients=90,
        outcome=outcome,
        kind="envoy",
        edge={"job": "tokens-gw", "instance": "100.70.0.2:9901"},
        rate=lambda m: 5.0,
        fmt=lambda e: envoy_json_line(b, e, "tokens_svc", "tokens.identity.svc"),
        cluster="tokens_svc",
    )
    say_some(
        site,
        0.7,
        lambda e: pino(
            b,
            e.t,
            50,
            ps[e.extra["pod"]].pod,
            "redis command failed",
            err={"type": "Error", "message": "read ECONNRESET", "code": "ECONNRESET"},
            cmd="GET",
        ),
    )
    for t in every(b, 0, b.minutes, 25, 60):
        k = rng.randrange(4)
        site.say(t, k, pino(b, t, 30, ps[k].pod, "jwks refreshed", keys=3))
    finish(site, ns, "tokens-svc", "app", go=False)
    redis_exporter(
        b,
        rl,
        ops=lambda m: 320.0,
        used=lambda m: 410e6,
        maxmemory=2e9,
        clients=level(bad, 38.0, 120.0),
        cmd_usec={"get": lambda m: 0.0004, "setex": lambda m: 0.0001},
    )
    redis_more(b, rl, connections=level(bad, 1.9, 0.05))
    b.gauge("redis_config_timeout", rl, lambda m: 60 if m >= onset else 0)
    rlog = {"job": "redis-exporter", "instance": "tokens-cache-0"}
    t = b.t(onset)
    b.log(t, rlog, redis_log(b, t, 1, "M", "*", "CONFIG REWRITE executed with success."))
    for t in every(b, 0, b.minutes, 280, 320):
        b.log(t, rlog, redis_log(b, t, 1, "M", "*", "DB saved on disk"))
    return b
