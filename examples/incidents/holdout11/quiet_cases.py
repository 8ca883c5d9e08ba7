# size: four linear scenario scripts of one family, each telling one story
"""Healthy-but-noisy windows of round 11 (no incident): a school behind one NAT address, a
rollout stuck on a crash-looping pod, an exporter without grants, a nightly vacuum."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import mysqld_exporter, node_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, serve
from examples.incidents.holdout4.common import logfmt
from examples.incidents.holdout6.common import haproxy_exporter
from examples.incidents.holdout10.common import gunicorn_err, haproxy_json, pg_csv, slog
from examples.incidents.holdout11.common import (
    const,
    every,
    finish,
    journal,
    level,
    pods,
    stack,
    within,
    zerolog,
)

BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/136.0 Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 Chrome/136.0 Safari/537.36",
    "Mozilla/5.0 (iPad; CPU OS 18_4 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:138.0) Gecko/20100101 Firefox/138.0",
)


def exam_school_nat_none() -> Bundle:  # size: one linear scenario script
    """At 09:00 a school district's exams start on the learning platform: ~400 pupils behind
    the district's one NAT address (195.37.210.10) log in within minutes and answer
    questions; that address is ~40 % of requests for the window, every request ordinary,
    each pupil at human pace.  Latency and errors at baseline.  No incident (and limiting
    the address would lock out the exam)."""
    b = Bundle(
        "exam-school-nat-none",
        "2039-06-16T08:45:00Z",
        description="one address sending 40 % of traffic: abuse?",
        symptom={"component": "learn-lb"},
        step=15,
        minutes=45,
    )
    rng = b.rng
    nat = "195.37.210.10"
    ns = "learn"
    ps = pods("10.11.{k}.20:8000", "learn-web-7c9b5", ("k1", "k2", "k3", "k4"), "10.11.0.{k}")
    routes = [
        Route("GET", "/quiz/{n}/question", "/quiz/<id>/question", 0.55, 0.05, 7000),
        Route("POST", "/quiz/{n}/answer", "/quiz/<id>/answer", 0.35, 0.04, 300),
        Route("POST", "/login", "/login", 0.1, 0.12, 500),
    ]

    def mark(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"web{i + 1}"

    exam = serve(
        b,
        rate=lambda m: 5.0 if 15 <= m < 40 else (2.5 if m >= 40 else 0.3),
        clients=lambda: nat,
        routes=routes,
        pods=ps,
        outcome=mark,
        agents=BROWSERS,
    )
    el = {"job": "haproxy", "instance": "10.11.0.2:8405"}
    site = stack(
        b,
        edge_name="learn-lb",
        app="learn-web",
        ns=ns,
        deps=[],
        ps=ps,
        routes=routes,
        prefixes=["91.64.", "2a02:8109:", "84.63.", "2003:ea:", "95.90."],
        clients=700,
        outcome=mark,
        kind="haproxy",
        edge=el,
        rate=lambda m: 4.0,
        fmt=lambda e: haproxy_json(b, e, "fe_learn", "be_web"),
        extra_events=exam,
        agents=BROWSERS,
    )
    haproxy_exporter(
        b, el, "be_web", {f"web{k + 1}": p.addr for k, p in enumerate(ps)}, site.events
    )
    for t in every(b, 14, 40, 1.5, 4):
        k = rng.randrange(4)
        site.say(
            t,
            k,
            gunicorn_err(b, t, 9 + k, "INFO", f"quiz {rng.randint(3000, 3040)} attempt submitted"),
        )
    finish(site, ns, "learn-web", "web", go=False, cpu=lambda m, i: 0.6 if 15 <= m < 40 else 0.3)
    return b


def orders_stuck_rollout_crashloop_none() -> Bundle:  # size: one linear scenario script
    """A 16:10 deploy's first new pod crash-loops: the new image needs FEATURE_FLAGS_URL,
    which the manifest lacks ('panic: required env FEATURE_FLAGS_URL not set').  The
    Deployment (maxUnavailable 0) keeps the three old pods serving, CrashLoopBackOff
    backs off, the rollout stalls (Progressing False at the deadline).  Users see nothing:
    no incident in service (the deploy needs fixing, no emergency)."""
    b = Bundle(
        "orders-stuck-rollout-crashloop-none",
        "2039-07-28T16:00:00Z",
        description="CrashLoopBackOff alert on orders-api",
        symptom={"component": "orders-ingress"},
        step=30,
        minutes=40,
    )
    rng = b.rng
    at = 10.0
    ns = "orders"
    ps = pods("10.66.{k}.17:8080", "orders-api-58c6d9", ("g7h", "j8k", "l9m"), "10.66.0.{k}")
    site = stack(
        b,
        edge_name="orders-ingress",
        app="orders-api",
        ns=ns,
        deps=[],
        ps=ps,
        routes=[
            Route("GET", "/api/orders/{n}", "/api/orders/{id}", 0.7, 0.02, 2000),
            Route("POST", "/api/orders", "/api/orders", 0.3, 0.05, 500),
        ],
        prefixes=["10.67.", "10.68."],
        clients=150,
        outcome=None,
        kind="ingress",
        edge={"job": "ingress-nginx", "instance": "10.66.0.3:10254"},
        rate=lambda m: 5.0,
        cluster="orders-orders-api-8080",
    )
    for t in every(b, 0, b.minutes, 20, 45):
        site.say(t, rng.randrange(3), zerolog(b, t, "info", "order saved", items=2))
    finish(site, ns, "orders-api", "api")
    new = {
        "namespace": ns,
        "app": "orders-api",
        "pod": "orders-api-7f2b41-q5w",
        "instance": "10.66.4.17:8080",
    }
    starts, t, delay = [], b.t(at), 10.0
    while t < b.t(b.minutes):
        starts.append(t)
        t += 1.2 + delay
        delay = min(delay * 2, 300.0)
    for t in starts:
        b.log(t, new, zerolog(b, t, "info", "starting", version="5.4.0"))
        b.log(t + 0.9, new, "panic: required env FEATURE_FLAGS_URL not set")
        b.log(t + 0.9, new, "goroutine 1 [running]:")
        b.log(t + 0.9, new, "main.mustEnv(...)\n\t/src/cmd/orders/main.go:41 +0x1b4")
    ksm = {"job": "kube-state-metrics", "instance": "10.66.0.9:8080", "namespace": ns}
    pl = {**ksm, "pod": "orders-api-7f2b41-q5w", "container": "api"}
    b.counter_steps("kube_pod_container_status_restarts_total", pl, [s + 1.0 for s in starts[1:]])
    b.gauge(
        "kube_pod_container_status_waiting_reason",
        {**pl, "reason": "CrashLoopBackOff"},
        lambda m: 1 if m >= at + 0.5 else None,
    )
    dl = {**ksm, "deployment": "orders-api"}
    b.gauge("kube_deployment_status_replicas_unavailable", dl, lambda m: 1 if m >= at else 0)
    b.gauge("kube_deployment_status_replicas_available", dl, lambda m: 3)
    b.gauge(
        "kube_deployment_status_condition",
        {**dl, "condition": "Progressing", "status": "false"},
        lambda m: 1 if m >= at + 10 else 0,
    )
    return b


def metrics_exporter_grants_none() -> Bundle:  # size: one linear scenario script
    """At 10:05 mysqld_exporter is upgraded with more collectors enabled; its user lacks
    SELECT on performance_schema and PROCESS: every scrape logs 'Error 1142 (42000): SELECT
    command denied' and two collectors report failure.  MySQL, the API and users are
    unaffected.  No incident (grant the privileges or drop the collectors)."""
    b = Bundle(
        "metrics-exporter-grants-none",
        "2039-08-18T09:50:00Z",
        description="MySQL exporter errors after the upgrade",
        symptom={"component": "inventory-api"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    up_at = 15.0
    after = within(up_at, 99)
    ns = "inventory"
    dbl = {"job": "mysql", "instance": "10.44.30.2:9104"}
    b.component("inventory-db", "mysql", {"job": "mysql"})
    ps = pods("10.44.{k}.12:8080", "inventory-api-6f5", ("a1", "b2", "c3"), "10.44.0.{k}")
    site = stack(
        b,
        edge_name="inventory-envoy",
        app="inventory-api",
        ns=ns,
        deps=["inventory-db"],
        ps=ps,
        routes=[Route("GET", "/v1/stock/{n}", "/v1/stock/{id}", 1.0, 0.01, 400)],
        prefixes=["10.45.", "10.46."],
        clients=80,
        outcome=None,
        kind="envoy",
        edge={"job": "inventory-envoy", "instance": "10.44.0.2:9901"},
        rate=lambda m: 5.0,
        cluster="inventory_api",
    )
    for t in every(b, 0, b.minutes, 30, 60):
        site.say(t, rng.randrange(3), slog(b, t, "INFO", "stock sync done", skus=1204))
    finish(site, ns, "inventory-api", "api")
    mysqld_exporter(b, dbl, qps=lambda m: 900.0, connected=lambda m: 30.0, running=lambda m: 3.0)
    for coll in ("perf_schema.eventsstatements", "info_schema.processlist", "global_status"):
        ok = coll == "global_status"
        b.gauge(
            "mysql_exporter_collector_success",
            {**dbl, "collector": coll},
            const(1) if ok else level(after, 0, 1),
        )
    el = {"job": "mysql", "instance": "10.44.30.2:9104", "container": "mysqld-exporter"}
    for t in every(b, up_at, b.minutes, 15, 15):
        for scraper, table in (
            ("perf_schema.eventsstatements", "events_statements_summary_by_digest"),
            ("info_schema.processlist", "PROCESSLIST"),
        ):
            b.log(
                t,
                el,
                logfmt(
                    b,
                    t,
                    "error",
                    "Error from scraper",
                    scraper=scraper,
                    target="10.44.30.2:3306",
                    err=f"Error 1142 (42000): SELECT command denied to user "
                    f"'exporter'@'10.44.0.9' for table '{table}'",
                ),
            )
    return b


def ledger_pg_nightly_vacuum_none() -> Bundle:  # size: one linear scenario script
    """The 02:00 maintenance timer runs `vacuumdb --all --analyze-in-stages` and a pg_dump
    to the backup host: the DB's disk reads and CPU rise for half an hour, vacuum and
    checkpoint lines fill the log, two slow queries from the dump.  The ledger API (few
    night requests) keeps its latency and errors.  No incident."""
    b = Bundle(
        "ledger-pg-nightly-vacuum-none",
        "2039-09-06T01:50:00Z",
        description="DB disk and CPU alerts overnight",
        symptom={"component": "ledger-db"},
        step=20,
        minutes=50,
    )
    rng = b.rng
    maint = within(10.0, 42.0)
    ns = "ledger"
    dbl = {"job": "postgres", "instance": "ledger-db-1:9187"}
    b.component("ledger-db", "other", {"job": "postgres"})
    ps = pods("10.71.{k}.9:8080", "ledger-api-5b4", ("e1", "f2"), "10.71.0.{k}")
    site = stack(
        b,
        edge_name="ledger-edge",
        app="ledger-api",
        ns=ns,
        deps=["ledger-db"],
        ps=ps,
        routes=[Route("GET", "/v1/balances/{n}", "/v1/balances/{id}", 1.0, 0.008, 300)],
        prefixes=["10.72.", "10.73."],
        clients=40,
        outcome=lambda e, m, i: None,
        kind="nginx",
        edge={"job": "ledger-edge", "instance": "10.71.0.2:9113"},
        rate=lambda m: 1.2,
    )
    finish(site, ns, "ledger-api", "api")
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 40.0,
        active=level(maint, 3.0, 1.0),
        idle=lambda m: 12.0,
        datname="ledger",
    )
    node_exporter(
        b,
        {"job": "node", "instance": "ledger-db-1:9100"},
        busy=level(maint, 0.62, 0.05),
        avail=lambda m: 20e9,
        mem_total=64e9,
        iowait=level(maint, 0.18, 0.01),
    )
    pl = {"job": "postgres", "instance": "ledger-db-1"}
    tables = ("entries", "accounts", "postings", "audit_log", "fx_rates")
    for t in every(b, 10.0, 42.0, 25, 60):
        tbl = rng.choice(tables)
        b.log(
            t,
            pl,
            pg_csv(
                b,
                t,
                rng.randint(30000, 31000),
                "LOG",
                "00000",
                f'automatic analyze of table "ledger.public.{tbl}" avg read rate: '
                f"{rng.uniform(40, 120):.3f} MB/s, avg write rate: 0.000 MB/s",
                backend="autovacuum worker",
            ),
        )
    for t in every(b, 12.0, 40.0, 240, 300):
        b.log(
            t,
            pl,
            pg_csv(
                b,
                t,
                212,
                "LOG",
                "00000",
                f"checkpoint complete: wrote {rng.randint(4000, 9000)} buffers; distance="
                f"{rng.randint(300000, 900000)} kB",
                backend="checkpointer",
            ),
        )
    host = "ledger-db-1"
    b.log(
        b.t(10.0),
        pl,
        journal(
            b,
            b.t(10.0),
            "pg-maint.service",
            "systemd",
            6,
            "Starting pg-maint.service - nightly vacuum and dump...",
            host,
        ),
    )
    b.log(
        b.t(42.0),
        pl,
        journal(
            b,
            b.t(42.0),
            "pg-maint.service",
            "systemd",
            6,
            "pg-maint.service: Deactivated successfully.",
            host,
        ),
    )
    return b
