"""pg-style-db-saturation: a reporting job exhausts the MySQL 8 connection slots.

2025-10-07, window 03:10-04:10 UTC.  From 03:31 a reporting user runs full
scans over ``order_lines`` from 10.42.7.3; ``Threads_running`` climbs from ~4
to ~180, ``Threads_connected`` reaches ``max_connections`` (500) at 03:36 and
stays there; the server writes MySQL 8 JSON error-log lines (log_sink_json:
``ER_CON_COUNT_ERROR``, aborted connections) and slow-log entries of 80-200 s.
All four ``orders-svc`` pods (namespace ``commerce``, 10.42.x.x:8000) time out
on SQLAlchemy's pool and fail a third of their requests alike; nginx (``rt=``
``urt=`` variables) returns 502/504.  The exporter carries ``cluster`` and
``role`` labels and the global-status families are ``unknown`` (untyped).

Expected: root ``ordersdb``; no affected instance (all pods alike); no client;
``kill-mysql-queries`` on ``ordersdb``.
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, ramp, utc

NAME = "pg-style-db-saturation"
PODS = {
    "10.42.1.17:8000": "orders-svc-5b8d7c9f6-kq2lw",
    "10.42.2.33:8000": "orders-svc-5b8d7c9f6-p8x4n",
    "10.42.3.8:8000": "orders-svc-5b8d7c9f6-zt7mv",
    "10.42.5.61:8000": "orders-svc-5b8d7c9f6-4hdrc",
}
ROUTES = (
    ("GET", "/api/orders", 5.0),
    ("GET", "/api/orders/{id}", 8.0),
    ("POST", "/api/orders", 2.0),
    ("GET", "/api/customers/{id}/orders", 3.0),
    ("GET", "/healthz", 1.0),
)
DB_LABELS = {"cluster": "orders-mysql", "instance": "ordersdb-0", "role": "primary"}


def build() -> Bundle:
    b = Bundle(
        name="orders-5xx-2025-10-07",
        description="orders API 502/504 during the night batch window",
        start="2025-10-07T03:10:00Z",
        end="2025-10-07T04:10:00Z",
        seed=71003,
        symptom={"component": "gw", "route": "/api/orders"},
        components=[
            Component("gw", "proxy", {"service": "gw"}, ["orders-svc"]),
            Component(
                "orders-svc", "app", {"app": "orders-svc", "namespace": "commerce"}, ["ordersdb"]
            ),
            Component("ordersdb", "mysql", {"cluster": "orders-mysql"}),
        ],
    )
    rng = b.rng
    job_start, full = b.at("03:31:00"), b.at("03:36:00")

    def sat(t: float) -> float:
        return ramp(t, job_start, full)

    pool = client_pool(
        rng,
        [
            lambda r: f"81.{r.randint(2, 250)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"185.{r.randint(10, 99)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"46.{r.randint(100, 140)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        260,
    )
    instances = list(PODS)
    requests = []
    for ts in b.arrivals(lambda t: 4.2):
        ip, agent = pick_client(rng, pool)
        method, path, _ = rng.choices(ROUTES, weights=[w for *_, w in ROUTES])[0]
        path = path.replace("{id}", str(rng.randint(100000, 999999)))
        upstream = rng.choice(instances)
        s = sat(ts)
        if path == "/healthz":
            status, dur = 200, rng.uniform(0.001, 0.004)
        elif rng.random() < 0.36 * s:
            # SQLAlchemy pool timeout (5 s) or the 1040 error, then nginx's 504/502
            if rng.random() < 0.6:
                status, dur = 504, 5.0 + rng.uniform(0.0, 0.01)
            else:
                status, dur = 502, rng.uniform(0.05, 0.4)
        else:
            status = 200 if rng.random() > 0.002 else 500
            dur = rng.lognormvariate(-3.0, 0.45) * (1.0 + 30.0 * s * rng.random())
        requests.append((ts, ip, agent, method, path, upstream, status, dur))

    # --- gw: nginx access log with timing variables -------------------------------
    gw_labels = {"service": "gw", "instance": "gw-1", "filename": "/var/log/nginx/access.log"}
    for ts, ip, agent, method, path, upstream, status, dur in requests:
        stamp = utc(ts).strftime("%d/%b/%Y:%H:%M:%S +0000")
        size = 0 if status >= 500 and status != 500 else rng.randint(180, 9000)
        us = str(status) if status != 504 else "504"
        b.log(
            ts + dur,
            gw_labels,
            f'{ip} - - [{stamp}] "{method} {path} HTTP/2.0" {status} {size} "-" "{agent}" '
            f'rt={dur:.3f} uct="0.000" uht="{"-" if status == 504 else f"{dur:.3f}"}" urt="{dur:.3f}" ua="{upstream}" us="{us}"',
        )
        if status in (502, 504):
            err = (
                "upstream timed out (110: Connection timed out) while reading response header from upstream"
                if status == 504
                else "upstream prematurely closed connection while reading response header from upstream"
            )
            b.log(
                ts + dur,
                {"service": "gw", "instance": "gw-1", "filename": "/var/log/nginx/error.log"},
                f"{utc(ts + dur).strftime('%Y/%m/%d %H:%M:%S')} [error] 23#23: *{rng.randint(10**6, 10**7)} {err}, "
                f'client: {ip}, server: orders.example.net, request: "{method} {path} HTTP/2.0", upstream: "http://{upstream}{path}", host: "orders.example.net"',
            )
    gw_times = b.scrapes("gw-1")
    b.counter_from_events(
        "nginx_http_requests_total",
        "Total http requests",
        gw_times,
        ((ts, {"service": "gw", "instance": "gw-1"}, 1) for ts, *_ in requests),
    )
    b.gauge(
        "nginx_connections_active",
        "Active client connections",
        {"service": "gw", "instance": "gw-1"},
        gw_times,
        lambda t: 40 + 120 * sat(t),
        noise=0.1,
        integer=True,
    )

    # --- orders-svc: RED metrics, CPU, structlog JSON -------------------------------
    for inst, pod in PODS.items():
        labels = {"app": "orders-svc", "namespace": "commerce", "pod": pod, "instance": inst}
        times = b.scrapes(inst)
        mine = [r for r in requests if r[5] == inst]
        b.counter_from_events(
            "http_requests_total",
            "Requests handled, by status",
            times,
            (
                (
                    ts + dur,
                    {**labels, "method": m, "status": str(500 if st in (502, 504) else st)},
                    1,
                )
                for ts, _, _, m, _, _, st, dur in mine
            ),
        )
        b.histogram_from_events(
            "http_request_duration_seconds",
            "Request latency",
            times,
            ((ts + dur, labels, dur) for ts, *_, dur in mine),
        )
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t: 0.18 + 0.05 * sat(t),
            integer=False,
            initial=8123.4,
        )
        b.gauge(
            "sqlalchemy_pool_checked_out",
            "Connections checked out of the pool",
            labels,
            times,
            lambda t: 3 + 27 * sat(t),
            noise=0.1,
            integer=True,
        )
        log_labels = {
            "app": "orders-svc",
            "namespace": "commerce",
            "pod": pod,
            "container": "orders",
            "instance": inst,
        }
        for ts, _ip, _a, method, path, _u, status, dur in mine:
            if status in (502, 504):
                if status == 504:
                    err = "QueuePool limit of size 20 overflow 10 reached, connection timed out, timeout 5.00 (Background on this error at: https://sqlalche.me/e/20/3o7r)"
                else:
                    err = "(pymysql.err.OperationalError) (1040, 'Too many connections')"
                b.log(
                    ts + dur,
                    log_labels,
                    json.dumps(
                        {
                            "event": "request failed",
                            "level": "error",
                            "logger": "orders.db",
                            "timestamp": utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "method": method,
                            "path": path,
                            "error": err,
                        }
                    ),
                )
            elif rng.random() < 0.01:
                b.log(
                    ts + dur,
                    log_labels,
                    json.dumps(
                        {
                            "event": "request",
                            "level": "info",
                            "logger": "orders.access",
                            "timestamp": utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "method": method,
                            "path": path,
                            "status": status,
                            "duration_ms": round(dur * 1000, 1),
                        }
                    ),
                )

    # --- ordersdb: mysqld_exporter with extra labels, JSON error log, slow log -----------
    db_times = b.scrapes("ordersdb-0:9104")
    b.gauge("mysql_up", "Whether the MySQL server is up.", DB_LABELS, db_times, lambda t: 1)
    b.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        DB_LABELS,
        db_times,
        lambda t: 500,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: (
            min(500.0, 95 + 420 * sat(t)) * (1.0 if sat(t) >= 1 else 1.0 + rng.gauss(0, 0.05))
        ),
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: 4 + 176 * sat(t),
        noise=0.15,
        integer=True,
    )
    b.counter(
        "mysql_global_status_connection_errors_total",
        "Total number of MySQL connection errors.",
        {**DB_LABELS, "error": "max_connections"},
        db_times,
        lambda t: 14.0 * ramp(t, full - 30, full + 60),
        initial=3,
    )
    b.counter(
        "mysql_global_status_connection_errors_total",
        "Total number of MySQL connection errors.",
        {**DB_LABELS, "error": "internal"},
        db_times,
        lambda t: 0.0,
    )
    b.counter(
        "mysql_global_status_questions_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: 310 - 120 * sat(t),
        initial=9.1e8,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: 0.002 + 0.35 * sat(t),
        initial=1204,
    )
    b.counter(
        "mysql_global_status_innodb_buffer_pool_reads_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: 12 + 2400 * sat(t),
        initial=5.5e7,
    )
    b.counter(
        "mysql_global_status_aborted_clients_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        DB_LABELS,
        db_times,
        lambda t: 0.01 + 0.6 * sat(t),
        initial=455,
    )

    err_labels = {
        "cluster": "orders-mysql",
        "instance": "ordersdb-0",
        "container": "mysql",
        "stream": "stderr",
    }
    slow_labels = {
        "cluster": "orders-mysql",
        "instance": "ordersdb-0",
        "container": "slowlog",
        "stream": "stdout",
    }

    def json_err(
        t: float, prio: int, code: int, symbol: str, label: str, msg: str, thread: int
    ) -> str:
        return (
            f'{{ "log_type" : 1, "prio" : {prio}, "err_code" : {code}, "subsystem" : "Server", '
            f'"msg" : {json.dumps(msg)}, "time" : "{utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")}", '
            f'"ts" : {int(t * 1000)}, "thread" : {thread}, "err_symbol" : "{symbol}", "SQL_state" : "HY000", "label" : "{label}" }}'
        )

    t = b.data_start + 40
    while t < b.end:
        t += rng.expovariate(1 / 420.0)
        b.log(
            t,
            err_labels,
            json_err(
                t,
                3,
                10055,
                "ER_ABORTING_USER_CONNECTION",
                "Note",
                f"Aborted connection {rng.randint(80000, 99000)} to db: 'orders' user: 'orders_app' host: '{rng.choice(list(PODS)).split(':')[0]}' (Got timeout reading communication packets).",
                rng.randint(80000, 99000),
            ),
        )
    t = full - 20
    while t < b.end:
        t += rng.expovariate(1 / 9.0)
        b.log(
            t,
            err_labels,
            json_err(t, 1, 1040, "ER_CON_COUNT_ERROR", "Error", "Too many connections", 0),
        )
        if rng.random() < 0.3:
            b.log(
                t + 0.01,
                err_labels,
                json_err(
                    t + 0.01,
                    2,
                    10055,
                    "ER_ABORTING_USER_CONNECTION",
                    "Warning",
                    f"Aborted connection {rng.randint(99000, 120000)} to db: 'orders' user: 'orders_app' host: '{rng.choice(list(PODS)).split(':')[0]}' (Got an error reading communication packets).",
                    0,
                ),
            )
    # slow log: the report scans and the app queries stuck behind them
    t = job_start + 95
    thread = 120044
    while t < b.end:
        report = rng.random() < 0.45
        qt = rng.uniform(80, 200) if report else rng.uniform(5.2, 14.0)
        user = (
            "report[report] @  [10.42.7.3]"
            if report
            else f"orders_app[orders_app] @  [{rng.choice(list(PODS)).split(':')[0]}]"
        )
        sql = (
            "SELECT c.region, DATE(l.created_at) d, SUM(l.amount) FROM order_lines l JOIN customers c ON c.id = l.customer_id WHERE l.created_at > '2025-01-01' GROUP BY c.region, d;"
            if report
            else f"SELECT * FROM orders WHERE customer_id = {rng.randint(1000, 99999)} ORDER BY created_at DESC LIMIT 20;"
        )
        rows = rng.randint(30_000_000, 42_000_000) if report else rng.randint(300_000, 900_000)
        thread += rng.randint(1, 40)
        b.log(
            t,
            slow_labels,
            f"# Time: {utc(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n# User@Host: {user}  Id: {thread}\n"
            f"# Query_time: {qt:.6f}  Lock_time: 0.000{rng.randint(100, 999)} Rows_sent: {rng.randint(1, 400)}  Rows_examined: {rows}\n"
            f"use orders;\nSET timestamp={int(t - qt)};\n{sql}",
        )
        t += rng.expovariate(1 / 25.0)
    return b


def write(folder: str) -> None:
    build().write(folder)
