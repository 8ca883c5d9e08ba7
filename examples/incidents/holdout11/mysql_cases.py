# size: three linear scenario scripts of one family, each telling one story
"""MySQL and MariaDB scenarios of round 11 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import mariadb_err, mysql8_err
from examples.incidents.holdout5.common import nginx_ctx, nginx_error
from examples.incidents.holdout9.common import processlist
from examples.incidents.holdout11.common import (
    bunyan,
    caddy_json,
    caddy_metrics,
    const,
    every,
    finish,
    fpm_err,
    kong_json,
    kong_metrics,
    level,
    pods,
    say_some,
    stack,
    within,
    zerolog,
)


def reports_mysql_temptable_full() -> Bundle:  # size: one linear scenario script
    """MySQL 8.0.36 keeps internal temporary tables in the TempTable engine:
    temptable_max_ram 1 GiB, then memory-mapped files up to temptable_max_mmap 1 GiB.  From
    10:14 the month-end exports (GROUP BY over a derived table, 20-60 s each, ~10 at a
    time) hold both pools; every statement that needs an internal temporary table, the
    dashboards' small GROUP BYs included, fails "The table '/tmp/#sql...' is full" (1114):
    ~35 % of report and dashboard calls 500 through Caddy.  Root: reports-db (its temporary
    table space exhausted by a limit, a configuration to raise)."""
    b = Bundle(
        "reports-mysql-temptable-full",
        "2038-02-01T10:00:00Z",
        description="report and dashboard pages failing with 500",
        symptom={"component": "reports-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 14.0
    bad = within(onset, 99)
    ns = "bi"
    dbl = {"job": "mysqld", "instance": "reports-db-0.reports-db.bi:9104"}
    b.component("reports-db", "mysql", {"job": "mysqld"})
    ps = pods("10.42.{k}.27:8080", "reports-api-6c4f9", ("k2d", "m4f", "p7h"), "10.42.0.{k}:10250")
    routes = [
        Route("GET", "/api/dashboards/{n}", "/api/dashboards/{id}", 0.6, 0.08, 5200),
        Route("GET", "/api/reports/monthly?region=eu", "/api/reports/monthly", 0.25, 1.2, 90000),
        Route("GET", "/api/health", "/api/health", 0.15, 0.002, 40),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and "health" not in e.path and rng.random() < 0.42:
            fail(e, 500, rng.uniform(0.05, 0.4), size=96)

    site = stack(
        b,
        edge_name="reports-edge",
        app="reports-api",
        ns=ns,
        deps=["reports-db"],
        ps=ps,
        routes=routes,
        prefixes=["10.8.", "10.9.", "fd12:3456:789a:"],
        clients=180,
        outcome=outcome,
        kind="caddy",
        edge={"job": "caddy", "instance": "10.42.0.5:2019"},
        rate=lambda m: 3.0,
        fmt=lambda e: caddy_json(b, e, "reports.corp.example"),
    )
    caddy_metrics(b, {"job": "caddy", "instance": "10.42.0.5:2019"}, site.events)
    say_some(
        site,
        0.5,
        lambda e: zerolog(
            b,
            e.t,
            "error",
            "query failed",
            error="Error 1114 (HY000): The table '/tmp/#sql1f2e_4a1_3' is full",
            route=e.extra["route"],
        ),
    )
    for t in every(b, 0, b.minutes, 30, 90):
        site.say(t, rng.randrange(3), zerolog(b, t, "info", "cache warmed", entries=412))
    finish(site, ns, "reports-api", "api")
    mysqld_exporter(
        b,
        dbl,
        qps=level(bad, 380.0, 450.0),
        connected=level(bad, 64.0, 40.0),
        running=level(bad, 14.0, 4.0),
        sending=level(bad, 11.0, 2.0),
        tmp_disk=level(bad, 0.05, 1.4),
        slow=level(bad, 0.3, 0.05),
    )
    b.untyped("mysql_global_status_created_tmp_tables", dbl, level(bad, 9.0, 40.0), 7.1e7)
    b.untyped("mysql_global_status_created_tmp_files", dbl, level(bad, 0.4, 0.0), 1207)
    for var, v in (("temptable_max_ram", 1 << 30), ("temptable_max_mmap", 1 << 30)):
        b.gauge(f"mysql_global_variables_{var}", dbl, const(v))
    b.gauge("mysql_global_variables_temptable_use_mmap", dbl, lambda m: 1)
    for event, lo in (("physical_ram", 2.1e8), ("physical_disk", 0.0)):
        b.gauge(
            "mysql_perf_schema_memory_events_current_bytes",
            {**dbl, "event_name": f"memory/temptable/{event}"},
            level(bad, 1.07e9, lo + 2.4e7),
        )
    ml = {"job": "mysqld", "instance": "reports-db-0"}
    for t in every(b, onset, b.minutes, 4, 12):
        b.log(
            t,
            ml,
            mysql8_err(
                b,
                t,
                rng.randint(4100, 4900),
                "ERROR",
                "MY-013132",
                f"The table '/tmp/#sql1f2e_{rng.randint(400, 520):x}_{rng.randint(0, 9)}' is full!",
            ),
        )
    node_exporter(
        b,
        {"job": "node", "instance": "reports-db-0:9100"},
        busy=level(bad, 0.45, 0.25),
        avail=level(bad, 3e9, 6e9),
        mem_total=32e9,
    )
    return b


def partners_mysql_reverse_dns() -> Bundle:  # size: one linear scenario script
    """partners-db (MySQL 8.0) moved to a new VM without skip_name_resolve; its resolver is
    the old DNS server, retired at 11:20.  From then every new connection waits in the
    'login' state while mysqld's reverse lookup times out (transient failures are not kept
    in the host cache): "IP address ... could not be resolved".  The PHP portal connects
    per request (no persistent connections): php-fpm children wait, nginx 504s ~30 % of
    pages; pooled jobs are unaffected.  Root: partners-db (its name resolution)."""
    b = Bundle(
        "partners-mysql-reverse-dns",
        "2038-03-16T11:05:00Z",
        description="partner portal slow and timing out",
        symptom={"component": "portal-nginx"},
        step=20,
        minutes=40,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "partners"
    dbl = {"job": "mysql", "instance": "10.70.9.4:9104"}
    b.component("partners-db", "mysql", {"job": "mysql", "instance": "10.70.9.4:9104"})
    ps = pods("10.70.{k}.14:9000", "portal-php-7f6d5", ("a1b", "c2d", "e3f", "g4h"), "10.70.0.{k}")
    routes = [
        Route("GET", "/partner/orders?page=1", "/partner/orders", 0.55, 0.12, 14000),
        Route("GET", "/partner/invoice/{n}", "/partner/invoice/{id}", 0.3, 0.09, 8000),
        Route("GET", "/static/app.js", "/static/app.js", 0.15, 0.001, 90000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and "static" not in e.path:
            if rng.random() < 0.33:
                fail(e, 504, 30.0, size=176)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(4.0, 12.0)

    site = stack(
        b,
        edge_name="portal-nginx",
        app="portal-php",
        ns=ns,
        deps=["partners-db"],
        ps=ps,
        routes=routes,
        prefixes=["62.96.", "80.146.", "2003:e4:", "193.29."],
        clients=220,
        outcome=outcome,
        kind="nginx",
        edge={"job": "portal-nginx", "instance": "10.70.0.8:9113"},
        rate=lambda m: 4.0,
    )
    say_some(
        site,
        0.4,
        lambda e: fpm_err(
            b,
            e.t,
            "WARNING",
            f"[pool www] child {rng.randint(100, 400)}, script '/var/www/portal/index.php' "
            '(request: "GET /index.php") executing too slow (5.012345 sec), logging',
        ),
    )
    for e in site.events:
        if e.status == 504:
            b.log(
                e.t,
                {"job": "portal-nginx", "stream": "error"},
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "upstream timed out (110: Connection timed out) while reading response "
                    "header from upstream",
                    conn=rng.randint(10000, 90000),
                    ctx=nginx_ctx(e, "partners.example.com", e.upstream),
                ),
            )
    finish(site, ns, "portal-php", "php-fpm", go=False)
    mysqld_exporter(
        b,
        dbl,
        qps=level(bad, 220.0, 600.0),
        connected=level(bad, 190.0, 45.0),
        running=level(bad, 2.0, 3.0),
        aborted_connects=level(bad, 3.5, 0.01),
    )
    processlist(b, dbl, {("Connect", "login"): level(bad, 140.0, 0.0)})
    b.untyped("mysql_global_status_connections", dbl, level(bad, 14.0, 18.0), 9.1e7)
    b.gauge("mysql_global_variables_skip_name_resolve", dbl, lambda m: 0)
    b.gauge("mysql_global_variables_host_cache_size", dbl, lambda m: 279)
    b.gauge(
        "mysql_perf_schema_host_cache_count_nameinfo_transient_errors",
        {**dbl, "ip": "10.70.1.14"},
        lambda m: int(max(0.0, m - onset) * 40),
    )
    ml = {"job": "mysql", "instance": "10.70.9.4"}
    for t in every(b, onset, b.minutes, 3, 9):
        ip = f"10.70.{rng.randint(1, 4)}.14"
        b.log(
            t,
            ml,
            mysql8_err(
                b,
                t,
                rng.randint(880000, 990000),
                "Warning",
                "MY-010055",
                f"IP address '{ip}' could not be resolved: Temporary failure in name resolution",
            ),
        )
    node_exporter(
        b,
        {"job": "node", "instance": "10.70.9.4:9100"},
        busy=lambda m: 0.12,
        avail=lambda m: 20e9,
        mem_total=64e9,
    )
    return b


def shop_mariadb_max_user_connections() -> Bundle:  # size: one linear scenario script
    """A hardening change gives the MariaDB user 'shop' MAX_USER_CONNECTIONS 100; the shop
    needs ~150 at Saturday's peak (six Node pods' mysql2 pools growing to 25).  From 14:12
    new connections fail "User 'shop' has exceeded the 'max_user_connections' resource"
    (1226) while the server idles far from max_connections 600: ~20 % of shop calls 500 at
    Kong.  Root: shop-db (a per-user limit set too low)."""
    b = Bundle(
        "shop-mariadb-max-user-connections",
        "2038-04-10T13:55:00Z",
        description="shop API errors since ~14:10",
        symptom={"component": "shop-kong"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    onset = 17.0
    bad = within(onset, 99)
    ns = "shop"
    dbl = {"job": "mariadb", "instance": "shop-db.internal:9104"}
    b.component("shop-db", "mysql", {"job": "mariadb"})
    suffixes = ("b6x", "c7y", "d8z", "f9a", "g1b", "h2c")
    ps = pods("10.244.{k}.61:3000", "shop-api-5d8c7", suffixes, "10.0.12.{k}:10250")
    routes = [
        Route("GET", "/v2/products/{n}", "/v2/products/{id}", 0.6, 0.02, 3000),
        Route("POST", "/v2/cart/items", "/v2/cart/items", 0.25, 0.03, 600),
        Route("POST", "/v2/checkout", "/v2/checkout", 0.15, 0.09, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.21:
            fail(e, 500, rng.uniform(0.005, 0.05), size=72)

    el = {"job": "kong", "instance": "10.0.12.9:8100"}
    site = stack(
        b,
        edge_name="shop-kong",
        app="shop-api",
        ns=ns,
        deps=["shop-db"],
        ps=ps,
        routes=routes,
        prefixes=["89.204.", "2a02:810d:", "91.64.", "2a01:c22:", "37.201."],
        clients=900,
        outcome=outcome,
        kind="kong",
        edge=el,
        rate=lambda m: 6.0,
        fmt=lambda e: kong_json(b, e, "shop-api", "shop-v2"),
    )
    kong_metrics(b, el, site.events, "shop-api")
    say_some(
        site,
        0.6,
        lambda e: bunyan(
            b,
            e.t,
            50,
            "shop-api",
            ps[e.extra["pod"]].pod,
            "db acquire failed",
            err={
                "code": "ER_USER_LIMIT_REACHED",
                "errno": 1226,
                "message": "User 'shop' has exceeded the 'max_user_connections' resource "
                "(current value: 100)",
            },
        ),
    )
    for t in every(b, 0, b.minutes, 20, 50):
        k = rng.randrange(6)
        site.say(t, k, bunyan(b, t, 30, "shop-api", ps[k].pod, "cart merged", items=3))
    finish(site, ns, "shop-api", "api", go=False)
    mysqld_exporter(
        b,
        dbl,
        qps=level(bad, 1500.0, 1400.0),
        connected=level(bad, 103.0, 70.0),
        running=lambda m: 5.0,
        max_connections=600,
        version="10.11.8-MariaDB",
    )
    b.gauge("mysql_global_variables_max_user_connections", dbl, lambda m: 0)
    ml = {"job": "mariadb", "instance": "shop-db.internal"}
    for t in every(b, 0, b.minutes, 120, 300):
        b.log(
            t,
            ml,
            mariadb_err(
                b,
                t,
                rng.randint(9000, 9900),
                "Note",
                "InnoDB: Buffer pool(s) load completed"
                if rng.random() < 0.1
                else "Detected table cache mutex contention at instance 1: 22% waits.",
            ),
        )
    node_exporter(
        b,
        {"job": "node", "instance": "shop-db.internal:9100"},
        busy=lambda m: 0.18,
        avail=lambda m: 11e9,
        mem_total=32e9,
    )
    return b
