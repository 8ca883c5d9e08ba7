"""One instance of a data store stalled while its siblings serve.  Pure data.

A sharded or replicated store (a Redis Cluster's masters, a MySQL or PostgreSQL
server among its replicas) is several servers with their own data: when one of
them stalls (a blocking command, a slot migration moving a big key, a lock pile),
only the clients of its shard or role suffer.  The series below are an instance's
own time spent working or waiting, so a rise on one instance alone singles it out;
its callers' errors naming its address say the same from the other side.

* Redis: ``redis_commands_duration_seconds_total`` per command (INFO commandstats'
  ``usec``), ``redis_blocked_clients``, the slow log's length and last id, the
  latency monitor's events (redis_exporter: https://github.com/oliver006/redis_exporter;
  INFO: https://redis.io/docs/latest/commands/info/; SLOWLOG:
  https://redis.io/docs/latest/commands/slowlog/; LATENCY:
  https://redis.io/docs/latest/operate/oss_and_stack/management/optimization/latency-monitor/).
  MIGRATE is a blocking command: a key moved during resharding blocks the source
  node for as long as it takes (https://redis.io/docs/latest/commands/migrate/), and
  clients get "TRYAGAIN" / "ASK" meanwhile
  (https://redis.io/docs/latest/operate/oss_and_stack/reference/cluster-spec/).
* Memcached / Valkey: the same exporters' names (Valkey keeps Redis' INFO; memcached_
  exporter: https://github.com/prometheus/memcached_exporter, ``memcached_
  connections_listener_disabled_total``, ``memcached_..._yielded_total``).
* MySQL / MariaDB: ``Threads_running``, ``Innodb_row_lock_time``/``_waits``
  (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html).
* PostgreSQL: postgres_exporter's longest transaction and lock counts
  (https://github.com/prometheus-community/postgres_exporter).
"""

from __future__ import annotations

STALL_METRICS: tuple[str, ...] = (
    r"^redis_commands_duration_seconds",
    r"^redis_blocked_clients",
    r"^redis_slowlog_(length|last_id)",
    r"^redis_latency_",
    r"^memcached_connections_listener_disabled",
    r"^memcached_connections_yielded",
    r"^mysql_global_status_threads_running",
    r"^mysql_global_status_innodb_row_lock_(time|waits)",
    r"^pg_stat_activity_max_tx_duration",
    r"^pg_locks_count",
)
