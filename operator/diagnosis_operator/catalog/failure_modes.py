"""The failure-mode catalogue: how each kind of component fails, as data.  Pure.

Per component kind (``KINDS``: proxy, app, mysql, postgres, redis, queue, and
the Kubernetes layer: pod, node) the ways it fails (``FAILURE_MODES``), each
with its metric signatures under the real exporters' names, its own log
signatures, the way its callers report it, and the vendor documentation it
comes from (see ``mode_types``, ``modes_db``, ``modes_infra``, ``modes_edge``, ``modes_queue``).

Beside the modes:

* ``KIND_CALLERS`` and ``KIND_PORTS``: how a caller names a database whatever
  the mode (its drivers' error formats, its default port);
* ``EXPORTER_SELF_METRICS``: the series an exporter publishes about itself
  (its Go runtime, its process, its scrapes).  They are NOT health signals of
  the component it exports: ``is_self_metric``.

The engine reads it in ``core/diagnosis/modes.py`` (which mode fits a root
cause best) and ``core/diagnosis/blame.py`` (which dependency a caller's
errors name).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence

from diagnosis_operator.catalog.effect import is_alarm_flag, is_state_flag
from diagnosis_operator.catalog.mode_types import (
    APP,
    KINDS,
    MYSQL,
    NODE,
    POD,
    POSTGRES,
    PROXY,
    QUEUE,
    REDIS,
    FailureMode,
)
from diagnosis_operator.catalog.modes_db import DB_MODES, KIND_CALLERS, KIND_PORTS
from diagnosis_operator.catalog.modes_edge import EDGE_MODES
from diagnosis_operator.catalog.modes_infra import INFRA_MODES, PROMETHEUS_PROCESS
from diagnosis_operator.catalog.modes_more import MORE_MODES
from diagnosis_operator.catalog.modes_mysql_more import MYSQL_MORE_MODES
from diagnosis_operator.catalog.modes_queue import CONSUMER_MODES
from diagnosis_operator.models.topology import Component, ComponentKind

__all__ = [
    "EXPORTER_SELF_METRICS",
    "FAILURE_MODES",
    "KINDS",
    "KIND_CALLERS",
    "KIND_PORTS",
    "FailureMode",
    "catalog_kinds",
    "compiled",
    "exporter_prefixes",
    "harm_direction",
    "is_self_metric",
    "modes_of",
]

FAILURE_MODES: tuple[FailureMode, ...] = (
    DB_MODES + MYSQL_MORE_MODES + INFRA_MODES + EDGE_MODES + MORE_MODES + CONSUMER_MODES
)

# What an exporter says about itself, not about the component it exports
# (client_golang's Go and process collectors, promhttp's handler counters, the
# exporters' own scrape bookkeeping).  ``go_*`` and ``process_*`` describe the
# exporter's process only for kinds whose metrics come from a separate
# exporter (databases, caches, queues); an application's own are its health.
EXPORTER_SELF_METRICS: tuple[str, ...] = (
    r"^promhttp_",
    r"^\w*exporter_",
    r"_exporter_",
    r"^\w*scrape_(duration|samples|series|error|collector)",
    r"_scrape_collector_",
    r"_last_scrape_",
)
# Positions in a log or a sequence, not health: InnoDB's redo log sequence
# numbers (``Innodb_lsn_current``, ``_flushed``, ``_last_checkpoint``: the byte
# offset written, flushed, checkpointed) and its transaction / purge counters
# (``Innodb_max_trx_id``, ``Innodb_purge_trx_id``, ``Innodb_purge_undo_no``).
# A checkpoint moves ``_last_checkpoint`` by megabytes at once on a healthy
# server; its rate says when InnoDB flushed, never that the server is harmed.
# MySQL 8.0.30+ publishes the same positions as ``Innodb_redo_log_current_lsn``,
# ``_checkpoint_lsn`` and ``_flushed_to_disk_lsn``, INNODB_METRICS as ``log_lsn_current``,
# ``log_lsn_last_checkpoint``, ``log_lsn_last_flush``, ``log_lsn_buf_pool_oldest...``.
# (A lag between two positions, ``pg_..._lsn_diff``, the checkpoint *age*, is health:
# not listed; ``catalog.redo_log``.)
POSITION_METRICS: tuple[str, ...] = (
    r"^mysql_global_status_innodb_(lsn_(current|flushed|last_checkpoint)|max_trx_id"
    r"|purge_trx_id|purge_undo_no)$",
    r"^mysql_global_status_innodb_redo_log_(current|checkpoint|flushed_to_disk)_lsn$",
    r"^mysql_info_schema_innodb_metrics_\w*log_lsn_(current|last_checkpoint|last_flush"
    r"|buf_pool_oldest\w*)$",
)
# A process's reserved address space and its configured limits, not health: the
# client libraries' ``process_virtual_memory_bytes`` is the VmSize of
# /proc/PID/status (every thread's stack and every arena reserved, touched or not:
# it steps when a threaded server starts threads under load), and
# ``process_virtual_memory_max_bytes`` / ``process_max_fds`` are limits.  Memory in
# use is ``process_resident_memory_bytes`` (VmRSS), which stays a signal.
RESERVED_METRICS: tuple[str, ...] = (
    r"^process_virtual_memory(_max)?_bytes$",
    r"^process_max_fds$",
)
RESERVED_SOURCES = (
    "https://prometheus.io/docs/instrumenting/writing_clientlibs/#process-metrics",
    "https://man7.org/linux/man-pages/man5/proc_pid_status.5.html",
)
POSITION_SOURCES = (
    "https://mariadb.com/kb/en/innodb-status-variables/",
    "https://dev.mysql.com/doc/refman/8.0/en/server-status-variables.html"
    "#statvar_Innodb_redo_log_current_lsn",
    "https://dev.mysql.com/doc/refman/8.0/en/innodb-checkpoints.html",
)
_EXPORTED_RUNTIME: tuple[str, ...] = (r"^go_", r"^process_")
_EXPORTED_KINDS = frozenset({MYSQL, POSTGRES, REDIS, QUEUE})
SELF_METRIC_SOURCES = (PROMETHEUS_PROCESS, "https://github.com/prometheus/client_golang")

# Kinds a topology declares directly, and the metric prefixes that tell the
# catalogue kind of a component declared "other".
_DECLARED: dict[ComponentKind, str] = {
    ComponentKind.PROXY: PROXY,
    ComponentKind.APP: APP,
    ComponentKind.MYSQL: MYSQL,
    ComponentKind.REDIS: REDIS,
}
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("mysql_", MYSQL),
    ("pg_", POSTGRES),
    ("postgres_", POSTGRES),
    ("redis_", REDIS),
    ("rabbitmq_", QUEUE),
    ("kafka_", QUEUE),
    ("nginx_", PROXY),
    ("envoy_", PROXY),
    ("haproxy_", PROXY),
    ("traefik_", PROXY),
)


@functools.cache
def compiled(pattern: str) -> re.Pattern[str]:
    """Pure: a catalogue regex, compiled once (case-insensitive)."""
    return re.compile(pattern, re.IGNORECASE)


def is_self_metric(name: str, kind: str | None = None) -> bool:
    """Pure: whether a series is the exporter's own, a position or a reservation, not
    health of ``kind``."""
    patterns = EXPORTER_SELF_METRICS + POSITION_METRICS + RESERVED_METRICS
    if kind is None or kind in _EXPORTED_KINDS:
        patterns = patterns + _EXPORTED_RUNTIME
    return any(compiled(p).search(name) for p in patterns)


def catalog_kinds(component: Component, metric_names: Iterable[str] = ()) -> tuple[str, ...]:
    """Pure: the catalogue kinds a component may fail as, its own kind first.

    A declared kind is taken as it is; a component declared "other" is read
    from its exporters' metric prefixes (``pg_*``: postgres).  Any component
    runs somewhere: the pod and node layers come last.
    """
    own = _DECLARED.get(component.kind)
    kinds: list[str] = [own] if own else []
    if own is None:
        for name in metric_names:
            for prefix, kind in _PREFIXES:
                if name.startswith(prefix) and kind not in kinds:
                    kinds.append(kind)
        if not kinds:
            kinds.append(APP)
    return (*kinds, POD, NODE)


def exporter_prefixes(kind: str) -> tuple[str, ...]:
    """Pure: the metric prefixes of ``kind``'s own exporters (``mysql_``: mysqld_exporter)."""
    return tuple(prefix for prefix, own in _PREFIXES if own == kind)


def harm_direction(name: str, kinds: Sequence[str]) -> str | None:
    """Pure: which way a metric of ``kinds`` moves when it is harm (``FailureMode.harm``).

    A state flag (``catalog.effect.is_state_flag``: ``..._status``,
    ``..._up``) is harm when it falls, an alarm flag (``is_alarm_flag``:
    ``rabbitmq_alarms_...``) when it rises; any other harm metric (lost or
    refused work) when it rises.  ``None``: the metric is no harm signature of these kinds.
    """
    for failure in modes_of(kinds):
        if any(compiled(p).search(name) for p in failure.harm):
            return "down" if is_state_flag(name) and not is_alarm_flag(name) else "up"
    return None


def modes_of(kinds: Sequence[str]) -> tuple[FailureMode, ...]:
    """Pure: the catalogue's modes of ``kinds``, in the order of the kinds."""
    return tuple(m for kind in kinds for m in FAILURE_MODES if m.kind == kind)
