"""Database, cache and node exporters with the noise they really publish.

Each takes functions of the minute ``m`` for the signals a scenario bends; the rest
follows load with jitter.  Names and types are those of mysqld_exporter (generic
``SHOW GLOBAL STATUS`` values are untyped), postgres_exporter, redis_exporter and
node_exporter.
"""

from __future__ import annotations

from collections.abc import Callable

from examples.incidents.holdout3.kit import Bundle

F = Callable[[float], float]


def const(v: float) -> F:
    return lambda m: v


C_0_0 = const(0.0)
C_0_01 = const(0.01)
C_0_02 = const(0.02)
C_0_04 = const(0.04)
C_0_1 = const(0.1)
C_1_0 = const(1.0)


def mysqld_exporter(
    b: Bundle,
    labels: dict[str, str],
    *,
    qps: F,
    connected: F,
    running: F,
    lock_waits: F = C_0_02,
    current_waits: F = C_0_0,
    slow: F = C_0_0,
    deadlocks: F = C_0_0,
    sleeping: F | None = None,
    updating: F = C_0_0,
    sending: F = C_0_0,
    tmp_disk: F = C_0_1,
    max_connections: int = 500,
    aborted_connects: F = C_0_0,
    up: Callable[[float], bool] | None = None,
    version: str = "8.0.36",
    scan_rows: F | None = None,
) -> None:
    rng = b.rng

    def alive(fn: F) -> Callable[[float], float | None]:
        return lambda m: fn(m) if up is None or up(m) else None

    b.gauge(
        "mysql_up",
        labels,
        lambda m: 1 if up is None or up(m) else 0,
        "Whether the MySQL server is up.",
    )
    b.gauge(
        "mysql_version_info",
        {
            **labels,
            "version": version,
            "innodb_version": version,
            "version_comment": "MySQL Community Server - GPL",
        },
        lambda m: 1,
    )
    b.gauge("mysql_global_variables_max_connections", labels, alive(const(max_connections)))
    b.gauge("mysql_global_variables_innodb_lock_wait_timeout", labels, alive(const(50)))
    b.gauge("mysql_global_variables_innodb_buffer_pool_size", labels, alive(const(25769803776)))
    b.untyped("mysql_global_status_questions", labels, alive(qps), start=9_812_334_101)
    b.untyped(
        "mysql_global_status_queries", labels, alive(lambda m: qps(m) * 1.02), start=9_911_004_877
    )
    b.untyped("mysql_global_status_slow_queries", labels, alive(slow), start=2_118)
    b.untyped("mysql_global_status_innodb_row_lock_waits", labels, alive(lock_waits), start=48_211)
    b.untyped(
        "mysql_global_status_innodb_row_lock_time",
        labels,
        alive(lambda m: lock_waits(m) * 1000.0 * min(50.0, 0.2 + current_waits(m))),
        start=91_207_771,
    )
    b.gauge(
        "mysql_global_status_innodb_row_lock_current_waits",
        labels,
        alive(lambda m: int(current_waits(m) * rng.uniform(0.9, 1.1))),
    )
    b.untyped("mysql_global_status_innodb_deadlocks", labels, alive(deadlocks), start=17)
    b.gauge(
        "mysql_global_status_threads_connected",
        labels,
        alive(lambda m: int(connected(m) + rng.randint(-2, 2))),
    )
    b.gauge(
        "mysql_global_status_threads_running",
        labels,
        alive(lambda m: max(1, int(running(m) * rng.uniform(0.85, 1.15)))),
    )
    b.gauge(
        "mysql_global_status_max_used_connections",
        labels,
        alive(lambda m: max(connected(x / 4) for x in range(int(m * 4) + 1)) + 6),
    )
    b.untyped("mysql_global_status_aborted_connects", labels, alive(aborted_connects), start=311)
    b.untyped("mysql_global_status_aborted_clients", labels, alive(const(0.003)), start=1_460)
    b.untyped("mysql_global_status_created_tmp_disk_tables", labels, alive(tmp_disk), start=88_910)
    b.untyped(
        "mysql_global_status_innodb_buffer_pool_read_requests",
        labels,
        alive(lambda m: qps(m) * 38 + (scan_rows(m) if scan_rows else 0)),
        start=81_723_004_411,
    )
    b.untyped(
        "mysql_global_status_innodb_buffer_pool_reads",
        labels,
        alive(lambda m: qps(m) * 0.01 + (scan_rows(m) / 90 if scan_rows else 0)),
        start=4_119_880,
    )
    for state, share in (("data", 0.91), ("free", 0.004), ("misc", 0.02)):
        b.gauge(
            "mysql_global_status_buffer_pool_pages",
            {**labels, "state": state},
            alive(
                lambda m, share=share, state=state: int(
                    1_572_864 * share * rng.uniform(0.998, 1.0)
                    + qps(m) * (0.4 if state == "data" else 0)
                )
            ),
        )
    b.gauge(
        "mysql_global_status_buffer_pool_dirty_pages",
        labels,
        alive(lambda m: int(qps(m) * 9 * rng.uniform(0.8, 1.2))),
    )
    for command, share in (
        ("select", 0.71),
        ("update", 0.12),
        ("insert", 0.07),
        ("commit", 0.08),
        ("delete", 0.02),
    ):
        b.counter(
            "mysql_global_status_commands_total",
            {**labels, "command": command},
            alive(lambda m, share=share: qps(m) * share),
            start=int(9e8 * share),
        )
    sleep_fn = sleeping or (lambda m: connected(m) - running(m))
    procs = {
        ("Sleep", ""): sleep_fn,
        ("Query", "executing"): lambda m: running(m) * 0.5,
        ("Query", "updating"): updating,
        ("Query", "Sending data"): sending,
        ("Binlog Dump GTID", "Source has sent all binlog to replica"): const(1),
    }
    for (command, state), fn in procs.items():
        b.gauge(
            "mysql_info_schema_processlist_threads",
            {**labels, "command": command, "state": state},
            alive(lambda m, fn=fn: max(0, int(fn(m) + rng.randint(0, 1)))),
        )
    for collector in (
        "global_status",
        "global_variables",
        "info_schema.processlist",
        "info_schema.innodb_metrics",
        "slave_status",
    ):
        b.gauge(
            "mysql_exporter_collector_duration_seconds",
            {**labels, "collector": collector},
            lambda m: round(rng.uniform(0.002, 0.03), 4),
        )
    b.gauge("mysql_exporter_last_scrape_error", labels, lambda m: 0)
    b.counter("mysql_exporter_scrapes_total", labels, lambda m: 1.0 / b.step, start=88_012)
    b.runtime(labels, cpu=lambda m: 0.02, rss=lambda m: 24e6)


def postgres_exporter(
    b: Bundle,
    labels: dict[str, str],
    *,
    tps: F,
    active: F,
    idle: F,
    idle_in_tx: F = C_1_0,
    waiting: F = C_0_0,
    max_connections: int = 200,
    replica_lag: F | None = None,
    deadlocks: F = C_0_0,
    datname: str = "app",
    up: Callable[[float], bool] | None = None,
    conflicts: F = C_0_0,
) -> None:
    rng = b.rng
    db = {**labels, "datname": datname}
    b.gauge(
        "pg_up",
        labels,
        lambda m: 1 if up is None or up(m) else 0,
        "Whether the last scrape of metrics from PostgreSQL was able to connect.",
    )
    b.gauge("pg_settings_max_connections", labels, lambda m: max_connections)
    b.gauge("pg_settings_superuser_reserved_connections", labels, lambda m: 3)
    b.counter(
        "pg_stat_database_xact_commit",
        db,
        tps,
        start=2_331_908_112,
        help_text="Number of transactions in this database that have been committed",
    )
    b.counter("pg_stat_database_xact_rollback", db, lambda m: tps(m) * 0.002, start=1_200_331)
    b.counter("pg_stat_database_deadlocks", db, deadlocks, start=4)
    b.counter("pg_stat_database_conflicts", db, conflicts, start=0)
    b.counter("pg_stat_database_blks_hit", db, lambda m: tps(m) * 210, start=9.1e11)
    b.counter("pg_stat_database_blks_read", db, lambda m: tps(m) * 0.7, start=3.3e9)
    b.counter("pg_stat_database_tup_fetched", db, lambda m: tps(m) * 40, start=1.4e11)
    b.gauge("pg_stat_database_numbackends", db, lambda m: int(active(m) + idle(m) + idle_in_tx(m)))
    for state, fn in (
        ("active", active),
        ("idle", idle),
        ("idle in transaction", idle_in_tx),
        ("idle in transaction (aborted)", const(0.0)),
        ("fastpath function call", const(0.0)),
    ):
        b.gauge(
            "pg_stat_activity_count",
            {**db, "state": state, "usename": "app"},
            lambda m, fn=fn: max(0, int(fn(m) + rng.choice((0, 0, 1)))),
        )
    b.gauge(
        "pg_stat_activity_max_tx_duration",
        {**db, "state": "active", "usename": "app"},
        lambda m: round(rng.uniform(0.05, 0.9) + waiting(m) * 0.8, 3),
    )
    b.gauge("pg_locks_count", {**db, "mode": "exclusivelock"}, lambda m: int(waiting(m)) + 2)
    b.gauge(
        "pg_locks_count",
        {**db, "mode": "accessexclusivelock"},
        lambda m: 1 if waiting(m) > 5 else 0,
    )
    b.gauge(
        "pg_locks_count",
        {**db, "mode": "rowexclusivelock"},
        lambda m: int(active(m) * 1.5 + waiting(m)),
    )
    if replica_lag is not None:
        b.gauge("pg_replication_lag_seconds", labels, lambda m: round(replica_lag(m), 3))
        b.gauge("pg_replication_is_replica", labels, lambda m: 1)
    b.gauge(
        "pg_exporter_last_scrape_duration_seconds",
        labels,
        lambda m: round(rng.uniform(0.01, 0.06), 4),
    )
    b.counter("pg_exporter_scrapes_total", labels, lambda m: 1.0 / b.step, start=301_448)
    b.gauge("pg_exporter_last_scrape_error", labels, lambda m: 0)
    b.runtime(labels, cpu=lambda m: 0.015, rss=lambda m: 19e6)


def redis_exporter(
    b: Bundle,
    labels: dict[str, str],
    *,
    ops: F,
    used: F,
    maxmemory: float,
    clients: F,
    evictions: F = C_0_0,
    hits: F | None = None,
    misses: F | None = None,
    slowlog: F = C_0_0,
    blocked: F = C_0_0,
    role: Callable[[float], str] = lambda m: "master",
    up: Callable[[float], bool] | None = None,
    cmd_usec: dict[str, F] | None = None,
    rejected: F = C_0_0,
    cpu: F = C_0_04,
    expired: F | None = None,
) -> None:
    rng = b.rng

    def alive(fn: Callable[[float], float | None]) -> Callable[[float], float | None]:
        return lambda m: fn(m) if up is None or up(m) else None

    b.gauge("redis_up", labels, lambda m: 1 if up is None or up(m) else 0)
    b.counter("redis_commands_processed_total", labels, alive(ops), start=77_120_004_551)
    b.counter(
        "redis_keyspace_hits_total",
        labels,
        alive(hits or (lambda m: ops(m) * 0.55)),
        start=31_000_442_120,
    )
    b.counter(
        "redis_keyspace_misses_total",
        labels,
        alive(misses or (lambda m: ops(m) * 0.03)),
        start=1_930_884_002,
    )
    b.counter("redis_evicted_keys_total", labels, alive(evictions), start=0)
    b.counter(
        "redis_expired_keys_total",
        labels,
        alive(expired or (lambda m: ops(m) * 0.01)),
        start=811_220_433,
    )
    b.counter("redis_rejected_connections_total", labels, alive(rejected), start=0)
    b.counter(
        "redis_cpu_sys_seconds_total",
        labels,
        alive(lambda m: cpu(m) * 0.3),
        integer=False,
        start=88_211.4,
    )
    b.counter(
        "redis_cpu_user_seconds_total",
        labels,
        alive(lambda m: cpu(m) * 0.7),
        integer=False,
        start=201_877.2,
    )
    b.gauge("redis_memory_used_bytes", labels, alive(lambda m: int(used(m))))
    b.gauge("redis_memory_max_bytes", labels, alive(lambda m: int(maxmemory)))
    b.gauge("redis_connected_clients", labels, alive(lambda m: int(clients(m))))
    b.gauge("redis_blocked_clients", labels, alive(lambda m: int(blocked(m))))
    b.gauge("redis_slowlog_length", labels, alive(lambda m: int(slowlog(m))))
    b.gauge(
        "redis_instance_info",
        {
            **labels,
            "redis_version": "7.2.5",
            "redis_mode": "standalone",
            "os": "Linux 6.1.0 x86_64",
        },
        alive(lambda m: 1),
    )
    b.gauge("redis_connected_slaves", labels, alive(lambda m: 1 if role(m) == "master" else 0))
    b.gauge(
        "redis_master_repl_offset",
        labels,
        alive(lambda m: int(8_812_004_113 + m * 60 * ops(m) * 40)),
    )
    for r in ("master", "slave"):
        b.gauge(
            "redis_instance_role",
            {**labels, "role": r},
            alive(lambda m, r=r: 1 if role(m) == r else None),
        )
    for cmd, fn in (cmd_usec or {}).items():
        b.counter(
            "redis_commands_duration_seconds_total",
            {**labels, "cmd": cmd},
            alive(fn),
            integer=False,
            start=40_112.7,
        )
    b.gauge(
        "redis_exporter_last_scrape_duration_seconds",
        labels,
        lambda m: round(rng.uniform(0.003, 0.02), 4),
    )
    b.counter("redis_exporter_scrapes_total", labels, lambda m: 1.0 / b.step, start=190_223)
    b.gauge("redis_exporter_last_scrape_error", labels, lambda m: 0)
    b.runtime(labels, cpu=lambda m: 0.01, rss=lambda m: 14e6)


def node_exporter(
    b: Bundle,
    labels: dict[str, str],
    *,
    busy: F,
    avail: F,
    mem_total: float = 64e9,
    fs_avail: F | None = None,
    fs_size: float = 200e9,
    steal: F = C_0_0,
    iowait: F = C_0_01,
    cores: int = 8,
) -> None:
    rng = b.rng
    for cpu in range(cores):
        cl = {**labels, "cpu": str(cpu)}
        b.counter(
            "node_cpu_seconds_total",
            {**cl, "mode": "user"},
            lambda m: busy(m) * 0.8,
            integer=False,
            start=1.2e6,
        )
        b.counter(
            "node_cpu_seconds_total",
            {**cl, "mode": "system"},
            lambda m: busy(m) * 0.2,
            integer=False,
            start=3.1e5,
        )
        b.counter(
            "node_cpu_seconds_total", {**cl, "mode": "iowait"}, iowait, integer=False, start=2.2e4
        )
        b.counter(
            "node_cpu_seconds_total", {**cl, "mode": "steal"}, steal, integer=False, start=1.8e3
        )
        b.counter(
            "node_cpu_seconds_total",
            {**cl, "mode": "idle"},
            lambda m: max(0.0, 1 - busy(m) - steal(m) - iowait(m)),
            integer=False,
            start=9.9e6,
        )
    b.gauge("node_memory_MemTotal_bytes", labels, lambda m: int(mem_total))
    b.gauge(
        "node_memory_MemAvailable_bytes",
        labels,
        lambda m: int(avail(m) * rng.uniform(0.995, 1.005)),
    )
    b.gauge("node_load1", labels, lambda m: round(busy(m) * cores * rng.uniform(0.8, 1.2), 2))
    fs = {**labels, "device": "/dev/nvme0n1p1", "fstype": "ext4", "mountpoint": "/"}
    b.gauge("node_filesystem_size_bytes", fs, lambda m: int(fs_size))
    b.gauge(
        "node_filesystem_avail_bytes",
        fs,
        lambda m: int(fs_avail(m) if fs_avail else fs_size * 0.58),
    )
    b.counter(
        "node_network_receive_bytes_total",
        {**labels, "device": "ens5"},
        lambda m: 2.1e6 * (0.5 + busy(m)),
        start=9.8e12,
    )
    b.gauge(
        "node_scrape_collector_duration_seconds",
        {**labels, "collector": "filesystem"},
        lambda m: round(rng.uniform(0.0005, 0.004), 5),
    )
