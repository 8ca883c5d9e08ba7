"""Server resources that clients hold, and the limits that cap them.  Pure data.

Some of a database server's resources belong to a client session and live until
the client gives them back: a server-side prepared statement until the client
deallocates it (``COM_STMT_CLOSE``, ``DEALLOCATE PREPARE``) or its session ends,
a connection until the client closes it.  The server caps each globally:
``max_prepared_stmt_count`` (then every new ``PREPARE`` of every client fails
with ER_MAX_PREPARED_STMT_COUNT_REACHED, error 1461,
https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_max_prepared_stmt_count,
https://dev.mysql.com/doc/mysql-errors/8.0/en/server-error-reference.html),
``max_connections`` (error 1040).  SHOW GLOBAL STATUS counts what is held
(``Prepared_stmt_count``, ``Threads_connected``:
https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html) and
mysqld_exporter publishes both sides: ``mysql_global_status_*`` and
``mysql_global_variables_*`` (https://github.com/prometheus/mysqld_exporter).

A client that takes such a resource and never gives it back (a driver with
server-side prepared statements that are never closed: go-sql-driver/mysql
issue 701, go-gorm/gorm issue 3684) makes the count climb steadily, from the
moment the leaking release started, until the limit is reached; from then
the server refuses every client alike.  The server only enforces its limit:
the cause is the client whose release began the climb (``core.diagnosis.leaks``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class HeldResource:
    """A server resource clients hold, its usage gauge and the gauge of its limit."""

    resource: str  # what the report calls it ("prepared statements")
    usage: str  # the exporter's gauge of what is held
    limit: str  # the exporter's gauge of the configured limit
    sources: tuple[str, ...]


MYSQL_HELD: tuple[HeldResource, ...] = (
    HeldResource(
        resource="prepared statements",
        usage="mysql_global_status_prepared_stmt_count",
        limit="mysql_global_variables_max_prepared_stmt_count",
        sources=(
            "https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html"
            "#sysvar_max_prepared_stmt_count",
            "https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html"
            "#statvar_Prepared_stmt_count",
        ),
    ),
    HeldResource(
        resource="connections",
        usage="mysql_global_status_threads_connected",
        limit="mysql_global_variables_max_connections",
        sources=(
            "https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html"
            "#sysvar_max_connections",
            "https://dev.mysql.com/doc/refman/8.0/en/too-many-connections.html",
        ),
    ),
)

# The usage is at its limit from this share of it on.
FULL_SHARE = 0.98
# The climb starts where the usage last stood within this share of the way from
# its low to the limit.
START_SHARE = 0.05
# A leak climbs steadily, for a while: at least this long and this many steps,
# with at least this share of its steps not going down (a burst fills at once).
MIN_CLIMB_SECONDS = 300.0
MIN_CLIMB_STEPS = 6
STEADY_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class DeclaredMaximum:
    """A gauge an exporter publishes beside the largest value it can ever take.

    Unlike a configured limit clients fill one by one (``HeldResource``), such a
    maximum is fixed by the data's type, or is the admission limit of a proxy, which
    publishes it beside its own count: once the gauge stands at it, the server
    refuses what would take it further, for every client alike, until the schema
    or the configuration changes.
    """

    what: str  # what the report calls it ("auto-increment key")
    value: str  # the exporter's gauge of the current value
    maximum: str  # its gauge of the declared maximum, with the same labels
    sources: tuple[str, ...]
    # the gauge is at its maximum from this share of it on (a scrape between two
    # accepts of a full proxy may read a few below its limit)
    full_share: float = 1.0


HAPROXY_MAXCONN = "https://docs.haproxy.org/2.8/configuration.html#3.2-maxconn"
HAPROXY_FRONTEND_MAXCONN = "https://docs.haproxy.org/2.8/configuration.html#4.2-maxconn"
HAPROXY_STATS = "https://docs.haproxy.org/2.8/management.html#9.1"
HAPROXY_PROMEX = "https://github.com/haproxy/haproxy/blob/master/addons/promex/README"
PROXY_FULL_SHARE = 0.98

# mysqld_exporter's auto_increment collector (``--collect.auto_increment.columns``):
# information_schema's next AUTO_INCREMENT value of each column beside the largest
# value of the column's integer type (signed or unsigned); at it, "the next attempt to
# generate a sequence number fails" (MySQL manual, "Using AUTO_INCREMENT").
DECLARED_MAXIMA: tuple[DeclaredMaximum, ...] = (
    DeclaredMaximum(
        what="auto-increment key",
        value="mysql_info_schema_auto_increment_column",
        maximum="mysql_info_schema_auto_increment_column_max",
        sources=(
            "https://github.com/prometheus/mysqld_exporter/blob/main/collector/"
            "info_schema_auto_increment.go",
            "https://dev.mysql.com/doc/refman/8.0/en/example-auto-increment.html",
            "https://dev.mysql.com/doc/refman/8.0/en/integer-types.html",
            "https://mariadb.com/kb/en/auto_increment/",
        ),
    ),
    # HAProxy's own admission limits, published by its Prometheus exporter beside the
    # count they cap (stats fields scur/slim, CurrConns/Maxconn): at the process's
    # ``maxconn`` "the process stops accepting connections" and new ones wait in the
    # kernel's backlog until clients give up; at a frontend's ``maxconn`` the same for
    # that frontend.  Nothing behind the proxy is asked: its backends stay idle.
    *(
        DeclaredMaximum(
            what=what,
            value=value,
            maximum=maximum,
            sources=(HAPROXY_MAXCONN, HAPROXY_FRONTEND_MAXCONN, HAPROXY_STATS, HAPROXY_PROMEX),
            full_share=PROXY_FULL_SHARE,
        )
        for what, value, maximum in (
            (
                "process maxconn",
                "haproxy_process_current_connections",
                "haproxy_process_max_connections",
            ),
            (
                "process SSL maxconn",
                "haproxy_process_current_ssl_connections",
                "haproxy_process_max_ssl_connections",
            ),
            (
                "frontend maxconn",
                "haproxy_frontend_current_sessions",
                "haproxy_frontend_limit_sessions",
            ),
        )
    ),
)
# A gauge at its declared maximum for at least this many steps, up to the end of the
# data, after standing below it in the window, is strong evidence on its own.
MIN_AT_MAXIMUM_STEPS = 3
AT_MAXIMUM_SCORE = 30.0
