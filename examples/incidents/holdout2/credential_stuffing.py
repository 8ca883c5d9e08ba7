"""credential-stuffing: a botnet /24 and one loud host try leaked passwords on /login.

2026-06-11, window 21:00-22:00 UTC.  ``auth-edge`` (two nginx VMs, JSON access log written
with ``escape=json``) fronts three ``auth`` VMs (Node.js/Express, prom-client, pino JSON with
numeric levels, 10.120.5.x:3000) backed by ``identity-db`` (MySQL 8) and
``session-store`` (Redis).  About 520 ordinary clients browse, log in now and then (8 %
of their logins fail: typos).

From 21:14 231 addresses of 91.214.124.0/24 each POST /login every ~40 s with a rotating
browser User-Agent and a new e-mail each time: ~5.8 req/s together, 401 for 99.7 % of them,
while no single one of them sends more than a busy ordinary user.  From 21:16:30
159.65.88.14 (``python-requests/2.31.0``) does the same alone at ~14 req/s.  bcrypt
(cost 12) pegs the CPU of the three auth VMs alike, every route slows (p50 25 ms ->
~0.4 s, logins ~2.5 s) and a few requests hit nginx's 5 s upstream timeout.  The
database only sees more primary-key lookups; Redis is unaffected.

Expected: root ``client``.  Clients an SRE lists: 159.65.88.14, and the range
91.214.124.0/24 as one entry: every address in it behaves the same (POST /login only,
401, ~40 s cadence, started within the same minute), none of it is ordinary traffic,
and one /24 rule is what the project's guards allow (nothing broader).  Listing the 231
addresses one by one is equivalent for ``clients``; a remediation is one rate-limit
rule per entry.  Nothing affected alone; no drain, no kill.
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import BROWSERS, Bundle, Component, client_pool, ramp, utc
from examples.incidents.holdout2.common import Req, periodic, process_metrics, red_metrics, traffic

EDGES = {"10.120.1.10": "auth-edge-a", "10.120.1.11": "auth-edge-b"}
VMS = {"10.120.5.11:3000": "auth-1", "10.120.5.12:3000": "auth-2", "10.120.5.13:3000": "auth-3"}
BOTNET = "91.214.124"
HEAVY = "159.65.88.14"
ROUTES = (
    ("GET", "/", 3.0),
    ("GET", "/account", 3.0),
    ("GET", "/account/orders", 2.0),
    ("POST", "/login", 0.5),
    ("POST", "/logout", 0.2),
    ("GET", "/oauth/authorize", 1.0),
    ("GET", "/healthz", 0.3),
)


def build() -> Bundle:
    b = Bundle(
        name="auth-slow-2026-06-11",
        description="Sign-in slow for everybody, evening",
        start="2026-06-11T21:00:00Z",
        end="2026-06-11T22:00:00Z",
        seed=260611,
        symptom={"component": "auth-edge", "route": "/login"},
        components=[
            Component("auth-edge", "proxy", {"job": "auth-edge"}, ["auth"]),
            Component("auth", "app", {"job": "auth"}, ["identity-db", "session-store"]),
            Component("identity-db", "mysql", {"job": "identity-db"}),
            Component("session-store", "redis", {"job": "session-store"}),
        ],
    )
    rng = b.rng
    bots_from, heavy_from = b.at("21:14:00"), b.at("21:16:30")

    def load(t: float) -> float:
        return 0.45 * ramp(t, bots_from, bots_from + 60) + 0.55 * ramp(
            t, heavy_from, heavy_from + 20
        )

    pool = client_pool(
        rng,
        [
            lambda r: f"31.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"88.{r.randint(64, 127)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2001:16b8:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
            lambda r: f"100.{r.randint(64, 127)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
        ],
        520,
    )

    def shape(req: Req) -> Req:
        slow = 1.0 + 15.0 * load(req.ts) * rng.uniform(0.6, 1.4)
        duration = req.duration * slow
        status = req.status
        if req.route == "/login":
            duration += 0.25 * slow
            status = 401 if rng.random() < 0.08 else (302 if status == 200 else status)
        if duration > 5.0:
            duration, status = 5.0 + rng.uniform(0.0, 0.003), 504
        return Req(**{**req.__dict__, "duration": duration, "status": status})

    requests = traffic(
        b,
        rate=lambda t: 11.0,
        pool=pool,
        routes=ROUTES,
        instances=list(VMS),
        fill=lambda route: route,
        median=0.025,
        shape=shape,
        edges=list(EDGES),
    )

    def attack(ts: float, ip: str, agent: str) -> Req:
        slow = 1.0 + 15.0 * load(ts) * rng.uniform(0.6, 1.4)
        duration = 0.27 * slow
        status = 401 if rng.random() > 0.003 else 302  # the odd leaked password that still works
        if duration > 5.0:
            duration, status = 5.0 + rng.uniform(0.0, 0.003), 504
        return Req(
            ts,
            ip,
            agent,
            "POST",
            "/login",
            "/login",
            rng.choice(list(VMS)),
            status,
            duration,
            61,
            rng.choice(list(EDGES)),
        )

    hosts = sorted(rng.sample(range(1, 255), 231))
    for host in hosts:
        ip = f"{BOTNET}.{host}"
        t = bots_from + rng.uniform(0, 55)
        while t < b.end:
            requests.append(attack(t, ip, rng.choice(BROWSERS[:5])))
            t += rng.uniform(30, 50)
    for ts in b.arrivals(lambda t: 14.0, begin=heavy_from):
        requests.append(attack(ts, HEAVY, "python-requests/2.31.0"))
    requests.sort(key=lambda r: r.ts)

    # --- auth-edge ---------------------------------------------------------------------
    for edge_ip, host in EDGES.items():
        mine = [r for r in requests if r.edge == edge_ip]
        labels = {"job": "auth-edge", "instance": f"{edge_ip}:9113"}
        times = b.scrapes(labels["instance"])
        b.counter_from_events(
            "nginx_http_requests_total",
            "Total http requests",
            times,
            ((r.done, labels, 1) for r in mine),
        )
        b.gauge(
            "nginx_connections_active",
            "Active client connections",
            labels,
            times,
            lambda t: 60 + 140 * ramp(t, bots_from, heavy_from + 60),
            noise=0.1,
            integer=True,
        )
        log_labels = {"job": "auth-edge", "host": host, "filename": "/var/log/nginx/access.json"}
        for r in mine:
            b.log(
                r.done,
                log_labels,
                json.dumps(
                    {
                        "time": utc(r.done).strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                        "remote_addr": r.ip,
                        "request": f"{r.method} {r.path} HTTP/1.1",
                        "status": str(r.status),
                        "body_bytes_sent": str(0 if r.status == 504 else r.size),
                        "request_time": f"{r.duration + 0.001:.3f}",
                        "upstream_addr": r.instance,
                        "upstream_status": "504" if r.status == 504 else str(r.status),
                        "upstream_response_time": f"{r.duration:.3f}",
                        "http_user_agent": r.agent,
                        "http_referer": "https://id.example.shop/login"
                        if r.path == "/login"
                        else "",
                    },
                    separators=(",", ":"),
                ),
            )

    # --- auth VMs ------------------------------------------------------------------------
    for inst, host in VMS.items():
        mine = [r for r in requests if r.instance == inst and r.status != 504]
        labels = {"job": "auth", "instance": inst}
        times = b.scrapes(inst)
        red_metrics(
            b,
            labels=labels,
            times=times,
            requests=mine,
            code_label="status_code",
            path_label="route",
        )
        process_metrics(
            b,
            labels=labels,
            times=times,
            cpu=lambda t: 0.18 + 1.72 * load(t),
            rss=lambda t: 142e6 + 40e6 * load(t),
            started=b.data_start - rng.uniform(20000, 400000),
        )
        b.gauge(
            "nodejs_eventloop_lag_seconds",
            "Lag of event loop in seconds.",
            labels,
            times,
            lambda t: 0.002 + 0.3 * load(t),
            noise=0.2,
        )
        log_labels = {"job": "auth", "host": host, "unit": "auth.service"}
        for r in mine:
            if r.path == "/login":
                ok = r.status == 302
                b.log(
                    r.done,
                    log_labels,
                    json.dumps(
                        {
                            "level": 30 if ok else 40,
                            "time": int(r.done * 1000),
                            "pid": 1187,
                            "hostname": host,
                            "reqId": f"req-{rng.randint(1, 9_999_999):x}",
                            "ip": r.ip,
                            "email": f"{rng.choice(('anna', 'j.smith', 'mike', 'lena', 'tom'))}{rng.randint(1, 99999)}@{rng.choice(('gmail.com', 'yahoo.com', 'web.de', 'outlook.com'))}",
                            "msg": "login succeeded" if ok else "login failed: invalid credentials",
                        },
                        separators=(",", ":"),
                    ),
                )
        for t in periodic(b, every=30, jitter=1):
            b.log(
                t,
                log_labels,
                json.dumps(
                    {
                        "level": 30,
                        "time": int(t * 1000),
                        "pid": 1187,
                        "hostname": host,
                        "msg": "jwks refreshed",
                        "keys": 2,
                    },
                    separators=(",", ":"),
                ),
            )

    # --- identity-db, session-store: healthy, a little busier ----------------------------------
    dbl = {"job": "identity-db", "instance": "10.120.9.4:9104"}
    times = b.scrapes(dbl["instance"])
    b.gauge("mysql_up", "Whether the MySQL server is up.", dbl, times, lambda t: 1)
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dbl,
        times,
        lambda t: 31,
        noise=0.05,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dbl,
        times,
        lambda t: 2 + 2 * load(t),
        noise=0.2,
        integer=True,
    )
    b.counter_from_events(
        "mysql_global_status_commands_total",
        "Total number of executed MySQL commands.",
        times,
        # every page reads the session's account (2 selects); a login also checks the lockout
        # table and, when it succeeds, updates last_login
        (
            (r.ts + 0.003, {**dbl, "command": command}, n)
            for r in requests
            if r.path != "/healthz"
            for command, n in (
                ("select", 3 if r.path == "/login" else 2),
                ("update", 1 if r.status == 302 else 0),
            )
        ),
        always=[{**dbl, "command": "insert"}],
    )
    b.log(
        b.at("21:41:12"),
        {"job": "identity-db", "host": "identity-db-1"},
        "2026-06-11T21:41:12.004178Z 0 [System] [MY-010116] [Server] Event Scheduler: scheduler purged 1841 expired password reset tokens",
    )
    rl = {"job": "session-store", "instance": "10.120.9.8:9121"}
    rtimes = b.scrapes(rl["instance"])
    b.gauge("redis_up", "Information about the Redis instance", rl, rtimes, lambda t: 1)
    b.gauge(
        "redis_connected_clients",
        "connected_clients metric",
        rl,
        rtimes,
        lambda t: 36,
        noise=0.03,
        integer=True,
    )
    b.counter(
        "redis_commands_processed_total",
        "commands_processed_total metric",
        rl,
        rtimes,
        lambda t: 35.0,
        initial=6.1e8,
    )
    b.counter(
        "redis_keyspace_hits_total",
        "keyspace_hits_total metric",
        rl,
        rtimes,
        lambda t: 30.0,
        initial=5.2e8,
    )
    return b
