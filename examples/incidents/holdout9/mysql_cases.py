# size: four linear scenario scripts of one family, each telling one story
"""MySQL and MariaDB scenarios of round 9 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, ramp
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import logfmt, mariadb_err, mysql8_err, mysql_slow, zap
from examples.incidents.holdout5.common import py_log, within
from examples.incidents.holdout6.common import every, web
from examples.incidents.holdout9.common import (
    chatter,
    pino,
    pods,
    processlist,
    traefik_line,
    traefik_metrics,
)


def crm_mysql_ftwrl_backup_stall() -> Bundle:  # size: one linear scenario script
    """At 01:58 the nightly logical backup issues FLUSH TABLES WITH READ LOCK while a BI
    report's 40-minute SELECT runs: the global read lock blocks every write at once and the
    table flush then blocks every new read of the tables the report holds.  Threads pile up
    in "Waiting for global read lock" / "Waiting for table flush", the CRM API's queries
    hit their 10 s read timeout and ~60 % of requests fail.  Root: crm-db; kill the long
    report (the FTWRL then completes and releases)."""
    b = Bundle(
        "crm-mysql-ftwrl-backup-stall",
        "2036-08-19T01:40:00Z",
        description="CRM timing out for everyone since about 2 am",
        symptom={"component": "crm-edge"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    onset = 18.0
    stuck = within(onset, 99)
    ns = "crm"
    b.component("crm-edge", "proxy", {"job": "crm-edge"}, ["crm-api"])
    b.component("crm-api", "app", {"namespace": ns, "app": "crm-api"}, ["crm-db"])
    b.component("crm-db", "mysql", {"job": "mysqld", "instance": "10.60.4.21:9104"})
    ps = pods("10.60.{k}.31:8000", "crm-api-6c9d4", ("x7k", "p2m", "q9z"), "10.60.0.{k}:10250")
    routes = [
        Route("GET", "/api/contacts/{n}", "/api/contacts/<id>", 0.55, 0.03, 2100),
        Route("POST", "/api/activities", "/api/activities", 0.3, 0.05, 300),
        Route("GET", "/api/search", "/api/search", 0.15, 0.12, 5200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if stuck(m) and (e.method == "POST" or rng.random() < 0.5):
            fail(e, 500, 10.0 + rng.uniform(0, 0.2), size=88)
            e.extra["db_timeout"] = True

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["10.200.14.", "10.200.15.", "10.201.3."],
        clients=60,
        rate=lambda m: 4.5,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "crm-edge", "instance": "10.60.0.5:9113"},
    )
    for e in site.events:
        if e.extra.get("db_timeout"):
            site.say(
                e.t,
                e.extra["pod"],
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "crm.api.errors",
                    f"{e.method} {e.extra['route']} failed: pymysql.err.OperationalError: (2013, "
                    "'Lost connection to MySQL server during query (timed out)')",
                ),
            )
    chatter(
        site,
        30,
        90,
        lambda t, k: py_log(b, t, "INFO", "crm.sync", "mailbox sync batch done (42 threads)"),
    )
    site.apps(
        {"namespace": ns, "app": "crm-api"},
        {"namespace": ns, "app": "crm-api", "container": "api"},
        namespace=ns,
        container="api",
        go=False,
    )
    dbl = {"job": "mysqld", "instance": "10.60.4.21:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 40.0 if stuck(m) else 610.0,
        connected=lambda m: ramp(m, onset, onset + 8, 70, 260),
        running=lambda m: ramp(m, onset, onset + 8, 4, 190),
        max_connections=400,
    )
    processlist(
        b,
        dbl,
        {
            ("Query", "Waiting for global read lock"): lambda m: ramp(m, onset, onset + 6, 0, 80),
            ("Query", "Waiting for table flush"): lambda m: ramp(m, onset, onset + 8, 0, 105),
        },
    )
    node_exporter(
        b, {"job": "node", "instance": "10.60.4.21:9100"}, busy=lambda m: 0.06, avail=lambda m: 21e9
    )
    b.log(
        b.t(2),
        {"job": "mysql-slow", "instance": "10.60.4.21"},
        mysql_slow(
            b,
            b.t(2),
            user="bi_reader",
            host="10.60.9.14",
            thread=88123,
            qt=61.2,
            lt=0.0,
            sent=12,
            examined=48_110_000,
            sql="SELECT region, SUM(amount) FROM opportunities o JOIN activities a ON "
            "a.opportunity_id=o.id WHERE a.created_at > '2036-01-01' GROUP BY region",
            db="crm",
        ),
    )
    bl = {"namespace": ns, "job_name": "crm-db-backup-29731098", "container": "mysqldump"}
    b.log(b.t(onset) - 2, bl, "-- Connecting to crm-db-0.crm-db.crm.svc ...")
    b.log(b.t(onset) - 1, bl, "-- Starting transaction...")
    b.log(b.t(onset) - 0.5, bl, "-- Setting savepoint...")
    return b


def forum_mariadb_table_open_cache() -> Bundle:  # size: one linear scenario script
    """A migration at 16:12 repartitions the posts table into 512 partitions; every
    partition is a table for MariaDB's table cache, and table_open_cache=2000 can no
    longer hold the working set: Opened_tables climbs by ~900/s, Open_tables sits at
    2000, threads wait in "Opening tables", every query slows and ~10 % of page loads
    end 504 at Traefik.  Root: forum-db (table open cache too small)."""
    b = Bundle(
        "forum-mariadb-table-open-cache",
        "2036-11-03T15:55:00Z",
        description="forum pages slow and some timeouts after the partitioning migration",
        symptom={"component": "forum-ingress"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    onset = 17.0
    bad = within(onset, 99)
    ns = "forum"
    b.component("forum-ingress", "proxy", {"job": "traefik"}, ["forum-web"])
    b.component("forum-web", "app", {"namespace": ns, "app": "forum-web"}, ["forum-db"])
    b.component("forum-db", "mysql", {"job": "mariadb", "instance": "10.71.2.40:9104"})
    ps = pods("10.71.{k}.17:3000", "forum-web-58bd7", ("a1", "b2", "c3", "d4"), "10.71.0.{k}:10250")
    routes = [
        Route("GET", "/t/{n}", "/t/:id", 0.6, 0.08, 38000),
        Route("GET", "/latest.json", "/latest.json", 0.25, 0.05, 12000),
        Route("POST", "/posts", "/posts", 0.15, 0.09, 900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m):
            if rng.random() < 0.1:
                fail(e, 504, 15.0, reached=False, size=21)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.4, 3.0)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["2a02:8108:1e40:", "2a01:598:b1:", "84.115.22.", "91.64.3."],
        clients=300,
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="traefik",
        edge_labels={"job": "traefik", "instance": "10.71.0.3:9100"},
        fmt=lambda e: traefik_line(b, e, "forum-websecure@kubernetes", "forum-web-3000@kubernetes"),
    )
    for e in site.events:
        if bad(b.m(e.t)) and rng.random() < 0.05 and e.upstream != "-":
            site.say(
                e.t,
                e.extra["pod"],
                pino(
                    b,
                    e.t,
                    40,
                    ps[e.extra["pod"]].pod,
                    "slow query",
                    durationMs=int(e.extra["app_dur"] * 1000),
                    sql="SELECT * FROM posts WHERE topic_id = ? ORDER BY post_number LIMIT 20",
                ),
            )
    traefik_metrics(
        b,
        {"job": "traefik", "instance": "10.71.0.3:9100"},
        site.events,
        "forum-web-3000@kubernetes",
        last_reload=b.t(-2 * 60),
    )
    chatter(site, 20, 60, lambda t, k: pino(b, t, 30, ps[k].pod, "request completed"))
    site.apps(
        {"namespace": ns, "app": "forum-web"},
        {"namespace": ns, "app": "forum-web", "container": "web"},
        namespace=ns,
        container="web",
        go=False,
    )
    dbl = {"job": "mariadb", "instance": "10.71.2.40:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 1450.0 if bad(m) else 1600.0,
        connected=lambda m: 120.0 if bad(m) else 64.0,
        running=lambda m: 58.0 if bad(m) else 5.0,
        version="10.11.8-MariaDB",
    )
    b.gauge("mysql_global_variables_table_open_cache", dbl, lambda m: 2000)
    b.gauge("mysql_global_variables_open_files_limit", dbl, lambda m: 16384)
    b.gauge(
        "mysql_global_status_open_tables",
        dbl,
        lambda m: 2000 if bad(m) else 611 + rng.randint(0, 6),
    )
    b.untyped(
        "mysql_global_status_opened_tables",
        dbl,
        lambda m: 900.0 if bad(m) else 0.05,
        start=88_412,
    )
    b.untyped(
        "mysql_global_status_table_open_cache_misses",
        dbl,
        lambda m: 900.0 if bad(m) else 0.05,
        start=90_114,
    )
    b.untyped(
        "mysql_global_status_table_open_cache_hits",
        dbl,
        lambda m: 6000.0 if bad(m) else 7400.0,
        start=8.8e9,
    )
    b.gauge(
        "mysql_global_status_open_files",
        dbl,
        lambda m: 4000 if bad(m) else 1290,
    )
    processlist(b, dbl, {("Query", "Opening tables"): lambda m: 41.0 if bad(m) else 0.0})
    node_exporter(
        b,
        {"job": "node", "instance": "10.71.2.40:9100"},
        busy=lambda m: 0.45 if bad(m) else 0.2,
        avail=lambda m: 30e9,
    )
    ml = {"namespace": ns, "job_name": "forum-migrate-20361103", "container": "migrate"}
    b.log(
        b.t(onset) - 40,
        ml,
        logfmt(
            b,
            b.t(onset) - 40,
            "info",
            "migration applied",
            version="20361103_partition_posts",
            statement="ALTER TABLE posts PARTITION BY HASH(topic_id) PARTITIONS 512",
        ),
    )
    b.log(
        b.t(3),
        {"job": "mariadb", "instance": "10.71.2.40"},
        mariadb_err(b, b.t(3), 0, "Note", "InnoDB: Buffer pool(s) dump completed"),
    )
    return b


def events_mysql_redo_sync_flush() -> Bundle:  # size: one linear scenario script
    """A backfill job starts at 10:21 re-importing a quarter of events; MySQL 8.0.36 runs
    with the default innodb_redo_log_capacity (100 MiB): checkpoint age reaches the end of
    the redo log every minute or two and InnoDB stalls every write for a sharp checkpoint
    (Innodb_log_waits climbing, Threads_running spikes, Questions dips).  The events API's
    inserts time out in bursts (~20 % 503 overall).  Root: events-db (redo log too small
    for the write rate)."""
    b = Bundle(
        "events-mysql-redo-sync-flush",
        "2037-02-11T10:05:00Z",
        description="event ingestion returning 503 in waves",
        symptom={"component": "events-gw"},
        step=10,
        minutes=40,
    )
    rng = b.rng
    onset = 16.0

    def stall(m: float) -> bool:
        return m >= onset and (m - onset) % 1.7 < 0.55

    ns = "events"
    b.component("events-gw", "proxy", {"job": "events-gw"}, ["events-api"])
    b.component("events-api", "app", {"namespace": ns, "app": "events-api"}, ["events-db"])
    b.component("events-db", "mysql", {"job": "mysql", "instance": "10.88.7.10:9104"})
    ps = pods("10.88.{k}.4:8080", "events-api-7d8c9f", ("hq2", "lm3", "zz8"), "10.88.0.{k}:10250")
    routes = [
        Route("POST", "/v1/events", "/v1/events", 0.85, 0.012, 60),
        Route("GET", "/v1/events/{n}", "/v1/events/{id}", 0.15, 0.008, 700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if stall(m) and e.method == "POST" and rng.random() < 0.75:
            fail(e, 503, 3.0 + rng.uniform(0, 0.1), size=61)
            e.extra["stalled"] = True
        elif stall(m):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.2, 2.5)

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["100.64.8.", "100.64.9.", "100.64.12."],
        clients=140,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "events-gw", "instance": "10.88.0.9:9901"},
        cluster="events-api",
    )
    for e in site.events:
        if e.extra.get("stalled") and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "store/mysql.go:118",
                    "insert event batch",
                    error="context deadline exceeded",
                    rows=rng.randint(1, 40),
                ),
            )
    chatter(site, 30, 80, lambda t, k: zap(b, t, "info", "ingest/flush.go:40", "flushed batch"))
    site.apps(
        {"namespace": ns, "app": "events-api"},
        {"namespace": ns, "app": "events-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    dbl = {"job": "mysql", "instance": "10.88.7.10:9104"}
    backfill = within(onset, 99)
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 900.0 if stall(m) else (5200.0 if backfill(m) else 1900.0),
        connected=lambda m: 150.0 if stall(m) else 82.0,
        running=lambda m: 120.0 if stall(m) else 6.0,
        updating=lambda m: 95.0 if stall(m) else 1.0,
    )
    cap = 104857600.0
    b.gauge("mysql_global_variables_innodb_redo_log_capacity", dbl, lambda m: cap)
    b.gauge("mysql_global_variables_innodb_io_capacity", dbl, lambda m: 200)
    b.untyped(
        "mysql_global_status_innodb_redo_log_current_lsn",
        dbl,
        lambda m: 4.1e7 if backfill(m) else 6.0e6,
        start=9.1e11,
    )
    b.gauge(
        "mysql_global_status_innodb_redo_log_checkpoint_age",
        dbl,
        lambda m: cap * (0.93 if stall(m) else (0.8 if backfill(m) else 0.22)),
    )
    b.untyped("mysql_global_status_innodb_log_waits", dbl, lambda m: 140.0 if stall(m) else 0.0)
    b.untyped(
        "mysql_global_status_innodb_buffer_pool_pages_flushed",
        dbl,
        lambda m: 2600.0 if backfill(m) else 310.0,
        start=7.7e8,
    )
    b.untyped(
        "mysql_global_status_innodb_buffer_pool_wait_free", dbl, lambda m: 3.0 if stall(m) else 0
    )
    node_exporter(
        b,
        {"job": "node", "instance": "10.88.7.10:9100"},
        busy=lambda m: 0.4 if backfill(m) else 0.15,
        avail=lambda m: 14e9,
        iowait=lambda m: 0.12 if backfill(m) else 0.01,
    )
    jl = {"namespace": ns, "job_name": "events-backfill-q3", "container": "backfill"}
    for t in every(b, onset, b.minutes, 20, 40):
        b.log(t, jl, logfmt(b, t, "info", "chunk imported", rows=50000, table="events_2036q3"))
    for t in every(b, onset + 1, b.minutes, 80, 130):
        b.log(
            t,
            {"job": "mysql", "instance": "10.88.7.10"},
            mysql8_err(
                b,
                t,
                0,
                "Warning",
                "MY-013865",
                "Redo log writer is waiting for a new redo log "
                "file. Consider increasing innodb_redo_log_capacity.",
            ),
        )
    return b


def orders_mysql_archiver_row_locks() -> Bundle:  # size: one linear scenario script
    """The order-archiver CronJob, moved to a new cluster whose schedule runs in UTC,
    starts at 09:00 local peak instead of 03:00: each of its transactions updates and
    deletes 50 000 rows of orders/order_events and holds their locks for ~40 s.  The API's
    UPDATEs on those rows wait (Innodb_row_lock_current_waits ~60), many end with 1205 Lock
    wait timeout after 50 s; checkouts 504 at the nginx edge (30 s).  Root: orders-db;
    kill the archiver's transactions."""
    b = Bundle(
        "orders-mysql-archiver-row-locks",
        "2036-05-27T08:48:00Z",
        description="checkout failing and slow from 09:00",
        symptom={"component": "orders-edge"},
        step=15,
        minutes=35,
    )
    rng = b.rng
    onset = 12.0
    locked = within(onset, 99)
    ns = "orders"
    b.component("orders-edge", "proxy", {"job": "orders-edge"}, ["orders-api"])
    b.component("orders-api", "app", {"namespace": ns, "app": "orders-api"}, ["orders-db"])
    b.component("orders-db", "mysql", {"job": "mysql", "instance": "10.52.30.5:9104"})
    ps = pods("10.52.{k}.60:8080", "orders-api-b48f", ("1a", "2b", "3c", "4d"), "10.52.0.{k}:10250")
    routes = [
        Route("POST", "/orders/{n}/confirm", "/orders/{id}/confirm", 0.35, 0.06, 400),
        Route("GET", "/orders/{n}", "/orders/{id}", 0.65, 0.015, 1800),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if locked(m) and e.method == "POST":
            r = rng.random()
            if r < 0.45:
                fail(e, 504, 30.0, size=160)
                e.extra["app_dur"] = 30.0
                e.upstream_status = "504"
            elif r < 0.6:
                fail(e, 500, 50.1, size=120)
                e.extra["lockwait"] = True

    site = web(
        b,
        pods=ps,
        routes=routes,
        prefixes=["81.2.69.", "5.148.100.", "2a00:23c4:11:"],
        clients=250,
        rate=lambda m: 7.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "orders-edge", "instance": "10.52.0.8:9113"},
    )
    for e in site.events:
        if e.extra.get("lockwait"):
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "orders/confirm.go:77",
                    "confirm order",
                    error="Error 1205 (HY000): Lock wait timeout exceeded; try restarting "
                    "transaction",
                ),
            )
    chatter(site, 40, 90, lambda t, k: zap(b, t, "info", "orders/cache.go:20", "price cache hit"))
    site.apps(
        {"namespace": ns, "app": "orders-api"},
        {"namespace": ns, "app": "orders-api", "container": "api"},
        namespace=ns,
        container="api",
    )
    dbl = {"job": "mysql", "instance": "10.52.30.5:9104"}
    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 820.0 if locked(m) else 1100.0,
        connected=lambda m: 180.0 if locked(m) else 90.0,
        running=lambda m: 66.0 if locked(m) else 4.0,
        lock_waits=lambda m: 2.4 if locked(m) else 0.01,
        current_waits=lambda m: 60.0 if locked(m) else 0.0,
        updating=lambda m: 63.0 if locked(m) else 0.0,
    )
    for t in every(b, onset, b.minutes, 35, 45):
        b.log(
            t + 40,
            {"job": "mysql-slow", "instance": "10.52.30.5"},
            mysql_slow(
                b,
                t + 40,
                user="archiver",
                host="10.52.8.44",
                thread=7_731_004,
                qt=40.0 + rng.uniform(-3, 3),
                lt=0.0001,
                sent=0,
                examined=50_000,
                sql="UPDATE orders SET archived=1 WHERE created_at < '2036-02-27' "
                "AND archived=0 ORDER BY id LIMIT 50000",
                db="orders",
            ),
        )
    jl = {"namespace": ns, "job_name": "order-archiver-29602140", "container": "archiver"}
    for t in every(b, onset, b.minutes, 38, 46):
        b.log(t, jl, logfmt(b, t, "info", "archived chunk", rows=50000, table="orders"))
    return b
