"""PostgreSQL scenarios: slots exhausted, a lock queue behind a migration, a lagging replica."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import const, postgres_exporter
from examples.incidents.holdout3.kit import (
    Bundle,
    Event,
    client_pool,
    envoy_line,
    ingress_line,
    nginx_line,
    pick_clients,
    ramp,
)
from examples.incidents.holdout3.stack import (
    Pod,
    Route,
    app_red,
    cadvisor,
    envoy_exporter,
    fail,
    ingress_metrics,
    nginx_exporter,
    serve,
)


def _pg_stamp(b: Bundle, t: float) -> str:
    return b.dt(t).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC"


def tickets_pg_too_many_clients() -> Bundle:
    """From 16:12 a ticket-archiver cron (10.120.9.4, not in the topology) leaks one
    'idle in transaction' session per batch; by 16:24 they hold 175 of 200 slots and
    PostgreSQL refuses new connections ("sorry, too many clients already", "remaining
    connection slots are reserved").  All four tickets-api pods fail to connect alike."""
    b = Bundle(
        "tickets-pg-too-many-clients",
        "2027-05-06T16:00:00Z",
        description="helpdesk API returns 500 on most calls",
        symptom={"component": "tickets-envoy"},
    )
    onset, full = 12.0, 24.0
    ns = "helpdesk"
    b.component("tickets-envoy", "proxy", {"job": "tickets-envoy"}, ["tickets-api"])
    b.component("tickets-api", "app", {"namespace": ns, "app": "tickets-api"}, ["tickets-pg"])
    b.component("tickets-pg", "other", {"cluster": "tickets-pg"})
    pods = [
        Pod(f"10.120.5.{60 + i}:8000", f"tickets-api-66f8d7c9b-{s}", f"10.120.1.{20 + i}:10250")
        for i, s in enumerate(("pq7rs", "tv2wx", "yz3ab", "cd4ef"))
    ]
    routes = [
        Route("GET", "/api/tickets/{n}", "/api/tickets/<id>", 0.6, 0.025),
        Route("POST", "/api/tickets/{n}/comments", "/api/tickets/<id>/comments", 0.25, 0.06),
        Route("GET", "/api/queues", "/api/queues", 0.15, 0.04),
    ]
    clients = pick_clients(b, client_pool(b, ["10.120.64.", "10.120.65."], 90))
    errs: list[tuple[float, int, str]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if m >= full and b.rng.random() < 0.71:
            fail(e, 500, b.rng.uniform(0.004, 0.02))
            errs.append((e.t, i, b.rng.choice(("sorry", "sorry", "reserved"))))

    events = serve(
        b,
        rate=lambda m: 6.5,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("helpdesk-web/3.4", "okhttp/4.12.0"),
    )
    env = {"job": "tickets-envoy", "instance": "10.120.0.8:9901"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "tickets-envoy", "instance": "10.120.0.8:9901"},
            envoy_line(b, e, "tickets.internal"),
        )
    envoy_exporter(b, env, "tickets-api", events)
    base = {"namespace": ns, "app": "tickets-api", "job": "tickets-api"}
    app_red(b, pods, events, base)
    for t, i, kind in errs:
        why = (
            "FATAL:  sorry, too many clients already"
            if kind == "sorry"
            else "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
        )
        b.log(
            t,
            {"namespace": ns, "app": "tickets-api", "pod": pods[i].pod},
            f'{{"timestamp": "{b.dt(t).isoformat()}", "level": "error", "logger": "sqlalchemy.pool.impl.QueuePool", '
            f'"event": "Exception during reset or similar", "exception": "sqlalchemy.exc.OperationalError: '
            f'(psycopg2.OperationalError) connection to server at \\"10.120.3.15\\", port 5432 failed: {why}\\n"}}',
        )
    for pod in pods:
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.3,
            rss=lambda m: 210e6,
            go=False,
        )
    cadvisor(b, pods, ns, "tickets-api", cpu=lambda m, i: 0.3, mem=lambda m, i: 230e6)
    pg = {"cluster": "tickets-pg", "job": "postgres-exporter", "instance": "10.120.3.15:9187"}
    leaked = lambda m: ramp(m, onset, full, 0, 175)  # noqa: E731
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 260 if m < full else 90,
        datname="tickets",
        active=lambda m: 6,
        idle=lambda m: 18 if m < full else 19,
        idle_in_tx=lambda m: 1 + leaked(m),
        max_connections=200,
    )
    logs = {"cluster": "tickets-pg", "instance": "10.120.3.15:5432", "container": "postgres"}
    for t in b.arrivals(lambda m: 3.0 if m >= full else 0.0, full):
        fatal = (
            "FATAL:  sorry, too many clients already"
            if b.rng.random() < 0.7
            else "FATAL:  remaining connection slots are reserved for non-replication superuser connections"
        )
        b.log(t, logs, f"{_pg_stamp(b, t)} [{b.rng.randint(30000, 60000)}] tickets@tickets {fatal}")
    for t in b.arrivals(lambda m: 0.25 if onset <= m else 0.0, onset):
        b.log(
            t,
            logs,
            f"{_pg_stamp(b, t)} [{b.rng.randint(30000, 60000)}] archiver@tickets LOG:  "
            "connection authorized: user=archiver database=tickets application_name=ticket-archiver",
        )
    return b


def orders_pg_replica_lag() -> Bundle:
    """An analyst's 40-minute REPEATABLE READ query on the read replica, with
    max_standby_streaming_delay = -1, stops WAL replay from 11:09 (recovery conflict on
    snapshot).  Lag climbs linearly to ~51 min.  reports-api serves stale dashboards;
    its /live endpoint refuses data older than 5 min (503) and other reads fall back to
    the primary (slower).  The primary is healthy; nothing to drain or kill."""
    b = Bundle(
        "orders-pg-replica-lag",
        "2027-05-27T11:00:00Z",
        step=30,
        description="dashboards show stale numbers; /api/reports/live returns 503",
        symptom={"component": "reports-ui", "route": "/api/reports/live"},
    )
    onset = 9.0
    b.component("reports-ui", "proxy", {"job": "reports-ui"}, ["reports-api"])
    b.component(
        "reports-api", "app", {"job": "reports-api"}, ["orders-pg-primary", "orders-pg-replica"]
    )
    b.component("orders-pg-primary", "other", {"job": "orders-pg", "role": "primary"})
    b.component("orders-pg-replica", "other", {"job": "orders-pg", "role": "replica"})
    vms = [Pod(f"172.16.90.{11 + i}:8443") for i in range(3)]
    routes = [
        Route("GET", "/api/reports/live", "/api/reports/live", 0.3, 0.08),
        Route("GET", "/api/reports/daily", "/api/reports/daily", 0.5, 0.2),
        Route("GET", "/api/orders/{n}", "/api/orders/:id", 0.2, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["172.16.200.", "172.16.201."], 70))
    lag = lambda m: 0.2 + max(0.0, (m - onset) * 60.0)  # noqa: E731
    warns: list[tuple[float, int, float]] = []

    def outcome(e: Event, m: float, i: int) -> None:
        if lag(m) > 300:
            if e.extra["route"].endswith("live"):
                fail(e, 503, b.rng.uniform(0.01, 0.03), size=96)
                warns.append((e.t, i, lag(m)))
            elif e.extra["route"].endswith("daily"):
                e.duration = e.extra["app_dur"] = e.duration * 1.7

    events = serve(
        b,
        rate=lambda m: 3.0,
        clients=clients,
        routes=routes,
        pods=vms,
        outcome=outcome,
        agents=USER_AGENTS_DASH,
    )
    edge = {"job": "reports-ui", "instance": "172.16.90.5:9113"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "reports-ui", "instance": "172.16.90.5:9113"},
            nginx_line(b, e),
        )
    nginx_exporter(b, edge, events, lambda m: 40)
    app_red(b, vms, events, {"job": "reports-api"})
    for t, i, lg in warns:
        b.log(
            t,
            {"job": "reports-api", "instance": vms[i].addr},
            f'time={b.dt(t).strftime("%Y-%m-%dT%H:%M:%S.%fZ")} level=WARN msg="replica too stale for live view" '
            f"replica=172.16.91.22:5432 lag_seconds={lg:.0f} max_lag_seconds=300 status=503",
        )
    for vm in vms:
        b.runtime(
            {"job": "reports-api", "instance": vm.addr}, cpu=lambda m: 0.2, rss=lambda m: 88e6
        )
    prim = {"job": "orders-pg", "role": "primary", "instance": "172.16.91.21:9187"}
    postgres_exporter(
        b,
        prim,
        tps=lambda m: 400 + (30 if m > onset + 5 else 0),
        datname="orders",
        active=lambda m: 7,
        idle=lambda m: 40,
    )
    b.gauge(
        "pg_stat_replication_pg_wal_lsn_diff",
        {
            **prim,
            "application_name": "orders-replica-1",
            "client_addr": "172.16.91.22",
            "state": "streaming",
        },
        lambda m: int(2e5 + max(0.0, m - onset) * 60 * 2.2e6),
    )
    rep = {"job": "orders-pg", "role": "replica", "instance": "172.16.91.22:9187"}
    postgres_exporter(
        b,
        rep,
        tps=lambda m: 35,
        datname="orders",
        active=lambda m: 3,
        idle=lambda m: 12,
        replica_lag=lag,
        conflicts=const(0.0),
    )
    logs = {"job": "orders-pg", "role": "replica", "instance": "172.16.91.22:5432"}
    t = b.t(onset - 1.1)
    b.log(
        t,
        logs,
        f"{_pg_stamp(b, t)} [66120] analyst@orders LOG:  statement: BEGIN ISOLATION LEVEL REPEATABLE READ;",
    )
    for k in range(0, 51, 5):
        t = b.t(onset + k + 0.02)
        b.log(
            t,
            logs,
            f"{_pg_stamp(b, t)} [412] LOG:  recovery still waiting after {k * 60000 + 1000.211:.3f} ms: "
            "recovery conflict on snapshot\n"
            f"{_pg_stamp(b, t)} [412] DETAIL:  Conflicting process: 66120.\n"
            f"{_pg_stamp(b, t)} [412] CONTEXT:  WAL redo at 3A/9F0012C8 for Heap2/PRUNE: "
            "snapshotConflictHorizon: 88172331, nredirected: 0, ndead: 14; blkref #0: rel 1663/16402/17811, blk 90211",
        )
    return b


USER_AGENTS_DASH = (
    "Grafana/10.4.2",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
)


def billing_pg_migration_lock_queue() -> Bundle:
    """At 07:20:05 a deploy's migration ``ALTER TABLE invoices ADD COLUMN`` asks for an
    ACCESS EXCLUSIVE lock, but a BI session has held ACCESS SHARE since 06:58.  Every
    later query on invoices queues behind the ALTER; invoice-api's statements hit the 25 s
    statement_timeout on all pods alike.  At 07:44 the migration is cancelled and the
    queue drains."""
    b = Bundle(
        "billing-pg-migration-lock-queue",
        "2027-06-15T07:00:00Z",
        description="billing API timeouts on everything that touches invoices",
        symptom={"component": "billing-gw"},
    )
    onset, cancel = 20 + 5 / 60, 44.0
    ns = "billing"
    b.component("billing-gw", "proxy", {"job": "billing-gw"}, ["invoice-api"])
    b.component("invoice-api", "app", {"namespace": ns, "container": "puma"}, ["billing-pg"])
    b.component("billing-pg", "other", {"job": "billing-pg"})
    pods = [
        Pod(f"10.9.14.{100 + i}:3000", f"invoice-api-7c5d4b8f9-{s}", f"10.9.2.{3 + i}:10250")
        for i, s in enumerate(("h4kzq", "m9vwp", "r2tgx"))
    ]
    routes = [
        Route("GET", "/invoices/{n}", "/invoices/:id", 0.55, 0.03),
        Route("POST", "/invoices", "/invoices", 0.2, 0.08),
        Route("GET", "/customers/{n}", "/customers/:id", 0.25, 0.02),
    ]
    clients = pick_clients(b, client_pool(b, ["10.9.40.", "10.9.41."], 50))
    errs: list[tuple[float, int]] = []
    stuck = lambda m: onset <= m < cancel  # noqa: E731

    def outcome(e: Event, m: float, i: int) -> None:
        if stuck(m) and "invoices" in e.path:
            fail(e, 500, 25.0 + b.rng.uniform(0.01, 0.2))
            errs.append((e.t + e.duration, i))

    events = serve(
        b,
        rate=lambda m: 5.0,
        clients=clients,
        routes=routes,
        pods=pods,
        outcome=outcome,
        agents=("billing-frontend/8.2", "Stripe/1.0 (+https://stripe.com/docs/webhooks)"),
    )
    gw = {"job": "billing-gw", "instance": "10.9.0.30:10254"}
    for e in events:
        b.log(
            e.t + e.duration,
            {"job": "billing-gw", "instance": "10.9.0.30:10254"},
            ingress_line(b, e, "billing-invoice-api-3000"),
        )
    ingress_metrics(b, gw, events)
    base = {"namespace": ns, "container": "puma", "job": "invoice-api"}
    app_red(
        b,
        pods,
        events,
        base,
        counter="ruby_http_requests_total",
        histogram="ruby_http_request_duration_seconds",
    )
    for t, i in errs:
        b.log(
            t,
            {"namespace": ns, "container": "puma", "pod": pods[i].pod},
            f"E, [{b.dt(t).strftime('%Y-%m-%dT%H:%M:%S.%f')} #1] ERROR -- : [{b.rng.getrandbits(64):016x}] "
            "ActiveRecord::QueryCanceled (PG::QueryCanceled: ERROR:  canceling statement due to statement timeout\n"
            "):\n  app/models/invoice.rb:88:in `open_for_customer'",
        )
    for pod in pods:
        b.gauge("puma_running", {**base, "instance": pod.addr, "pod": pod.pod}, lambda m: 16)
        b.gauge(
            "puma_pool_capacity",
            {**base, "instance": pod.addr, "pod": pod.pod},
            lambda m: 1 if stuck(m) else 14 + b.rng.randint(0, 2),
        )
        b.runtime(
            {**base, "instance": pod.addr, "pod": pod.pod},
            cpu=lambda m: 0.25,
            rss=lambda m: 420e6,
            go=False,
        )
    pg = {"job": "billing-pg", "instance": "10.9.20.4:9187"}
    postgres_exporter(
        b,
        pg,
        tps=lambda m: 80 if stuck(m) else 310,
        datname="billing",
        active=lambda m: 4 + (52 if stuck(m) else 0),
        idle=lambda m: 30,
        waiting=lambda m: ramp(m, onset, onset + 1, 0, 50) if stuck(m) else 0,
    )
    logs = {"job": "billing-pg", "instance": "10.9.20.4:5432"}
    t = b.t(onset)
    b.log(
        t,
        logs,
        f"{_pg_stamp(b, t)} [41122] migrator@billing LOG:  statement: ALTER TABLE invoices ADD COLUMN tax_region text;",
    )
    queue = [41122]
    for k, t in enumerate(b.arrivals(lambda m: 0.4 if stuck(m) else 0.0, onset)):
        pid = 41122 if k == 0 else 41200 + k
        queue.append(pid)
        mode = "AccessExclusiveLock" if k == 0 else "AccessShareLock"
        wq = ", ".join(str(p) for p in queue[:12])
        b.log(
            t + 1,
            logs,
            f"{_pg_stamp(b, t + 1)} [{pid}] {'migrator' if k == 0 else 'billing'}@billing LOG:  "
            f"process {pid} still waiting for {mode} on relation 16433 of database 16384 after 1000.0{k % 10:02d} ms\n"
            f"{_pg_stamp(b, t + 1)} [{pid}] DETAIL:  Process holding the lock: 38801. Wait queue: {wq}.",
        )
    t = b.t(cancel)
    b.log(
        t,
        logs,
        f"{_pg_stamp(b, t)} [41122] migrator@billing ERROR:  canceling statement due to user request\n"
        f"{_pg_stamp(b, t)} [41122] migrator@billing STATEMENT:  ALTER TABLE invoices ADD COLUMN tax_region text;",
    )
    return b
