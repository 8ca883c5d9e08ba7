# size: scenario builders are long linear scripts, one story each (as in rounds 3-5)
"""Databases: a prepared-statement leak, Galera flow control, semi-sync waiting on a dead
replica, the MariaDB query-cache mutex, PgBouncer behind a slow plan, noisy standby
conflicts."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import (
    mysqld_exporter,
    node_exporter,
    postgres_exporter,
)
from examples.incidents.holdout3.kit import Bundle, Event, lognormal, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    jvm,
    mariadb_err,
    mysql8_err,
    mysql_slow,
    nginx_json_line,
    zap,
)
from examples.incidents.holdout5.common import nginx_ctx, nginx_error, py_log, within
from examples.incidents.holdout6.common import (
    Pod,
    Route,
    every,
    galera_status,
    local_plain,
    pg_local,
    pgbouncer_exporter,
    structlog,
    web,
)

ERR_1461 = (
    "Error 1461 (42000): Can't create more than max_prepared_stmt_count statements "
    "(current value: 16382)"
)


def ingest_prepared_stmt_leak() -> Bundle:  # size: one linear scenario script
    """ingest-worker 4.2.0 (rolled out at 13:02) prepares a server-side statement per batch
    and never closes it.  ``Prepared_stmt_count`` on events-db climbs from ~300 to the
    limit 16382 by 13:19; from then every new PREPARE fails with MySQL error 1461, for the
    worker and for events-api alike (Go driver without interpolateParams: every query with
    arguments is prepared).  Sources: go-sql-driver/mysql issue #701 ("Resource leakage:
    Error 1461: Can't create more than max_prepared_stmt_count statements"), go-gorm/gorm
    issue #3684 (Com_stmt_prepare far above Com_stmt_close after an upgrade)."""
    b = Bundle(
        "ingest-prepared-stmt-leak",
        "2031-02-04T13:00:00Z",
        description="events API returns 500 on POST /v1/events",
        symptom={"component": "api-gw"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    full = 19.0
    b.component("api-gw", "proxy", {"job": "api-gw"}, ["events-api"])
    b.component("events-api", "app", {"job": "events-api"}, ["events-db"])
    b.component("ingest-worker", "app", {"job": "ingest-worker"}, ["events-db"])
    b.component("events-db", "mysql", {"job": "events-db"})
    pods = [Pod(f"172.22.{4 + i}.{17 + 9 * i}:7070") for i in range(3)]
    routes = [
        Route("POST", "/v1/events", "/v1/events", 0.6, 0.012),
        Route("GET", "/v1/events/{n}", "/v1/events/:id", 0.4, 0.006),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and rng.random() < 0.93:
            fail(e, 500, lognormal(b, 0.004), size=88)
            e.extra["err"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["172.22.90.", "172.22.91."],
        clients=40,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "api-gw", "instance": "172.22.1.5:9113"},
        fmt=lambda e: nginx_json_line(b, e, "events.internal"),
        agents=("events-sdk-go/1.9.2", "events-sdk-py/0.14.0"),
    )
    for e in site.events:
        if e.extra.get("err") and rng.random() < 0.35:
            site.say(
                e.t,
                e.extra["pod"],
                zap(b, e.t, "error", "store/mysql.go:142", "insert event", error=ERR_1461),
            )
    site.apps({"job": "events-api"}, {"job": "events-api", "stream": "stderr"})

    def count(m: float) -> float:
        return 16382 if m >= full else int(ramp(m, 2.0, full, 310, 16382))

    db = {"job": "events-db", "instance": "172.22.0.40:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 95.0,
        connected=lambda m: 46,
        running=lambda m: 3,
        version="8.0.39",
        max_connections=600,
    )
    b.gauge("mysql_global_status_prepared_stmt_count", db, count)
    b.gauge("mysql_global_variables_max_prepared_stmt_count", db, lambda m: 16382)
    b.untyped(
        "mysql_global_status_commands_total",
        {**db, "command": "stmt_prepare"},
        lambda m: 30.0 if m < full else 34.0,
        4.1e8,
    )
    b.untyped(
        "mysql_global_status_commands_total",
        {**db, "command": "stmt_close"},
        lambda m: 30.0 - (14.5 if 2.0 <= m < full else 0.0),
        4.1e8,
    )
    node_exporter(
        b,
        {"job": "events-db-node", "instance": "172.22.0.40:9100"},
        busy=lambda m: 0.2,
        avail=lambda m: 40e9,
    )
    b.component("events-db-node", "other", {"job": "events-db-node"})
    # the worker: one pod replaced by 4.2.0 at 13:02
    old, new = "172.22.7.31:8081", "172.22.7.58:8081"
    for addr, up in ((old, within(0, 2.0)), (new, within(2.0, 99))):
        wl = {"job": "ingest-worker", "instance": addr}
        b.runtime(wl, cpu=lambda m: 0.6, rss=lambda m: 900e6, present=up, go=False)
        jvm(
            b,
            wl,
            heap=lambda m: 600e6,
            heap_max=2e9,
            gc_rate=lambda m: 0.5,
            gc_pause=lambda m: 0.01,
            present=up,
        )
        b.counter(
            "ingest_batches_total",
            {**wl, "result": "ok"},
            lambda m, up=up: (4.0 if m < full else 0.2) if up(m) else None,
        )
        b.counter(
            "ingest_batches_total",
            {**wl, "result": "error"},
            lambda m, up=up: (3.8 if m >= full else 0.0) if up(m) else None,
        )
    wlog = {"job": "ingest-worker", "instance": new, "stream": "stdout"}
    b.log(
        b.t(2.05),
        wlog,
        f"{local_plain(b, b.t(2.05), 1)} INFO  [main] c.e.ingest.Main - "
        "Started IngestWorker 4.2.0 (batch=500, useServerPrepStmts=true)",
    )
    for t in every(b, full, 45, 2, 9):
        b.log(
            t,
            wlog,
            f"{local_plain(b, t, 1)} ERROR [batch-{rng.randint(1, 8)}] "
            "c.e.ingest.BatchWriter - batch failed: java.sql.SQLException: Can't create more "
            "than max_prepared_stmt_count statements (current value: 16382)",
        )
    return b


def catalog_galera_flow_control() -> Bundle:  # size: one linear scenario script
    """A three-node MariaDB Galera cluster; from 10:12 node galera-3's disk slows (a RAID
    rebuild: iowait 60 %).  Its receive queue grows past gcs.fc_limit and it sends flow
    control: the whole cluster pauses (``wsrep_flow_control_paused`` 0.85 on every node),
    every commit on every node waits.  All catalog-api pods slow down and time out writes.
    Root: the slow node (galera-3).  Killing queries would kill waiting victims.
    Sources: MariaDB/skills issue #18 ("Flow control: one slow node stalls the entire
    cluster"), schema.ai insight "Galera Flow Control Pause Events" (the node with a deep
    recv queue that sends flow control is the bottleneck)."""
    b = Bundle(
        "catalog-galera-flow-control",
        "2031-03-11T10:00:00Z",
        description="catalog writes time out",
        symptom={"component": "catalog-edge"},
        minutes=40,
    )
    rng = b.rng
    onset = 12.0
    slow = within(onset, 99)
    b.component("catalog-edge", "proxy", {"job": "catalog-edge"}, ["catalog-api"])
    b.component("catalog-api", "app", {"job": "catalog-api"}, ["catalog-galera"])
    b.component("catalog-galera", "mysql", {"service": "catalog-galera"})
    pods = [
        Pod(f"10.61.{i}.{40 + i}:8000", f"catalog-api-5d8f-{s}", f"10.61.200.{i}:10250")
        for i, s in enumerate(("a1x", "k9m", "p2q", "z7w"))
    ]
    routes = [
        Route("PUT", "/api/items/{n}", "/api/items/<id>", 0.3, 0.03),
        Route("GET", "/api/items/{n}", "/api/items/<id>", 0.7, 0.01),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if not slow(m):
            return
        if e.method == "PUT":
            if rng.random() < 0.55:
                fail(e, 504, 10.0 + rng.uniform(0, 0.01), size=160)
                e.extra["app_dur"], e.extra["app_status"] = 10.0, "504"
            else:
                e.duration = e.extra["app_dur"] = lognormal(b, 4.0)
        else:
            e.duration = e.extra["app_dur"] = lognormal(b, 0.3)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.61.100.", "10.61.101."],
        clients=60,
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "catalog-edge", "instance": "10.61.0.4:9113"},
    )
    for e in site.events:
        if e.status == 504 and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "catalog.db",
                    "OperationalError: (2013, 'Lost connection to MySQL server during query "
                    "(timed out)') on UPDATE items SET stock=%s WHERE id=%s",
                ),
            )
    site.apps({"job": "catalog-api"}, {"job": "catalog-api"}, go=False)
    nodes = {"galera-1": "10.61.9.11", "galera-2": "10.61.9.12", "galera-3": "10.61.9.13"}
    for name, ip in nodes.items():
        bad = name == "galera-3"
        lab = {"service": "catalog-galera", "job": "mysqld", "instance": f"{ip}:9104"}
        mysqld_exporter(
            b,
            lab,
            qps=lambda m: 140.0,
            connected=lambda m: 60 + (90 if slow(m) else 0),
            running=lambda m: 40 if slow(m) else 3,
            version="10.11.8-MariaDB",
            max_connections=800,
        )
        galera_status(
            b,
            lab,
            paused=lambda m: round(0.85 + rng.uniform(-0.05, 0.05), 3) if slow(m) else 0.0,
            recv_queue=lambda m, bad=bad: (
                rng.uniform(180, 420) if bad and slow(m) else rng.uniform(0, 2)
            ),
            send_queue=lambda m: rng.uniform(0, 3),
        )
        node_exporter(
            b,
            {"service": "catalog-galera", "job": "node", "instance": f"{ip}:9100"},
            busy=lambda m: 0.25,
            avail=lambda m: 30e9,
            iowait=lambda m, bad=bad: 0.6 if bad and slow(m) else 0.01,
        )
        el = {"service": "catalog-galera", "instance": f"{ip}:3306", "log": "error"}
        if bad:
            b.log(
                b.t(11.5),
                el,
                mariadb_err(
                    b,
                    b.t(11.5),
                    0,
                    "Warning",
                    "InnoDB: A long semaphore wait: --Thread 140213 has waited at buf0flu.cc "
                    "line 2041 for 241 seconds the semaphore",
                ),
            )
            for t in every(b, onset, 40, 60, 120):
                b.log(
                    t,
                    el,
                    mariadb_err(
                        b,
                        t,
                        0,
                        "Note",
                        "WSREP: Flow-control: sent FC_PAUSE (recv queue 312 > fc_limit 256)",
                    ),
                )
    return b


def orders_semisync_dead_replica() -> Bundle:  # size: one linear scenario script
    """orders-primary runs semi-synchronous replication with
    ``rpl_semi_sync_source_timeout`` set to a day (to never lose an acknowledged order) and
    ``wait_for_replica_count=1``.  At 21:09 the only replica's mysqld dies on an I/O error
    (its exporter reports ``mysql_up`` 0 from then on, its other series stop).  From then every COMMIT on the primary waits for an ACK that never comes:
    threads in "Waiting for semi-sync ACK from replica" pile up, connections climb to
    max_connections, orders-api times out.  Root: the replica crash; aggravating: the
    primary's semi-sync configuration.  Killing the waiting commits would drop customers'
    orders (victims), and nothing is abusive.  Sources: netdata guide "MySQL
    semi-synchronous replication stall: commits hanging on ACK"; PlanetScale (Shlomi Noach)
    "MySQL semi-sync replication: durability, consistency and split brains" (an infinite
    rpl_semi_sync_master_timeout)."""
    b = Bundle(
        "orders-semisync-dead-replica",
        "2031-04-22T20:50:00Z",
        description="order placement hangs",
        symptom={"component": "orders-edge"},
        step=20,
        minutes=50,
    )
    rng = b.rng
    dead = 19.0
    b.component("orders-edge", "proxy", {"job": "orders-edge"}, ["orders-api"])
    b.component("orders-api", "app", {"job": "orders-api"}, ["orders-primary"])
    b.component("orders-primary", "mysql", {"job": "orders-primary"})
    b.component("orders-replica", "mysql", {"job": "orders-replica"})
    pods = [
        Pod(f"192.168.40.{21 + i}:9000", f"orders-api-6b9-{s}", f"192.168.40.{2 + i}:10250")
        for i, s in enumerate(("q1", "w2", "e3"))
    ]
    routes = [
        Route("POST", "/orders", "/orders", 0.3, 0.05),
        Route("GET", "/orders/{n}", "/orders/{id}", 0.7, 0.008),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if m < dead:
            return
        if e.method == "POST":
            fail(e, 504, 30.0 + rng.uniform(0, 0.01), size=160)
            e.extra["app_dur"], e.extra["app_status"] = 30.0, "504"
        elif m > dead + 6 and rng.random() < 0.6:  # the pool is full of waiting commits
            fail(e, 503, lognormal(b, 5.0), size=120)

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["192.168.200.", "192.168.201."],
        clients=90,
        rate=lambda m: 8.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "orders-edge", "instance": "192.168.40.2:9113"},
    )
    for e in site.events:
        if e.status >= 500 and rng.random() < 0.4:
            msg = (
                "commit order: context deadline exceeded"
                if e.method == "POST"
                else "get order: sql: connection pool exhausted (max 40)"
            )
            site.say(
                e.t,
                e.extra["pod"],
                zap(b, e.t, "error", "orders/repo.go:88", msg, order_id=rng.randint(10**6, 10**7)),
            )
    site.apps({"job": "orders-api"}, {"job": "orders-api"})
    prim = {"job": "orders-primary", "instance": "192.168.41.10:9104"}

    def waiting(m: float) -> float:
        return 0 if m < dead else min(398, int((m - dead) * 42))

    mysqld_exporter(
        b,
        prim,
        qps=lambda m: 120.0 if m < dead else 30.0,
        connected=lambda m: 25 + waiting(m),
        running=lambda m: 2 + waiting(m),
        max_connections=400,
        version="8.0.40",
        aborted_connects=lambda m: 0.0 if waiting(m) < 395 else 3.0,
    )
    b.gauge(
        "mysql_global_status_rpl_semi_sync_source_clients", prim, lambda m: 1 if m < dead else 0
    )
    b.gauge("mysql_global_status_rpl_semi_sync_source_status", prim, lambda m: 1)
    b.gauge("mysql_global_status_rpl_semi_sync_source_wait_sessions", prim, waiting)
    b.gauge("mysql_global_variables_rpl_semi_sync_source_timeout", prim, lambda m: 86400000)
    b.gauge(
        "mysql_info_schema_processlist_threads",
        {**prim, "command": "query", "state": "waiting for semi-sync ack from replica"},
        waiting,
    )
    rep = {"job": "orders-replica", "instance": "192.168.41.11:9104"}
    mysqld_exporter(
        b,
        rep,
        qps=lambda m: 40.0,
        connected=lambda m: 4,
        running=lambda m: 2,
        version="8.0.40",
        up=lambda m: m < dead,
    )
    el = {"job": "orders-primary", "instance": "192.168.41.10:3306", "log": "error"}
    for t in every(b, dead + 0.1, dead + 0.3, 1, 3):
        b.log(
            t,
            el,
            mysql8_err(
                b,
                t,
                0,
                "Note",
                "MY-010014",
                "Stop semi-sync binlog_dump to replica (server_id: 12).",
            ),
        )
    b.log(
        b.t(dead + 0.02),
        el,
        mysql8_err(
            b,
            b.t(dead + 0.02),
            0,
            "Warning",
            "MY-010191",
            "Timeout waiting for reply of binlog (file: binlog.004117, pos: 81233), semi-sync up "
            "to file binlog.004117, position 80112.",
        ),
    )
    for t in every(b, dead + 7, 50, 20, 60):
        b.log(
            t,
            el,
            mysql8_err(
                b,
                t,
                0,
                "Warning",
                "MY-010055",
                f"IP address '192.168.40.{21 + rng.randint(0, 2)}' could not be resolved: "
                "Too many connections",
            ),
        )
    rl = {"job": "orders-replica", "instance": "192.168.41.11:3306", "log": "error"}
    b.log(
        b.t(dead - 0.3),
        rl,
        mysql8_err(
            b,
            b.t(dead - 0.3),
            0,
            "ERROR",
            "MY-012592",
            "InnoDB: Operating system error number 5 in a file operation.",
        ),
    )
    b.log(
        b.t(dead - 0.25),
        rl,
        mysql8_err(
            b,
            b.t(dead - 0.25),
            0,
            "ERROR",
            "MY-012596",
            "InnoDB: Error number 5 means 'Input/output error'",
        ),
    )
    return b


def blog_mariadb_query_cache_lock() -> Bundle:  # size: one linear scenario script
    """A WordPress site on MariaDB 10.6 with a 512 MB query cache.  A marketing mailing at
    19:30 brings 4x traffic; each write invalidates the cache and every query serialises on
    the query-cache mutex: processlist fills with "Waiting for query cache lock", queries of
    milliseconds take seconds, php-fpm hits pm.max_children and nginx answers 502 ("connect()
    to unix:/run/php/php8.2-fpm.sock failed (11: Resource temporarily unavailable)").  No
    single query dominates the slow log; killing queries kills victims.  Root: the database
    (query cache contention).  Sources: Shattered Silicon, "MySQL / MariaDB: Waiting for
    query cache lock" (2022); MariaDB docs "Query Cache Thread States"."""
    b = Bundle(
        "blog-mariadb-query-cache-lock",
        "2031-05-13T19:15:00Z",
        description="the blog answers 502 since the newsletter",
        symptom={"component": "blog-nginx"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    mail = 15.0
    b.component("blog-nginx", "proxy", {"job": "blog-nginx"}, ["blog-php"])
    b.component("blog-php", "app", {"job": "blog-php"}, ["blog-db"])
    b.component("blog-db", "mysql", {"job": "blog-db"})
    vms = [Pod(f"203.0.113.{10 + i}:9000") for i in range(2)]
    routes = [
        Route("GET", "/2031/05/spring-sale-{n}/", "/post", 0.8, 0.09, 42000),
        Route("POST", "/wp-comments-post.php", "/comment", 0.05, 0.2),
        Route("GET", "/wp-json/wp/v2/posts?per_page=10", "/rest", 0.15, 0.05),
    ]

    def rate(m: float) -> float:
        return 6.0 if m < mail else 6.0 + 18.0 * min(1.0, (m - mail) / 3)

    err = {"job": "blog-nginx", "instance": "203.0.113.5:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        if m < mail + 2:
            return
        if rng.random() < 0.35:
            fail(e, 502, rng.uniform(0.0, 0.002), reached=False, size=166)
            b.log(
                e.t,
                err,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "connect() to unix:/run/php/php8.2-fpm.sock failed (11: "
                    "Resource temporarily unavailable) while connecting to upstream",
                    pid=4410,
                    conn=rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "blog.example.org"),
                ),
            )
        else:
            e.duration = e.extra["app_dur"] = lognormal(b, 3.5)

    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["81.2.69.", "5.62.63.", "2a02:8108:1ac0::", "91.198.174."],
        clients=1800,
        rate=rate,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "blog-nginx", "instance": "203.0.113.5:9113"},
    )
    for i, vm in enumerate(vms):
        fl = {"job": "blog-php", "instance": vm.addr.replace(":9000", ":9253"), "pool": "www"}
        b.gauge("phpfpm_active_processes", fl, lambda m: 50 if m > mail + 2 else rng.randint(2, 9))
        b.gauge("phpfpm_max_children_reached", fl, lambda m: 14 if m > mail + 2 else 0)
        b.gauge("phpfpm_listen_queue", fl, lambda m: rng.randint(100, 128) if m > mail + 2 else 0)
        for t in every(b, mail + 2, 45, 50, 140):
            site.say(
                t,
                i,
                f"[{b.dt(t).strftime('%d-%b-%Y %H:%M:%S')}] WARNING: [pool www] server "
                "reached pm.max_children setting (50), consider raising it",
            )
    site.apps({"job": "blog-php"}, {"job": "blog-php"}, go=False)
    db = {"job": "blog-db", "instance": "203.0.113.20:9104"}

    def busy(m: float) -> bool:
        return m > mail + 2

    mysqld_exporter(
        b,
        db,
        qps=lambda m: 300.0 if not busy(m) else 420.0,
        connected=lambda m: 14 if not busy(m) else 101,
        running=lambda m: 2 if not busy(m) else 96,
        version="10.6.18-MariaDB",
        max_connections=151,
        slow=lambda m: 2.5 if busy(m) else 0.0,
    )
    b.gauge("mysql_global_status_qcache_free_memory", db, lambda m: 2.1e8)
    b.untyped("mysql_global_status_qcache_hits", db, lambda m: 200.0 if not busy(m) else 60.0, 3e9)
    b.untyped("mysql_global_status_qcache_inserts", db, lambda m: 60.0, 9e8)
    b.untyped("mysql_global_status_qcache_lowmem_prunes", db, lambda m: 0.4, 1.2e6)
    b.gauge("mysql_global_variables_query_cache_size", db, lambda m: 536870912)
    b.gauge(
        "mysql_info_schema_processlist_threads",
        {**db, "command": "query", "state": "waiting for query cache lock"},
        lambda m: rng.randint(70, 90) if busy(m) else rng.randint(0, 1),
    )
    sl = {"job": "blog-db", "instance": "203.0.113.20:3306", "log": "slow"}
    sqls = [
        "SELECT option_value FROM wp_options WHERE option_name = 'siteurl' LIMIT 1",
        "SELECT * FROM wp_posts WHERE ID = {n} LIMIT 1",
        "SELECT meta_key, meta_value FROM wp_postmeta WHERE post_id = {n}",
        "SELECT t.*, tt.* FROM wp_terms AS t INNER JOIN wp_term_taxonomy AS tt ON t.term_id = "
        "tt.term_id WHERE tt.taxonomy = 'category'",
    ]
    for t in every(b, mail + 2, 45, 0.2, 0.6):
        sql = rng.choice(sqls).replace("{n}", str(rng.randint(100, 9000)))
        b.log(
            t,
            sl,
            mysql_slow(
                b,
                t,
                user="wp",
                host="203.0.113.10",
                thread=rng.randint(1000, 9999),
                qt=rng.uniform(1.0, 3.2),
                lt=0.0,
                sent=1,
                examined=rng.randint(1, 40),
                sql=sql,
                db="wordpress",
            ),
        )
    return b


def reports_pgbouncer_stale_stats() -> Bundle:  # size: one linear scenario script
    """A nightly bulk load into ``invoices`` finished at 07:40 without ANALYZE; at 08:03,
    when the month-end dashboard traffic starts, the planner switches the hot
    ``invoices_by_customer`` query to a sequential scan (2-6 s instead of 8 ms).  Server
    connections stay busy, PgBouncer's pool (transaction mode, pool_size 40) fills and
    clients queue: ``cl_waiting`` in the hundreds, maxwait 20 s, the Django app logs
    "query_wait_timeout".  Root: reports-pg (the plan); aggravating: PgBouncer's small pool,
    which turns slow queries into queueing for every request.  Postgres has no query kill in
    the catalogue and nothing is abusive.  Sources: PostgreSQL docs "Updating Planner
    Statistics" (ANALYZE after bulk loads); autobase-tech/autobase issue #89 ("pooler
    error: query_wait_timeout": every server connection busy); pgbouncer/pgbouncer issue
    #357 (slow queries of one app block every client of the pool)."""
    b = Bundle(
        "reports-pgbouncer-stale-stats",
        "2031-06-30T07:45:00Z",
        description="dashboards time out at month end",
        symptom={"component": "reports-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    onset = 18.0
    bad = within(onset, 99)
    b.component("reports-edge", "proxy", {"job": "reports-edge"}, ["reports-web"])
    b.component("reports-web", "app", {"app": "reports-web"}, ["pgbouncer"])
    b.component("pgbouncer", "other", {"job": "pgbouncer"}, ["reports-pg"])
    b.component("reports-pg", "other", {"job": "reports-pg"})
    pods = [
        Pod(f"10.118.{3 + i}.{12 + i}:8000", f"reports-web-7c4f-{s}", f"10.118.0.{5 + i}:10250")
        for i, s in enumerate(("hh2", "kk4", "mm6", "nn8"))
    ]
    routes = [
        Route("GET", "/dashboard/customer/{n}/invoices", "customer_invoices", 0.6, 0.04),
        Route("GET", "/dashboard/summary", "summary", 0.3, 0.06),
        Route("GET", "/healthz", "health", 0.1, 0.001),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if not bad(m) or e.extra["route"] == "health":
            return
        if rng.random() < 0.45:
            fail(e, 500, 20.0 + rng.uniform(0, 0.05), size=145)
            e.extra["timeout"] = True
        else:
            e.duration = e.extra["app_dur"] = lognormal(b, 6.0)

    def rate(m: float) -> float:
        return 7.0 if m < onset else 16.0

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.118.100.", "10.118.101.", "10.118.102."],
        clients=300,
        rate=rate,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "reports-edge", "instance": "10.118.0.2:9901"},
        cluster="reports_web",
    )
    for e in site.events:
        if e.extra.get("timeout") and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b,
                    e.t,
                    -4,
                    "error",
                    "request failed",
                    path=e.path,
                    logger="django.request",
                    exc="django.db.utils.OperationalError: query_wait_timeout\nserver closed the "
                    "connection unexpectedly",
                ),
            )
    site.apps(
        {"app": "reports-web", "job": "kubernetes-pods"},
        {"app": "reports-web", "namespace": "reports"},
        go=False,
    )
    pgb = {"job": "pgbouncer", "instance": "10.118.9.3:9127"}
    pgbouncer_exporter(
        b,
        pgb,
        database="reports",
        pool=40,
        active=lambda m: 40 if bad(m) else rng.randint(3, 9),
        waiting=lambda m: rng.randint(180, 420) if bad(m) else 0,
        maxwait=lambda m: round(rng.uniform(12, 20), 2) if bad(m) else 0.0,
    )
    pgl = {"job": "pgbouncer", "instance": "10.118.9.3:6432", "stream": "stderr"}
    for t in every(b, onset + 1, 50, 6, 25):
        d = b.dt(t).strftime("%Y-%m-%d %H:%M:%S.") + f"{int(t * 1000) % 1000:03d} UTC"
        b.log(
            t,
            pgl,
            f"{d} [1] WARNING C-0x{rng.getrandbits(40):x}: reports/app@10.118."
            f"{3 + rng.randint(0, 3)}.{rng.randint(12, 15)}:{rng.randint(30000, 60000)} "
            "pooler error: query_wait_timeout",
        )
    pg = {"job": "reports-pg", "instance": "10.118.9.10:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 180.0 if not bad(m) else 45.0,
        active=lambda m: 40 if bad(m) else rng.randint(2, 6),
        idle=lambda m: 10,
        max_connections=200,
        datname="reports",
    )
    b.counter(
        "pg_stat_user_tables_seq_scan",
        {**pg, "datname": "reports", "schemaname": "public", "relname": "invoices"},
        lambda m: 3.0 if bad(m) else 0.01,
        start=1220,
    )
    b.counter(
        "pg_stat_user_tables_seq_tup_read",
        {**pg, "datname": "reports", "schemaname": "public", "relname": "invoices"},
        lambda m: 5.4e7 if bad(m) else 1e3,
        start=8.1e10,
    )
    b.gauge(
        "pg_stat_user_tables_n_mod_since_analyze",
        {**pg, "datname": "reports", "schemaname": "public", "relname": "invoices"},
        lambda m: 21_400_000,
    )
    node_exporter(
        b,
        {"job": "reports-pg", "instance": "10.118.9.10:9100"},
        busy=lambda m: 0.95 if bad(m) else 0.15,
        avail=lambda m: 20e9,
        iowait=lambda m: 0.3 if bad(m) else 0.01,
    )
    ll = {"job": "reports-pg", "instance": "10.118.9.10:5432", "stream": "stderr"}
    b.log(
        b.t(0.5),
        ll,
        pg_local(
            b,
            b.t(0.5),
            "EDT",
            -4,
            31877,
            "LOG",
            'automatic analyze of table "reports.public.audit_log"',
        ),
    )
    for t in every(b, onset, 50, 1.5, 4):
        dur = rng.uniform(2000, 6200)
        b.log(
            t,
            ll,
            pg_local(
                b,
                t,
                "EDT",
                -4,
                rng.randint(40000, 49999),
                "LOG",
                f"duration: {dur:.3f} ms  execute <unnamed>: SELECT i.id, i.total, i.due_at FROM "
                "invoices i WHERE i.customer_id = $1 AND i.status <> 'void' ORDER BY i.due_at "
                "DESC LIMIT 50",
            ),
        )
    return b


def ledger_pg_standby_conflicts() -> Bundle:  # size: one linear scenario script
    """No incident.  The analytics team runs long ad-hoc queries on ledger-pg's hot standby
    (``max_standby_streaming_delay`` 30 s); every few minutes one is cancelled with
    "canceling statement due to conflict with recovery" (``pg_stat_database_conflicts``
    ticks).  Replay lag wobbles to 25 s and back.  The ledger-api, which reads the primary,
    stays at baseline; an analyst's notebook retries its query.  Sources: PostgreSQL docs
    "Hot Standby: Handling Query Conflicts"; postgres_exporter's pg_stat_database_conflicts
    collector."""
    b = Bundle(
        "ledger-pg-standby-conflicts",
        "2031-07-08T14:00:00Z",
        description="alert: PostgresStandbyQueryConflicts firing",
        symptom={"component": "ledger-standby"},
        step=60,
        minutes=90,
    )
    rng = b.rng
    b.component("ledger-edge", "proxy", {"job": "ledger-edge"}, ["ledger-api"])
    b.component("ledger-api", "app", {"job": "ledger-api"}, ["ledger-primary"])
    b.component("ledger-primary", "other", {"cluster": "ledger-pg", "role": "primary"})
    b.component("ledger-standby", "other", {"cluster": "ledger-pg", "role": "standby"})
    pods = [Pod(f"[fd12:7a::{10 + i:x}]:8443") for i in range(3)]
    routes = [
        Route("POST", "/v2/transfers", "/v2/transfers", 0.25, 0.03),
        Route("GET", "/v2/accounts/{n}/balance", "/v2/accounts/{id}/balance", 0.75, 0.007),
    ]
    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["fd12:7a:100::", "fd12:7a:101::"],
        clients=150,
        rate=lambda m: 10.0 + 3.0 * ((m % 30) / 30),
        outcome=None,
        kind="envoy",
        edge_labels={"job": "ledger-edge", "instance": "[fd12:7a::2]:9901"},
        cluster="ledger_api",
    )
    site.apps({"job": "ledger-api"}, {"job": "ledger-api"})
    prim = {
        "cluster": "ledger-pg",
        "role": "primary",
        "job": "postgres",
        "instance": "[fd12:7a::40]:9187",
    }
    stby = {
        "cluster": "ledger-pg",
        "role": "standby",
        "job": "postgres",
        "instance": "[fd12:7a::41]:9187",
    }
    postgres_exporter(
        b,
        prim,
        tps=lambda m: 220.0,
        active=lambda m: rng.randint(3, 8),
        idle=lambda m: 30,
        datname="ledger",
    )
    cancels = [rng.uniform(4, 88) for _ in range(11)]
    postgres_exporter(
        b,
        stby,
        tps=lambda m: 15.0,
        active=lambda m: rng.randint(2, 5),
        idle=lambda m: 6,
        datname="ledger",
        replica_lag=lambda m: rng.uniform(0.1, 25.0) if rng.random() < 0.3 else 0.4,
    )
    b.counter_steps(
        "pg_stat_database_conflicts_confl_snapshot",
        {**stby, "datname": "ledger"},
        [b.t(m) for m in cancels],
        start=311,
    )
    ll = {"cluster": "ledger-pg", "role": "standby", "instance": "[fd12:7a::41]:5432"}
    for m in cancels:
        t = b.t(m)
        pid = rng.randint(200000, 299999)
        b.log(
            t,
            ll,
            pg_local(
                b, t, "CEST", 2, pid, "ERROR", "canceling statement due to conflict with recovery"
            ),
        )
        b.log(
            t + 0.001,
            ll,
            pg_local(
                b,
                t + 0.001,
                "CEST",
                2,
                pid,
                "DETAIL",
                "User query might have needed to see row versions that must be removed.",
            ),
        )
    pl = {"cluster": "ledger-pg", "role": "primary", "instance": "[fd12:7a::40]:5432"}
    for t in every(b, 0, 90, 200, 500):
        b.log(
            t,
            pl,
            pg_local(
                b,
                t,
                "CEST",
                2,
                rng.randint(1000, 9000),
                "LOG",
                f"checkpoint complete: wrote {rng.randint(900, 4000)} buffers "
                f"({rng.uniform(0.5, 2.5):.1f}%); 0 WAL file(s) added, 0 removed, 3 recycled",
            ),
        )
    return b
