# size: scenario builders are long linear scripts, one story each (as in rounds 3-7)
"""Data stores: PgBouncer's pool shrunk by a config push, one MySQL read replica on a
failing disk, a Redis Cluster slot migration blocking its source shard on a big key, and
a MySQL server certificate that expires at midnight."""

from __future__ import annotations

from examples.incidents.holdout3.exporters import (
    mysqld_exporter,
    node_exporter,
    postgres_exporter,
    redis_exporter,
)
from examples.incidents.holdout3.kit import Bundle, Event, lognormal
from examples.incidents.holdout3.stack import fail
from examples.incidents.holdout4.common import (
    logfmt,
    mysql8_err,
    mysql_replica_status,
    mysql_slow,
    nginx_json_line,
    zap,
)
from examples.incidents.holdout5.common import within
from examples.incidents.holdout6.common import (
    Pod,
    Route,
    every,
    haproxy_exporter,
    haproxy_line,
    web,
)
from examples.incidents.holdout8.common import node_disk, per, per2


def _pgb_log(b: Bundle, t: float, level: str, msg: str) -> str:
    d = b.dt(t)
    return f"{d.strftime('%Y-%m-%d %H:%M:%S')}.{int(t * 1000) % 1000:03d} UTC [1] {level} {msg}"


def ledger_pgbouncer_pool_size() -> Bundle:  # size: one linear scenario script
    """At 11:12 a templating change to the PgBouncer config is pushed and reloaded: the
    ``ledger`` database line gets ``pool_size=8`` (meant for the reporting database) instead
    of 60.  ledger-api (Go, pgx, transaction pooling) holds a transaction ~0.45 s per
    posting at ~25 req/s, so ~11 server connections are needed: clients queue in PgBouncer
    (cl_waiting 0 -> ~150, maxwait up to 15 s) and ~30 % of requests fail after 15 s with
    "query_wait_timeout" while the rest are slow, on every pod alike.  PostgreSQL itself is
    quieter than before (8 active backends).  Root: ledger-pgbouncer (its pool too small);
    restore the pool size.  Sources: PgBouncer docs "Configuration" (``pool_size``,
    ``default_pool_size``, ``query_wait_timeout``) and "Usage: SHOW POOLS" (cl_waiting,
    maxwait); prometheus-community/pgbouncer_exporter."""
    b = Bundle(
        "ledger-pgbouncer-pool-size",
        "2035-03-04T11:00:00Z",
        description="ledger postings slow and failing since 11:12",
        symptom={"component": "ledger-edge", "route": "/v1/postings"},
        step=20,
        minutes=45,
    )
    rng = b.rng
    push = 12.0
    small = within(push, 99)
    b.component("ledger-edge", "proxy", {"job": "ledger-edge"}, ["ledger-api"])
    b.component("ledger-api", "app", {"job": "ledger-api"}, ["ledger-pgbouncer"])
    b.component("ledger-pgbouncer", "other", {"job": "ledger-pgbouncer"}, ["ledger-pg"])
    b.component("ledger-pg", "other", {"job": "ledger-pg"})
    pods = [
        Pod(f"172.22.3.{14 + i}:8080", f"ledger-api-5f6c-{s}")
        for i, s in enumerate(("k2", "m8", "t4"))
    ]
    routes = [
        Route("POST", "/v1/postings", "/v1/postings", 0.6, 0.45, 300),
        Route("GET", "/v1/accounts/{n}/balance", "/v1/accounts/{id}/balance", 0.4, 0.03, 240),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if not small(m):
            return
        if rng.random() < 0.3:
            fail(e, 503, 15.0 + rng.uniform(0.0, 0.2), size=88)
            e.extra["qwt"] = True
        else:
            d = e.duration + rng.uniform(2.0, 14.0)
            e.duration = e.extra["app_dur"] = d

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["172.22.40.", "172.22.41.", "172.22.42."],
        clients=60,
        rate=lambda m: 25.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "ledger-edge", "instance": "172.22.1.4:9113"},
    )
    for e in site.events:
        if e.extra.get("qwt") and rng.random() < 0.6:
            site.say(
                e.t,
                e.extra["pod"],
                logfmt(
                    b,
                    e.t,
                    "error",
                    "request failed",
                    route=e.extra["route"],
                    status=503,
                    err="ERROR: query_wait_timeout (SQLSTATE 08P01)",
                    duration_ms=int(e.duration * 1000),
                ),
            )
    site.apps({"job": "ledger-api"}, {"job": "ledger-api"})
    pg = {"job": "ledger-pgbouncer", "instance": "172.22.5.9:9127"}
    pool = {**pg, "database": "ledger", "user": "ledger_app"}

    def need(m: float) -> float:
        return 11.0 * rng.uniform(0.8, 1.2)

    b.gauge("pgbouncer_up", pg, lambda m: 1)
    b.gauge(
        "pgbouncer_pools_client_active_connections",
        pool,
        lambda m: int(min(need(m), 8) if small(m) else need(m)),
    )
    b.gauge(
        "pgbouncer_pools_client_waiting_connections",
        pool,
        lambda m: int(rng.uniform(120, 180)) if small(m) else rng.randint(0, 1),
    )
    b.gauge(
        "pgbouncer_pools_server_active_connections",
        pool,
        lambda m: 8 if small(m) else int(need(m)),
    )
    b.gauge(
        "pgbouncer_pools_server_idle_connections",
        pool,
        lambda m: 0 if small(m) else int(60 - need(m)),
    )
    b.gauge(
        "pgbouncer_pools_client_maxwait_seconds",
        pool,
        lambda m: round(rng.uniform(12.0, 15.0), 3) if small(m) else 0.0,
    )
    b.gauge(
        "pgbouncer_databases_pool_size",
        {**pg, "name": "ledger"},
        lambda m: 8 if small(m) else 60,
    )
    b.gauge("pgbouncer_databases_pool_size", {**pg, "name": "reporting"}, lambda m: 8)
    b.gauge("pgbouncer_config_max_client_connections", pg, lambda m: 2000)
    b.gauge("pgbouncer_config_max_user_connections", pg, lambda m: 0)
    b.counter(
        "pgbouncer_stats_queries_pooled_total",
        {**pg, "database": "ledger"},
        lambda m: 48.0 if small(m) else 62.0,
        start=8.8e9,
    )
    b.counter(
        "pgbouncer_stats_client_wait_seconds_total",
        {**pg, "database": "ledger"},
        lambda m: 900.0 if small(m) else 0.002,
        start=1.9e5,
        integer=False,
    )
    lg = {"job": "ledger-pgbouncer", "instance": "172.22.5.9:9127"}
    t = b.t(push) + 3.1
    b.log(t, lg, _pgb_log(b, t, "LOG", "RELOAD command issued"))
    for k in range(45):
        t = b.t(k) + 41.0
        wait = rng.uniform(5e6, 9e6) if small(k) else rng.uniform(5, 40)
        b.log(
            t,
            lg,
            _pgb_log(
                b,
                t,
                "LOG",
                f"stats: {rng.randint(17, 19) if small(k) else rng.randint(24, 26)} xacts/s, "
                f"{rng.randint(48, 52) if small(k) else rng.randint(60, 66)} queries/s, "
                f"in {rng.randint(15000, 19000)} B/s, out {rng.randint(90000, 120000)} B/s, "
                f"xact {rng.randint(430000, 470000)} us, query {rng.randint(2100, 2600)} us, "
                f"wait {int(wait)} us",
            ),
        )
    for e in site.events:
        if e.extra.get("qwt") and rng.random() < 0.5:
            port = rng.randint(32768, 60999)
            b.log(
                e.t - 0.01,
                lg,
                _pgb_log(
                    b,
                    e.t - 0.01,
                    "LOG",
                    f"C-0x55d4c8a{rng.randint(0x10000, 0xFFFFF):05x}: ledger/ledger_app@"
                    f"{e.upstream.split(':')[0]}:{port} closing because: query_wait_timeout "
                    "(age=15s)",
                ),
            )
    postgres_exporter(
        b,
        {"job": "ledger-pg", "instance": "172.22.6.2:9187"},
        tps=lambda m: 18.0 if small(m) else 25.0,
        active=lambda m: 8 if small(m) else 11,
        idle=lambda m: 0 if small(m) else 49,
        datname="ledger",
    )
    return b


def catalog_mysql_replica_slow_disk() -> Bundle:  # size: one linear scenario script
    """catalog-api (Go) spreads its reads over two MySQL 8 read replicas.  At 14:12 the
    network volume of replica 10.44.5.22 degrades: await ~250 ms, io time 100 %.  Every
    query on that replica that misses the buffer pool waits for the disk: threads_running
    2 -> 30, primary-key lookups of 1 row take 2-5 s in its slow log, its replication lag
    climbs.  Reads sent to it are slow and ~10 % hit the API's 3 s query timeout (500 on
    every API VM alike); the other replica and the primary are fine.  Root: catalog-replica
    on 10.44.5.22 (slow disk); take it out of the read pool.  Sources: AWS docs "Amazon EBS
    volume performance: I/O characteristics and monitoring" (degraded volumes, high
    queue length and latency); Percona blog "MySQL performance: impact of storage
    latency"; node_exporter diskstats collector."""
    b = Bundle(
        "catalog-mysql-replica-slow-disk",
        "2035-03-21T13:55:00Z",
        description="catalog pages intermittently slow, some errors",
        symptom={"component": "catalog-edge"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    onset = 17.0
    bad = within(onset, 99)
    slow_ip = "10.44.5.22"
    b.component("catalog-edge", "proxy", {"job": "catalog-edge"}, ["catalog-api"])
    b.component(
        "catalog-api", "app", {"job": "catalog-api"}, ["catalog-replica", "catalog-primary"]
    )
    b.component("catalog-replica", "mysql", {"job": "catalog-replica"})
    b.component("catalog-primary", "mysql", {"job": "catalog-primary"})
    vms = [Pod(f"10.44.2.{11 + i}:8080") for i in range(4)]
    routes = [
        Route("GET", "/api/v2/products/{n}", "/api/v2/products/{id}", 0.6, 0.02, 6100),
        Route(
            "GET",
            "/api/v2/categories/{n}/products",
            "/api/v2/categories/{id}/products",
            0.3,
            0.05,
            22000,
        ),
        Route("PUT", "/api/v2/products/{n}/stock", "/api/v2/products/{id}/stock", 0.1, 0.03, 120),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        if e.method != "GET":
            return
        e.extra["replica"] = slow_ip if rng.random() < 0.5 else "10.44.5.21"
        if bad(m) and e.extra["replica"] == slow_ip:
            d = lognormal(b, 1.9, 0.5)
            if d > 3.0:
                fail(e, 500, 3.0 + rng.uniform(0.001, 0.02), size=90)
                e.extra["timeout"] = True
            else:
                e.duration = e.extra["app_dur"] = d

    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["10.44.100.", "10.44.101.", "203.0.113.", "198.51.100."],
        clients=250,
        rate=lambda m: 12.0,
        outcome=outcome,
        kind="nginx",
        edge_labels={"job": "catalog-edge", "instance": "10.44.1.3:9113"},
        fmt=lambda e: nginx_json_line(b, e, "catalog.example.net"),
    )
    for e in site.events:
        if e.extra.get("timeout"):
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "store/products.go:88",
                    "query failed",
                    replica=f"{slow_ip}:3306",
                    error="context deadline exceeded",
                    elapsed="3.001s",
                ),
            )
        elif e.extra.get("replica") == slow_ip and e.duration > 1.0 and rng.random() < 0.2:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "warn",
                    "store/db.go:131",
                    "slow query",
                    replica=f"{slow_ip}:3306",
                    elapsed=f"{e.duration:.3f}s",
                ),
            )
    site.apps({"job": "catalog-api"}, {"job": "catalog-api"})
    for ip, is_bad in (("10.44.5.21", False), (slow_ip, True)):
        db = {"job": "catalog-replica", "instance": f"{ip}:9104"}

        def hurt(m: float, is_bad: bool = is_bad) -> bool:
            return is_bad and bad(m)

        mysqld_exporter(
            b,
            db,
            qps=per(lambda m, h: 160.0 if h(m) else 330.0, hurt),
            connected=per(lambda m, h: 64 if h(m) else 40, hurt),
            running=per(lambda m, h: 30 + rng.randint(-4, 6) if h(m) else 2, hurt),
            slow=per(lambda m, h: 4.0 if h(m) else 0.01, hurt),
            scan_rows=lambda m: 2.2e4,
        )
        mysql_replica_status(
            b,
            db,
            lag=per(lambda m, h: (m - onset) * 9.5 if h(m) else 0, hurt),
            master="10.44.5.10",
        )
        node_disk(
            b,
            {"job": "catalog-replica", "instance": f"{ip}:9100"},
            "nvme1n1",
            util=per(lambda m, h: 1.0 if h(m) else 0.09, hurt),
            latency=per(lambda m, h: 0.25 * rng.uniform(0.8, 1.3) if h(m) else 0.0006, hurt),
            iops=per(lambda m, h: 190.0 if h(m) else 900.0, hurt),
        )
        node_exporter(
            b,
            {"job": "catalog-replica", "instance": f"{ip}:9100"},
            busy=lambda m: 0.12,
            avail=lambda m: 21e9,
            iowait=per(lambda m, h: 0.62 if h(m) else 0.01, hurt),
            cores=8,
        )
    for t in every(b, onset + 0.3, 50, 0.8, 2.4):
        q = rng.uniform(2.0, 5.2)
        pid = rng.randint(10_000, 99_999)
        b.log(
            t,
            {"job": "catalog-replica", "instance": f"{slow_ip}:9104", "log": "slow"},
            mysql_slow(
                b,
                t,
                user="catalog_ro",
                host=f"10.44.2.{rng.randint(11, 14)}",
                thread=rng.randint(10**5, 10**6),
                qt=q,
                lt=0.000011,
                sent=1,
                examined=1,
                sql=f"SELECT id, sku, name, price_cents, stock FROM products WHERE id = {pid}",
                db="catalog",
            ),
        )
    mysqld_exporter(
        b,
        {"job": "catalog-primary", "instance": "10.44.5.10:9104"},
        qps=lambda m: 45.0,
        connected=lambda m: 22,
        running=lambda m: 2,
    )
    return b


def search_redis_cluster_slot_migration() -> Bundle:  # size: one linear scenario script
    """An engineer rebalances search-redis (Redis Cluster, three masters) onto a new node
    with ``redis-cli --cluster rebalance`` at 16:08.  Among the slots leaving master
    10.52.8.12 is one holding ``facets:{catalog}`` hashes of ~3 M fields; each MIGRATE of
    such a key blocks that master 6-14 s.  During each block every search-api request that
    needs a key of that shard times out (go-redis "i/o timeout"), others see "TRYAGAIN" and
    "ASK" redirects.  ~6 % of requests fail on every pod alike, in bursts, for half an
    hour.  The other masters are fine.  Root: search-redis, its master 10.52.8.12 (blocking
    slot migration); stop the rebalance, split the big keys.  Sources: redis/redis issue
    #13122 ("Migrate hashes with million of keys timeout, and causes failover"), #6999
    ("Cluster Resharding with Large Key"), #3396; Redis docs "MIGRATE" (blocking)."""
    b = Bundle(
        "search-redis-cluster-slot-migration",
        "2035-04-11T15:55:00Z",
        description="search failing in bursts since ~16:10",
        symptom={"component": "search-ingress", "route": "/api/search"},
        step=15,
        minutes=50,
    )
    rng = b.rng
    start = 13.0
    blocks: list[tuple[float, float]] = []
    t = b.t(start) + 20
    while t < b.t(45):
        d = rng.uniform(6.0, 14.0)
        blocks.append((t, t + d))
        t += d + rng.uniform(40, 110)
    end = b.m(blocks[-1][1])

    def blocked(tt: float) -> bool:
        return any(s <= tt < e for s, e in blocks)

    ns = "search"
    b.component("search-ingress", "proxy", {"namespace": ns, "app": "ingress"}, ["search-api"])
    b.component("search-api", "app", {"namespace": ns, "app": "search-api"}, ["search-redis"])
    b.component("search-redis", "redis", {"namespace": ns, "app": "search-redis"})
    pods = [
        Pod(f"10.52.{3 + i}.{40 + i * 5}:8080", f"search-api-6b8d9-{s}")
        for i, s in enumerate(("v2tq", "x8ms", "c4jr", "n6pd"))
    ]
    routes = [
        Route("GET", "/api/search?q=item{n}", "/api/search", 0.8, 0.03, 9000),
        Route("GET", "/api/facets/{n}", "/api/facets/{id}", 0.2, 0.01, 3000),
    ]

    def outcome(e: Event, m: float, i: int) -> None:
        start_t = e.t
        if blocked(start_t) and rng.random() < 0.45:
            fail(e, 500, 3.0 + rng.uniform(0, 0.03), size=80)
            e.extra["err"] = "redis: i/o timeout"
        elif start < m < end and rng.random() < 0.02:
            fail(e, 500, rng.uniform(0.005, 0.02), size=80)
            e.extra["err"] = "TRYAGAIN Multiple keys request during rehashing of slot"

    site = web(
        b,
        pods=pods,
        routes=routes,
        prefixes=["100.64.12.", "100.64.13.", "100.64.40.", "100.70.1."],
        clients=380,
        rate=lambda m: 15.0,
        outcome=outcome,
        kind="ingress",
        edge_labels={"namespace": ns, "app": "ingress", "instance": "10.52.0.7:10254"},
        cluster="search-search-api-8080",
    )
    for e in site.events:
        if "err" in e.extra and rng.random() < 0.5:
            site.say(
                e.t,
                e.extra["pod"],
                zap(
                    b,
                    e.t,
                    "error",
                    "search/cache.go:77",
                    "facet lookup failed",
                    addr="10.52.8.12:6379",
                    error=e.extra["err"],
                ),
            )
    site.apps(
        {"namespace": ns, "app": "search-api"},
        {"namespace": ns, "app": "search-api", "container": "search-api"},
    )
    for ip in ("10.52.8.11", "10.52.8.12", "10.52.8.13", "10.52.8.14"):
        rl = {"namespace": ns, "app": "search-redis", "instance": f"{ip}:6379"}
        src = ip == "10.52.8.12"
        fresh = ip == "10.52.8.14"
        redis_exporter(
            b,
            rl,
            ops=per(lambda m, f: 400.0 if f and m > start else 0.0 if f else 5200.0, fresh),
            used=per2(
                lambda m, s, f: (
                    (
                        1.1e9 + max(0.0, m - start) * 2.0e7
                        if f
                        else 9.3e9 - max(0.0, m - start) * 2.0e7
                    )
                    if f or s
                    else 8.8e9
                ),
                src,
                fresh,
            ),
            maxmemory=16e9,
            clients=per(
                lambda m, s: (190 + rng.randint(0, 160)) if s and start < m < end else 180, src
            ),
            slowlog=per(lambda m, s: 0.08 if s and start < m < end else 0.0, src),
            blocked=lambda m: 0,
            cmd_usec={"migrate": (per(lambda m, s: 0.11 if s and start < m < end else 0.0, src))},
        )
        b.gauge("redis_cluster_state", rl, lambda m: 1)
        b.gauge("redis_cluster_slots_fail", rl, lambda m: 0)
        b.gauge("redis_cluster_known_nodes", rl, lambda m: 4 if m > 5 else 3)
        b.gauge(
            "redis_cluster_slots_assigned",
            rl,
            lambda m: 16384,
        )
    return b


def reports_mysql_tls_cert_expired() -> Bundle:  # size: one linear scenario script
    """reports-db (MySQL 8, require_secure_transport) serves a certificate from the internal
    CA valid until 2035-05-01T00:00:00Z; its renewal job failed silently.  reports-api (Go,
    tls=custom with verification) keeps working on pooled connections, but each new
    connection after midnight fails "x509: certificate has expired or is not yet valid";
    as the pool recycles (ConnMaxLifetime 5 min) errors climb to ~90 % of report requests
    on every VM alike, threads_connected falls, aborted connects climb.  Root: reports-db
    (certificate expired); renew it.  Sources: MySQL manual "Configuring MySQL to Use
    Encrypted Connections" and "Connection-Error Types" (Aborted_connects); go-sql-driver
    README ``tls`` parameter; enix x509-certificate-exporter ``x509_cert_not_after``."""
    b = Bundle(
        "reports-mysql-tls-cert-expired",
        "2035-04-30T23:40:00Z",
        description="reports fail since midnight",
        symptom={"component": "reports-lb"},
        step=30,
        minutes=55,
    )
    rng = b.rng
    expiry = 20.0
    b.component("reports-lb", "proxy", {"service": "reports-lb"}, ["reports-api"])
    b.component("reports-api", "app", {"service": "reports-api"}, ["reports-db"])
    b.component("reports-db", "mysql", {"service": "reports-db"})
    vms = [Pod(f"192.168.70.{21 + i}:8000") for i in range(3)]
    names = [f"rep{i + 1}" for i in range(3)]
    routes = [
        Route("GET", "/reports/{n}", "/reports/{id}", 0.7, 0.12, 18000),
        Route("GET", "/reports/{n}/csv", "/reports/{id}/csv", 0.3, 0.4, 90000),
    ]

    def share(m: float) -> float:
        return 0.0 if m < expiry else min(0.9, (m - expiry) / 6.0 * 0.9)

    def outcome(e: Event, m: float, i: int) -> None:
        e.extra["server"] = names[i]
        e.extra["pid"] = 2210
        if rng.random() < share(m):
            fail(e, 500, rng.uniform(0.004, 0.02), size=110)
            e.extra["x509"] = True

    lb = {"service": "reports-lb", "instance": "192.168.70.5:8405"}
    site = web(
        b,
        pods=vms,
        routes=routes,
        prefixes=["192.168.80.", "192.168.81.", "10.200.0."],
        clients=120,
        rate=lambda m: 5.0,
        outcome=outcome,
        kind="haproxy",
        edge_labels=lb,
        stream={"log": "syslog"},
        fmt=lambda e: haproxy_line(b, e, "fe_reports~", "be_reports_api"),
    )
    haproxy_exporter(
        b, lb, "be_reports_api", dict(zip(names, (v.addr for v in vms), strict=True)), site.events
    )
    for e in site.events:
        if e.extra.get("x509") and rng.random() < 0.7:
            now = b.dt(e.t - 0.01).strftime("%Y-%m-%dT%H:%M:%SZ")
            site.say(
                e.t,
                e.extra["pod"],
                logfmt(
                    b,
                    e.t,
                    "error",
                    "query failed",
                    path=e.path,
                    err="tls: failed to verify certificate: x509: certificate has expired or is "
                    f"not yet valid: current time {now} is after 2035-05-01T00:00:00Z",
                ),
            )
    site.apps({"service": "reports-api"}, {"service": "reports-api"})
    db = {"service": "reports-db", "instance": "192.168.70.40:9104"}
    mysqld_exporter(
        b,
        db,
        qps=lambda m: 95.0 * (1 - share(m)) + 5,
        connected=lambda m: int(30 * (1 - share(m))) + 3,
        running=lambda m: 2,
        aborted_connects=lambda m: 0.4 if m >= expiry else 0.0,
    )
    xl = {
        "service": "reports-db",
        "instance": "192.168.70.40:9793",
        "filepath": "/etc/mysql/tls/server-cert.pem",
        "subject_CN": "reports-db.internal",
        "issuer_CN": "Corp Internal CA G2",
        "serial_number": "4127365512093318716",
    }
    b.gauge("x509_cert_not_after", xl, lambda m: int(b.t(expiry)))
    b.gauge("x509_cert_not_before", xl, lambda m: int(b.t(expiry)) - 90 * 86400)
    b.gauge("x509_cert_expired", xl, lambda m: 1 if m >= expiry else 0)
    b.gauge(
        "x509_read_errors", {"service": "reports-db", "instance": "192.168.70.40:9793"}, lambda m: 0
    )
    el = {"service": "reports-db", "instance": "192.168.70.40:9104", "log": "error"}
    for t in every(b, expiry, 55, 1.0, 4.0):
        b.log(
            t,
            el,
            mysql8_err(
                b,
                t,
                rng.randint(80_000, 99_000),
                "Note",
                "MY-010914",
                f"Aborted connection {rng.randint(80_000, 99_000)} to db: 'unconnected' user: "
                f"'unauthenticated' host: '192.168.70.{rng.randint(21, 23)}' "
                "(Got an error reading communication packets).",
            ),
        )
    return b
