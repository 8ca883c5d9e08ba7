# size: three linear scenario scripts of one family, each telling one story
"""PostgreSQL scenarios of round 11 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout4.common import envoy_json_line, pg_log
from examples.incidents.holdout5.common import ecs, py_log
from examples.incidents.holdout6.common import haproxy_exporter, pgbouncer_exporter
from examples.incidents.holdout9.common import traefik_metrics
from examples.incidents.holdout10.common import haproxy_json, pg_json, slog, traefik_clf
from examples.incidents.holdout11.common import (
    every,
    finish,
    level,
    pods,
    say_some,
    stack,
    within,
)


def orders_pgbouncer_prepared_statements() -> Bundle:  # size: one linear scenario script
    """At 09:30 a config push switches the orders PgBouncer (1.20, no prepared-statement
    tracking) from session to transaction pooling to serve more clients.  pgJDBC names its
    statements after five executions (S_1, S_2...) and now meets server connections that
    never saw them: 'prepared statement "S_4" does not exist' (26000) and '... already
    exists' (42P05), ~25 % of orders calls 500 at Envoy.  PostgreSQL itself is idle.
    Root: orders-pgbouncer (its pool mode, a configuration change to roll back)."""
    b = Bundle(
        "orders-pgbouncer-prepared-statements",
        "2038-05-12T09:15:00Z",
        description="orders API 500s since the morning change window",
        symptom={"component": "orders-gw"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "orders"
    bl = {"job": "pgbouncer", "instance": "10.60.5.10:9127"}
    b.component("orders-pgbouncer", "other", {"job": "pgbouncer"}, ["orders-pg"])
    b.component("orders-pg", "other", {"job": "postgres", "instance": "10.60.5.20:9187"})
    ps = pods("10.60.{k}.33:8080", "orders-api-7b9c4", ("q1w", "e2r", "t3y"), "10.60.0.{k}:10250")
    routes = [
        Route("GET", "/v1/orders/{n}", "/v1/orders/{id}", 0.6, 0.015, 1800),
        Route("POST", "/v1/orders", "/v1/orders", 0.25, 0.04, 400),
        Route("GET", "/v1/orders?customer={n}", "/v1/orders", 0.15, 0.03, 6000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.25:
            fail(e, 500, rng.uniform(0.01, 0.06), size=130)

    site = stack(
        b,
        edge_name="orders-gw",
        app="orders-api",
        ns=ns,
        deps=["orders-pgbouncer"],
        ps=ps,
        routes=routes,
        prefixes=["10.61.", "10.62.", "10.63.8."],
        clients=140,
        outcome=outcome,
        kind="envoy",
        edge={"job": "orders-gw", "instance": "10.60.0.3:9901"},
        rate=lambda m: 6.0,
        fmt=lambda e: envoy_json_line(b, e, "orders_api", "orders.internal"),
        cluster="orders_api",
    )

    def jdbc(e: Event) -> str:
        n = rng.randint(1, 9)
        msg = (
            f'ERROR: prepared statement "S_{n}" does not exist'
            if rng.random() < 0.7
            else f'ERROR: prepared statement "S_{n}" already exists'
        )
        return ecs(
            b, e.t, "ERROR", "o.h.e.j.s.SqlExceptionHelper", msg, **{"error.type": "PSQLException"}
        )

    say_some(site, 0.6, jdbc)
    for t in every(b, 0, b.minutes, 30, 80):
        site.say(t, rng.randrange(3), ecs(b, t, "INFO", "c.o.OutboxRelay", "relayed 12 events"))
    finish(site, ns, "orders-api", "api", go=False)
    pgbouncer_exporter(
        b,
        bl,
        database="orders",
        active=level(bad, 14.0, 9.0),
        waiting=lambda m: 0.0,
        maxwait=lambda m: 0.0,
        pool=20,
    )
    b.gauge("pgbouncer_config_max_prepared_statements", bl, lambda m: 0)
    b.gauge("pgbouncer_version_info", {**bl, "version": "1.20.1"}, lambda m: 1)
    b.counter(
        "pgbouncer_stats_server_assignments_total",
        {**bl, "database": "orders"},
        level(bad, 95.0, 0.2),
        start=41_220,
    )
    blog = {"job": "pgbouncer", "instance": "10.60.5.10"}
    t = b.t(onset - 0.05)
    b.log(t, blog, pg_log(b, t, 1, "", "LOG", "got SIGHUP, re-reading config"))
    b.log(t + 0.2, blog, pg_log(b, t + 0.2, 1, "", "LOG", "pool_mode changed to transaction"))
    for t in every(b, 0, b.minutes, 60, 60):
        b.log(
            t,
            blog,
            pg_log(
                b,
                t,
                1,
                "",
                "LOG",
                f"stats: {rng.randint(70, 110)} xacts/s, {rng.randint(120, 180)} queries/s, "
                "in 51234 B/s, out 188043 B/s, xact 1204 us, query 612 us, wait 0 us",
            ),
        )
    dbl = {"job": "postgres", "instance": "10.60.5.20:9187"}
    postgres_exporter(
        b,
        dbl,
        tps=level(bad, 95.0, 100.0),
        active=lambda m: 3.0,
        idle=level(bad, 18.0, 20.0),
        datname="orders",
    )
    pl = {"job": "postgres", "instance": "10.60.5.20"}
    for t in every(b, onset, b.minutes, 2, 6):
        b.log(
            t,
            pl,
            pg_json(
                b,
                t,
                rng.randint(21000, 22000),
                "ERROR",
                f'prepared statement "S_{rng.randint(1, 9)}" does not exist',
                code="26000",
                user="orders",
                dbname="orders",
                application_name="PostgreSQL JDBC Driver",
            ),
        )
    return b


def search_pg_jit_compile() -> Bundle:  # size: one linear scenario script
    """At 08:40 the maintenance window brings search-db up on PostgreSQL 16 (from 11): JIT
    is now on by default.  The catalogue search's plan is estimated past jit_above_cost, so
    each execution spends 300-900 ms compiling (inlining, optimization) for an 8 ms query;
    at the morning ramp the DB's CPU saturates, searches take seconds, ~20 % 504 at
    HAProxy.  Root: search-db (a configuration default that arrived with the upgrade)."""
    b = Bundle(
        "search-pg-jit-compile",
        "2038-06-07T08:25:00Z",
        description="product search slow since the DB upgrade",
        symptom={"component": "search-lb"},
        step=30,
        minutes=50,
    )
    rng = b.rng
    up_at, onset = 15.0, 15.5
    bad = within(onset, 99)
    ns = "catalog"
    dbl = {"job": "postgresql", "instance": "search-db-1:9187"}
    b.component("search-db", "other", {"job": "postgresql"})
    suffixes = ("r1", "r2", "r3", "r4")
    ps = pods("10.31.{k}.40:8000", "search-api-84d7f", suffixes, "10.31.0.{k}:10250")
    routes = [
        Route("GET", "/search?q=boots&page=1", "/search", 0.7, 0.03, 22000),
        Route("GET", "/product/{n}", "/product/{id}", 0.3, 0.01, 7000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"search{i + 1}"
        if bad(m) and e.path.startswith("/search"):
            if rng.random() < 0.28:
                fail(e, 504, 10.0, size=0)
                e.extra["term"] = "sH--"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.6, 4.0)
        elif up_at - 1.0 <= m < up_at:
            fail(e, 503, rng.uniform(0.01, 0.1), size=90)

    el = {"job": "haproxy", "instance": "10.31.0.2:8405"}
    site = stack(
        b,
        edge_name="search-lb",
        app="search-api",
        ns=ns,
        deps=["search-db"],
        ps=ps,
        routes=routes,
        prefixes=["84.17.", "2a02:8108:", "95.116.", "178.27."],
        clients=600,
        outcome=outcome,
        kind="haproxy",
        edge=el,
        rate=lambda m: 4.0 + m * 0.08,
        fmt=lambda e: haproxy_json(b, e, "fe_www", "be_search"),
    )
    haproxy_exporter(
        b, el, "be_search", {f"search{k + 1}": p.addr for k, p in enumerate(ps)}, site.events
    )
    say_some(
        site,
        0.5,
        lambda e: py_log(
            b,
            e.t,
            "ERROR",
            "search.views",
            "psycopg.errors.QueryCanceled: canceling statement due to statement timeout",
        ),
        status=504,
    )
    finish(site, ns, "search-api", "web", go=False)

    def alive(m: float) -> bool:
        return not (up_at - 1.0 <= m < up_at)

    postgres_exporter(
        b,
        dbl,
        tps=level(bad, 210.0, 260.0),
        active=level(bad, 46.0, 4.0),
        idle=level(bad, 10.0, 50.0),
        datname="catalog",
        up=alive,
    )
    b.gauge("pg_settings_jit", dbl, lambda m: 1 if m >= up_at else 0)
    b.gauge("pg_settings_jit_above_cost", dbl, lambda m: 100000)
    b.gauge(
        "pg_static_info",
        {**dbl, "short_version": "16.3.0", "version": "PostgreSQL 16.3"},
        lambda m: 1 if m >= up_at else None,
    )
    b.counter(
        "pg_stat_statements_jit_generation_time_seconds_total",
        {**dbl, "datname": "catalog", "queryid": "-718234401902"},
        level(bad, 21.0, 0.0),
        integer=False,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "search-db-1:9100"},
        busy=level(bad, 0.97, 0.3),
        avail=lambda m: 40e9,
        mem_total=64e9,
        cores=16,
    )
    pl = {"job": "postgresql", "instance": "search-db-1"}
    t = b.t(up_at)
    b.log(t, pl, pg_log(b, t, 1, "", "LOG", "starting PostgreSQL 16.3 on x86_64-pc-linux-gnu"))
    b.log(
        t + 2, pl, pg_log(b, t + 2, 1, "", "LOG", "database system is ready to accept connections")
    )
    for t in every(b, onset, b.minutes, 3, 8):
        total = rng.uniform(300, 900)
        pid = rng.randint(3000, 9000)
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                pid,
                "search@catalog",
                "LOG",
                f"duration: {total + 8:.3f} ms  plan:\n\tQuery Text: SELECT p.id, p.title FROM "
                "products p JOIN stock s USING (sku) WHERE p.tsv @@ $1 ORDER BY rank DESC LIMIT 24"
                f"\n\tJIT:\n\t  Functions: 41\n\t  Options: Inlining true, Optimization true, "
                f"Expressions true, Deforming true\n\t  Timing: Generation 6.2 ms, Inlining "
                f"{total * 0.3:.1f} ms, Optimization {total * 0.45:.1f} ms, Emission "
                f"{total * 0.24:.1f} ms, Total {total:.1f} ms",
            ),
        )
    return b


def notes_pg_wraparound_vacuum_ddl() -> Bundle:  # size: one linear scenario script
    """An autovacuum 'to prevent wraparound' has been scanning the 900 GB notes table for
    hours (it does not yield its SHARE UPDATE EXCLUSIVE lock).  At 13:22 a deploy's migration
    runs ALTER TABLE notes ADD COLUMN without lock_timeout: it queues for ACCESS EXCLUSIVE
    behind the vacuum, and every SELECT and INSERT on notes queues behind the ALTER: active
    backends 6 -> 190, ~60 % of notes calls 504 at Traefik.  Root: notes-db (a lock queue
    behind the migration's DDL; cancel the ALTER, let the vacuum finish)."""
    b = Bundle(
        "notes-pg-wraparound-vacuum-ddl",
        "2038-07-21T13:05:00Z",
        description="notes app hanging",
        symptom={"component": "notes-edge"},
        step=10,
        minutes=35,
    )
    rng = b.rng
    onset = 17.0
    bad = within(onset, 99)
    ns = "notes"
    dbl = {"job": "postgres", "instance": "172.22.4.10:9187"}
    b.component("notes-db", "other", {"job": "postgres", "instance": "172.22.4.10:9187"})
    ps = pods("172.22.{k}.51:8080", "notes-api-6f8d9", ("x1", "y2", "z3"), "172.22.0.{k}:10250")
    routes = [
        Route("GET", "/api/notes/{n}", "/api/notes/:id", 0.6, 0.01, 2400),
        Route("POST", "/api/notes", "/api/notes", 0.25, 0.02, 300),
        Route("GET", "/api/me", "/api/me", 0.15, 0.004, 500),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and "notes" in e.path:
            if rng.random() < 0.65:
                fail(e, 504, 30.0, reached=False, size=24)
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(5.0, 25.0)

    n = iter(range(3_400_000, 9_000_000))
    site = stack(
        b,
        edge_name="notes-edge",
        app="notes-api",
        ns=ns,
        deps=["notes-db"],
        ps=ps,
        routes=routes,
        prefixes=["172.22.64.", "172.22.65.", "fd00:22:4::"],
        clients=120,
        outcome=outcome,
        kind="traefik",
        edge={"job": "traefik", "instance": "172.22.0.9:8082"},
        rate=lambda m: 5.0,
        fmt=lambda e: traefik_clf(b, e, next(n), "notes-api@kubernetescrd"),
    )
    traefik_metrics(
        b,
        {"job": "traefik", "instance": "172.22.0.9:8082"},
        site.events,
        "notes-api@kubernetescrd",
        last_reload=b.t(-4000),
    )
    for t in every(b, onset, b.minutes, 4, 9):
        site.say(
            t,
            rng.randrange(3),
            slog(b, t, "ERROR", "query", err="pq: canceling statement due to user request"),
        )
    finish(site, ns, "notes-api", "api")
    postgres_exporter(
        b,
        dbl,
        tps=level(bad, 8.0, 240.0),
        active=level(bad, 190.0, 6.0),
        idle=level(bad, 4.0, 60.0),
        waiting=level(bad, 186.0, 0.0),
        datname="notes",
        max_connections=300,
    )
    b.gauge(
        "pg_stat_activity_max_tx_duration",
        {**dbl, "datname": "notes", "state": "active", "usename": "postgres"},
        lambda m: 6.1 * 3600 + m * 60,
    )
    b.gauge(
        "pg_database_age_datfrozenxid",
        {**dbl, "datname": "notes"},
        lambda m: 1_210_000_000 + m * 9000,
    )
    b.gauge("pg_settings_autovacuum_freeze_max_age", dbl, lambda m: 200_000_000)
    b.gauge(
        "pg_locks_waiting",
        {**dbl, "datname": "notes", "mode": "accessexclusivelock"},
        level(bad, 1.0, 0.0),
    )
    pl = {"job": "postgres", "instance": "172.22.4.10"}
    t = b.t(onset)
    b.log(
        t,
        pl,
        pg_log(
            b,
            t,
            40112,
            "migrator@notes",
            "LOG",
            "statement: ALTER TABLE notes ADD COLUMN pinned boolean NOT NULL DEFAULT false",
        ),
    )
    t = b.t(onset) + 1.0
    b.log(
        t,
        pl,
        pg_log(
            b,
            t,
            40112,
            "migrator@notes",
            "LOG",
            "process 40112 still waiting for AccessExclusiveLock on relation 16731 of database "
            "16384 after 1000.112 ms\nDETAIL:  Process holding the lock: 29870. Wait queue: 40112.",
        ),
    )
    for t in every(b, onset + 0.1, b.minutes, 2, 6):
        pid = rng.randint(41000, 49000)
        mode = "AccessShareLock" if rng.random() < 0.7 else "RowExclusiveLock"
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                pid,
                "notes@notes",
                "LOG",
                f"process {pid} still waiting for {mode} on relation 16731 of database 16384 "
                "after 1000.087 ms\nDETAIL:  Process holding the lock: 29870. Wait queue: "
                f"40112, {pid}.",
            ),
        )
    b.gauge(
        "pg_stat_progress_vacuum_heap_blks_scanned",
        {**dbl, "datname": "notes", "relname": "notes", "phase": "scanning heap"},
        lambda m: int(7.9e7 + m * 60 * 2100),
    )
    b.gauge(
        "pg_stat_activity_count",
        {**dbl, "datname": "notes", "state": "active", "backend_type": "autovacuum worker"},
        lambda m: 1,
    )
    return b
