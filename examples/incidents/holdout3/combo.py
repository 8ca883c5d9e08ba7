"""A reference-like combination with other values: database trouble, one degraded VM, a
cache at maxmemory making it worse, and one client retrying identical requests."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import mysqld_exporter, redis_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    lognormal,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import Pod, Route, app_red, fail, nginx_exporter, serve

RETRIER = "91.199.32.14"


def market_meltdown() -> Bundle:
    """market-mysql: from 09:06 a seller bulk-update batch deadlocks with checkout updates
    (every ~40 s); from 09:10 unindexed ``SELECT * FROM bids WHERE state='OPEN'`` scans
    (5-7 s) pile up, and at 09:14 connections reach max_connections (1040 Too many
    connections).  market-redis hits maxmemory at 09:08 and evicts ~900 keys/s, so misses
    add reads to the database (aggravating).  market-api-2 (172.16.12.22:8080) also runs
    the in-process listing reindexer: CPU 94 %, success 58 % vs ~93 % on its siblings.
    From 09:19 91.199.32.14 (Python-urllib) retries identical requests in bursts of 5-8."""
    b = Bundle(
        "market-meltdown",
        "2027-04-08T09:00:00Z",
        description="502s and slow pages on the marketplace API",
        symptom={"component": "market-nginx", "route": "/api/v3/listings/{id}.json"},
    )
    dl, scans, full, evict, retry = 6.0, 10.0, 14.0, 8.0, 19.0
    b.component("market-nginx", "proxy", {"job": "market-nginx"}, ["market-api"])
    b.component("market-api", "app", {"job": "market-api"}, ["market-mysql", "market-redis"])
    b.component("market-mysql", "mysql", {"job": "market-mysql"})
    b.component("market-redis", "redis", {"job": "market-redis"})
    vms = [Pod(f"172.16.12.{21 + i}:8080") for i in range(3)]
    bad = 1
    routes = [
        Route("GET", "/api/v3/listings/{n}.json", "/api/v3/listings/:id.json", 0.6, 0.04),
        Route("POST", "/api/v3/bids", "/api/v3/bids", 0.15, 0.08),
        Route("POST", "/api/v3/checkout", "/api/v3/checkout", 0.1, 0.12),
        Route("GET", "/api/v3/search?q=x{n}", "/api/v3/search", 0.15, 0.07),
    ]
    clients = pick_clients(
        b, client_pool(b, ["78.46.112.", "94.130.9.", "2a01:4f8:1c1e:9d3a::", "136.243.80."], 400)
    )
    app_errs: list[tuple[float, int, str]] = []
    db_pain = lambda m: ramp(m, scans, full, 0.0, 1.0) if m >= scans else 0.0  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        p = db_pain(m)
        slow = 1 + 8 * p + (3 if i == bad and m >= dl else 0)
        e.duration = e.extra["app_dur"] = e.duration * slow
        fail_p = 0.06 * p + (0.36 * min(1.0, (m - dl) / 4) if i == bad and m >= dl else 0.0)
        if b.rng.random() < fail_p:
            fail(e, 502, min(e.duration * 3, 9.5), reached=False)
            e.upstream, e.upstream_status = vms[i].addr, "502"
            e.extra["urt"] = f"{e.duration:.3f}"
            kind = (
                b.rng.choice(("1040", "1213", "timeout"))
                if p > 0.5
                else b.rng.choice(("1213", "timeout"))
            )
            app_errs.append((e.t + e.duration, i, kind))
        elif e.method == "POST" and m >= dl and b.rng.random() < 0.03:
            fail(e, 500, e.duration)
            app_errs.append((e.t + e.duration, i, "1213"))

    events = serve(b, rate=lambda m: 7.0, clients=clients, routes=routes, pods=vms, outcome=outcome)
    t = b.t(retry)
    while t < b.t(33):
        for _ in range(b.rng.randint(5, 8)):
            k = b.rng.choice((0, 1, 1, 2))
            d = lognormal(b, 5.5, 0.3)
            e = Event(
                t=t,
                client=RETRIER,
                method="GET",
                path="/api/v3/listings/42.json",
                status=502,
                duration=d,
                upstream=vms[k].addr,
                upstream_status="502",
                agent="Python-urllib/3.11",
                size=157,
                extra={"route": "/api/v3/listings/:id.json", "app_dur": d},
            )
            events.append(e)
            t += b.rng.uniform(0.05, 0.16)
        t += b.rng.uniform(6, 14)
    edge = {"job": "market-nginx", "instance": "172.16.12.5:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "market-nginx", "instance": "172.16.12.5:9113"},
            nginx_line(b, e),
        )
    nginx_exporter(b, edge, events, lambda m: 60 + 200 * db_pain(m))
    app_red(b, vms, events, {"job": "market-api"})
    msgs = {
        "1040": "pymysql.err.OperationalError: (1040, 'Too many connections') [db=172.16.14.8:3306]",
        "1213": "pymysql.err.OperationalError: (1213, 'Deadlock found when trying to get lock; try restarting transaction') [db=172.16.14.8:3306]",
        "timeout": "redis.exceptions.TimeoutError: Timeout reading from 172.16.14.9:6379",
    }
    for t, i, kind in app_errs:
        b.log(
            t,
            {"job": "market-api", "instance": vms[i].addr},
            json.dumps(
                {
                    "asctime": b.dt(t).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
                    "levelname": "ERROR",
                    "name": "market.api",
                    "message": msgs[kind],
                }
            ),
        )
    for i, vm in enumerate(vms):
        b.runtime(
            {"job": "market-api", "instance": vm.addr},
            cpu=lambda m, i=i: 3.76 if i == bad and m >= dl else 1.1 + 0.8 * db_pain(m),
            rss=lambda m: 700e6,
            go=False,
        )
    t = b.t(dl - 0.5)
    b.log(
        t,
        {"job": "market-api", "instance": vms[bad].addr},
        json.dumps(
            {
                "asctime": b.dt(t).strftime("%Y-%m-%d %H:%M:%S,%f")[:-3],
                "levelname": "INFO",
                "name": "market.reindex",
                "message": "listing reindex started (in-process), 1,840,221 listings",
            }
        ),
    )
    mysqld_exporter(
        b,
        {"job": "market-mysql", "instance": "172.16.14.8:9104"},
        qps=lambda m: 900 + 500 * (1 if m >= evict else 0) - 400 * db_pain(m),
        max_connections=400,
        connected=lambda m: ramp(m, scans, full, 60, 400),
        running=lambda m: ramp(m, scans, full, 4, 180),
        sending=lambda m: 30 * db_pain(m),
        slow=lambda m: 0.25 if m >= scans else 0.001,
        deadlocks=lambda m: 0.025 if m >= dl else 0.0,
        lock_waits=lambda m: 0.3 if m >= dl else 0.01,
        current_waits=lambda m: 6 if m >= dl else 0,
        aborted_connects=lambda m: 3.0 if m >= full else 0.0,
        scan_rows=lambda m: 1.1e6 * db_pain(m),
    )
    mlog = {"job": "market-mysql", "instance": "172.16.14.8:9104"}
    for k, t in enumerate(b.arrivals(lambda m: 1 / 40 if m >= dl else 0.0, dl)):
        b.log(
            t,
            {**mlog, "log": "error"},
            f"{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} 0 [Note] [MY-012468] [InnoDB] Transactions deadlock detected, dumping detailed information. (lock0lock.cc:6482)\n"
            f"*** (1) TRANSACTION:\nTRANSACTION {5_120_000 + k * 9}, ACTIVE 14 sec fetching rows\n"
            f"UPDATE listings SET price_cents = ROUND(price_cents * 0.95) WHERE seller_id IN (18, 44, 91, 230)\n"
            f"*** (2) TRANSACTION:\nTRANSACTION {5_120_004 + k * 9}, ACTIVE 0 sec starting index read\n"
            f"UPDATE listings SET stock = stock - 1 WHERE id = {b.rng.randint(1000, 99999)}\n*** WE ROLL BACK TRANSACTION (2)",
        )
    for t in b.arrivals(lambda m: 0.2 if m >= scans else 0.0, scans):
        qt = b.rng.uniform(5.0, 7.2)
        b.log(
            t,
            {**mlog, "log": "slow"},
            f"# Time: {b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')}\n# User@Host: market[market] @  [172.16.12.{21 + b.rng.randint(0, 2)}]  Id: {b.rng.randint(200000, 260000)}\n"
            f"# Query_time: {qt:.6f}  Lock_time: 0.000014 Rows_sent: 48211  Rows_examined: 3904112\n"
            f"SET timestamp={int(t)};\nSELECT * FROM bids WHERE state='OPEN';",
        )
    for t in b.arrivals(lambda m: 0.3 if m >= full else 0.0, full):
        b.log(
            t,
            {**mlog, "log": "error"},
            f"{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%fZ')} 0 [Warning] [MY-011050] [Server] Too many connections",
        )
    redis_exporter(
        b,
        {"job": "market-redis", "instance": "172.16.14.9:9121"},
        ops=lambda m: 5200 - (1200 if m >= evict else 0),
        used=lambda m: min(4.29e9, 3.6e9 + m * 1e8),
        maxmemory=4.294967296e9,
        clients=lambda m: 60 + 40 * db_pain(m),
        evictions=lambda m: 900.0 if m >= evict else 0.0,
        misses=lambda m: 4000 * (0.22 if m >= evict else 0.03),
        hits=lambda m: 4000 * (0.7 if m >= evict else 0.95),
        slowlog=lambda m: 3 + (25 if m >= evict else 0),
        cmd_usec={"hgetall": lambda m: 0.35 if m >= evict else 0.05, "get": lambda m: 0.08},
    )
    return b
