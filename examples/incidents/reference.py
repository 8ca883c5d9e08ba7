"""The reference incident: 502s on /api/v2/data.json, root cause MySQL.

Reproduces /work/shared/reference-incident/report.zh.md (see README.md here):

* 09:07:07-09:10:07  four InnoDB deadlocks (payments, orders, products) on MariaDB
* 09:08              Redis slow commands (100-498 ms), misses, client errors
* 09:10              api-server-01 (10.0.2.101, us-west-2) degrades: 63% success, 92% CPU
* 09:10:52           "Too many connections" on DELETE FROM carts WHERE user_id = 8
* 09:12:22, 09:13:52 SELECT * FROM payments WHERE status='FAILED' slow (> 4.2 s)
* 09:19:44           7 identical Python-urllib/3.9 requests from 192.168.10.100 -> 502
* 12 nginx 502s in all, each > 2 s (6 over 5 s), 11 of them upstream 10.0.2.101
"""

from __future__ import annotations

import random
from collections.abc import Callable

from examples.incidents.sim import (
    BROWSER_AGENTS,
    BundleWriter,
    ComponentDecl,
    Outcome,
    Request,
    app_metrics,
    baseline_latency,
    bump,
    client_pool,
    clock,
    epoch,
    json_line,
    nginx_combined,
    noisy,
    poisson,
    proxy_metrics_nginx,
    ramp,
    sample_times,
    simulate_traffic,
)

NAME = "reference"
SEED = 20251211

DATA_START = epoch("2025-12-11T08:20:00Z")
WINDOW = ("2025-12-11T08:30:00Z", "2025-12-11T09:30:00Z")
DATA_END = epoch(WINDOW[1])


def at(clock_time: str) -> float:
    return epoch(f"2025-12-11T{clock_time}Z")


BAD = "10.0.2.101:8080"
APP_INSTANCES = {
    "10.0.2.101:8080": {"hostname": "api-server-01", "region": "us-west-2"},
    "10.0.2.102:8080": {"hostname": "api-server-02", "region": "us-west-2"},
    "10.0.3.101:8080": {"hostname": "api-server-03", "region": "us-east-1"},
    "10.0.3.102:8080": {"hostname": "api-server-04", "region": "us-east-1"},
}
NGINX = {"job": "nginx", "instance": "nginx-0"}
MYSQL = {"job": "mysql", "instance": "10.0.5.10:9104"}
REDIS = {"job": "redis", "instance": "10.0.6.10:9121"}
ROUTES = (
    ("GET", "/api/v2/data.json", 5.0, 5120),
    ("GET", "/api/v2/cart", 2.0, 1840),
    ("POST", "/api/v2/cart", 1.0, 312),
    ("POST", "/api/v2/login", 0.8, 420),
    ("POST", "/api/v2/checkout", 0.4, 980),
    ("GET", "/favicon.ico", 0.1, 0),
)
MEDIAN_LATENCY = {
    "/api/v2/data.json": 0.045,
    "/api/v2/cart": 0.03,
    "/api/v2/login": 0.06,
    "/api/v2/checkout": 0.12,
}

MYSQL_CRISIS = (at("09:07:00"), at("09:10:45"), at("09:14:00"), at("09:18:00"))
REDIS_TROUBLE = at("09:08:00")
APP_SICK = (at("09:09:30"), at("09:12:00"))
DEADLOCKS = ("09:07:07", "09:08:07", "09:09:07", "09:10:07")
TOO_MANY = "09:10:52"
SLOW_QUERIES = (("09:12:22", 4.231877, 1843211, 37), ("09:13:52", 4.318004, 1843290, 38))


def sickness(upstream: str, t: float) -> float:
    return ramp(t, *APP_SICK) if upstream == BAD else 0.0


def behaviour(rng: random.Random, upstream: str, t: float, path: str) -> Outcome:
    median = MEDIAN_LATENCY.get(path, 0.05)
    sick = sickness(upstream, t)
    db_pressure = bump(t, *MYSQL_CRISIS)
    latency = baseline_latency(rng, median * (1 + 0.3 * db_pressure) * (1 + 14 * sick))
    failure = 0.001 + 0.003 * db_pressure + 0.37 * sick
    if upstream == BAD and at("09:07:00") <= t < APP_SICK[0]:
        failure += 0.03
    if rng.random() < failure:
        return Outcome(500, round(latency * rng.uniform(0.5, 1.5), 3))
    return Outcome(200, latency)


def injected_502s(rng: random.Random, clients: list[str]) -> list[Request]:
    """The 12 502s of the report: 11 via 10.0.2.101, 7 of them one client's retry loop."""
    urllib_times = (9.512, 8.904, 8.611, 7.935, 6.812, 4.870, 4.215)
    offsets = (0.120, 0.241, 0.388, 0.502, 0.655, 0.790, 0.903)
    found = [
        Request(
            ts=at("09:19:44") + offset,
            client="192.168.10.100",
            method="GET",
            path="/api/v2/data.json",
            status=502,
            size=157,
            request_time=request_time,
            upstream=BAD,
            upstream_status="502",
            user_agent="Python-urllib/3.9",
            route="/api/v2/data.json",
        )
        for offset, request_time in zip(offsets, urllib_times, strict=True)
    ]
    others = (
        ("09:15:31.402", 2.304, BAD, "/api/v2/data.json"),
        ("09:17:08.911", 3.118, BAD, "/api/v2/cart"),
        ("09:20:33.275", 2.051, "10.0.2.102:8080", "/api/v2/data.json"),
        ("09:21:40.018", 2.710, BAD, "/api/v2/data.json"),
        ("09:23:12.660", 5.803, BAD, "/api/v2/data.json"),
    )
    for when, request_time, upstream, path in others:
        found.append(
            Request(
                ts=at(when),
                client=rng.choice(clients),
                method="GET",
                path=path,
                status=502,
                size=157,
                request_time=request_time,
                upstream=upstream,
                upstream_status="502",
                user_agent=rng.choice(BROWSER_AGENTS),
                route=path,
            )
        )
    return found


def build() -> BundleWriter:
    rng = random.Random(SEED)
    writer = BundleWriter(
        name="api-v2-data-502",
        description="502s on /api/v2/data.json (reference incident, 2025-12-11)",
        window=WINDOW,
        symptom={"component": "nginx", "route": "/api/v2/data.json"},
        components=(
            ComponentDecl("nginx", "proxy", {"job": "nginx"}, ("api",)),
            ComponentDecl("api", "app", {"job": "api-server"}, ("mysql", "redis")),
            ComponentDecl("mysql", "mysql", {"job": "mysql"}),
            ComponentDecl("redis", "redis", {"job": "redis"}),
        ),
    )
    times = sample_times(DATA_START, DATA_END)
    clients = client_pool(rng, ("203.0.113", "198.51.100", "172.16.4", "192.168.10"), 220)
    clients = [client for client in clients if client != "192.168.10.100"]
    requests = simulate_traffic(
        rng,
        start=DATA_START - 30,
        end=DATA_END,
        rate=lambda t: 6.0,
        clients=clients,
        routes=ROUTES,
        upstreams=list(APP_INSTANCES),
        behaviour=behaviour,
    )
    # The retrying client was an ordinary, quiet client before its loop.
    for when in ("08:47:12.334", "09:02:51.908"):
        requests.append(
            Request(
                ts=at(when),
                client="192.168.10.100",
                method="GET",
                path="/api/v2/data.json",
                status=200,
                size=5144,
                request_time=0.051,
                upstream="10.0.3.101:8080",
                upstream_status="200",
                user_agent="Python-urllib/3.9",
                route="/api/v2/data.json",
            )
        )
    requests.extend(injected_502s(rng, clients))
    requests.sort(key=lambda request: request.ts)

    _nginx(writer, rng, requests, times)
    _api(writer, rng, requests, times)
    _mysql(writer, rng, times)
    _redis(writer, rng, times)
    return writer


def _nginx(
    writer: BundleWriter, rng: random.Random, requests: list[Request], times: list[float]
) -> None:
    access = {**NGINX, "stream": "access"}
    errors = {**NGINX, "stream": "error"}
    connection = 48000
    for request in requests:
        if request.ts < DATA_START:
            continue
        writer.log(request.ts, access, nginx_combined(request))
        connection += 1
        if request.status == 502:
            if request.request_time > 4:
                problem = "upstream prematurely closed connection"
            else:
                problem = "recv() failed (104: Connection reset by peer)"
            writer.log(
                request.ts,
                errors,
                f"{clock(request.ts, '%Y/%m/%d %H:%M:%S')} [error] 31#31: *{connection} {problem} "
                f"while reading response header from upstream, client: {request.client}, "
                f'server: api.example.com, request: "{request.method} {request.path} HTTP/1.1", '
                f'upstream: "http://{request.upstream}{request.path}", host: "api.example.com"',
            )
    # Benign warnings an nginx in front of an API writes every now and then.
    for index in range(9):
        t = DATA_START + 300 + index * 430 + rng.uniform(0, 200)
        writer.log(
            t,
            errors,
            f"{clock(t, '%Y/%m/%d %H:%M:%S')} [warn] 31#31: *{47000 + index * 97} an upstream "
            "response is buffered to a temporary file /var/cache/nginx/proxy_temp/4/21/0000000214 "
            f"while reading upstream, client: {rng.choice(('203.0.113.7', '198.51.100.23'))}, "
            'server: api.example.com, request: "GET /api/v2/data.json?export=full HTTP/1.1", '
            f'upstream: "http://{rng.choice(list(APP_INSTANCES))}/api/v2/data.json?export=full", '
            'host: "api.example.com"',
        )
    proxy_metrics_nginx(writer, [r for r in requests if r.ts >= DATA_START - 15], NGINX, times)


def _api(
    writer: BundleWriter, rng: random.Random, requests: list[Request], times: list[float]
) -> None:
    labels_of = {
        upstream: {"job": "api-server", "instance": upstream, **extra}
        for upstream, extra in APP_INSTANCES.items()
    }

    def cpu(instance: str, t: float) -> float:
        base = 0.24 + 0.05 * bump(t, *MYSQL_CRISIS)
        value = base + (0.917 - base) * sickness(instance, t)
        return noisy(rng, value, 0.02 if sickness(instance, t) > 0.9 else 0.06)

    app_metrics(
        writer,
        [r for r in requests if r.ts >= DATA_START - 15],
        labels_of,
        times,
        job="api-server",
        cpu=cpu,
    )

    deadlock_times = [at(when) for when in DEADLOCKS]
    for request in requests:
        if request.ts < DATA_START or request.upstream is None:
            continue
        stream = {"job": "api-server", "instance": request.upstream, "stream": "stdout"}
        status = request.upstream_status
        if status == "500":
            writer.log(request.ts, stream, _app_error(rng, request, deadlock_times))
        elif status == "200" and rng.random() < 0.08:
            writer.log(
                request.ts,
                stream,
                json_line(
                    time=clock(request.ts, "%Y-%m-%dT%H:%M:%S.")
                    + f"{int(request.ts * 1000) % 1000:03d}Z",
                    level="INFO",
                    logger="api.access",
                    msg=f"{request.method} {request.path} 200 {int(request.request_time * 1000)}ms",
                    client=request.client,
                ),
            )
    # Deadlock victims and the refused connection surface in the app's own log.
    for when, statement in zip(DEADLOCKS, _DEADLOCK_VICTIMS, strict=True):
        t = at(when) + 0.004
        writer.log(
            t,
            _app_stream(BAD),
            json_line(
                time=_app_time(t),
                level="ERROR",
                logger="api.db",
                msg="pymysql.err.OperationalError: (1213, 'Deadlock found when trying to get lock; "
                "try restarting transaction')",
                statement=statement,
            ),
        )
    t = at(TOO_MANY) + 0.011
    writer.log(
        t,
        _app_stream(BAD),
        json_line(
            time=_app_time(t),
            level="ERROR",
            logger="api.db",
            msg="pymysql.err.OperationalError: (1040, 'Too many connections')",
            statement="DELETE FROM carts WHERE user_id = 8",
        ),
    )
    # Redis client errors, mostly on the instance that also waits on MySQL.
    for index in range(46):
        t = rng.uniform(REDIS_TROUBLE + 5, DATA_END - 1)
        upstream = BAD if rng.random() < 0.6 else rng.choice(list(APP_INSTANCES))
        kind = index % 3
        if kind == 0:
            key = rng.choice(("cart:22", "counter:login", "session:8a1f", "cart:22"))
            record = json_line(
                time=_app_time(t),
                level="WARNING",
                logger="api.cache",
                msg=f"redis GET {key}: key not found, falling back to database",
            )
        elif kind == 1:
            record = json_line(
                time=_app_time(t),
                level="ERROR",
                logger="api.cache",
                msg="redis.exceptions.ConnectionError: Connection lost: Error while "
                "reading from 10.0.6.10:6379 : (104, 'Connection reset by peer')",
            )
        else:
            record = json_line(
                time=_app_time(t),
                level="ERROR",
                logger="api.cache",
                msg="redis.exceptions.TimeoutError: Timeout reading from "
                f"10.0.6.10:6379 ({rng.choice(('HGETALL cart:22', 'INCR counter:login'))})",
            )
        writer.log(t, _app_stream(upstream), record)
    # Background noise every instance writes.
    for upstream in APP_INSTANCES:
        for index in range(14):
            t = DATA_START + index * 300 + rng.uniform(0, 280)
            message = rng.choice(
                (
                    "cache warmup finished: 1200 keys in 0.84s",
                    "config reloaded from /etc/api/config.yaml",
                    "worker 3 recycled after 10000 requests",
                )
            )
            writer.log(
                t,
                _app_stream(upstream),
                json_line(time=_app_time(t), level="INFO", logger="api.main", msg=message),
            )
        for _ in range(2):
            t = rng.uniform(DATA_START, DATA_END)
            writer.log(
                t,
                _app_stream(upstream),
                json_line(
                    time=_app_time(t),
                    level="WARNING",
                    logger="py.warnings",
                    msg="DeprecationWarning: datetime.utcnow() is deprecated",
                ),
            )


_DEADLOCK_VICTIMS = (
    "INSERT INTO orders (user_id, total, status) VALUES (31, 42.50, 'NEW')",
    "UPDATE products SET stock = stock - 1 WHERE id = 42",
    "SELECT * FROM payments WHERE status='FAILED' FOR UPDATE",
    "INSERT INTO orders (user_id, total, status) VALUES (77, 18.90, 'NEW')",
)
_DEADLOCK_PAIRS = (
    (
        "SELECT * FROM payments WHERE status='FAILED' FOR UPDATE",
        "payments",
        "INSERT INTO orders (user_id, total, status) VALUES (31, 42.50, 'NEW')",
        "orders",
    ),
    (
        "INSERT INTO orders (user_id, total, status) VALUES (12, 99.00, 'NEW')",
        "orders",
        "UPDATE products SET stock = stock - 1 WHERE id = 42",
        "products",
    ),
    (
        "UPDATE products SET stock = stock - 1 WHERE id = 17",
        "products",
        "SELECT * FROM payments WHERE status='FAILED' FOR UPDATE",
        "payments",
    ),
    (
        "UPDATE payments SET status='RETRY' WHERE order_id = 9921",
        "payments",
        "INSERT INTO orders (user_id, total, status) VALUES (77, 18.90, 'NEW')",
        "orders",
    ),
)


def _app_stream(upstream: str) -> dict[str, str]:
    return {"job": "api-server", "instance": upstream, "stream": "stdout"}


def _app_time(t: float) -> str:
    return clock(t, "%Y-%m-%dT%H:%M:%S.") + f"{round(t * 1000) % 1000:03d}Z"


def _app_error(rng: random.Random, request: Request, deadlocks: list[float]) -> str:
    t = request.ts
    if any(0 <= t - d < 2 for d in deadlocks):
        message = (
            "pymysql.err.OperationalError: (1213, 'Deadlock found when trying to get lock; "
            "try restarting transaction')"
        )
    elif t >= at(TOO_MANY) - 10 and rng.random() < 0.45:
        message = (
            "sqlalchemy.exc.TimeoutError: QueuePool limit of size 20 overflow 10 reached, "
            "connection timed out, timeout 30.00"
        )
    elif rng.random() < 0.5:
        message = (
            "pymysql.err.OperationalError: (2013, 'Lost connection to MySQL server during query')"
        )
    else:
        message = "pymysql.err.OperationalError: (1205, 'Lock wait timeout exceeded; try restarting transaction')"
    return json_line(
        time=_app_time(t),
        level="ERROR",
        logger="api.handler",
        msg=f"{request.method} {request.path} failed: {message}",
        status=500,
    )


def mariadb_time(t: float) -> str:
    """MariaDB's error-log timestamp: ``2025-12-11  9:07:07`` (hour padded with a space)."""
    return clock(t, "%Y-%m-%d ") + f"{int(clock(t, '%H')):2d}" + clock(t, ":%M:%S")


def deadlock_report(
    t: float, thread: int, first: tuple[str, str], second: tuple[str, str], trx: int
) -> str:
    """The InnoDB deadlock dump MariaDB writes with innodb_print_all_deadlocks=ON."""
    stamp = mariadb_time(t)

    def lock(table: str, trx_id: int, mode: str) -> str:
        return (
            f"RECORD LOCKS space id {100 + len(table)} page no {3 + len(table) % 5} n bits 200 "
            f"index PRIMARY of table `shop`.`{table}` trx id {trx_id} {mode}"
        )

    lines = [
        f"{stamp} {thread} [Note] InnoDB: Transactions deadlock detected, dumping detailed information.",
        f"{stamp} {thread} [Note] InnoDB: ",
        "*** (1) TRANSACTION:",
        f"TRANSACTION {trx}, ACTIVE 3 sec starting index read",
        "mysql tables in use 1, locked 1",
        "LOCK WAIT 4 lock struct(s), heap size 1128, 3 row lock(s)",
        f"MariaDB thread id {thread}, OS thread handle 139912873125440, query id {trx * 3 % 9999991} "
        "10.0.2.101 app_user Sending data",
        first[0],
        "*** WAITING FOR THIS LOCK TO BE GRANTED:",
        lock(second[1], trx, "lock_mode X waiting"),
        "*** CONFLICTING WITH:",
        lock(second[1], trx - 3, "lock_mode X locks rec but not gap"),
        "",
        "*** (2) TRANSACTION:",
        f"TRANSACTION {trx - 3}, ACTIVE 2 sec inserting",
        "mysql tables in use 1, locked 1",
        "LOCK WAIT 3 lock struct(s), heap size 1128, 2 row lock(s), undo log entries 1",
        f"MariaDB thread id {thread + 11}, OS thread handle 139912873431552, query id "
        f"{trx * 3 % 9999991 + 7} 10.0.2.101 app_user Update",
        second[0],
        "*** WAITING FOR THIS LOCK TO BE GRANTED:",
        lock(first[1], trx - 3, "lock_mode X insert intention waiting"),
        "*** CONFLICTING WITH:",
        lock(first[1], trx, "lock_mode X"),
        "",
        "*** WE ROLL BACK TRANSACTION (2)",
    ]
    return "\n".join(lines)


def slow_entry_mariadb(
    t: float,
    seconds: float,
    examined: int,
    sent: int,
    statement: str,
    *,
    user: str,
    host: str,
    ip: str,
    thread: int,
    schema: str,
) -> str:
    return "\n".join(
        (
            f"# Time: {clock(t, '%y%m%d')} {int(clock(t, '%H')):2d}{clock(t, ':%M:%S')}",
            f"# User@Host: {user}[{user}] @ {host} [{ip}]",
            f"# Thread_id: {thread}  Schema: {schema}  QC_hit: No",
            f"# Query_time: {seconds:.6f}  Lock_time: 0.000{thread % 900 + 100}  Rows_sent: {sent}  "
            f"Rows_examined: {examined}",
            f"# Rows_affected: 0  Bytes_sent: {sent * 111 + 402}",
            f"SET timestamp={int(t)};",
            statement,
        )
    )


def _mysql(writer: BundleWriter, rng: random.Random, times: list[float]) -> None:
    error = {**MYSQL, "stream": "error"}
    slow = {**MYSQL, "stream": "slow"}
    sql_errors = {**MYSQL, "stream": "sql_errors"}
    for index, (when, pair) in enumerate(zip(DEADLOCKS, _DEADLOCK_PAIRS, strict=True)):
        t = at(when)
        writer.log(
            t,
            error,
            deadlock_report(
                t, 1187 + index * 53, (pair[0], pair[1]), (pair[2], pair[3]), 8812301 + index * 4111
            ),
        )
        writer.log(
            t + 0.002,
            sql_errors,
            f"{mariadb_time(t)} app_user[app_user] @ api-server-01 [10.0.2.101] ERROR 1213: "
            f"Deadlock found when trying to get lock; try restarting transaction : {pair[2]}",
        )
    t = at(TOO_MANY)
    writer.log(
        t,
        sql_errors,
        f"{mariadb_time(t)} app_user[app_user] @ api-server-01 [10.0.2.101] ERROR 1040: "
        "Too many connections : DELETE FROM carts WHERE user_id = 8",
    )
    for offset in (0.0, 3.4, 9.1, 17.8):
        writer.log(
            t + offset,
            error,
            f"{mariadb_time(t + offset)} 0 [Warning] Aborted connection 0 to db: 'unconnected' "
            "user: 'unauthenticated' host: '10.0.2.101' (Too many connections)",
        )
    for index, (when, seconds, examined, sent) in enumerate(SLOW_QUERIES):
        t = at(when)
        writer.log(
            t + seconds,
            slow,
            slow_entry_mariadb(
                t,
                seconds,
                examined,
                sent,
                "SELECT * FROM payments WHERE status='FAILED';",
                user="app_user",
                host="api-server-01",
                ip="10.0.2.101",
                thread=5012 + index * 7,
                schema="shop",
            ),
        )
    # Baseline: one slow report query and the odd aborted connection.
    t = at("08:44:10")
    writer.log(
        t + 1.31,
        slow,
        slow_entry_mariadb(
            t,
            1.304117,
            220415,
            1,
            "SELECT COUNT(*) FROM orders WHERE created_at >= '2025-12-10';",
            user="report",
            host="bi-01",
            ip="10.0.9.20",
            thread=3301,
            schema="shop",
        ),
    )
    for when in ("08:41:13", "08:58:40", "09:26:02"):
        t = at(when)
        writer.log(
            t,
            error,
            f"{mariadb_time(t)} {3300 + int(t) % 97} [Warning] Aborted connection "
            f"{3300 + int(t) % 97} to db: 'shop' user: 'report' host: '10.0.9.20' "
            "(Got timeout reading communication packets)",
        )
    t = at("08:35:00")
    writer.log(
        t,
        error,
        f"{mariadb_time(t)} 0 [Note] InnoDB: Buffer pool(s) dump completed at "
        f"{clock(t, '%y%m%d %H:%M:%S')}",
    )

    crisis = lambda t: bump(t, *MYSQL_CRISIS)  # noqa: E731
    max_connections = 151

    def connected(t: float) -> float:
        if at(TOO_MANY) - 8 <= t <= at("09:14:00"):
            return max_connections
        level = 38 + (max_connections - 38) * ramp(t, MYSQL_CRISIS[0], MYSQL_CRISIS[1])
        level = level * (1 - ramp(t, MYSQL_CRISIS[2], MYSQL_CRISIS[3])) + 55 * ramp(
            t, MYSQL_CRISIS[2], MYSQL_CRISIS[3]
        )
        return min(max_connections, round(noisy(rng, level, 0.04)))

    writer.gauge("mysql_up", "Whether the MySQL server is up.", MYSQL, times, lambda t: 1)
    writer.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        MYSQL,
        times,
        connected,
    )
    writer.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        MYSQL,
        times,
        lambda t: round(noisy(rng, 4 + 56 * crisis(t), 0.2)),
    )
    writer.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        MYSQL,
        times,
        lambda t: max_connections,
    )
    _untyped_counter(
        writer,
        "mysql_global_status_queries",
        MYSQL,
        times,
        lambda t: noisy(rng, 410 * 15 * (1 - 0.35 * crisis(t)), 0.05),
        start=88_412_003,
    )
    _untyped_counter(
        writer,
        "mysql_global_status_questions",
        MYSQL,
        times,
        lambda t: noisy(rng, 395 * 15 * (1 - 0.35 * crisis(t)), 0.05),
        start=85_101_774,
    )
    _untyped_counter(
        writer,
        "mysql_global_status_innodb_row_lock_waits",
        MYSQL,
        times,
        lambda t: poisson(rng, 0.6 + 45 * crisis(t)),
        start=18_211,
    )
    _untyped_counter(
        writer,
        "mysql_global_status_innodb_row_lock_time",
        MYSQL,
        times,
        lambda t: poisson(rng, 3 + 2500 * crisis(t)),
        start=4_412_008,
    )
    deadlock_times = [at(when) for when in DEADLOCKS]
    _untyped_counter(
        writer,
        "mysql_global_status_innodb_deadlocks",
        MYSQL,
        times,
        _events_in_step(deadlock_times),
        start=3,
    )
    slow_times = [at("08:44:10") + 1.31] + [
        at(when) + seconds for when, seconds, _, _ in SLOW_QUERIES
    ]
    _untyped_counter(
        writer,
        "mysql_global_status_slow_queries",
        MYSQL,
        times,
        _events_in_step(slow_times),
        start=112,
    )
    _untyped_counter(
        writer,
        "mysql_global_status_connection_errors_total",
        {**MYSQL, "error": "max_connections"},
        times,
        lambda t: poisson(rng, 6.0) if at(TOO_MANY) - 1 <= t <= at("09:14:00") else 0.0,
    )
    for kind in ("accept", "internal", "peer_address", "select", "tcpwrap"):
        _untyped_counter(
            writer,
            "mysql_global_status_connection_errors_total",
            {**MYSQL, "error": kind},
            times,
            lambda t: 0.0,
        )
    _untyped_counter(
        writer,
        "mysql_global_status_aborted_connects",
        MYSQL,
        times,
        lambda t: poisson(rng, 0.02 + (5.0 if at(TOO_MANY) - 1 <= t <= at("09:14:00") else 0)),
        start=611,
    )


def _untyped_counter(
    writer: BundleWriter,
    name: str,
    labels: dict[str, str],
    times: list[float],
    increment: Callable[[float], float],
    *,
    start: float = 0.0,
) -> None:
    """mysqld_exporter exposes SHOW GLOBAL STATUS counters untyped, named as they are."""
    writer.family(name, "unknown", "Generic metric from SHOW GLOBAL STATUS.")
    total = start
    points = []
    for t in times:
        total += max(0.0, increment(t))
        points.append((t, total))
    writer.add_series(name, labels, points)


def _events_in_step(events: list[float]) -> Callable[[float], float]:
    return lambda t: float(sum(1 for event in events if t - 15 < event <= t))


def _redis(writer: BundleWriter, rng: random.Random, times: list[float]) -> None:
    server = {**REDIS, "stream": "server"}
    slowlog = {**REDIS, "stream": "slowlog"}
    # Background saves every five minutes: ordinary Redis chatter.
    for index in range(15):
        t = DATA_START + 60 + index * 300 + rng.uniform(0, 2)
        child = 4211 + index * 3
        writer.log(
            t,
            server,
            f"1:M {clock(t, '%d %b %Y %H:%M:%S')}.{int(t * 1000) % 1000:03d} * "
            "100 changes in 300 seconds. Saving...",
        )
        writer.log(
            t + 0.002,
            server,
            f"1:M {clock(t, '%d %b %Y %H:%M:%S')}.{int(t * 1000 + 2) % 1000:03d} "
            f"* Background saving started by pid {child}",
        )
        done = t + rng.uniform(0.4, 0.9)
        writer.log(
            done,
            server,
            f"{child}:C {clock(done, '%d %b %Y %H:%M:%S')}.{int(done * 1000) % 1000:03d} "
            "* DB saved on disk",
        )
        writer.log(
            done + 0.05,
            server,
            f"1:M {clock(done, '%d %b %Y %H:%M:%S')}."
            f"{int(done * 1000 + 50) % 1000:03d} * Background saving terminated with success",
        )
    # Slow commands from 09:08 on: the hot keys and the big hashes.
    slow_events: list[float] = []
    durations = [rng.randint(101_000, 380_000) for _ in range(33)] + [498_211]
    rng.shuffle(durations)
    slow_id = 20410
    for duration_us in durations:
        t = rng.uniform(REDIS_TROUBLE + 2, DATA_END - 5)
        slow_events.append(t)
        command = rng.choice(
            (
                "HGETALL cart:22",
                "HGETALL cart:22",
                "INCR counter:login",
                "GET cart:22",
                "ZRANGEBYSCORE leaderboard:daily 0 +inf",
                "HGETALL cart:22",
            )
        )
        client = (
            rng.choice(list(APP_INSTANCES)).split(":")[0] if rng.random() < 0.45 else "10.0.2.101"
        )
        writer.log(
            t,
            slowlog,
            f"slowlog id={slow_id} time={int(t)} duration_us={duration_us} "
            f'client={client}:{rng.randint(40000, 60000)} cmd="{command}"',
        )
        slow_id += 1
    slow_events.sort()
    for index in range(5):
        t = rng.uniform(REDIS_TROUBLE + 20, DATA_END - 5)
        writer.log(
            t,
            server,
            f"1:M {clock(t, '%d %b %Y %H:%M:%S')}.{int(t * 1000) % 1000:03d} # "
            f"Client id={4121 + index} addr=10.0.2.101:{51872 + index} laddr=10.0.6.10:6379 fd=41 "
            "name= age=3 idle=0 flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 qbuf=0 qbuf-free=20474 "
            "argv-mem=0 multi-mem=0 rbs=1024 rbp=0 obl=0 oll=1412 omem=28993656 tot-mem=29015904 "
            "events=rw cmd=hgetall user=default redir=-1 resp=2 scheduled to be closed ASAP for "
            "overcoming of output buffer limits.",
        )

    trouble = lambda t: ramp(t, REDIS_TROUBLE, REDIS_TROUBLE + 90)  # noqa: E731
    writer.gauge("redis_up", "Information about the Redis instance", REDIS, times, lambda t: 1)
    writer.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        REDIS,
        times,
        lambda t: round(noisy(rng, 48 + 64 * trouble(t), 0.06)),
    )
    writer.gauge(
        "redis_blocked_clients",
        "blocked_clients metric",
        REDIS,
        times,
        lambda t: poisson(rng, 0.1 + 6 * trouble(t)),
    )
    writer.gauge(
        "redis_memory_used_bytes",
        "memory_used_bytes metric",
        REDIS,
        times,
        lambda t: round(noisy(rng, 1.21e9, 0.004)),
    )
    writer.gauge(
        "redis_memory_max_bytes", "memory_max_bytes metric", REDIS, times, lambda t: 2147483648
    )
    writer.gauge(
        "redis_slowlog_length",
        "Total slowlog",
        REDIS,
        times,
        lambda t: 2 + sum(1 for event in slow_events if event <= t),
    )
    writer.gauge(
        "redis_slowlog_last_id",
        "Last id of slowlog",
        REDIS,
        times,
        lambda t: 20409 + sum(1 for event in slow_events if event <= t),
    )
    per_second = {
        "get": 120.0,
        "set": 30.0,
        "hgetall": 15.0,
        "incr": 10.0,
        "expire": 20.0,
        "del": 5.0,
    }
    micros = {"get": 4.0, "set": 6.0, "hgetall": 21.0, "incr": 3.0, "expire": 3.0, "del": 5.0}
    slow_micros = {
        "get": 900.0,
        "set": 40.0,
        "hgetall": 31000.0,
        "incr": 2200.0,
        "expire": 3.0,
        "del": 5.0,
    }
    writer.family("redis_commands", "counter", "Total number of calls per command")
    writer.family(
        "redis_commands_duration_seconds",
        "counter",
        "Total amount of time in seconds spent per command",
    )
    for command, rate in per_second.items():
        calls = [noisy(rng, rate * 15, 0.06) for _ in times]
        totals = []
        seconds = []
        running_calls = 1_000_000.0 * rate / 10
        running_seconds = running_calls * micros[command] / 1e6
        for t, count in zip(times, calls, strict=True):
            count = round(count)
            mean = micros[command] + (slow_micros[command] - micros[command]) * trouble(t)
            running_calls += count
            running_seconds += count * noisy(rng, mean, 0.15) / 1e6
            totals.append((t, running_calls))
            seconds.append((t, round(running_seconds, 6)))
        writer.add_series(
            "redis_commands", {**REDIS, "cmd": command}, totals, sample="redis_commands_total"
        )
        writer.add_series(
            "redis_commands_duration_seconds",
            {**REDIS, "cmd": command},
            seconds,
            sample="redis_commands_duration_seconds_total",
        )
    writer.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        REDIS,
        times,
        lambda t: noisy(rng, 150 * 15 * (1 - 0.2 * trouble(t)), 0.05),
        start=9_120_331,
    )
    writer.counter(
        "redis_keyspace_misses_total",
        "keyspace_misses_total metric",
        REDIS,
        times,
        lambda t: noisy(rng, 8 * 15 * (1 + 4 * trouble(t)), 0.08),
        start=402_118,
    )
    writer.counter(
        "redis_connections_received_total",
        "connections_received_total metric",
        REDIS,
        times,
        lambda t: poisson(rng, 0.5 + 30 * trouble(t)),
        start=88_231,
    )
    writer.counter(
        "redis_rejected_connections_total",
        "rejected_connections_total metric",
        REDIS,
        times,
        lambda t: 0.0,
    )
    writer.counter(
        "redis_evicted_keys_total", "evicted_keys_total metric", REDIS, times, lambda t: 0.0
    )
