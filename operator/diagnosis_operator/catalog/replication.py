"""MySQL / MariaDB semi-synchronous replication: commits that wait for a replica.  Pure data.

With semi-synchronous replication a primary returns from ``COMMIT`` only after at
least ``rpl_semi_sync_source_wait_for_replica_count`` replicas acknowledged the
transaction's events, or after ``rpl_semi_sync_source_timeout`` milliseconds, when
it falls back to asynchronous replication
(https://dev.mysql.com/doc/refman/8.0/en/replication-semisync.html,
https://mariadb.com/kb/en/semisynchronous-replication/).  Set high (to never lose
an acknowledged write), the timeout turns a dead or unreachable replica into a
primary whose every commit hangs: ``Rpl_semi_sync_source_clients`` (the replicas
acknowledging) falls, ``Rpl_semi_sync_source_wait_sessions`` (sessions waiting
for an ACK) climbs, the sessions pile up "Waiting for semi-sync ACK from replica"
until connections run out, and the error log says "Timeout waiting for reply of
binlog" (https://dev.mysql.com/doc/refman/8.0/en/replication-semisync-monitoring.html).
MySQL 8.0.26 renamed ``master`` to ``source`` in these names; MariaDB and older
MySQL keep ``Rpl_semi_sync_master_*``.  mysqld_exporter publishes them as
``mysql_global_status_rpl_semi_sync_{source,master}_*``
(https://github.com/prometheus/mysqld_exporter).

Such a primary depends on its replicas as surely as its callers depend on it,
although no topology lists a replica as a dependency of its primary: the
replica that died is the cause, the waiting commits are its victims.
"""

from __future__ import annotations

import re

# Sessions waiting for a replica's acknowledgement (rising: commits hang on an ACK).
SEMI_SYNC_WAITS = re.compile(
    r"^mysql_global_status_rpl_semi_sync_(source|master)_wait_sessions", re.IGNORECASE
)
# Replicas acknowledging (falling: the replica that acknowledged is gone).
SEMI_SYNC_CLIENTS = re.compile(
    r"^mysql_global_status_rpl_semi_sync_(source|master)_clients", re.IGNORECASE
)
# The primary's own error-log lines while it waits for an acknowledgement.
SEMI_SYNC_LOG = re.compile(
    r"timeout waiting for reply of binlog|stop semi-sync binlog_dump|"
    r"waiting for semi-sync ack",
    re.IGNORECASE,
)
