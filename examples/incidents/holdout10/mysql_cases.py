# size: three linear scenario scripts of one family, each telling one story
"""MySQL and MariaDB scenarios of round 10 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import mariadb_err, mysql8_err, nginx_json_line, zap
from examples.incidents.holdout5.common import ecs, within
from examples.incidents.holdout9.common import processlist
from examples.incidents.holdout10.common import every, finish, log4j2, pods, tier


def listings_mysql_drop_table_ahi() -> Bundle:  # size: one linear scenario script
    """At 02:14 the weekly cleanup drops a 60 GB staging table whose pages fill the
    adaptive hash index: the DROP walks the buffer pool holding the AHI latch; every
    SELECT on listings waits on it (long semaphore waits at btr0sea), threads_running
    4 -> 180, ~40 % of listing pages 504 for twelve minutes.  Root: listings-db (a DROP
    TABLE stalling InnoDB through the adaptive hash index)."""
    b = Bundle(
        "listings-mysql-drop-table-ahi",
        "2036-08-31T01:58:00Z",
        description="listing pages timing out overnight",
        symptom={"component": "listings-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset, end = 16.0, 28.5
    bad = within(onset, end)
    ns = "marketplace"
    b.component("listings-edge", "proxy", {"job": "listings-nginx"}, ["listings-api"])
    b.component("listings-api", "app", {"namespace": ns, "app": "listings-api"}, ["listings-db"])
    b.component("listings-db", "other", {"job": "mysql", "instance": "10.64.30.5:9104"})
    ps = pods("10.64.{k}.19:8080", "listings-api-7d9f8", ("g2x", "h7k", "j3m"), "10.64.1.{k}:10250")
    routes = [
        Route("GET", "/listing/{n}", "/listing/{id}", 0.8, 0.03, 18000),
        Route("GET", "/api/search?q=bike", "/api/search", 0.2, 0.09, 4000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m):
            if rng.random() < 0.4:
                fail(e, 504, 30.0, reached=False, size=167)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(2, 20)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["81.2.69.", "2001:67c:2e8:", "185.53.178.", "95.91.4."],
        clients=260,
        outcome=outcome,
        kind="nginx",
        edge={"job": "listings-nginx", "instance": "10.64.0.4:9113"},
        rate=lambda m: 5.0,
        fmt=lambda e: nginx_json_line(b, e, "www.listings.example"),
    )
    for e in site.events:
        if e.status == 504 and rng.random() < 0.35:
            site.say(
                e.t,
                e.extra["pod"],
                log4j2(
                    b,
                    e.t,
                    "ERROR",
                    f"http-nio-8080-exec-{rng.randint(1, 200)}",
                    "c.l.a.ListingController",
                    "com.mysql.cj.jdbc.exceptions.MySQLTimeoutException: Statement cancelled "
                    "due to timeout or client request",
                ),
            )
    for t in every(b, 0, b.minutes, 30, 80):
        site.say(
            t,
            rng.randrange(3),
            log4j2(b, t, "INFO", "scheduling-1", "c.l.a.SitemapJob", "sitemap chunk written"),
        )
    finish(site, ns, "listings-api", "api", go=False)
    dbl = {"job": "mysql", "instance": "10.64.30.5:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 300.0 if bad(m) else 2400.0,
        connected=lambda m: 240.0 if bad(m) else 70.0,
        running=lambda m: 180.0 if bad(m) else 4.0,
        sending=lambda m: 6.0,
    )
    processlist(
        b,
        dbl,
        {
            ("Query", "starting"): lambda m: 60.0 if bad(m) else 0.0,
            ("Query", "checking permissions"): lambda m: 1.0 if bad(m) else 0.0,
            ("Query", "System lock"): lambda m: 1.0 if bad(m) else 0.0,
        },
    )
    b.untyped(
        "mysql_global_status_innodb_adaptive_hash_searches",
        dbl,
        lambda m: 200.0 if bad(m) else 9000.0,
        8.2e11,
    )
    b.gauge("mysql_global_variables_innodb_adaptive_hash_index", dbl, lambda m: 1)
    b.gauge(
        "mysql_info_schema_innodb_metrics_server_innodb_rwlock_sx_os_waits",
        dbl,
        lambda m: 900 if bad(m) else 3,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.64.30.5:9100"},
        busy=lambda m: 0.2 if bad(m) else 0.3,
        avail=lambda m: 20e9,
        mem_total=128e9,
        iowait=lambda m: 0.06 if bad(m) else 0.01,
    )
    ml = {"job": "mysql", "instance": "10.64.30.5:9104"}
    t = b.t(onset - 0.1)
    b.log(
        t,
        ml,
        mysql8_err(
            b,
            t,
            1184,
            "Note",
            "MY-010914",
            "Aborted connection 1184 to db: 'ops' user: 'cleanup' host: '10.64.40.2' (Got timeout reading communication packets)",
        ),
    )
    for t in every(b, onset + 4, end, 20, 40):
        thread = rng.choice((140225101, 140225303, 140226011))
        b.log(
            t,
            ml,
            mysql8_err(
                b,
                t,
                0,
                "Warning",
                "MY-012985",
                f"[InnoDB] A long semaphore wait: --Thread {thread} has waited at btr0sea.ic line 92 "
                f"for {int(t - b.t(onset))} seconds the semaphore: S-lock on RW-latch at "
                "0x7f3a1c0291b8 created in file btr0sea.cc line 202",
            ),
        )
    t = b.t(end - 0.05)
    b.log(
        t,
        ml,
        mysql8_err(
            b,
            t,
            9,
            "Note",
            "MY-000000",
            "[InnoDB] DROP TABLE `staging`.`listing_import_0824` completed",
        ),
    )
    return b


def wallet_mysql_ebs_burst_credits() -> Bundle:  # size: one linear scenario script
    """The wallet database's gp2 volume spends its I/O burst credits on a day of heavy
    writes plus a morning backup read; at 14:21 BurstBalance reaches 0 and the volume falls
    to its 300 IOPS baseline: fsync latency 1 -> 60 ms, the page cleaner cannot keep up,
    commits queue (threads_running 3 -> 70), ~25 % of wallet transfers 503 at Envoy.
    Root: wallet-db (its disk throttled to baseline IOPS)."""
    from examples.incidents.holdout4.common import envoy_json_line

    b = Bundle(
        "wallet-mysql-ebs-burst-credits",
        "2037-03-03T14:00:00Z",
        description="wallet transfers slow and failing since ~14:20",
        symptom={"component": "wallet-gw"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    onset = 21.0
    bad = within(onset, 99)
    ns = "wallet"
    b.component("wallet-gw", "proxy", {"job": "envoy-wallet"}, ["wallet-api"])
    b.component("wallet-api", "app", {"namespace": ns, "app": "wallet-api"}, ["wallet-db"])
    b.component("wallet-db", "other", {"job": "mysqld", "instance": "wallet-db-1.internal:9104"})
    ps = pods("100.96.{k}.12:8080", "wallet-api-84bd6", ("r5t", "s6u", "t7v"), "100.96.0.{k}:10250")
    routes = [
        Route("POST", "/v1/transfers", "/v1/transfers", 0.5, 0.05, 300),
        Route("GET", "/v1/balances/{n}", "/v1/balances/{id}", 0.5, 0.008, 200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and e.method == "POST":
            if rng.random() < 0.45:
                fail(e, 503, 5.0, size=91)
                e.extra["flags"] = "UT"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.8, 4.0)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a01:4b00:", "100.64.12.", "31.94.20."],
        clients=300,
        outcome=outcome,
        kind="envoy",
        edge={"job": "envoy-wallet", "instance": "100.96.0.8:9901"},
        rate=lambda m: 6.0,
        fmt=lambda e: envoy_json_line(b, e, "wallet_api", "wallet.example.com"),
        cluster="wallet_api",
    )
    for e in site.events:
        if e.method == "POST" and bad(b.m(e.t)) and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "warn",
                    "store/tx.go:88",
                    "slow commit",
                    elapsed=f"{rng.uniform(0.8, 4.5):.2f}s",
                ),
            )
    finish(site, ns, "wallet-api", "api")
    dbl = {"job": "mysqld", "instance": "wallet-db-1.internal:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 700.0 if bad(m) else 1300.0,
        connected=lambda m: 150.0 if bad(m) else 60.0,
        running=lambda m: 70.0 if bad(m) else 3.0,
        updating=lambda m: 40.0 if bad(m) else 1.0,
    )
    processlist(
        b, dbl, {("Query", "waiting for handler commit"): lambda m: 55.0 if bad(m) else 1.0}
    )
    b.untyped(
        "mysql_global_status_innodb_data_fsyncs", dbl, lambda m: 300.0 if bad(m) else 1900.0, 4.4e9
    )
    b.untyped(
        "mysql_global_status_innodb_os_log_pending_fsyncs", dbl, lambda m: 1.0 if bad(m) else 0.0, 0
    )
    b.gauge(
        "mysql_global_status_innodb_buffer_pool_pages_dirty",
        dbl,
        lambda m: 310_000 if bad(m) else 22_000,
    )
    nl = {"job": "node", "instance": "wallet-db-1.internal:9100"}
    node_exporter(
        b, nl, busy=lambda m: 0.18, avail=lambda m: 30e9, iowait=lambda m: 0.42 if bad(m) else 0.03
    )
    dl = {**nl, "device": "nvme1n1"}
    b.counter("node_disk_io_time_seconds_total", dl, lambda m: 1.0 if bad(m) else 0.35, start=8.1e6)
    b.counter(
        "node_disk_writes_completed_total", dl, lambda m: 295.0 if bad(m) else 2100.0, start=3.1e10
    )
    b.counter(
        "node_disk_write_time_seconds_total", dl, lambda m: 17.0 if bad(m) else 1.1, start=9.9e6
    )
    cw = {
        "job": "cloudwatch",
        "instance": "yace:5000",
        "dimension_VolumeId": "vol-0a1f93c2e7d41b8e6",
    }

    def burst(m: float) -> float:
        return max(0.0, 22.0 - m * 22.0 / onset)

    b.gauge("aws_ebs_burst_balance_average", cw, burst)
    b.gauge("aws_ebs_volume_queue_length_average", cw, lambda m: 38.0 if bad(m) else 1.2)
    b.gauge("aws_ebs_volume_write_ops_sum", cw, lambda m: 18000 if bad(m) else 120000)
    ml = {"job": "mysqld", "instance": "wallet-db-1.internal:9104"}
    for t in every(b, onset + 1, b.minutes, 40, 90):
        b.log(
            t,
            ml,
            mysql8_err(
                b,
                t,
                0,
                "Note",
                "MY-011953",
                f"[InnoDB] Page cleaner took {rng.randint(3800, 9900)}ms to flush "
                f"{rng.randint(120, 300)} and evict 0 pages",
            ),
        )
    return b


def helpdesk_mariadb_threadpool_max() -> Bundle:  # size: one linear scenario script
    """MariaDB 10.11 runs pool-of-threads; a tuning change last week set
    thread_pool_max_threads to 64.  At Monday's 09:00 peak the agents' ticket views hold
    row locks for a few hundred ms and every pool thread is busy: new queries wait in the
    pool's queue, MariaDB logs 'Threadpool could not create additional thread', the app's
    pool times out, ~35 % of ticket pages 500.  Root: helpdesk-db (thread pool ceiling)."""
    b = Bundle(
        "helpdesk-mariadb-threadpool-max",
        "2036-11-10T08:45:00Z",
        description="helpdesk pages failing since 9am",
        symptom={"component": "helpdesk-ingress"},
        step=20,
        minutes=40,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "support"
    b.component(
        "helpdesk-ingress",
        "proxy",
        {"job": "ingress-nginx", "namespace": "ingress"},
        ["helpdesk-web"],
    )
    b.component("helpdesk-web", "app", {"namespace": ns, "app": "helpdesk-web"}, ["helpdesk-db"])
    b.component("helpdesk-db", "other", {"job": "mariadb", "instance": "helpdesk-db:9104"})
    ps = pods(
        "10.233.{k}.40:8080", "helpdesk-web-5c8d7", ("vb", "wc", "xd", "ye"), "10.233.64.{k}:10250"
    )
    routes = [
        Route("GET", "/tickets/{n}", "/tickets/{id}", 0.7, 0.05, 22000),
        Route("POST", "/tickets/{n}/reply", "/tickets/{id}/reply", 0.3, 0.09, 600),
    ]

    def ramp(m: float) -> float:
        return 4.0 + min(1.0, max(0.0, (m - 8) / 8)) * 6.0

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.35:
            fail(e, 500, 10.0 + rng.uniform(0, 0.3), size=310)
            e.extra["pool"] = True

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.150.", "10.151."],
        clients=420,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "namespace": "ingress", "instance": "10.233.0.5:10254"},
        rate=ramp,
        cluster="support-helpdesk-web-8080",
    )
    for e in site.events:
        if e.extra.get("pool") and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "ERROR",
                    "com.zaxxer.hikari.pool.HikariPool",
                    "HikariPool-1 - Connection is not available, request timed out after 10000ms.",
                ),
            )
    finish(site, ns, "helpdesk-web", "web", go=False)
    dbl = {"job": "mariadb", "instance": "helpdesk-db:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 900.0 if bad(m) else 200.0 + ramp(m) * 90,
        connected=lambda m: 260.0 if bad(m) else 90.0,
        running=lambda m: 64.0 if bad(m) else 5.0,
        lock_waits=lambda m: 2.5 if bad(m) else 0.1,
        version="10.11.8-MariaDB",
    )
    b.gauge("mysql_global_variables_thread_pool_max_threads", dbl, lambda m: 64)
    b.gauge("mysql_global_variables_thread_pool_size", dbl, lambda m: 8)
    b.gauge(
        "mysql_global_status_threadpool_threads",
        dbl,
        lambda m: 64 if bad(m) else rng.randint(9, 14),
    )
    b.gauge(
        "mysql_global_status_threadpool_idle_threads",
        dbl,
        lambda m: 0 if bad(m) else rng.randint(4, 8),
    )
    b.gauge(
        "mysql_global_variables_thread_handling", {**dbl, "value": "pool-of-threads"}, lambda m: 1
    )
    node_exporter(
        b,
        {"job": "node", "instance": "helpdesk-db:9100"},
        busy=lambda m: 0.31,
        avail=lambda m: 12e9,
    )
    ml = {"job": "mariadb", "instance": "helpdesk-db:9104"}
    for t in every(b, onset, b.minutes, 15, 45):
        b.log(
            t,
            ml,
            mariadb_err(
                b,
                t,
                0,
                "ERROR",
                "Threadpool could not create additional thread to handle queries, because the "
                "number of allowed threads was reached. Increasing 'thread_pool_max_threads' "
                "parameter can help in this situation.",
            ),
        )
    return b
