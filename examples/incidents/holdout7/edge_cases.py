# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Edges: nginx buffering uploads to a full disk, HAProxy at its process-wide maxconn, and
Envoy 503 UC after a release shortened the upstream's keep-alive timeout."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import envoy_json_line, logrus
from examples.incidents.holdout5.common import nginx_ctx, nginx_error, within
from examples.incidents.holdout6.common import (
    Pod,
    Route,
    every,
    haproxy_exporter,
    haproxy_line,
    web,
)
from examples.incidents.holdout7.common import nodejs_runtime


def uploads_nginx_body_temp_full() -> Bundle:  # size: one linear scenario script
    """uploads-edge (one nginx VM) buffers request bodies to /var/lib/nginx/body on its
    20 GB root filesystem.  A logrotate change dropped the ``postrotate`` reopen, so nginx
    still holds last week's deleted access logs; with the Monday upload peak the disk
    fills at 11:06.  From then every upload larger than the 16k body buffer fails: "[crit]
    pwrite() "/var/lib/nginx/body/00000xxxxx" failed (28: No space left on device)" and a
    500 from nginx itself, never reaching upload-api; small GETs still work.  upload-api is
    idle and healthy.  Root: uploads-edge (its disk is full); nothing to drain or limit.
    Sources: alt-romes.github.io "Running out of Disk Space on Launch" (nginx buffering and
    deleted files held open fill the disk); netdata "nginx: a client request body is
    buffered to a temporary file"."""
    b = Bundle(
        "uploads-nginx-body-temp-full",
        "2033-08-01T10:45:00Z",
        description="photo uploads fail with 500",
        symptom={"component": "uploads-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    full = 21.0
    b.component("uploads-edge", "proxy", {"job": "uploads-edge"}, ["upload-api"])
    b.component("upload-api", "app", {"job": "upload-api"})
    vms = [Pod(f"10.66.2.{21 + i}:8080") for i in range(3)]
    routes = [
        Route("POST", "/v1/photos", "/v1/photos", 0.55, 0.4, 220),
        Route("GET", "/v1/photos/{n}", "/v1/photos/{id}", 0.45, 0.01, 1200),
    ]
    err = {"job": "uploads-edge", "instance": "10.66.0.4:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and e.method == "POST":
            fail(e, 500, rng.uniform(0.05, 1.5), reached=False, size=177)
            t = e.t + e.duration
            b.log(
                t,
                err,
                nginx_error(
                    b,
                    t,
                    "crit",
                    f'pwrite() "/var/lib/nginx/body/00000{rng.randint(10000, 99999)}" failed '
                    "(28: No space left on device)",
                    pid=1822,
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "uploads.photoshare.example"),
                ),
            )

    web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["81.2.69.", "90.155.3.", "2a00:23c8:1e07::", "86.4.112."],
        clients=900,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "uploads-edge", "instance": "10.66.0.4:9113"},
    ).apps({"job": "upload-api"}, {"job": "upload-api"}, go=True)
    for t in every(b, 0, full, 6, 40):
        b.log(
            t,
            err,
            nginx_error(
                b,
                t,
                "warn",
                "a client request body is buffered to a temporary file "
                f"/var/lib/nginx/body/00000{rng.randint(10000, 99999)}",
                pid=1822,
                conn=rng.randint(10**6, 10**7),
                ctx=f"client: 81.2.69.{rng.randint(2, 250)}, server: uploads.photoshare.example, "
                'request: "POST /v1/photos HTTP/1.1", host: "uploads.photoshare.example"',
            ),
        )
    for t in every(b, full, 50, 20, 40):
        b.log(
            t,
            err,
            nginx_error(
                b,
                t,
                "alert",
                'write() to "/var/log/nginx/error.log.tmp" failed (28: No space '
                "left on device) while logging request",
                pid=1822,
            ),
        )
    node_exporter(
        b,
        {"job": "uploads-edge", "instance": "10.66.0.4:9100"},
        busy=lambda m: 0.12,
        avail=lambda m: 5.1e9,
        mem_total=8e9,
        fs_size=20e9,
        fs_avail=lambda m: max(0.0, ramp(m, 0, full, 1.6e9, 0.0)),
        cores=2,
    )
    return b


def shop_haproxy_process_maxconn() -> Bundle:  # size: one linear scenario script
    """shop-lb's HAProxy config was split into files last week and the global section lost
    ``maxconn 40000``: the process runs with the packaged 4096.  A new storefront feature
    keeps a long-poll connection per open tab.  At the 19:00 TV spot concurrent connections
    reach 4096 at 19:07: HAProxy stops accepting; the kernel queue fills; clients time out
    before any HTTP exchange, so the access log shows fewer requests and no errors, while
    the blackbox probe fails and logs "Proxy fe_shop reached process maxconn (4096)".
    Backends idle and fast.  Root: shop-lb (process connection limit); nothing to drain or
    limit.  Sources: infrarunbook "HAProxy Connection Limits Reached" (global maxconn too
    low: new TCP connections are not accepted); HAProxy Configuration Manual "maxconn"."""
    b = Bundle(
        "shop-haproxy-process-maxconn",
        "2033-09-09T18:50:00Z",
        description="shop unreachable for many customers during the TV spot",
        symptom={"component": "shop-lb"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    cap = 17.0
    capped = within(cap, 99)
    b.component("shop-lb", "proxy", {"job": "shop-lb"}, ["storefront"])
    b.component("storefront", "app", {"job": "storefront"})
    vms = [Pod(f"172.31.14.{101 + i}:8080") for i in range(4)]
    names = [f"web{i + 1}" for i in range(4)]
    routes = [
        Route("GET", "/", "/", 0.35, 0.03, 52000),
        Route("GET", "/p/{n}", "/p/{id}", 0.45, 0.04, 61000),
        Route("GET", "/events/poll", "/events/poll", 0.2, 25.0, 80),
    ]

    def demand(m: float) -> float:
        return ramp(m, 8, 16, 25.0, 70.0)

    def rate(m: float) -> float:
        return min(demand(m), 38.0) if capped(m) else demand(m)

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = names[i]
        e.extra["pid"] = 3312
        if e.extra["route"] == "/events/poll":
            e.duration = e.extra["app_dur"] = rng.uniform(20.0, 30.0)

    lb = {"job": "shop-lb", "instance": "172.31.14.10:8405"}
    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["82.132.14.", "31.94.2.", "2a01:4c8:1406::"],
        clients=2500,
        rate=rate,
        outcome=outcome,
        kind="haproxy",
        edge_labels=lb,
        stream={"log": "syslog"},
        fmt=lambda e: haproxy_line(b, e, "fe_shop~", "be_storefront"),
    )
    haproxy_exporter(
        b, lb, "be_storefront", dict(zip(names, (v.addr for v in vms), strict=True)), site.events
    )
    conns = lambda m: 4096 if capped(m) else int(ramp(m, 8, cap, 1400, 4000))  # noqa: E731
    b.gauge("haproxy_process_max_connections", lb, lambda m: 4096)
    b.gauge("haproxy_process_current_session_rate", lb, lambda m: int(rate(m) * 0.8))
    b.gauge("haproxy_frontend_current_sessions", {**lb, "proxy": "fe_shop"}, conns)
    b.gauge("haproxy_frontend_limit_sessions", {**lb, "proxy": "fe_shop"}, lambda m: 4096)
    b.counter(
        "haproxy_frontend_connections_total",
        {**lb, "proxy": "fe_shop"},
        lambda m: rate(m) * 0.5,
        start=88_102_331,
    )
    probe = {"job": "shop-lb", "instance": "https://www.shop.example/", "module": "http_2xx"}
    b.gauge("probe_success", probe, lambda m: (0 if rng.random() < 0.7 else 1) if capped(m) else 1)
    b.gauge(
        "probe_duration_seconds",
        probe,
        lambda m: 10.0 if capped(m) and rng.random() < 0.7 else round(rng.uniform(0.05, 0.12), 3),
    )
    for t in every(b, cap, 45, 20, 60):
        b.log(
            t,
            {"job": "shop-lb", "instance": "172.31.14.10:8405", "log": "syslog"},
            "haproxy[3312]: Proxy fe_shop reached process maxconn (4096). Please check the "
            "global maxconn and the frontend's maxconn.",
        )
    node_exporter(
        b,
        {"job": "shop-lb", "instance": "172.31.14.10:9100"},
        busy=lambda m: 0.18,
        avail=lambda m: 6e9,
        mem_total=8e9,
        cores=4,
    )
    site.apps(
        {"job": "storefront"}, {"job": "storefront"}, go=False, cpu=lambda m, i: 0.3 + rate(m) / 200
    )
    return b


def geo_envoy_keepalive_503uc() -> Bundle:  # size: one linear scenario script
    """geo-api 6.0.0 (Node 20, rolled out 14:10-14:16) drops the explicit
    ``server.keepAliveTimeout = 65000`` of 5.x: Node closes idle upstream connections after
    its default 5 s, while geo-gw (Envoy) keeps them for an hour.  From 14:12, whenever
    Envoy reuses a connection that Node is just closing, the request ends 503 with flag UC,
    "upstream_reset_before_response_started{connection_termination}": ~4 % of requests,
    only on the new pods, none on the old ones before they leave.  The pods are not slow
    and log nothing.  Root: geo-api (the release; restore the keep-alive timeout above
    Envoy's idle timeout); roll back, no drain (every new pod alike).  Sources:
    envoyproxy/envoy issue #14981 (503 UC from mismatched idle timeouts); istio/istio issue
    #55138 (server keep-alive timeout shorter than the client's)."""
    b = Bundle(
        "geo-envoy-keepalive-503uc",
        "2033-10-04T14:00:00Z",
        description="intermittent 503 on geocoding",
        symptom={"component": "geo-gw"},
        step=20,
        minutes=50,
    )
    rng = b.rng
    ns = "geo"
    roll = 10.0
    b.component("geo-gw", "proxy", {"namespace": ns, "job": "geo-gw"}, ["geo-api"])
    b.component("geo-api", "app", {"namespace": ns, "app": "geo-api"})
    old = [
        Pod(
            f"10.44.{i}.{30 + i}:3000",
            f"geo-api-5d7c-{s}",
            f"10.44.{i}.1:10250",
            within(0, roll + 2 * i + 1.5),
        )
        for i, s in enumerate(("aa", "bb", "cc"))
    ]
    new = [
        Pod(
            f"10.44.{i}.{60 + i}:3000",
            f"geo-api-6e2f-{s}",
            f"10.44.{i}.1:10250",
            within(roll + 2 * i, 99),
        )
        for i, s in enumerate(("dd", "ee", "ff"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/v1/geocode?q={n}", "/v1/geocode", 0.7, 0.02, 900),
        Route("GET", "/v1/reverse?lat=52.5&lon={n}", "/v1/reverse", 0.3, 0.015, 700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 3 and rng.random() < 0.04:
            e.status, e.upstream_status, e.size = 503, "-", 95
            e.duration = e.extra["app_dur"] = rng.uniform(0.001, 0.004)
            e.extra["flags"] = "UC"
            e.extra["details"] = "upstream_reset_before_response_started{connection_termination}"

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.44.100.", "10.44.101.", "10.44.102."],
        clients=120,
        rate=lambda m: 26.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"namespace": ns, "job": "geo-gw", "instance": "10.44.250.2:9901"},
        cluster="geo_api",
        fmt=lambda e: envoy_json_line(
            b, e, "outbound|3000||geo-api.geo.svc.cluster.local", "geo.internal"
        ),
    )
    for k in range(len(new)):
        t = b.t(roll + 2 * k) + 4
        site.say(
            t,
            3 + k,
            logrus(b, t, "info", "geo-api listening", port=3000, version="6.0.0", node="v20.11.1"),
        )
    for k in range(len(old)):
        t = b.t(roll + 2 * k + 1.5) - 2
        site.say(t, k, logrus(b, t, "info", "SIGTERM received, closing server", version="5.8.3"))
    for p in pods:
        nodejs_runtime(
            b,
            {"namespace": ns, "app": "geo-api", "instance": p.addr, "pod": p.pod},
            lag=lambda m: 0.012,
            heap=lambda m: 70e6,
            cpu=lambda m: 0.25,
            present=p.present,
        )
    site.apps(
        {"namespace": ns, "app": "geo-api"},
        {"namespace": ns, "app": "geo-api"},
        go=False,
        namespace=ns,
        container="geo-api",
    )
    ksm = {
        "namespace": ns,
        "job": "kube-state-metrics",
        "instance": "10.44.250.9:8080",
        "deployment": "geo-api",
    }
    b.gauge("kube_deployment_status_observed_generation", ksm, lambda m: 41 if m < roll else 42)
    b.gauge(
        "kube_deployment_status_replicas_updated",
        ksm,
        lambda m: 0 if m < roll else min(3, int((m - roll) / 2) + 1),
    )
    return b
