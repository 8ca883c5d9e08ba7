"""The shape of a failure-mode entry, shared by the catalogue's data modules.  Pure data.

A ``FailureMode`` says how one kind of component fails in one way, in three
vocabularies, each a tuple of regular expressions (Python ``re``, searched
case-insensitively):

* ``metrics``: metric names under the real exporters' names (matched against
  the start of a series name: ``^mysql_global_status_innodb_row_lock_``);
* ``logs``: lines of the component's own logs (its error log, slow log...);
* ``callers``: lines of its callers' logs, in the failing component's own
  vocabulary (error numbers and messages in driver formats);
* ``harm``: the metrics among ``metrics`` whose departure is harm by itself,
  not load: work the component lost or refused (evicted keys, rejected
  connections, requests it overflowed) rising, or a state flag of its own
  health (``..._status``, ``..._up``) falling.  A healthy component keeps
  them flat however busy it is; the incident gate counts them as symptoms.
* ``states``: what the component's own threads say they are waiting for, as
  its exporter labels a thread-state gauge (mysqld_exporter's
  ``mysql_info_schema_processlist_threads{state="Waiting for global read lock"}``,
  written with spaces or underscores: ``catalog.server_locks.THREAD_STATE_SERIES``);
  a state whose thread count rose is the server's own word, like a line of its log.

``sources`` cites the vendor documentation each signature comes from; the
catalogue refers to it, it never copies it.
"""

from __future__ import annotations

from dataclasses import dataclass

# The component kinds of the catalogue: the topology's kinds, the database and
# queue kinds a topology may declare as "other", and the Kubernetes layer.
PROXY = "proxy"
APP = "app"
MYSQL = "mysql"
POSTGRES = "postgres"
REDIS = "redis"
QUEUE = "queue"
POD = "pod"
NODE = "node"
KINDS: tuple[str, ...] = (PROXY, APP, MYSQL, POSTGRES, REDIS, QUEUE, POD, NODE)


@dataclass(frozen=True, slots=True)
class FailureMode:
    """One way one kind of component fails, with its signatures and their sources."""

    kind: str
    name: str  # "lock contention": what the report says after the component's name
    metrics: tuple[str, ...] = ()
    logs: tuple[str, ...] = ()
    callers: tuple[str, ...] = ()
    sources: tuple[str, ...] = ()
    harm: tuple[str, ...] = ()
    states: tuple[str, ...] = ()


def mode(
    kind: str,
    name: str,
    *,
    metrics: tuple[str, ...] = (),
    logs: tuple[str, ...] = (),
    callers: tuple[str, ...] = (),
    sources: tuple[str, ...],
    harm: tuple[str, ...] = (),
    states: tuple[str, ...] = (),
) -> FailureMode:
    return FailureMode(
        kind=kind,
        name=name,
        metrics=metrics + tuple(h for h in harm if h not in metrics),
        logs=logs,
        callers=callers,
        sources=sources,
        harm=harm,
        states=states,
    )
