"""MySQL capacity scenarios: slot exhaustion by unindexed scans, and a full data volume."""

from __future__ import annotations

from collections import defaultdict

from examples.incidents.holdout3.exporters import const, mysqld_exporter, node_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    json_access_line,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import Pod, Route, app_red, fail, nginx_exporter, serve


def _traefik(b: Bundle, labels: dict[str, str], service: str, events: list[Event]) -> None:
    by: dict[str, list[float]] = defaultdict(list)
    for e in events:
        by[str(e.status)].append(e.t)
    for code, times in sorted(by.items()):
        b.counter_steps(
            "traefik_service_requests_total",
            {**labels, "code": code, "method": "GET", "protocol": "http", "service": service},
            times,
        )
    b.histogram(
        "traefik_service_request_duration_seconds",
        {**labels, "method": "GET", "protocol": "http", "service": service},
        [(e.t, e.duration) for e in events],
        buckets=(0.1, 0.3, 1.2, 5.0),
    )
    b.counter("traefik_config_reloads_total", labels, const(0.0), start=3)
    b.runtime(labels, cpu=lambda m: 0.3, rss=lambda m: 180e6, goroutines=lambda m: 260)


def crm_too_many_connections() -> Bundle:
    """A new contacts-export report runs an unindexed LIKE scan of 6.2 M rows (40-90 s
    each) from 13:22; the scans pile up in Threads_running, the four crm-api pods' Hikari
    pools grow, and from 13:29 MySQL refuses new connections (1040 Too many connections).
    Every pod fails alike; the database is the root, and killing the scans frees it."""
    b = Bundle(
        "crm-too-many-connections",
        "2027-03-03T13:00:00Z",
        description="CRM pages time out and return 500",
        symptom={"component": "crm-gateway"},
    )
    onset, full = 22.0, 29.0
    b.component("crm-gateway", "proxy", {"job": "crm-gateway"}, ["crm-api"])
    b.component("crm-api", "app", {"app": "crm-api"}, ["crm-mysql"])
    b.component("crm-mysql", "mysql", {"app": "crm-mysql"})
    pods = [
        Pod(f"100.64.12.{40 + i}:8080", f"crm-api-5b8d9c7f6d-{s}", f"100.64.3.{9 + i}:10250")
        for i, s in enumerate(("a1b2c", "d3e4f", "g5h6j", "k7m8n"))
    ]
    routes = [
        Route("GET", "/api/contacts/{n}", "/api/contacts/{id}", 0.5, 0.03),
        Route("GET", "/api/accounts/{n}/timeline", "/api/accounts/{id}/timeline", 0.3, 0.08),
        Route("POST", "/api/notes", "/api/notes", 0.17, 0.05),
        Route("GET", "/api/reports/contacts-export", "/api/reports/contacts-export", 0.03, 0.5),
    ]
    clients = pick_clients(b, client_pool(b, ["100.64.200.", "100.64.201."], 150))
    errors: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if e.extra["route"].endswith("export") and m >= onset:
            if m >= onset + 3:
                fail(e, 504, 60.0, size=167)
            else:
                e.duration = e.extra["app_dur"] = b.rng.uniform(40, 59)
            return
        if m >= full:
            r = b.rng.random()
            if r < 0.38:
                fail(e, 500, 30.0 + b.rng.uniform(0.0, 0.2))
                errors.append((e.t + 30, i, "pool"))
            elif r < 0.55:
                fail(e, 500, b.rng.uniform(0.01, 0.05))
                errors.append((e.t, i, "1040"))
            else:
                e.duration = e.extra["app_dur"] = e.duration * 6 + b.rng.uniform(0.5, 3)
        elif m >= onset:
            e.duration = e.extra["app_dur"] = e.duration * ramp(m, onset, full, 1, 5)

    events = serve(
        b,
        rate=lambda m: 7.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("Mozilla/5.0 (Windows NT 10.0; Win64; x64) Edg/131.0",),
    )
    gw = {"job": "crm-gateway", "instance": "100.64.0.10:8082"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "crm-gateway", "instance": "100.64.0.10:8082"},
            json_access_line(b, e),
        )
    _traefik(b, gw, "crm-api@kubernetescrd", events)
    app_red(
        b,
        pods,
        events,
        {"app": "crm-api", "namespace": "sales", "job": "crm-api"},
        counter=None,
        histogram="http_server_requests_seconds",
        route_label="uri",
        code_label="status",
    )
    for t, i, kind in errors:
        th = f"http-nio-8080-exec-{b.rng.randint(1, 200)}"
        stamp = b.dt(t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        labels = {
            "app": "crm-api",
            "namespace": "sales",
            "pod": pods[i].pod,
            "instance": pods[i].addr,
        }
        if kind == "pool":
            line = (
                f"{stamp} ERROR 1 --- [{th}] o.h.engine.jdbc.spi.SqlExceptionHelper   : "
                "HikariPool-1 - Connection is not available, request timed out after 30000ms."
            )
        else:
            line = (
                f"{stamp}  WARN 1 --- [HikariPool-1 connection adder] com.zaxxer.hikari.pool.PoolBase  : "
                "HikariPool-1 - Pool is empty, failed to create/setup connection (jdbc:mysql://100.64.30.7:3306/crm)\n"
                "java.sql.SQLNonTransientConnectionException: Data source rejected establishment of connection,  "
                'message from server: "Too many connections"\n'
                "\tat com.mysql.cj.jdbc.exceptions.SQLError.createSQLException(SQLError.java:111)\n"
                "\tat com.mysql.cj.jdbc.ConnectionImpl.createNewIO(ConnectionImpl.java:819)"
            )
        b.log(t, labels, line)
    for pod in pods:
        labels = {
            "app": "crm-api",
            "namespace": "sales",
            "job": "crm-api",
            "pod": pod.pod,
            "instance": pod.addr,
        }
        b.gauge(
            "hikaricp_connections_active",
            {**labels, "pool": "HikariPool-1"},
            lambda m: int(ramp(m, onset, full, 6, 50)) - (b.rng.randint(0, 2) if m < full else 0),
        )
        b.gauge("hikaricp_connections_max", {**labels, "pool": "HikariPool-1"}, const(50))
        b.gauge(
            "hikaricp_connections_pending",
            {**labels, "pool": "HikariPool-1"},
            lambda m: int(ramp(m, full - 1, full + 1, 0, 140)) + b.rng.randint(0, 9),
        )
        b.gauge(
            "jvm_memory_used_bytes",
            {**labels, "area": "heap", "id": "G1 Old Gen"},
            lambda m: int(6.1e8 * b.rng.uniform(0.9, 1.1)),
        )
        b.gauge("jvm_threads_live_threads", labels, lambda m: int(ramp(m, onset, full, 60, 240)))
        b.gauge("process_cpu_usage", labels, lambda m: round(b.rng.uniform(0.08, 0.14), 4))
    db = {"app": "crm-mysql", "instance": "100.64.30.7:9104", "job": "mysqld-exporter"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: ramp(m, onset, full, 1300, 700),
        max_connections=300,
        connected=lambda m: ramp(m, onset, full, 52, 300),
        running=lambda m: ramp(m, onset, full, 4, 212),
        sending=lambda m: ramp(m, onset, full, 0, 64),
        slow=lambda m: 0.4 if m >= onset else 0.001,
        aborted_connects=lambda m: 9.0 if m >= full else 0.0,
        scan_rows=lambda m: ramp(m, onset, full, 0, 2.6e6),
        tmp_disk=lambda m: 0.1 if m < onset else 1.2,
    )
    slow = {"app": "crm-mysql", "instance": "100.64.30.7:9104", "log": "slow"}
    for t in b.arrivals(lambda m: 0.4 if m >= onset + 0.8 else 0.0, onset + 0.8):
        qt = b.rng.uniform(38, 96)
        b.log(
            t,
            slow,
            f"# Time: {b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n"
            f"# User@Host: crm_app[crm_app] @  [100.64.12.{40 + b.rng.randint(0, 3)}]  Id: {b.rng.randint(410000, 480000)}\n"
            f"# Query_time: {qt:.6f}  Lock_time: 0.000011 Rows_sent: {b.rng.randint(1000, 90000)}  Rows_examined: 6213877\n"
            f"SET timestamp={int(t)};\n"
            "SELECT c.* FROM contacts c WHERE lower(c.email) LIKE '%@%' AND c.owner_team IN (3,7,11) ORDER BY c.updated_at DESC;",
        )
    err = {"app": "crm-mysql", "instance": "100.64.30.7:9104", "log": "error"}
    for k, t in enumerate(b.arrivals(lambda m: 0.5 if m >= full else 0.0, full)):
        if k % 40 == 0:
            b.log(
                t,
                err,
                f"{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} 0 [Warning] [MY-011050] [Server] "
                "Too many connections (max_connections=300)",
            )
    return b


def stock_mysql_disk_full() -> Bundle:
    """general_log was left ON after yesterday's debugging: the log file in /var/lib/mysql
    grows ~1.4 GB/min until the volume is full at 02:24.  InnoDB cannot extend tablespaces,
    the binlog cannot be written (OS errno 28); every write from the three stock-sync VMs
    fails with "Errcode: 28 - No space left on device" or hangs.  Reads still work."""
    b = Bundle(
        "stock-mysql-disk-full",
        "2027-04-21T02:00:00Z",
        description="stock moves cannot be saved",
        symptom={"component": "stock-edge"},
    )
    full = 24.0
    b.component("stock-edge", "proxy", {"host": "lb-stock-01"}, ["stock-sync"])
    b.component("stock-sync", "app", {"service": "stock-sync"}, ["stock-mysql"])
    b.component("stock-mysql", "mysql", {"host": "db-stock-01"})
    vms = [Pod(f"10.88.4.{31 + i}:8000") for i in range(3)]
    routes = [
        Route("POST", "/moves", "/moves", 0.4, 0.06),
        Route("GET", "/stock/{n}", "/stock/{sku}", 0.6, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["10.88.20.", "10.88.21."], 40))
    errs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method == "POST" and m >= full:
            if b.rng.random() < 0.5:
                fail(e, 500, b.rng.uniform(0.02, 0.2))
                errs.append((e.t, i, "28"))
            else:
                fail(e, 504, 30.0, reached=False, size=160)
                e.upstream, e.upstream_status = vms[i].addr, "504"
                e.extra["urt"] = "30.001"
                e.extra.pop("pod")

    events = serve(
        b,
        rate=lambda m: 5.0,
        clients=clients,
        routes=routes,
        pods=vms,
        outcome=outcome,
        agents=("python-httpx/0.27.0", "Go-http-client/1.1"),
    )
    edge = {"host": "lb-stock-01", "job": "nginx", "instance": "10.88.4.10:9113"}
    for e in events:
        b.log(e.t + e.duration, {"host": "lb-stock-01", "unit": "nginx.service"}, nginx_line(b, e))
    nginx_exporter(b, edge, events, lambda m: 30 if m < full else 140)
    app_red(b, vms, events, {"service": "stock-sync", "job": "stock-sync"})
    for t, i, _ in errs:
        b.log(
            t,
            {"service": "stock-sync", "instance": vms[i].addr, "unit": "stock-sync.service"},
            f"[{b.dt(t).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]}] ERROR stock_sync.moves: save failed "
            "(db=10.88.6.5:3306) MySQLdb.OperationalError: (3, \"Error writing file '/var/lib/mysql/tmp/MYfd=118' "
            '(Errcode: 28 - No space left on device)")',
        )
    for vm in vms:
        b.runtime(
            {"service": "stock-sync", "job": "stock-sync", "instance": vm.addr},
            cpu=lambda m: 0.15,
            rss=lambda m: 140e6,
            go=False,
        )
    db = {"host": "db-stock-01", "job": "mysqld", "instance": "10.88.6.5:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 520 if m < full else 300,
        connected=lambda m: 30 if m < full else 88,
        running=lambda m: 3 if m < full else 61,
        slow=lambda m: 0.0 if m < full else 0.9,
    )
    size = 500e9
    node_exporter(
        b,
        {"host": "db-stock-01", "job": "node", "instance": "10.88.6.5:9100"},
        busy=lambda m: 0.2,
        avail=lambda m: 40e9,
        iowait=lambda m: 0.02 if m < full else 0.3,
        fs_size=size,
        fs_avail=lambda m: max(0.0, 33.6e9 - 1.4e9 * m),
    )
    err = {"host": "db-stock-01", "unit": "mysql.service"}
    stamp = lambda t: b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")  # noqa: E731
    t = b.t(full)
    b.log(
        t,
        err,
        f"{stamp(t)} 412 [ERROR] [MY-000035] [Server] Disk is full writing './binlog.000913' "
        "(OS errno 28 - No space left on device). Waiting for someone to free space... Retry in 60 secs. Message reprinted in 600 secs.",
    )
    b.log(
        t + 0.4,
        err,
        f"{stamp(t + 0.4)} 0 [ERROR] [MY-012639] [InnoDB] Write to file ./stock/stock_moves.ibd failed at offset 9663676416, "
        "1048576 bytes should have been written, only 0 were written. Operating system error number 28. Check that your OS and file "
        "system support files of this size. Check also that the disk is not full or a disk quota exceeded.",
    )
    b.log(
        t + 0.5,
        err,
        f"{stamp(t + 0.5)} 0 [ERROR] [MY-012640] [InnoDB] Error number 28 means 'No space left on device'",
    )
    for k in range(1, 36):
        tt = t + k * 60 + b.rng.uniform(0, 1)
        b.log(
            tt,
            err,
            f"{stamp(tt)} {412 + k * 7} [ERROR] [MY-013132] [Server] The table 'stock_moves' is full!",
        )
        if k % 10 == 0:
            b.log(
                tt + 1,
                err,
                f"{stamp(tt + 1)} 412 [ERROR] [MY-000035] [Server] Disk is full writing './binlog.000913' "
                "(OS errno 28 - No space left on device). Waiting for someone to free space... Retry in 60 secs. Message reprinted in 600 secs.",
            )
    return b
