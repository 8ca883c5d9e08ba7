"""MySQL 8 and MariaDB incidents whose callers speak only the database's vocabulary."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    Pod,
    Route,
    app_side,
    edge,
    hikari,
    jvm,
    log_each,
    logfmt,
    mariadb_err,
    mysql8_err,
    mysql_replica_status,
    mysql_slow,
    nginx_json_line,
    nginx_timed_line,
    spring,
    zap,
)

JAVA_1205 = [
    "org.springframework.dao.CannotAcquireLockException: PreparedStatementCallback; SQL [update wallet_balance set amount = amount - ?, version = version + 1 where wallet_id = ? and version = ?]; Lock wait timeout exceeded; try restarting transaction",
    "\tat org.springframework.jdbc.support.SQLErrorCodeSQLExceptionTranslator.doTranslate(SQLErrorCodeSQLExceptionTranslator.java:267)",
    "\tat org.springframework.jdbc.core.JdbcTemplate.update(JdbcTemplate.java:1013)",
    "\tat eu.pay.wallet.store.BalanceStore.debit(BalanceStore.java:88)",
    "\tat eu.pay.wallet.api.DebitController.debit(DebitController.java:54)",
    "Caused by: com.mysql.cj.jdbc.exceptions.MySQLTransactionRollbackException: Lock wait timeout exceeded; try restarting transaction",
    "\tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:123)",
    "\tat com.mysql.cj.jdbc.ClientPreparedStatement.executeUpdateInternal(ClientPreparedStatement.java:1061)",
    "\tat com.zaxxer.hikari.pool.HikariProxyPreparedStatement.executeUpdate(HikariProxyPreparedStatement.java)",
    "\t... 58 common frames omitted",
]


def wallet_mysql_idle_holder() -> Bundle:
    """A reconciliation job (172.22.9.40, user recon, not in the topology) freezes merchant
    7781's wallets inside a transaction at 10:21:30, then blocks on a partner HTTP call
    that never returns: the connection sits in Sleep holding ~9,400 row locks.  Every
    debit of that merchant's wallets waits innodb_lock_wait_timeout (50 s) and fails with
    MySQLTransactionRollbackException; the Hikari pools of all four wallet-svc pods fill
    with waiting connections, so from ~10:26 unrelated requests also time out ("Connection
    is not available") -- a symptom of the database's lock, not a pool problem."""
    b = Bundle(
        "wallet-mysql-idle-holder",
        "2028-02-08T10:00:00Z",
        description="wallet debits fail after ~50 s, then other wallet calls time out",
        symptom={"component": "wallet-gw", "route": "/v2/wallets/{id}/debit"},
    )
    onset = 21.5
    ns, ctr = "payments-eu", "wallet"
    b.component("wallet-gw", "proxy", {"job": "wallet-gw"}, ["wallet-svc"])
    b.component("wallet-svc", "app", {"namespace": ns, "container": ctr}, ["wallet-db"])
    b.component("wallet-db", "mysql", {"job": "wallet-db"})
    pods = [
        Pod(
            f"172.22.{4 + i}.{31 + 7 * i}:8080",
            f"wallet-svc-6f8b7d9c4-{s}",
            f"172.22.0.{11 + i}:10250",
        )
        for i, s in enumerate(("q7rtz", "m2vxw", "h9kpl", "b4nfd"))
    ]
    routes = [
        Route("POST", "/v2/wallets/w_{n}/debit", "/v2/wallets/{id}/debit", 0.4, 0.035),
        Route("GET", "/v2/wallets/w_{n}", "/v2/wallets/{id}", 0.45, 0.012),
        Route("GET", "/v2/wallets/w_{n}/history", "/v2/wallets/{id}/history", 0.15, 0.06),
    ]
    clients = pick_clients(b, client_pool(b, ["172.22.60.", "172.22.61.", "172.22.62."], 40))
    held = lambda m: m >= onset  # noqa: E731
    pool_full = lambda m: m >= onset + 4.5  # noqa: E731
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if held(m) and e.method == "POST" and b.rng.random() < 0.34:
            d = 50.0 + b.rng.uniform(0.01, 0.2)
            fail(e, 500, d)
            logs.append(
                (
                    e.t + d,
                    i,
                    spring(
                        b,
                        e.t + d,
                        "ERROR",
                        f"http-nio-8080-exec-{b.rng.randint(1, 200)}",
                        "e.p.w.api.ErrorAdvice",
                        "debit failed merchant=7781",
                        JAVA_1205,
                    ),
                )
            )
        elif pool_full(m) and b.rng.random() < 0.09:
            fail(e, 503, 30.0 + b.rng.uniform(0.0, 0.05))
            logs.append(
                (
                    e.t + 30.0,
                    i,
                    spring(
                        b,
                        e.t + 30.0,
                        "WARN",
                        f"http-nio-8080-exec-{b.rng.randint(1, 200)}",
                        "e.p.w.api.ErrorAdvice",
                        "HikariPool-1 - Connection is not available, request timed out after 30000ms (total=30, active=30, idle=0, waiting=41)",
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 7.5,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "wallet-gw", "instance": "172.22.0.90:10254"},
        cluster="payments-eu-wallet-svc-8080",
        agents=("merchant-sdk-java/4.2.1", "okhttp/4.12.0", "checkout-web/2028.02"),
    )
    base = {"job": "wallet-svc", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr, go=False, mem=lambda m, i: 690e6)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stdout"})
    for pod in pods:
        labels = {**base, "instance": pod.addr, "pod": pod.pod}
        hikari(
            b,
            labels,
            active=lambda m: ramp(m, onset, onset + 4.5, 3 + b.rng.random() * 3, 30),
            pending=lambda m: (
                ramp(m, onset + 4, onset + 6, 0, 41) + b.rng.randint(0, 6) if held(m) else 0
            ),
            maximum=30,
            timeouts=lambda m: 0.6 if pool_full(m) else 0.0,
        )
        jvm(
            b,
            labels,
            heap=lambda m: 410e6,
            heap_max=1.0e9,
            gc_rate=lambda m: 0.3,
            gc_pause=lambda m: 0.008,
        )
    db = {"job": "wallet-db", "instance": "172.22.30.5:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 520 - (90 if held(m) else 0),
        connected=lambda m: ramp(m, onset, onset + 4.5, 38, 128),
        running=lambda m: ramp(m, onset, onset + 4.5, 4, 118),
        lock_waits=lambda m: 0.8 if held(m) else 0.01,
        current_waits=lambda m: ramp(m, onset, onset + 4.5, 0, 117) if held(m) else 0,
        updating=lambda m: ramp(m, onset, onset + 4.5, 0, 117) if held(m) else 0,
        sleeping=lambda m: 34 + (1 if held(m) else 0),
        max_connections=600,
        version="8.0.39",
    )
    dbl = {"job": "wallet-db", "instance": "172.22.30.5:9104", "stream": "stderr"}
    b.log(
        b.t(3.2),
        dbl,
        mysql8_err(
            b,
            b.t(3.2),
            0,
            "Warning",
            "MY-010055",
            "IP address '172.22.60.14' could not be resolved: Name or service not known",
        ),
    )
    snap = {"job": "wallet-db", "instance": "172.22.30.5:9104", "container": "lock-snapshot"}
    for k in range(60):
        t = b.t(k + 0.25)
        if k + 0.25 < onset:
            b.log(t, snap, logfmt(b, t, "info", "sys.innodb_lock_waits", rows=0))
            continue
        age = int((k + 0.25 - onset) * 60) + 12
        b.log(
            t,
            snap,
            logfmt(
                b,
                t,
                "warn",
                "sys.innodb_lock_waits",
                rows=int(ramp(k, onset, onset + 4.5, 6, 117)) + b.rng.randint(-4, 4),
                locked_table="`wallet`.`wallet_balance`",
                blocking_pid=88213,
                blocking_user="recon@172.22.9.40",
                blocking_command="Sleep",
                blocking_trx_age=f"{age}s",
                blocking_trx_rows_locked=9412,
                blocking_query="NULL",
                sql_kill_blocking_connection="KILL 88213",
                waiting_query="update wallet_balance set amount = amount - ? ...",
            ),
        )
    return b


def pricing_mariadb_lost_index() -> Bundle:
    """At 14:11:40 a schema migration on MariaDB 10.11 drops idx_sku_region from
    price_rules (the new composite index was meant to be created first).  From then on
    every price lookup scans 2.1 M rows (3-9 s), Threads_running climbs and at 14:18
    Threads_connected reaches max_connections (300): the php-fpm workers of all three VMs
    fail with "SQLSTATE[HY000] [1040] Too many connections" or hit nginx's 10 s
    fastcgi timeout.  30 s scrapes.  Kill the scans on the database (and restore the
    index)."""
    b = Bundle(
        "pricing-mariadb-lost-index",
        "2028-03-14T14:00:00Z",
        description="price API 502/504, pages without prices",
        symptom={"component": "pricing-web", "route": "/api/price"},
        step=30,
    )
    onset, full = 11 + 40 / 60, 18.0
    b.component("pricing-web", "proxy", {"job": "pricing-web"}, ["pricing-php"])
    b.component("pricing-php", "app", {"job": "pricing-php"}, ["pricing-db"])
    b.component("pricing-db", "mysql", {"job": "pricing-db"})
    vms = [Pod(f"192.168.40.{21 + i}:9000") for i in range(3)]
    routes = [
        Route("GET", "/api/price?sku=SKU-{n}&region=de", "/api/price", 0.75, 0.03),
        Route("GET", "/api/promo/active", "/api/promo/active", 0.2, 0.02),
        Route("POST", "/api/cart/quote", "/api/cart/quote", 0.05, 0.08),
    ]
    clients = pick_clients(b, client_pool(b, ["192.168.50.", "192.168.51."], 30))
    pain = lambda m: 0.0 if m < onset else ramp(m, onset, full, 0.2, 1.0)  # noqa: E731
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if m < onset or e.path.startswith("/api/promo"):
            return
        r = b.rng.random()
        if m >= full and r < 0.38:
            fail(e, 502, b.rng.uniform(0.002, 0.02))
            logs.append(
                (
                    e.t + 0.01,
                    i,
                    f"[{b.dt(e.t).strftime('%d-%b-%Y %H:%M:%S')} UTC] PHP Fatal error:  Uncaught PDOException: SQLSTATE[HY000] [1040] Too many connections in /srv/pricing/src/Infra/Db.php:38",
                )
            )
        elif r < 0.5 * pain(m):
            d = min(10.0, 3.0 + b.rng.random() * 9)
            if d >= 10.0:
                fail(e, 504, 10.0)
                e.upstream_status = "504"
            else:
                e.duration = e.extra["app_dur"] = d

    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 11.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "pricing-web", "instance": "192.168.40.10:9113"},
        stream={"filename": "/var/log/nginx/pricing.access.log"},
        fmt=lambda e: nginx_timed_line(b, e),
        active=lambda m: 80 + 400 * pain(m),
        agents=("shop-frontend/8.1 (php)", "Mozilla/5.0 (X11; Linux x86_64) Chrome/132.0"),
    )
    base = {"job": "pricing-php"}
    app_side(b, vms, events, base, go=False, cpu=lambda m, i: 0.6 + 0.3 * pain(m))
    for vm in vms:
        labels = {**base, "instance": vm.addr, "pool": "www"}
        b.gauge(
            "phpfpm_active_processes", labels, lambda m: int(6 + 44 * pain(m)) + b.rng.randint(0, 3)
        )
        b.gauge("phpfpm_total_processes", labels, lambda m: 50)
        b.counter("phpfpm_max_children_reached", labels, lambda m: 0.05 if pain(m) > 0.8 else 0.0)
        b.counter("phpfpm_accepted_connections", labels, lambda m: 3.7, start=88_120_441)
    log_each(b, logs, vms, {"job": "pricing-php", "filename": "/var/log/php8.3-fpm.log"})
    db = {"job": "pricing-db", "instance": "192.168.40.50:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 2600 - 1500 * pain(m),
        connected=lambda m: ramp(m, onset, full, 42, 301) if m >= onset else 42,
        running=lambda m: 4 + 280 * pain(m),
        slow=lambda m: 6.0 * pain(m),
        sending=lambda m: 270 * pain(m),
        max_connections=300,
        aborted_connects=lambda m: 2.5 if m >= full else 0.0,
        version="10.11.8-MariaDB",
        scan_rows=lambda m: 1.6e6 * pain(m),
    )
    dbl = {"job": "pricing-db", "instance": "192.168.40.50:9104"}
    slow_labels = {**dbl, "filename": "/var/log/mysql/mariadb-slow.log"}
    err_labels = {**dbl, "filename": "/var/log/mysql/error.log"}
    b.log(
        b.t(onset - 0.1),
        slow_labels,
        mysql_slow(
            b,
            b.t(onset - 0.1),
            user="migrate",
            host="192.168.40.9",
            thread=771230,
            qt=2.91,
            lt=0.0,
            sent=0,
            examined=0,
            sql="ALTER TABLE price_rules DROP INDEX idx_sku_region, ALGORITHM=INPLACE, LOCK=NONE",
            db="pricing",
        ),
    )
    t = b.t(onset + 0.2)
    while t < b.t(60):
        qt = 3.0 + b.rng.random() * 6
        b.log(
            t,
            slow_labels,
            mysql_slow(
                b,
                t,
                user="pricing",
                host=f"192.168.40.{b.rng.randint(21, 23)}",
                thread=b.rng.randint(771300, 790000),
                qt=qt,
                lt=0.0001,
                sent=1,
                examined=2_104_000 + b.rng.randint(0, 9000),
                sql=f"SELECT rule_id, amount, currency FROM price_rules WHERE sku = 'SKU-{b.rng.randint(1000, 98000)}' AND region = 'de' AND valid_to > NOW() ORDER BY priority DESC LIMIT 1",
                db="pricing",
            ),
        )
        t += b.rng.expovariate(0.4 + 2.5 * pain(b.m(t)))
    for k in range(int(full * 60), 3600, 7):
        tt = b.t(k / 60)
        b.log(
            tt,
            err_labels,
            mariadb_err(
                b,
                tt,
                0,
                "Warning",
                f"Aborted connection {800000 + k} to db: 'unconnected' user: 'unauthenticated' host: '192.168.40.2{k % 3 + 1}' (Too many connections)",
            ),
        )
    return b


def catalog_mysql_replica_lag() -> Bundle:
    """At 09:11 a housekeeping job deletes 14 M old price_history rows in ONE transaction
    on the primary (6 min, then committed).  The MySQL 8 replica applies that transaction
    as one unit: Seconds_Behind_Source climbs from 0 to ~2,400 s and keeps climbing at the
    window's end while the SQL thread works through it.  catalog-api serves /v1/stock from
    the replica and refuses data staler than 60 s (503 "replica lag too high") on all three
    pods alike; the primary is healthy once the delete commits."""
    b = Bundle(
        "catalog-mysql-replica-lag",
        "2028-04-03T09:00:00Z",
        description="stock availability endpoint returns 503",
        symptom={"component": "catalog-lb", "route": "/v1/stock"},
    )
    commit = 17.0
    lag = lambda m: 0.3 + b.rng.random() * 0.6 if m < commit else (m - commit) * 60 * 0.93  # noqa: E731
    stale = lambda m: m >= commit + 1.1  # noqa: E731
    b.component("catalog-lb", "proxy", {"job": "catalog-lb"}, ["catalog-api"])
    b.component(
        "catalog-api", "app", {"job": "catalog-api"}, ["catalog-primary", "catalog-replica"]
    )
    b.component("catalog-primary", "mysql", {"job": "catalog-primary"})
    b.component("catalog-replica", "mysql", {"job": "catalog-replica"})
    pods = [
        Pod(f"10.230.{12 + i}.{40 + i}:8080", f"catalog-api-5c6d7b8f9-{s}")
        for i, s in enumerate(("xk2p9", "vw3z7", "rt8n4"))
    ]
    routes = [
        Route("GET", "/v1/stock?sku={n}", "/v1/stock", 0.35, 0.015),
        Route("GET", "/v1/products/{n}", "/v1/products/{id}", 0.55, 0.02),
        Route("PUT", "/v1/products/{n}", "/v1/products/{id}", 0.1, 0.03),
    ]
    clients = pick_clients(b, client_pool(b, ["10.230.100.", "10.230.101.", "10.230.102."], 25))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if stale(m) and e.path.startswith("/v1/stock"):
            fail(e, 503, b.rng.uniform(0.002, 0.006))
            logs.append(
                (
                    e.t,
                    i,
                    zap(
                        b,
                        e.t,
                        "warn",
                        "stock/handler.go:71",
                        "replica lag too high, refusing stale stock",
                        replica="10.230.40.22:3306",
                        lag_seconds=int(lag(m)),
                        max_lag_seconds=60,
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 9.0,
        clients=clients,
        outcome=outcome,
        kind="envoy",
        labels={"job": "catalog-lb", "instance": "10.230.0.8:9901"},
        cluster="catalog-api",
        agents=("storefront-ssr/19.2", "inventory-sync/1.8"),
    )
    base = {"job": "catalog-api"}
    app_side(b, pods, events, base, blip=2)
    log_each(b, logs, pods, {"job": "catalog-api", "stream": "stderr"})
    primary = {"job": "catalog-primary", "instance": "10.230.40.21:9104"}
    replica = {"job": "catalog-replica", "instance": "10.230.40.22:9104"}
    deleting = lambda m: 11.0 <= m < commit  # noqa: E731
    mysqld_exporter(
        b,
        primary,
        qps=lambda m: 900,
        connected=lambda m: 60,
        running=lambda m: 5 + (1 if deleting(m) else 0),
        updating=lambda m: 1 if deleting(m) else 0,
        version="8.0.40",
    )
    mysqld_exporter(
        b,
        replica,
        qps=lambda m: 1400,
        connected=lambda m: 48,
        running=lambda m: 3 + (1 if m >= commit else 0),
        updating=lambda m: 1 if m >= commit else 0,
        version="8.0.40",
    )
    mysql_replica_status(b, replica, lag=lag, master="10.230.40.21")
    pl = {
        "job": "catalog-primary",
        "instance": "10.230.40.21:9104",
        "filename": "/var/log/mysql/mysql-slow.log",
    }
    b.log(
        b.t(commit),
        pl,
        mysql_slow(
            b,
            b.t(commit),
            user="housekeeping",
            host="10.230.50.3",
            thread=5512034,
            qt=361.2,
            lt=0.0002,
            sent=0,
            examined=14_211_873,
            sql="DELETE FROM price_history WHERE recorded_at < '2026-01-01 00:00:00'",
            db="catalog",
        ),
    )
    rl = {
        "job": "catalog-replica",
        "instance": "10.230.40.22:9104",
        "filename": "/var/log/mysql/error.log",
    }
    for k in range(int(commit) + 3, 60, 9):
        t = b.t(k + 0.4)
        b.log(
            t,
            rl,
            mysql8_err(
                b,
                t,
                12,
                "Note",
                "MY-010584",
                f"Replica SQL for channel '': worker thread is applying a large transaction (14211873 rows in table catalog.price_history), Seconds_Behind_Source={int(lag(k + 0.4))}, Error_code: MY-010584",
            ),
        )
    return b


def reports_mariadb_tmpdir_full() -> Bundle:
    """A CSV export run with SELECT ... INTO OUTFILE '/tmp/orders_full_2028.csv' during the
    afternoon left a 19 GB file in MariaDB's tmpdir (its own 20 GB volume).  From 16:09 every
    report that needs an on-disk temporary table fails: MariaDB logs "Disk full
    (/tmp/#sql-temptable-...); waiting for someone to free some space" and "Incorrect key
    file for table ...; try to repair it"; the reports pods' pymysql raises (126,
    "Incorrect key file ...") or (1030, 'Got error 28 "No space left on device" ...').
    Simple lookups still work.  Root: the database's disk; killing queries frees nothing
    (the space is a file): delete the export."""
    b = Bundle(
        "reports-mariadb-tmpdir-full",
        "2028-04-19T16:00:00Z",
        description="BI reports fail with 500",
        symptom={"component": "reports-ingress", "route": "/reports/run"},
    )
    onset = 9.0
    ns, ctr = "bi", "reports"
    b.component("reports-ingress", "proxy", {"job": "reports-ingress"}, ["reports-svc"])
    b.component("reports-svc", "app", {"namespace": ns, "container": ctr}, ["reports-db"])
    b.component("reports-db", "mysql", {"job": "reports-db"})
    pods = [
        Pod(f"100.96.{7 + i}.{19 + i * 4}:8000", f"reports-svc-{s}", f"100.96.0.{40 + i}:10250")
        for i, s in enumerate(("77d9c6f5b8-sl2mq", "77d9c6f5b8-ce6wd"))
    ]
    routes = [
        Route("POST", "/reports/run", "/reports/run", 0.3, 1.8, 40000),
        Route("GET", "/reports/{n}", "/reports/{id}", 0.5, 0.05),
        Route("GET", "/reports/catalog", "/reports/catalog", 0.2, 0.03),
    ]
    clients = pick_clients(b, client_pool(b, ["100.96.200.", "100.96.201."], 35))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= onset and e.method == "POST" and b.rng.random() < 0.8:
            fail(e, 500, b.rng.uniform(0.3, 1.4))
            if b.rng.random() < 0.5:
                err = "pymysql.err.InternalError: (126, \"Incorrect key file for table '/tmp/#sql-temptable-1b2e-5f1-a3.MAI'; try to repair it\")"
            else:
                err = "pymysql.err.OperationalError: (1030, 'Got error 28 \"No space left on device\" from storage engine Aria')"
            logs.append(
                (
                    e.t + e.duration,
                    i,
                    f'{b.dt(e.t).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3]} ERROR [reports.runner] report failed db=100.96.30.4:3306\nTraceback (most recent call last):\n  File "/app/reports/runner.py", line 112, in run\n    cur.execute(sql, params)\n  File "/usr/local/lib/python3.12/site-packages/pymysql/cursors.py", line 153, in execute\n    result = self._query(query)\n{err}',
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 2.2,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "reports-ingress", "instance": "100.96.0.9:10254"},
        cluster="bi-reports-svc-8000",
    )
    base = {"job": "reports-svc", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr, go=False, mem=lambda m, i: 380e6)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stderr"})
    db = {"job": "reports-db", "instance": "100.96.30.4:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 180,
        connected=lambda m: 22,
        running=lambda m: 3,
        tmp_disk=lambda m: 0.4 if m < onset else 0.05,
        version="10.6.18-MariaDB",
    )
    node_exporter(
        b,
        {"job": "reports-db", "instance": "100.96.30.4:9100"},
        busy=lambda m: 0.18,
        avail=lambda m: 21e9,
        mem_total=32e9,
    )
    tmpfs = {
        "job": "reports-db",
        "instance": "100.96.30.4:9100",
        "device": "/dev/nvme1n1",
        "fstype": "xfs",
        "mountpoint": "/var/lib/mysql-tmp",
    }
    b.gauge("node_filesystem_size_bytes", tmpfs, lambda m: int(20e9))
    b.gauge(
        "node_filesystem_avail_bytes",
        tmpfs,
        lambda m: (
            int(max(0.0, ramp(m, 0, onset, 3.1e9, 0.0)))
            + (b.rng.randint(0, 90_000) if m >= onset else 0)
        ),
    )
    el = {
        "job": "reports-db",
        "instance": "100.96.30.4:9104",
        "filename": "/var/log/mysql/error.log",
    }
    t = b.t(onset)
    while t < b.t(60):
        tmp = f"/var/lib/mysql-tmp/#sql-temptable-1b2e-{b.rng.randint(100, 999):x}-{b.rng.randint(1, 99):x}.MAI"
        b.log(
            t,
            el,
            mariadb_err(
                b,
                t,
                b.rng.randint(3000, 9000),
                "ERROR",
                f'mariadbd: Disk full ({tmp}); waiting for someone to free some space... (errno: 28 "No space left on device")',
            ),
        )
        b.log(
            t + 0.4,
            el,
            mariadb_err(
                b,
                t + 0.4,
                b.rng.randint(3000, 9000),
                "ERROR",
                f"mariadbd: Incorrect key file for table '{tmp}'; try to repair it",
            ),
        )
        t += b.rng.uniform(12, 40)
    return b


def geo_mysql_oom_restarts() -> Bundle:
    """Yesterday's tuning raised innodb_buffer_pool_size to 27 GB on a 32 GB VM.  Under the
    morning peak, per-connection buffers push mysqld over the edge: the kernel OOM-kills it
    at 07:14, 07:30 and 07:47; each time mysqld restarts and runs crash recovery for ~3.5
    min (mysql_up 0, "Database was not shutdown normally!").  geo-svc pods (dual-stack,
    IPv6) report only the driver's words: "dial tcp [fd4e:7a1:c0de:40::15]:3306: connect:
    connection refused", "invalid connection".  Root: the database (crash); nothing the
    project's actions can fix (lower the buffer pool)."""
    b = Bundle(
        "geo-mysql-oom-restarts",
        "2028-05-10T07:00:00Z",
        description="geo lookups fail in waves",
        symptom={"component": "geo-edge"},
    )
    kills = [14.2, 30.6, 47.3]
    down = lambda m: any(k <= m < k + 3.5 for k in kills)  # noqa: E731
    b.component("geo-edge", "proxy", {"job": "geo-edge"}, ["geo-svc"])
    b.component("geo-svc", "app", {"job": "geo-svc"}, ["geo-mysql"])
    b.component("geo-mysql", "mysql", {"job": "geo-mysql"})
    pods = [
        Pod(f"[fd4e:7a1:c0de:12::{a}]:8080", f"geo-svc-7b9f6c5d4-{s}")
        for a, s in (("3a", "pp2k1"), ("4c", "wq8d2"), ("51", "jm5t7"))
    ]
    routes = [
        Route("GET", "/v3/ip/{n}", "/v3/ip/{ip}", 0.8, 0.006),
        Route("GET", "/v3/region?lat=48.{n}&lon=2.{n}", "/v3/region", 0.2, 0.011),
    ]
    clients = pick_clients(
        b, client_pool(b, ["2a01:e0a:1c4::", "2a02:8428:9f1::", "88.170.34.", "90.84.12."], 300)
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if down(m) and b.rng.random() < 0.93:
            fail(e, 500, b.rng.uniform(0.001, 0.004))
            err = (
                "dial tcp [fd4e:7a1:c0de:40::15]:3306: connect: connection refused"
                if b.rng.random() < 0.8
                else "invalid connection"
            )
            logs.append(
                (
                    e.t,
                    i,
                    zap(
                        b,
                        e.t,
                        "error",
                        "store/mysql.go:92",
                        "lookup failed",
                        error=err,
                        query="geo_block_by_ip",
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 14.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "geo-edge", "instance": "[fd4e:7a1:c0de:1::10]:9113"},
        stream={"stream": "access"},
        fmt=lambda e: nginx_json_line(b, e, "geo.internal.example"),
        agents=("geo-client-go/2.4", "Mozilla/5.0 (Android 15; Mobile) Firefox/133.0"),
    )
    app_side(
        b, pods, events, {"job": "geo-svc"}, goroutines=lambda m, i: 60 + (400 if down(m) else 0)
    )
    log_each(b, logs, pods, {"job": "geo-svc", "stream": "stderr"})
    db = {"job": "geo-mysql", "instance": "[fd4e:7a1:c0de:40::15]:9104"}
    since = lambda m: min((m - k for k in kills if m >= k), default=99.0)  # noqa: E731
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 2400 if since(m) > 6 else 1600,
        connected=lambda m: 170 + 10 * min(m % 16, 8),
        running=lambda m: 6 if since(m) > 6 else 24,
        up=lambda m: not down(m),
        version="8.0.39",
    )
    node_exporter(
        b,
        {"job": "geo-mysql", "instance": "[fd4e:7a1:c0de:40::15]:9100"},
        busy=lambda m: 0.35,
        avail=lambda m: 4.1e9 - 2.6e8 * min(since(m), 16) if not down(m) else 2.2e10,
        mem_total=32e9,
    )
    b.counter_steps(
        "node_vmstat_oom_kill",
        {"job": "geo-mysql", "instance": "[fd4e:7a1:c0de:40::15]:9100"},
        [b.t(k) for k in kills],
        start=3,
        kind="unknown",
    )
    el = {
        "job": "geo-mysql",
        "instance": "[fd4e:7a1:c0de:40::15]:9104",
        "filename": "/var/log/mysql/error.log",
    }
    for n, k in enumerate(kills):
        t = b.t(k + 0.15)
        for dt_, prio, code, msg in (
            (
                0.0,
                "System",
                "MY-010116",
                f"/usr/sbin/mysqld (mysqld 8.0.39) starting as process {2113 + 97 * n}",
            ),
            (0.4, "System", "MY-013576", "InnoDB initialization has started."),
            (1.1, "Note", "MY-012551", "Database was not shutdown normally!"),
            (
                1.2,
                "Note",
                "MY-013086",
                "Starting to parse redo log at lsn = 918273341122, whereas checkpoint_lsn = 918273340911",
            ),
            (150.0, "System", "MY-013577", "InnoDB initialization has ended."),
            (
                198.0,
                "System",
                "MY-010931",
                "/usr/sbin/mysqld: ready for connections. Version: '8.0.39'  socket: '/var/run/mysqld/mysqld.sock'  port: 3306  MySQL Community Server - GPL.",
            ),
        ):
            b.log(t + dt_, el, mysql8_err(b, t + dt_, 0, prio, code, msg))
    kl = {
        "job": "geo-mysql",
        "instance": "[fd4e:7a1:c0de:40::15]:9100",
        "filename": "/var/log/kern.log",
    }
    for k in kills:
        t = b.t(k)
        b.log(
            t,
            kl,
            f"{b.dt(t).strftime('%b %d %H:%M:%S')} db-geo-1 kernel: Out of memory: Killed process {2016 + int(k)} (mysqld) total-vm:33912448kB, anon-rss:30977312kB, file-rss:0kB, shmem-rss:0kB, UID:112 pgtables:61244kB oom_score_adj:0",
        )
    return b


def shop_mysql_mdl_retrier() -> Bundle:
    """An analyst's 40-minute SELECT on shop.products (started 10:52 from 10.240.77.3) holds
    a shared metadata lock.  At 11:10 a deploy's migration ALTER TABLE products ADD COLUMN
    waits for the exclusive lock, and every later query on products queues behind it
    ("Waiting for table metadata lock"): all shop-api pods' product pages hang until
    Django's 20 s read timeout and fail with (2013, 'Lost connection to MySQL server during
    query (timed out)').  Meanwhile a price-comparison bot on 147.75.88.201 retries every
    failed request three times at once (~8 req/s of identical GETs).  Kill the blocking
    session (the long SELECT, id 4410923) and rate-limit the bot."""
    b = Bundle(
        "shop-mysql-mdl-retrier",
        "2028-05-24T11:00:00Z",
        description="product pages hang and fail",
        symptom={"component": "shop-edge", "route": "/p/{slug}"},
    )
    onset = 10.0
    bot = "147.75.88.201"
    b.component("shop-edge", "proxy", {"job": "shop-edge"}, ["shop-api"])
    b.component("shop-api", "app", {"job": "shop-api"}, ["shop-db"])
    b.component("shop-db", "mysql", {"job": "shop-db"})
    vms = [Pod(f"10.240.5.{61 + i}:8000") for i in range(4)]
    routes = [
        Route("GET", "/p/item-{n}", "/p/{slug}", 0.6, 0.07),
        Route("GET", "/c/garden?page=2", "/c/{cat}", 0.25, 0.09),
        Route("POST", "/cart/add", "/cart/add", 0.15, 0.04),
    ]
    clients = pick_clients(
        b, client_pool(b, ["84.115.212.", "91.64.33.", "178.24.190.", "2001:16b8:4d2a::"], 500)
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= onset and e.method == "GET" and b.rng.random() < 0.85:
            fail(e, 500, 20.0 + b.rng.uniform(0.001, 0.05))
            logs.append(
                (
                    e.t + 20.0,
                    i,
                    f"ERROR {b.dt(e.t + 20).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} django.request Internal Server Error: {e.path}\nTraceback (most recent call last):\n  File \"/srv/shop/.venv/lib/python3.12/site-packages/MySQLdb/cursors.py\", line 179, in execute\n    res = self._query(mogrified_query)\nMySQLdb.OperationalError: (2013, 'Lost connection to MySQL server during query (timed out)')\n\nThe above exception was the direct cause of the following exception:\n\ndjango.db.utils.OperationalError: (2013, 'Lost connection to MySQL server during query (timed out)')",
                )
            )

    bot_events: list[Event] = []
    t = b.t(onset + 2.3)
    while t < b.t(60):
        path = f"/p/item-{b.rng.randint(1000, 98000)}"
        for k in range(4):
            i = b.rng.randint(0, 3)
            st = t + k * 20.05
            if st >= b.t(60):
                break
            bot_events.append(
                Event(
                    t=st,
                    client=bot,
                    method="GET",
                    path=path,
                    status=500,
                    duration=20.0 + b.rng.uniform(0.001, 0.03),
                    upstream=vms[i].addr,
                    upstream_status="500",
                    agent="PriceSpider/3.2 (+https://pricespider.example/bot)",
                    size=150,
                    extra={"pod": i, "route": "/p/{slug}", "app_dur": 20.0, "urt": "20.004"},
                )
            )
        t += b.rng.uniform(0.4, 0.6)
    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 12.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "shop-edge", "instance": "10.240.5.10:9113"},
        active=lambda m: 120 if m < onset else 900,
        extra_events=bot_events,
    )
    app_side(b, vms, events, {"job": "shop-api"}, go=False, cpu=lambda m, i: 0.4)
    log_each(b, logs, vms, {"job": "shop-api", "filename": "/var/log/shop/django.log"})
    db = {"job": "shop-db", "instance": "10.240.9.20:9104"}
    on = lambda m: m >= onset  # noqa: E731
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 1900 if not on(m) else 300,
        connected=lambda m: ramp(m, onset, onset + 3, 80, 340) if on(m) else 80,
        running=lambda m: ramp(m, onset, onset + 3, 5, 330) if on(m) else 5,
        updating=lambda m: 0,
        sending=lambda m: 1,
        max_connections=800,
        version="8.0.36",
    )
    b.gauge(
        "mysql_info_schema_processlist_threads",
        {**db, "command": "Query", "state": "Waiting for table metadata lock"},
        lambda m: int(ramp(m, onset, onset + 3, 1, 326)) if on(m) else 0,
    )
    b.gauge(
        "mysql_info_schema_processlist_threads",
        {**db, "command": "Query", "state": "altering table"},
        lambda m: 0,
    )
    sl = {"job": "shop-db", "instance": "10.240.9.20:9104", "container": "mdl-watch"}
    for k in range(60):
        t = b.t(k + 0.6)
        if k + 0.6 < onset:
            b.log(t, sl, logfmt(b, t, "info", "sys.schema_table_lock_waits", rows=0))
            continue
        b.log(
            t,
            sl,
            logfmt(
                b,
                t,
                "warn",
                "sys.schema_table_lock_waits",
                rows=int(ramp(k, onset, onset + 3, 2, 326)),
                object="shop.products",
                waiting_pid=4411876,
                waiting_query="ALTER TABLE products ADD COLUMN badge VARCHAR(32) NULL",
                waiting_lock_type="EXCLUSIVE",
                blocking_pid=4410923,
                blocking_account="analyst@10.240.77.3",
                blocking_lock_type="SHARED_READ",
                blocking_query_time=f"{int((k + 0.6 + 8) * 60)}s",
                sql_kill_blocking_connection="KILL 4410923",
            ),
        )
    return b
