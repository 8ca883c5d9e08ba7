"""Failure modes of databases, caches and queues: MySQL/MariaDB, PostgreSQL, Redis, RabbitMQ.

Pure data (see ``mode_types``).  Metric names are those of mysqld_exporter,
postgres_exporter, redis_exporter and RabbitMQ's built-in Prometheus plugin;
caller signatures are the servers' error numbers and messages as the usual
drivers print them: Go's go-sql-driver (``Error 1213 (40001): ...``), JDBC
(Connector/J: the server's message), PHP PDO (``SQLSTATE[40001]: Serialization
failure: 1213 ...``), node mysql2 (``ER_LOCK_DEADLOCK``), pgx/libpq
(``(SQLSTATE 53300)``), redis clients (the server's reply: ``READONLY ...``).
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import (
    MYSQL,
    POSTGRES,
    QUEUE,
    REDIS,
    FailureMode,
    mode,
)
from diagnosis_operator.catalog.server_locks import SERVER_LOCK_STATE_LABELS

# --- vendor documentation ---------------------------------------------------------
MYSQL_ERRORS = "https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html"
MYSQL_CLIENT_ERRORS = "https://dev.mysql.com/doc/mysql-errors/8.0/en/client-error-reference.html"
MARIADB_ERRORS = "https://mariadb.com/kb/en/mariadb-error-codes/"
MYSQL_STATUS = "https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html"
MYSQL_DEADLOCKS = "https://dev.mysql.com/doc/refman/8.0/en/innodb-deadlocks.html"
MYSQL_METADATA_LOCKING = "https://dev.mysql.com/doc/refman/8.0/en/metadata-locking.html"
MYSQL_SYS_LOCK_WAITS = "https://dev.mysql.com/doc/refman/8.0/en/sys-schema-table-lock-waits.html"
MYSQL_FLUSH = "https://dev.mysql.com/doc/refman/8.0/en/flush.html#flush-tables-with-read-lock"
MYSQL_THREAD_STATES = "https://dev.mysql.com/doc/refman/8.0/en/general-thread-states.html"
MARIADB_THREAD_STATES = "https://mariadb.com/kb/en/general-thread-states/"
MYSQL_EXPORTER_PROCESSLIST = (
    "https://github.com/prometheus/mysqld_exporter/blob/main/collector/info_schema_processlist.go"
)
MYSQL_SLOW_LOG = "https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html"
MYSQL_FULL_DISK = "https://dev.mysql.com/doc/refman/8.0/en/full-disk.html"
MYSQL_REPLICA_STATUS = "https://dev.mysql.com/doc/refman/8.0/en/show-replica-status.html"
MYSQL_EXPORTER = "https://github.com/prometheus/mysqld_exporter"
MYSQL_BUFFER_POOL = "https://dev.mysql.com/doc/refman/8.0/en/innodb-buffer-pool.html"
MYSQL_PURGE = "https://dev.mysql.com/doc/refman/8.0/en/innodb-purge-configuration.html"
MYSQL_INNODB_TRX = (
    "https://dev.mysql.com/doc/refman/8.0/en/information-schema-innodb-trx-table.html"
)
MARIADB_INNODB_TRX = "https://mariadb.com/kb/en/information-schema-innodb_trx-table/"
MYSQL_INNODB_METRICS = (
    "https://dev.mysql.com/doc/refman/8.0/en/information-schema-innodb-metrics-table.html"
)
AURORA_HISTORY_LIST = (
    "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/"
    "proactive-insights.history-list.html"
)
GO_MYSQL_ERRORS = "https://github.com/go-sql-driver/mysql/blob/master/errors.go"
CONNECTOR_J_STATES = (
    "https://dev.mysql.com/doc/connectors/en/connector-j-reference-error-sqlstates.html"
)
PDO_ERRORS = "https://www.php.net/manual/en/pdo.error-handling.php"
PYMYSQL_ERRORS = "https://github.com/PyMySQL/PyMySQL/blob/main/pymysql/err.py"
MYSQL_PORTS = "https://dev.mysql.com/doc/mysql-port-reference/en/mysql-ports-reference-tables.html"

PG_ERRCODES = "https://www.postgresql.org/docs/current/errcodes-appendix.html"
PG_CONNECTIONS = "https://www.postgresql.org/docs/current/runtime-config-connection.html"
PG_LOCKING = "https://www.postgresql.org/docs/current/explicit-locking.html"
PG_LOCK_LOGGING = (
    "https://www.postgresql.org/docs/current/runtime-config-logging.html#GUC-LOG-LOCK-WAITS"
)
PG_HOT_STANDBY = "https://www.postgresql.org/docs/current/hot-standby.html"
PG_MONITORING = "https://www.postgresql.org/docs/current/monitoring-stats.html"
PG_DISK_FULL = "https://www.postgresql.org/docs/current/disk-full.html"
PG_EXPORTER = "https://github.com/prometheus-community/postgres_exporter"

REDIS_EXPORTER = "https://github.com/oliver006/redis_exporter"
PROMETHEUS_UP = "https://prometheus.io/docs/concepts/jobs_instances/#automatically-generated-labels-and-time-series"
REDIS_OOM = "https://redis.io/docs/latest/develop/reference/errors/common/oom/"
REDIS_EVICTION = "https://redis.io/docs/latest/develop/reference/eviction/"
REDIS_READONLY = "https://redis.io/docs/latest/develop/reference/errors/common/readonly/"
REDIS_LOADING = "https://redis.io/docs/latest/develop/reference/errors/common/loading/"
REDIS_CLUSTERDOWN = "https://redis.io/docs/latest/develop/reference/errors/common/clusterdown/"
REDIS_CLUSTER_SPEC = "https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/"
REDIS_SENTINEL = "https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/"
REDIS_LATENCY = (
    "https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency/"
)
REDIS_KEYS = "https://redis.io/docs/latest/commands/keys/"
REDIS_SLOWLOG = "https://redis.io/docs/latest/commands/slowlog/"
REDIS_CLIENTS = "https://redis.io/docs/latest/develop/reference/clients/"
REDIS_PERSISTENCE = "https://redis.io/docs/latest/operate/oss_and_stack/management/persistence/"
REDIS_CONFIG = "https://redis.io/docs/latest/operate/oss_and_stack/management/config-file/"

RABBITMQ_ALARMS = "https://www.rabbitmq.com/docs/alarms"
RABBITMQ_PROMETHEUS = "https://www.rabbitmq.com/docs/prometheus"
RABBITMQ_NETWORKING = "https://www.rabbitmq.com/docs/networking"
RABBITMQ_BLOCKED = "https://www.rabbitmq.com/docs/connection-blocked"


def _mysql_errno(number: int) -> str:
    """A MySQL/MariaDB error number as drivers print it.

    Go (``Error 1213 (40001): ...``), PDO (``SQLSTATE[HY000]: General error:
    1205 ...``, ``SQLSTATE[HY000] [1040] ...``), node (``errno: 1213``), JDBC
    error codes (``ErrorCode: 1205``), PyMySQL (``(1213, 'Deadlock ...')``).
    """
    return (
        rf"\b(?:error|errno|err|error[ _]?code)\W{{0,3}}{number}\b"
        rf"|sqlstate\[[0-9a-z]{{5}}\][^\n]{{0,48}}?\b{number}\b"
        rf"|\[{number}\]"
        rf"|\({number}, ['\"]"
    )


mysql_errno = _mysql_errno  # for the other MySQL modules of the catalogue
_MYSQL_STATUS = r"^mysql_global_status_"

MYSQL_MODES: tuple[FailureMode, ...] = (
    mode(
        MYSQL,
        "lock contention",
        metrics=(
            _MYSQL_STATUS + r"innodb_row_lock_(current_waits|waits|time)",
            _MYSQL_STATUS + r"table_locks_waited",
            r"^mysql_info_schema_innodb_(lock_waits|trx)",
        ),
        # a deadlock is a transaction the server rolled back
        harm=(_MYSQL_STATUS + r"innodb_deadlocks",),
        logs=(
            r"deadlock found when trying to get lock",
            r"latest detected deadlock|deadlock detected",
            r"lock wait timeout exceeded",
            r"\block waits?\b",
            # metadata locks (an ALTER queued behind a long reader, everything behind it)
            r"waiting for table metadata lock",
            # the global read lock of FLUSH TABLES WITH READ LOCK (``catalog.server_locks``)
            r"waiting for (global read|backup|commit) lock|waiting for table flush",
            # the sys schema's lock-wait views, as watchers print them
            r"(schema_table|innodb)_lock_waits.{0,200}\bblocking_pid",
        ),
        callers=(
            _mysql_errno(1213),
            _mysql_errno(1205),
            r"deadlock found when trying to get lock",
            r"lock wait timeout exceeded",
            r"er_lock_deadlock|er_lock_wait_timeout|mysqltransactionrollbackexception",
        ),
        sources=(
            MYSQL_ERRORS,
            MARIADB_ERRORS,
            MYSQL_DEADLOCKS,
            MYSQL_METADATA_LOCKING,
            MYSQL_SYS_LOCK_WAITS,
            MYSQL_FLUSH,
            MYSQL_THREAD_STATES,
            MARIADB_THREAD_STATES,
            MYSQL_STATUS,
            MYSQL_EXPORTER,
            MYSQL_EXPORTER_PROCESSLIST,
            GO_MYSQL_ERRORS,
            CONNECTOR_J_STATES,
            PDO_ERRORS,
        ),
        # threads queued behind a server-level lock, in the processlist's own words
        states=SERVER_LOCK_STATE_LABELS,
    ),
    mode(
        MYSQL,
        "connection exhaustion",
        metrics=(
            _MYSQL_STATUS + r"(threads_connected|max_used_connections)",
            _MYSQL_STATUS + r"connection_errors_max_connections",
            _MYSQL_STATUS + r"aborted_connects",
        ),
        logs=(r"too many connections", r"er_con_count_error", r"max_connections"),
        callers=(
            _mysql_errno(1040),
            r"too many connections",
            r"er_con_count_error|sqlstate\[08004\]",
        ),
        sources=(
            MYSQL_ERRORS,
            MARIADB_ERRORS,
            MYSQL_STATUS,
            MYSQL_EXPORTER,
            GO_MYSQL_ERRORS,
            CONNECTOR_J_STATES,
            PDO_ERRORS,
        ),
    ),
    mode(
        MYSQL,
        "slow queries",
        metrics=(
            _MYSQL_STATUS + r"(slow_queries|threads_running|created_tmp_disk_tables)",
            _MYSQL_STATUS + r"(select_scan|select_full_join|sort_merge_passes)",
            _MYSQL_STATUS + r"(innodb_rows_read|handler_read_rnd_next)",
            r"^mysql_perf_schema_events_statements_",
        ),
        logs=(r"#\s*query_time:", r"rows_examined:"),
        callers=(
            _mysql_errno(3024),
            r"maximum statement execution time exceeded",
            r"query execution was interrupted",
        ),
        sources=(MYSQL_SLOW_LOG, MYSQL_STATUS, MYSQL_ERRORS, MYSQL_EXPORTER),
    ),
    mode(
        MYSQL,
        "long transaction",
        # an old open transaction pins its read view: purge falls behind and the
        # history list length grows (``catalog.transactions``)
        metrics=(
            r"^mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len",
            _MYSQL_STATUS + r"innodb_history_list_length",
        ),
        logs=(
            r"\bhistory[ _]list[ _]length\b",
            # a watcher printing INNODB_TRX: an open transaction whose connection is idle
            r"\binnodb_trx\b.{0,400}\bcommand[\"']?\s*[=:]\s*\"?sleep\b",
        ),
        sources=(
            MYSQL_PURGE,
            MYSQL_INNODB_TRX,
            MARIADB_INNODB_TRX,
            MYSQL_INNODB_METRICS,
            AURORA_HISTORY_LIST,
            MYSQL_EXPORTER,
        ),
    ),
    mode(
        MYSQL,
        "buffer pool exhaustion",
        # the working set outgrew the pool: reads go to disk and queries wait for a
        # free page (Innodb_buffer_pool_wait_free: "should be small" when the pool is
        # sized right); every statement slows, none is the trouble (``plan_kill``)
        metrics=(
            _MYSQL_STATUS + r"innodb_buffer_pool_wait_free",
            _MYSQL_STATUS + r"innodb_buffer_pool_reads\b",
        ),
        logs=(r"difficult to find free blocks in the buffer pool",),
        sources=(MYSQL_BUFFER_POOL, MYSQL_STATUS, MYSQL_EXPORTER),
    ),
    mode(
        MYSQL,
        "replication lag",
        metrics=(
            r"^mysql_slave_status_(seconds_behind_master|sql_delay)",
            r"^mysql_replica_status_seconds_behind_source",
            r"^mysql_heartbeat_",
        ),
        logs=(r"(slave|replica) (sql|i/o) (thread|for channel)", r"seconds_behind_(master|source)"),
        sources=(MYSQL_REPLICA_STATUS, MYSQL_EXPORTER),
    ),
    mode(
        MYSQL,
        "disk full",
        metrics=(r"^node_filesystem_(avail|free)_bytes", r"^kubelet_volume_stats_available_bytes"),
        logs=(
            r"errcode: 28|errno: 28",
            r"no space left on device",
            r"disk (is |got )?full",
            r"the table '[^']*' is full",
        ),
        callers=(
            r"errcode: 28",
            _mysql_errno(1021),
            _mysql_errno(1114),
            r"er_disk_full|er_record_file_full",
        ),
        sources=(MYSQL_FULL_DISK, MYSQL_ERRORS, MARIADB_ERRORS),
    ),
    mode(
        MYSQL,
        "crash or restart",
        metrics=(r"^mysql_up$", _MYSQL_STATUS + r"uptime"),
        logs=(
            r"mysqld got signal",
            r"starting crash recovery",
            r"database was not shut ?down normally",
        ),
        # 2013 "during query (timed out)" is the client's own read timeout on a slow
        # query, not a server that went away (PyMySQL's and mysqlclient's wording)
        callers=(
            rf"(?:{_mysql_errno(2013)})(?!.{{0,80}}\(timed out\))",
            _mysql_errno(2006),
            r"mysql server has gone away",
            r"lost connection to mysql server(?! during query \(timed out)",
            r"driver: bad connection",
        ),
        sources=(MYSQL_CLIENT_ERRORS, MYSQL_EXPORTER, GO_MYSQL_ERRORS),
    ),
)

POSTGRES_MODES: tuple[FailureMode, ...] = (
    mode(
        POSTGRES,
        "connection exhaustion",
        metrics=(r"^pg_stat_activity_count", r"^pg_stat_database_numbackends"),
        logs=(
            r"sorry, too many clients already",
            r"remaining connection slots are reserved",
            r"too many connections for (role|database)",
        ),
        callers=(
            r"sorry, too many clients already",
            r"remaining connection slots are reserved",
            r"\b53300\b",
        ),
        sources=(PG_ERRCODES, PG_CONNECTIONS, PG_EXPORTER),
    ),
    mode(
        POSTGRES,
        "lock contention",
        metrics=(r"^pg_locks_count", r"^pg_stat_activity_max_tx_duration"),
        harm=(r"^pg_stat_database_deadlocks",),
        logs=(
            r"deadlock detected",
            r"still waiting for \w*lock",
            r"canceling statement due to lock timeout",
        ),
        callers=(
            r"deadlock detected|\b40p01\b",
            r"canceling statement due to (lock|statement) timeout",
            r"\b55p03\b|\b57014\b",
        ),
        sources=(PG_ERRCODES, PG_LOCKING, PG_LOCK_LOGGING, PG_EXPORTER),
    ),
    mode(
        POSTGRES,
        "replication lag",
        metrics=(
            r"^pg_replication_lag",
            r"^pg_stat_replication_\w*lag",
            r"^pg_stat_replication_pg_(current_)?(wal|xlog)_lsn_diff",
            r"^pg_stat_database_conflicts",
            r"^pg_wal_receiver",
        ),
        logs=(r"canceling statement due to conflict with recovery",),
        callers=(r"conflict with recovery",),
        sources=(PG_HOT_STANDBY, PG_MONITORING, PG_EXPORTER),
    ),
    mode(
        POSTGRES,
        "disk full",
        metrics=(r"^node_filesystem_(avail|free)_bytes", r"^kubelet_volume_stats_available_bytes"),
        logs=(r"could not extend file", r"no space left on device", r"could not write to file"),
        callers=(r"could not extend file", r"\b53100\b"),
        sources=(PG_DISK_FULL, PG_ERRCODES),
    ),
    mode(
        POSTGRES,
        "slow queries",
        metrics=(r"^pg_stat_statements_", r"^pg_stat_activity_max_tx_duration"),
        logs=(r"duration: \d+(\.\d+)? ms\s+(statement|execute)",),
        callers=(r"canceling statement due to statement timeout",),
        sources=(PG_LOCK_LOGGING, PG_ERRCODES, PG_EXPORTER),
    ),
)

REDIS_MODES: tuple[FailureMode, ...] = (
    mode(
        REDIS,
        "memory pressure and evictions",
        metrics=(
            r"^redis_memory_used_(bytes|dataset_bytes|rss_bytes)",
            r"^redis_(config_maxmemory|memory_max_bytes)",
            r"^redis_mem_fragmentation_ratio",
        ),
        # an evicted key is data the application wrote and will not find again
        harm=(r"^redis_evicted_keys",),
        logs=(r"oom command not allowed",),
        callers=(r"oom command not allowed", r"outofmemoryerror: command not allowed"),
        sources=(REDIS_OOM, REDIS_EVICTION, REDIS_EXPORTER),
    ),
    mode(
        REDIS,
        "slow command storm",
        metrics=(
            r"^redis_slowlog_(length|last_id)",
            r"^redis_commands_duration_seconds",
            r"^redis_blocked_clients",
            r"^redis_latency_",
            # Redis runs commands on one thread: behind a long command (a Lua
            # script, KEYS) the exporter's own INFO waits too, until the scrape
            # times out and Prometheus' ``up`` of the exporter falls (a crashed
            # server instead answers the exporter at once: ``redis_up`` 0, ``up`` 1)
            r"^up$",
        ),
        logs=(r"slowlog|slow command", r"\bkeys \S*\*"),
        callers=(r"\bbusy redis is busy",),
        sources=(REDIS_LATENCY, REDIS_KEYS, REDIS_SLOWLOG, REDIS_EXPORTER, PROMETHEUS_UP),
    ),
    mode(
        REDIS,
        "failover",
        metrics=(
            r"^redis_connected_slaves",
            r"^redis_master_link_up",
            r"^redis_cluster_(state|slots_(ok|fail|pfail)|known_nodes)",
            r"^redis_uptime_in_seconds",
            r"^redis_instance_info",
        ),
        logs=(
            r"failover (election|auth granted)",
            r"cluster state changed: fail",
            r"master mode enabled|\+switch-master|\+failover-",
            r"connection with master lost",
        ),
        callers=(
            r"\bclusterdown\b",
            r"\breadonly you can't write against a read only replica",
            r"\bloading redis is loading the dataset",
            r"\btryagain\b",
        ),
        sources=(
            REDIS_CLUSTERDOWN,
            REDIS_READONLY,
            REDIS_LOADING,
            REDIS_CLUSTER_SPEC,
            REDIS_SENTINEL,
            REDIS_EXPORTER,
        ),
    ),
    mode(
        REDIS,
        "connection exhaustion",
        metrics=(r"^redis_connected_clients",),
        harm=(r"^redis_rejected_connections",),
        logs=(r"max number of clients reached",),
        callers=(r"max number of clients reached",),
        sources=(REDIS_CLIENTS, REDIS_EXPORTER),
    ),
    mode(
        REDIS,
        "persistence failure",
        # 1 while the last save succeeded, 0 once one failed (INFO persistence)
        harm=(r"^redis_rdb_last_bgsave_status", r"^redis_aof_last_write_status"),
        logs=(r"background saving error", r"can't save in background"),
        callers=(r"\bmisconf redis is configured to save",),
        sources=(REDIS_PERSISTENCE, REDIS_EXPORTER),
    ),
)

QUEUE_MODES: tuple[FailureMode, ...] = (
    mode(
        QUEUE,
        "memory alarm",
        metrics=(r"^rabbitmq_alarms_memory_used_watermark", r"^rabbitmq_process_resident_memory"),
        # an alarm blocks every publishing connection ("Blocked Connection Notifications")
        harm=(r"^rabbitmq_alarms_memory_used_watermark", r"^rabbitmq_connections_blocked"),
        logs=(r"memory resource limit alarm set", r"vm_memory_high_watermark"),
        callers=(r"connection\.blocked|blocked connection|connection blocked",),
        sources=(RABBITMQ_ALARMS, RABBITMQ_PROMETHEUS, RABBITMQ_BLOCKED),
    ),
    mode(
        QUEUE,
        "disk full",
        metrics=(
            r"^rabbitmq_alarms_free_disk_space_watermark",
            r"^rabbitmq_disk_space_available_bytes",
        ),
        harm=(r"^rabbitmq_alarms_free_disk_space_watermark", r"^rabbitmq_connections_blocked"),
        logs=(r"disk resource limit alarm set", r"free disk space is insufficient"),
        callers=(r"connection\.blocked|blocked connection|connection blocked",),
        sources=(RABBITMQ_ALARMS, RABBITMQ_PROMETHEUS, RABBITMQ_BLOCKED),
    ),
    mode(
        QUEUE,
        "consumer backlog",
        metrics=(r"^rabbitmq_queue_messages_(ready|unacked)", r"^rabbitmq_queue_messages$"),
        sources=(RABBITMQ_PROMETHEUS,),
    ),
)

DB_MODES: tuple[FailureMode, ...] = MYSQL_MODES + POSTGRES_MODES + REDIS_MODES + QUEUE_MODES

# How a caller names a database by its own vocabulary, whatever the mode: its
# drivers' error formats, and its default port (``host:3306`` in a driver error).
KIND_CALLERS: dict[str, tuple[str, ...]] = {
    MYSQL: (
        r"\berror \d{4} \([0-9a-z]{5}\):",
        r"com\.mysql\.|mysql\w*exception|\ber_[a-z_]{4,}\b",
        r"sqlstate\[[0-9a-z]{5}\]: [^:\n]{1,40}: \d{4} ",
    ),
    POSTGRES: (r"\(sqlstate [0-9a-z]{5}\)", r"org\.postgresql\.|psqlexception|psycopg|\bpq: "),
    REDIS: (r"redis\.exceptions\.|jedis\w*exception|redis\w*exception|\bredis: ",),
    QUEUE: (r"\bamqp\b|rabbitmq|amqpconnection",),
}
KIND_PORTS: dict[str, tuple[int, ...]] = {
    MYSQL: (3306,),
    POSTGRES: (5432,),
    REDIS: (6379,),
    QUEUE: (5672,),
}
KIND_PORT_SOURCES: dict[str, str] = {
    MYSQL: MYSQL_PORTS,
    POSTGRES: PG_CONNECTIONS,
    REDIS: REDIS_CONFIG,
    QUEUE: RABBITMQ_NETWORKING,
}
