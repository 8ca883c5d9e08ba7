"""MySQL / MariaDB row-lock contention: how it shows, and who ends it.  Pure data.

Lock contention has two sides.  The *waiters* are statements blocked on rows
another transaction holds: they fail with ``ER_LOCK_WAIT_TIMEOUT`` (error 1205,
SQLSTATE HY000, "Lock wait timeout exceeded; try restarting transaction") after
``innodb_lock_wait_timeout`` or, when two wait on each other, one is rolled back
with ``ER_LOCK_DEADLOCK`` (1213, SQLSTATE 40001)
(https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html).  In the
slow query log they are statements whose ``Lock_time`` ("the time to acquire
locks") is most of their ``Query_time`` while they examined few rows
(https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html).
The *blocker* is the transaction holding the rows: often idle in its transaction
(``Command = Sleep`` in the processlist, ``trx_state = RUNNING`` in
``information_schema.INNODB_TRX``, started before every waiter), so it shows in no
slow log at all.  The lock-wait tables name it: MariaDB and MySQL 5.7
``information_schema.INNODB_LOCK_WAITS`` (``requesting_trx_id`` ->
``blocking_trx_id``,
https://mariadb.com/kb/en/information-schema-innodb_lock_waits-table/), MySQL 8
``performance_schema.data_lock_waits`` (``REQUESTING_ENGINE_TRANSACTION_ID`` ->
``BLOCKING_ENGINE_TRANSACTION_ID``,
https://dev.mysql.com/doc/refman/8.0/en/performance-schema-data-lock-waits-table.html)
or the ``sys.innodb_lock_waits`` view (``waiting_pid`` -> ``blocking_pid``).

Ending the blocker ends the contention; killing the waiters only turns waits into
errors.  An idle blocker runs no statement, so ``KILL QUERY`` does nothing to it:
only ``KILL CONNECTION`` rolls its transaction back and frees the rows
(https://dev.mysql.com/doc/refman/8.0/en/kill.html, https://mariadb.com/kb/en/kill/).
"""

from __future__ import annotations

import re

# mysqld_exporter's series of InnoDB row-lock waits (SHOW GLOBAL STATUS
# Innodb_row_lock_current_waits / _waits / _time, Innodb_deadlocks on MariaDB and
# Percona; information_schema.INNODB_METRICS lock_deadlocks on MySQL 8:
# https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html), by raw name
# or by the catalogue's signal names.  Rising, they say transactions wait for locks.
LOCK_WAIT_SERIES = re.compile(
    r"innodb_row_lock_(current_waits|waits|time)|row_lock_(waits|time)|"
    r"innodb_deadlocks|lock_deadlocks|mysql_deadlocks",
    re.IGNORECASE,
)

# Words of log lines that report transactions waiting for (or deadlocking on) locks:
# the server's own InnoDB messages and the errors its clients log (1205, 1213).
LOCK_WAIT_WORDS = (
    "lock wait",
    "lock_wait",
    "waiting for table metadata lock",
    "error 1205",
    "deadlock found when trying to get lock",
)

# A log line naming the holding thread the way sys.innodb_lock_waits does
# (``blocking_pid``; https://dev.mysql.com/doc/refman/8.0/en/sys-innodb-lock-waits.html),
# as lock-wait watchers and monitoring scripts print it.
BLOCKING_THREAD = re.compile(r"\bblocking_pid[\"']?\s*[=:]\s*\"?(\d+)", re.IGNORECASE)

# A blocker worth ending is one transaction that keeps its locks: the lock-wait
# views name the same ``blocking_pid`` again and again while the others wait
# (an idle holder, a long scan).  When they name a different holder nearly every
# time, each holding for a moment, no single transaction blocks: the waiters
# queue on a hot row and each takes the lock in turn (InnoDB grants a released
# lock to one of its waiters, chosen by its transaction scheduling,
# https://dev.mysql.com/doc/refman/8.0/en/innodb-transaction-scheduling.html).
# Killing the holder of the moment only hands the lock to the next waiter and
# fails one more request: the remedy is in the application (shorter
# transactions, a queue for the hot row).  With at least ``MIN_HOLDER_SIGHTINGS``
# sightings, a holder is one that is named in at least ``SINGLE_BLOCKER_SHARE`` of them.
MIN_HOLDER_SIGHTINGS = 3
SINGLE_BLOCKER_SHARE = 0.5
