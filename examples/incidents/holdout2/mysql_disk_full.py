"""mysql-disk-full: MariaDB's data volume fills up and every write hangs.

2025-07-03, window 14:00-15:00 UTC.  ``shop-edge`` (two nginx VMs, nginx-prometheus-exporter,
access log with ``key=value`` timings) fronts three ``checkout`` VMs (gunicorn + Flask,
prometheus_client, structlog JSON at 172.23.4.x:8000) that use ``shop-mariadb`` (MariaDB 10.11,
mysqld_exporter and node_exporter both relabelled ``service=shop-mariadb``).  Binary logs fill
``/var/lib/mysql`` (expire_logs_days was dropped in a config change); at 14:22:30 the
volume is full: every commit waits in ``Disk full (...); waiting for someone to free some
space...``.  From then on every write (POST/PUT/DELETE) on every checkout VM times out after
the driver's 10 s read timeout and answers 500; reads keep working.  Server threads stay
stuck, so ``threads_connected``/``threads_running`` climb until the app pools are exhausted.

Expected: root ``shop-mariadb``; checkout and shop-edge symptoms; nothing affected alone (the three
VMs fail alike); no client; no remediation the project offers fixes a full disk (killing the
waiting statements frees no byte, draining a VM moves the same writes to the next one).
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, ramp, utc
from examples.incidents.holdout2.common import (
    Req,
    periodic,
    process_metrics,
    red_metrics,
    traffic,
    with_outcome,
)

EDGES = {"172.23.0.5": "shop-edge-1", "172.23.0.6": "shop-edge-2"}
VMS = {
    "172.23.4.11:8000": "checkout-1",
    "172.23.4.12:8000": "checkout-2",
    "172.23.4.13:8000": "checkout-3",
}
DB = "172.23.9.5"
ROUTES = (
    ("GET", "/api/products/<int:pid>", 8.0),
    ("GET", "/api/cart", 3.0),
    ("POST", "/api/cart/items", 1.2),
    ("DELETE", "/api/cart/items/<int:iid>", 0.3),
    ("POST", "/api/orders", 0.5),
    ("GET", "/api/orders/<int:oid>", 0.8),
    ("GET", "/healthz", 0.4),
)
WRITES = {"POST", "PUT", "DELETE"}


def build() -> Bundle:
    b = Bundle(
        name="shop-writes-failing-2025-07-03",
        description="Add to cart and checkout fail with 500, browsing works",
        start="2025-07-03T14:00:00Z",
        end="2025-07-03T15:00:00Z",
        seed=250703,
        symptom={"component": "shop-edge", "route": "/api/orders"},
        components=[
            Component("shop-edge", "proxy", {"job": "shop-edge"}, ["checkout"]),
            Component("checkout", "app", {"job": "checkout"}, ["shop-mariadb"]),
            Component("shop-mariadb", "mysql", {"service": "shop-mariadb"}),
        ],
    )
    rng = b.rng
    full = b.at("14:22:30")

    def stuck(t: float) -> float:
        return ramp(t, full, full + 150)

    pool = client_pool(
        rng,
        [
            lambda r: f"81.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"109.{r.randint(40, 90)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"46.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        480,
    )

    def fill(route: str) -> str:
        return (
            route.replace("<int:pid>", str(rng.randint(1, 40000)))
            .replace("<int:iid>", str(rng.randint(1, 900000)))
            .replace("<int:oid>", str(rng.randint(300000, 390000)))
        )

    def shape(req: Req) -> Req:
        if req.ts >= full and req.method in WRITES:
            return with_outcome(req, status=500, duration=10.0 + rng.uniform(0.002, 0.04))
        if req.ts >= full:
            # reads wait a little for a pooled connection while stuck writes hold the rest
            return with_outcome(
                req, duration=req.duration * (1.0 + 2.0 * stuck(req.ts) * rng.random())
            )
        return req

    requests = traffic(
        b,
        rate=lambda t: 9.0,
        pool=pool,
        routes=ROUTES,
        instances=list(VMS),
        fill=fill,
        median=0.045,
        shape=shape,
        edges=list(EDGES),
    )

    # --- shop-edge: nginx-prometheus-exporter + access log --------------------------------
    for edge_ip, host in EDGES.items():
        mine = [r for r in requests if r.edge == edge_ip]
        labels = {"job": "shop-edge", "instance": f"{edge_ip}:9113"}
        times = b.scrapes(labels["instance"])
        b.counter_from_events(
            "nginx_http_requests_total",
            "Total http requests",
            times,
            ((r.done, labels, 1) for r in mine),
        )
        b.gauge("nginx_up", "Status of the last metric scrape", labels, times, lambda t: 1)
        b.gauge(
            "nginx_connections_active",
            "Active client connections",
            labels,
            times,
            lambda t: 40 + 55 * stuck(t),
            noise=0.1,
            integer=True,
        )
        log_labels = {"job": "shop-edge", "host": host, "filename": "/var/log/nginx/access.log"}
        for r in mine:
            stamp = utc(r.done).strftime("%d/%b/%Y:%H:%M:%S +0000")
            b.log(
                r.done,
                log_labels,
                f'{r.ip} - - [{stamp}] "{r.method} {r.path} HTTP/2.0" {r.status} {53 if r.status == 500 else r.size} '
                f'"https://shop.example.org/" "{r.agent}" request_time={r.duration + 0.001:.3f} '
                f"upstream_response_time={r.duration:.3f} upstream_addr={r.instance}",
            )

    # --- checkout VMs: prometheus_client, gunicorn access log, structlog JSON ---------------
    for inst, host in VMS.items():
        mine = [r for r in requests if r.instance == inst]
        labels = {"job": "checkout", "instance": inst}
        times = b.scrapes(inst)
        red_metrics(
            b, labels=labels, times=times, requests=mine, code_label="status", path_label="endpoint"
        )
        process_metrics(
            b,
            labels=labels,
            times=times,
            cpu=lambda t: 0.21,
            rss=lambda t: 188e6 + 30e6 * stuck(t),
            started=b.data_start - rng.uniform(86400, 900000),
        )
        log_labels = {"job": "checkout", "host": host, "unit": "checkout.service"}
        for r in mine:
            stamp = utc(r.done).strftime("%d/%b/%Y:%H:%M:%S +0000")
            b.log(
                r.done,
                log_labels,
                f'{r.edge} - - [{stamp}] "{r.method} {r.path} HTTP/1.0" {r.status} {53 if r.status == 500 else r.size} "-" "{r.agent}"',
            )
            if r.status == 500:
                if r.ts >= full and r.method in WRITES:
                    error = "(pymysql.err.OperationalError) (2013, 'Lost connection to MySQL server during query (timed out)')"
                    event = "order create failed" if "orders" in r.path else "cart update failed"
                else:
                    error = "KeyError: 'sku'"
                    event = "unhandled exception"
                b.log(
                    r.done,
                    log_labels,
                    json.dumps(
                        {
                            "timestamp": utc(r.done).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                            "level": "error",
                            "logger": "checkout.api",
                            "event": event,
                            "path": r.path,
                            "error": error,
                            "request_id": b.request_id()[:16],
                        }
                    ),
                )
        for t in periodic(b, every=60, jitter=2):
            b.log(
                t,
                log_labels,
                json.dumps(
                    {
                        "timestamp": utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                        "level": "info",
                        "logger": "checkout.jobs",
                        "event": "abandoned carts swept",
                        "count": rng.randint(0, 6),
                    }
                ),
            )

    # --- shop-mariadb: mysqld_exporter, node_exporter filesystem, MariaDB error log -----------------
    writes = [r for r in requests if r.method in WRITES]
    dbl = {"service": "shop-mariadb", "job": "mysqld", "instance": f"{DB}:9104"}
    times = b.scrapes(dbl["instance"])
    b.gauge("mysql_up", "Whether the MySQL server is up.", dbl, times, lambda t: 1)
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dbl,
        times,
        lambda t: 24 + 66 * stuck(t),
        noise=0.04,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dbl,
        times,
        lambda t: 2 + 61 * stuck(t),
        noise=0.1,
        integer=True,
    )
    b.gauge(
        "mysql_global_variables_max_connections", "Generic gauge metric.", dbl, times, lambda t: 300
    )
    b.counter_from_events(
        "mysql_global_status_commands_total",
        "Total number of executed MySQL commands.",
        times,
        (
            (
                r.ts,
                {
                    **dbl,
                    "command": {"GET": "select", "POST": "insert", "DELETE": "delete"}[r.method],
                },
                1 + (r.method == "GET"),
            )
            for r in requests
        ),
    )
    b.counter_from_events(
        "mysql_global_status_handlers_total",
        "Total number of executed MySQL handlers.",
        times,
        ((r.ts + 0.01, {**dbl, "handler": "commit"}, 1) for r in writes if r.ts < full),
        always=[{**dbl, "handler": "commit"}],
    )
    b.counter(
        "mysql_global_status_bytes_received_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dbl,
        times,
        lambda t: 41000.0,
        initial=9.1e10,
    )
    nodel = {"service": "shop-mariadb", "job": "node", "instance": f"{DB}:9100"}
    ntimes = b.scrapes(nodel["instance"])
    fs = {**nodel, "device": "/dev/nvme1n1", "fstype": "xfs", "mountpoint": "/var/lib/mysql"}
    size = 214748364800.0
    b.gauge("node_filesystem_size_bytes", "Filesystem size in bytes.", fs, ntimes, lambda t: size)
    b.gauge(
        "node_filesystem_avail_bytes",
        "Filesystem space available to non-root users in bytes.",
        fs,
        ntimes,
        lambda t: max(0.0, 5.2e9 * (full - t) / (full - b.data_start)),
    )
    b.gauge("node_filesystem_readonly", "Filesystem read-only status.", fs, ntimes, lambda t: 0)
    log_labels = {
        "service": "shop-mariadb",
        "job": "mariadb",
        "host": "shop-mariadb-1",
        "filename": "/var/log/mysql/error.log",
    }

    def mlog(t: float, thread: int, level: str, text: str) -> None:
        b.log(t, log_labels, f"{utc(t).strftime('%Y-%m-%d %H:%M:%S')} {thread} [{level}] {text}")

    for t in periodic(b, every=410, jitter=200):
        host = rng.choice(["172.23.4.11", "172.23.4.12", "172.23.4.13"])
        mlog(
            t,
            rng.randint(80000, 99000),
            "Warning",
            f"Aborted connection {rng.randint(80000, 99000)} to db: 'shop' user: 'checkout' host: '{host}' (Got an error reading communication packets)",
        )
    binlog = "/var/lib/mysql/mysql-bin.000847"
    thread = 101230
    first = True
    for r in writes:
        if r.ts < full:
            continue
        thread += rng.randint(1, 40)
        target = binlog if rng.random() < 0.8 else "/var/lib/mysql/shop/order_items.ibd"
        mlog(
            r.ts + 0.02,
            thread,
            "ERROR",
            f'mariadbd: Disk full ({target}); waiting for someone to free some space... (errno: 28 "No space left on device")',
        )
        if first:
            mlog(
                r.ts + 0.02,
                thread,
                "ERROR",
                "mariadbd: Retry in 60 secs. Message reprinted in 600 secs",
            )
            mlog(
                r.ts + 0.03,
                0,
                "ERROR",
                f"mariadbd: Error writing file '{binlog}' (errcode: 28 \"No space left on device\")",
            )
            first = False
        host = r.instance.split(":")[0]
        mlog(
            r.ts + 10.0,
            thread,
            "Warning",
            f"Aborted connection {thread} to db: 'shop' user: 'checkout' host: '{host}' (Got timeout reading communication packets)",
        )
    return b
