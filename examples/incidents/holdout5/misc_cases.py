# size: scenario builders are long linear scripts, one story each (as in rounds 3-4)
"""A dependency outside the topology, two quiet windows, and two issues at once."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import log_each, logrus, mysql8_err, mysql_slow, spring
from examples.incidents.holdout5.common import (
    Pod,
    Route,
    Site,
    java_side,
    klog,
    nginx_ctx,
    nginx_error,
    py_log,
    within,
)


def ship_external_dns() -> Bundle:  # size: one linear scenario script
    """shipping-svc (Python, aiohttp) asks the carrier ParcelHub for rates and labels at
    api.parcelhub.example -- a host outside the cluster and outside the topology.  At 10:21
    the carrier's authoritative DNS starts failing: every lookup SERVFAILs after the
    resolver's 5 s timeout; quotes and labels fail ("Cannot connect to host
    api.parcelhub.example:443 ssl:default [Temporary failure in name resolution]") and the
    ingress answers 502 on all pods; shipment reads (DB, cache) stay fine.  CoreDNS (not a
    component) counts SERVFAIL forwards for that name.  Root: shipping-svc's external
    dependency; nothing in the topology to fix, drain or kill."""
    b = Bundle(
        "ship-external-dns",
        "2029-11-13T10:00:00Z",
        description="checkout cannot get shipping quotes (502)",
        symptom={"component": "ship-ingress", "route": "/v1/quotes"},
    )
    rng = b.rng
    onset = 21.0

    def down(m: float) -> bool:
        return m >= onset

    ns, ctr = "logistics", "shipping-svc"
    b.component("ship-ingress", "proxy", {"job": "ship-ingress"}, ["shipping-svc"])
    b.component(
        "shipping-svc", "app", {"namespace": ns, "container": ctr}, ["ship-db", "ship-cache"]
    )
    b.component("ship-db", "mysql", {"job": "ship-db"})
    b.component("ship-cache", "redis", {"job": "ship-cache"})
    pods = [
        Pod(
            f"10.140.{2 + i}.{17 + 5 * i}:8080",
            f"shipping-svc-7a8b9c0d1-{s}",
            f"10.140.0.{40 + i}:10250",
        )
        for i, s in enumerate(("b7kx", "c8ly", "d9mz"))
    ]
    routes = [
        Route("POST", "/v1/quotes", "/v1/quotes", 0.45, 0.35),
        Route("POST", "/v1/labels", "/v1/labels", 0.1, 0.6),
        Route("GET", "/v1/shipments/{n}", "/v1/shipments/{id}", 0.45, 0.012),
    ]
    pool = client_pool(b, ["10.140.100.", "10.140.101.", "10.140.102."], 50)
    site = Site(b, pods, routes, pool)
    carrier: dict[int, list[tuple[float, str]]] = {i: [] for i in range(len(pods))}

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method != "POST":
            return
        if not down(m):
            carrier[i].append((e.t, "ok"))
            return
        carrier[i].append((e.t, "dns_error"))
        fail(e, 502, 5.0 + rng.uniform(0.01, 0.08), size=120)
        site.say(
            e.t + 5.0,
            i,
            py_log(
                b,
                e.t + 5.0,
                "ERROR",
                "shipping.carriers.parcelhub",
                f"{'quote' if 'quotes' in e.path else 'label'} request failed: aiohttp.client_exceptions.ClientConnectorError: Cannot connect to host api.parcelhub.example:443 ssl:default [Temporary failure in name resolution]",
            ),
        )

    site.run(
        rate=lambda m: 8.0,
        outcome=outcome,
        kind="ingress",
        labels={"job": "ship-ingress", "instance": "10.140.0.9:10254"},
        cluster="logistics-shipping-svc-8080",
        agents=("checkout-svc/6.1 aiohttp/3.11", "warehouse-ui/2029.11"),
    )
    site.apps(
        {"job": "shipping-svc", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        go=False,
        mem=lambda m, i: 150e6,
    )
    for i, pod in enumerate(pods):
        for result in ("ok", "dns_error"):
            b.counter_steps(
                "carrier_requests_total",
                {
                    "job": "shipping-svc",
                    "namespace": ns,
                    "container": ctr,
                    "instance": pod.addr,
                    "pod": pod.pod,
                    "carrier": "parcelhub",
                    "result": result,
                },
                [t for t, r in carrier[i] if r == result],
            )
    mysqld_exporter(
        b,
        {"job": "ship-db", "instance": "10.140.30.4:9104"},
        qps=lambda m: 220,
        connected=lambda m: 24,
        running=lambda m: 2,
        version="8.0.40",
    )
    redis_exporter(
        b,
        {"job": "ship-cache", "instance": "10.140.30.8:9121"},
        ops=lambda m: 900,
        used=lambda m: 2.1e8,
        maxmemory=1e9,
        clients=lambda m: 30,
    )
    dns = {"job": "coredns", "instance": "10.140.0.53:9153", "server": "dns://:53", "zone": "."}
    b.counter(
        "coredns_dns_requests_total",
        {**dns, "proto": "udp", "type": "A", "family": "1"},
        lambda m: 140 + (30 if down(m) else 0),
        start=9_100_220,
    )
    for rcode, fn in (
        ("NOERROR", lambda m: 130.0),
        ("NXDOMAIN", lambda m: 9.0),
        ("SERVFAIL", lambda m: 0.01 if not down(m) else 22.0),
    ):
        b.counter(
            "coredns_dns_responses_total",
            {**dns, "rcode": rcode},
            fn,
            start=8_000_000 if rcode == "NOERROR" else 41_000,
        )
    t = b.t(onset + 0.05)
    cl = {"job": "coredns", "instance": "10.140.0.53:9153", "stream": "stdout"}
    while t < b.t(60):
        b.log(
            t,
            cl,
            f"[ERROR] plugin/errors: 2 api.parcelhub.example. A: read udp 10.140.0.53:{rng.randint(30000, 60000)}->10.0.0.2:53: i/o timeout",
        )
        t += rng.uniform(2, 9)
    return b


def wiki_noisy_quiet_day() -> Bundle:  # size: one linear scenario script
    """A normal afternoon for the team wiki (Java, 4 pods): G1 young pauses of 150-250 ms
    logged every few seconds, a mixed collection every few minutes, a plugin that warns
    about a deprecated API every minute, Tomcat rejecting scanners' garbage requests
    ("Invalid character found in method name"), one pod scaled in at 13:22 and a new one
    joining at 13:41 (startup lines), the DB's slow log with two report queries.  Users:
    latency and errors at their baseline all hour.  Noisy but healthy: no incident."""
    b = Bundle(
        "wiki-noisy-quiet-day",
        "2029-12-04T13:00:00Z",
        description="alert: wiki-app WARN log rate > 30/min",
        symptom={"component": "wiki-edge"},
    )
    rng = b.rng
    ns, ctr = "collab", "wiki"
    b.component("wiki-edge", "proxy", {"job": "wiki-edge"}, ["wiki-app"])
    b.component("wiki-app", "app", {"namespace": ns, "container": ctr}, ["wiki-db"])
    b.component("wiki-db", "mysql", {"job": "wiki-db"})
    names = ("p3q", "r4s", "t5u", "v6w", "x7y")
    spans = [(0.0, 99.0), (0.0, 99.0), (0.0, 22.0), (0.0, 99.0), (41.0, 99.0)]
    pods = [
        Pod(
            f"10.33.{1 + i}.{100 + i}:8090",
            f"wiki-app-5d6e7f8a9-{names[i]}",
            f"10.33.0.{7 + i}:10250",
            present=within(*s) if s != (0.0, 99.0) else None,
        )
        for i, s in enumerate(spans)
    ]
    routes = [
        Route("GET", "/display/ENG/Page{n}", "/display/{space}/{page}", 0.6, 0.12, 64000),
        Route("GET", "/rest/api/content/{n}", "/rest/api/content/{id}", 0.3, 0.05),
        Route("POST", "/rest/api/content/{n}/comment", "/rest/api/content/{id}/comment", 0.1, 0.09),
    ]
    pool = client_pool(b, ["10.33.200.", "10.33.201.", "10.33.202.", "10.33.203."], 400)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        r = rng.random()
        if r < 0.004:
            fail(e, 404, 0.01, size=900)
        elif r < 0.0055:
            e.status, e.upstream_status = 499, "-"

    site.run(
        rate=lambda m: 7.0,
        outcome=outcome,
        kind="nginx",
        labels={"job": "wiki-edge", "instance": "10.33.0.4:9113"},
        clients=pick_clients(b, pool),
    )
    base = {"job": "wiki-app", "namespace": ns, "container": ctr}
    java_side(
        b,
        pods,
        site.events,
        base,
        app="wiki",
        heap=lambda m, i: 2.4e9 + 6e8 * ((m * 7 + i) % 5) / 5,
        gc_rate=lambda m, i: 0.2,
        gc_pause=lambda m, i: 0.19,
        namespace=ns,
        container=ctr,
    )
    for i in range(len(pods)):
        t = b.t(spans[i][0]) + rng.uniform(1, 9)
        gc = 88_000 + 1000 * i
        while t < b.t(min(60.0, spans[i][1])):
            gc += 1
            pause = rng.uniform(150, 260)
            site.say(
                t,
                i,
                f"[{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.')}{int(t * 1000) % 1000:03d}+0000][info][gc] GC({gc}) Pause Young (Normal) (G1 Evacuation Pause) {rng.randint(2300, 3100)}M->{rng.randint(380, 520)}M(4096M) {pause:.3f}ms",
            )
            if rng.random() < 0.03:
                site.say(
                    t + 2,
                    i,
                    f"[{b.dt(t + 2).strftime('%Y-%m-%dT%H:%M:%S.')}{int(t * 1000 + 2000) % 1000:03d}+0000][info][gc] GC({gc + 1}) Pause Young (Mixed) (G1 Evacuation Pause) 1980M->1210M(4096M) 612.881ms",
                )
                gc += 1
            if rng.random() < 0.14:
                site.say(
                    t + 1,
                    i,
                    spring(
                        b,
                        t + 1,
                        "WARN",
                        "http-nio-8090-exec-" + str(rng.randint(1, 48)),
                        "o.a.coyote.http11.Http11Processor",
                        "Error parsing HTTP request header\n Note: further occurrences of HTTP request parsing errors will be logged at DEBUG level.\njava.lang.IllegalArgumentException: Invalid character found in method name [0x160x030x010x00...]. HTTP method names must be tokens",
                    ),
                )
            t += rng.uniform(5, 11)
        t = b.t(spans[i][0]) + rng.uniform(5, 60)
        while t < b.t(min(60.0, spans[i][1])):
            site.say(
                t,
                i,
                spring(
                    b,
                    t,
                    "WARN",
                    "plugin-scheduler-2",
                    "c.w.plugins.PluginManager",
                    "Plugin 'legacy-macros' (2.4.1) uses deprecated API ContentRenderer#render(String); it will stop working in wiki 10",
                ),
            )
            t += rng.uniform(55, 65)
    t = b.t(22.0) - 1
    site.say(
        t,
        2,
        spring(
            b,
            t,
            "INFO",
            "SpringApplicationShutdownHook",
            "o.s.b.w.e.tomcat.GracefulShutdown",
            "Commencing graceful shutdown. Waiting for active requests to complete",
        ),
    )
    t = b.t(41.0) + 0.5
    site.say(
        t,
        4,
        spring(
            b,
            t,
            "INFO",
            "main",
            "c.w.WikiApplication",
            "Started WikiApplication in 38.412 seconds (process running for 40.1)",
        ),
    )
    log_each(b, site.logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    db = {"job": "wiki-db", "instance": "10.33.20.2:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 480,
        connected=lambda m: 60,
        running=lambda m: 3,
        slow=lambda m: 0.001,
        version="8.0.40",
    )
    sl = {"job": "wiki-db", "instance": "10.33.20.2:9104", "log": "slow"}
    for mm, qt in ((17.2, 3.9), (47.6, 4.4)):
        t = b.t(mm)
        b.log(
            t,
            sl,
            mysql_slow(
                b,
                t,
                user="wiki_ro",
                host="10.33.50.8",
                thread=7_211_004,
                qt=qt,
                lt=0.0002,
                sent=1204,
                examined=2_880_331,
                sql="SELECT space_key, COUNT(*) FROM content WHERE last_modified > NOW() - INTERVAL 30 DAY GROUP BY space_key",
                db="wiki",
            ),
        )
    node_exporter(
        b,
        {"job": "wiki-db", "instance": "10.33.20.2:9100"},
        busy=lambda m: 0.14,
        avail=lambda m: 9e9,
        mem_total=32e9,
    )
    return b


def media_ingress_reload_blip() -> Bundle:  # size: one linear scenario script
    """17:31:40 another team creates an Ingress; ingress-nginx reloads its configuration.
    For ~75 s, keep-alive connections to the media-api pods that the old workers still
    hold are closed under requests: ~7 % of requests get 502 ("upstream prematurely closed
    connection"), then 28 minutes of normal traffic.  A short blip that healed by itself:
    no incident."""
    b = Bundle(
        "media-ingress-reload-blip",
        "2030-01-08T17:00:00Z",
        description="alert: media 5xx > 2 % for 1 min",
        symptom={"component": "media-ingress"},
    )
    rng = b.rng
    blip = (31 + 40 / 60, 32 + 55 / 60)
    ns, ctr = "media", "media-api"
    b.component("media-ingress", "proxy", {"job": "media-ingress"}, ["media-api"])
    b.component("media-api", "app", {"namespace": ns, "container": ctr}, ["media-cache"])
    b.component("media-cache", "redis", {"job": "media-cache"})
    pods = [
        Pod(f"10.188.{6 + i}.{30 + i}:8080", f"media-api-9c8b7a6f5-{s}", f"10.188.0.{21 + i}:10250")
        for i, s in enumerate(("lk1", "mj2", "nh3", "pg4"))
    ]
    routes = [
        Route("GET", "/v1/assets/{n}/meta", "/v1/assets/{id}/meta", 0.7, 0.01),
        Route("GET", "/v1/assets/{n}/renditions", "/v1/assets/{id}/renditions", 0.3, 0.02),
    ]
    pool = client_pool(b, ["2a02:1210:6c::", "85.195.220.", "178.197.228.", "83.76.14."], 700)
    site = Site(b, pods, routes, pool)
    ing = {"job": "media-ingress", "instance": "10.188.0.60:10254", "stream": "stderr"}

    def outcome(e: Event, m: float, i: int) -> None:
        if blip[0] <= m < blip[1] and rng.random() < 0.07:
            fail(e, 502, rng.uniform(0.001, 0.02), size=150)
            e.extra["urt"] = "0.001"
            b.log(
                e.t,
                ing,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "upstream prematurely closed connection while reading response header from upstream",
                    pid=rng.choice((88, 89)),
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "media.example.ch", pods[i].addr),
                ),
            )

    site.run(
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="ingress",
        labels={"job": "media-ingress", "instance": "10.188.0.60:10254"},
        cluster="media-media-api-8080",
    )
    site.apps(
        {"job": "media-api", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        blip=0,
    )
    t = b.t(blip[0]) - 0.9
    for dt_, msg in (
        (0.0, 'controller.go:190] "Configuration changes detected, backend reload required"'),
        (0.41, 'controller.go:210] "Backend successfully reloaded"'),
        (
            0.42,
            'event.go:377] "Event occurred" object="ingress-nginx/ingress-nginx-controller-6b9c7d8e5-w2x4z" fieldPath="" kind="Pod" apiVersion="v1" type="Normal" reason="RELOAD" message="NGINX reload triggered due to a change in configuration"',
        ),
    ):
        where, text = msg.split("] ", 1)
        b.log(t + dt_, ing, klog(b, t + dt_, "I", 7, where, text))
    redis_exporter(
        b,
        {"job": "media-cache", "instance": "10.188.40.5:9121"},
        ops=lambda m: 3100,
        used=lambda m: 1.2e9,
        maxmemory=4e9,
        clients=lambda m: 52,
    )
    return b


def orders_two_issues() -> Bundle:  # size: one linear scenario script
    """Two things go wrong in the same hour.  From 10:04 orders-cache (Redis, allkeys-lru)
    is full of a recommendation batch's keys: ~700 evictions/s, hit ratio 0.95 -> 0.72;
    orders-api fetches the missing product snippets from the primary (+8 % questions,
    +3 ms), no errors.  Independently, at 10:26:14 the read replica's SQL thread stops on a
    duplicate key (Error_code 1062 on order_events): Replica_SQL_Running No,
    Seconds_Behind_Master NULL (the exporter series stops), relay log grows.  orders-api
    reads orders from the replica behind a 30 s heartbeat check: from 10:26:45 every order
    read answers 503 "replica stale" on all pods.  The symptom follows the replica only.
    Root: orders-replica (replication stopped); the cache evictions are a separate, harmless
    issue."""
    b = Bundle(
        "orders-two-issues",
        "2030-01-29T10:00:00Z",
        description="order pages fail (503) since ~10:27",
        symptom={"component": "orders-edge", "route": "/v1/orders/{id}"},
    )
    rng = b.rng
    evict, stop, stale = 4.0, 26 + 14 / 60, 26.75
    b.component("orders-edge", "proxy", {"job": "orders-edge"}, ["orders-api"])
    b.component(
        "orders-api", "app", {"job": "orders-api"}, ["orders-db", "orders-replica", "orders-cache"]
    )
    b.component("orders-db", "mysql", {"job": "orders-db"})
    b.component("orders-replica", "mysql", {"job": "orders-replica"})
    b.component("orders-cache", "redis", {"job": "orders-cache"})
    pods = [
        Pod(f"10.52.{10 + i}.{8 + i}:8080", f"orders-api-58c9d7e6f-{s}")
        for i, s in enumerate(("ab12", "cd34", "ef56", "gh78"))
    ]
    routes = [
        Route("GET", "/v1/orders/{n}", "/v1/orders/{id}", 0.5, 0.02),
        Route("GET", "/v1/orders?customer=c{n}", "/v1/orders", 0.15, 0.04),
        Route("POST", "/v1/orders", "/v1/orders", 0.2, 0.06),
        Route("GET", "/v1/products/{n}/snippet", "/v1/products/{id}/snippet", 0.15, 0.004),
    ]
    pool = client_pool(b, ["10.52.100.", "10.52.101.", "10.52.102."], 80)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= evict and "snippet" in e.path:
            e.duration = e.extra["app_dur"] = e.duration + (0.003 if rng.random() < 0.28 else 0.0)
        if m >= stale and e.method == "GET" and "/v1/orders" in e.path:
            fail(e, 503, rng.uniform(0.001, 0.004), size=90)
            lag = int((m - stop) * 60)
            site.say(
                e.t,
                i,
                logrus(
                    b,
                    e.t,
                    "warning",
                    "replica stale, refusing read",
                    replica="10.52.31.6:3306",
                    heartbeat_lag=f"{lag}s",
                    threshold="30s",
                    path=e.path,
                ),
            )

    site.run(
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="nginx",
        labels={"job": "orders-edge", "instance": "10.52.0.3:9113"},
    )
    site.apps({"job": "orders-api"}, {"job": "orders-api", "stream": "stderr"})
    mysqld_exporter(
        b,
        {"job": "orders-db", "instance": "10.52.30.5:9104"},
        qps=lambda m: 1500 * (1.08 if m >= evict else 1.0),
        connected=lambda m: 64,
        running=lambda m: 4,
        version="8.0.41",
    )
    rep = {"job": "orders-replica", "instance": "10.52.31.6:9104"}
    mysqld_exporter(
        b,
        rep,
        qps=lambda m: 1100 if m < stale else 90,
        connected=lambda m: 48,
        running=lambda m: 3 if m < stop else 1,
        version="8.0.41",
    )
    sl = {
        **rep,
        "channel_name": "",
        "connection_name": "",
        "master_host": "10.52.30.5",
        "master_uuid": "7b1d0e62-3c4f-11ef-8a1e-0242ac340a05",
    }
    b.gauge("mysql_slave_status_seconds_behind_master", sl, lambda m: 0 if m < stop else None)
    b.gauge("mysql_slave_status_slave_io_running", sl, lambda m: 1)
    b.gauge("mysql_slave_status_slave_sql_running", sl, lambda m: 1 if m < stop else 0)
    b.gauge("mysql_slave_status_last_sql_errno", sl, lambda m: 0 if m < stop else 1062)
    b.gauge("mysql_slave_status_last_errno", sl, lambda m: 0 if m < stop else 1062)
    b.gauge(
        "mysql_slave_status_relay_log_space",
        sl,
        lambda m: int(2.3e6 + max(0.0, m - stop) * 60 * 1.4e5),
    )
    el = {"job": "orders-replica", "instance": "10.52.31.6:9104", "log": "error"}
    t = b.t(stop)
    pos = "binlog.004211, end_log_pos 88123311"
    for dt_, prio, code, msg in (
        (
            0.0,
            "ERROR",
            "MY-010584",
            f"Replica SQL for channel '': Worker 1 failed executing transaction 'ANONYMOUS' at source log {pos}; Could not execute Write_rows event on table orders.order_events; Duplicate entry '88123412' for key 'order_events.PRIMARY', Error_code: 1062; handler error HA_ERR_FOUND_DUPP_KEY; the event's source log {pos}, Error_code: MY-001062",
        ),
        (
            0.002,
            "Warning",
            "MY-010584",
            "Replica SQL for channel '': ... The replica coordinator and worker threads are stopped, possibly leaving data in inconsistent state. A restart should restore consistency automatically, although using non-transactional storage for data or info tables or DDL queries could lead to problems. In such cases you have to examine your data (see documentation for details). Error_code: MY-001756",
        ),
        (
            0.003,
            "ERROR",
            "MY-010586",
            "Error running query, replica SQL thread aborted. Fix the problem, and restart the replica SQL thread with \"START REPLICA\". We stopped at log 'binlog.004211' position 88122877",
        ),
    ):
        b.log(t + dt_, el, mysql8_err(b, t + dt_, 14, prio, code, msg))
    rl = {"job": "orders-cache", "instance": "10.52.32.7:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 4200,
        used=lambda m: min(3.0e9, ramp(m, 0, evict, 2.86e9, 3.0e9)) - rng.uniform(0, 1e6),
        maxmemory=3e9,
        clients=lambda m: 70,
        evictions=lambda m: 0.0 if m < evict else 700 * rng.uniform(0.8, 1.2),
        hits=lambda m: 4000 if m < evict else 3020,
        misses=lambda m: 210 if m < evict else 1180,
        cpu=lambda m: 0.12 if m < evict else 0.2,
    )
    b.gauge("redis_config_maxmemory", rl, lambda m: 3_000_000_000)
    return b
