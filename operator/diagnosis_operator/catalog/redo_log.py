"""InnoDB's redo log full: the checkpoint age at the synchronous flush point.  Pure data.

InnoDB writes every change to its redo log before the changed page reaches its
tablespace, and may reuse a part of the log only once the pages it covers are
flushed: the *checkpoint age* (current LSN minus the last checkpoint's LSN) is how
much of the log is still needed.  Adaptive flushing keeps it well below the log's
capacity; a write rate the flushing cannot follow (a bulk load, a backfill) brings
it to the *asynchronous* and then the *synchronous* preflush point, where the
threads that write flush dirty pages themselves and wait for the checkpoint ("sharp
checkpoint"): every write stalls until the age falls back, in waves, however idle
the CPU (MySQL manual, "InnoDB Checkpoints",
https://dev.mysql.com/doc/refman/8.0/en/innodb-checkpoints.html; "Configuring
Buffer Pool Flushing", https://dev.mysql.com/doc/refman/8.0/en/innodb-buffer-pool-flushing.html;
"Redo Log", https://dev.mysql.com/doc/refman/8.0/en/innodb-redo-log.html).  The
remedy is a larger redo log (``innodb_redo_log_capacity``, 100 MiB by default in
MySQL 8.0.30+) or a slower writer, never a kill of the victims.

An LSN is a position and says nothing by itself (``failure_modes.POSITION_METRICS``);
the age *against the log's capacity* is health.  Exporters publish the age as a
gauge and, beside it, a capacity it can be measured against:

* Percona Server and MariaDB: status ``Innodb_checkpoint_age`` and
  ``Innodb_checkpoint_max_age`` (the age at which InnoDB forces a checkpoint:
  https://docs.percona.com/percona-server/8.0/server-status-variables.html,
  https://mariadb.com/kb/en/innodb-status-variables/); the synchronous preflush
  point is 15/16 of it (``max_modified_age_sync``);
* ``information_schema.INNODB_METRICS`` (mysqld_exporter's
  ``info_schema.innodb_metrics`` collector, subsystem ``log`` in MySQL 8,
  ``recovery`` in 5.7): ``log_lsn_checkpoint_age`` and ``log_max_modified_age_sync``
  ("Maximum LSN difference; when exceeded, start synchronous preflush"),
  https://dev.mysql.com/doc/refman/8.0/en/innodb-information-schema-metrics-table.html;
* the log's configured size, from mysqld_exporter's ``global_variables``:
  ``innodb_redo_log_capacity`` (MySQL 8.0.30+), else ``innodb_log_file_size`` times
  ``innodb_log_files_in_group``.  InnoDB keeps two safety margins of a tenth each
  below the files' size, and preflushes synchronously from 15/16 of what remains:
  about 0.76 of the configured size (MariaDB's ``Innodb_checkpoint_max_age`` is
  0.80 of its ``innodb_log_file_size`` on a recorded server, the same arithmetic).
"""

from __future__ import annotations

from dataclasses import dataclass

# The checkpoint-age gauges of mysqld_exporter (status or INNODB_METRICS).
CHECKPOINT_AGE = r"^mysql_\w*checkpoint_age$"

SYNC_OF_MAX_AGE = 15 / 16
SYNC_OF_LOG_SIZE = 15 / 16 * 0.9 * 0.9


@dataclass(frozen=True, slots=True)
class FlushPoint:
    """A capacity the checkpoint age is measured against, and the synchronous point in it."""

    capacity: tuple[str, ...]  # gauges (same labels as the age) whose product is the capacity
    share: float  # the synchronous preflush point, as a share of that capacity


# In order of preference: the first whose gauges are all published is used.
FLUSH_POINTS: tuple[FlushPoint, ...] = (
    FlushPoint(("mysql_info_schema_innodb_metrics_log_log_max_modified_age_sync",), 1.0),
    FlushPoint(("mysql_info_schema_innodb_metrics_recovery_log_max_modified_age_sync",), 1.0),
    FlushPoint(("mysql_global_status_innodb_checkpoint_max_age",), SYNC_OF_MAX_AGE),
    FlushPoint(("mysql_global_variables_innodb_redo_log_capacity",), SYNC_OF_LOG_SIZE),
    FlushPoint(
        (
            "mysql_global_variables_innodb_log_file_size",
            "mysql_global_variables_innodb_log_files_in_group",
        ),
        SYNC_OF_LOG_SIZE,
    ),
    FlushPoint(("mysql_global_variables_innodb_log_file_size",), SYNC_OF_LOG_SIZE),
)
# Past the point for at least this many steps, after standing below it in the window.
MIN_PAST_STEPS = 3
PAST_SCORE = 30.0
