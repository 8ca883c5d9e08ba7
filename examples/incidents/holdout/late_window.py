"""late-window-incident: row-lock waits start in the last 15 % of the window.

2025-08-14, window 22:00-23:00 UTC.  At 22:51 an operator's session from
10.99.7.7 runs ``UPDATE accounts SET flags = flags | 4 WHERE region = 'EU'``
on ``ledgerdb`` (MariaDB 10.6) and leaves the transaction open.  Transfers
touching EU accounts wait on its row locks until ``innodb_lock_wait_timeout``
(50 s) and fail with 1205; ``Innodb_row_lock_current_waits`` goes 0 -> ~60,
threads running 3 -> ~65; slow-log entries with ``Lock_time`` ~50 s.  HAProxy
(syslog HTTP log format, built-in Prometheus exporter) cuts them at its 30 s
server timeout (504, ``sH--``).  The three ``ledger`` instances (Flask,
logfmt) fail alike.  The first 50 minutes are normal traffic and noise.

Expected: root ``ledgerdb``; nothing affected alone; no client;
``kill-mysql-queries`` on ``ledgerdb``.
"""

from __future__ import annotations

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, ramp, utc

APPS = {"10.99.0.11:5000": "ledger1", "10.99.0.12:5000": "ledger2", "10.99.0.13:5000": "ledger3"}


def build() -> Bundle:
    b = Bundle(
        name="ledger-timeouts-2025-08-14",
        description="transfers time out",
        start="2025-08-14T22:00:00Z",
        end="2025-08-14T23:00:00Z",
        seed=81422,
        symptom={"component": "lb", "route": "/api/transfer"},
        components=[
            Component("lb", "proxy", {"job": "haproxy"}, ["ledger"]),
            Component("ledger", "app", {"job": "ledger"}, ["ledgerdb"]),
            Component("ledgerdb", "mysql", {"job": "ledgerdb"}),
        ],
    )
    rng = b.rng
    onset = b.at("22:51:00")

    def locks(t: float) -> float:
        return ramp(t, onset, onset + 60)

    pool = client_pool(
        rng,
        [
            lambda r: f"172.{r.randint(16, 31)}.{r.randint(0, 255)}.{r.randint(2, 254)}",
            lambda r: f"10.{r.randint(128, 160)}.{r.randint(0, 255)}.{r.randint(2, 254)}",
        ],
        200,
    )
    requests = []
    for ts in b.arrivals(lambda t: 3.0):
        ip, _ = pick_client(rng, pool)
        agent = rng.choice(
            (
                "ledger-client/2.1",
                "Apache-HttpClient/4.5.14 (Java/17.0.9)",
                "python-requests/2.32.3",
            )
        )
        kind = rng.choices(("transfer", "balance", "history"), weights=(3, 5, 2))[0]
        path = {
            "transfer": "/api/transfer",
            "balance": f"/api/accounts/{rng.randint(10000, 99999)}/balance",
            "history": f"/api/accounts/{rng.randint(10000, 99999)}/history?days=30",
        }[kind]
        method = "POST" if kind == "transfer" else "GET"
        app = rng.choice(list(APPS))
        dur = rng.lognormvariate(-3.2, 0.4)
        status, term = (200 if rng.random() > 0.001 else 500), "----"
        if kind == "transfer" and rng.random() < 0.55 * locks(ts):
            status, term, dur = 504, "sH--", 30.0 + rng.uniform(0, 0.01)
        requests.append((ts, ip, agent, method, path, app, status, dur, term, kind))

    # --- lb: HAProxy -----------------------------------------------------------------------
    hl = {"job": "haproxy", "instance": "lb1:8405"}
    ht = b.scrapes("lb1:8405")
    for app, server in APPS.items():
        mine = [r for r in requests if r[5] == app]
        b.counter_from_events(
            "haproxy_server_http_responses_total",
            "Total number of HTTP responses.",
            ht,
            (
                (
                    r[0] + r[7],
                    {**hl, "proxy": "be_ledger", "server": server, "code": f"{str(r[6])[0]}xx"},
                    1,
                )
                for r in mine
            ),
            always=[
                {**hl, "proxy": "be_ledger", "server": server, "code": c} for c in ("2xx", "5xx")
            ],
        )
    b.counter_from_events(
        "haproxy_backend_http_responses_total",
        "Total number of HTTP responses.",
        ht,
        (
            (r[0] + r[7], {**hl, "proxy": "be_ledger", "code": f"{str(r[6])[0]}xx"}, 1)
            for r in requests
        ),
        always=[
            {**hl, "proxy": "be_ledger", "code": c}
            for c in ("1xx", "2xx", "3xx", "4xx", "5xx", "other")
        ],
    )
    b.gauge(
        "haproxy_backend_response_time_average_seconds",
        "Avg. response time for last 1024 successful connections.",
        {**hl, "proxy": "be_ledger"},
        ht,
        lambda t: 0.041 + 6.0 * locks(t),
        noise=0.1,
    )
    b.gauge(
        "haproxy_backend_current_queue",
        "Number of current queued connections.",
        {**hl, "proxy": "be_ledger"},
        ht,
        lambda t: 0.0,
    )
    b.gauge(
        "haproxy_backend_active_servers",
        "Number of currently active servers.",
        {**hl, "proxy": "be_ledger"},
        ht,
        lambda t: 3,
    )
    for ts, ip, _agent, method, path, app, status, dur, term, _kind in requests:
        server = APPS[app]
        tq, tw, tc = 0, 0, rng.randint(0, 2)
        tr = int(dur * 1000)
        conns = rng.randint(20, 60)
        b.log(
            ts + dur,
            {"job": "haproxy", "host": "lb1", "facility": "local0"},
            f"{utc(ts + dur).strftime('%b %d %H:%M:%S')} lb1 haproxy[2291]: {ip}:{rng.randint(1024, 65535)} [{utc(ts).strftime('%d/%b/%Y:%H:%M:%S.')}{int(ts * 1000) % 1000:03d}] "
            f"fe_https~ be_ledger/{server} {tq}/{tw}/{tc}/{tr if status != 504 else -1}/{tr + tc} {status} {rng.randint(180, 2200) if status != 504 else 198} - - {term} "
            f'{conns}/{conns - 2}/{rng.randint(1, 9)}/{rng.randint(0, 4)}/0 0/0 "{method} {path} HTTP/1.1"',
        )

    # --- ledger apps --------------------------------------------------------------------------
    for inst, name in APPS.items():
        labels = {"job": "ledger", "instance": inst}
        times = b.scrapes(inst)
        mine = [r for r in requests if r[5] == inst]
        b.counter_from_events(
            "flask_http_request_total",
            "Total number of HTTP requests",
            times,
            (
                (
                    r[0] + min(r[7], 50.0),
                    {**labels, "method": r[3], "status": "500" if r[6] == 504 else str(r[6])},
                    1,
                )
                for r in mine
            ),
            always=[{**labels, "method": "POST", "status": "200"}],
        )
        b.histogram_from_events(
            "flask_http_request_duration_seconds",
            "Flask HTTP request duration in seconds",
            times,
            (
                (
                    r[0] + (50.0 if r[6] == 504 else r[7]),
                    {
                        **labels,
                        "method": r[3],
                        "path": "/api/transfer" if r[9] == "transfer" else "/api/accounts/<id>",
                        "status": "500" if r[6] == 504 else str(r[6]),
                    },
                    50.0 if r[6] == 504 else r[7],
                )
                for r in mine
            ),
            buckets=(
                0.005,
                0.01,
                0.025,
                0.05,
                0.075,
                0.1,
                0.25,
                0.5,
                0.75,
                1.0,
                2.5,
                5.0,
                7.5,
                10.0,
            ),
        )
        b.counter(
            "process_cpu_seconds_total",
            "Total user and system CPU time spent in seconds.",
            labels,
            times,
            lambda t: 0.11,
            integer=False,
            initial=70211.0,
        )
        ll = {"job": "ledger", "instance": inst, "host": name}
        for ts, _ip, _a, _m, path, _app, status, dur, _term, _kind in mine:
            if status == 504:
                at = ts + 50.0
                b.log(
                    at,
                    ll,
                    f'ts={utc(at).strftime("%Y-%m-%dT%H:%M:%S.")}{int(at * 1000) % 1000:03d}Z level=error logger=ledger.transfer msg="transfer failed" err="(1205, \'Lock wait timeout exceeded; try restarting transaction\')" account={rng.randint(10000, 99999)} region=EU',
                )
            elif status == 500:
                b.log(
                    ts + dur,
                    ll,
                    f'ts={utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.")}{int((ts + dur) * 1000) % 1000:03d}Z level=error logger=ledger.api msg="unhandled" err="KeyError: \'currency\'" path={path}',
                )
            elif rng.random() < 0.01:
                b.log(
                    ts + dur,
                    ll,
                    f'ts={utc(ts + dur).strftime("%Y-%m-%dT%H:%M:%S.")}{int((ts + dur) * 1000) % 1000:03d}Z level=info logger=ledger.api msg="request" path={path} status={status} dur_ms={dur * 1000:.1f}',
                )
        t = b.data_start + rng.uniform(0, 120)
        while t < b.end:
            b.log(
                t,
                ll,
                f'ts={utc(t).strftime("%Y-%m-%dT%H:%M:%S.")}{int(t * 1000) % 1000:03d}Z level=warning logger=ledger.fx msg="fx rates stale, using cached" age_s={rng.randint(310, 900)}',
            )
            t += rng.expovariate(1 / 900.0)

    # --- ledgerdb: MariaDB 10.6 ------------------------------------------------------------------
    dl = {"job": "ledgerdb", "instance": "ledgerdb-1:9104"}
    dt = b.scrapes("ledgerdb-1:9104")
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_variables_max_connections",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        dl,
        dt,
        lambda t: 600,
    )
    b.gauge(
        "mysql_global_variables_innodb_lock_wait_timeout",
        "Generic gauge metric from SHOW GLOBAL VARIABLES.",
        dl,
        dt,
        lambda t: 50,
    )
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 40 + 120 * locks(t),
        noise=0.04,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 3 + 62 * locks(t),
        noise=0.15,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_innodb_row_lock_current_waits",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 60 * locks(t) + (1 if rng.random() < 0.02 else 0),
        noise=0.1,
        integer=True,
    )
    b.counter(
        "mysql_global_status_innodb_row_lock_waits_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.01 + 1.2 * locks(t),
        initial=14210,
    )
    b.counter(
        "mysql_global_status_innodb_row_lock_time_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.5 + 59000 * locks(t),
        initial=8.1e6,
    )
    b.counter(
        "mysql_global_status_questions_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 140 - 30 * locks(t),
        initial=6.6e9,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.001 + 1.0 * ramp(t, onset + 50, onset + 80),
        initial=230,
    )
    b.counter(
        "mysql_global_status_innodb_deadlocks_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.0,
        initial=3,
    )
    sl = {"job": "ledgerdb", "host": "ledgerdb-1", "log": "slow"}
    el = {"job": "ledgerdb", "host": "ledgerdb-1", "log": "error"}
    tid = 551200
    t = onset + 52
    while t < b.end:
        tid += rng.randint(1, 12)
        lock = 50.0 + rng.uniform(0, 0.003)
        acct = rng.randint(10000, 99999)
        b.log(
            t,
            sl,
            f"# Time: {utc(t).strftime('%y%m%d %H:%M:%S')}\n# User@Host: ledger[ledger] @  [{rng.choice(list(APPS)).split(':')[0]}]\n# Thread_id: {tid}  Schema: ledger  QC_hit: No\n"
            f"# Query_time: {lock + 0.0004:.6f}  Lock_time: {lock:.6f}  Rows_sent: 0  Rows_examined: 1\n# Rows_affected: 0  Bytes_sent: 67\nSET timestamp={int(t)};\n"
            f"UPDATE accounts SET balance = balance - 125.00, version = version + 1 WHERE id = {acct} AND version = {rng.randint(100, 9000)};",
        )
        t += rng.expovariate(1 / 1.1)
    t = b.data_start + 200
    while t < b.end:
        stamp = utc(t).strftime("%Y-%m-%d ") + f"{utc(t).hour:2d}" + utc(t).strftime(":%M:%S")
        b.log(
            t,
            el,
            f"{stamp} {rng.randint(500000, 560000)} [Warning] Aborted connection {rng.randint(500000, 560000)} to db: 'ledger' user: 'ledger' host: '{rng.choice(list(APPS)).split(':')[0]}' (Got timeout reading communication packets)",
        )
        t += rng.expovariate(1 / (700.0 if t < onset else 40.0))
    return b
