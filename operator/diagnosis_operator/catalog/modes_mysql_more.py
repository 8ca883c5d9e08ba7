"""More MySQL / MariaDB failure modes: a server limit every client hits, Galera flow control.

Pure data (see ``mode_types``), beside ``modes_db``'s MySQL modes and in the same
vocabulary (mysqld_exporter's metric names, the drivers' error formats).
"""

from __future__ import annotations

from diagnosis_operator.catalog.mode_types import MYSQL, FailureMode, mode
from diagnosis_operator.catalog.modes_db import (
    GO_MYSQL_ERRORS,
    MARIADB_ERRORS,
    MYSQL_ERRORS,
    MYSQL_EXPORTER,
    MYSQL_STATUS,
    mysql_errno,
)
from diagnosis_operator.catalog.redo_log import CHECKPOINT_AGE

MYSQL_MAX_PREPARED = (
    "https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html"
    "#sysvar_max_prepared_stmt_count"
)
MYSQL_PREPARED_STATEMENTS = "https://dev.mysql.com/doc/refman/8.0/en/sql-prepared-statements.html"
GALERA_FLOW_CONTROL = "https://galeracluster.com/library/documentation/node-states.html"
GALERA_STATUS = "https://galeracluster.com/library/documentation/galera-status-variables.html"
MARIADB_GALERA_STATUS = "https://mariadb.com/kb/en/galera-cluster-status-variables/"
MYSQL_READ_ONLY = (
    "https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_read_only"
)
MARIADB_READ_ONLY = "https://mariadb.com/kb/en/server-system-variables/#read_only"
MYSQL_AUTO_INCREMENT = "https://dev.mysql.com/doc/refman/8.0/en/example-auto-increment.html"
MYSQL_INTEGER_TYPES = "https://dev.mysql.com/doc/refman/8.0/en/integer-types.html"
MYSQL_CHECKPOINTS = "https://dev.mysql.com/doc/refman/8.0/en/innodb-checkpoints.html"
MYSQL_REDO_LOG = "https://dev.mysql.com/doc/refman/8.0/en/innodb-redo-log.html"
MYSQL_FLUSHING = "https://dev.mysql.com/doc/refman/8.0/en/innodb-buffer-pool-flushing.html"
MYSQL_INNODB_METRICS_LOG = (
    "https://dev.mysql.com/doc/refman/8.0/en/innodb-information-schema-metrics-table.html"
)
MARIADB_INNODB_STATUS = "https://mariadb.com/kb/en/innodb-status-variables/"
MARIADB_AUTO_INCREMENT = "https://mariadb.com/kb/en/auto_increment/"
MYSQL_EXPORTER_AUTO_INCREMENT = (
    "https://github.com/prometheus/mysqld_exporter/blob/main/collector/"
    "info_schema_auto_increment.go"
)

# The largest value of each integer type, signed and unsigned (TINYINT .. BIGINT):
# an AUTO_INCREMENT key that reached one of them cannot give the next row a key.
INTEGER_MAXIMA: tuple[int, ...] = tuple(
    v for bits in (8, 16, 24, 32, 64) for v in (2 ** (bits - 1) - 1, 2**bits - 1)
)
_AT_A_MAXIMUM = "(?:" + "|".join(str(v) for v in INTEGER_MAXIMA) + ")"

_MYSQL_STATUS = r"^mysql_global_status_"

MYSQL_MORE_MODES: tuple[FailureMode, ...] = (
    mode(
        MYSQL,
        "checkpoint stall (redo log full)",
        # the redo log cannot take more until dirty pages are flushed: the checkpoint
        # age reaches the synchronous flush point (``catalog.redo_log``), page flushing
        # surges and the writes wait, in waves (Innodb_log_waits: writes that waited
        # for the log, "should be 0"; MySQL 8's INNODB_METRICS log_on_file_space_waits:
        # waits for free space in the redo files); the error log asks for a larger
        # innodb_redo_log_capacity (MY-013865) or reports the last checkpoint's age past
        # the log's capacity.  An LSN is a position, never a signature
        # (``failure_modes.POSITION_METRICS``).
        metrics=(
            CHECKPOINT_AGE,
            _MYSQL_STATUS + r"innodb_buffer_pool_pages_flushed",
            _MYSQL_STATUS + r"innodb_os_log_pending_(fsyncs|writes)",
        ),
        harm=(
            _MYSQL_STATUS + r"innodb_log_waits",
            r"^mysql_info_schema_innodb_metrics_\w*log_(log_waits|on_file_space_waits)",
        ),
        logs=(
            r"consider increasing innodb_redo_log_capacity",
            r"redo log writer is waiting for a new redo log file",
            r"age of the last checkpoint is \d+.{0,60}exceeds the log (group )?capacity",
        ),
        sources=(
            MYSQL_CHECKPOINTS,
            MYSQL_REDO_LOG,
            MYSQL_FLUSHING,
            MYSQL_STATUS,
            MYSQL_INNODB_METRICS_LOG,
            MARIADB_INNODB_STATUS,
            MYSQL_ERRORS,
            MYSQL_EXPORTER,
        ),
    ),
    mode(
        MYSQL,
        "prepared statement exhaustion",
        # server-side prepared statements live until their session closes them or
        # ends; at max_prepared_stmt_count every new PREPARE fails (ER_MAX_PREPARED_
        # STMT_COUNT_REACHED, 1461) for every client: a client that never closes
        # its statements exhausts the limit for all (``catalog.limits``)
        metrics=(_MYSQL_STATUS + r"prepared_stmt_count",),
        callers=(
            mysql_errno(1461),
            r"can't create more than max_prepared_stmt_count statements",
            r"er_max_prepared_stmt_count_reached",
        ),
        logs=(r"max_prepared_stmt_count",),
        sources=(
            MYSQL_ERRORS,
            MARIADB_ERRORS,
            MYSQL_MAX_PREPARED,
            MYSQL_PREPARED_STATEMENTS,
            MYSQL_STATUS,
            MYSQL_EXPORTER,
            GO_MYSQL_ERRORS,
        ),
    ),
    mode(
        MYSQL,
        "flow control",
        # a Galera node whose receive queue passes gcs.fc_limit pauses replication for
        # the whole cluster (FC_PAUSE): every node's commits wait for the slowest one
        metrics=(
            _MYSQL_STATUS + r"wsrep_flow_control_(paused|sent|recv)",
            _MYSQL_STATUS + r"wsrep_local_recv_queue",
        ),
        logs=(r"flow[- ]control: (sent )?fc_pause", r"\bfc_limit\b"),
        sources=(GALERA_FLOW_CONTROL, GALERA_STATUS, MARIADB_GALERA_STATUS, MYSQL_EXPORTER),
    ),
    mode(
        MYSQL,
        "auto-increment exhausted",
        # an AUTO_INCREMENT column at the largest value of its integer type: "the
        # next attempt to generate a sequence number fails" (MySQL manual), every
        # INSERT into that table is refused (InnoDB: ER_DUP_ENTRY, 1062, on the
        # maximum itself; strict mode / MariaDB: handler error 167, "Out of range
        # value for column"; 1467 ER_AUTOINC_READ_FAILED), while reads work.  A
        # duplicate on any other value is the application's own data, not a limit.
        # mysqld_exporter's auto_increment collector publishes the column's next
        # value beside its type's maximum (``catalog.limits.SERVER_LIMITS``).
        metrics=(r"^mysql_info_schema_auto_increment_column",),
        callers=(
            rf"duplicate entry '{_AT_A_MAXIMUM}' for key",
            rf"(?:{mysql_errno(167)})[^\n]{{0,40}}out of range value",
            r"\bha_err_autoinc_erange\b",
            mysql_errno(1467),
            r"failed to read auto-increment value from storage engine",
        ),
        sources=(
            MYSQL_AUTO_INCREMENT,
            MYSQL_INTEGER_TYPES,
            MARIADB_AUTO_INCREMENT,
            MYSQL_ERRORS,
            MARIADB_ERRORS,
            MYSQL_EXPORTER_AUTO_INCREMENT,
            GO_MYSQL_ERRORS,
        ),
    ),
    mode(
        MYSQL,
        "read-only",
        # a primary left (or set) read-only, by a failover tool demoting it or by
        # hand: reads answer, every write is refused with ER_OPTION_PREVENTS_STATEMENT
        # (1290) "The MySQL server is running with the --read-only option so it
        # cannot execute this statement" (``--super-read-only`` also refuses SUPER
        # users); 1290 alone is shared with other options (--secure-file-priv,
        # --skip-grant-tables), so the option's name is part of the signature.
        # mysqld_exporter's global_variables collector publishes the flags.
        metrics=(r"^mysql_global_variables_(super_|innodb_)?read_only",),
        callers=(
            r"running with the --(super-)?read-only option so it cannot execute",
            r"er_option_prevents_statement.{0,80}read.only",
        ),
        sources=(
            MYSQL_READ_ONLY,
            MARIADB_READ_ONLY,
            MYSQL_ERRORS,
            MARIADB_ERRORS,
            MYSQL_EXPORTER,
        ),
    ),
)
