# size: four linear scenario scripts of one family, each telling one story
"""Edge and node scenarios of round 10 (written blind from public reports)."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import iso_ms, logfmt
from examples.incidents.holdout5.common import nginx_error, within
from examples.incidents.holdout6.common import structlog
from examples.incidents.holdout10.common import every, finish, pods, tier


def cart_envoy_outlier_ejection() -> Bundle:  # size: one linear scenario script
    """At 12:00 a config push to the cart edge Envoy enables outlier detection with
    consecutive_5xx 3, max_ejection_percent 100 and healthy_panic_threshold 0.  cart-api
    has always answered ~2 % 503 (inventory timeouts, retried by the clients): now every
    pod is ejected again and again, often all four at once, and Envoy answers 503 UH 'no
    healthy upstream' to ~30 % of requests without trying any pod.  The pods are healthy
    and idle.  Root: cart-edge (its outlier-detection config)."""
    b = Bundle(
        "cart-envoy-outlier-ejection",
        "2036-07-08T11:45:00Z",
        description="cart 503 'no healthy upstream' since the noon config push",
        symptom={"component": "cart-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset + 0.3, 99)
    ns = "cart"
    el = {"job": "cart-edge", "instance": "10.72.0.6:9901"}
    b.component("cart-edge", "proxy", {"job": "cart-edge"}, ["cart-api"])
    b.component("cart-api", "app", {"namespace": ns, "app": "cart-api"})
    ps = pods(
        "10.72.{k}.18:8080",
        "cart-api-6b9f7d5c",
        ("lq8w", "mz3x", "np5y", "qr7z"),
        "10.72.0.{k}:10250",
    )
    routes = [
        Route("GET", "/api/cart", "/api/cart", 0.6, 0.02, 1600),
        Route("POST", "/api/cart/items", "/api/cart/items", 0.4, 0.04, 300),
    ]
    ejected: list[float] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.3:
            fail(e, 503, rng.uniform(0.0, 0.002), reached=False, size=19)
            e.extra["flags"] = "UH"
            ejected.append(e.t)
        elif rng.random() < 0.02:
            fail(e, 503, rng.uniform(0.5, 1.0), size=60)
            e.extra["flags"] = "-"

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a02:c7c:", "86.160.", "2a00:23c5:", "81.155."],
        clients=700,
        outcome=outcome,
        kind="envoy",
        edge=el,
        rate=lambda m: 12.0,
        cluster="cart_api",
    )
    for t in every(b, 0, b.minutes, 25, 60):
        k = rng.randrange(4)
        site.say(t, k, logfmt(b, t, "info", "cart saved", items=rng.randint(1, 9)))
    for e in site.events:
        if e.status == 503 and e.upstream != "-" and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                logfmt(b, e.t, "warn", "inventory timeout", sku=rng.randint(10000, 99999)),
            )
    finish(site, ns, "cart-api", "api")
    cl = {**el, "envoy_cluster_name": "cart_api"}

    def active(m: float) -> float:
        return rng.choice((2, 3, 4, 4)) if bad(m) else 0

    b.gauge("envoy_cluster_outlier_detection_ejections_active", cl, active)
    b.counter(
        "envoy_cluster_outlier_detection_ejections_enforced_consecutive_5xx",
        cl,
        lambda m: 0.12 if bad(m) else 0.0,
        start=0,
    )
    b.counter(
        "envoy_cluster_outlier_detection_ejections_detected_consecutive_5xx",
        cl,
        lambda m: 0.12 if bad(m) else 0.0,
        start=0,
    )
    b.gauge("envoy_cluster_membership_total", cl, lambda m: 4)
    b.counter_steps("envoy_cluster_upstream_cx_none_healthy", cl, ejected)
    b.counter("envoy_cluster_lb_healthy_panic", cl, lambda m: 0.0, start=0)
    b.counter("envoy_cluster_manager_cds_update_success", el, lambda m: 0.0, start=412)
    b.gauge(
        "envoy_cluster_manager_cds_version",
        el,
        lambda m: 17_442_901_337 if m >= onset else 9_120_555_104,
    )
    ol = {"job": "cart-edge", "instance": "10.72.0.6:9901", "log": "outlier"}
    for t in every(b, onset + 0.3, b.minutes, 4, 12):
        host = rng.choice(ps).addr
        b.log(
            t,
            ol,
            json.dumps(
                {
                    "type": "CONSECUTIVE_5XX",
                    "cluster_name": "cart_api",
                    "upstream_url": host,
                    "action": "EJECT",
                    "num_ejections": rng.randint(1, 9),
                    "enforced": True,
                    "eject_consecutive_event": {},
                    "timestamp": iso_ms(b, t),
                },
                separators=(",", ":"),
            ),
        )
    return b


def downloads_nginx_too_many_open_files() -> Bundle:  # size: one linear scenario script
    """Last night's node image moved the container runtime to a default soft RLIMIT_NOFILE
    of 1024; the downloads nginx sets no worker_rlimit_nofile.  At the 19:00 peak its two
    workers each need more than 1024 descriptors (slow clients on large files, plus the
    files): accept4() and open() fail with '24: Too many open files', ~20 % of downloads
    fail with 500 or never connect, the auth backend is idle.  Root: downloads-edge (its
    file-descriptor limit)."""
    b = Bundle(
        "downloads-nginx-too-many-open-files",
        "2036-05-29T18:40:00Z",
        description="downloads failing at the evening peak",
        symptom={"component": "downloads-edge"},
        step=20,
        minutes=50,
    )
    rng = b.rng

    def rate(m: float) -> float:
        return 6.0 + min(1.0, max(0.0, (m - 10) / 12)) * 10.0

    onset = 20.0
    bad = within(onset, 99)
    ns = "downloads"
    el = {"job": "downloads-nginx", "instance": "10.20.0.8:9113"}
    b.component("downloads-edge", "proxy", {"job": "downloads-nginx"}, ["downloads-auth"])
    b.component("downloads-auth", "app", {"namespace": ns, "app": "downloads-auth"})
    ps = pods("10.20.{k}.51:8080", "downloads-auth-5d4b8", ("x1", "y2"), "10.20.0.{k}:10250")
    routes = [
        Route("GET", "/files/releases/v{n}/installer.dmg", "/files/*", 0.7, 0.03, 9_000_000),
        Route("GET", "/api/v1/entitlements", "/api/v1/entitlements", 0.3, 0.01, 500),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if "/files/" in e.path:
            e.duration = e.extra["app_dur"] = rng.uniform(2, 60)
        if bad(m) and rng.random() < 0.2:
            fail(e, 500, rng.uniform(0.0, 0.01), reached=False, size=177)
            e.extra["emfile"] = True

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2001:470:", "24.5.", "2607:fb90:", "71.212.", "2600:387:"],
        clients=1200,
        outcome=outcome,
        kind="nginx",
        edge=el,
        rate=rate,
        active=lambda m: 2040.0 if bad(m) else 300.0 + rate(m) * 90,
    )
    errl = {**el, "stream": "error"}
    for e in site.events:
        if e.extra.get("emfile"):
            what = (
                f'open() "/srv/files{e.path.removeprefix("/files")}" failed (24: Too many open files)'
                if rng.random() < 0.5
                else "accept4() failed (24: Too many open files)"
            )
            b.log(
                e.t,
                errl,
                nginx_error(
                    b,
                    e.t,
                    "crit",
                    what,
                    pid=rng.choice((31, 32)),
                    conn=rng.randint(1_000_000, 9_000_000),
                ),
            )
    for t in every(b, 0, b.minutes, 30, 70):
        site.say(t, rng.randrange(2), structlog(b, t, 0, "info", "entitlement.checked", ok=True))
    finish(site, ns, "downloads-auth", "auth")
    pe = {"job": "process-exporter", "instance": "10.20.0.8:9256", "groupname": "nginx"}
    b.gauge(
        "namedprocess_namegroup_open_filedesc",
        pe,
        lambda m: 2048 if bad(m) else int(400 + rate(m) * 60),
    )
    b.gauge(
        "namedprocess_namegroup_worst_fd_ratio",
        pe,
        lambda m: 1.0 if bad(m) else round((200 + rate(m) * 30) / 1024, 3),
    )
    b.gauge("namedprocess_namegroup_num_procs", pe, lambda m: 3)
    b.counter(
        "namedprocess_namegroup_cpu_seconds_total",
        {**pe, "mode": "user"},
        lambda m: 0.2,
        start=88_104.2,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.20.0.8:9100"},
        busy=lambda m: 0.25,
        avail=lambda m: 9e9,
        cores=4,
    )
    b.gauge(
        "node_filefd_allocated",
        {"job": "node", "instance": "10.20.0.8:9100"},
        lambda m: 9000 if bad(m) else 6000,
    )
    b.gauge(
        "node_filefd_maximum",
        {"job": "node", "instance": "10.20.0.8:9100"},
        lambda m: 9_223_372_036_854_775_807,
    )
    return b
