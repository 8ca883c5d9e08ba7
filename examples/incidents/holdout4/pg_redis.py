"""PostgreSQL and Redis incidents: WAL disk full, XID wraparound, Sentinel failover,
MISCONF after a failed fork, and session evictions at maxmemory."""

from __future__ import annotations

import json

from examples.incidents.holdout3.exporters import node_exporter, postgres_exporter, redis_exporter
from examples.incidents.holdout3.kit import Bundle, Event, client_pool, pick_clients, ramp
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    Pod,
    Route,
    app_side,
    edge,
    envoy_json_line,
    iso_ms,
    log_each,
    logrus,
    nginx_timed_line,
    pg_log,
    redis_log,
)


def audit_pg_wal_slot_disk_full() -> Bundle:
    """A Debezium connector was decommissioned five days ago but its logical replication
    slot debezium_audit stayed: PostgreSQL keeps every WAL segment for it.  The 400 GB data
    volume reaches 0 bytes at 03:17:20; PostgreSQL PANICs ("could not write to file
    pg_wal/xlogtemp...: No space left on device"), restarts into recovery and cannot finish
    it.  audit-writer pods (Go, logrus) fail every insert: "FATAL: the database system is
    in recovery mode (SQLSTATE 57P03)", then "dial tcp 10.250.8.14:5432: connect: connection
    refused".  Root: the database's disk (drop the stale slot)."""
    b = Bundle(
        "audit-pg-wal-slot-disk-full",
        "2028-06-06T03:00:00Z",
        description="audit event ingestion returns 503",
        symptom={"component": "audit-gw", "route": "/v1/events"},
    )
    full = 17 + 20 / 60
    down = lambda m: m >= full  # noqa: E731
    ns, ctr = "compliance", "audit-writer"
    b.component("audit-gw", "proxy", {"job": "audit-gw"}, ["audit-writer"])
    b.component("audit-writer", "app", {"namespace": ns, "container": ctr}, ["audit-pg"])
    b.component("audit-pg", "other", {"job": "audit-pg"})
    pods = [
        Pod(
            f"10.250.{20 + i}.{100 + 3 * i}:8080",
            f"audit-writer-68c4b9d7f5-{s}",
            f"10.250.0.{21 + i}:10250",
        )
        for i, s in enumerate(("t2wq8", "j6lzp", "c3nvb"))
    ]
    routes = [
        Route("POST", "/v1/events", "/v1/events", 0.85, 0.009, 60),
        Route("GET", "/v1/events/search?actor=u{n}", "/v1/events/search", 0.15, 0.08),
    ]
    clients = pick_clients(b, client_pool(b, ["10.250.64.", "10.250.65.", "10.250.66."], 45))
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if down(m):
            fail(e, 503, b.rng.uniform(0.002, 0.02))
            err = (
                "FATAL: the database system is in recovery mode (SQLSTATE 57P03)"
                if m < full + 2.5
                else "failed to connect to `host=10.250.8.14 user=audit database=audit`: dial error (dial tcp 10.250.8.14:5432: connect: connection refused)"
            )
            logs.append(
                (
                    e.t,
                    i,
                    logrus(b, e.t, "error", "insert audit event", error=err, component="store"),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 9.0,
        clients=clients,
        outcome=outcome,
        kind="envoy",
        labels={"job": "audit-gw", "instance": "10.250.0.50:15090"},
        cluster="outbound|8080||audit-writer.compliance.svc.cluster.local",
        fmt=lambda e: envoy_json_line(
            b, e, "outbound|8080||audit-writer.compliance.svc.cluster.local", "audit.compliance.svc"
        ),
        agents=("audit-sdk-go/1.9.0", "Go-http-client/2.0"),
    )
    base = {"job": "audit-writer", "namespace": ns, "container": ctr}
    app_side(b, pods, events, base, namespace=ns, container=ctr)
    log_each(b, logs, pods, {"namespace": ns, "container": ctr, "stream": "stderr"})
    pg = {"job": "audit-pg", "instance": "10.250.8.14:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 14.0 if not down(m) else 0.0,
        active=lambda m: 4,
        idle=lambda m: 28,
        up=lambda m: not down(m),
        datname="audit",
    )
    slot = {
        **pg,
        "slot_name": "debezium_audit",
        "plugin": "pgoutput",
        "slot_type": "logical",
        "database": "audit",
    }
    b.gauge("pg_replication_slots_active", slot, lambda m: 0 if not down(m) else None)
    b.gauge(
        "pg_replication_slots_pg_wal_lsn_diff",
        slot,
        lambda m: int(3.93e11 + m * 60 * 5.8e6) if not down(m) else None,
    )
    node_exporter(
        b,
        {"job": "audit-pg", "instance": "10.250.8.14:9100"},
        busy=lambda m: 0.2,
        avail=lambda m: 12e9,
        mem_total=64e9,
    )
    data = {
        "job": "audit-pg",
        "instance": "10.250.8.14:9100",
        "device": "/dev/sdb",
        "fstype": "ext4",
        "mountpoint": "/var/lib/postgresql",
    }
    b.gauge("node_filesystem_size_bytes", data, lambda m: int(400e9))
    b.gauge(
        "node_filesystem_avail_bytes", data, lambda m: int(max(0.0, ramp(m, 0, full, 6.05e9, 0.0)))
    )
    pl = {"job": "audit-pg", "instance": "10.250.8.14:9187", "container": "postgres"}
    t = b.t(2.0)
    while t < b.t(full):
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                1187,
                "@",
                "LOG",
                f"checkpoint complete: wrote {b.rng.randint(900, 4000)} buffers (1.1%); 0 WAL file(s) added, 0 removed, 0 recycled; write=269.9 s, sync=0.004 s, total=270.0 s",
            ),
        )
        t += 300
    t = b.t(full)
    for dt_, pid, who, lvl, msg in (
        (
            0.0,
            40211,
            "audit@audit",
            "PANIC",
            'could not write to file "pg_wal/xlogtemp.40211": No space left on device',
        ),
        (0.2, 1001, "@", "LOG", "server process (PID 40211) was terminated by signal 6: Aborted"),
        (0.2, 1001, "@", "LOG", "terminating any other active server processes"),
        (1.4, 1001, "@", "LOG", "all server processes terminated; reinitializing"),
        (
            1.6,
            40377,
            "@",
            "LOG",
            "database system was interrupted; last known up at 2028-06-06 03:15:02 UTC",
        ),
        (
            2.1,
            40377,
            "@",
            "LOG",
            "database system was not properly shut down; automatic recovery in progress",
        ),
        (2.3, 40377, "@", "LOG", "redo starts at 5B/E10A2B40"),
        (
            95.0,
            40377,
            "@",
            "FATAL",
            'could not write to file "pg_wal/xlogtemp.40377": No space left on device',
        ),
        (95.2, 1001, "@", "LOG", "startup process (PID 40377) exited with exit code 1"),
        (95.3, 1001, "@", "LOG", "aborting startup due to startup process failure"),
        (95.5, 1001, "@", "LOG", "database system is shut down"),
    ):
        b.log(t + dt_, pl, pg_log(b, t + dt_, pid, who, lvl, msg))
    for k in range(int(full) + 1, 60, 4):
        tt = b.t(k + 0.3)
        b.log(
            tt,
            {"job": "audit-pg", "instance": "10.250.8.14:9187", "container": "exporter"},
            f'ts={iso_ms(b, tt)} caller=collector.go:196 level=error msg="Error opening connection to database" err="dial tcp 10.250.8.14:5432: connect: connection refused"',
        )
    return b


def orders_pg_xid_wraparound() -> Bundle:
    """orders-pg (PostgreSQL 15) has not been able to freeze order_events for weeks: the
    anti-wraparound autovacuum keeps being cancelled by the nightly partition job.  From the
    start of the window every write warns "database "orders" must be vacuumed within N
    transactions"; at 13:16 the counter reaches the stop limit and PostgreSQL refuses every
    command that needs a transaction ID: "database is not accepting commands to avoid
    wraparound data loss in database "orders"".  All checkout-svc pods (node-postgres,
    pino) fail writes with code 54000; reads still work.  30 s scrapes.  Root: the database
    (transaction ID wraparound); the fix is a single-user VACUUM, not a project action."""
    b = Bundle(
        "orders-pg-xid-wraparound",
        "2028-06-21T13:00:00Z",
        description="checkout cannot create orders (500)",
        symptom={"component": "checkout-edge", "route": "/api/orders"},
        step=30,
    )
    stop = 16.0
    ns = "commerce"
    b.component("checkout-edge", "proxy", {"job": "checkout-edge"}, ["checkout-svc"])
    b.component(
        "checkout-svc",
        "app",
        {"namespace": ns, "app_kubernetes_io_name": "checkout-svc"},
        ["orders-pg"],
    )
    b.component("orders-pg", "other", {"job": "orders-pg"})
    pods = [
        Pod(f"172.28.{9 + i}.{14 + i}:3000", f"checkout-svc-85f6d9c7b-{s}")
        for i, s in enumerate(("mm4tq", "zz9vn", "aa2xr", "ee7gb"))
    ]
    routes = [
        Route("POST", "/api/orders", "/api/orders", 0.3, 0.07),
        Route("GET", "/api/orders/{n}", "/api/orders/:id", 0.5, 0.015),
        Route("POST", "/api/cart/items", "/api/cart/items", 0.2, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["81.56.41.", "109.190.2.", "2a01:cb00:88e::"], 400))
    logs: list[tuple[float, int, str]] = []
    remaining = lambda m: max(0, int(ramp(m, 0, stop, 9_843_211, 3_000_000)))  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method == "POST" and m >= stop:
            fail(e, 500, b.rng.uniform(0.004, 0.02))
            logs.append(
                (
                    e.t,
                    i,
                    json.dumps(
                        {
                            "level": 50,
                            "time": int(e.t * 1000),
                            "pid": 1,
                            "hostname": "",
                            "req": {"method": "POST", "url": e.path},
                            "err": {
                                "type": "DatabaseError",
                                "message": 'database is not accepting commands to avoid wraparound data loss in database "orders"',
                                "code": "54000",
                                "severity": "ERROR",
                                "hint": "Stop the postmaster and vacuum that database in single-user mode.\nYou might also need to commit or roll back old prepared transactions, or drop stale replication slots.",
                            },
                            "msg": "create order failed",
                        },
                        separators=(",", ":"),
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 10.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "checkout-edge", "instance": "172.28.0.5:9113"},
        fmt=lambda e: nginx_timed_line(b, e),
    )
    base = {"job": "checkout-svc", "namespace": ns, "app_kubernetes_io_name": "checkout-svc"}
    app_side(b, pods, events, base, go=False, mem=lambda m, i: 140e6)
    for pod in pods:
        lb = {**base, "instance": pod.addr, "pod": pod.pod}
        b.gauge("nodejs_eventloop_lag_seconds", lb, lambda m: round(b.rng.uniform(0.001, 0.004), 5))
        b.gauge("nodejs_active_handles_total", lb, lambda m: b.rng.randint(20, 32))
    log_each(
        b,
        logs,
        pods,
        {"namespace": ns, "app_kubernetes_io_name": "checkout-svc", "stream": "stdout"},
    )
    pg = {"job": "orders-pg", "instance": "172.28.40.7:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 85.0 if m < stop else 60.0,
        active=lambda m: 6,
        idle=lambda m: 40,
        datname="orders",
    )
    b.gauge(
        "pg_database_datfrozenxid_age",
        {**pg, "datname": "orders"},
        lambda m: 2_147_483_647 - 1_000_000 - remaining(m) if m < stop else 2_144_483_647,
    )
    b.gauge("pg_database_datfrozenxid_age", {**pg, "datname": "postgres"}, lambda m: 211_004_118)
    pl = {
        "job": "orders-pg",
        "instance": "172.28.40.7:9187",
        "filename": "/var/log/postgresql/postgresql-15-main.log",
    }
    t = b.t(0.2)
    while t < b.t(stop):
        m = b.m(t)
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                b.rng.randint(90000, 99000),
                "checkout@orders",
                "WARNING",
                f'database "orders" must be vacuumed within {remaining(m)} transactions',
            ),
        )
        t += b.rng.uniform(4, 9)
    while t < b.t(60):
        b.log(
            t,
            pl,
            pg_log(
                b,
                t,
                b.rng.randint(90000, 99000),
                "checkout@orders",
                "ERROR",
                'database is not accepting commands to avoid wraparound data loss in database "orders"',
            ),
        )
        t += b.rng.uniform(0.2, 0.6)
    for k in (9.0, 14.5, 33.0):
        tt = b.t(k)
        b.log(tt, pl, pg_log(b, tt, 77120 + int(k), "@", "ERROR", "canceling autovacuum task"))
        b.log(
            tt + 0.001,
            pl,
            pg_log(
                b,
                tt,
                77120 + int(k),
                "@",
                "CONTEXT",
                'while scanning block 1833201 of relation "public.order_events"\n\tautomatic vacuum to prevent wraparound of table "orders.public.order_events"',
            ),
        )
    return b


def feed_redis_sentinel_readonly() -> Bundle:
    """At 20:13:20 the network of the Redis master feed-redis-0 (10.210.6.11) flaps; the
    Sentinels agree it is down (+odown) and promote 10.210.6.12 at 20:13:38; the old master
    comes back and is turned into a replica.  feed-api's redis-py pool keeps its sockets to
    the old master: every write (timeline fan-out, like counters) fails with "READONLY You
    can't write against a read only replica." on all pods until the pooled connections
    reach their 10 min max age around 20:23.  Root: the Redis (failover)."""
    b = Bundle(
        "feed-redis-sentinel-readonly",
        "2028-07-02T20:00:00Z",
        description="posting and liking fail; feed reads ok",
        symptom={"component": "feed-edge"},
    )
    flap, promote, healed = 13 + 20 / 60, 13 + 38 / 60, 23.1
    ro = lambda m: promote <= m < healed  # noqa: E731
    b.component("feed-edge", "proxy", {"job": "feed-edge"}, ["feed-api"])
    b.component("feed-api", "app", {"job": "feed-api"}, ["feed-redis"])
    b.component("feed-redis", "redis", {"job": "feed-redis"})
    pods = [
        Pod(f"10.210.3.{41 + i}:8000", f"feed-api-6d5c4b3a2-{s}")
        for i, s in enumerate(("lp0qa", "ks9wb", "jr8xc", "ht7yd"))
    ]
    routes = [
        Route("POST", "/v2/posts", "/v2/posts", 0.08, 0.05),
        Route("POST", "/v2/posts/{n}/like", "/v2/posts/{id}/like", 0.22, 0.008),
        Route("GET", "/v2/feed?cursor={n}", "/v2/feed", 0.7, 0.03),
    ]
    clients = pick_clients(
        b, client_pool(b, ["2a02:908:1c2::", "2a01:598:b1a4::", "31.16.42.", "93.104.15."], 600)
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if flap <= m < promote and b.rng.random() < 0.7:
            fail(e, 503, 1.0 + b.rng.uniform(0, 0.01))
            logs.append(
                (
                    e.t + 1.0,
                    i,
                    f"{b.dt(e.t + 1).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} ERROR feed.store redis timeout host=10.210.6.11:6379: redis.exceptions.TimeoutError: Timeout reading from 10.210.6.11:6379",
                )
            )
        elif ro(m) and e.method == "POST":
            fail(e, 500, b.rng.uniform(0.002, 0.01))
            logs.append(
                (
                    e.t,
                    i,
                    f"{b.dt(e.t).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]} ERROR feed.store write failed host=10.210.6.11:6379: redis.exceptions.ReadOnlyError: You can't write against a read only replica.",
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 18.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "feed-edge", "instance": "10.210.0.7:10254"},
        cluster="social-feed-api-8000",
    )
    app_side(b, pods, events, {"job": "feed-api"}, go=False)
    log_each(b, logs, pods, {"job": "feed-api", "stream": "stderr"})
    old = {"job": "feed-redis", "instance": "10.210.6.11:9121"}
    new = {"job": "feed-redis", "instance": "10.210.6.12:9121"}
    redis_exporter(
        b,
        old,
        ops=lambda m: 9500 if m < flap else (5200 if m < healed else 200),
        used=lambda m: 3.1e9,
        maxmemory=8e9,
        clients=lambda m: 220 if m < healed else 12,
        role=lambda m: "master" if m < flap else "slave",
        up=lambda m: not (flap <= m < flap + 0.25),
    )
    redis_exporter(
        b,
        new,
        ops=lambda m: 3100 if m < promote else (4400 if m < healed else 9600),
        used=lambda m: 3.1e9,
        maxmemory=8e9,
        clients=lambda m: 14 if m < promote else (40 if m < healed else 225),
        role=lambda m: "slave" if m < promote else "master",
    )
    sl = {"job": "feed-redis", "instance": "10.210.6.13:26379", "container": "sentinel"}
    t0 = b.t(flap)
    for dt_, msg in (
        (5.1, "+sdown master feed 10.210.6.11 6379"),
        (5.4, "+odown master feed 10.210.6.11 6379 #quorum 2/2"),
        (5.4, "+new-epoch 31"),
        (5.5, "+try-failover master feed 10.210.6.11 6379"),
        (5.9, "+vote-for-leader 8b1f0e77c2a94d3e9a1b6c5d4e3f2a1b0c9d8e7f 31"),
        (6.3, "+elected-leader master feed 10.210.6.11 6379"),
        (6.4, "+failover-state-select-slave master feed 10.210.6.11 6379"),
        (6.5, "+selected-slave slave 10.210.6.12:6379 10.210.6.12 6379 @ feed 10.210.6.11 6379"),
        (
            7.4,
            "+failover-state-wait-promotion slave 10.210.6.12:6379 10.210.6.12 6379 @ feed 10.210.6.11 6379",
        ),
        (17.9, "+promoted-slave slave 10.210.6.12:6379 10.210.6.12 6379 @ feed 10.210.6.11 6379"),
        (18.0, "+switch-master feed 10.210.6.11 6379 10.210.6.12 6379"),
        (33.2, "-sdown slave 10.210.6.11:6379 10.210.6.11 6379 @ feed 10.210.6.12 6379"),
        (43.3, "+convert-to-slave slave 10.210.6.11:6379 10.210.6.11 6379 @ feed 10.210.6.12 6379"),
    ):
        b.log(t0 + dt_, sl, redis_log(b, t0 + dt_, 1, "X", "#", msg))
    ol = {"job": "feed-redis", "instance": "10.210.6.11:9121", "container": "redis"}
    nl = {"job": "feed-redis", "instance": "10.210.6.12:9121", "container": "redis"}
    for dt_, lab, msg in (
        (
            17.95,
            nl,
            "MASTER MODE enabled (user request from 'id=4412 addr=10.210.6.13:51722 laddr=10.210.6.12:6379 fd=21 name=sentinel-8b1f0e77-cmd')",
        ),
        (17.9, nl, "Connection with master lost."),
        (
            43.5,
            ol,
            "Before turning into a replica, using my own master parameters to synthesize a cached master: I may be able to synchronize with the new master with just a partial transfer.",
        ),
        (43.6, ol, "Connecting to MASTER 10.210.6.12:6379"),
        (44.2, ol, "MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization."),
    ):
        b.log(t0 + dt_, lab, redis_log(b, t0 + dt_, 1, "S" if lab is ol else "M", "*", msg))
    return b


def queue_redis_misconf_bgsave() -> Bundle:
    """queue-redis (Redis 6.2, 9.8 GB dataset on a 16 GB VM rebuilt last week with
    vm.overcommit_memory=0) cannot fork for its 02:12 BGSAVE: "Can't save in background:
    fork: Cannot allocate memory", and retries every few seconds in vain.  With
    stop-writes-on-bgsave-error it refuses every write: "MISCONF Redis is configured to
    save RDB snapshots, but it's currently unable to persist to disk...".  notify-api's
    Celery producers on all VMs fail to enqueue (500); reads of job status still work.
    Root: the Redis (persistence failure); fix overcommit, not the callers."""
    b = Bundle(
        "queue-redis-misconf-bgsave",
        "2028-07-15T02:00:00Z",
        description="notifications cannot be queued (500)",
        symptom={"component": "notify-lb", "route": "/v1/notifications"},
    )
    onset = 12.0
    bad = lambda m: m >= onset  # noqa: E731
    b.component("notify-lb", "proxy", {"job": "notify-lb"}, ["notify-api"])
    b.component("notify-api", "app", {"job": "notify-api"}, ["queue-redis"])
    b.component("queue-redis", "redis", {"job": "queue-redis"})
    vms = [Pod(f"192.168.77.{11 + i}:8080") for i in range(3)]
    routes = [
        Route("POST", "/v1/notifications", "/v1/notifications", 0.6, 0.01),
        Route("GET", "/v1/notifications/n_{n}", "/v1/notifications/{id}", 0.4, 0.004),
    ]
    clients = pick_clients(b, client_pool(b, ["192.168.80.", "192.168.81."], 20))
    misconf = (
        "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. "
        "Commands that may modify the data set are disabled, because this instance is configured to report "
        "errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check "
        "the Redis logs for details about the RDB error."
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if bad(m) and e.method == "POST":
            fail(e, 500, b.rng.uniform(0.002, 0.006))
            logs.append(
                (
                    e.t,
                    i,
                    f"[{b.dt(e.t).strftime('%Y-%m-%d %H:%M:%S,%f')[:-3]}: ERROR/MainProcess] enqueue send_push failed: redis.exceptions.ResponseError: {misconf}",
                )
            )

    events = edge(
        b,
        pods=vms,
        routes=routes,
        rate=lambda m: 6.0,
        clients=clients,
        outcome=outcome,
        kind="nginx",
        labels={"job": "notify-lb", "instance": "192.168.77.5:9113"},
        agents=("campaign-scheduler/3.3", "python-httpx/0.28.1"),
    )
    app_side(b, vms, events, {"job": "notify-api"}, go=False)
    log_each(b, logs, vms, {"job": "notify-api", "filename": "/var/log/notify/celery.log"})
    rl = {"job": "queue-redis", "instance": "192.168.77.30:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 2600 if not bad(m) else 900,
        used=lambda m: 9.8e9 + (m * 2e6 if not bad(m) else onset * 2e6),
        maxmemory=0,
        clients=lambda m: 64,
        misses=lambda m: 40,
    )
    b.gauge("redis_rdb_last_bgsave_status", rl, lambda m: 1 if not bad(m) else 0)
    b.gauge("redis_rdb_bgsave_in_progress", rl, lambda m: 0)
    b.gauge(
        "redis_rdb_changes_since_last_save",
        rl,
        lambda m: int(1200 * (m % 5 if not bad(m) else 5 + (onset % 5))),
    )
    b.gauge(
        "redis_rdb_last_save_timestamp_seconds",
        rl,
        lambda m: int(b.t((m // 5) * 5 if not bad(m) else 10.0)),
    )
    node_exporter(
        b,
        {"job": "queue-redis", "instance": "192.168.77.30:9100"},
        busy=lambda m: 0.1,
        avail=lambda m: 5.6e9,
        mem_total=16e9,
        cores=4,
    )
    ll = {
        "job": "queue-redis",
        "instance": "192.168.77.30:9121",
        "filename": "/var/log/redis/redis-server.log",
    }
    for k in range(0, int(onset), 5):
        t = b.t(k + 0.1)
        b.log(t, ll, redis_log(b, t, 914, "M", "*", "10000 changes in 60 seconds. Saving..."))
        b.log(
            t + 0.05,
            ll,
            redis_log(b, t + 0.05, 914, "M", "*", f"Background saving started by pid {30000 + k}"),
        )
        b.log(
            t + 41,
            ll,
            redis_log(b, t + 41, 914, "M", "*", "Background saving terminated with success"),
        )
    t = b.t(onset)
    while t < b.t(60):
        b.log(t, ll, redis_log(b, t, 914, "M", "*", "10000 changes in 60 seconds. Saving..."))
        b.log(
            t + 0.001,
            ll,
            redis_log(
                b,
                t + 0.001,
                914,
                "M",
                "#",
                "Can't save in background: fork: Cannot allocate memory",
            ),
        )
        t += b.rng.uniform(5.0, 6.0)
    return b


def session_redis_evictions() -> Bundle:
    """portal-redis holds both page-fragment caches (with TTL) and login sessions (no
    TTL) under maxmemory-policy allkeys-lru, 6 GB.  From 18:10 a campaign caches large
    per-user fragments: memory reaches maxmemory at 18:14 and Redis evicts ~1,500 keys/s,
    sessions among them.  portal-web pods (Node, pino) log "session not found" and answer
    401 on account pages; users have to log in again.  30 s scrapes.  Root: the
    Redis (memory pressure, evictions); nothing to drain or kill."""
    b = Bundle(
        "session-redis-evictions",
        "2028-07-30T18:00:00Z",
        description="users are logged out at random",
        symptom={"component": "portal-ingress"},
        step=30,
    )
    fill, full = 10.0, 14.0
    evict = lambda m: 0.0 if m < full else 1500 * (0.8 + 0.4 * b.rng.random())  # noqa: E731
    ns = "portal"
    b.component("portal-ingress", "proxy", {"job": "portal-ingress"}, ["portal-web"])
    b.component("portal-web", "app", {"namespace": ns, "container": "web"}, ["portal-redis"])
    b.component("portal-redis", "redis", {"job": "portal-redis"})
    pods = [
        Pod(
            f"10.244.{3 + i}.{66 + 11 * i}:3000",
            f"portal-web-7c9b8d6e5-{s}",
            f"10.244.0.{3 + i}:10250",
        )
        for i, s in enumerate(("qa1zx", "ws2xc", "ed3cv"))
    ]
    routes = [
        Route("GET", "/account/orders", "/account/orders", 0.35, 0.05),
        Route("GET", "/account/profile", "/account/profile", 0.2, 0.03),
        Route("GET", "/campaign/summer", "/campaign/summer", 0.35, 0.08, 60000),
        Route("POST", "/login", "/login", 0.1, 0.12),
    ]
    clients = pick_clients(
        b, client_pool(b, ["2a02:810d:4b3f::", "77.3.112.", "95.91.244.", "178.0.21."], 700)
    )
    logs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and e.path.startswith("/account") and b.rng.random() < 0.31:
            fail(e, 401, b.rng.uniform(0.003, 0.01))
            logs.append(
                (
                    e.t,
                    i,
                    json.dumps(
                        {
                            "level": 40,
                            "time": int(e.t * 1000),
                            "pid": 19,
                            "hostname": "",
                            "msg": "session not found, forcing re-login",
                            "sid": f"s:{b.rng.getrandbits(64):016x}",
                            "store": "redis://10.244.50.9:6379",
                        },
                        separators=(",", ":"),
                    ),
                )
            )

    events = edge(
        b,
        pods=pods,
        routes=routes,
        rate=lambda m: 11.0 if m < fill else 14.0,
        clients=clients,
        outcome=outcome,
        kind="ingress",
        labels={"job": "portal-ingress", "instance": "10.244.0.30:10254"},
        cluster="portal-web-3000",
    )
    base = {"job": "portal-web", "namespace": ns, "container": "web"}
    app_side(b, pods, events, base, namespace=ns, container="web", go=False, mem=lambda m, i: 260e6)
    log_each(b, logs, pods, {"namespace": ns, "container": "web", "stream": "stdout"})
    rl = {"job": "portal-redis", "instance": "10.244.50.9:9121"}
    redis_exporter(
        b,
        rl,
        ops=lambda m: 11000 if m < fill else 15500,
        used=lambda m: min(6.0e9, ramp(m, fill, full, 4.3e9, 6.0e9)) - b.rng.uniform(0, 2e6),
        maxmemory=6e9,
        clients=lambda m: 150,
        evictions=evict,
        hits=lambda m: 9000 if m < fill else (11000 if m < full else 8200),
        misses=lambda m: 400 if m < fill else (1500 if m < full else 4600),
        cpu=lambda m: 0.35 if m < full else 0.62,
    )
    b.gauge("redis_config_maxmemory", rl, lambda m: 6_000_000_000)
    b.gauge(
        "redis_db_keys",
        {**rl, "db": "db0"},
        lambda m: int(ramp(m, fill, full, 2.1e6, 3.4e6) if m < full else 3.4e6 - (m - full) * 900),
    )
    return b
