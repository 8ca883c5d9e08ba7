"""The work a component is asked to do, under the exporters' names.  Pure data.

A component whose incoming work rises is being asked for more, not failing by
itself: when a sibling dependency fails, its callers move their work onto what
is left (a cache down, every lookup goes to the database; a primary refusing
connections, reads go to a replica).  Those series count requests, statements
or commands received, whatever their outcome:

* mysqld_exporter ``mysql_global_status_questions`` / ``_queries`` /
  ``_commands_total`` (MySQL status variables ``Questions``, ``Queries``,
  ``Com_xxx``: https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html);
* postgres_exporter ``pg_stat_database_xact_commit`` / ``_xact_rollback`` and
  ``pg_stat_statements_calls``
  (https://www.postgresql.org/docs/current/monitoring-stats.html);
* redis_exporter ``redis_commands_processed_total`` / ``redis_commands_total``
  (INFO ``total_commands_processed``, ``cmdstat_*`` calls:
  https://redis.io/docs/latest/commands/info/);
* HTTP servers and proxies: their request counters (``http_requests_total``,
  ``http_server_requests_seconds_count``, ``nginx_http_requests_total``; the
  engine's derived request rates).
"""

from __future__ import annotations

WORK_METRICS: tuple[str, ...] = (
    r"^mysql_global_status_(questions|queries|commands_total|com_)",
    r"^pg_stat_database_xact_(commit|rollback)",
    r"^pg_stat_statements_calls",
    r"^redis_commands_(processed_)?total",
    r"^(http|grpc)_(server_)?requests?(_seconds)?_(total|count)",
    r"^nginx_http_requests_total",
)
