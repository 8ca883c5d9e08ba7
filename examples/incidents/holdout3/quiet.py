"""Windows that hold no incident: a self-healed 45 s blip, a busy but healthy lunch hour,
and a rolling deploy whose short 503 spike stays inside the error budget."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import mysqld_exporter, redis_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    envoy_line,
    ingress_line,
    nginx_line,
    pick_clients,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    envoy_exporter,
    fail,
    ingress_metrics,
    nginx_exporter,
    serve,
)


def docs_blip_heals() -> Bundle:
    """At 13:37:10 one docs-renderer pod stalls for 45 s (its node's NIC resets; kernel
    log on the node, not here); the proxy answers 502 for that pod's share of requests,
    then everything is normal for the remaining 22 minutes.  Healed by itself; nothing
    to diagnose, nothing to drain."""
    b = Bundle(
        "docs-blip-heals",
        "2027-01-27T13:00:00Z",
        description="a brief burst of 502 on docs pages",
        symptom={"component": "docs-edge"},
    )
    start, end = 37 + 10 / 60, 37 + 55 / 60
    b.component("docs-edge", "proxy", {"job": "docs-edge"}, ["docs-renderer"])
    b.component("docs-renderer", "app", {"job": "docs-renderer"}, ["docs-redis"])
    b.component("docs-redis", "redis", {"job": "docs-redis"})
    pods = [Pod(f"10.140.8.{31 + i}:8080") for i in range(3)]
    routes = [
        Route("GET", "/docs/v4/page-{n}", "/docs/*", 0.9, 0.02, 30000),
        Route("GET", "/search.json?q=x{n}", "/search.json", 0.1, 0.05),
    ]
    clients = pick_clients(
        b, client_pool(b, ["83.136.81.", "212.58.244.", "2a01:4f8:c17:7e1::", "66.249.66."], 500)
    )
    errs: list[float] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if i == 1 and start <= m < end:
            if b.rng.random() < 0.5:
                fail(e, 502, b.rng.uniform(1.0, 3.0), reached=False)
                e.upstream, e.upstream_status = pods[1].addr, "502"
                e.extra.pop("pod")
            else:
                fail(e, 504, 5.0, reached=False)
                e.upstream, e.upstream_status = pods[1].addr, "504"
                e.extra.pop("pod")
            errs.append(e.t + e.duration)

    events = serve(
        b, rate=lambda m: 9.0, clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    edge = {"job": "docs-edge", "instance": "10.140.0.6:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "docs-edge", "instance": "10.140.0.6:9113", "log": "access"},
            nginx_line(b, e),
        )
    for k, t in enumerate(errs):
        if k % 5 == 0:
            b.log(
                t,
                {"job": "docs-edge", "instance": "10.140.0.6:9113", "log": "error"},
                f"{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')} [error] 31#31: *{9_100_000 + k} upstream timed out "
                f"(110: Connection timed out) while connecting to upstream, client: 83.136.81.9, server: docs.example.dev, "
                f'request: "GET /docs/v4/page-1 HTTP/1.1", upstream: "http://{pods[1].addr}/docs/v4/page-1"',
            )
    nginx_exporter(b, edge, events, lambda m: 80)
    app_red(b, pods, events, {"job": "docs-renderer"})
    for i, pod in enumerate(pods):
        gone = (lambda m: not (start <= m < end)) if i == 1 else None
        b.runtime(
            {"job": "docs-renderer", "instance": pod.addr},
            cpu=lambda m: 0.3,
            rss=lambda m: 140e6,
            present=gone,
        )
        b.promhttp_noise(
            {"job": "docs-renderer", "instance": pod.addr}, blip_at=14.3 if i == 2 else None
        )
    redis_exporter(
        b,
        {"job": "docs-redis", "instance": "10.140.9.2:9121"},
        ops=lambda m: 1300,
        used=lambda m: 9e8,
        maxmemory=4e9,
        clients=lambda m: 20,
    )
    return b


def lunch_busy_hour() -> Bundle:
    """12:00-13:00 lunch rush: traffic grows ~3x, the HPA adds two orders-web pods (12:20,
    12:31), MySQL questions, connections, running threads and buffer-pool activity follow
    load, Redis ops triple.  p99 rises a little, errors stay at their baseline (a few 404s
    and client 499s).  One slow query and one aborted-client counter tick are ordinary
    noise.  No incident."""
    b = Bundle(
        "lunch-busy-hour",
        "2027-02-23T12:00:00Z",
        step=30,
        description="routine check of the lunch peak",
        symptom={"component": "lunch-ingress"},
    )
    ns = "food"
    b.component("lunch-ingress", "proxy", {"job": "lunch-ingress"}, ["orders-web"])
    b.component(
        "orders-web",
        "app",
        {"namespace": ns, "container": "orders-web"},
        ["lunch-mysql", "lunch-redis"],
    )
    b.component("lunch-mysql", "mysql", {"job": "lunch-mysql"})
    b.component("lunch-redis", "redis", {"job": "lunch-redis"})
    load = lambda m: 1.0 + 2.0 * min(1.0, m / 35.0) - (0.4 * max(0.0, m - 50) / 10)  # noqa: E731
    joins = [None, None, None, 20.0, 31.0]
    pods = [
        Pod(
            f"10.230.{1 + i}.{40 + i}:8080",
            f"orders-web-5f7d9c8b6-{s}",
            f"10.230.0.{10 + i}:10250",
            present=(lambda m, j=j: m >= j) if j else None,
        )
        for i, (s, j) in enumerate(zip(("aq1", "sw2", "de3", "fr4", "gt5"), joins, strict=True))
    ]
    routes = [
        Route("GET", "/menu/{n}", "/menu/:id", 0.5, 0.02),
        Route("POST", "/orders", "/orders", 0.2, 0.07),
        Route("GET", "/orders/{n}", "/orders/:id", 0.3, 0.015),
    ]
    clients = pick_clients(
        b, client_pool(b, ["100.64.140.", "100.64.141.", "100.64.142.", "2a00:23c8:1b0a::"], 700)
    )

    def outcome(e: Event, m: float, i: int) -> None:
        e.duration = e.extra["app_dur"] = e.duration * (1 + 0.15 * (load(m) - 1))
        r = b.rng.random()
        if r < 0.004:
            fail(e, 404, e.duration, size=60)
        elif r < 0.006:
            e.status, e.upstream_status = 499, "-"

    events = serve(
        b, rate=lambda m: 4.5 * load(m), clients=clients, routes=routes, pods=pods, outcome=outcome
    )
    ing = {"job": "lunch-ingress", "instance": "10.230.0.4:10254"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "lunch-ingress", "instance": "10.230.0.4:10254"},
            ingress_line(b, e, "food-orders-web-8080"),
        )
    ingress_metrics(b, ing, events)
    base = {"namespace": ns, "container": "orders-web", "job": "orders-web"}
    app_red(b, pods, events, base)
    live = lambda m: sum(1 for p in pods if p.up(m))  # noqa: E731
    for pod in pods:
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.25 * load(m) * 3 / live(m),
            rss=lambda m: 120e6,
            present=pod.present,
            goroutines=lambda m: 50 * load(m),
        )
    cadvisor(
        b,
        pods,
        ns,
        "orders-web",
        cpu=lambda m, i: 0.25 * load(m) * 3 / live(m),
        mem=lambda m, i: 1.3e8,
    )
    mysqld_exporter(
        b,
        {"job": "lunch-mysql", "instance": "10.230.5.5:9104"},
        qps=lambda m: 300 * load(m),
        connected=lambda m: 30 + 8 * live(m),
        running=lambda m: 2 + 3 * load(m),
        slow=lambda m: 0.0018,
        lock_waits=lambda m: 0.02 * load(m),
    )
    t = b.t(41.3)
    b.log(
        t,
        {"job": "lunch-mysql", "instance": "10.230.5.5:9104", "log": "slow"},
        f"# Time: {b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n# User@Host: reporting[reporting] @  [10.230.7.2]  Id: 88121\n"
        "# Query_time: 1.208733  Lock_time: 0.000009 Rows_sent: 31  Rows_examined: 81220\n"
        f"SET timestamp={int(t)};\nSELECT restaurant_id, COUNT(*) FROM orders WHERE created_at > CURDATE() GROUP BY restaurant_id;",
    )
    redis_exporter(
        b,
        {"job": "lunch-redis", "instance": "10.230.5.9:9121"},
        ops=lambda m: 900 * load(m),
        used=lambda m: 1.1e9 + 1e8 * load(m),
        maxmemory=6e9,
        clients=lambda m: 10 + 6 * live(m),
    )
    return b


def notif_deploy_spike() -> Bundle:
    """A planned rolling restart of notif-api (new image 2.8.3) runs 16:24-16:27.  The
    pods have no preStop delay, so Envoy sends requests to each terminating pod for a few
    seconds: ~70 503s (UF, upstream connect failure) in three short bursts, 0.3 % of the
    hour's requests, inside the 99.5 % SLO.  Latency and errors are back to baseline by
    16:27:30.  Nothing to do (a preStop hook is a follow-up, not an incident action)."""
    b = Bundle(
        "notif-deploy-spike",
        "2027-03-18T16:00:00Z",
        description="deploy check: short 503 burst during rollout",
        symptom={"component": "notif-gw"},
    )
    swaps = [24.0, 25.2, 26.4]
    ns = "notify"
    b.component("notif-gw", "proxy", {"job": "notif-gw"}, ["notif-api"])
    b.component("notif-api", "app", {"namespace": ns, "container": "notif-api"})
    old = [
        Pod(
            f"10.77.{4 + i}.{20 + i}:8080",
            f"notif-api-5c6d7e8f9-{s}",
            f"10.77.0.{5 + i}:10250",
            present=lambda m, k=i: m < swaps[k] + 0.1,
        )
        for i, s in enumerate(("qq1", "ww2", "ee3"))
    ]
    new = [
        Pod(
            f"10.77.{4 + i}.{30 + i}:8080",
            f"notif-api-79a8b6c5d-{s}",
            f"10.77.0.{5 + i}:10250",
            present=lambda m, k=i: m >= swaps[k] - 0.3,
        )
        for i, s in enumerate(("rr4", "tt5", "yy6"))
    ]
    pods = [*old, *new]
    routes = [
        Route("POST", "/v1/notify", "/v1/notify", 0.7, 0.03),
        Route("GET", "/v1/prefs/{n}", "/v1/prefs/:id", 0.3, 0.01),
    ]
    clients = pick_clients(b, client_pool(b, ["10.77.100.", "10.77.101."], 30))

    def outcome(e: Event, m: float, i: int) -> None:
        if i < 3 and swaps[i] - 0.3 <= m < swaps[i] + 0.1 and b.rng.random() < 0.5:
            fail(e, 503, b.rng.uniform(0.001, 0.004), reached=False, size=91)
            e.upstream, e.upstream_status = pods[i].addr, "-"
            e.extra["flags"] = "UF"
            e.extra.pop("pod")

    events = serve(
        b,
        rate=lambda m: 9.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("notif-client-go/1.9",),
    )
    gw = {"job": "notif-gw", "instance": "10.77.0.3:9901"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "notif-gw", "instance": "10.77.0.3:9901"},
            envoy_line(b, e, "notif.svc"),
        )
    envoy_exporter(b, gw, "notif_api", events)
    base = {"namespace": ns, "container": "notif-api", "job": "notif-api"}
    app_red(b, pods, events, base)
    for k, pod in enumerate(pods):
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.2,
            rss=lambda m: 70e6,
            present=pod.present,
        )
        if k >= 3:
            t = b.t(swaps[k - 3] - 0.3)
            b.log(
                t,
                {"namespace": ns, "container": "notif-api", "pod": pod.pod},
                json.dumps(
                    {
                        "time": b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "level": "INFO",
                        "msg": "listening",
                        "addr": ":8080",
                        "version": "2.8.3",
                    }
                ),
            )
        else:
            t = b.t(swaps[k])
            b.log(
                t,
                {"namespace": ns, "container": "notif-api", "pod": pod.pod},
                json.dumps(
                    {
                        "time": b.dt(t).strftime("%Y-%m-%dT%H:%M:%SZ"),
                        "level": "INFO",
                        "msg": "received SIGTERM, exiting",
                        "version": "2.8.2",
                    }
                ),
            )
    cadvisor(b, pods, ns, "notif-api", cpu=lambda m, i: 0.2, mem=lambda m, i: 8e7)
    return b
