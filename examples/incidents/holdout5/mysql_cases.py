# size: scenario builders are long linear scripts, one story each (as in rounds 3-4)
"""MySQL 8 and MariaDB: a default max_connections, a hot row, purge lag, a cold buffer pool."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    hikari,
    log_each,
    logfmt,
    mariadb_err,
    mysql8_err,
    mysql_slow,
    nginx_json_line,
    zap,
)
from examples.incidents.holdout5.common import (
    Pod,
    Route,
    Site,
    ecs,
    java_side,
    mysql_more,
    nginx_ctx,
    nginx_error,
)


def forum_mariadb_aborted_connects() -> Bundle:  # size: one linear scenario script
    """The forum's MariaDB 10.11 moved to a new VM that morning; the config include with
    ``max_connections = 600`` was not copied, so the server runs with the default 151.
    PHP uses PDO persistent connections: every php-fpm child keeps one open.  The evening
    peak ramps from 20:05 and pm=dynamic spawns children (3 VMs x up to 60); from ~20:23
    they want more than 151 connections: Threads_connected pins at 151 (mostly Sleep,
    Threads_running ~15), new children cannot connect, Aborted_connects and
    Connection_errors_max_connections climb, and every refused page is a PHP fatal
    "SQLSTATE[HY000] [1040] Too many connections" (nginx 500) on all three php VMs.
    Root: the database (connection exhaustion); no long query to kill."""
    b = Bundle(
        "forum-mariadb-aborted-connects",
        "2029-03-06T20:00:00Z",
        description="forum pages fail with 'Error establishing a database connection'",
        symptom={"component": "forum-edge"},
    )

    def load(m: float) -> float:
        return ramp(m, 5, 30, 1.0, 2.6) if m < 50 else ramp(m, 50, 60, 2.6, 2.35)

    def demand(m: float) -> float:  # php-fpm children on the three VMs
        return 69.0 * load(m)

    def refused(m: float) -> float:
        return max(0.0, 1.0 - 150.0 / demand(m))

    b.component("forum-edge", "proxy", {"job": "forum-edge"}, ["forum-php"])
    b.component("forum-php", "app", {"job": "forum-php"}, ["forum-db"])
    b.component("forum-db", "mysql", {"job": "forum-db"})
    vms = [Pod(f"192.168.140.{21 + i}:9000") for i in range(3)]
    routes = [
        Route("GET", "/t/{n}", "/t/{id}", 0.6, 0.09, 42000),
        Route("GET", "/c/general?page={n}", "/c/{cat}", 0.25, 0.12, 38000),
        Route("POST", "/t/{n}/reply", "/t/{id}/reply", 0.1, 0.2),
        Route("GET", "/search?q=k{n}", "/search", 0.05, 0.3),
    ]
    pool = client_pool(
        b, ["84.112.41.", "2001:871:22a::", "91.115.200.", "178.115.6.", "80.110.97."], 900
    )
    site = Site(b, vms, routes, pool)
    errlog = {"job": "forum-edge", "instance": "192.168.140.5:9113", "log": "error"}

    def outcome(e: Event, m: float, i: int) -> None:
        if b.rng.random() < refused(m):
            fail(e, 500, b.rng.uniform(0.004, 0.02), size=612)
            where = "/var/www/forum/vendor/doctrine/dbal/src/Driver/PDO/Connection.php:33"
            b.log(
                e.t + 0.01,
                errlog,
                nginx_error(
                    b,
                    e.t + 0.01,
                    "error",
                    'FastCGI sent in stderr: "PHP message: PHP Fatal error:  Uncaught '
                    "PDOException: SQLSTATE[HY000] [1040] Too many connections in "
                    f'{where}" while reading response header from upstream',
                    pid=1100 + i,
                    conn=b.rng.randint(10**6, 10**7),
                    ctx=nginx_ctx(e, "forum.example.at", vms[i].addr),
                ),
            )
            site.say(
                e.t,
                i,
                f"[{b.dt(e.t).strftime('%Y-%m-%dT%H:%M:%S.%f')}+00:00] app.CRITICAL: "
                "Doctrine\\DBAL\\Exception\\ConnectionException: An exception occurred in the "
                "driver: SQLSTATE[HY000] [1040] Too many connections "
                '{"exception":"[object] (Doctrine\\\\DBAL\\\\Exception\\\\ConnectionException'
                "(code: 1040): An exception occurred in the driver: SQLSTATE[HY000] [1040] Too "
                "many connections at " + where + ')"} []',
            )

    site.run(
        rate=lambda m: 8.0 * load(m),
        outcome=outcome,
        kind="nginx",
        labels={"job": "forum-edge", "instance": "192.168.140.5:9113"},
        active=lambda m: 180 * load(m),
    )
    site.apps({"job": "forum-php"}, {"job": "forum-php", "stream": "stderr"}, go=False)
    for vm in vms:
        pl = {"job": "forum-php", "instance": vm.addr, "pool": "www"}
        b.gauge("phpfpm_up", pl, lambda m: 1)
        b.gauge("phpfpm_active_processes", pl, lambda m: int(3 * load(m)) + b.rng.randint(0, 3))
        b.gauge("phpfpm_idle_processes", pl, lambda m: int(demand(m) / 3 - 3 * load(m)))
        b.gauge("phpfpm_total_processes", pl, lambda m: int(min(60, demand(m) / 3)))
        b.gauge("phpfpm_max_children_reached", pl, lambda m: 0)
        b.gauge("phpfpm_listen_queue", pl, lambda m: 0)
        b.counter("phpfpm_accepted_connections", pl, lambda m: 8.0 * load(m), start=40_112_334)
    db = {"job": "forum-db", "instance": "192.168.140.30:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 900 * load(m) * (1 - refused(m)),
        connected=lambda m: min(149.0, demand(m)),
        running=lambda m: 6 * load(m),
        max_connections=151,
        aborted_connects=lambda m: 8.0 * load(m) * refused(m),
        version="10.11.8-MariaDB-0+deb12u1",
    )
    mysql_more(b, db, connection_errors=lambda m: 8.0 * load(m) * refused(m))
    node_exporter(
        b,
        {"job": "forum-db", "instance": "192.168.140.30:9100"},
        busy=lambda m: 0.12 * load(m),
        avail=lambda m: 21e9,
        mem_total=32e9,
    )
    el = {"job": "forum-db", "instance": "192.168.140.30:9104", "log": "mariadb"}
    for k, (mm, msg) in enumerate(
        [
            (
                1.2,
                "Aborted connection 88120 to db: 'forum' user: 'forum' host: '192.168.140.22' (Got an error reading communication packets)",
            ),
            (
                24.7,
                "Aborted connection 91877 to db: 'forum' user: 'forum' host: '192.168.140.21' (Got timeout reading communication packets)",
            ),
            (
                37.3,
                "Aborted connection 93110 to db: 'forum' user: 'forum' host: '192.168.140.23' (Got an error reading communication packets)",
            ),
            (
                51.9,
                "Aborted connection 95002 to db: 'forum' user: 'forum' host: '192.168.140.21' (Got timeout reading communication packets)",
            ),
        ]
    ):
        b.log(b.t(mm), el, mariadb_err(b, b.t(mm), 88120 + k * 1700, "Warning", msg))
    return b


def stock_innodb_hot_row() -> Bundle:  # size: one linear scenario script
    """A flash sale opens at 12:15 for one console bundle (sku 88120).  Every checkout of
    it runs ``UPDATE inventory SET reserved = reserved + 1 WHERE sku_id = 88120`` in a
    transaction that also calls the payment tokeniser before COMMIT (~0.3 s), so that one
    row serialises ~3 commits/s against ~25 attempts/s.  innodb_row_lock_current_waits
    climbs to ~120, row-lock time explodes, Threads_running follows; the lock-wait snapshot
    shows a different short-lived holder each time (an active UPDATE, age < 1 s), never an
    idle one.  Hot-sku checkouts fail after 50 s with 1205; HikariCP pools of all six
    checkout pods fill, so other checkouts slow down too.  Root: the database (lock
    contention on a hot row); killing the current holder only passes the lock on."""
    b = Bundle(
        "stock-innodb-hot-row",
        "2029-03-27T12:00:00Z",
        description="checkout fails or hangs since the flash sale opened",
        symptom={"component": "shop-gw", "route": "/api/checkout"},
    )
    sale = 15.0

    def hot(m: float) -> bool:
        return m >= sale

    ns, ctr = "shop", "checkout"
    b.component("shop-gw", "proxy", {"job": "shop-gw"}, ["checkout-svc"])
    b.component("checkout-svc", "app", {"namespace": ns, "container": ctr}, ["stock-db"])
    b.component("stock-db", "mysql", {"job": "stock-db"})
    pods = [
        Pod(
            f"10.61.{12 + i}.{7 + 9 * i}:8080",
            f"checkout-svc-5b9f7d8c6-{s}",
            f"10.61.0.{20 + i}:10250",
        )
        for i, s in enumerate(("t8kq2", "v2mzr", "a9pwd", "c4xnl", "f7hbs", "k3rjt"))
    ]
    routes = [
        Route("POST", "/api/checkout", "/api/checkout", 0.2, 0.11),
        Route("GET", "/api/products/{n}", "/api/products/{id}", 0.6, 0.015),
        Route("GET", "/api/cart", "/api/cart", 0.2, 0.02),
    ]
    pool = client_pool(
        b, ["2a02:8388:e43::", "62.178.9.", "188.21.140.", "213.162.66.", "91.141.3."], 1100
    )
    site = Site(b, pods, routes, pool)

    def rate(m: float) -> float:
        return 6.0 if not hot(m) else 20.0

    def outcome(e: Event, m: float, i: int) -> None:
        if not hot(m):
            return
        if e.method == "POST" and b.rng.random() < 0.72:
            if b.rng.random() < 0.8:
                d = 50.0 + b.rng.uniform(0.05, 0.4)
                fail(e, 500, d, size=210)
                e.extra["exception"] = "CannotAcquireLockException"
                site.say(
                    e.t + d,
                    i,
                    ecs(
                        b,
                        e.t + d,
                        "ERROR",
                        "c.s.checkout.web.ErrorHandler",
                        "checkout failed sku=88120: PreparedStatementCallback; SQL [UPDATE inventory SET reserved = reserved + ? WHERE sku_id = ?]; Lock wait timeout exceeded; try restarting transaction",
                        thread=f"http-nio-8080-exec-{b.rng.randint(1, 200)}",
                        **{"error.type": "org.springframework.dao.CannotAcquireLockException"},
                    ),
                )
            else:
                e.duration = e.extra["app_dur"] = b.rng.uniform(8.0, 45.0)
        elif b.rng.random() < 0.15:
            e.duration = e.extra["app_dur"] = e.duration + b.rng.uniform(0.5, 4.0)

    site.run(
        rate=rate,
        outcome=outcome,
        kind="ingress",
        labels={"job": "shop-gw", "instance": "10.61.0.9:10254"},
        cluster="shop-checkout-svc-8080",
    )
    base = {"job": "checkout-svc", "namespace": ns, "container": ctr}
    java_side(
        b,
        pods,
        site.events,
        base,
        app="checkout-svc",
        busy=lambda m, i: 8 if not hot(m) else 95,
        cpu=lambda m, i: 0.35 if not hot(m) else 0.5,
        namespace=ns,
        container=ctr,
    )
    log_each(b, site.logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    for pod in pods:
        hikari(
            b,
            {**base, "instance": pod.addr, "pod": pod.pod, "application": "checkout-svc"},
            active=lambda m: (
                3 + b.rng.random() * 4 if not hot(m) else ramp(m, sale, sale + 2, 8, 40)
            ),
            pending=lambda m: (
                0 if not hot(m) else ramp(m, sale + 1, sale + 3, 0, 22) + b.rng.randint(0, 5)
            ),
            maximum=40,
            timeouts=lambda m: 0.0 if m < sale + 3 else 0.15,
        )
    db = {"job": "stock-db", "instance": "10.61.40.11:9104"}

    def waits(m: float) -> float:
        return 0 if not hot(m) else ramp(m, sale, sale + 2, 10, 118)

    mysqld_exporter(
        b,
        db,
        qps=lambda m: 1400 if not hot(m) else 2600,
        connected=lambda m: 60 if not hot(m) else ramp(m, sale, sale + 2, 80, 250),
        running=lambda m: 4 if not hot(m) else waits(m) + 9,
        lock_waits=lambda m: 0.02 if not hot(m) else 22.0,
        current_waits=waits,
        updating=waits,
        deadlocks=lambda m: 0.0 if not hot(m) else 0.01,
        max_connections=1000,
        version="8.0.41",
    )
    snap = {"job": "stock-db", "instance": "10.61.40.11:9104", "container": "lock-watch"}
    for k in range(60):
        t = b.t(k + 0.4)
        if k + 0.4 < sale:
            b.log(t, snap, logfmt(b, t, "info", "sys.innodb_lock_waits", rows=0))
            continue
        b.log(
            t,
            snap,
            logfmt(
                b,
                t,
                "warn",
                "sys.innodb_lock_waits",
                rows=int(waits(k)) + b.rng.randint(-5, 5),
                locked_table="`shop`.`inventory`",
                locked_index="PRIMARY",
                locked_type="RECORD",
                blocking_pid=b.rng.randint(7_700_000, 7_800_000),
                blocking_command="Query",
                blocking_trx_age=f"{b.rng.randint(0, 1)}s",
                blocking_query="UPDATE inventory SET reserved = reserved + 1 WHERE sku_id = 88120",
                waiting_query="UPDATE inventory SET reserved = reserved + 1 WHERE sku_id = 88120",
                wait_age_max=f"{min(50, int((k + 0.4 - sale) * 60))}s",
            ),
        )
    el = {"job": "stock-db", "instance": "10.61.40.11:9104", "container": "mysqld"}
    t = b.t(sale + 0.2)
    while t < b.t(60):
        b.log(
            t,
            el,
            mysql8_err(
                b,
                t,
                0,
                "Note",
                "MY-013360",
                "Plugin mysql_native_password reported: ''mysql_native_password' is deprecated and will be removed in a future release. Please use caching_sha2_password instead'",
            ),
        )
        t += b.rng.uniform(120, 400)
    return b


def billing_mysql_history_length() -> Bundle:  # size: one linear scenario script
    """At 03:12 a BI extractor (etl_bi@10.84.7.19, not in the topology) opened
    ``START TRANSACTION WITH CONSISTENT SNAPSHOT`` on billing-db and its process hung: the
    connection sits in Sleep with the transaction open, 5.8 h old when the window opens.
    Purge cannot pass its read view, so the history list length grows with the morning's
    writes (9 M -> 16 M).  Every read of the hot ``invoice_lines`` rows walks longer undo
    chains: buffer-pool read requests per question triple, CPU and Threads_running climb,
    billing-api (Go) queries slow from ~40 ms to 1-3 s; from ~09:35 requests pass the 3 s
    deadline ("context deadline exceeded", 504 at the ingress) on all pods, worse by the
    hour.  No lock waits, no scanning statement.  Root: the database (a long transaction /
    purge lag); end the idle snapshot transaction (thread 5512093)."""
    b = Bundle(
        "billing-mysql-history-length",
        "2029-04-17T09:00:00Z",
        description="billing API slower and slower, timeouts since 09:25",
        symptom={"component": "billing-ingress"},
    )

    def hll(m: float) -> float:
        return 9.1e6 + m * 1.2e5

    def slow(m: float) -> float:  # 1.0 -> ~33
        return (hll(m) / 9.1e6) ** 6

    ns, ctr = "billing", "api"
    b.component("billing-ingress", "proxy", {"job": "billing-ingress"}, ["billing-api"])
    b.component("billing-api", "app", {"namespace": ns, "container": ctr}, ["billing-db"])
    b.component("billing-db", "mysql", {"job": "billing-db"})
    pods = [
        Pod(f"10.84.{20 + i}.{33 + i}:8080", f"billing-api-7d4c9b8f5-{s}", f"10.84.0.{5 + i}:10250")
        for i, s in enumerate(("hx2lq", "jm8rw", "pp4zd", "wd6kc"))
    ]
    routes = [
        Route("GET", "/v3/invoices/{n}", "/v3/invoices/{id}", 0.55, 0.04),
        Route("GET", "/v3/invoices/{n}/lines", "/v3/invoices/{id}/lines", 0.3, 0.06),
        Route("POST", "/v3/invoices/{n}/lines", "/v3/invoices/{id}/lines", 0.15, 0.03),
    ]
    pool = client_pool(b, ["10.84.100.", "10.84.101.", "10.84.102.", "fd00:84:64::"], 70)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        d = e.duration * slow(m) * (1.6 if "lines" in e.path else 1.0)
        if d > 3.0:
            fail(e, 504, 3.0 + b.rng.uniform(0.0, 0.01), size=160)
            e.extra["app_dur"] = 3.0
            site.say(
                e.t + 3.0,
                i,
                zap(
                    b,
                    e.t + 3.0,
                    "error",
                    "store/invoices.go:144",
                    "query invoice lines",
                    invoice=e.path.split("/")[3],
                    error="context deadline exceeded",
                    elapsed="3.000412s",
                ),
            )
        else:
            e.duration = e.extra["app_dur"] = d

    site.run(
        rate=lambda m: 9.0 + m * 0.03,
        outcome=outcome,
        kind="ingress",
        labels={"job": "billing-ingress", "instance": "10.84.0.40:10254"},
        cluster="billing-billing-api-8080",
        agents=("billing-web/2029.4.2", "Go-http-client/2.0", "dunning-worker/1.9"),
    )
    site.apps(
        {"job": "billing-api", "namespace": ns, "container": ctr},
        {"namespace": ns, "container": ctr, "stream": "stderr"},
        namespace=ns,
        container=ctr,
        goroutines=lambda m, i: 60 + 12 * slow(m),
        blip=3,
    )
    db = {"job": "billing-db", "instance": "10.84.50.6:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 2100,
        connected=lambda m: 70 + 4 * slow(m),
        running=lambda m: 3 + 3.2 * slow(m),
        sleeping=lambda m: 66,
        scan_rows=lambda m: 5e4 * (slow(m) - 1) * 40,
        version="8.0.41",
    )

    def trx_age(m: float) -> float:
        return 20_850 + m * 60

    mysql_more(b, db, history=hll, trx_seconds=lambda m: trx_age(m) + 66 * 4)
    node_exporter(
        b,
        {"job": "billing-db", "instance": "10.84.50.6:9100"},
        busy=lambda m: min(0.95, 0.12 * slow(m) ** 0.8),
        avail=lambda m: 30e9,
        iowait=lambda m: 0.02,
    )
    watch = {"job": "billing-db", "instance": "10.84.50.6:9104", "container": "trx-watch"}
    for k in range(30):
        t = b.t(k * 2 + 0.7)
        b.log(
            t,
            watch,
            logfmt(
                b,
                t,
                "warn",
                "information_schema.innodb_trx oldest",
                trx_id=421_889_120_334,
                trx_state="RUNNING",
                trx_started="2029-04-17 03:12:44",
                age_s=int(trx_age(k * 2 + 0.7)),
                trx_mysql_thread_id=5512093,
                user="etl_bi",
                host="10.84.7.19:50412",
                command="Sleep",
                trx_rows_locked=0,
                trx_isolation_level="REPEATABLE READ",
                trx_query="NULL",
                history_list_length=int(hll(k * 2 + 0.7)),
            ),
        )
    return b


def ads_mysql_buffer_pool_thrash() -> Bundle:  # size: one linear scenario script
    """Overnight a backfill loaded Q2 impression history into ads-db (MySQL 8.0, 24 GB buffer
    pool); the hot data no longer fits.  When the morning traffic ramps from 08:10 the pool
    thrashes: Innodb_buffer_pool_reads (disk) from ~30/s to ~3,500/s,
    Innodb_buffer_pool_wait_free from 0 to ~150/s, iowait 45 %, disk reads 300 MB/s,
    Threads_running ~60.  No statement stands out: the slow log holds ordinary indexed
    lookups taking 1-3 s with a few hundred rows examined.  campaign-api (Go) answers 503
    when its 1.5 s DB budget runs out, ~11 % of requests on every pod from ~08:20.
    Root: the database (buffer pool exhaustion); nothing to kill."""
    b = Bundle(
        "ads-mysql-buffer-pool-thrash",
        "2029-05-08T08:00:00Z",
        description="campaign API 503 and slow since the morning ramp",
        symptom={"component": "ads-lb"},
    )

    def load(m: float) -> float:
        return ramp(m, 8, 25, 1.0, 2.4)

    def press(m: float) -> float:  # 0 -> 1
        return max(0.0, (load(m) - 1.5) / 0.9)

    b.component("ads-lb", "proxy", {"job": "ads-lb"}, ["campaign-api"])
    b.component("campaign-api", "app", {"job": "campaign-api"}, ["ads-db"])
    b.component("ads-db", "mysql", {"job": "ads-db"})
    pods = [
        Pod(f"172.20.{8 + i}.{140 + i}:7070", f"campaign-api-66c7d9f84-{s}")
        for i, s in enumerate(("rq1", "rw2", "re3", "rt4", "ry5"))
    ]
    routes = [
        Route("GET", "/v1/campaigns/{n}/pacing", "/v1/campaigns/{id}/pacing", 0.5, 0.02),
        Route("GET", "/v1/campaigns/{n}/stats?range=1d", "/v1/campaigns/{id}/stats", 0.3, 0.05),
        Route("POST", "/v1/impressions/batch", "/v1/impressions/batch", 0.2, 0.03),
    ]
    pool = client_pool(b, ["172.20.60.", "172.20.61.", "172.20.62."], 90)
    site = Site(b, pods, routes, pool)

    def outcome(e: Event, m: float, i: int) -> None:
        p = press(m)
        if p <= 0:
            return
        d = e.duration * (1 + 40 * p * b.rng.random())
        if d > 1.5:
            fail(e, 503, 1.5 + b.rng.uniform(0, 0.005), size=96)
            site.say(
                e.t + 1.5,
                i,
                zap(
                    b,
                    e.t + 1.5,
                    "warn",
                    "handler/pacing.go:77",
                    "db budget exhausted",
                    path=e.path,
                    budget="1.5s",
                    error="context deadline exceeded",
                ),
            )
        else:
            e.duration = e.extra["app_dur"] = d

    site.run(
        rate=lambda m: 9.0 * load(m),
        outcome=outcome,
        kind="nginx",
        labels={"job": "ads-lb", "instance": "172.20.0.4:9113"},
        fmt=lambda e: nginx_json_line(b, e, "campaign.ads.internal"),
        agents=("bidder/5.2", "Go-http-client/1.1"),
    )
    site.apps(
        {"job": "campaign-api"},
        {"job": "campaign-api", "stream": "stderr"},
        goroutines=lambda m, i: 80 + 300 * press(m),
    )
    db = {"job": "ads-db", "instance": "172.20.30.2:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 2600 * load(m) * (1 - 0.25 * press(m)),
        connected=lambda m: 90 + 60 * press(m),
        running=lambda m: 4 * load(m) + 55 * press(m),
        scan_rows=lambda m: 90 * (30 + 3470 * press(m)),
        slow=lambda m: 0.01 + 4 * press(m),
        tmp_disk=lambda m: 0.1 * load(m),
        version="8.0.40",
    )
    mysql_more(b, db, wait_free=lambda m: 150 * press(m) ** 1.5)
    node = {"job": "ads-db", "instance": "172.20.30.2:9100"}
    node_exporter(
        b,
        node,
        busy=lambda m: 0.1 * load(m) + 0.1 * press(m),
        avail=lambda m: 3.1e9,
        mem_total=32e9,
        iowait=lambda m: 0.02 + 0.43 * press(m),
    )
    b.counter(
        "node_disk_read_bytes_total",
        {**node, "device": "nvme1n1"},
        lambda m: 3e6 + 3e8 * press(m),
        start=4.1e14,
    )
    b.counter(
        "node_disk_io_time_seconds_total",
        {**node, "device": "nvme1n1"},
        lambda m: 0.05 + 0.9 * press(m),
        integer=False,
        start=2.2e6,
    )
    sl = {"job": "ads-db", "instance": "172.20.30.2:9104", "log": "slow"}
    queries = [
        (
            "SELECT budget_spent, pacing_rate FROM campaign_pacing WHERE campaign_id = {n} AND day = CURDATE()",
            1,
            2,
        ),
        (
            "SELECT SUM(impressions), SUM(clicks) FROM impressions_daily WHERE campaign_id = {n} AND day >= CURDATE() - INTERVAL 1 DAY",
            2,
            388,
        ),
        (
            "INSERT INTO impressions_raw (campaign_id, creative_id, ts, cost_micros) VALUES ({n}, 77, NOW(), 1830)",
            0,
            0,
        ),
        ("SELECT id, status FROM creatives WHERE campaign_id = {n}", 9, 9),
    ]
    t = b.t(0.5)
    while t < b.t(60):
        p = press(b.m(t))
        if p > 0 or b.rng.random() < 0.05:
            sql, sent, ex = b.rng.choice(queries)
            qt = 1.0 + 2.0 * b.rng.random() if p > 0 else 1.02
            b.log(
                t,
                sl,
                mysql_slow(
                    b,
                    t,
                    user="campaign",
                    host=f"172.20.{8 + b.rng.randint(0, 4)}.{140 + b.rng.randint(0, 4)}",
                    thread=b.rng.randint(3_100_000, 3_300_000),
                    qt=qt,
                    lt=0.000021,
                    sent=sent,
                    examined=ex,
                    sql=sql.format(n=b.rng.randint(10000, 99999)),
                    db="ads",
                ),
            )
        t += 8.0 / (0.2 + 4 * p) * b.rng.uniform(0.5, 1.5)
    return b
