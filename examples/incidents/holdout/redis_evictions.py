"""redis-maxmemory-evictions: the cache fills up, evicts hot keys, and the misses land on MariaDB.

2025-11-21, window 20:05-21:05 UTC.  ``kv-cache`` (Redis, allkeys-lru, 4 GiB
maxmemory) fills with per-user recommendation blobs; at 20:27 it reaches
maxmemory and evicts ~1,800 keys/s, its hit ratio falls from ~96 % to ~40 %.
From 20:29 the misses hit ``catalog-db`` (MariaDB): questions x6, threads
running 3 -> 40, slow-log entries of 1-3.5 s for ordinary item reads.  The
three ``catalog-api`` VMs (Node.js, pino JSON logs with numeric levels,
172.20.x.x:3000) slow down alike; Caddy (JSON access log, ``caddy_http_*``
metrics) is the edge.  Redis itself logs nothing unusual (it never logs
evictions).

Expected: root ``kv-cache``; ``catalog-db`` a symptom or aggravating, never root;
nothing affected alone; no client; no remediation (none of drain / kill /
rate-limit fixes a cache that is too small).
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, ramp, utc

VMS = ("172.20.4.11:3000", "172.20.4.12:3000", "172.20.5.7:3000")
HOSTS = {
    "172.20.4.11:3000": "catalog-a1",
    "172.20.4.12:3000": "catalog-a2",
    "172.20.5.7:3000": "catalog-b1",
}
ROUTES = (
    ("GET", "/catalog/items/:id", 9.0),
    ("GET", "/catalog/search", 3.0),
    ("GET", "/catalog/recommendations", 2.0),
    ("GET", "/health", 0.5),
)
MAXMEM = 4294967296


def build() -> Bundle:
    b = Bundle(
        name="catalog-slow-2025-11-21",
        description="catalog pages slow in the evening peak",
        start="2025-11-21T20:05:00Z",
        end="2025-11-21T21:05:00Z",
        seed=112120,
        symptom={"component": "web"},
        components=[
            Component("web", "proxy", {"job": "caddy"}, ["catalog-api"]),
            Component("catalog-api", "app", {"job": "catalog-api"}, ["kv-cache", "catalog-db"]),
            Component("kv-cache", "redis", {"job": "kv-cache"}),
            Component("catalog-db", "mysql", {"job": "catalog-db"}),
        ],
    )
    rng = b.rng
    full_at = b.at("20:27:00")

    def evict(t: float) -> float:
        return ramp(t, full_at, full_at + 90)

    def dbload(t: float) -> float:
        return ramp(t, full_at + 100, full_at + 240)

    pool = client_pool(
        rng,
        [
            lambda r: f"84.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"178.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2a02:8108:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
        ],
        420,
    )
    requests = []
    for ts in b.arrivals(lambda t: 6.0):
        ip, agent = pick_client(rng, pool)
        method, route, _ = rng.choices(ROUTES, weights=[w for *_, w in ROUTES])[0]
        uri = route.replace(":id", str(rng.randint(1, 250000))) + (
            "?q=" + rng.choice(("lamp", "desk", "chair", "rug")) if "search" in route else ""
        )
        vm = rng.choice(VMS)
        load = dbload(ts)
        dur = rng.lognormvariate(-3.5, 0.5)
        status = 200
        if route != "/health":
            miss = 0.04 + 0.55 * evict(ts)
            if rng.random() < miss:
                dur += rng.lognormvariate(-3.0, 0.4) * (1.0 + 18.0 * load)
            if rng.random() < 0.035 * load:
                status, dur = 503, 5.0 + rng.uniform(0, 0.05)
            elif rng.random() < 0.001:
                status = 500
        requests.append((ts, ip, agent, method, route, uri, vm, status, dur))

    # --- web: Caddy -------------------------------------------------------------------
    wl = {"job": "caddy", "instance": "edge-caddy-1:2019"}
    wtimes = b.scrapes("edge-caddy-1:2019")
    b.counter_from_events(
        "caddy_http_requests_total",
        "Counter of HTTP(S) requests made.",
        wtimes,
        (
            (ts + d, {**wl, "server": "srv0", "handler": "reverse_proxy"}, 1)
            for ts, *_, d in requests
        ),
    )
    b.histogram_from_events(
        "caddy_http_request_duration_seconds",
        "Histogram of round-trip request durations.",
        wtimes,
        (
            (
                ts + d,
                {**wl, "server": "srv0", "handler": "reverse_proxy", "code": str(st), "method": m},
                d,
            )
            for ts, _, _, m, _, _, _, st, d in requests
        ),
        buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
    )
    for ts, ip, agent, method, _route, uri, vm, status, dur in requests:
        b.log(
            ts + dur,
            {"job": "caddy", "host": "edge-caddy-1", "filename": "/var/log/caddy/access.log"},
            json.dumps(
                {
                    "level": "error" if status >= 500 else "info",
                    "ts": round(ts + dur, 6),
                    "logger": "http.log.access.log0",
                    "msg": "handled request",
                    "request": {
                        "remote_ip": ip,
                        "remote_port": str(rng.randint(1024, 65535)),
                        "client_ip": ip,
                        "proto": "HTTP/2.0",
                        "method": method,
                        "host": "shop.example.org",
                        "uri": uri,
                        "headers": {"User-Agent": [agent], "Accept-Encoding": ["gzip, br"]},
                    },
                    "bytes_read": 0,
                    "user_id": "",
                    "duration": round(dur, 6),
                    "size": 0 if status == 503 else rng.randint(400, 24000),
                    "status": status,
                    "resp_headers": {
                        "Server": ["Caddy"],
                        "Content-Type": ["application/json; charset=utf-8"],
                    },
                },
                separators=(",", ":"),
            ),
        )
        if status == 503:
            b.log(
                ts + dur,
                {"job": "caddy", "host": "edge-caddy-1", "filename": "/var/log/caddy/caddy.log"},
                json.dumps(
                    {
                        "level": "error",
                        "ts": round(ts + dur, 6),
                        "logger": "http.handlers.reverse_proxy",
                        "msg": "upstream returned 503",
                        "upstream": vm,
                        "duration": round(dur, 6),
                        "request": {"method": method, "uri": uri},
                    },
                    separators=(",", ":"),
                ),
            )

    # --- catalog-api: prom-client + pino ----------------------------------------------
    for vm in VMS:
        labels = {"job": "catalog-api", "instance": vm}
        times = b.scrapes(vm)
        mine = [r for r in requests if r[6] == vm]
        b.histogram_from_events(
            "http_request_duration_seconds",
            "Duration of HTTP requests in seconds",
            times,
            (
                (ts + d, {**labels, "method": m, "route": route, "status_code": str(st)}, d)
                for ts, _, _, m, route, _, _, st, d in mine
            ),
            buckets=(0.003, 0.03, 0.1, 0.3, 1.5, 10.0),
        )
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t: 0.21 + 0.12 * evict(t),
            integer=False,
            initial=40211.0,
        )
        b.gauge(
            "nodejs_eventloop_lag_seconds",
            "Lag of event loop in seconds.",
            labels,
            times,
            lambda t: 0.004 + 0.01 * evict(t),
            noise=0.2,
        )
        b.gauge(
            "catalog_db_pool_pending",
            "Queries waiting for a pool connection",
            labels,
            times,
            lambda t: 0.2 + 14 * dbload(t),
            noise=0.3,
            integer=True,
        )
        host = HOSTS[vm]
        ll = {"job": "catalog-api", "instance": vm, "host": host}
        for ts, _ip, _a, method, _route, uri, _vm, status, dur in mine:
            if status == 503:
                line = {
                    "level": 50,
                    "time": int((ts + dur) * 1000),
                    "pid": 7,
                    "hostname": host,
                    "reqId": f"req-{rng.randint(1, 99999):x}",
                    "err": {
                        "type": "SequelizeConnectionAcquireTimeoutError",
                        "message": "Operation timeout",
                        "stack": "SequelizeConnectionAcquireTimeoutError: Operation timeout\n    at ConnectionManager.getConnection",
                    },
                    "msg": f"{method} {uri} failed",
                }
            elif dur > 1.0 and rng.random() < 0.3:
                line = {
                    "level": 40,
                    "time": int((ts + dur) * 1000),
                    "pid": 7,
                    "hostname": host,
                    "durationMs": int(dur * 1000),
                    "msg": "slow response",
                    "url": uri,
                }
            elif rng.random() < 0.004:
                line = {
                    "level": 30,
                    "time": int((ts + dur) * 1000),
                    "pid": 7,
                    "hostname": host,
                    "req": {"method": method, "url": uri},
                    "res": {"statusCode": status},
                    "responseTime": round(dur * 1000, 2),
                    "msg": "request completed",
                }
            else:
                continue
            b.log(ts + dur, ll, json.dumps(line, separators=(",", ":")))

    # --- kv-cache: redis_exporter ---------------------------------------------------------
    rl = {"job": "kv-cache", "instance": "kv-cache-01:9121"}
    rt = b.scrapes("kv-cache-01:9121")

    def used(t: float) -> float:
        growth = ramp(t, b.data_start, full_at)
        return (
            MAXMEM * (0.71 + 0.29 * growth)
            if t < full_at
            else MAXMEM * (0.995 + 0.004 * rng.random())
        )

    b.gauge("redis_up", "Information about the Redis instance", rl, rt, lambda t: 1)
    b.gauge("redis_memory_used_bytes", "memory_used_bytes metric", rl, rt, used, integer=True)
    b.gauge("redis_memory_max_bytes", "memory_max_bytes metric", rl, rt, lambda t: MAXMEM)
    b.gauge("redis_config_maxmemory", "config_maxmemory metric", rl, rt, lambda t: MAXMEM)
    b.gauge(
        "redis_mem_fragmentation_ratio",
        "mem_fragmentation_ratio metric",
        rl,
        rt,
        lambda t: 1.08 + 0.1 * evict(t),
        noise=0.01,
    )
    b.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        rl,
        rt,
        lambda t: 96,
        noise=0.03,
        integer=True,
    )
    b.gauge(
        "redis_db_keys",
        "Total number of keys by DB",
        {**rl, "db": "db0"},
        rt,
        lambda t: 3.1e6 + 0.9e6 * ramp(t, b.data_start, full_at) - 0.4e6 * evict(t),
        noise=0.002,
        integer=True,
    )
    b.counter(
        "redis_evicted_keys_total",
        "evicted_keys_total metric",
        rl,
        rt,
        lambda t: 1800.0 * evict(t),
        initial=0,
    )
    b.counter(
        "redis_expired_keys_total",
        "expired_keys_total metric",
        rl,
        rt,
        lambda t: 14.0,
        initial=9.2e6,
    )
    b.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        rl,
        rt,
        lambda t: 2300.0 * (0.96 - 0.55 * evict(t)),
        initial=4.1e9,
    )
    b.counter(
        "redis_keyspace_misses_total",
        "keyspace_misses_total metric",
        rl,
        rt,
        lambda t: 2300.0 * (0.04 + 0.55 * evict(t)),
        initial=1.6e8,
    )
    b.counter(
        "redis_commands_processed_total",
        "commands_processed_total metric",
        rl,
        rt,
        lambda t: 3900.0 + 900 * evict(t),
        initial=9.9e9,
    )
    b.counter(
        "redis_net_input_bytes_total",
        "net_input_bytes_total metric",
        rl,
        rt,
        lambda t: 2.1e6 * (1 + 0.6 * evict(t)),
        initial=7.7e12,
    )
    rlog = {"job": "kv-cache", "instance": "kv-cache-01:9121", "host": "kv-cache-01"}
    t = b.data_start + 77
    while t < b.end:
        b.log(
            t,
            rlog,
            f"1847:M {utc(t).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * 10000 changes in 60 seconds. Saving...",
        )
        b.log(
            t + 0.004,
            rlog,
            f"1847:M {utc(t + 0.004).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * Background saving started by pid {rng.randint(20000, 60000)}",
        )
        b.log(
            t + 21.3,
            rlog,
            f"{rng.randint(20000, 60000)}:C {utc(t + 21.3).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * DB saved on disk",
        )
        b.log(
            t + 21.5,
            rlog,
            f"1847:M {utc(t + 21.5).strftime('%d %b %Y %H:%M:%S.%f')[:-3]} * Background saving terminated with success",
        )
        t += 300 + rng.uniform(0, 10)

    # --- catalog-db: MariaDB ---------------------------------------------------------------
    dl = {"job": "catalog-db", "instance": "catalog-db-01:9104"}
    dt = b.scrapes("catalog-db-01:9104")
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        dl,
        dt,
        lambda t: 300,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 60 + 45 * dbload(t),
        noise=0.05,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 3 + 37 * dbload(t),
        noise=0.2,
        integer=True,
    )
    b.counter(
        "mysql_global_status_questions_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 180 + 900 * dbload(t),
        initial=2.2e9,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.003 + 0.4 * dbload(t),
        initial=8813,
    )
    b.counter(
        "mysql_global_status_innodb_buffer_pool_read_requests_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 25000 + 160000 * dbload(t),
        initial=9.1e11,
    )
    b.counter(
        "mysql_global_status_innodb_row_lock_waits_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.01,
        initial=311,
    )
    dlog = {
        "job": "catalog-db",
        "instance": "catalog-db-01:9104",
        "host": "catalog-db-01",
        "log": "slow",
    }
    t = full_at + 150
    tid = 884120
    while t < b.end:
        qt = rng.uniform(1.05, 3.5)
        tid += rng.randint(1, 30)
        item = rng.randint(1, 250000)
        b.log(
            t,
            dlog,
            f"# Time: {utc(t).strftime('%y%m%d %H:%M:%S')}\n# User@Host: catalog[catalog] @  [{rng.choice(VMS).split(':')[0]}]\n"
            f"# Thread_id: {tid}  Schema: catalog  QC_hit: No\n# Query_time: {qt:.6f}  Lock_time: 0.000041  Rows_sent: 1  Rows_examined: {rng.randint(40, 900)}\n"
            f"# Rows_affected: 0  Bytes_sent: {rng.randint(900, 3000)}\nSET timestamp={int(t)};\n"
            f"SELECT i.*, p.price, s.qty FROM items i JOIN prices p ON p.item_id = i.id JOIN stock s ON s.item_id = i.id WHERE i.id = {item};",
        )
        t += rng.expovariate(1 / 3.0)
    elog = {
        "job": "catalog-db",
        "instance": "catalog-db-01:9104",
        "host": "catalog-db-01",
        "log": "error",
    }
    t = b.data_start + 300
    while t < b.end:
        stamp = utc(t).strftime("%Y-%m-%d ") + f"{utc(t).hour:2d}" + utc(t).strftime(":%M:%S")
        b.log(
            t,
            elog,
            f"{stamp} {rng.randint(100000, 999999)} [Warning] Aborted connection {rng.randint(100000, 999999)} to db: 'catalog' user: 'catalog' host: '{rng.choice(VMS).split(':')[0]}' (Got timeout reading communication packets)",
        )
        t += rng.expovariate(1 / 600.0)
    return b
