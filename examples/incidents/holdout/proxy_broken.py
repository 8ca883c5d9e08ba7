"""proxy-itself-broken: a config push breaks the edge nginx; the backends are fine.

2026-04-28, window 09:40-10:40 UTC.  Two nginx VMs (``edge-1``, ``edge-2``)
route ``/accounts/*`` to ``accounts`` and ``/profile/*`` to ``profile``.  At
09:58:30 config management pushes a config with a typo: ``nginx -s reload``
fails (``[emerg] unknown directive``) and the old config stays.  The "fixed"
push at 10:01:12 reloads fine but ``proxy_pass`` now uses a variable host with
no ``resolver`` and a ``limit_req`` zone of 1 r/m: from then on every route
answers 502 (``no resolver defined to resolve ...``, no upstream address) or
503 (``limiting requests``) on both VMs.  The apps' own metrics stay healthy;
their traffic just falls to the health checks.  Metrics come from
nginx-prometheus-exporter (stub_status) and prometheus-nginxlog-exporter
(``edge_http_*``).

Expected: root ``edge``; nothing affected alone (both VMs alike); no client;
no remediation (none of drain / kill / rate-limit applies).
"""

from __future__ import annotations

import json

from examples.incidents.holdout.kit import Bundle, Component, client_pool, pick_client, utc

EDGES = ("edge-1", "edge-2")
BACKENDS = {
    "accounts": ("10.12.4.21:8443", "10.12.4.22:8443"),
    "profile": ("10.12.5.31:8080", "10.12.5.32:8080"),
}
HOSTNAMES = {"accounts": "accounts.svc.internal", "profile": "profile.svc.internal"}


def build() -> Bundle:
    b = Bundle(
        name="edge-5xx-2026-04-28",
        description="every page returns 502/503",
        start="2026-04-28T09:40:00Z",
        end="2026-04-28T10:40:00Z",
        seed=428940,
        symptom={"component": "edge"},
        components=[
            Component("edge", "proxy", {"role": "edge"}, ["accounts", "profile"]),
            Component("accounts", "app", {"app": "accounts"}, ["accounts-db"]),
            Component("profile", "app", {"app": "profile"}, ["accounts-db"]),
            Component("accounts-db", "mysql", {"app": "accounts-db"}),
        ],
    )
    rng = b.rng
    bad_push, broken = b.at("09:58:30"), b.at("10:01:12")
    pool = client_pool(
        rng,
        [
            lambda r: f"88.{r.randint(64, 127)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: f"62.{r.randint(0, 255)}.{r.randint(0, 255)}.{r.randint(1, 254)}",
            lambda r: (
                f"2003:{r.randint(0xC0, 0xFF):x}:{r.randint(0, 0xFFFF):x}:{r.randint(0, 0xFFFF):x}::{r.randint(1, 0xFFFF):x}"
            ),
        ],
        380,
    )
    requests = []
    for ts in b.arrivals(lambda t: 4.5):
        ip, agent = pick_client(rng, pool)
        app = "accounts" if rng.random() < 0.55 else "profile"
        path = (
            rng.choice(("/accounts/me", "/accounts/session", "/accounts/login"))
            if app == "accounts"
            else rng.choice(("/profile/me", "/profile/avatar", "/profile/settings"))
        )
        method = "POST" if path.endswith(("login", "session")) else "GET"
        edge = rng.choice(EDGES)
        if ts >= broken:
            if rng.random() < 0.7:
                status, dur, upstream, ust = 502, rng.uniform(0.0, 0.002), None, None
            else:
                status, dur, upstream, ust = 503, rng.uniform(0.0, 0.001), None, None
        else:
            upstream = rng.choice(BACKENDS[app])
            dur = rng.lognormvariate(-3.3, 0.45)
            status = 200 if rng.random() > 0.0015 else 500
            ust = dur * 0.97
        requests.append((ts, ip, agent, method, path, app, edge, status, dur, upstream, ust))

    # --- edge nginx ----------------------------------------------------------------------
    for edge in EDGES:
        mine = [r for r in requests if r[6] == edge]
        times = b.scrapes(f"{edge}:9113")
        el = {"role": "edge", "instance": f"{edge}:9113"}
        b.gauge("nginx_up", "Status of the last metric scrape", el, times, lambda t: 1)
        b.counter_from_events(
            "nginx_http_requests_total", "Total http requests", times, ((r[0], el, 1) for r in mine)
        )
        b.counter_from_events(
            "nginx_connections_accepted_total",
            "Accepted client connections",
            times,
            ((r[0], el, 1) for r in mine if rng.random() < 0.3),
        )
        b.gauge(
            "nginx_connections_active",
            "Active client connections",
            el,
            times,
            lambda t: 35,
            noise=0.15,
            integer=True,
        )
        lt = b.scrapes(f"{edge}:4040")
        nl = {"role": "edge", "instance": f"{edge}:4040"}
        b.counter_from_events(
            "edge_http_response_count_total",
            "Amount of processed HTTP requests",
            lt,
            ((r[0] + r[8], {**nl, "method": r[3], "status": str(r[7])}, 1) for r in mine),
        )
        b.summary(
            "edge_http_upstream_time_seconds",
            "Time needed by upstream servers to handle requests",
            nl,
            lt,
            lambda t: 2.2 if t < broken else 0.0001,
            lambda t: 0.036,
        )
        al = {"role": "edge", "host": edge, "filename": "/var/log/nginx/access.log"}
        erl = {"role": "edge", "host": edge, "filename": "/var/log/nginx/error.log"}
        for ts, ip, agent, method, path, app, _e, status, dur, upstream, _ust in mine:
            b.log(
                ts + dur,
                al,
                f'{ip} - - [{utc(ts).strftime("%d/%b/%Y:%H:%M:%S +0000")}] "{method} {path} HTTP/1.1" {status} {rng.randint(150, 600) if status >= 500 else rng.randint(400, 9000)} '
                f'"https://www.example.de/" "{agent}" "-" {upstream or "-"} {status if upstream else "-"} {dur:.3f}',
            )
            errstamp = utc(ts + dur).strftime("%Y/%m/%d %H:%M:%S")
            conn = rng.randint(10**5, 10**7)
            if status == 502:
                b.log(
                    ts + dur,
                    erl,
                    f'{errstamp} [error] {rng.choice((2211, 2212, 2213, 2214))}#{rng.choice((2211, 2212))}: *{conn} no resolver defined to resolve {HOSTNAMES[app]}, client: {ip}, server: www.example.de, request: "{method} {path} HTTP/1.1", host: "www.example.de", referrer: "https://www.example.de/"',
                )
            elif status == 503:
                b.log(
                    ts + dur,
                    erl,
                    f'{errstamp} [error] 2213#2213: *{conn} limiting requests, excess: 0.{rng.randint(100, 999)} by zone "perip", client: {ip}, server: www.example.de, request: "{method} {path} HTTP/1.1", host: "www.example.de"',
                )
        for when, lines in (
            (
                bad_push,
                [
                    "[notice] 1#1: signal 1 (SIGHUP) received from 40712, reconfiguring",
                    '[emerg] 1#1: unknown directive "proxy_next_upsteam" in /etc/nginx/conf.d/routes.conf:41',
                ],
            ),
            (
                broken,
                [
                    "[notice] 1#1: signal 1 (SIGHUP) received from 40988, reconfiguring",
                    "[notice] 1#1: reconfiguring",
                    '[notice] 1#1: using the "epoll" event method',
                    "[notice] 1#1: start worker processes",
                    "[notice] 1#1: start worker process 2211",
                    "[notice] 1#1: start worker process 2212",
                    "[notice] 1812#1812: gracefully shutting down",
                    "[notice] 1812#1812: exiting",
                    "[notice] 1#1: signal 17 (SIGCHLD) received from 1812",
                ],
            ),
        ):
            shift = 0.0 if edge == "edge-1" else 1.7
            for i, line in enumerate(lines):
                at = when + shift + i * 0.003
                b.log(at, erl, f"{utc(at).strftime('%Y/%m/%d %H:%M:%S')} {line}")
        # a broken reload shows up in the config-management journal too
        b.log(
            bad_push + 0.4,
            {"role": "edge", "host": edge, "unit": "nginx-reload.service"},
            f"{utc(bad_push).strftime('%b %d %H:%M:%S')} {edge} systemd[1]: nginx-reload.service: Main process exited, code=exited, status=1/FAILURE",
        )

    # --- apps: healthy; traffic falls to the health checks ---------------------------------
    for app, insts in BACKENDS.items():
        for inst in insts:
            labels = {"app": app, "instance": inst}
            times = b.scrapes(inst)
            mine = [r for r in requests if r[9] == inst]
            checks = [(t, 0.003) for t in b.arrivals(lambda t: 0.2)]
            b.counter_from_events(
                "http_server_requests_total",
                "Requests served",
                times,
                [
                    *(
                        (r[0] + r[8], {**labels, "status": str(r[7]), "route": r[4]}, 1)
                        for r in mine
                    ),
                    *((t, {**labels, "status": "200", "route": "/healthz"}, 1) for t, _ in checks),
                ],
            )
            b.histogram_from_events(
                "http_server_request_duration_seconds",
                "Request latency",
                times,
                [
                    *((r[0] + r[8], labels, r[10]) for r in mine),
                    *((t, labels, d) for t, d in checks),
                ],
            )
            b.counter(
                "process_cpu_seconds_total",
                "Total user and system CPU time spent in seconds.",
                labels,
                times,
                lambda t: 0.12 if t < broken else 0.03,
                integer=False,
                initial=9000.0,
            )
            ll = {"app": app, "instance": inst}
            for r in mine:
                if r[7] == 500:
                    b.log(
                        r[0] + r[8],
                        ll,
                        json.dumps(
                            {
                                "ts": iso(r[0] + r[8]),
                                "level": "error",
                                "msg": "unhandled error",
                                "route": r[4],
                                "error": "NullPointerException in SessionCodec.decode",
                            }
                        ),
                    )
                elif rng.random() < 0.01:
                    b.log(
                        r[0] + r[8],
                        ll,
                        json.dumps(
                            {
                                "ts": iso(r[0] + r[8]),
                                "level": "info",
                                "msg": "request",
                                "route": r[4],
                                "status": r[7],
                                "ms": round(r[10] * 1000, 1),
                            }
                        ),
                    )

    # --- accounts-db ------------------------------------------------------------------------
    dl = {"app": "accounts-db", "instance": "10.12.9.2:9104"}
    dt = b.scrapes("10.12.9.2:9104")
    b.gauge("mysql_up", "Whether the MySQL server is up.", dl, dt, lambda t: 1)
    b.gauge(
        "mysql_global_status_threads_connected",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 48,
        noise=0.03,
        integer=True,
    )
    b.gauge(
        "mysql_global_status_threads_running",
        "Generic metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 2 if t < broken else 1,
        noise=0.3,
        integer=True,
    )
    b.counter(
        "mysql_global_status_questions_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 95 if t < broken else 6,
        initial=1.0e9,
    )
    b.counter(
        "mysql_global_status_slow_queries_total",
        "Generic counter metric from SHOW GLOBAL STATUS.",
        dl,
        dt,
        lambda t: 0.0003,
        initial=41,
    )
    return b


def iso(t: float) -> str:
    return utc(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
