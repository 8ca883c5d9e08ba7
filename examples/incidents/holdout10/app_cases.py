# size: four linear scenario scripts of one family, each telling one story
"""App scenarios of round 10: releases and one pod's fault (written blind)."""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.exporters import mysqld_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import envoy_json_line, nginx_timed_line
from examples.incidents.holdout5.common import java_side, nginx_ctx, nginx_error, within
from examples.incidents.holdout10.common import (
    F,
    Pod,
    clef,
    every,
    finish,
    gunicorn_err,
    is_new,
    pods,
    rollout,
    slog,
    tier,
)


def profile_release_no_db_pool() -> Bundle:  # size: one linear scenario script
    """profile-api 4.2.0 (rolled out 10:05-10:09) builds its MySQL handle per request (a
    refactor dropped the shared ``*sql.DB``): every request opens and closes a TLS
    connection.  MySQL's Connections go 4/s -> 700/s, its CPU to 90 % on handshakes,
    threads_connected churns near max_connections, and the API's p50 triples; ~20 % of
    requests 500 ('Too many connections', 'i/o timeout').  Root: profile-api (the release);
    roll back."""
    b = Bundle(
        "profile-release-no-db-pool",
        "2037-01-12T09:50:00Z",
        description="profile API errors after this morning's deploy",
        symptom={"component": "profile-edge"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    at, gap = 15.0, 1.3
    ns = "identity"
    b.component("profile-edge", "proxy", {"job": "profile-edge"}, ["profile-api"])
    b.component("profile-api", "app", {"namespace": ns, "app": "profile-api"}, ["profile-db"])
    b.component("profile-db", "other", {"job": "mysql", "instance": "10.31.7.9:9104"})
    ps = rollout(
        "10.31.{k}.5:8080",
        "profile-api",
        ("6d8c7f-2xkq", "6d8c7f-7hmv", "6d8c7f-c9rz"),
        ("59fbd4-4pwn", "59fbd4-8jts", "59fbd4-ldq6"),
        "10.31.0.{k}:10250",
        at,
        gap,
    )
    released = within(at + 2 * gap, 99)
    routes = [
        Route("GET", "/v1/profiles/{n}", "/v1/profiles/{id}", 0.75, 0.012, 1400),
        Route("PATCH", "/v1/profiles/{n}", "/v1/profiles/{id}", 0.25, 0.02, 300),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i):
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.03, 0.25)
            if rng.random() < (0.2 if released(m) else 0.08):
                fail(e, 500, rng.uniform(0.05, 2.0), size=120)
                e.extra["err"] = rng.choice(
                    ("Error 1040: Too many connections", "dial tcp 10.31.7.9:3306: i/o timeout")
                )

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a00:1450:4001:", "88.65.", "217.91.", "2003:f1:"],
        clients=500,
        outcome=outcome,
        kind="nginx",
        edge={"job": "profile-edge", "instance": "10.31.0.2:9113"},
        rate=lambda m: 12.0,
        fmt=lambda e: nginx_timed_line(b, e),
    )
    for i, _p in enumerate(ps):
        if is_new(ps, i):
            t = b.t(at + (i - 3) * gap - 0.25)
            site.say(
                t, i, slog(b, t, "INFO", "starting profile-api", version="4.2.0", commit="9c1e0b7")
            )
    for e in site.events:
        if "err" in e.extra and rng.random() < 0.4:
            site.say(e.t, e.extra["pod"], slog(b, e.t, "ERROR", "load profile", err=e.extra["err"]))
    finish(site, ns, "profile-api", "api", cpu=lambda m, i: 0.5 if is_new(ps, i) else 0.2)
    dbl = {"job": "mysql", "instance": "10.31.7.9:9104"}

    def share(m: float) -> float:
        return min(1.0, max(0.0, (m - at + 0.3) / (2 * gap + 0.3)))

    mysqld_exporter(
        b,
        dbl,
        qps=lambda m: 2600.0 + share(m) * 900,
        connected=lambda m: 60.0 + share(m) * 420,
        running=lambda m: 3.0 + share(m) * 25,
        aborted_connects=lambda m: share(m) * 30,
        max_connections=500,
    )
    b.untyped("mysql_global_status_connections", dbl, lambda m: 4.0 + share(m) * 700, 18_400_221)
    b.untyped("mysql_global_status_ssl_accepts", dbl, lambda m: 4.0 + share(m) * 700, 18_390_004)
    b.untyped(
        "mysql_global_status_connection_errors_total",
        {**dbl, "error": "max_connections"},
        lambda m: share(m) * 12,
        0,
    )
    b.gauge("mysql_global_status_threads_created", dbl, lambda m: int(900 + share(m) * 9000))
    from examples.incidents.holdout3.exporters import node_exporter

    node_exporter(
        b,
        {"job": "node", "instance": "10.31.7.9:9100"},
        busy=lambda m: 0.3 + share(m) * 0.6,
        avail=lambda m: 22e9,
    )
    return b


def quotes_one_pod_thread_deadlock() -> Bundle:  # size: one linear scenario script
    """At 15:31 two Tomcat threads on one quotes-api pod take the rate-table lock and the
    FX-cache lock in opposite orders: a Java deadlock; every request thread that touches
    pricing then blocks behind them.  Within minutes all 200 threads of that pod are
    BLOCKED, its CPU near zero, its requests time out at ingress-nginx (504 after 30 s)
    while the other three pods are fine.  Liveness checks the management port, so nothing
    restarts.  Root: that pod; drain it (and take a thread dump)."""
    b = Bundle(
        "quotes-one-pod-thread-deadlock",
        "2036-09-04T15:15:00Z",
        description="about a quarter of quote requests hang",
        symptom={"component": "quotes-ingress"},
        step=30,
        minutes=45,
    )
    rng = b.rng
    onset = 16.0
    bad_pod = 2
    stuck = within(onset + 1.5, 99)
    ns = "pricing"
    b.component("quotes-ingress", "proxy", {"job": "ingress-nginx"}, ["quotes-api"])
    b.component("quotes-api", "app", {"namespace": ns, "app": "quotes-api"})
    ps = pods(
        "10.128.{k}.61:8080",
        "quotes-api-7b5d9c8f4",
        ("dv2kp", "fj8wq", "k2r7z", "q9xnb"),
        "10.128.0.{k}:10250",
    )
    routes = [
        Route("POST", "/api/quotes", "/api/quotes", 0.8, 0.06, 2100),
        Route("GET", "/api/quotes/{n}", "/api/quotes/{id}", 0.2, 0.01, 1700),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if i == bad_pod and stuck(m):
            fail(e, 504, 30.0 + rng.uniform(0, 0.02), size=160)
            e.upstream_status = "504"
            e.extra["hung"] = True
        elif i == bad_pod and m >= onset:
            e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1, 12)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.9.", "10.10.", "192.168.40."],
        clients=260,
        outcome=outcome,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.128.0.10:10254"},
        rate=lambda m: 7.0,
        cluster="pricing-quotes-api-8080",
    )
    ing = {"job": "ingress-nginx", "instance": "10.128.0.10:10254", "stream": "stderr"}
    for e in site.events:
        if e.extra.get("hung") and rng.random() < 0.3:
            b.log(
                e.t,
                ing,
                nginx_error(
                    b,
                    e.t,
                    "error",
                    "upstream timed out (110: Operation timed out) while reading response header "
                    "from upstream",
                    pid=44,
                    conn=rng.randint(200000, 900000),
                    ctx=nginx_ctx(e, "quotes.internal", ps[bad_pod].addr),
                ),
            )
    from examples.incidents.holdout5.common import ecs

    for t in every(b, 0, b.minutes, 20, 50):
        k = rng.choice([0, 1, 3] if b.m(t) >= onset else [0, 1, 2, 3])
        site.say(
            t, k, ecs(b, t, "INFO", "c.q.pricing.QuoteService", "quote priced", currency="EUR")
        )
    java_side(
        b,
        ps,
        site.events,
        {"namespace": ns, "app": "quotes-api"},
        app="quotes-api",
        busy=lambda m, i: 200.0 if i == bad_pod and stuck(m) else 6.0,
        cpu=lambda m, i: 0.02 if i == bad_pod and stuck(m) else 0.45,
        namespace=ns,
        container="api",
    )
    from examples.incidents.holdout4.common import log_each

    log_each(b, site.logs, ps, {"namespace": ns, "app": "quotes-api", "container": "api"})
    for i, p in enumerate(ps):
        labels = {
            "namespace": ns,
            "app": "quotes-api",
            "instance": p.addr,
            "pod": p.pod,
            "application": "quotes-api",
        }
        for state, fn in (
            ("blocked", lambda m, i=i: 196 if i == bad_pod and stuck(m) else 0),
            ("runnable", lambda m, i=i: 2 if i == bad_pod and stuck(m) else 12),
            ("waiting", lambda m, i=i: 9 if i == bad_pod and stuck(m) else 190),
            ("timed-waiting", lambda m: 14),
        ):
            b.gauge("jvm_threads_states_threads", {**labels, "state": state}, fn)
        b.gauge(
            "jvm_threads_deadlocked_threads",
            labels,
            lambda m, i=i: 2 if i == bad_pod and m >= onset else 0,
        )
    return b


def loyalty_dotnet_threadpool_starvation() -> Bundle:  # size: one linear scenario script
    """loyalty-api 7.3.0 (rolled out 11:40-11:44) calls the points partner synchronously
    (``.Result`` on an async HTTP call) inside request handlers.  Under the lunch load the
    .NET thread pool starves: its queue grows to thousands, threads are injected one or two
    a second, CPU stays low, requests wait seconds; Envoy answers ~30 % 504 (UT).  The
    partner itself answers in 80 ms.  Root: loyalty-api (the release); roll back."""
    b = Bundle(
        "loyalty-dotnet-threadpool-starvation",
        "2036-12-18T11:25:00Z",
        description="loyalty API very slow since the 7.3.0 deploy",
        symptom={"component": "loyalty-gw"},
        step=10,
        minutes=40,
    )
    rng = b.rng
    at, gap = 15.0, 1.0
    ns = "loyalty"
    b.component("loyalty-gw", "proxy", {"job": "envoy"}, ["loyalty-api"])
    b.component("loyalty-api", "app", {"namespace": ns, "app": "loyalty-api"})
    ps = rollout(
        "10.60.{k}.23:5000",
        "loyalty-api",
        ("7f6b9-6nd2q", "7f6b9-9vbsl", "7f6b9-xw4pc", "7f6b9-z8gjm"),
        ("54c8d-2hrxk", "54c8d-5tqmw", "54c8d-b7npz", "54c8d-r3kfd"),
        "10.60.0.{k}:10250",
        at,
        gap,
    )
    routes = [
        Route("GET", "/api/members/{n}/balance", "/api/members/{id}/balance", 0.6, 0.03, 250),
        Route("POST", "/api/members/{n}/earn", "/api/members/{id}/earn", 0.4, 0.05, 180),
    ]

    def queue(m: float, i: int) -> float:
        if not is_new(ps, i):
            return 0.0
        return min(4000.0, max(0.0, (m - at) * 260.0))

    def outcome(e: Event, m: float, i: int) -> None:
        q = queue(m, i)
        if q > 300:
            if rng.random() < 0.32:
                fail(e, 504, 15.0, reached=False, size=24)
                e.extra["flags"] = "UT"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.0, 9.0)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["2a02:8109:", "5.146.", "178.24.", "2a0a:a541:"],
        clients=600,
        outcome=outcome,
        kind="envoy",
        edge={"job": "envoy", "instance": "10.60.0.9:9901"},
        rate=lambda m: 10.0,
        fmt=lambda e: envoy_json_line(b, e, "loyalty_api", "loyalty.example.de"),
        cluster="loyalty_api",
    )
    for i in range(4, 8):
        t = b.t(at + (i - 4) * gap - 0.28)
        site.say(
            t,
            i,
            clef(b, t, "Information", "Now listening on: {address}", address="http://[::]:5000"),
        )
        site.say(
            t + 0.2,
            i,
            clef(b, t + 0.2, "Information", "Loyalty API {Version} started", Version="7.3.0"),
        )
    for e in site.events:
        if e.duration > 4 and e.status != 504 and rng.random() < 0.1:
            site.say(
                e.t,
                e.extra["pod"],
                clef(
                    b,
                    e.t,
                    "Warning",
                    "Request {Path} took {ElapsedMs} ms",
                    Path=e.path,
                    ElapsedMs=int(e.duration * 1000),
                    SourceContext="Loyalty.Api.Timing",
                ),
            )
    finish(site, ns, "loyalty-api", "api", go=False, cpu=lambda m, i: 0.15)
    for i, p in enumerate(ps):
        labels = {"namespace": ns, "app": "loyalty-api", "instance": p.addr, "pod": p.pod}

        def gate(fn: F, p: Pod = p) -> Callable[[float], float | None]:
            return lambda m: fn(m) if p.up(m) else None

        b.gauge(
            "process_runtime_dotnet_thread_pool_queue_length",
            labels,
            gate(lambda m, i=i: int(queue(m, i) * rng.uniform(0.9, 1.1))),
        )
        b.gauge(
            "process_runtime_dotnet_thread_pool_threads_count",
            labels,
            gate(lambda m, i=i: int(12 + min(300, queue(m, i) / 12))),
        )
        b.counter(
            "process_runtime_dotnet_thread_pool_completed_items_count_total",
            labels,
            gate(lambda m, i=i: 400.0 if queue(m, i) < 300 else 140.0),
            start=9.1e6,
        )
        b.gauge(
            "process_runtime_dotnet_gc_heap_size_bytes",
            {**labels, "generation": "gen0"},
            gate(lambda m: 2.1e7),
        )
    return b


def forms_gunicorn_worker_timeout() -> Bundle:  # size: one linear scenario script
    """forms-api 3.14.0 (rolled 16:20-16:23) renders the submission PDF inside the request
    (WeasyPrint, 8-40 s) instead of queueing it.  Each pod has four sync gunicorn workers:
    they are all busy, gunicorn kills the ones past --timeout 30 ('WORKER TIMEOUT') and
    nginx logs 'upstream prematurely closed connection': ~35 % 502, the rest slow.  Root:
    forms-api (the release); roll back."""
    b = Bundle(
        "forms-gunicorn-worker-timeout",
        "2037-04-27T16:05:00Z",
        description="form submissions failing with 502 since the release",
        symptom={"component": "forms-edge"},
        step=20,
        minutes=40,
    )
    rng = b.rng
    at, gap = 15.0, 1.2
    ns = "forms"
    b.component("forms-edge", "proxy", {"job": "forms-nginx"}, ["forms-api"])
    b.component("forms-api", "app", {"namespace": ns, "app": "forms-api"})
    ps = rollout(
        "172.17.{k}.30:8000",
        "forms-api",
        ("58b7c-hx2", "58b7c-mq9", "58b7c-t4v"),
        ("6c9f1-ab7", "6c9f1-cd3", "6c9f1-ef5"),
        "172.17.0.{k}:10250",
        at,
        gap,
    )
    submit = Route(
        "POST", "/v1/forms/{n}/submissions", "/v1/forms/<id>/submissions", 0.35, 0.12, 420
    )
    routes = [submit, Route("GET", "/v1/forms/{n}", "/v1/forms/<id>", 0.65, 0.02, 5200)]

    def outcome(e: Event, m: float, i: int) -> None:
        if is_new(ps, i) and ("submissions" in e.path or rng.random() < 0.3):
            if rng.random() < 0.55:
                fail(e, 502, 30.0 + rng.uniform(0, 0.5), reached=False, size=157)
                e.extra["killed"] = True
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(6, 28)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["86.12.", "2a01:4c8:", "31.52.", "81.103."],
        clients=350,
        outcome=outcome,
        kind="nginx",
        edge={"job": "forms-nginx", "instance": "172.17.0.2:9113"},
        rate=lambda m: 5.0,
    )
    err = {"job": "forms-nginx", "instance": "172.17.0.2:9113", "stream": "error"}
    for e in site.events:
        if e.extra.get("killed"):
            i = e.extra["pod"]
            wpid = rng.randint(9, 400)
            site.say(
                e.t - 0.05,
                i,
                gunicorn_err(b, e.t - 0.05, 1, "CRITICAL", f"WORKER TIMEOUT (pid:{wpid})"),
            )
            if rng.random() < 0.5:
                site.say(
                    e.t + 0.4,
                    i,
                    gunicorn_err(
                        b,
                        e.t + 0.4,
                        rng.randint(9, 400),
                        "INFO",
                        f"Booting worker with pid: {rng.randint(400, 900)}",
                    ),
                )
            if rng.random() < 0.4:
                b.log(
                    e.t,
                    err,
                    nginx_error(
                        b,
                        e.t,
                        "error",
                        "upstream prematurely closed connection while reading response header "
                        "from upstream",
                        pid=29,
                        conn=rng.randint(10000, 99999),
                        ctx=nginx_ctx(e, "forms.example.org", ps[i].addr),
                    ),
                )
    for i in range(3, 6):
        t = b.t(at + (i - 3) * gap - 0.28)
        site.say(t, i, gunicorn_err(b, t, 1, "INFO", "Starting gunicorn 22.0.0"))
        site.say(
            t + 0.1, i, gunicorn_err(b, t + 0.1, 1, "INFO", "Listening at: http://0.0.0.0:8000 (1)")
        )
        site.say(t + 0.2, i, gunicorn_err(b, t + 0.2, 1, "INFO", "Using worker: sync"))
    finish(
        site,
        ns,
        "forms-api",
        "api",
        go=False,
        cpu=lambda m, i: 0.95 if is_new(ps, i) else 0.2,
        mem=lambda m, i: 900e6 if is_new(ps, i) else 310e6,
    )
    return b
