"""Connection churn: a store's accepted-connections counter beside its commands counter.  Data.

A store counts every connection it accepts and every command it is asked.  When
a caller stops pooling (a release that opens and closes a connection per
request, a pool sized to zero, a driver without keep-alive), the first counter
rises by an order of magnitude while the second stays about the same: the
store spends its threads, CPU (handshakes, TLS) and connection slots on
connecting, and reaches its connection limit, with no more work asked of it.
It is a victim of how it is connected to; the cause is its caller.

* MySQL (mysqld_exporter ``mysql_global_status_*``): status variables
  ``Connections`` ("the number of connection attempts, successful or not"),
  ``Ssl_accepts`` and ``Threads_created`` beside ``Questions`` / ``Queries``
  (https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html);
* Redis (redis_exporter): INFO stats ``total_connections_received`` beside
  ``total_commands_processed`` (https://redis.io/docs/latest/commands/info/),
  exported as ``redis_connections_received_total`` / ``redis_commands_processed_total``;
* PostgreSQL 14+ (postgres_exporter ``pg_stat_database_*``): ``sessions`` ("total
  number of sessions established to this database") beside ``xact_commit``
  (https://www.postgresql.org/docs/current/monitoring-stats.html).  The older
  ``numbackends`` is a gauge of open connections, not of connections accepted:
  it cannot tell churn from a larger pool, and is not used here.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ConnectionCounters:
    """One store's counter of connections accepted, and of commands it was asked."""

    store: str
    accepted: str  # regex over the counter's name (without " rate")
    commands: str  # regex over the commands counter's name (without " rate")


CONNECTION_COUNTERS: tuple[ConnectionCounters, ...] = (
    ConnectionCounters(
        "mysql",
        r"^mysql_global_status_(connections|ssl_accepts|threads_created)$",
        r"^mysql_global_status_(questions|queries)$",
    ),
    ConnectionCounters(
        "redis",
        r"^redis_connections_received_total$",
        r"^redis_commands_processed_total$",
    ),
    ConnectionCounters(
        "postgresql",
        r"^pg_stat_database_sessions(_total)?$",
        r"^pg_stat_database_xact_commit(_total)?$",
    ),
)

# New connections per second rising this many times over their baseline is churn ...
CHURN_FACTOR = 10.0
# ... while the commands asked stay within this factor of theirs (either way): the same
# work, connected to differently.  Commands that fell further are a store failing to
# serve (its callers then reconnect after their timeouts), not churn.
SAME_WORK_FACTOR = 2.0

# The mode of the caller whose connecting churned a store: the root is that caller.
CALLER_MODE = "connection churn (a new connection per request: no pool)"

# The other direction: a store that closes its clients' connections (Redis ``timeout``
# closing connections idle longer than it without telling the client, "Client timeouts":
# https://redis.io/docs/latest/develop/reference/clients/#client-timeouts; MySQL
# ``wait_timeout``: https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_wait_timeout,
# "MySQL server has gone away": https://dev.mysql.com/doc/refman/8.0/en/gone-away.html)
# makes its pooled callers reconnect: its accepted connections jump as in churn, but the
# callers' errors are about an established connection the server closed or reset
# (node-redis / ioredis "read ECONNRESET", redis-py ``ConnectionError: Connection closed
# by server`` https://github.com/redis/redis-py/issues/1140, "Socket closed on remote end"
# https://github.com/redis/redis-py/issues/147, Jedis "Unexpected end of stream"
# https://github.com/redis/jedis/issues/1929, go-redis "EOF", libpq "server closed the
# connection unexpectedly").  The store is then the root, not its callers.  A caller
# churning by itself logs no such error, or only failing to get a connection.
SERVER_CLOSED_LINES: tuple[str, ...] = (
    r"\bECONNRESET\b",
    r"connection reset by peer",
    r"connection closed by (the )?server",
    r"server closed the connection",
    r"socket closed on remote end",
    r"unexpected end of stream",
    r"(mysql server has gone away|lost connection to mysql server during query)",
    r"(\berr(or)?\"?\s*[=:]\s*\"?(read [^ \"]+: )?|unexpected )EOF\b",
)
# Callers' lines of that kind from the store's first move on that make it the closing side.
SERVER_CLOSED_MIN_LINES = 3
