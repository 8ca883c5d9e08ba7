# size: scenario builders are long linear scripts, one story each (as in rounds 3-5)
"""Edges and clients: an expired certificate that silences traffic, one HAProxy backend
queueing, nginx holding a stale upstream address, a partner's webhook retry loop, and one
API key paging through an export."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, lognormal, pick_clients
from examples.incidents.holdout3.stack import fail, serve
from examples.incidents.holdout4.common import app_side, logfmt, mysql_slow, zap
from examples.incidents.holdout5.common import nginx_error, within
from examples.incidents.holdout6.common import (
    Pod,
    Route,
    every,
    haproxy_exporter,
    haproxy_line,
    structlog,
    web,
)


def shop_edge_cert_expired() -> Bundle:  # size: one linear scenario script
    """The edge's certificate (issued by hand, not renewed) expires at 00:00:00 UTC.  From
    then browsers and mobile apps refuse the handshake: nginx logs "SSL_do_handshake()
    failed ... alert bad certificate" and requests fall from ~20/s to ~1.5/s (monitoring
    and a few clients that skip verification).  No 5xx anywhere, the backend is idle and
    healthy, the blackbox probe fails with the expiry date in the past.  Root: the edge
    (expired certificate).  Sources: Let's Encrypt "DST Root CA X3 Expiration (September
    2021)"; Microsoft Teams outage of 2020-02-03 (an expired authentication certificate)."""
    b = Bundle(
        "shop-edge-cert-expired",
        "2031-12-31T23:40:00Z",
        description="orders dropped to almost zero after midnight",
        symptom={"component": "shop-edge"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    expiry = 20.0
    gone = within(expiry, 99)
    b.component("shop-edge", "proxy", {"job": "shop-edge"}, ["storefront"])
    b.component("storefront", "app", {"job": "storefront"})
    pods = [
        Pod(f"10.77.{i}.{15 + i}:8080", f"storefront-66bd-{s}", f"10.77.{i}.1:10250")
        for i, s in enumerate(("g4", "h5", "j6"))
    ]
    routes = [
        Route("GET", "/", "/", 0.4, 0.02, 48000),
        Route("GET", "/p/{n}", "/p/:id", 0.45, 0.03, 61000),
        Route("POST", "/checkout", "/checkout", 0.15, 0.09),
    ]
    bots = ("Blackbox Exporter/0.25.0", "curl/8.5.0", "Python-urllib/3.12")

    def rate(m: float) -> float:
        return 20.0 if not gone(m) else 1.5

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["84.115.2.", "2a02:8388:1a00::", "178.190.7.", "91.113.3."],
        clients=1500,
        rate=rate,
        outcome=None,
        kind="nginx",
        edge_labels={"job": "shop-edge", "instance": "10.77.0.5:9113"},
        active=lambda m: 140.0 if not gone(m) else 12.0,
    )
    for e in site.events:
        if gone(b.m(e.t)):
            e.agent = rng.choice(bots)
    site.apps({"job": "storefront"}, {"job": "storefront"})
    err = {"job": "shop-edge", "instance": "10.77.0.5:9113", "log": "error"}
    pool = client_pool(b, ["84.115.2.", "2a02:8388:1a00::", "178.190.7."], 600)
    for t in every(b, expiry, 55, 0.1, 0.5):
        b.log(
            t,
            err,
            nginx_error(
                b,
                t,
                "info",
                "SSL_do_handshake() failed (SSL: error:0A000412:SSL routines::sslv3 "
                "alert bad certificate:SSL alert number 42) while SSL handshaking",
                pid=912,
                conn=rng.randint(10**7, 10**8),
                ctx=f"client: {rng.choice(pool)}, server: 0.0.0.0:443",
            ),
        )
    probe = {"job": "shop-edge", "instance": "https://www.shop.example/", "module": "https_2xx"}
    b.gauge("probe_success", probe, lambda m: 0 if gone(m) else 1)
    b.gauge("probe_ssl_earliest_cert_expiry", probe, lambda m: b.t(expiry))
    b.gauge("probe_http_status_code", probe, lambda m: 0 if gone(m) else 200)
    b.gauge("probe_duration_seconds", probe, lambda m: round(rng.uniform(0.04, 0.09), 4))
    return b


def quote_haproxy_one_backend_queue() -> Bundle:  # size: one linear scenario script
    """HAProxy balances quote-api over four VMs (``maxconn 30`` per server, ``timeout queue
    5s``).  From 14:22 quote-3 answers in 3-8 s (its JVM is stuck in back-to-back full GCs
    after a cache warm-up bug: heap 98 %); HAProxy queues requests for it (Tw up to 5 s,
    termination state ``sQ--`` and 503 when the queue times out); its health check (TCP)
    still passes, so it stays in rotation.  The other three servers answer in ~40 ms.
    Root: quote-api on 10.30.4.13:8080; drain it.  Sources: HAProxy docs "Configuration
    Manual" (maxconn, timeout queue, log format Tq/Tw/Tc/Tr/Ta, termination state sQ);
    HAProxy blog "Using HAProxy as an API Gateway, Part 3 [Health Checks]"."""
    b = Bundle(
        "quote-haproxy-one-backend-queue",
        "2032-01-20T14:00:00Z",
        description="quote requests slow or 503",
        symptom={"component": "quote-lb"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset, bad = 22.0, 2
    b.component("quote-lb", "proxy", {"job": "quote-lb"}, ["quote-api"])
    b.component("quote-api", "app", {"job": "quote-api"})
    vms = [Pod(f"10.30.4.{11 + i}:8080") for i in range(4)]
    names = [f"quote-{i + 1}" for i in range(4)]
    routes = [
        Route("POST", "/quote", "/quote", 0.8, 0.04),
        Route("GET", "/quote/{n}", "/quote/{id}", 0.2, 0.01),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = names[i]
        e.extra["pid"] = 2871
        if i != bad or m < onset:
            return
        wait = rng.uniform(0.5, 5.0)
        if wait >= 4.6:
            e.status, e.upstream_status, e.size = 503, "-", 217
            e.duration, e.extra["tw"], e.extra["term"] = 5.0, 5.0, "sQ--"
            e.extra["server"] = "<NOSRV>"
            e.extra["app_dur"] = 0.0
            e.upstream = "-"
        else:
            took = rng.uniform(3.0, 8.0)
            e.extra["app_dur"], e.extra["tw"] = took, wait
            e.duration = took + wait
            e.extra["queue"] = rng.randint(5, 30)

    lb = {"job": "quote-lb", "instance": "10.30.4.2:8405"}
    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["10.30.100.", "10.30.101.", "10.30.102."],
        clients=200,
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="haproxy",
        edge_labels=lb,
        stream={"log": "syslog"},
        fmt=lambda e: haproxy_line(b, e, "fe_https~", "be_quote"),
    )
    haproxy_exporter(
        b,
        lb,
        "be_quote",
        dict(zip(names, (v.addr for v in vms), strict=True)),
        site.events,
        queue=lambda m, n: rng.randint(8, 30) if n == names[bad] and m >= onset else 0,
    )
    for t in every(b, onset, 45, 4, 12):
        pause = rng.uniform(2.5, 4.8)
        site.say(
            t,
            bad,
            f"[{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}+0000][gc] GC("
            + f"{rng.randint(4000, 9000)}) Pause Full (G1 Compaction Pause) 3981M->3962M(4096M) "
            f"{pause * 1000:.3f}ms",
        )
    site.apps(
        {"job": "quote-api"},
        {"job": "quote-api"},
        go=False,
        cpu=lambda m, i: 3.8 if i == bad and m >= onset else 0.6,
        mem=lambda m, i: 4.2e9 if i == bad and m >= onset else 2.6e9,
    )
    return b


def pricing_nginx_stale_upstream() -> Bundle:  # size: one linear scenario script
    """pricing-edge (nginx) proxies to ``http://pricing.internal:8080``, a name it resolved
    once at startup (no ``resolver``, no variable in proxy_pass).  At 09:14 a blue/green
    switch moves pricing.internal to the new VIP 10.12.9.40 and the old VIP 10.12.8.40 is
    released.  nginx keeps connecting to 10.12.8.40: "connect() failed (113: No route to
    host) while connecting to upstream", every request 502 after ~3 s.  pricing-api's new
    VMs are healthy and keep serving the internal callers that resolve DNS freshly.  Root:
    pricing-edge (stale upstream address; reload it).  Sources: nginx docs "proxy_pass"
    and "resolver" (names in a static proxy_pass are resolved at startup); NGINX blog "DNS
    for Service Discovery with NGINX and NGINX Plus"."""
    b = Bundle(
        "pricing-nginx-stale-upstream",
        "2032-02-10T08:55:00Z",
        description="prices fail to load on the web shop (502)",
        symptom={"component": "pricing-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    switch = 19.0
    b.component("pricing-edge", "proxy", {"job": "pricing-edge"}, ["pricing-api"])
    b.component("pricing-api", "app", {"job": "pricing-api"})
    vip = [Pod("10.12.8.40:8080")]
    routes = [Route("GET", "/v1/prices?sku={n}", "/v1/prices", 1.0, 0.015)]
    err = {"job": "pricing-edge", "instance": "10.12.0.7:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        if m < switch:
            return
        e.status, e.upstream_status, e.size = 502, "502", 157
        e.duration = e.extra["app_dur"] = 3.0 + rng.uniform(0, 0.01)
        e.extra["urt"] = "3.001"
        b.log(
            e.t + 3.0,
            err,
            nginx_error(
                b,
                e.t + 3.0,
                "error",
                "connect() failed (113: No route to host) while connecting to upstream",
                pid=77,
                conn=rng.randint(10**6, 10**7),
                ctx=f'client: {e.client}, server: pricing.shop.example, request: "GET {e.path} '
                f'HTTP/1.1", upstream: "http://10.12.8.40:8080{e.path}", host: "pricing.shop.example"',
            ),
        )

    web(
        b,
        pods=vip,
        routes=routes,
        prefixes=["10.12.100.", "10.12.101."],
        clients=150,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "pricing-edge", "instance": "10.12.0.7:9113"},
    )
    old = [Pod(f"10.12.8.{11 + i}:8080", present=within(0, switch + 0.5)) for i in range(3)]
    new = [Pod(f"10.12.9.{11 + i}:8080", present=within(12.0, 99)) for i in range(3)]
    vms = old + new
    internal = serve(
        b,
        rate=lambda m: 9.0 + 4.0 if m < switch else 4.0,
        clients=pick_clients(b, ["10.12.20.5", "10.12.20.6", "10.12.21.5"]),
        routes=routes,
        pods=vms,
    )
    app_side(b, vms, internal, {"job": "pricing-api"}, go=True)
    for vm in vms:
        if vm in new:
            t = b.t(12.0) + 2
            b.log(
                t,
                {"job": "pricing-api", "instance": vm.addr},
                logfmt(b, t, "info", "listening", addr=":8080", version="2032.02.1"),
            )
    for t in every(b, switch - 0.2, switch, 3, 6):
        b.log(
            t,
            {"job": "pricing-api", "instance": old[0].addr},
            logfmt(b, t, "info", "draining connections", reason="SIGTERM"),
        )
    return b


def hooks_partner_retry_loop() -> Bundle:  # size: one linear scenario script
    """A payment partner deploys a new webhook sender at 10:05; its payloads lack
    ``event_id``, hooks-api answers 422, and the sender retries every rejected delivery
    immediately and forever: ~45 req/s from its single egress address 35.198.44.17
    ("PartnerHook/3.0"), all identical POSTs to /webhooks/payments.  hooks-api's CPU and
    latency rise (JSON-schema validation of each retry) and other partners' deliveries get
    slow; no 5xx.  Root: that client (a retry loop); rate-limit it.  Sources: Stripe docs
    "Receive Stripe events in your webhook endpoint" (retries with exponential backoff);
    Svix "Webhook retry best practices"; AWS Builders' Library "Timeouts, retries, and
    backoff with jitter"."""
    b = Bundle(
        "hooks-partner-retry-loop",
        "2032-03-02T09:50:00Z",
        description="webhook latency alert; hooks-api CPU high",
        symptom={"component": "hooks-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    start = 15.0
    abuser = "35.198.44.17"
    b.component("hooks-edge", "proxy", {"job": "hooks-edge"}, ["hooks-api"])
    b.component("hooks-api", "app", {"job": "hooks-api"}, ["hooks-queue"])
    b.component("hooks-queue", "redis", {"job": "hooks-queue"})
    pods = [
        Pod(f"10.5.{i}.{60 + i}:8000", f"hooks-api-59c-{s}", f"10.5.{i}.1:10250")
        for i, s in enumerate(("m1", "n2", "p3"))
    ]
    routes = [
        Route("POST", "/webhooks/payments", "/webhooks/payments", 0.4, 0.02),
        Route("POST", "/webhooks/shipping", "/webhooks/shipping", 0.35, 0.02),
        Route("POST", "/webhooks/crm", "/webhooks/crm", 0.25, 0.03),
    ]
    partners = [
        "35.198.44.17",
        "3.121.9.200",
        "18.197.77.14",
        "52.28.140.3",
        "34.89.1.77",
        "13.48.6.9",
        "51.15.4.200",
    ]

    def load(m: float) -> float:
        return 1.0 if m < start else 2.6

    def outcome(e: Event, m: float, i: int) -> None:
        e.duration = e.extra["app_dur"] = e.duration * load(m)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["3.121.9."],
        clients=10,
        rate=lambda m: 5.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "hooks-edge", "instance": "10.5.100.2:9901"},
        cluster="hooks_api",
        pick=lambda: rng.choice(partners),
        agents=("PartnerHook/2.9", "Stripe/1.0", "Shopify-Captain-Hook", "Go-http-client/2.0"),
        extra_events=[
            Event(
                t=t,
                client=abuser,
                method="POST",
                path="/webhooks/payments",
                status=422,
                duration=lognormal(b, 0.05),
                upstream=pods[k % 3].addr,
                upstream_status="422",
                agent="PartnerHook/3.0",
                size=96,
                extra={"pod": k % 3, "route": "/webhooks/payments", "app_dur": 0.05},
            )
            for k, t in enumerate(b.arrivals(lambda m: 45.0, start, 40))
        ],
    )
    for e in site.events:
        if e.client == abuser and rng.random() < 0.05:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b,
                    e.t,
                    0,
                    "warning",
                    "webhook rejected",
                    status=422,
                    partner="payhub",
                    reason="payload.event_id: field required",
                    source_ip=abuser,
                ),
            )
    site.apps(
        {"job": "hooks-api"},
        {"job": "hooks-api"},
        go=False,
        cpu=lambda m, i: 0.3 if m < start else 1.7,
    )
    ql = {"job": "hooks-queue", "instance": "10.5.50.3:9121"}

    redis_exporter(
        b, ql, ops=lambda m: 60.0, used=lambda m: 80e6, maxmemory=1e9, clients=lambda m: 24
    )
    return b


def orders_export_api_key_scrape() -> Bundle:  # size: one linear scenario script
    """At 02:10 one integration (API key of a reseller, from 198.51.100.23, "python-requests
    /2.32.3") pages through /v2/orders/export?page=N with eight parallel workers, ~10 req/s.
    Each page is ``LIMIT 500 OFFSET page*500`` on a 40 M-row table: the deeper the page, the
    longer the scan (2-9 s).  The export statement dominates orders-db's slow log, threads
    running ~30, every orders-api route slows for everyone (p50 x6, some 504).  Root: that
    client; rate-limit it.  Sources: GitHub docs "Rate limits for the REST API" (secondary
    limits on concurrent requests); Use The Index, Luke "Paging Through Results" (OFFSET
    cost grows with the page)."""
    b = Bundle(
        "orders-export-api-key-scrape",
        "2032-03-23T01:55:00Z",
        description="orders API slow at night; nightly jobs time out",
        symptom={"component": "orders-gw"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    start = 15.0
    scraper = "198.51.100.23"
    busy = within(start, 99)
    b.component("orders-gw", "proxy", {"job": "orders-gw"}, ["orders-api"])
    b.component("orders-api", "app", {"job": "orders-api"}, ["orders-db"])
    b.component("orders-db", "mysql", {"job": "orders-db"})
    pods = [
        Pod(f"10.88.{i}.{30 + i}:8081", f"orders-api-7b5-{s}", f"10.88.{i}.1:10250")
        for i, s in enumerate(("r1", "s2", "t3", "u4"))
    ]
    routes = [
        Route("GET", "/v2/orders/{n}", "/v2/orders/{id}", 0.7, 0.01),
        Route("POST", "/v2/orders", "/v2/orders", 0.3, 0.04),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.04:
                fail(e, 504, 30.0, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * 6

    page = [0]

    def scrape_event(t: float, k: int) -> Event:
        page[0] += 1
        took = min(9.0, 2.0 + page[0] * 0.0012) * rng.uniform(0.9, 1.1)
        return Event(
            t=t,
            client=scraper,
            method="GET",
            path=f"/v2/orders/export?page={page[0]}&per_page=500",
            status=200,
            duration=took,
            upstream=pods[k % 4].addr,
            upstream_status="200",
            agent="python-requests/2.32.3",
            size=410_000,
            extra={"pod": k % 4, "route": "/v2/orders/export", "app_dur": took},
        )

    scrapes = [scrape_event(t, k) for k, t in enumerate(b.arrivals(lambda m: 10.0, start, 50))]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["198.51.100.", "203.0.113.", "192.0.2."],
        clients=80,
        rate=lambda m: 3.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "orders-gw", "instance": "10.88.100.5:9113"},
        agents=("reseller-sync/4.1", "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"),
        extra_events=scrapes,
    )
    for e in site.events:
        if e.status == 504:
            site.say(
                e.t,
                e.extra["pod"],
                zap(b, e.t, "error", "orders/handler.go:201", "request timed out", path=e.path),
            )
    site.apps({"job": "orders-api"}, {"job": "orders-api"})
    db = {"job": "orders-db", "instance": "10.88.50.9:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 90.0,
        connected=lambda m: 60 if busy(m) else 30,
        running=lambda m: 30 if busy(m) else 2,
        max_connections=500,
        version="8.0.41",
        slow=lambda m: 9.0 if busy(m) else 0.0,
        scan_rows=lambda m: 9e6 if busy(m) else 3e4,
    )
    sl = {"job": "orders-db", "instance": "10.88.50.9:3306", "log": "slow"}
    for e in scrapes:
        if rng.random() < 0.5:
            p = int(e.path.split("page=")[1].split("&")[0])
            b.log(
                e.t,
                sl,
                mysql_slow(
                    b,
                    e.t,
                    user="orders_ro",
                    host=e.upstream.split(":")[0],
                    thread=rng.randint(10**5, 10**6),
                    qt=e.duration - 0.05,
                    lt=0.0002,
                    sent=500,
                    examined=p * 500 + 500,
                    sql="SELECT o.*, c.email FROM orders o JOIN customers c ON c.id = o.customer_id "
                    f"ORDER BY o.created_at LIMIT 500 OFFSET {p * 500}",
                    db="orders",
                ),
            )
    return b
