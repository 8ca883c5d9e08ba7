"""MySQL / MariaDB runaway statements in the processlist: how they show, who ends them.  Pure data.

A runaway statement runs far longer than the workload's own statements, is still
running, and does the server's work while it runs: a report's self-join, an
analytics export, an ad-hoc query pointed at the primary.  The API's short
statements queue behind it for CPU and buffer pool: they are its victims, their
time only waiting.  Ending the runaway (``KILL QUERY``: "terminates the statement
the connection is currently executing, but leaves the connection itself intact",
MySQL "KILL Statement", https://dev.mysql.com/doc/refman/8.0/en/kill.html) ends
the fault; pt-kill is the usual tool ("a slow query sniper": ``--busy-time``
matches the statements whose processlist ``Time`` is longer,
https://docs.percona.com/percona-toolkit/pt-kill.html), and MariaDB's
``max_statement_time`` (per user or per query) the lasting guard ("Aborting
Statements that Exceed a Certain Time to Execute",
https://mariadb.com/kb/en/aborting-statements/).

When the statement has not finished, the slow log holds nothing yet: the slow log
writes a statement when it ends.  The processlist sees it while it runs.
mysqld_exporter's ``info_schema.processlist`` collector
(https://github.com/prometheus/mysqld_exporter/blob/main/collector/info_schema_processlist.go)
groups ``information_schema.PROCESSLIST`` by ``command`` and ``state``:
``mysql_info_schema_processlist_threads`` counts the threads (``count(*)``) and
``mysql_info_schema_processlist_seconds`` sums their ``TIME`` (``sum(time)``),
the seconds each has spent in its state.  Their ratio is the mean age of the
group's threads, a lower bound of its oldest's: a mean of tens of seconds says
at least one statement has run that long.  It is a runaway when

* its threads run a statement (``command`` ``Query`` or ``Execute``) in a state
  of work of their own (``WORKING_STATES``: reading and filtering rows, "Sending
  data", "Often the longest-occurring state as it also include all reading from
  tables and disk read activities", MariaDB KB "General Thread States",
  https://mariadb.com/kb/en/general-thread-states/; MySQL 8 says "executing";
  sorting, temporary tables), not waiting for a lock, a commit or a flush;
* their mean age is at least ``RUNAWAY_MIN_SECONDS`` (``long_query_time``'s
  default: "slow" in the server's own words,
  https://dev.mysql.com/doc/refman/8.0/en/server-system-variables.html#sysvar_long_query_time)
  and ``RUNAWAY_FACTOR`` times the mean age of the running threads at the
  window's beginning (the workload's typical statements), at
  ``MIN_RUNAWAY_SIGHTINGS`` scrapes in a row;
* it is still running: the mean age grew by at least ``STILL_RUNNING_GROWTH`` of
  the time between the first and the last of those scrapes (a stream of short
  statements keeps its mean flat, however slow each);
* it consumes the server: the server's logical row reads rose
  (``ROW_READ_SERIES``, ``READ_HANDLERS``: Handler_read_*,
  Innodb_buffer_pool_read_requests, Innodb_rows_read,
  https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html).  The
  workload's own statements slowed by something else (a throttled disk, a stalled
  server) age too, but the server reads fewer rows, not more: no kill then, since
  ending them only turns slow answers into errors.

The kill's busy time is below the youngest mean age seen of the runaway's run,
so it ends the runaway and never the victims, whose statements run for less than
a second.
"""

from __future__ import annotations

import re

# mysqld_exporter's processlist gauges: the summed seconds and the thread count by
# ``command`` and ``state`` (the state lower-cased with underscores by recent versions).
PROCESSLIST_SECONDS_SERIES = re.compile(r"^mysql_info_schema_processlist_seconds$")
COMMAND_LABEL = "command"
# Threads running a statement (pt-kill's default ``--kill-busy-commands``).
RUNNING_COMMANDS = re.compile(r"^(query|execute)$", re.IGNORECASE)
# Processlist states of a statement doing work of its own (reading, filtering,
# sorting rows, filling temporary tables), with spaces or underscores.
_W = r"[ _]"
WORKING_STATES = re.compile(
    rf"^(sending{_W}data|executing|creating{_W}sort{_W}index"
    rf"|sorting{_W}(result|for{_W}group|for{_W}order)|copying{_W}to{_W}(tmp|group){_W}table"
    rf"|creating{_W}tmp{_W}table|removing{_W}duplicates|converting{_W}heap{_W}to{_W}\w+)$",
    re.IGNORECASE,
)
# Seconds a statement's threads must have run, on average, to be a runaway
# (``long_query_time``'s default) ...
RUNAWAY_MIN_SECONDS = 10.0
# ... and how many times the running threads' mean age at the window's beginning.
RUNAWAY_FACTOR = 10.0
# Scrapes in a row the runaway is seen at.
MIN_RUNAWAY_SIGHTINGS = 3
# Its mean age grows by at least this share of the time between its first and last
# sighting: still running, the same statements.
STILL_RUNNING_GROWTH = 0.5
# The server's logical row reads (status counters, InnoDB metrics) ...
ROW_READ_SERIES = re.compile(
    r"^mysql_global_status_(innodb_rows_read|innodb_buffer_pool_read_requests"
    r"|handler_read_\w+)\b"
    r"|^mysql_info_schema_innodb_metrics_buffer_buffer_pool_read_requests(_total)?\b"
)
# ... and the handler counters by label (``mysql_global_status_handlers_total``),
# the read ones.
HANDLERS_SERIES = re.compile(r"^mysql_global_status_handlers_total\b")
HANDLER_LABEL = "handler"
READ_HANDLERS = re.compile(r"^read_")
