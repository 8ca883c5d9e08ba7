"""A data store changing role: a failover or promotion, not a restart.  Pure data.

A store that went away and came back may have been restarted in place (the same
instance, the same role: a package upgrade's restart, a crash its supervisor
restarted) or failed over (a replica promoted to take a primary's place, a cluster
electing a new master for a failed one's slots).  The first heals by itself once the
instance serves again; the second changed which instance holds the writes, and the
clients' connections, pools and caches of the old topology are what to look at.  The
signatures below say that a role changed, in the store's own exporter series, its own
log lines and its callers' errors.  None of them moves on a plain restart of a
standalone server (its uptime, ``redis_up`` or ``mysql_up`` do, and are not here).

Redis (replication, Sentinel, Cluster):

* redis_exporter ``redis_instance_info{role}``, ``redis_connected_slaves`` (replicas
  attached to a master), ``redis_master_link_up`` (a replica's link to its master),
  ``redis_cluster_state`` and ``redis_cluster_slots_fail``/``_pfail``
  (https://github.com/oliver006/redis_exporter; INFO replication and CLUSTER INFO:
  https://redis.io/docs/latest/commands/info/, https://redis.io/docs/latest/commands/cluster-info/);
* a replica promoted logs "MASTER MODE enabled"; Sentinel publishes "+switch-master"
  and "+failover-..." events (https://redis.io/docs/latest/operate/oss_and_stack/management/sentinel/);
  a cluster node logs "Cluster state changed: fail", "Marking node ... as failing",
  "Failover election won", "Failover auth granted"
  (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/,
  "Failure detection", "Replica election and promotion");
* clients writing to a demoted master get "READONLY You can't write against a read
  only replica" (https://redis.io/docs/latest/develop/reference/errors/common/readonly/),
  to a cluster without a majority "CLUSTERDOWN"
  (https://redis.io/docs/latest/develop/reference/errors/common/clusterdown/).

MySQL / MariaDB:

* mysqld_exporter ``mysql_slave_status_*`` / ``mysql_replica_status_*`` appear or
  vanish as a server stops or starts replicating, ``mysql_global_variables_read_only``
  / ``super_read_only`` flip as a primary is demoted or a replica promoted
  (https://github.com/prometheus/mysqld_exporter;
  https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_read_only);
* a group member logs "This server is working as primary member" / "... as
  secondary member" (https://dev.mysql.com/doc/refman/8.0/en/group-replication-single-primary-mode.html);
* clients writing to a demoted primary get ERROR 1290 "... is running with the
  --read-only option so it cannot execute this statement"
  (https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html#error_er_option_prevents_statement).

PostgreSQL:

* postgres_exporter ``pg_replication_is_replica`` (1 on a standby)
  (https://github.com/prometheus-community/postgres_exporter);
* a standby promoted logs "received promote request" and "selected new timeline ID"
  (https://www.postgresql.org/docs/current/warm-standby-failover.html);
* clients writing to a standby get "cannot execute ... in a read-only transaction"
  (SQLSTATE 25006, https://www.postgresql.org/docs/current/errcodes-appendix.html).
"""

from __future__ import annotations

ROLE_METRICS: tuple[str, ...] = (
    r"^redis_instance_info",
    r"^redis_connected_slaves",
    r"^redis_master_link_up",
    r"^redis_cluster_state",
    r"^redis_cluster_slots_(fail|pfail)",
    r"^mysql_(slave|replica)_status_",
    r"^mysql_global_variables_(super_)?read_only",
    r"^pg_replication_is_replica",
)

ROLE_LINES: tuple[str, ...] = (
    r"master mode enabled",
    r"\+switch-master|\+failover-",
    r"cluster state changed: fail",
    r"marking node \S+ .*as failing",
    r"failover (election won|auth granted)",
    r"working as (primary|secondary) member",
    r"received promote request",
    r"selected new timeline id",
)

ROLE_CALLER_LINES: tuple[str, ...] = (
    r"\breadonly you can't write against a read only replica",
    r"\bclusterdown\b",
    r"--read-only option so it cannot execute this statement",
    r"cannot execute \w+( \w+)? in a read-only transaction",
)
