"""Locks a MySQL / MariaDB server takes before a statement reaches any row.  Pure data.

``FLUSH TABLES WITH READ LOCK`` (a backup's consistent snapshot) takes the global
read lock: every write of every session waits, in the processlist state "Waiting
for global read lock" (MariaDB 10.4+: "Waiting for backup lock"), until the
holder runs ``UNLOCK TABLES`` or its connection ends
(https://dev.mysql.com/doc/refman/8.0/en/flush.html#flush-tables-with-read-lock,
https://mariadb.com/kb/en/flush/, https://mariadb.com/kb/en/backup-stage/).  A
metadata lock held by an open transaction makes DDL and then every statement on
the table wait in "Waiting for table metadata lock"
(https://dev.mysql.com/doc/refman/8.0/en/metadata-locking.html).  The thread
states are listed in https://dev.mysql.com/doc/refman/8.0/en/general-thread-states.html
and https://mariadb.com/kb/en/general-thread-states/.

Such a waiter never reaches its rows: the slow log shows a write, or under a
metadata lock a read as well (a consistent read takes no row lock, only the
table's shared metadata lock, queued behind the waiting DDL), that examined no
rows (``Rows_examined: 0`` although it names its row by key) and ran until its
client gave up, with no InnoDB lock time (the row-lock part of ``Lock_time``,
https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html).  The holder is
often idle (``Sleep``): the backup session between its statements, or a
forgotten console; it runs nothing a busy-time kill could match, and no
``INNODB_TRX`` lock-wait row names it.  The processlist tells it: the one idle
connection that has been idle since before the first waiter began waiting.
Ending its connection releases the lock (``KILL CONNECTION``,
https://dev.mysql.com/doc/refman/8.0/en/kill.html).

``FLUSH TABLES WITH READ LOCK`` issued while a long statement runs is the other
way round: it takes the global read lock at once, then waits ("Waiting for table
flush") for every open table to be closed, i.e. for the statements that had them
open to end; meanwhile every write waits for the global read lock and every new
statement on a table being flushed waits for the flush.  The holder is then the
long statement itself, running since before the first waiter began to wait: ending
it lets the flush finish and the backup go on ("What does FLUSH TABLES WITH READ
LOCK do": the flush "waits for all queries to complete"; Percona XtraBackup's
``--ftwrl-wait-*`` and ``--kill-long-queries-timeout`` options exist to avoid or end
exactly this, https://docs.percona.com/percona-xtrabackup/8.0/flush-tables-with-read-lock.html;
MySQL, "FLUSH Statement": "FLUSH TABLES ... waits for ... active statements",
https://dev.mysql.com/doc/refman/8.0/en/flush.html).  A statement is protected as
DDL (the ``FLUSH`` itself) by the executor unless ``allowDdl``.

mysqld_exporter's ``info_schema.processlist`` collector
(https://github.com/prometheus/mysqld_exporter/blob/main/collector/info_schema_processlist.go)
publishes the processlist as ``mysql_info_schema_processlist_threads`` by
``command`` and ``state`` (recent versions lower-case the state and write its
spaces as underscores: ``waiting_for_table_metadata_lock``): a server-level lock
state whose thread count rose says, in the server's own words, that threads queue
behind such a lock.
"""

from __future__ import annotations

import re

# Processlist states of statements waiting for a server-level (not a row) lock.
SERVER_LOCK_STATES = re.compile(
    r"waiting for (global read lock|backup lock|commit lock|table metadata lock|table flush)",
    re.IGNORECASE,
)
# mysqld_exporter's thread-state gauge (threads by processlist ``command`` and ``state``)
# and the label naming the state.
THREAD_STATE_SERIES = re.compile(r"^mysql_info_schema_processlist_threads$")
STATE_LABEL = "state"
# The same server-level lock states as the exporter labels them: with spaces (older
# versions) or lower-cased with underscores.
_W = r"[ _]"
SERVER_LOCK_STATE_LABELS: tuple[str, ...] = (
    rf"waiting{_W}for{_W}(global{_W}read|backup|commit){_W}lock",
    rf"waiting{_W}for{_W}table{_W}flush",
    rf"waiting{_W}for{_W}table{_W}metadata{_W}lock",
)
# Waiting for a table flush: the holders are the statements that keep the tables open.
TABLE_FLUSH_STATE = re.compile(r"waiting for table flush", re.IGNORECASE)
# A statement that must read the rows it names: a read, or a write that reads the rows
# it changes (an ``INSERT ... VALUES`` reads none and examines no rows however it
# fares), as the slow log prints it.
ROW_STATEMENT = re.compile(r"^\s*(select|update|delete)\b", re.IGNORECASE)
# Such a statement, naming its rows by a filter, that examined none and ran at least
# this long never reached them: a disk or buffer pool starved for pages slows its row
# read by a second or two, not by many.
UNSTARTED_WRITE_SECONDS = 5.0
# Lock time below this share of the query time: it did not wait for row locks.
NO_LOCK_TIME_SHARE = 0.1
# At least this many such writes, and at least this share of the slow statements.
MIN_UNSTARTED_WRITES = 3
UNSTARTED_SHARE = 0.5
