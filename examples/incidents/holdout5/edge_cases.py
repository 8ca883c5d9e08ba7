# size: scenario builders are long linear scripts, one story each (as in rounds 3-4)
"""Proxies and the traffic behind them: one hung backend, a rate limiter doing its job, a
retry storm from a whole app fleet, one bad canary."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, lognormal, ramp
from examples.incidents.holdout3.stack import fail, serve
from examples.incidents.holdout4.common import iso_ms, log_each, nginx_json_line, zap
from examples.incidents.holdout5.common import (
    Pod,
    Route,
    Site,
    at,
    ecs,
    java_side,
    nginx_ctx,
    nginx_error,
    when,
    within,
)


def pay_nginx_one_slow_backend() -> Bundle:  # size: one linear scenario script
    """From 11:17 one payments-api pod (10.150.7.41) stops answering in time: its Tomcat
    request threads all block on a token-cache refresh lock (busy threads 200/200, ~195
    threads BLOCKED, CPU low), each request finishing after 40-60 s.  nginx
    (proxy_read_timeout 15 s) logs "upstream timed out (110: Connection timed out) while
    reading response header from upstream" for that address; GETs are passed to the next
    upstream (200 after 15 s, ``ua="10.150.7.41:8080, ..." us="504, 200"``), POSTs end as
    504.  The other three pods are normal.  Root: payments-api on that instance; drain it."""
    b = Bundle(
        "pay-nginx-one-slow-backend",
        "2029-08-21T11:00:00Z",
        description="some payment requests hang 15 s or fail with 504",
        symptom={"component": "pay-edge"},
    )
    rng = b.rng
    onset, bad = 17.0, 2
    ns, ctr = "payments", "payments-api"
    b.component("pay-edge", "proxy", {"job": "pay-edge"}, ["payments-api"])
    b.component("payments-api", "app", {"namespace": ns, "container": ctr})
    pods = [
        Pod(
            f"10.150.{5 + i}.{39 + i}:8080",
            f"payments-api-6c7b8d9f5-{s}",
            f"10.150.0.{21 + i}:10250",
        )
        for i, s in enumerate(("x4mpl", "r8tzq", "h2vnd", "c6wkb"))
    ]
    routes = [
        Route("POST", "/v1/payments", "/v1/payments", 0.35, 0.09),
        Route("GET", "/v1/payments/pay_{n}", "/v1/payments/{id}", 0.5, 0.02),
        Route("GET", "/v1/methods?country=AT", "/v1/methods", 0.15, 0.01),
    ]
    pool = client_pool(b, ["10.150.100.", "10.150.101.", "10.150.102.", "fd00:150:64::"], 120)
    site = Site(b, pods, routes, pool)
    err = {"job": "pay-edge", "instance": "10.150.0.8:9113", "log": "error"}

    def hung(m: float, i: int) -> bool:
        return i == bad and m >= onset

    def choose(m: float, live: list[int]) -> int:
        if m >= onset and rng.random() < 0.55:  # max_fails: the hung pod is skipped half the time
            return rng.choice([i for i in live if i != bad])
        return rng.choice(live)

    def outcome(e: Event, m: float, i: int) -> None:
        if not hung(m, i):
            return
        took = rng.uniform(40.0, 60.0)
        e.extra["app_dur"], e.extra["app_status"] = took, "200"
        b.log(
            e.t + 15.0,
            err,
            nginx_error(
                b,
                e.t + 15.0,
                "error",
                "upstream timed out (110: Connection timed out) while reading response header from upstream",
                pid=2210 + rng.randint(0, 3),
                conn=rng.randint(10**7, 10**8),
                ctx=nginx_ctx(e, "pay.internal", pods[bad].addr),
            ),
        )
        if e.method == "GET":
            other = pods[rng.choice([k for k in range(len(pods)) if k != bad])].addr
            second = lognormal(b, 0.02)
            e.duration = 15.0 + second
            e.upstream = f"{pods[bad].addr}, {other}"
            e.upstream_status = "504, 200"
            e.extra["urt"] = f"15.001, {second:.3f}"
        else:
            fail(e, 504, 15.0 + rng.uniform(0.0, 0.003), size=160)
            e.extra["app_dur"], e.extra["app_status"] = took, "200"
            e.extra["urt"] = "15.001"

    site.run(
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="nginx",
        labels={"job": "pay-edge", "instance": "10.150.0.8:9113"},
        choose=choose,
        agents=("checkout-web/2029.08.3", "Apache-HttpClient/5.3 (Java/21.0.4)", "okhttp/4.12.0"),
    )
    base = {"job": "payments-api", "namespace": ns, "container": ctr}
    java_side(
        b,
        pods,
        site.events,
        base,
        app="payments-api",
        busy=lambda m, i: 200 if hung(m, i) else 5 + rng.randint(0, 6),
        cpu=lambda m, i: 0.05 if hung(m, i) else 0.45,
        namespace=ns,
        container=ctr,
    )
    for i, pod in enumerate(pods):
        lb = {**base, "instance": pod.addr, "pod": pod.pod, "application": "payments-api"}
        b.gauge(
            "jvm_threads_states_threads",
            {**lb, "state": "blocked"},
            at(lambda m, k: 195 if hung(m, k) else rng.randint(0, 2), i),
        )
        b.gauge(
            "jvm_threads_states_threads",
            {**lb, "state": "runnable"},
            at(lambda m, k: 6 if hung(m, k) else rng.randint(14, 22), i),
        )
    t = b.t(onset + 0.6)
    while t < b.t(60):
        site.say(
            t,
            bad,
            ecs(
                b,
                t,
                "WARN",
                "c.p.tokens.TokenCache",
                "token refresh still waiting for lock holder http-nio-8080-exec-3 after 30000 ms",
                thread=f"http-nio-8080-exec-{rng.randint(4, 200)}",
            ),
        )
        t += rng.uniform(20, 60)
    log_each(b, site.logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    return b


def signup_nginx_limit_req_burst() -> Bundle:  # size: one linear scenario script
    """A newsletter goes out at 09:00; within minutes thousands of readers open the
    "claim your voucher" page.  nginx applies ``limit_req zone=claim`` (5 r/s per address,
    burst 10, nodelay, status 429): two mobile-carrier CGNAT addresses and one corporate
    proxy, each carrying dozens of readers, pass the limit for ~5 minutes and get 429
    ("limiting requests, excess: ... by zone \\"claim\\"" in the error log).  The backend is
    healthy (latency +10 %, no 5xx), the burst decays by itself.  A limiter doing its job
    on a legitimate burst: no incident, and no client to block."""
    b = Bundle(
        "signup-nginx-limit-req-burst",
        "2029-09-11T08:45:00Z",
        description="alert: 4xx ratio on claim.example.de > 2 %",
        symptom={"component": "claim-edge"},
    )
    rng = b.rng
    send = 15.0

    def burst(m: float) -> float:
        return 0.0 if m < send else 45.0 * 2.718 ** (-(m - send) / 6.0)

    shared = ["80.187.101.44", "176.2.18.139", "193.158.22.201"]
    b.component("claim-edge", "proxy", {"job": "claim-edge"}, ["claim-web"])
    b.component("claim-web", "app", {"job": "claim-web"}, ["claim-db"])
    b.component("claim-db", "mysql", {"job": "claim-db"})
    vms = [Pod(f"192.168.77.{11 + i}:8000") for i in range(3)]
    routes = [
        Route("GET", "/claim?c=nl0911-{n}", "/claim", 0.55, 0.03, 18000),
        Route("POST", "/claim", "/claim", 0.25, 0.05),
        Route("GET", "/static/claim.{n}.css", "/static", 0.2, 0.002, 9000),
    ]
    pool = client_pool(
        b, ["87.123.44.", "91.64.18.", "77.180.201.", "2003:e5:7f0a::", "2a02:3032:41c::"], 2600
    )
    site = Site(b, vms, routes, pool)
    excess: dict[str, tuple[float, float]] = {}
    err = {"job": "claim-edge", "instance": "192.168.77.5:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        share = burst(m) / (4.0 + burst(m))
        if rng.random() < 0.6 * share:
            e.client = rng.choice(shared)
        last_t, ex = excess.get(e.client, (e.t, 0.0))
        ex = max(0.0, ex - 5.0 * (e.t - last_t)) + 1.0
        if ex > 11.0:
            excess[e.client] = (e.t, ex - 1.0)
            fail(e, 429, 0.0, reached=False, size=169)
            b.log(
                e.t,
                err,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    f'limiting requests, excess: {ex - 1.0:.3f} by zone "claim"',
                    pid=4410,
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "claim.example.de"),
                ),
            )
            return
        excess[e.client] = (e.t, ex)
        e.duration = e.extra["app_dur"] = e.duration * (1 + 0.1 * share)

    site.run(
        rate=lambda m: 4.0 + burst(m),
        outcome=outcome,
        kind="nginx",
        labels={"job": "claim-edge", "instance": "192.168.77.5:9113"},
        fmt=lambda e: nginx_json_line(b, e, "claim.example.de"),
        active=lambda m: 40 + 8 * burst(m),
        clients=lambda: rng.choice(pool),
    )
    site.apps(
        {"job": "claim-web"},
        {"job": "claim-web", "stream": "stdout"},
        go=False,
        cpu=lambda m, i: 0.1 + 0.02 * burst(m),
    )
    mysqld_exporter(
        b,
        {"job": "claim-db", "instance": "192.168.77.30:9104"},
        qps=lambda m: 90 + 25 * burst(m),
        connected=lambda m: 22 + burst(m) / 2,
        running=lambda m: 2 + burst(m) / 10,
        version="8.0.40",
    )
    return b


RETRY_UA = (
    "ShopApp/7.3.0 (iPhone; iOS 18.6; Scale/3.00)",
    "ShopApp/7.3.0 (Android 15; Pixel 9)",
    "ShopApp/7.3.0 (Android 14; SM-S921B)",
)
CALM_UA = (
    "ShopApp/7.2.4 (iPhone; iOS 18.5; Scale/3.00)",
    "ShopApp/7.2.4 (Android 14; SM-A546B)",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/138.0 Safari/537.36",
)


def _storm_fmt(b: Bundle, e: Event) -> str:
    return json.dumps(
        {
            "time": iso_ms(b, e.t),
            "remote_addr": e.client,
            "request": f"{e.method} {e.path} HTTP/2.0",
            "status": e.status,
            "request_time": round(e.duration, 3),
            "upstream_addr": e.upstream,
            "upstream_status": e.upstream_status,
            "http_user_agent": e.agent,
            "http_x_retry_attempt": str(e.extra.get("attempt", "-")),
        },
        separators=(",", ":"),
    )


def shop_app_retry_storm() -> Bundle:  # size: one linear scenario script
    """19:08 a rolling update of shop-bff without a preStop hook: ~40 s of 502s.  Mobile app
    7.3.0 (about two thirds of the fleet) retries every failed or slow call at once, up to
    five times, with a 2 s client timeout and no backoff.  Its retries add ~15 req/s to the
    usual ~6; the bff pods saturate (event-loop lag, CPU at limit), answers slow past 2 s
    (499 as the app gives up) or 503 from the bff's concurrency limiter, which triggers
    more retries: the overload sustains itself after the rollout is long over.  Thousands
    of addresses, each with a handful of identical requests seconds apart, all 7.3.0;
    7.2.4 and web users keep their usual rate.  Root: the clients (a retry storm), with no
    single address to block."""
    b = Bundle(
        "shop-app-retry-storm",
        "2029-10-02T19:00:00Z",
        description="app API 503/slow since the 19:08 deploy, not recovering",
        symptom={"component": "app-edge"},
    )
    rng = b.rng
    roll = 8.2

    def over(m: float) -> bool:
        return m >= roll + 0.7

    b.component("app-edge", "proxy", {"job": "app-edge"}, ["shop-bff"])
    b.component("shop-bff", "app", {"job": "shop-bff"})
    old = [
        Pod(
            f"10.201.{3 + i}.{12 + i}:3000",
            f"shop-bff-5c6d7e8f9-{s}",
            present=within(-1.0, roll + 0.15 * i + 0.1),
        )
        for i, s in enumerate(("oa1", "ob2", "oc3", "od4"))
    ]
    new = [
        Pod(
            f"10.201.{3 + i}.{90 + i}:3000",
            f"shop-bff-7f8e9d0c1-{s}",
            present=within(roll + 0.15 * i, 99.0),
        )
        for i, s in enumerate(("na5", "nb6", "nc7", "nd8"))
    ]
    pods = old + new
    routes = [
        Route("GET", "/api/home?seg=s{n}", "/api/home", 0.4, 0.05),
        Route("GET", "/api/products/{n}", "/api/products/{id}", 0.4, 0.03),
        Route("GET", "/api/cart", "/api/cart", 0.2, 0.02),
    ]
    prefixes = ["2a02:8109:9a3::", "2a01:c22:b04b::", "37.201.190.", "46.114.33.", "89.204.137."]
    pool = client_pool(b, [*prefixes, "176.4.66.", "109.43.50.", "2a02:3100:4f1::"], 5200)

    def clients() -> str:
        return rng.choice(pool)

    base = serve(
        b,
        rate=lambda m: 6.0,
        clients=clients,
        routes=routes,
        pods=pods,
        agents=RETRY_UA * 2 + CALM_UA,
    )
    chains: list[Event] = []
    for t0 in b.arrivals(lambda m: 0.0 if m < roll else ramp(m, roll, roll + 6, 2.0, 5.0), roll):
        tpl = rng.choice(base)
        who, agent = clients(), rng.choice(RETRY_UA)
        t = t0
        for k in range(1, rng.randint(2, 6)):
            m = b.m(t)
            live = [i for i, p in enumerate(pods) if p.up(m)]
            idx = rng.choice(live)
            e = Event(
                t=t,
                client=who,
                method=tpl.method,
                path=tpl.path,
                status=200,
                duration=0.0,
                upstream=pods[idx].addr,
                upstream_status="200",
                agent=agent,
                size=tpl.size,
                extra={"pod": idx, "route": tpl.extra["route"], "app_dur": 0.0, "attempt": k - 1},
            )
            chains.append(e)
            t += 2.0 + rng.uniform(0.01, 0.2)

    def settle(e: Event) -> None:
        m = b.m(e.t)
        if roll <= m < roll + 0.7 and rng.random() < 0.6:
            fail(e, 502, rng.uniform(0.001, 0.01), size=150)
            e.extra["urt"] = "0.001"
        elif over(m):
            r = rng.random()
            if r < 0.3:
                fail(e, 503, rng.uniform(0.002, 0.02), size=57)
            elif r < 0.55:
                e.status, e.duration, e.upstream_status = 499, 2.0, "-"
                e.extra["app_dur"] = rng.uniform(2.1, 4.5)
            else:
                e.duration = e.extra["app_dur"] = rng.uniform(0.6, 1.9)
        else:
            e.duration = e.extra["app_dur"] = e.duration or lognormal(b, 0.03)

    for e in base + chains:
        settle(e)
    site = Site(b, pods, routes, pool)
    site.run(
        rate=lambda m: 0.0,
        outcome=None,
        kind="nginx",
        labels={"job": "app-edge", "instance": "10.201.0.5:9113"},
        fmt=lambda e: _storm_fmt(b, e),
        extra_events=base + chains,
        active=lambda m: 120 if not over(m) else 900,
    )

    def lag(m: float, i: int) -> float:
        return 0.004 if not over(m) else rng.uniform(0.4, 1.6)

    site.apps(
        {"job": "shop-bff"},
        {"job": "shop-bff", "stream": "stdout"},
        go=False,
        cpu=lambda m, i: 0.3 if not over(m) else 0.98,
    )
    for i, pod in enumerate(pods):
        lb = {"job": "shop-bff", "instance": pod.addr, "pod": pod.pod}
        b.gauge(
            "nodejs_eventloop_lag_seconds",
            lb,
            when(pod.up, at(lag, i)),
        )
        b.counter(
            "bff_limiter_rejected_total",
            lb,
            when(pod.up, lambda m: 0.0 if not over(m) else 1.4),
        )
    return b


def search_canary_500s() -> Bundle:  # size: one linear scenario script
    """At 14:12 Argo Rollouts starts a canary of search-api 3.18.0-rc.1: one pod
    (10.77.9.141) joins the five 3.17.2 pods and gets its share of traffic.  Its filter
    parser writes to a nil map: every search with a ``filter=`` parameter panics; net/http
    logs "http: panic serving ...: assignment to entry in nil map" and closes the
    connection, the ingress answers 502 ("upstream prematurely closed connection").  About
    45 % of the canary's requests fail; the stable pods are clean.  Root: search-api on the
    canary instance; drain it (abort the rollout)."""
    b = Bundle(
        "search-canary-500s",
        "2029-10-23T14:00:00Z",
        description="search 502s since 14:12",
        symptom={"component": "search-ingress", "route": "/v2/search"},
    )
    rng = b.rng
    join = 12.0
    ns, ctr = "discovery", "search-api"
    b.component("search-ingress", "proxy", {"job": "search-ingress"}, ["search-api"])
    b.component("search-api", "app", {"namespace": ns, "container": ctr})
    pods = [
        Pod(
            f"10.77.{4 + i}.{60 + 7 * i}:8080",
            f"search-api-6b5c4d3e2-{s}",
            f"10.77.0.{14 + i}:10250",
        )
        for i, s in enumerate(("fh2k", "gj3l", "hk4m", "jl5n", "km6p"))
    ]
    canary = Pod(
        "10.77.9.141:8080",
        "search-api-canary-8d9e0f1a2-qr7s",
        "10.77.0.19:10250",
        present=lambda m: m >= join,
    )
    pods.append(canary)
    ci = len(pods) - 1
    routes = [
        Route("GET", "/v2/search?q=shoes&filter=brand:b{n}", "/v2/search", 0.45, 0.04),
        Route("GET", "/v2/search?q=k{n}", "/v2/search", 0.35, 0.035),
        Route("GET", "/v2/suggest?q=s{n}", "/v2/suggest", 0.2, 0.006),
    ]
    pool = client_pool(
        b, ["2a02:810b:c40::", "84.58.201.", "95.90.12.", "2003:c1:3f09::", "31.18.77."], 1600
    )
    site = Site(b, pods, routes, pool)
    err = {"job": "search-ingress", "instance": "10.77.0.30:10254", "stream": "stderr"}

    def outcome(e: Event, m: float, i: int) -> None:
        if i == ci and "filter=" in e.path:
            fail(e, 502, rng.uniform(0.003, 0.012), size=150)
            del e.extra["pod"]
            b.log(
                e.t + e.duration,
                err,
                nginx_error(
                    b,
                    e.t + e.duration,
                    "error",
                    "upstream prematurely closed connection while reading response header from upstream",
                    pid=41,
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "search.shop.example", canary.addr),
                ),
            )
            g = rng.randint(20_000, 90_000)
            site.say(
                e.t,
                ci,
                "\n".join(
                    [
                        f"{b.dt(e.t).strftime('%Y/%m/%d %H:%M:%S')} http: panic serving 10.77.0.30:{rng.randint(30000, 60000)}: assignment to entry in nil map",
                        f"goroutine {g} [running]:",
                        "net/http.(*conn).serve.func1()",
                        "\t/usr/local/go/src/net/http/server.go:1947 +0xbe",
                        "panic({0x1a2b3c0?, 0x1f4e5a8?})",
                        "\t/usr/local/go/src/runtime/panic.go:785 +0x132",
                        "example.com/discovery/search/internal/filter.(*Parser).add(...)",
                        "\t/src/internal/filter/parser.go:88",
                        "example.com/discovery/search/internal/filter.Parse({0xc0004a2e40, 0x11})",
                        "\t/src/internal/filter/parser.go:41 +0x2f4",
                        "example.com/discovery/search/internal/api.(*Handler).Search(0xc00018a000, {0x1f7c2d0, 0xc0002a61c0}, 0xc0003b4000)",
                        "\t/src/internal/api/search.go:63 +0x1a5",
                    ]
                ),
            )

    def choose(m: float, live: list[int]) -> int:
        return rng.choice(live)

    site.run(
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="ingress",
        labels={"job": "search-ingress", "instance": "10.77.0.30:10254"},
        cluster="discovery-search-api-8080",
        choose=choose,
    )
    site.apps(
        {"job": "search-api", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        blip=1,
    )
    for pod in pods:
        b.gauge(
            "app_build_info",
            {
                "job": "search-api",
                "namespace": ns,
                "container": ctr,
                "instance": pod.addr,
                "pod": pod.pod,
                "version": "3.18.0-rc.1" if pod is canary else "3.17.2",
                "goversion": "go1.23.4",
            },
            when(pod.up, lambda m: 1.0),
        )
    t = b.t(join + 0.02)
    site.say(
        t,
        ci,
        zap(
            b,
            t,
            "info",
            "cmd/main.go:57",
            "search-api starting",
            version="3.18.0-rc.1",
            addr=":8080",
        ),
    )
    return b
