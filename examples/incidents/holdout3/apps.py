"""App-instance scenarios: one pod burning CPU, a leaking canary, a bad release on every pod."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import redis_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    envoy_line,
    ingress_line,
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
    ingress_metrics,
    ksm_restarts,
    nginx_exporter,
    serve,
)


def quote_engine_cpu_burn() -> Bundle:
    """At 10:23 one quote-engine pod (10.42.3.17:8080) gets a pathological input; a
    goroutine spins in regex backtracking forever.  That pod pegs its 2-core limit and is
    CFS-throttled; its requests take ~1 s and 14 % hit ingress-nginx's 2 s upstream timeout
    (504).  Its four siblings and fx-redis stay normal.  Drain that pod."""
    b = Bundle(
        "quote-engine-cpu-burn",
        "2027-09-09T10:00:00Z",
        description="some FX quotes slow or 504",
        symptom={"component": "quotes-ingress"},
    )
    onset, bad = 23.0, 2
    ns = "fx"
    b.component("quotes-ingress", "proxy", {"job": "quotes-ingress"}, ["quote-engine"])
    b.component("quote-engine", "app", {"namespace": ns, "container": "quote-engine"}, ["fx-redis"])
    b.component("fx-redis", "redis", {"job": "fx-redis"})
    names = ("b5kq8", "c7wz2", "t7p2x", "h2m9d", "r4v6n")
    pods = [
        Pod(
            f"10.42.{1 + i % 3}.{15 + i}:8080",
            f"quote-engine-84d6f7c9b5-{s}",
            f"10.42.0.{21 + i}:10250",
        )
        for i, s in enumerate(names)
    ]
    routes = [
        Route("GET", "/v1/quote?pair=EURUSD&amt={n}", "/v1/quote", 0.8, 0.015),
        Route("POST", "/v1/quote/lock", "/v1/quote/lock", 0.2, 0.03),
    ]
    clients = pick_clients(b, client_pool(b, ["10.42.64.", "10.42.65."], 80))
    hot = lambda m, i: i == bad and m >= onset  # noqa: E731
    slow_logs: list[tuple[float, float]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if hot(m, i):
            d = e.extra["app_dur"] * 40 + b.rng.uniform(0.2, 1.2)
            if d > 2.0 or b.rng.random() < 0.1:
                fail(e, 504, 2.0, size=160)
                e.upstream_status = "504"
                e.extra["app_dur"] = b.rng.uniform(2.0, 3.5)
                e.extra["urt"] = "2.001"
            else:
                e.duration = e.extra["app_dur"] = d
            if b.rng.random() < 0.05:
                slow_logs.append((e.t, e.extra["app_dur"]))

    events = serve(
        b,
        rate=lambda m: 10.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("fx-web/12.1", "fx-mobile/12.1 (iOS)"),
    )
    ing = {"job": "quotes-ingress", "instance": "10.42.0.5:10254"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "quotes-ingress", "instance": "10.42.0.5:10254"},
            ingress_line(b, e, "fx-quote-engine-8080"),
        )
    ingress_metrics(b, ing, events)
    base = {"namespace": ns, "container": "quote-engine", "job": "quote-engine"}
    app_red(b, pods, events, base)
    for t, d in slow_logs:
        b.log(
            t + d,
            {"namespace": ns, "container": "quote-engine", "pod": pods[bad].pod},
            json.dumps(
                {
                    "level": "warn",
                    "ts": round(t + d, 3),
                    "msg": "request exceeded latency budget",
                    "route": "/v1/quote",
                    "elapsed_ms": int(d * 1000),
                    "budget_ms": 250,
                }
            ),
        )
    for i, pod in enumerate(pods):
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m, i=i: 2.0 if hot(m, i) else 0.22 + 0.02 * i,
            rss=lambda m: 70e6,
            goroutines=lambda m, i=i: 120 + (300 if hot(m, i) else 0),
        )
    cadvisor(
        b,
        pods,
        ns,
        "quote-engine",
        cpu=lambda m, i: 2.0 if hot(m, i) else 0.23 + 0.02 * i,
        mem=lambda m, i: 82e6,
    )
    for i, pod in enumerate(pods):
        lbl = {
            "job": "kubelet",
            "metrics_path": "/metrics/cadvisor",
            "instance": pod.node,
            "namespace": ns,
            "pod": pod.pod,
            "container": "quote-engine",
        }
        b.counter("container_cpu_cfs_periods_total", lbl, lambda m: 10.0, start=8.1e6)
        b.counter(
            "container_cpu_cfs_throttled_periods_total",
            lbl,
            lambda m, i=i: 9.6 if hot(m, i) else 0.02,
            start=4.4e3,
        )
    redis_exporter(
        b,
        {"job": "fx-redis", "instance": "10.42.9.3:9121"},
        ops=lambda m: 1900,
        used=lambda m: 6.1e8,
        maxmemory=2e9,
        clients=lambda m: 25,
    )
    return b


def cart_canary_leak() -> Bundle:
    """At 14:30 a canary cart-svc pod (image 5.12.0-rc2, 10.99.7.44:8080) joins the three
    5.11.4 pods and takes ~25 % of traffic; its series begin halfway through the window.
    It leaks heap: old gen climbs to the 1.5 GiB limit, GC pauses grow, its latency and
    5xx rise; it is OOMKilled once at 14:57 and starts leaking again.  The stable pods
    stay flat.  Drain the canary."""
    b = Bundle(
        "cart-canary-leak",
        "2027-09-23T14:00:00Z",
        description="intermittent slow and failing cart calls",
        symptom={"component": "cart-gw"},
    )
    start, oom = 30.0, 57.0
    ns = "shop"
    b.component("cart-gw", "proxy", {"job": "cart-gw"}, ["cart-svc"])
    b.component("cart-svc", "app", {"namespace": ns, "container": "cart"})
    stable = [
        Pod(f"10.99.{5 + i}.{20 + i}:8080", f"cart-svc-5b9f8d7c6-{s}", f"10.99.0.{31 + i}:10250")
        for i, s in enumerate(("fq8zn", "gw3lp", "kd7vx"))
    ]
    canary = Pod(
        "10.99.7.44:8080",
        "cart-svc-canary-7d4c9b8f5-x2mrt",
        "10.99.0.35:10250",
        present=lambda m: m >= start,
    )
    pods = [*stable, canary]
    heap = lambda m: (  # noqa: E731
        0.0
        if m < start
        else (ramp(m, start, oom, 3.8e8, 1.55e9) if m < oom else ramp(m, oom, 60, 3.9e8, 5.0e8))
    )
    pressure = lambda m: max(0.0, (heap(m) - 8e8) / 7.5e8)  # noqa: E731

    def choose(m: float, live: list[int]) -> int:
        if 3 in live and b.rng.random() < 0.25:
            return 3
        return b.rng.choice([i for i in live if i != 3])

    routes = [
        Route("GET", "/cart/{n}", "/cart/{id}", 0.6, 0.02),
        Route("POST", "/cart/{n}/items", "/cart/{id}/items", 0.4, 0.035),
    ]
    clients = pick_clients(b, client_pool(b, ["10.99.200.", "10.99.201.", "10.99.202."], 120))
    errs: list[tuple[float, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if i != 3:
            return
        if oom <= m < oom + 0.75:
            fail(e, 502, b.rng.uniform(0.001, 0.01), reached=False)
            return
        p = pressure(m)
        e.duration = e.extra["app_dur"] = e.extra["app_dur"] * (1 + 30 * p)
        if b.rng.random() < 0.12 * p:
            fail(e, 500, e.duration)
            errs.append((e.t + e.duration, "java.lang.OutOfMemoryError: Java heap space"))

    events = serve(
        b,
        rate=lambda m: 8.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        choose=choose,
    )
    gw = {"job": "cart-gw", "instance": "10.99.0.8:9113"}
    for e in events:
        b.log(e.t + e.duration, {"job": "cart-gw", "instance": "10.99.0.8:9113"}, nginx_line(b, e))
    nginx_exporter(b, gw, events, lambda m: 70)
    base = {"namespace": ns, "container": "cart", "job": "cart-svc"}
    app_red(
        b,
        pods,
        events,
        base,
        histogram="http_server_requests_seconds",
        counter=None,
        route_label="uri",
        code_label="status",
    )
    for t, msg in errs:
        b.log(
            t,
            {"namespace": ns, "container": "cart", "pod": canary.pod},
            f"{b.dt(t).strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} ERROR 1 --- [http-nio-8080-exec-{b.rng.randint(1, 200)}] "
            f"o.a.c.c.C.[.[.[/].[dispatcherServlet]    : Servlet.service() threw exception\n{msg}\n"
            "\tat java.base/java.util.Arrays.copyOf(Arrays.java:3537)\n\tat com.shop.cart.PriceSnapshotCache.put(PriceSnapshotCache.java:61)",
        )
    for i, pod in enumerate(pods):
        lbl = {**base, "instance": pod.addr, "pod": pod.pod}
        h = (lambda m: heap(m)) if i == 3 else (lambda m, i=i: 4.1e8 + i * 1.3e7)
        b.gauge(
            "jvm_memory_used_bytes",
            {**lbl, "area": "heap", "id": "G1 Old Gen"},
            lambda m, h=h, pod=pod: int(h(m) * b.rng.uniform(0.97, 1.0)) if pod.up(m) else None,
        )
        b.gauge(
            "jvm_memory_max_bytes",
            {**lbl, "area": "heap", "id": "G1 Old Gen"},
            lambda m, pod=pod: 1.6e9 if pod.up(m) else None,
        )
        b.gauge(
            "jvm_gc_pause_seconds_max",
            {**lbl, "action": "end of major GC", "cause": "G1 Evacuation Pause"},
            lambda m, i=i, pod=pod: (
                round(4.0 * pressure(m) + 0.02 if i == 3 else 0.018, 3) if pod.up(m) else None
            ),
            "Time spent in GC pause",
        )
        b.gauge(
            "process_uptime_seconds",
            lbl,
            lambda m, i=i, pod=pod: (
                (
                    (
                        (m - oom)
                        if i == 3 and m >= oom + 0.75
                        else (m - start)
                        if i == 3
                        else m + 4000
                    )
                    * 60
                )
                if pod.up(m)
                else None
            ),
        )
    cadvisor(
        b,
        pods,
        ns,
        "cart",
        cpu=lambda m, i: 0.3 + (1.1 * pressure(m) if i == 3 else 0),
        mem=lambda m, i: heap(m) * 1.1 if i == 3 else 5.3e8 + i * 1e7,
        limit=1.75e9,
    )
    ksm_restarts(b, "10.99.0.3:8080", ns, "cart", pods, {3: [oom + 0.1]})
    return b


def checkout_bad_release() -> Bundle:
    """A rolling update to checkout-svc v3.41.0 runs 15:18-15:21 (old pods' series end,
    new pods' begin).  The new code panics on POST /checkout for carts with a gift card
    ("assignment to entry in nil map"), recovered into 500s on ~30 % of checkouts, on all
    four new pods alike.  promo-redis is fine.  No drain (every instance is the same bad
    build); the fix is a rollback."""
    b = Bundle(
        "checkout-bad-release",
        "2027-10-05T15:00:00Z",
        description="checkout 500s after the afternoon deploy",
        symptom={"component": "pay-edge"},
    )
    ns = "checkout"
    b.component("pay-edge", "proxy", {"job": "pay-edge"}, ["checkout-svc"])
    b.component("checkout-svc", "app", {"namespace": ns, "app": "checkout-svc"}, ["promo-redis"])
    b.component("promo-redis", "redis", {"job": "promo-redis"})
    swap = [18.0, 18.8, 19.6, 20.4]
    old = [
        Pod(
            f"10.15.{2 + i}.{60 + i}:8080",
            f"checkout-svc-6f5d4c3b2-{s}",
            f"10.15.0.{40 + i}:10250",
            present=lambda m, k=k: m < swap[k] + 0.5,
        )
        for k, (i, s) in enumerate(enumerate(("p1q2r", "s3t4u", "v5w6x", "y7z8a")))
    ]
    new = [
        Pod(
            f"10.15.{2 + i}.{80 + i}:8080",
            f"checkout-svc-8c7b6a5d4-{s}",
            f"10.15.0.{40 + i}:10250",
            present=lambda m, k=k: m >= swap[k],
        )
        for k, (i, s) in enumerate(enumerate(("b9c8d", "e7f6g", "h5j4k", "m3n2p")))
    ]
    pods = [*old, *new]
    routes = [
        Route("POST", "/checkout", "/checkout", 0.35, 0.12),
        Route("GET", "/checkout/{n}/status", "/checkout/:id/status", 0.45, 0.01),
        Route("GET", "/shipping-options", "/shipping-options", 0.2, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["100.64.90.", "100.64.91."], 140))
    panics: list[tuple[float, int]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if i >= 4 and e.method == "POST" and b.rng.random() < 0.3:
            fail(e, 500, b.rng.uniform(0.01, 0.05))
            panics.append((e.t, i))

    events = serve(
        b,
        rate=lambda m: 7.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("shop-web/2027.10.1", "shop-ios/9.3.0", "shop-android/9.3.0"),
    )
    edge = {"job": "pay-edge", "instance": "10.15.0.9:9901"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "pay-edge", "instance": "10.15.0.9:9901"},
            envoy_line(b, e, "shop.example.com"),
        )
    envoy_exporter(b, edge, "checkout_svc", events)
    base = {"namespace": ns, "app": "checkout-svc", "job": "checkout-svc"}
    app_red(b, pods, events, base)
    for t, i in panics:
        b.log(
            t,
            {"namespace": ns, "app": "checkout-svc", "pod": pods[i].pod},
            f'{{"level":"error","ts":"{b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}","caller":"middleware/recover.go:31",'
            f'"msg":"panic recovered","version":"3.41.0","panic":"assignment to entry in nil map",'
            f'"stack":"goroutine {b.rng.randint(1000, 9000)} [running]:\\ngithub.com/shop/checkout/internal/giftcard.(*Ledger).Reserve(0xc000a1e0c0, ...)\\n\\t/src/internal/giftcard/ledger.go:112 +0x1f4"}}',
        )
    for k, pod in enumerate(pods):
        lbl = {
            **base,
            "instance": pod.addr,
            "pod": pod.pod,
            "version": "3.40.2" if k < 4 else "3.41.0",
        }
        b.runtime(lbl, cpu=lambda m: 0.25, rss=lambda m: 80e6, present=pod.present)
    for k in range(4):
        t = b.t(swap[k])
        b.log(
            t,
            {"namespace": ns, "app": "checkout-svc", "pod": new[k].pod},
            f'{{"level":"info","ts":"{b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}","msg":"starting checkout-svc","version":"3.41.0","commit":"9e1c4ab"}}',
        )
    redis_exporter(
        b,
        {"job": "promo-redis", "instance": "10.15.9.2:9121"},
        ops=lambda m: 800,
        used=lambda m: 2.4e8,
        maxmemory=1e9,
        clients=lambda m: 20,
    )
    cadvisor(b, pods, ns, "checkout-svc", cpu=lambda m, i: 0.25, mem=lambda m, i: 9e7)
    return b
