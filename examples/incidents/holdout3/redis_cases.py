"""Redis scenarios: a KEYS storm that blocks the event loop, and a Redis Cluster failover."""

from __future__ import annotations

import json
from collections import defaultdict

from examples.incidents.holdout3.exporters import redis_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import Pod, Route, app_red, fail, nginx_exporter, serve


def _haproxy_line(b: Bundle, e: Event, server: str) -> str:
    ms = int(e.duration * 1000)
    stamp = b.dt(e.t)
    sess = e.extra.get("sessions", 40)
    flags = e.extra.get("flags", "----")
    return (
        f"{stamp.strftime('%b %e %H:%M:%S')} lb-menu-1 haproxy[1221]: {e.client}:{b.rng.randint(30000, 65000)} "
        f"[{stamp.strftime('%d/%b/%Y:%H:%M:%S')}.{int(e.t * 1000) % 1000:03d}] fe_menu~ be_menu/{server} "
        f"0/0/1/{ms - 1}/{ms} {e.status} {e.size} - - {flags} {sess}/{sess}/{sess // 3}/{sess // 9}/0 0/0 "
        f'"{e.method} {e.path} HTTP/1.1"'
    )


def menu_redis_keys_storm() -> Bundle:
    """From 19:14 a debugging script in a toolbox pod (10.44.7.19) runs ``KEYS menu:*``
    every 5 s against 11 M keys; each call blocks Redis for ~1.9 s.  Redis burns a full
    core, its slowlog fills with KEYS, and every menu-api pod's ioredis calls time out
    alike (503, p99 from 40 ms to 2 s).  The Redis is the root; the caller is internal."""
    b = Bundle(
        "menu-redis-keys-storm",
        "2027-07-08T19:00:00Z",
        description="menu pages slow and failing with 503",
        symptom={"component": "menu-haproxy"},
    )
    onset = 14.0
    on = lambda m: m >= onset  # noqa: E731
    b.component("menu-haproxy", "proxy", {"job": "menu-haproxy"}, ["menu-api"])
    b.component("menu-api", "app", {"service": "menu-api"}, ["menu-redis"])
    b.component("menu-redis", "redis", {"service": "menu-redis"})
    ns = "menu"
    pods = [
        Pod(f"10.44.5.{21 + i}:3000", f"menu-api-58c7f9d6b-{s}")
        for i, s in enumerate(("xq2", "vb7", "nm4"))
    ]
    routes = [
        Route("GET", "/v2/menu/{n}", "/v2/menu/:storeId", 0.7, 0.03),
        Route("GET", "/v2/items/{n}", "/v2/items/:id", 0.3, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["77.111.244.", "88.208.12.", "2001:8a0:6b1c::"], 300))
    errs: list[tuple[float, int]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if on(m) and b.rng.random() < 0.38:  # arrived while KEYS held the loop: waits for it
            d = b.rng.uniform(0.4, 2.0)
            if b.rng.random() < 0.45:
                fail(e, 503, 1.0 + b.rng.uniform(0.0, 0.02), size=88)
                errs.append((e.t + 1.0, i))
            else:
                e.duration = e.extra["app_dur"] = d

    events = serve(
        b, rate=lambda m: 11.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    lb = {"job": "menu-haproxy", "instance": "10.44.0.5:8405"}
    codes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for e in events:
        server = f"menu-{e.extra['pod'] + 1}"
        e.extra["sessions"] = 120 if on(b.m(e.t)) else 35
        b.log(
            e.t + e.duration,
            {"job": "menu-haproxy", "instance": "10.44.0.5:8405"},
            _haproxy_line(b, e, server),
        )
        codes[(server, f"{str(e.status)[0]}xx")].append(e.t + e.duration)
    for server in ("menu-1", "menu-2", "menu-3"):
        for cls in ("2xx", "4xx", "5xx"):
            b.counter_steps(
                "haproxy_server_http_responses_total",
                {**lb, "proxy": "be_menu", "server": server, "code": cls},
                codes.get((server, cls), []),
            )
        b.gauge(
            "haproxy_server_status",
            {**lb, "proxy": "be_menu", "server": server, "state": "UP"},
            lambda m: 1,
        )
    b.gauge(
        "haproxy_backend_response_time_average_seconds",
        {**lb, "proxy": "be_menu"},
        lambda m: round(0.4 if on(m) else 0.03, 3),
    )
    b.gauge(
        "haproxy_frontend_current_sessions",
        {**lb, "proxy": "fe_menu"},
        lambda m: 120 if on(m) else 35,
    )
    base = {"service": "menu-api", "job": "menu-api", "namespace": ns}
    app_red(b, pods, events, base)
    for t, i in errs:
        b.log(
            t,
            {"service": "menu-api", "namespace": ns, "pod": pods[i].pod},
            json.dumps(
                {
                    "level": 50,
                    "time": int(t * 1000),
                    "pid": 1,
                    "hostname": pods[i].pod,
                    "msg": "menu lookup failed",
                    "redis": "10.44.6.3:6379",
                    "err": {
                        "type": "Error",
                        "message": "Command timed out",
                        "stack": "Error: Command timed out\n    at Timeout._onTimeout (/app/node_modules/ioredis/built/Redis.js:171:32)",
                    },
                },
                separators=(",", ":"),
            ),
        )
    for pod in pods:
        labels = {**base, "instance": pod.addr, "pod": pod.pod}
        b.gauge(
            "nodejs_eventloop_lag_seconds", labels, lambda m: round(b.rng.uniform(0.001, 0.004), 4)
        )
        b.gauge("nodejs_active_handles_total", labels, lambda m: 30 + (60 if on(m) else 0))
        b.runtime(labels, cpu=lambda m: 0.18, rss=lambda m: 150e6, go=False)
    rd = {"service": "menu-redis", "job": "redis-exporter", "instance": "10.44.6.3:9121"}
    redis_exporter(
        b,
        rd,
        ops=lambda m: 4200 if not on(m) else 2600,
        used=lambda m: 5.1e9,
        maxmemory=8e9,
        clients=lambda m: 48 if not on(m) else 140,
        slowlog=lambda m: ramp(m, onset, onset + 3, 2, 128),
        blocked=lambda m: 0,
        cpu=lambda m: 0.35 if not on(m) else 1.0,
        cmd_usec={
            "get": lambda m: 0.05,
            "keys": lambda m: 0.38 if on(m) else 0.0,
            "setex": lambda m: 0.01,
        },
    )
    for cmd, rate in (("get", 3600.0), ("setex", 500.0)):
        b.counter(
            "redis_commands_total",
            {**rd, "cmd": cmd},
            lambda m, rate=rate: rate * (0.62 if on(m) else 1),
            start=4.1e9,
        )
    b.counter(
        "redis_commands_total", {**rd, "cmd": "keys"}, lambda m: 0.2 if on(m) else 0.0, start=3
    )
    b.gauge("redis_db_keys", {**rd, "db": "db0"}, lambda m: 11_204_000 + int(m * 40))
    return b


def _redis_stamp(b: Bundle, t: float, role: str) -> str:
    return f"1:{role} {b.dt(t).strftime('%d %b %Y %H:%M:%S.%f')[:-3]}"


def session_redis_cluster_failover() -> Bundle:
    """At 03:21:10 the VM of master redis-cluster-2 (10.61.4.12) freezes for ~55 s.
    After cluster-node-timeout the others mark it FAIL, its replica 10.61.4.15 wins the
    election at 03:21:31 and the cluster is ok again; session-svc pods fail ~1/3 of
    requests (CLUSTERDOWN / i/o timeout) for ~21 s alike, then follow MOVED.  The old
    master rejoins as a replica.  Healed by itself: nothing to do."""
    b = Bundle(
        "session-redis-cluster-failover",
        "2027-07-29T03:00:00Z",
        description="short burst of 503 on session lookups",
        symptom={"component": "sessions-gw"},
    )
    freeze, won, back = 21 + 10 / 60, 21 + 31 / 60, 22 + 5 / 60
    b.component("sessions-gw", "proxy", {"job": "sessions-gw"}, ["session-svc"])
    b.component("session-svc", "app", {"job": "session-svc"}, ["session-redis"])
    b.component("session-redis", "redis", {"job": "session-redis"})
    pods = [
        Pod(f"10.61.2.{30 + i}:8080", f"session-svc-7f6c8-{s}")
        for i, s in enumerate(("a9", "b8", "c7", "d6"))
    ]
    routes = [
        Route("GET", "/v1/session", "/v1/session", 0.85, 0.004),
        Route("POST", "/v1/session", "/v1/session", 0.15, 0.006),
    ]
    clients = pick_clients(b, client_pool(b, ["10.61.100.", "10.61.101."], 40))
    errs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if freeze <= m < won + 0.02 and b.rng.random() < 0.34:
            if m < freeze + 0.25:
                fail(e, 503, 0.5 + b.rng.uniform(0, 0.01))
                errs.append(
                    (
                        e.t + 0.5,
                        i,
                        f"read tcp 10.61.2.{30 + i}:4{b.rng.randint(0, 9999):04d}->10.61.4.12:6379: i/o timeout",
                    )
                )
            else:
                fail(e, 503, b.rng.uniform(0.001, 0.004))
                errs.append((e.t, i, "CLUSTERDOWN The cluster is down"))

    events = serve(
        b,
        rate=lambda m: 14.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("Go-http-client/2.0",),
    )
    gw = {"job": "sessions-gw", "instance": "10.61.0.12:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "sessions-gw", "instance": "10.61.0.12:9113"},
            nginx_line(b, e),
        )
    nginx_exporter(b, gw, events, lambda m: 90)
    app_red(b, pods, events, {"job": "session-svc"})
    for t, i, msg in errs:
        b.log(
            t,
            {"job": "session-svc", "instance": pods[i].addr},
            f'{{"time":"{b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}","level":"ERROR","msg":"session lookup","error":"{msg}","cluster":"10.61.4.10:6379,10.61.4.11:6379,10.61.4.12:6379"}}',
        )
    for pod in pods:
        b.runtime(
            {"job": "session-svc", "instance": pod.addr}, cpu=lambda m: 0.12, rss=lambda m: 60e6
        )
    nodes = [f"10.61.4.{10 + i}" for i in range(6)]
    ids = [f"{b.rng.getrandbits(160):040x}" for _ in nodes]
    for n, ip in enumerate(nodes):
        labels = {
            "job": "session-redis",
            "instance": f"{ip}:9121",
            "redis_node": f"redis-cluster-{n}",
        }
        if n == 2:
            role = lambda m: "master" if m < freeze else "slave"  # noqa: E731
        elif n == 5:
            role = lambda m: "master" if m >= won else "slave"  # noqa: E731
        else:
            role = (lambda m: "master") if n < 3 else (lambda m: "slave")
        redis_exporter(
            b,
            labels,
            ops=lambda m, n=n: 1900 if n < 3 else 40,
            used=lambda m: 2.2e9,
            maxmemory=6e9,
            clients=lambda m: 38,
            role=role,
            up=(lambda m: not (freeze <= m < back + 0.1)) if n == 2 else None,
        )
        b.gauge(
            "redis_cluster_state",
            labels,
            lambda m, n=n: (
                None
                if n == 2 and freeze <= m < back + 0.1
                else (0 if freeze + 0.25 <= m < won else 1)
            ),
        )
        b.gauge("redis_cluster_known_nodes", labels, lambda m: 6)
    logs = {n: {"job": "session-redis", "instance": f"{ip}:6379"} for n, ip in enumerate(nodes)}
    t = b.t(freeze + 0.25)
    for n in (0, 1, 3):
        b.log(
            t + n * 0.01,
            logs[n],
            f"{_redis_stamp(b, t + n * 0.01, 'M' if n < 3 else 'S')} * Marking node {ids[2]} () as failing (quorum reached).",
        )
        b.log(
            t + n * 0.01 + 0.001,
            logs[n],
            f"{_redis_stamp(b, t + n * 0.01 + 0.001, 'M' if n < 3 else 'S')} # Cluster state changed: fail",
        )
    b.log(
        t + 0.02,
        logs[5],
        f"{_redis_stamp(b, t + 0.02, 'S')} * FAIL message received from {ids[0]} () about {ids[2]} ()",
    )
    b.log(t + 0.03, logs[5], f"{_redis_stamp(b, t + 0.03, 'S')} # Cluster state changed: fail")
    t = b.t(won) - 1.2
    b.log(
        t,
        logs[5],
        f"{_redis_stamp(b, t, 'S')} * Start of election delayed for 611 milliseconds (rank #0, offset 88120331).",
    )
    b.log(
        t + 0.7,
        logs[5],
        f"{_redis_stamp(b, t + 0.7, 'S')} * Starting a failover election for epoch 19.",
    )
    for n in (0, 1):
        b.log(
            t + 0.71,
            logs[n],
            f"{_redis_stamp(b, t + 0.71, 'M')} * Failover auth granted to {ids[5]} () for epoch 19",
        )
    t = b.t(won)
    b.log(t, logs[5], f"{_redis_stamp(b, t, 'S')} * Failover election won for epoch 19.")
    b.log(
        t + 0.001,
        logs[5],
        f"{_redis_stamp(b, t + 0.001, 'M')} * configEpoch set to 19 after successful failover",
    )
    for n in (0, 1, 3, 4, 5):
        b.log(
            t + 0.05 + n * 0.01,
            logs[n],
            f"{_redis_stamp(b, t + 0.05 + n * 0.01, 'M' if n in (0, 1, 5) else 'S')} # Cluster state changed: ok",
        )
    t = b.t(back)
    b.log(
        t,
        logs[2],
        f"{_redis_stamp(b, t, 'M')} # Configuration change detected. Reconfiguring myself as a replica of {ids[5]} ()",
    )
    b.log(
        t + 0.01,
        logs[2],
        f"{_redis_stamp(b, t + 0.01, 'S')} * Connecting to MASTER 10.61.4.15:6379",
    )
    b.log(
        t + 0.4,
        logs[2],
        f"{_redis_stamp(b, t + 0.4, 'S')} * MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization.",
    )
    return b
