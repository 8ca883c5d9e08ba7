# size: three linear scenario scripts of one family, each telling one story
"""More healthy-but-noisy windows of round 11 (no incident): a planned cache purge, a
planned PostgreSQL switchover, a cron's ten-minute spikes."""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import mysql_slow
from examples.incidents.holdout5.common import py_log
from examples.incidents.holdout10.common import clef, pg_json
from examples.incidents.holdout11.common import (
    bunyan,
    cache_line,
    caddy_json,
    caddy_metrics,
    every,
    finish,
    journal,
    level,
    pods,
    stack,
    within,
)


def shop_cache_purge_none() -> Bundle:  # size: one linear scenario script
    """After the 11:00 price import the team purges nginx's page cache on purpose: for ~10
    minutes most product pages MISS and are rendered by shop-web (CPU up, median latency
    40 -> 180 ms), then the hit ratio climbs back.  No errors beyond the usual trickle.  No
    incident."""
    b = Bundle(
        "shop-cache-purge-none",
        "2039-10-14T10:50:00Z",
        description="cache hit ratio alert and origin CPU alert",
        symptom={"component": "shop-cache"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    purge = 11.0

    def miss_share(m: float) -> float:
        if m < purge:
            return 0.1
        return max(0.1, 0.85 - (m - purge) * 0.075)

    def outcome(e: Event, m: float, i: int) -> None:
        if rng.random() > miss_share(m):
            e.extra["cache"] = "HIT"
            e.duration = e.extra["app_dur"] = rng.uniform(0.0005, 0.003)
            e.upstream, e.upstream_status = "-", "-"
        else:
            e.extra["cache"] = "MISS"
            if rng.random() < 0.0008:
                fail(e, 502, 0.01, size=157)

    ns = "shop"
    ps = pods("10.26.{k}.40:3000", "shop-web-5c9d8", ("t1", "t2", "t3", "t4"), "10.26.0.{k}")
    el = {"job": "shop-cache", "instance": "10.26.0.6:9113"}
    site = stack(
        b,
        edge_name="shop-cache",
        app="shop-web",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[
            Route("GET", "/p/{n}", "/p/{id}", 0.8, 0.04, 60000),
            Route("GET", "/c/shoes?page=2", "/c/{slug}", 0.2, 0.06, 90000),
        ],
        prefixes=["2a02:908:", "92.117.", "2003:d8:", "87.123.", "77.183."],
        clients=900,
        outcome=outcome,
        kind="nginx",
        edge=el,
        rate=lambda m: 7.0,
        fmt=lambda e: cache_line(b, e),
    )
    t = b.t(purge - 0.2)
    b.log(
        t,
        {"job": "shop-cache", "stream": "ops"},
        "cache purge requested by ci-pricing (zone shop_pages, 1.2M keys)",
    )
    for t in every(b, 0, b.minutes, 25, 60):
        k = rng.randrange(4)
        site.say(t, k, bunyan(b, t, 30, "shop-web", ps[k].pod, "price table loaded", rows=48211))
    finish(
        site,
        ns,
        "shop-web",
        "web",
        go=False,
        cpu=lambda m, i: 0.25 + 1.2 * miss_share(m),
    )
    cache = {**el, "zone": "shop_pages"}
    b.counter("nginx_cache_misses_total", cache, lambda m: 7.0 * miss_share(m), start=4.1e6)
    b.counter("nginx_cache_hits_total", cache, lambda m: 7.0 * (1 - miss_share(m)), start=9.9e7)
    return b


def orders_pg_switchover_blip_none() -> Bundle:  # size: one linear scenario script
    """A planned Patroni switchover at 14:20 (minor-version upgrade): the primary role moves
    to orders-pg-1 in ~6 s; sessions on the old primary are cut, the .NET API logs
    'terminating connection due to administrator command' and retries on a new connection.
    A few requests of ~9 000 end 503; Caddy's error rate stays inside the SLO.  No incident."""
    b = Bundle(
        "orders-pg-switchover-blip-none",
        "2039-11-09T14:05:00Z",
        description="PostgreSQL switchover in the change window: any impact?",
        symptom={"component": "orders-caddy"},
        step=15,
        minutes=35,
    )
    rng = b.rng
    sw = 15.0
    blip = within(sw, sw + 0.1)
    ns = "orders"
    b.component("orders-pg", "other", {"job": "postgres"})
    ps = pods("10.81.{k}.23:8080", "orders-api-64b7", ("u1", "v2", "w3"), "10.81.0.{k}")

    def outcome(e: Event, m: float, i: int) -> None:
        if blip(m):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 6.0)
            if rng.random() < 0.1:
                fail(e, 503, 6.0, size=80)

    el = {"job": "caddy", "instance": "10.81.0.2:2019"}
    site = stack(
        b,
        edge_name="orders-caddy",
        app="orders-api",
        ns=ns,
        deps=["orders-pg"],
        ps=ps,
        routes=[
            Route("GET", "/orders/{n}", "/orders/{id}", 0.7, 0.012, 2200),
            Route("POST", "/orders", "/orders", 0.3, 0.03, 400),
        ],
        prefixes=["10.82.", "10.83."],
        clients=120,
        outcome=outcome,
        kind="caddy",
        edge=el,
        rate=lambda m: 4.5,
        fmt=lambda e: caddy_json(b, e, "orders.internal"),
    )
    caddy_metrics(b, el, site.events)
    for t in every(b, sw, sw + 0.12, 0.2, 0.6):
        k = rng.randrange(3)
        site.say(
            t,
            k,
            clef(
                b,
                t,
                "Warning",
                "Transient database error, retrying ({Attempt}/3): {Message}",
                Attempt=1,
                Message="57P01: terminating connection due to administrator command",
                SourceContext="Orders.Data.RetryingExecutionStrategy",
            ),
        )
    for t in every(b, 0, b.minutes, 30, 70):
        site.say(t, rng.randrange(3), clef(b, t, "Information", "Outbox flushed {Count}", Count=9))
    finish(site, ns, "orders-api", "api", go=False)

    def primary(old: bool) -> Callable[[float], bool]:
        return lambda m: (m < sw) == old

    def serving(old: bool) -> Callable[[float], bool]:
        return lambda m: not (old and sw <= m < sw + 0.5)

    for n, host in enumerate(("orders-pg-0", "orders-pg-1")):
        dbl = {"job": "postgres", "instance": f"{host}:9187"}
        old = n == 0
        postgres_exporter(
            b,
            dbl,
            tps=level(primary(old), 120.0, 0.5),
            active=lambda m: 2.0,
            idle=level(primary(old), 30.0, 2.0),
            datname="orders",
            up=serving(old),
        )
        b.gauge(
            "pg_replication_is_replica",
            {**dbl, "role": "patroni"},
            level(primary(old), 0, 1),
        )
        pl = {"job": "postgres", "instance": host}
        t = b.t(sw)
        msg = (
            "received fast shutdown request"
            if old
            else "promoting standby: archive recovery complete"
        )
        b.log(t, pl, pg_json(b, t, 1, "LOG", msg, backend_type="postmaster"))
        b.log(
            t + 1,
            pl,
            journal(
                b,
                t + 1,
                "patroni.service",
                "patroni",
                6,
                "INFO: demoting self because of switchover request"
                if old
                else "INFO: promoted self to leader by acquiring session lock",
                host,
            ),
        )
    return b


def billing_cron_spikes_none() -> Bundle:  # size: one linear scenario script
    """Every ten minutes the invoice-reminder CronJob runs for ~40 s: two chunked SELECTs
    over due invoices (0.8-2 s each, in the slow log), billing-db's CPU and
    Threads_running spike, p99 of billing-api rises ~30 ms during each run.  No errors, no
    user impact: no incident."""
    b = Bundle(
        "billing-cron-spikes-none",
        "2039-12-01T09:00:00Z",
        description="periodic DB CPU spikes",
        symptom={"component": "billing-db"},
        step=15,
        minutes=50,
    )
    rng = b.rng

    def cron(m: float) -> bool:
        return (m % 10.0) < 0.7

    ns = "billing"
    dbl = {"job": "mysql", "instance": "billing-db.billing.svc:9104"}
    b.component("billing-db", "mysql", {"job": "mysql"})
    ps = pods("10.19.{k}.50:8000", "billing-api-7d8", ("a", "b", "c"), "10.19.0.{k}")

    def outcome(e: Event, m: float, i: int) -> None:
        if cron(m):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.0, 0.04)

    site = stack(
        b,
        edge_name="billing-ingress",
        app="billing-api",
        ns=ns,
        deps=["billing-db"],
        ps=ps,
        routes=[
            Route("GET", "/invoices/{n}", "/invoices/<id>", 0.8, 0.02, 3000),
            Route("POST", "/payments", "/payments", 0.2, 0.06, 400),
        ],
        prefixes=["10.20.", "10.21."],
        clients=200,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.19.0.3:10254"},
        rate=lambda m: 5.0,
        cluster="billing-billing-api-8000",
    )
    for t in every(b, 0, b.minutes, 30, 60):
        site.say(t, rng.randrange(3), py_log(b, t, "INFO", "billing.tasks", "webhook delivered"))
    finish(site, ns, "billing-api", "api", go=False)
    mysqld_exporter(
        b,
        dbl,
        qps=level(cron, 1500.0, 900.0),
        connected=lambda m: 40.0,
        running=level(cron, 24.0, 3.0),
        sending=level(cron, 4.0, 0.5),
        slow=level(cron, 0.05, 0.0),
    )
    node_exporter(
        b,
        {"job": "node", "instance": "billing-db.billing.svc:9100"},
        busy=level(cron, 0.7, 0.15),
        avail=lambda m: 14e9,
        mem_total=32e9,
    )
    ml = {"job": "mysql", "instance": "billing-db", "log": "slow"}
    for k in range(5):
        for t in every(b, k * 10.0 + 0.1, k * 10.0 + 0.65, 15, 25):
            qt = rng.uniform(0.8, 2.0)
            b.log(
                t,
                ml,
                mysql_slow(
                    b,
                    t,
                    user="reminders",
                    host="10.19.7.3",
                    thread=rng.randint(910000, 990000),
                    qt=qt,
                    lt=0.0001,
                    sent=5000,
                    examined=rng.randint(380000, 420000),
                    sql="SELECT id, customer_id, due_at FROM invoices WHERE status = 'open' AND "
                    f"due_at < NOW() AND id > {rng.randint(1, 9) * 5000} ORDER BY id LIMIT 5000",
                    db="billing",
                ),
            )
        t = b.t(k * 10.0)
        b.log(
            t,
            {"namespace": ns, "app": "invoice-reminders", "pod": f"invoice-reminders-2903{k}"},
            py_log(b, t, "INFO", "reminders", "run started"),
        )
        b.log(
            t + 41,
            {"namespace": ns, "app": "invoice-reminders", "pod": f"invoice-reminders-2903{k}"},
            py_log(b, t + 41, "INFO", "reminders", "run finished: 312 reminders queued"),
        )
    return b
