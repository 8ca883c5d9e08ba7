# size: scenario builders are long linear scripts, one story each (as in rounds 3-6)
"""Databases: an INT auto-increment key at its ceiling, MariaDB out of file descriptors,
PostgreSQL's shared lock table full, and PostgreSQL resetting every backend after the OOM
killer takes one."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import (
    mysqld_exporter,
    node_exporter,
    postgres_exporter,
)
from examples.incidents.holdout3.kit import Bundle, Event, lognormal, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import mariadb_err, mysql8_err, nginx_json_line, zap
from examples.incidents.holdout5.common import ecs
from examples.incidents.holdout6.common import (
    Pod,
    Route,
    every,
    haproxy_exporter,
    haproxy_line,
    pg_local,
    structlog,
    web,
)
from examples.incidents.holdout7.common import auto_increment

INT_MAX = 2147483647


def wms_mysql_auto_increment_exhausted() -> Bundle:  # size: one linear scenario script
    """wms-db's ``scan_events.id`` is a signed INT AUTO_INCREMENT.  At 10:01 it reaches
    2147483647; from then every INSERT into scan_events fails with MySQL error 1062
    "Duplicate entry '2147483647' for key 'scan_events.PRIMARY'" and every barcode scan
    (POST) ends 500 on all three wms-api VMs, while reads work.  The server itself is
    healthy: no error log line, connections and threads normal.  mysqld_exporter's
    auto_increment collector shows the column at its maximum.  Root: wms-db (key space
    exhausted; migrate the column to BIGINT); no kill, drain or limit helps.  Sources:
    Basecamp "Postmortem on the read-only outage of Basecamp on November 9th, 2018" (the
    events table hit 2,147,483,647); MySQL manual "Using AUTO_INCREMENT"."""
    b = Bundle(
        "wms-mysql-auto-increment-exhausted",
        "2033-02-14T09:40:00Z",
        description="scanners in the warehouse get 'server error' on every scan",
        symptom={"component": "wms-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    full = 21.0
    b.component("wms-edge", "proxy", {"job": "wms-edge"}, ["wms-api"])
    b.component("wms-api", "app", {"job": "wms-api"}, ["wms-db"])
    b.component("wms-db", "mysql", {"job": "wms-db"})
    vms = [Pod(f"172.20.8.{11 + i}:8000") for i in range(3)]
    routes = [
        Route("POST", "/v1/shipments/{n}/scan", "/v1/shipments/{id}/scan", 0.55, 0.025, 310),
        Route("GET", "/v1/shipments/{n}", "/v1/shipments/{id}", 0.45, 0.012, 1900),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and e.method == "POST":
            fail(e, 500, lognormal(b, 0.006), size=88)
            e.extra["dup"] = True

    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["172.20.40.", "172.20.41.", "172.20.42."],
        clients=160,
        rate=lambda m: 11.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "wms-edge", "instance": "172.20.8.2:9113"},
        fmt=lambda e: nginx_json_line(b, e, "wms.internal"),
    )
    for e in site.events:
        if e.extra.get("dup") and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "scan/handler.go:141",
                    "record scan failed",
                    shipment=e.path.split("/")[3],
                    error="Error 1062 (23000): Duplicate entry '2147483647' for key "
                    "'scan_events.PRIMARY'",
                ),
            )
    for t in every(b, 0, 50, 240, 420):
        i = rng.randrange(3)
        site.say(t, i, zap(b, t, "info", "cache/refresh.go:58", "carrier table refreshed"))
    site.apps({"job": "wms-api"}, {"job": "wms-api"})
    db = {"job": "wms-db", "instance": "172.20.9.5:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 180.0 if m < full else 150.0,
        connected=lambda m: 42,
        running=lambda m: 3,
    )
    inserts = 6.1 * 60
    auto_increment(
        b,
        db,
        "wms",
        "scan_events",
        "id",
        lambda m: min(INT_MAX, INT_MAX - (full - m) * inserts),
        INT_MAX,
    )
    auto_increment(b, db, "wms", "shipments", "id", lambda m: 48_112_930 + m * 40, INT_MAX)
    auto_increment(b, db, "wms", "carriers", "id", lambda m: 212, 8_388_607)
    for t in every(b, 0, 50, 600, 900):
        b.log(
            t,
            {"job": "wms-db", "instance": "172.20.9.5:9104", "log": "error"},
            mysql8_err(
                b,
                t,
                0,
                "Note",
                "MY-010914",
                "Aborted connection 88213 to db: 'wms' user: "
                "'report' host: '172.20.50.7' (Got an error reading communication packets).",
            ),
        )
    return b


def crm_mariadb_open_files() -> Bundle:  # size: one linear scenario script
    """crm-db moved to a new host last week; its systemd unit kept LimitNOFILE=1024, so
    MariaDB runs with open_files_limit 1024 (table_open_cache reduced at start-up, with a
    warning nobody read).  The monthly partitions of ``activities`` have grown; at the
    Monday 14:00 peak the open files reach the limit at 14:09: "Error in accept: Too many
    open files", "Can't open file: './crm/activities#P#p2033m03.ibd' (errno: 24 "Too many
    open files")".  New connections fail or hang, queries on unopened tables fail with
    1016; crm-api (Spring) answers 500 on every VM alike.  Root: crm-db (file descriptor
    limit); no query to kill, nothing to drain.  Sources: netdata "MySQL ERROR 24 (HY000):
    Too many open files -- raising open_files_limit"; MariaDB docs "open_files_limit"."""
    b = Bundle(
        "crm-mariadb-open-files",
        "2033-03-07T13:50:00Z",
        description="CRM pages fail with 500 since the afternoon peak",
        symptom={"component": "crm-lb"},
        step=20,
        minutes=60,
    )
    rng = b.rng
    full = 19.0
    b.component("crm-lb", "proxy", {"service": "crm-lb"}, ["crm-api"])
    b.component("crm-api", "app", {"service": "crm-api"}, ["crm-db"])
    b.component("crm-db", "mysql", {"service": "crm-db"})
    vms = [Pod(f"192.168.30.{21 + i}:8080") for i in range(4)]
    names = [f"crm{i + 1}" for i in range(4)]
    routes = [
        Route("GET", "/api/contacts/{n}", "/api/contacts/{id}", 0.5, 0.03, 4200),
        Route("GET", "/api/contacts/{n}/activities", "/api/contacts/{id}/activities", 0.3, 0.06),
        Route("POST", "/api/activities", "/api/activities", 0.2, 0.04, 300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = names[i]
        e.extra["pid"] = 1187
        if m >= full and rng.random() < (0.75 if "activities" in e.path else 0.3):
            fail(e, 500, lognormal(b, 0.08 if rng.random() < 0.8 else 5.0), size=120)
            e.extra["emfile"] = True

    lb = {"service": "crm-lb", "instance": "192.168.30.5:8405"}
    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["192.168.60.", "192.168.61.", "192.168.62.", "192.168.63."],
        clients=300,
        rate=lambda m: 16.0,
        outcome=outcome,
        kind="haproxy",
        edge_labels=lb,
        stream={"log": "syslog"},
        fmt=lambda e: haproxy_line(b, e, "fe_crm~", "be_crm_api"),
    )
    haproxy_exporter(
        b, lb, "be_crm_api", dict(zip(names, (v.addr for v in vms), strict=True)), site.events
    )
    for e in site.events:
        if e.extra.get("emfile") and rng.random() < 0.4:
            part = f"p2033m{rng.randint(1, 3):02d}" if rng.random() < 0.7 else "p2032m11"
            msg = (
                "Could not open JDBC Connection for transaction"
                if e.duration > 1
                else f"(conn=88{rng.randint(1000, 9999)}) Can't open file: "
                f"'./crm/activities#P#{part}.ibd' (errno: 24 \"Too many open files\")"
            )
            site.say(
                e.t,
                e.extra["pod"],
                ecs(
                    b,
                    e.t,
                    "ERROR",
                    "o.h.engine.jdbc.spi.SqlExceptionHelper",
                    msg,
                    thread=f"http-nio-8080-exec-{rng.randint(1, 200)}",
                ),
            )
    site.apps(
        {"service": "crm-api"},
        {"service": "crm-api"},
        go=False,
        cpu=lambda m, i: 0.5,
        mem=lambda m, i: 1.1e9,
    )
    db = {"service": "crm-db", "instance": "192.168.30.40:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 900.0 if m < full else 620.0,
        connected=lambda m: ramp(m, 10, full, 60, 118),
        running=lambda m: 4 if m < full else 9,
        aborted_connects=lambda m: 0.0 if m < full else 2.5,
        version="10.11.6-MariaDB",
    )
    open_files = lambda m: ramp(m, 0, full, 880, 1024)  # noqa: E731
    b.gauge("mysql_global_status_open_files", db, lambda m: int(open_files(m)))
    b.gauge("mysql_global_variables_open_files_limit", db, lambda m: 1024)
    b.gauge("mysql_global_variables_table_open_cache", db, lambda m: 431)
    b.untyped(
        "mysql_global_status_opened_tables",
        db,
        lambda m: 0.4 if m < 10 else 3.0 if m < full else 22.0,
        1_880_412,
    )
    b.untyped(
        "mysql_global_status_table_open_cache_misses",
        db,
        lambda m: 0.4 if m < 10 else 3.0 if m < full else 22.0,
        1_702_118,
    )
    b.gauge("mysql_global_status_open_tables", db, lambda m: 431)
    err = {"service": "crm-db", "instance": "192.168.30.40:9104", "log": "error"}
    t = b.t(0.2)
    b.log(
        t,
        err,
        mariadb_err(b, t, 0, "Note", "InnoDB: Buffer pool(s) load completed at 230307 13:50:00"),
    )
    for t in every(b, full, 60, 0.5, 4.0):
        if rng.random() < 0.4:
            line = mariadb_err(b, t, 0, "ERROR", "Error in accept: Too many open files")
        else:
            part = f"p2033m{rng.randint(1, 3):02d}"
            line = mariadb_err(
                b,
                t,
                rng.randint(88000, 89999),
                "ERROR",
                f"mariadbd: Can't open file: './crm/activities#P#{part}.ibd' "
                '(errno: 24 "Too many open files")',
            )
        b.log(t, err, line)
    node_exporter(
        b,
        {"service": "crm-db", "instance": "192.168.30.40:9100"},
        busy=lambda m: 0.22,
        avail=lambda m: 21e9,
    )
    return b


def telemetry_pg_lock_table_full() -> Bundle:  # size: one linear scenario script
    """telemetry-pg keeps ``readings`` partitioned by day (1,900 partitions, none ever
    dropped).  Dashboard queries on the parent use a generic prepared plan that cannot
    prune at plan time, so each one takes an AccessShareLock on every partition.  At the
    morning peak (from 08:12) the shared lock table (max_locks_per_transaction 64 x 300
    connections) is full: "ERROR:  out of shared memory", "HINT:  You might need to
    increase max_locks_per_transaction.", for every statement that needs a new lock,
    writes included.  Every telemetry-api pod fails ~60 % of requests alike.  Root:
    telemetry-pg (lock table exhausted); nothing to drain or kill (no MySQL, the statements
    are ordinary).  Sources: PostgreSQL docs "Lock Management" (max_locks_per_transaction);
    postgresql.freeideas.cz "shared memory error" (parallel queries on a parent table with
    many children)."""
    b = Bundle(
        "telemetry-pg-lock-table-full",
        "2033-04-19T07:55:00Z",
        description="telemetry dashboards and ingestion fail",
        symptom={"component": "telemetry-ingress"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    full = 17.0
    ns = "telemetry"
    b.component(
        "telemetry-ingress", "proxy", {"namespace": ns, "app": "ingress"}, ["telemetry-api"]
    )
    b.component("telemetry-api", "app", {"namespace": ns, "app": "telemetry-api"}, ["telemetry-pg"])
    b.component("telemetry-pg", "other", {"namespace": ns, "app": "telemetry-pg"})
    pods = [
        Pod(f"10.140.{i}.{33 + i}:8080", f"telemetry-api-58c9f-{s}", f"10.140.{i}.1:10250")
        for i, s in enumerate(("q7x", "r2m", "s9k"))
    ]
    routes = [
        Route(
            "GET",
            "/v1/devices/{n}/readings?range=24h",
            "/v1/devices/:id/readings",
            0.45,
            0.09,
            22000,
        ),
        Route("POST", "/v1/readings", "/v1/readings", 0.45, 0.015, 90),
        Route("GET", "/v1/devices/{n}", "/v1/devices/:id", 0.1, 0.008, 700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and rng.random() < 0.6:
            fail(e, 500, lognormal(b, 0.03), size=96)
            e.extra["oosm"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["fd12:7e1e:40::", "fd12:7e1e:41::"],
        clients=900,
        rate=lambda m: 25.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"namespace": ns, "app": "ingress", "instance": "10.140.250.4:10254"},
        cluster="telemetry-telemetry-api-8080",
    )
    for e in site.events:
        if e.extra.get("oosm") and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                structlog(
                    b,
                    e.t,
                    0,
                    "error",
                    "query failed",
                    route=e.extra["route"],
                    error="asyncpg.exceptions.OutOfMemoryError: out of shared memory",
                    hint="You might need to increase max_locks_per_transaction.",
                ),
            )
    site.apps(
        {"namespace": ns, "app": "telemetry-api", "job": "telemetry-api"},
        {"namespace": ns, "app": "telemetry-api"},
        namespace=ns,
        container="telemetry-api",
        go=False,
    )
    pg = {"namespace": ns, "app": "telemetry-pg", "instance": "10.140.9.20:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 420.0 if m < full else 190.0,
        active=lambda m: ramp(m, 5, full, 14, 60),
        idle=lambda m: 120,
        max_connections=300,
        datname="telemetry",
    )
    b.gauge("pg_settings_max_locks_per_transaction", pg, lambda m: 64)
    b.gauge(
        "pg_locks_count",
        {**pg, "datname": "telemetry", "mode": "accesssharelock"},
        lambda m: int(ramp(m, 5, full, 6000, 19150) * rng.uniform(0.98, 1.0)),
    )
    b.counter(
        "pg_stat_database_xact_rollback", {**pg, "datname": "postgres"}, lambda m: 0.01, start=1_002
    )
    log = {"namespace": ns, "app": "telemetry-pg", "instance": "10.140.9.20:9187"}
    for t in every(b, full, 45, 0.3, 2.5):
        pid = rng.randint(30000, 39999)
        stmt = rng.choice(
            [
                "SELECT bucket, avg(value) FROM readings WHERE device_id = $1 AND ts > $2 "
                "GROUP BY bucket",
                "INSERT INTO readings (device_id, ts, value) VALUES ($1, $2, $3)",
            ]
        )
        b.log(t, log, pg_local(b, t, "UTC", 0, pid, "ERROR", "out of shared memory"))
        b.log(
            t + 0.0001,
            log,
            pg_local(
                b, t, "UTC", 0, pid, "HINT", "You might need to increase max_locks_per_transaction."
            ),
        )
        b.log(t + 0.0002, log, pg_local(b, t, "UTC", 0, pid, "STATEMENT", stmt))
    for t in every(b, 0, 45, 300, 500):
        b.log(
            t,
            log,
            pg_local(
                b,
                t,
                "UTC",
                0,
                88,
                "LOG",
                f"checkpoint complete: wrote {rng.randint(900, 4000)} buffers",
            ),
        )
    return b


def ledger_pg_backend_oom_resets() -> Bundle:  # size: one linear scenario script
    """ledger-pg runs on a 32 GB VM with vm.overcommit_memory=0.  A finance analyst's
    month-end query (hash aggregate, work_mem 2GB set in the session) grows past the RAM;
    the OOM killer kills that backend at 10:14, 10:27 and 10:41.  Each time the postmaster
    "terminated by signal 9: Killed", "terminating any other active server processes",
    crash recovery; for ~35 s every client gets "the database system is in recovery mode"
    (57P03) or "terminating connection because of crash of another server process".
    ledger-api (Java) 503s on every pod alike in three bursts, connection pools refill
    after.  Root: ledger-pg (crash); nothing to drain; no MySQL kill applies.  Sources:
    PostgreSQL docs "Linux Memory Overcommit" (the OOM killer and the postmaster); CYBERTEC
    "What you should know about Linux memory overcommit in PostgreSQL"."""
    b = Bundle(
        "ledger-pg-backend-oom-resets",
        "2033-05-31T10:00:00Z",
        description="ledger API 503 bursts",
        symptom={"component": "ledger-gw"},
        step=15,
        minutes=55,
    )
    rng = b.rng
    kills = [14.2, 27.5, 41.1]
    down = 0.6
    crashed = lambda m: any(k <= m < k + down for k in kills)  # noqa: E731
    b.component("ledger-gw", "proxy", {"job": "ledger-gw"}, ["ledger-api"])
    b.component("ledger-api", "app", {"job": "ledger-api"}, ["ledger-pg"])
    b.component("ledger-pg", "other", {"job": "ledger-pg"})
    pods = [
        Pod(f"10.55.3.{40 + i}:8080", f"ledger-api-7d-{s}")
        for i, s in enumerate(("a1", "b2", "c3", "d4"))
    ]
    routes = [
        Route("GET", "/ledger/accounts/{n}/balance", "/ledger/accounts/{id}/balance", 0.6, 0.02),
        Route("POST", "/ledger/entries", "/ledger/entries", 0.4, 0.035, 240),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if crashed(m) or (
            any(k + down <= m < k + down + 0.3 for k in kills) and rng.random() < 0.3
        ):
            fail(e, 503, lognormal(b, 0.2), size=140)
            e.extra["pgdown"] = True

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["10.55.100.", "10.55.101."],
        clients=180,
        rate=lambda m: 14.0,
        outcome=outcome,
        kind="envoy",
        edge_labels={"job": "ledger-gw", "instance": "10.55.0.9:9901"},
        cluster="ledger_api",
    )
    for e in site.events:
        if e.extra.get("pgdown") and rng.random() < 0.5:
            msg = rng.choice(
                [
                    "org.postgresql.util.PSQLException: FATAL: the database system is in "
                    "recovery mode",
                    "org.postgresql.util.PSQLException: FATAL: terminating connection because "
                    "of crash of another server process",
                    "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
                ]
            )
            site.say(e.t, e.extra["pod"], ecs(b, e.t, "ERROR", "c.l.ledger.api.ErrorHandler", msg))
    site.apps({"job": "ledger-api"}, {"job": "ledger-api"}, go=False)
    pg = {"job": "ledger-pg", "instance": "10.55.9.10:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 0.0 if crashed(m) else 260.0,
        active=lambda m: 9,
        idle=lambda m: 0 if crashed(m) else 70,
        up=lambda m: not crashed(m),
        datname="ledger",
    )
    b.gauge(
        "pg_postmaster_start_time_seconds",
        pg,
        lambda m: max([b.t(k + down) for k in kills if m >= k + down] or [b.t(-9000)]),
    )

    def avail(m: float) -> float:
        growing = [(m - (k - 9.0)) / 9.0 for k in kills if k - 9.0 <= m < k]
        return max(0.2e9, 14e9 * (1.0 - (growing[0] if growing else 0.0)))

    node = {"job": "ledger-pg", "instance": "10.55.9.10:9100"}
    node_exporter(b, node, busy=lambda m: 0.3, avail=avail, mem_total=32e9)
    b.counter_steps(
        "node_vmstat_oom_kill", node, [b.t(k) - 0.5 for k in kills], start=2, kind="unknown"
    )
    log = {"job": "ledger-pg", "instance": "10.55.9.10:9187", "log": "postgresql"}
    q = (
        "SELECT account_id, count(DISTINCT counterparty), sum(amount) FROM entries WHERE "
        "booked_at >= '2033-05-01' GROUP BY account_id, currency"
    )
    for k in kills:
        t = b.t(k)
        for dt, lvl, msg in (
            (
                0.0,
                "LOG",
                f"server process (PID {rng.randint(40000, 49999)}) was terminated by "
                "signal 9: Killed",
            ),
            (0.001, "DETAIL", f"Failed process was running: {q}"),
            (0.002, "LOG", "terminating any other active server processes"),
            (0.4, "LOG", "all server processes terminated; reinitializing"),
            (
                0.9,
                "LOG",
                "database system was interrupted; last known up at "
                + b.dt(t - 120).strftime("%Y-%m-%d %H:%M:%S UTC"),
            ),
            (
                1.2,
                "LOG",
                "database system was not properly shut down; automatic recovery in progress",
            ),
            (down * 60 - 1, "LOG", "redo done at 3A/9F0C1D28"),
            (down * 60, "LOG", "database system is ready to accept connections"),
        ):
            b.log(t + dt, log, pg_local(b, t + dt, "UTC", 0, 1021, lvl, msg))
        for j in range(12):
            tt = t + 2 + j * 2.5
            b.log(
                tt,
                log,
                pg_local(
                    b,
                    tt,
                    "UTC",
                    0,
                    rng.randint(50000, 59999),
                    "FATAL",
                    "the database system is in recovery mode",
                ),
            )
    for t in every(b, 0, 55, 240, 500):
        b.log(t, log, pg_local(b, t, "UTC", 0, 1030, "LOG", "checkpoint starting: time"))
    for k in kills:
        t = b.t(k) - 0.5
        b.log(
            t,
            {"job": "ledger-pg", "instance": "10.55.9.10:9100", "log": "kernel"},
            f"Out of memory: Killed process {rng.randint(40000, 49999)} (postgres) "
            f"total-vm:{rng.randint(30, 33)}551204kB, anon-rss:{rng.randint(29, 31)}104220kB",
        )
    return b
