# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Clients: a scraper spread over one /24 under the per-address limit, gift-card codes
enumerated from an IPv6 /64 with a new address per request, and one uptime monitor
polling a deep health check that scans the orders table."""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import mysql_slow, nginx_json_line
from examples.incidents.holdout5.common import ecs, within
from examples.incidents.holdout6.common import Pod, Route, structlog, web

CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{v}.0.0.0 Safari/537.36"
)


def _abuse(
    b: Bundle,
    *,
    rate: float,
    start: float,
    end: float,
    source: Callable[[int], str],
    make: Callable[[float, int, str], Event],
) -> list[Event]:
    return [make(t, k, source(k)) for k, t in enumerate(b.arrivals(lambda m: rate, start, end))]


def catalog_subnet_scraper() -> Bundle:  # size: one linear scenario script
    """From 20:12 a price-comparison crawler pages through /products?page=N&sort=price from
    64 addresses of 45.134.26.0/24 (one hosting provider's range), each ~0.9 req/s -- under
    the per-address limit of 1 req/s -- rotating Chrome user agents: ~58 req/s together, 3x
    the shop's evening traffic.  Deep pages sort in MySQL (filesort); catalog-db threads
    running 4 -> 35, catalog-api p50 x5 and ~7 % 504 for everyone.  Root: clients (a
    request flood from one /24); rate-limit the /24, not single addresses.  Sources:
    Cloudflare blog "Bot management: scrapers rotating IPs and user agents"; OWASP
    Automated Threats OAT-011 "Scraping"."""
    b = Bundle(
        "catalog-subnet-scraper",
        "2034-05-20T20:00:00Z",
        description="shop slow in the evening, product pages 504",
        symptom={"component": "shop-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 12.0
    busy = within(start, 99)
    net = "45.134.26."
    members = [f"{net}{h}" for h in rng.sample(range(2, 254), 64)]
    b.component("shop-edge", "proxy", {"job": "shop-edge"}, ["catalog-api"])
    b.component("catalog-api", "app", {"job": "catalog-api"}, ["catalog-db"])
    b.component("catalog-db", "mysql", {"job": "catalog-db"})
    pods = [
        Pod(f"10.19.{i}.{20 + i}:8080", f"catalog-api-5b-{s}")
        for i, s in enumerate(("a", "b", "c", "d"))
    ]
    routes = [
        Route("GET", "/products/{n}", "/products/{id}", 0.6, 0.02, 30000),
        Route("GET", "/products?category=shoes&page=2", "/products", 0.3, 0.05, 40000),
        Route("POST", "/cart", "/cart", 0.1, 0.03, 300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.07:
                fail(e, 504, 10.0, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * 5

    page = [0]

    def crawl(t: float, k: int, ip: str) -> Event:
        page[0] += 1
        took = min(9.5, 0.4 + page[0] * 0.0004) * rng.uniform(0.8, 1.2)
        e = Event(
            t=t,
            client=ip,
            method="GET",
            path=f"/products?sort=price_asc&page={page[0] // 3 + 1}",
            status=200,
            duration=took,
            upstream=pods[k % 4].addr,
            upstream_status="200",
            agent=CHROME.format(v=rng.randint(118, 131)),
            size=41000,
            extra={"pod": k % 4, "route": "/products", "app_dur": took},
        )
        if took > 9.0:
            fail(e, 504, 10.0, size=160)
        return e

    crawls = _abuse(
        b, rate=58.0, start=start, end=50, source=lambda k: rng.choice(members), make=crawl
    )
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["81.149.4.", "86.130.22.", "2a00:23c6:a281::", "5.64.120.", "92.40.7."],
        clients=1400,
        rate=lambda m: 20.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "shop-edge", "instance": "10.19.0.4:9113"},
        fmt=lambda e: nginx_json_line(b, e, "www.shoes.example"),
        extra_events=crawls,
    )
    site.apps(
        {"job": "catalog-api"},
        {"job": "catalog-api"},
        go=False,
        cpu=lambda m, i: 1.8 if busy(m) else 0.4,
    )
    db = {"job": "catalog-db", "instance": "10.19.50.3:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 700.0 if busy(m) else 250.0,
        connected=lambda m: 80 if busy(m) else 40,
        running=lambda m: 35 if busy(m) else 4,
        slow=lambda m: 12.0 if busy(m) else 0.05,
        scan_rows=lambda m: 4e6 if busy(m) else 2e4,
        version="8.0.39",
    )
    sl = {"job": "catalog-db", "instance": "10.19.50.3:3306", "log": "slow"}
    for e in crawls:
        if rng.random() < 0.1:
            p = int(e.path.split("page=")[1])
            b.log(
                e.t,
                sl,
                mysql_slow(
                    b,
                    e.t,
                    user="catalog",
                    host=e.upstream.split(":")[0],
                    thread=rng.randint(10**5, 10**6),
                    qt=e.duration - 0.05,
                    lt=0.0001,
                    sent=48,
                    examined=180_000 + p * 48,
                    sql="SELECT p.* FROM products p JOIN prices pr ON pr.product_id = p.id WHERE "
                    f"p.active = 1 ORDER BY pr.amount ASC LIMIT 48 OFFSET {(p - 1) * 48}",
                    db="catalog",
                ),
            )
    return b


def giftcard_v6_enumeration() -> Bundle:  # size: one linear scenario script
    """From 03:20 someone enumerates gift-card codes: POST /v1/giftcards/balance with random
    16-character codes, ~22 req/s, every request from a new address inside
    2a05:d016:82e:5c00::/64 (so each address sends one or two), 404 almost always.  Each
    lookup derives the card's key with scrypt: giftcard-api CPU pegs on all three pods,
    genuine checkout balance checks slow down and ~8 % fail 503.  Root: clients (a brute
    force from one /64); rate-limit the /64 -- no single address stands out.  Sources:
    OWASP Automated Threats OAT-015 "Card Cracking" / OAT-006 "Expediting"; RFC 4291 (a
    /64 is one subnet, its interface ids are free to rotate)."""
    b = Bundle(
        "giftcard-v6-enumeration",
        "2034-06-11T03:05:00Z",
        description="gift-card balance checks slow, checkout errors at night",
        symptom={"component": "pay-edge"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    start = 15.0
    busy = within(start, 99)
    prefix = "2a05:d016:82e:5c00:"
    b.component("pay-edge", "proxy", {"job": "pay-edge"}, ["giftcard-api"])
    b.component("giftcard-api", "app", {"job": "giftcard-api"})
    pods = [
        Pod(f"10.150.{i}.{11 + i}:8443", f"giftcard-api-77-{s}")
        for i, s in enumerate(("k", "l", "n"))
    ]
    routes = [
        Route("POST", "/v1/giftcards/balance", "/v1/giftcards/balance", 0.6, 0.06, 120),
        Route("POST", "/v1/giftcards/redeem", "/v1/giftcards/redeem", 0.4, 0.08, 200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.08:
                fail(e, 503, rng.uniform(2.0, 4.0), size=90)
            else:
                e.duration = e.extra["app_dur"] = e.duration * 8

    def guess(t: float, k: int, ip: str) -> Event:
        took = lognormal(b, 0.45)
        return Event(
            t=t,
            client=ip,
            method="POST",
            path="/v1/giftcards/balance",
            status=404,
            duration=took,
            upstream=pods[k % 3].addr,
            upstream_status="404",
            agent="okhttp/4.12.0",
            size=60,
            extra={"pod": k % 3, "route": "/v1/giftcards/balance", "app_dur": took},
        )

    def addr(k: int) -> str:
        return (
            f"{prefix}{rng.getrandbits(16):x}:{rng.getrandbits(16):x}:"
            f"{rng.getrandbits(16):x}:{rng.getrandbits(16):x}"
        )

    guesses = _abuse(b, rate=22.0, start=start, end=45, source=addr, make=guess)
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=[
            "2a05:d016:82e:1a00::",
            "2a02:c7c:5e2::",
            "82.31.144.",
            "86.7.211.",
            "2a00:23c7:11b::",
        ],
        clients=400,
        rate=lambda m: 3.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "pay-edge", "instance": "10.150.0.3:9901"},
        cluster="giftcard_api",
        extra_events=guesses,
    )
    for e in guesses:
        if rng.random() < 0.05:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b, e.t, 0, "info", "balance lookup", result="not_found", client_ip=e.client
                ),
            )
    site.apps(
        {"job": "giftcard-api"},
        {"job": "giftcard-api"},
        go=False,
        cpu=lambda m, i: 3.9 if busy(m) else 0.3,
    )
    return b


def orders_uptime_monitor_deep_health() -> Bundle:  # size: one linear scenario script
    """At 11:02 someone adds orders-api's /health/deep to a self-hosted uptime monitor
    (203.0.113.77, "SiteCheck/4.2") with 30 checks at a 1 s interval instead of 60 s: ~30
    req/s.  /health/deep counts pending orders (``SELECT COUNT(*) FROM orders WHERE status
    IN ('pending','processing')``: a 1.9 M-row index range, 0.3-0.8 s).  orders-db threads
    running 3 -> 28, that COUNT dominates the slow log; every orders-api route slows (p50
    x4), ~4 % 504 for ordinary users.  Root: the client 203.0.113.77 (a request flood on an
    expensive endpoint); rate-limit it and fix the monitor.  Sources: Google SRE workbook
    "Monitoring" (health checks must be cheap); AWS Builders' Library "Implementing health
    checks" (deep checks can overload dependencies)."""
    b = Bundle(
        "orders-uptime-monitor-deep-health",
        "2034-07-02T10:45:00Z",
        description="orders API slow since late morning",
        symptom={"component": "orders-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 17.0
    busy = within(start, 99)
    monitor = "203.0.113.77"
    b.component("orders-edge", "proxy", {"job": "orders-edge"}, ["orders-api"])
    b.component("orders-api", "app", {"job": "orders-api"}, ["orders-db"])
    b.component("orders-db", "mysql", {"job": "orders-db"})
    pods = [
        Pod(f"172.24.6.{31 + i}:8080", f"orders-api-4c-{s}") for i, s in enumerate(("e", "f", "g"))
    ]
    routes = [
        Route("GET", "/api/orders/{n}", "/api/orders/{id}", 0.7, 0.015, 2500),
        Route("POST", "/api/orders", "/api/orders", 0.3, 0.05, 400),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if busy(m):
            if rng.random() < 0.04:
                fail(e, 504, 8.0, size=160)
            else:
                e.duration = e.extra["app_dur"] = e.duration * 4

    def check(t: float, k: int, ip: str) -> Event:
        took = rng.uniform(0.3, 0.8) * (2.5 if rng.random() < 0.3 else 1.0)
        return Event(
            t=t,
            client=ip,
            method="GET",
            path="/health/deep",
            status=200,
            duration=took,
            upstream=pods[k % 3].addr,
            upstream_status="200",
            agent="SiteCheck/4.2 (+https://sitecheck.example/bot)",
            size=180,
            extra={"pod": k % 3, "route": "/health/deep", "app_dur": took},
        )

    checks = _abuse(b, rate=30.0, start=start, end=50, source=lambda k: monitor, make=check)
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["172.24.100.", "172.24.101.", "198.51.100."],
        clients=300,
        rate=lambda m: 9.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "orders-edge", "instance": "172.24.6.2:9113"},
        extra_events=checks,
    )
    for e in site.events:
        if e.status == 504:
            site.say(
                e.t,
                e.extra["pod"],
                ecs(b, e.t, "WARN", "c.o.api.TimeoutFilter", f"request exceeded 8s: {e.path}"),
            )
    site.apps(
        {"job": "orders-api"},
        {"job": "orders-api"},
        go=False,
        cpu=lambda m, i: 1.1 if busy(m) else 0.3,
    )
    db = {"job": "orders-db", "instance": "172.24.7.5:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 240.0 if busy(m) else 200.0,
        connected=lambda m: 70 if busy(m) else 35,
        running=lambda m: 28 if busy(m) else 3,
        slow=lambda m: 25.0 if busy(m) else 0.02,
        scan_rows=lambda m: 5.5e7 if busy(m) else 3e4,
    )
    sl = {"job": "orders-db", "instance": "172.24.7.5:3306", "log": "slow"}
    for e in checks:
        if rng.random() < 0.08:
            b.log(
                e.t,
                sl,
                mysql_slow(
                    b,
                    e.t,
                    user="orders_health",
                    host=e.upstream.split(":")[0],
                    thread=rng.randint(10**5, 10**6),
                    qt=e.duration - 0.02,
                    lt=0.0001,
                    sent=1,
                    examined=1_900_000 + rng.randint(0, 9000),
                    sql="SELECT COUNT(*) FROM orders WHERE status IN ('pending','processing')",
                    db="orders",
                ),
            )
    return b
