# size: two linear scenario scripts of one family, each telling one story
"""PostgreSQL scenarios of round 10 (written blind from public reports)."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import node_exporter, postgres_exporter
from examples.incidents.holdout3.kit import Bundle, Event
from examples.incidents.holdout3.stack import Route, fail
from examples.incidents.holdout5.common import within
from examples.incidents.holdout9.common import traefik_metrics
from examples.incidents.holdout10.common import (
    every,
    finish,
    pg_json,
    pods,
    slog,
    tier,
    tracing,
    traefik_clf,
)


def analytics_pg_temp_files_disk_full() -> Bundle:  # size: one linear scenario script
    """From 07:52 a new 'cohort retention' dashboard runs a GROUP BY over 400 M rows with
    work_mem 4 MB: each run spills ~30 GB of temp files into the data volume.  At 08:01 the
    volume is full: the spilling queries fail (53100 could not write to file
    base/pgsql_tmp) and so do ordinary INSERTs (could not extend file); analytics-api's
    writes and reads return 500, ~45 % of requests.  Root: analytics-db (disk full by
    temp files)."""
    b = Bundle(
        "analytics-pg-temp-files-disk-full",
        "2037-02-09T07:40:00Z",
        description="analytics API 500s, ingestion failing",
        symptom={"component": "analytics-edge"},
        step=15,
        minutes=40,
    )
    rng = b.rng
    spill, full = 12.0, 21.0
    bad = within(full, 99)
    ns = "analytics"
    b.component("analytics-edge", "proxy", {"job": "traefik"}, ["analytics-api"])
    b.component("analytics-api", "app", {"namespace": ns, "app": "analytics-api"}, ["analytics-db"])
    b.component("analytics-db", "other", {"job": "postgres", "instance": "172.20.8.15:9187"})
    ps = pods(
        "172.20.{k}.44:8080", "analytics-api-5f7c9", ("kx2p", "lm7q", "zz4t"), "172.20.0.{k}:10250"
    )
    routes = [
        Route("POST", "/v2/events", "/v2/events", 0.65, 0.012, 60),
        Route("GET", "/v2/reports/{n}", "/v2/reports/:id", 0.35, 0.08, 5200),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and rng.random() < 0.45:
            fail(e, 500, rng.uniform(0.01, 0.2), size=90)
            e.extra["disk"] = True

    n = iter(range(8_112_004, 9_000_000))
    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["172.20.64.", "172.20.65.", "172.21.3."],
        clients=90,
        outcome=outcome,
        kind="traefik",
        edge={"job": "traefik", "instance": "172.20.0.9:8082"},
        rate=lambda m: 11.0,
        fmt=lambda e: traefik_clf(b, e, next(n), "analytics-api@kubernetescrd"),
    )
    traefik_metrics(
        b,
        {"job": "traefik", "instance": "172.20.0.9:8082"},
        site.events,
        "analytics-api@kubernetescrd",
        last_reload=b.t(-900),
    )
    for e in site.events:
        if e.extra.get("disk") and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                tracing(
                    b,
                    e.t,
                    "ERROR",
                    "analytics_api::store",
                    "query failed",
                    error='"db error: ERROR: could not extend file \\"base/16384/2619\\": '
                    'No space left on device"',
                ),
            )
    for t in every(b, 0, b.minutes, 20, 60):
        k = rng.randrange(3)
        site.say(t, k, tracing(b, t, "INFO", "analytics_api::ingest", "batch flushed", rows=500))
    finish(site, ns, "analytics-api", "api", go=False)
    dbl = {"job": "postgres", "instance": "172.20.8.15:9187"}
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 90.0 if bad(m) else 420.0,
        active=lambda m: 9.0 if m >= spill else 3.0,
        idle=lambda m: 28.0,
        datname="analytics",
    )
    db = {**dbl, "datname": "analytics"}
    b.counter("pg_stat_database_temp_files", db, lambda m: 0.2 if m >= spill else 0.001, start=311)
    b.counter(
        "pg_stat_database_temp_bytes", db, lambda m: 5.5e7 if m >= spill else 2e3, start=8.1e11
    )
    b.counter(
        "pg_stat_database_xact_rollback",
        {**db, "cause": "error"},
        lambda m: 40.0 if bad(m) else 0.1,
        start=9,
    )

    def avail(m: float) -> float:
        if m < spill:
            return 31e9 - m * 1e6
        return max(0.0, 31e9 - (m - spill) * 3.5e9)

    node_exporter(
        b,
        {"job": "node", "instance": "172.20.8.15:9100"},
        busy=lambda m: 0.55 if m >= spill else 0.2,
        avail=lambda m: 40e9,
        fs_avail=avail,
        fs_size=500e9,
        iowait=lambda m: 0.3 if spill <= m < full else 0.02,
    )
    pl = {"job": "postgres", "instance": "172.20.8.15"}
    for t in every(b, spill, b.minutes, 25, 50):
        b.log(
            t,
            pl,
            pg_json(
                b,
                t,
                rng.randint(40000, 48000),
                "LOG",
                f'temporary file: path "base/pgsql_tmp/pgsql_tmp{rng.randint(40000, 48000)}.'
                f'{rng.randint(0, 40)}", size 1073741824',
                user="grafana_ro",
                dbname="analytics",
                application_name="grafana",
            ),
        )
    for t in every(b, full, b.minutes, 2, 6):
        write = rng.random() < 0.6
        b.log(
            t,
            pl,
            pg_json(
                b,
                t,
                rng.randint(40000, 48000),
                "ERROR",
                'could not extend file "base/16384/2619": No space left on device'
                if write
                else 'could not write to file "base/pgsql_tmp/pgsql_tmp41877.12": '
                "No space left on device",
                code="53100",
                user="analytics" if write else "grafana_ro",
                dbname="analytics",
            ),
        )
    return b


def metrics_pg_lockmanager_partitions() -> Bundle:  # size: one linear scenario script
    """At 18:00 the daily job attaches the 400th daily partition of samples; the API's
    prepared statements run generic plans without pruning, so each query locks every
    partition and its indexes, past the 16 fast-path slots: backends queue on
    LWLock:LockManager, 12 -> 140 active, CPU on spinlocks, queries 5 ms -> 2-6 s, ~30 %
    of dashboard calls 504 at the HAProxy edge.  Root: metrics-db (lock manager
    contention)."""
    from examples.incidents.holdout6.common import haproxy_exporter
    from examples.incidents.holdout10.common import haproxy_json

    b = Bundle(
        "metrics-pg-lockmanager-partitions",
        "2036-10-15T17:42:00Z",
        description="dashboards timing out since 18:00",
        symptom={"component": "metrics-lb"},
        step=10,
        minutes=35,
    )
    rng = b.rng
    onset = 18.5
    bad = within(onset, 99)
    ns = "observability"
    b.component("metrics-lb", "proxy", {"job": "haproxy"}, ["query-api"])
    b.component("query-api", "app", {"namespace": ns, "app": "query-api"}, ["metrics-db"])
    b.component("metrics-db", "other", {"job": "pg", "instance": "pg-metrics-0"})
    ps = pods("10.12.{k}.7:9000", "query-api-69b8c", ("a1", "b2", "c3", "d4"), "10.12.0.{k}:10250")
    routes = [
        Route("POST", "/api/v1/query_range", "/api/v1/query_range", 0.7, 0.04, 8000),
        Route("GET", "/api/v1/series", "/api/v1/series", 0.3, 0.02, 3000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = f"query{i + 1}"
        if bad(m):
            if rng.random() < 0.3:
                fail(e, 504, 15.0, size=0)
                e.extra["term"] = "sH--"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(1.5, 6.0)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.200.", "10.201.4."],
        clients=160,
        outcome=outcome,
        kind="haproxy",
        edge={"job": "haproxy", "instance": "10.12.0.2:8405"},
        rate=lambda m: 9.0,
        fmt=lambda e: haproxy_json(b, e, "fe_dash", "be_query"),
    )
    haproxy_exporter(
        b,
        {"job": "haproxy", "instance": "10.12.0.2:8405"},
        "be_query",
        {f"query{k + 1}": p.addr for k, p in enumerate(ps)},
        site.events,
    )
    for e in site.events:
        if e.status == 504 and rng.random() < 0.3:
            site.say(
                e.t,
                e.extra["pod"],
                slog(
                    b,
                    e.t,
                    "ERROR",
                    "query failed",
                    err="context deadline exceeded",
                    route=e.extra["route"],
                ),
            )
    for t in every(b, 0, b.minutes, 30, 70):
        site.say(
            t,
            rng.randrange(4),
            slog(b, t, "INFO", "cache refreshed", entries=rng.randint(900, 1200)),
        )
    finish(site, ns, "query-api", "api")
    dbl = {"job": "pg", "instance": "pg-metrics-0"}
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 700.0 if bad(m) else 1900.0,
        active=lambda m: 140.0 if bad(m) else 12.0,
        idle=lambda m: 30.0 if bad(m) else 150.0,
        datname="metrics",
        max_connections=400,
    )
    wl = {**dbl, "datname": "metrics"}
    for typ, ev, fn in (
        ("LWLock", "LockManager", lambda m: 95.0 if bad(m) else 0.4),
        ("LWLock", "BufferMapping", lambda m: 3.0 if bad(m) else 0.2),
        ("Client", "ClientRead", lambda m: 4.0),
        ("IO", "DataFileRead", lambda m: 2.0),
    ):
        b.gauge(
            "pg_stat_activity_wait_event_count",
            {**wl, "wait_event_type": typ, "wait_event": ev},
            lambda m, fn=fn: int(fn(m) * rng.uniform(0.85, 1.15)),
        )
    b.gauge(
        "pg_locks_fastpath_false",
        wl,
        lambda m: int((9000 if bad(m) else 40) * rng.uniform(0.9, 1.1)),
    )
    b.gauge(
        "pg_partitions_count",
        {**wl, "parent": "samples"},
        lambda m: 400 if m >= onset - 0.3 else 399,
    )
    node_exporter(
        b,
        {"job": "node", "instance": "pg-metrics-0:9100"},
        busy=lambda m: 0.97 if bad(m) else 0.35,
        avail=lambda m: 80e9,
        mem_total=256e9,
        cores=16,
    )
    pl = {"job": "pg", "instance": "pg-metrics-0"}
    t = b.t(onset - 0.3)
    b.log(
        t,
        pl,
        pg_json(
            b,
            t,
            7711,
            "LOG",
            "statement: ALTER TABLE samples ATTACH PARTITION samples_p20361016 FOR VALUES FROM ('2036-10-16') TO ('2036-10-17')",
            user="partman",
            dbname="metrics",
        ),
    )
    for t in every(b, onset, b.minutes, 4, 10):
        b.log(
            t,
            pl,
            pg_json(
                b,
                t,
                rng.randint(20000, 29000),
                "LOG",
                f"duration: {rng.uniform(1800, 6400):.3f} ms  execute S_3: SELECT ts, value FROM "
                "samples WHERE series_id = $1 AND ts BETWEEN $2 AND $3",
                user="query",
                dbname="metrics",
            ),
        )
    return b


def audit_pg_checkpoints_too_frequent() -> Bundle:  # size: one linear scenario script
    """At 11:20 the audit-events backfill starts writing ~250 MB/s of WAL into a PostgreSQL
    16 with the default max_wal_size (1 GB): checkpoints are requested every 8-10 s instead
    of every 5 min, each followed by a flood of full-page images, the data disk's writes
    saturate, commits wait on WAL flush: audit-api's inserts take seconds and ~20 % 503 at
    Envoy.  Root: audit-db (checkpoint storm: WAL sized too small for a bulk load)."""
    from examples.incidents.holdout5.common import py_log
    from examples.incidents.holdout10.common import pg_csv

    b = Bundle(
        "audit-pg-checkpoints-too-frequent",
        "2036-09-22T11:05:00Z",
        description="audit writes slow and failing since late morning",
        symptom={"component": "audit-gw"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    onset = 15.0
    bad = within(onset, 99)
    ns = "audit"
    b.component("audit-gw", "proxy", {"job": "audit-envoy"}, ["audit-api"])
    b.component("audit-api", "app", {"namespace": ns, "app": "audit-api"}, ["audit-db"])
    b.component("audit-db", "other", {"job": "postgresql", "instance": "audit-pg-primary:9187"})
    ps = pods("10.77.{k}.52:8000", "audit-api-77c6f", ("nm4", "op5", "pq6"), "10.77.0.{k}:10250")
    routes = [
        Route("POST", "/v1/events", "/v1/events", 0.8, 0.01, 90),
        Route("GET", "/v1/events?actor={n}", "/v1/events", 0.2, 0.04, 6000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and e.method == "POST":
            if rng.random() < 0.25:
                fail(e, 503, 5.0, size=95)
                e.extra["flags"] = "UT"
            else:
                e.duration = e.extra["app_dur"] = e.duration + rng.uniform(0.5, 4.0)

    site = tier(
        b,
        ps=ps,
        routes=routes,
        prefixes=["10.140.", "10.141.", "10.77.90."],
        clients=120,
        outcome=outcome,
        kind="envoy",
        edge={"job": "audit-envoy", "instance": "10.77.0.4:9901"},
        rate=lambda m: 14.0,
        cluster="audit_api",
    )
    for e in site.events:
        if e.status == 503 and rng.random() < 0.25:
            site.say(
                e.t,
                e.extra["pod"],
                py_log(
                    b,
                    e.t,
                    "ERROR",
                    "audit.store",
                    "insert timed out after 5.0s (QueryCanceled: canceling statement due to statement timeout)",
                ),
            )
    for t in every(b, 0, b.minutes, 30, 80):
        site.say(
            t,
            rng.randrange(3),
            py_log(b, t, "INFO", "audit.retention", "partition audit_events_2036_09 ok"),
        )
    finish(site, ns, "audit-api", "api", go=False)
    dbl = {"job": "postgresql", "instance": "audit-pg-primary:9187"}
    postgres_exporter(
        b,
        dbl,
        tps=lambda m: 300.0 if bad(m) else 900.0,
        active=lambda m: 38.0 if bad(m) else 4.0,
        idle=lambda m: 20.0,
        datname="audit",
    )
    b.counter(
        "pg_stat_bgwriter_checkpoints_req_total",
        dbl,
        lambda m: 0.11 if bad(m) else 0.0,
        start=1_208,
    )
    b.counter(
        "pg_stat_bgwriter_checkpoints_timed_total",
        dbl,
        lambda m: 0.0 if bad(m) else 1 / 300,
        start=40_112,
    )
    b.counter(
        "pg_stat_bgwriter_buffers_checkpoint_total",
        dbl,
        lambda m: 21000.0 if bad(m) else 300.0,
        start=9.9e9,
    )
    b.counter(
        "pg_stat_bgwriter_checkpoint_write_time_total",
        dbl,
        lambda m: 900.0 if bad(m) else 20.0,
        start=8.8e9,
    )
    b.gauge("pg_settings_max_wal_size_bytes", dbl, lambda m: 1024 * 2**20)
    b.gauge("pg_settings_checkpoint_timeout_seconds", dbl, lambda m: 300)
    b.counter("pg_stat_wal_bytes_total", dbl, lambda m: 2.5e8 if bad(m) else 4e6, start=7.7e13)
    b.counter("pg_stat_wal_fpi_total", dbl, lambda m: 24000.0 if bad(m) else 40.0, start=1.1e9)
    nl = {"job": "node", "instance": "audit-pg-primary:9100"}
    node_exporter(
        b,
        nl,
        busy=lambda m: 0.4 if bad(m) else 0.2,
        avail=lambda m: 30e9,
        iowait=lambda m: 0.38 if bad(m) else 0.02,
    )
    dl = {**nl, "device": "nvme1n1"}
    b.counter(
        "node_disk_io_time_seconds_total", dl, lambda m: 0.99 if bad(m) else 0.12, start=5.5e6
    )
    b.counter(
        "node_disk_written_bytes_total", dl, lambda m: 6.1e8 if bad(m) else 2.2e7, start=9.9e14
    )
    pl = {"job": "postgresql", "instance": "audit-pg-primary:9187"}
    t = b.t(onset - 0.2)
    b.log(
        t,
        pl,
        pg_csv(
            b,
            t,
            88121,
            "LOG",
            "00000",
            "duration: 8.112 ms  statement: COPY audit_events_backfill FROM STDIN",
            user="backfill",
            db="audit",
            app="backfill-2036-09",
        ),
    )
    n = 1270
    for t in every(b, onset + 0.3, b.minutes, 8, 11):
        n += 1
        b.log(
            t,
            pl,
            pg_csv(
                b,
                t,
                61,
                "LOG",
                "00000",
                f"checkpoints are occurring too frequently ({rng.randint(8, 11)} seconds apart)",
                hint='Consider increasing the configuration parameter "max_wal_size".',
                backend="checkpointer",
                line=str(n),
            ),
        )
        if rng.random() < 0.3:
            b.log(
                t + 0.5,
                pl,
                pg_csv(
                    b,
                    t + 0.5,
                    61,
                    "LOG",
                    "00000",
                    f"checkpoint complete: wrote {rng.randint(15000, 30000)} buffers ({rng.uniform(10, 20):.1f}%); "
                    f"0 WAL file(s) added, 0 removed, {rng.randint(10, 20)} recycled; write={rng.uniform(6, 9):.3f} s, "
                    f"sync={rng.uniform(0.8, 2.5):.3f} s, total={rng.uniform(8, 11):.3f} s",
                    backend="checkpointer",
                    line=str(n),
                ),
            )
    return b
