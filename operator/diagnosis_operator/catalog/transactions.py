"""MySQL / MariaDB long transactions and purge lag: how they show, and who ends them.  Pure data.

InnoDB keeps the old versions of changed rows (undo logs) as long as a read
view may still need them.  A transaction that stays open, even one that only
read (``START TRANSACTION WITH CONSISTENT SNAPSHOT`` under REPEATABLE READ) and
now sits idle, pins its read view: purge cannot remove any history newer than
it, the *history list length* grows, and every read walks longer version
chains (https://dev.mysql.com/doc/refman/8.0/en/innodb-purge-configuration.html,
https://dev.mysql.com/doc/refman/8.0/en/innodb-multi-versioning.html).  Amazon's
Aurora insight names the usual cause, "long-running transactions, either read
or write", and the remedy: find them in ``information_schema.innodb_trx`` and
end them
(https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/proactive-insights.history-list.html).

The series: ``trx_rseg_history_len`` of ``information_schema.INNODB_METRICS``
(mysqld_exporter's ``mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len``,
https://dev.mysql.com/doc/refman/8.0/en/information-schema-innodb-metrics-table.html),
MariaDB's and Percona's ``Innodb_history_list_length`` status variable
(https://mariadb.com/kb/en/innodb-status-variables/), and "History list length"
in ``SHOW ENGINE INNODB STATUS``.

The culprit is a row of ``information_schema.INNODB_TRX`` (``trx_state`` RUNNING,
an old ``trx_started``, ``trx_mysql_thread_id``;
https://dev.mysql.com/doc/refman/8.0/en/information-schema-innodb-trx-table.html,
https://mariadb.com/kb/en/information-schema-innodb_trx-table/) whose connection
is idle: ``Command = Sleep`` in the processlist, the state pt-kill's
``--idle-time`` matches (``--busy-time`` matches only running statements,
https://docs.percona.com/percona-toolkit/pt-kill.html).  It runs no statement,
so only ``KILL CONNECTION`` ends it (and rolls back what it wrote:
https://dev.mysql.com/doc/refman/8.0/en/kill.html).  Only an open transaction
holds purge back: an idle pooled connection without one does not, and is never
the target.
"""

from __future__ import annotations

import re

# The InnoDB history list length, by mysqld_exporter's names, MariaDB's status
# variable, a watcher's field or the words of SHOW ENGINE INNODB STATUS.
HISTORY_LENGTH_SERIES = re.compile(
    r"trx_rseg_history_len|innodb_history_list_length|history_list_length",
    re.IGNORECASE,
)
# A history list length printed in a log line (a watcher's field, InnoDB status).
HISTORY_LENGTH_VALUE = re.compile(r"\bhistory[ _]list[ _]length\W{0,3}(\d+)", re.IGNORECASE)

# A log line (a watcher printing INNODB_TRX joined with the processlist, or the
# sys schema's views) that names an open transaction's connection ...
TRANSACTION_THREAD = re.compile(
    r"\b(?:trx_mysql_thread_id|processlist_id|thread_id|blocking_pid)[\"']?\s*[=:]\s*\"?(\d+)",
    re.IGNORECASE,
)
# ... says that connection is idle (processlist Command = Sleep) ...
IDLE_COMMAND = re.compile(r"\b(?:blocking_)?command[\"']?\s*[=:]\s*\"?sleep\b", re.IGNORECASE)
# ... and how long its transaction has been open, in seconds.
TRANSACTION_AGE = re.compile(
    r"\b(?:age_s|trx_age|blocking_trx_age|trx_seconds)[\"']?\s*[=:]\s*\"?(\d+)",
    re.IGNORECASE,
)

# An idle transaction open this long is no request's transaction (those last
# milliseconds to seconds): it is forgotten or hung.  Also the ``idleTime`` the
# kill asks for, so an idle connection must have been idle at least this long.
LONG_IDLE_TRANSACTION_SECONDS = 300
