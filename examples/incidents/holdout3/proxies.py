"""Proxies failing by themselves: nginx out of worker_connections, Envoy's overload manager."""

from __future__ import annotations

from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    envoy_line,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    envoy_exporter,
    fail,
    nginx_exporter,
    serve,
)


def media_edge_worker_connections() -> Bundle:
    """A config push at 12:09:30 reloads both media-edge nginx VMs with
    ``worker_connections 512`` (was 8192; a template typo).  Ordinary SSE listeners keep
    ~1,900 long-lived connections per VM, so from 12:12 each VM's 4 workers sit at their
    2,048 cap: "512 worker_connections are not enough" alerts, accepted > handled, and
    500s that never reach an upstream.  media-api is healthy (fewer requests reach it)."""
    b = Bundle(
        "media-edge-worker-connections",
        "2027-08-17T12:00:00Z",
        description="media site returns 500 and drops connections",
        symptom={"component": "media-edge"},
    )
    reload_m, onset = 9.5, 12.0
    bad = lambda m: m >= onset  # noqa: E731
    b.component("media-edge", "proxy", {"job": "media-edge"}, ["media-api"])
    b.component("media-api", "app", {"job": "media-api"})
    edges = ["172.16.8.11", "172.16.8.12"]
    vms = [Pod(f"172.16.9.{21 + i}:8080") for i in range(4)]
    routes = [
        Route("GET", "/v1/media/{n}", "/v1/media/:id", 0.6, 0.02, 24000),
        Route("GET", "/v1/feed", "/v1/feed", 0.3, 0.05, 8000),
        Route("GET", "/events/stream", "/events/stream", 0.1, 0.01, 300),
    ]
    clients = pick_clients(
        b, client_pool(b, ["31.13.64.", "185.60.218.", "2a03:2880:f12f::", "151.101.1."], 900)
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and b.rng.random() < 0.33:
            fail(e, 500, b.rng.uniform(0.0, 0.002), reached=False, size=177)
            e.extra["edge_alert"] = True

    events = serve(
        b, rate=lambda m: 12.0, clients=clients, routes=routes, pods=vms, outcome=outcome
    )
    per_edge: dict[str, list[Event]] = {ip: [] for ip in edges}
    for e in events:
        ip = edges[int(e.t * 7) % 2]
        per_edge[ip].append(e)
        b.log(
            e.t + e.duration,
            {"job": "media-edge", "instance": f"{ip}:9113", "log": "access"},
            nginx_line(b, e),
        )
        if e.extra.get("edge_alert"):
            up = vms[e.extra["pod"]].addr
            b.log(
                e.t + e.duration,
                {"job": "media-edge", "instance": f"{ip}:9113", "log": "error"},
                f"{b.dt(e.t).strftime('%Y/%m/%d %H:%M:%S')} [alert] {b.rng.choice((2211, 2212, 2213, 2214))}#0: "
                f"*{b.rng.randint(10**7, 10**8)} 512 worker_connections are not enough while connecting to upstream, "
                f'client: {e.client}, server: media.example.net, request: "{e.method} {e.path} HTTP/1.1", '
                f'upstream: "http://{up}{e.path}", host: "media.example.net"',
            )
    for ip in edges:
        lbl = {"job": "media-edge", "instance": f"{ip}:9113"}
        nginx_exporter(
            b,
            lbl,
            per_edge[ip],
            lambda m: (
                ramp(m, reload_m, onset, 1900, 2048)
                if m >= reload_m
                else 1900 + b.rng.randint(-50, 50)
            ),
            cap=2048,
        )
        t = b.t(reload_m) + (0.4 if ip.endswith("12") else 0.1)
        elog = {"job": "media-edge", "instance": f"{ip}:9113", "log": "error"}
        b.log(
            t,
            elog,
            f"{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')} [notice] 1#1: signal 1 (SIGHUP) received from 48810, reconfiguring",
        )
        b.log(
            t + 0.001, elog, f"{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')} [notice] 1#1: reconfiguring"
        )
        for w in range(4):
            b.log(
                t + 0.002 + w * 0.001,
                elog,
                f"{b.dt(t).strftime('%Y/%m/%d %H:%M:%S')} [notice] 1#1: start worker process {2211 + w}",
            )
        for k in range(int((60 - onset) * 2)):
            tt = b.t(onset + k / 2) + b.rng.uniform(0, 20)
            b.log(
                tt,
                elog,
                f"{b.dt(tt).strftime('%Y/%m/%d %H:%M:%S')} [alert] {2211 + k % 4}#0: 512 worker_connections are not enough",
            )
    app_red(b, vms, events, {"job": "media-api"})
    for vm in vms:
        b.runtime(
            {"job": "media-api", "instance": vm.addr},
            cpu=lambda m: 0.3 if not bad(m) else 0.2,
            rss=lambda m: 310e6,
        )
    return b


def api_front_envoy_overload() -> Bundle:
    """At 22:13 a new route table with per-path stat prefixes starts minting stats for
    every request path; both api-front Envoy pods' heaps grow, and from 22:31 the overload
    manager's stop_accepting_requests action is active: 503 ``OM`` "envoy overloaded" with
    no upstream, on both pods alike.  accounts-svc behind them is healthy."""
    b = Bundle(
        "api-front-envoy-overload",
        "2027-08-31T22:00:00Z",
        description="public API answers 503 'envoy overloaded'",
        symptom={"component": "api-front"},
    )
    grow, onset = 13.0, 31.0
    ns = "edge"
    b.component("api-front", "proxy", {"namespace": ns, "container": "envoy"}, ["accounts-svc"])
    b.component("accounts-svc", "app", {"namespace": "accounts", "container": "accounts"})
    fronts = [
        Pod(f"10.70.1.{5 + i}:9901", f"api-front-6d8b7c5f4-{s}", f"10.70.0.{11 + i}:10250")
        for i, s in enumerate(("jk3lm", "np4qr"))
    ]
    pods = [
        Pod(f"10.70.6.{40 + i}:8080", f"accounts-9f7d6c4b2-{s}", f"10.70.0.{13 + i}:10250")
        for i, s in enumerate(("aa1", "bb2", "cc3"))
    ]
    routes = [
        Route("GET", "/v3/accounts/{n}", "/v3/accounts/{id}", 0.7, 0.015),
        Route("PATCH", "/v3/accounts/{n}/prefs", "/v3/accounts/{id}/prefs", 0.3, 0.03),
    ]
    clients = pick_clients(b, client_pool(b, ["100.64.50.", "100.64.51.", "fd00:70:1::"], 220))
    heap = lambda m: (  # noqa: E731
        ramp(m, grow, onset, 0.9e9, 2.04e9) if m < onset else 2.04e9 + (m - onset) * 1e6
    )

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= onset and b.rng.random() < 0.8:
            fail(e, 503, 0.0, reached=False, size=19)
            e.extra["flags"] = "OM"
        elif m >= grow:
            e.duration += ramp(m, grow, onset, 0.0, 0.03)

    events = serve(
        b,
        rate=lambda m: 10.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("accounts-sdk-swift/4.2", "accounts-sdk-kotlin/4.2", "curl/8.5.0"),
    )
    for k, front in enumerate(fronts):
        mine = [e for e in events if int(e.t * 13) % 2 == k]
        labels = {"namespace": ns, "container": "envoy", "pod": front.pod, "instance": front.addr}
        for e in mine:
            b.log(
                e.t + e.duration,
                {"namespace": ns, "container": "envoy", "pod": front.pod},
                envoy_line(b, e, "api.example.org"),
            )
        envoy_exporter(b, labels, "accounts_svc", mine)
        b.gauge(
            "envoy_server_memory_allocated", labels, lambda m, k=k: int(heap(m) * (1 - 0.01 * k))
        )
        b.gauge("envoy_server_memory_heap_size", labels, lambda m, k=k: int(heap(m) * 1.08))
        b.gauge(
            "envoy_overload_envoy_resource_monitors_fixed_heap_pressure",
            labels,
            lambda m: min(100, int(heap(m) / 2.147e9 * 100)),
        )
        b.gauge(
            "envoy_overload_envoy_overload_actions_stop_accepting_requests_active",
            labels,
            lambda m: 1 if m >= onset else 0,
        )
        b.counter_steps(
            "envoy_http_downstream_rq_overload_close",
            {**labels, "envoy_http_conn_manager_prefix": "ingress_http"},
            [e.t for e in mine if e.extra.get("flags") == "OM"],
        )
        b.gauge(
            "envoy_server_stats_recent_lookups", labels, lambda m: int(ramp(m, grow, 60, 4e3, 9e6))
        )
    cadvisor(
        b,
        fronts,
        ns,
        "envoy",
        cpu=lambda m, i: 0.6 if m < onset else 0.9,
        mem=lambda m, i: heap(m) * 1.12,
        limit=2.5e9,
    )
    app_red(b, pods, events, {"namespace": "accounts", "container": "accounts", "job": "accounts"})
    for pod in pods:
        b.runtime(
            {
                "namespace": "accounts",
                "container": "accounts",
                "job": "accounts",
                "instance": pod.addr,
                "pod": pod.pod,
            },
            cpu=lambda m: 0.2,
            rss=lambda m: 120e6,
        )
    return b
