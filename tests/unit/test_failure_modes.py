"""The failure-mode catalogue: well-formed, the mode it names, the dependency errors name.

All inputs are synthetic: component names, addresses and lines of our own.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

from diagnosis_operator.catalog.failure_modes import (
    FAILURE_MODES,
    KIND_CALLERS,
    KIND_PORTS,
    KINDS,
    catalog_kinds,
    is_self_metric,
)
from diagnosis_operator.catalog.modes_db import KIND_PORT_SOURCES
from diagnosis_operator.core.diagnosis.blame import (
    addresses,
    caller_blame,
    named_dependencies,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.modes import TRAFFIC_SURGE, root_failure_mode
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Anomaly,
    ClientPattern,
    RootCause,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from diagnosis_operator.report import render_html, render_markdown, result_from_json
from tests.unit.test_report_samples import full_incident

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
TS = grid_timestamps(window=WINDOW, step=15.0)
INCIDENT = T0 + 2000.0

# --------------------------------------------------------------------------- the catalogue


def test_every_mode_is_well_formed_and_cites_its_vendor_documentation() -> None:
    seen: set[tuple[str, str]] = set()
    for mode in FAILURE_MODES:
        assert mode.kind in KINDS, mode
        assert (mode.kind, mode.name) not in seen, f"{mode.kind}: {mode.name} twice"
        seen.add((mode.kind, mode.name))
        assert mode.sources, f"{mode.kind}: {mode.name} cites nothing"
        assert all(source.startswith("https://") for source in mode.sources), mode
        assert mode.metrics or mode.logs or mode.callers, f"{mode.name} has no signature"
        for pattern in (*mode.metrics, *mode.logs, *mode.callers):
            re.compile(pattern, re.IGNORECASE)
        assert all(p.startswith("^") for p in mode.metrics), "metric names match from the start"
    for patterns in KIND_CALLERS.values():
        for pattern in patterns:
            re.compile(pattern, re.IGNORECASE)
    assert set(KIND_PORTS) <= set(KINDS)
    assert set(KIND_PORT_SOURCES) == set(KIND_PORTS)


def test_every_kind_has_modes() -> None:
    assert {mode.kind for mode in FAILURE_MODES} == set(KINDS)


@pytest.mark.parametrize(
    ("name", "kind", "own"),
    [
        ("go_gc_duration_seconds", "mysql", True),
        ("process_cpu_seconds_total", "redis", True),
        ("mysql_exporter_scrapes_total", "mysql", True),
        ("pg_exporter_last_scrape_error", "postgres", True),
        ("promhttp_metric_handler_requests_total", "app", True),
        ("node_scrape_collector_duration_seconds", "node", True),
        ("process_cpu_seconds_total", "app", False),  # an application's own process
        ("mysql_global_status_threads_running", "mysql", False),
        ("redis_commands_duration_seconds_total", "redis", False),
        # positions (a redo log offset, a transaction id), not health
        ("mysql_global_status_innodb_lsn_last_checkpoint", "mysql", True),
        ("mysql_global_status_innodb_lsn_current", "mysql", True),
        ("mysql_global_status_innodb_max_trx_id", "mysql", True),
        ("mysql_global_status_innodb_checkpoint_age", "mysql", False),
        ("pg_stat_replication_pg_wal_lsn_diff", "postgres", False),  # a lag is health
        # an application's reserved address space and its limits, not health; its
        # resident memory is
        ("process_virtual_memory_bytes", "app", True),
        ("process_virtual_memory_max_bytes", "app", True),
        ("process_max_fds", "app", True),
        ("process_resident_memory_bytes", "app", False),
        ("process_open_fds", "app", False),
    ],
)
def test_exporter_self_metrics_are_not_health_signals(name: str, kind: str, own: bool) -> None:
    assert is_self_metric(name, kind) is own


def test_a_component_declared_other_is_read_from_its_exporters_prefixes() -> None:
    other = Component("orders-db", ComponentKind.OTHER, Labels({"job": "db"}))
    assert catalog_kinds(other, ["pg_stat_activity_count"])[0] == "postgres"
    assert catalog_kinds(other, ["rabbitmq_queue_messages_ready"])[0] == "queue"
    assert catalog_kinds(other, [])[0] == "app"
    mysql = Component("db", ComponentKind.MYSQL, Labels({"job": "db"}))
    assert catalog_kinds(mysql, ["pg_up"]) == ("mysql", "pod", "node")


# --------------------------------------------------------------------------- helpers


def _detection(component: str, metric: str, instance: str | None = None) -> Detection:
    labels = Labels({"instance": instance} if instance else {})
    signal = Signal(
        component, instance, metric, metric, SignalKind.GAUGE, metric, np.zeros(TS.size), labels
    )
    anomaly = Anomaly(
        component=component,
        signal=metric,
        instance=instance,
        onset=INCIDENT,
        peak_ts=INCIDENT,
        value=10.0,
        baseline=0.0,
        score=60.0,
        direction="up",
        query=metric,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=10.0)


def _logs(component: str, *lines: str, count: int = 10) -> ComponentLogs:
    events = tuple(
        read_event(component=component, instance=None, ts=INCIDENT + 5 * i, line=line, query="")
        for line in lines
        for i in range(count)
    )
    return ComponentLogs(component=component, events=events)


def _mode(
    kind: ComponentKind,
    *,
    metrics: tuple[str, ...] = (),
    own: tuple[str, ...] = (),
    callers: tuple[str, ...] = (),
) -> str | None:
    root = Component("store", kind, Labels({"job": "store"}))
    caller = Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("store",))
    topology = Topology(components=(caller, root))
    evidence = {
        "store": ComponentEvidence(
            component=root,
            detections=tuple(_detection("store", m) for m in metrics),
            logs=_logs("store", *own) if own else None,
        ),
        "svc": ComponentEvidence(
            component=caller,
            detections=(_detection("svc", "http_requests_total 5xx ratio"),),
            logs=_logs("svc", *callers) if callers else None,
        ),
    }
    cause = RootCause(component="store", kind=kind.value, instance=None, confidence=0.9, summary="")
    return root_failure_mode(topology=topology, evidence=evidence, root_cause=cause)


# --------------------------------------------------------------------------- the mode named

MYSQL_CASES = [
    (
        "lock contention",
        ("mysql_global_status_innodb_row_lock_current_waits",),
        (),
        ('{"level":"error","error":"Error 1213 (40001): Deadlock found when trying to get lock"}',),
    ),
    (
        "lock contention",
        ("mysql_global_status_threads_running",),
        (),
        ("SQLSTATE[HY000]: General error: 1205 Lock wait timeout exceeded",),
    ),
    (
        "connection exhaustion",
        ("mysql_global_status_threads_connected",),
        (),
        ("ERROR dao: Error 1040: Too many connections",),
    ),
    (
        "disk full",
        (),
        ("[ERROR] Disk got full writing 'shop.orders' (Errcode: 28 \"No space left on device\")",),
        (),
    ),
    ("slow queries", ("mysql_global_status_slow_queries",), ("# Query_time: 41.2",), ()),
    (
        # an idle snapshot transaction holds purge back: the history list grows
        "long transaction",
        ("mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len",),
        (
            'msg="information_schema.innodb_trx oldest" trx_state=RUNNING age_s=20000 '
            "trx_mysql_thread_id=9 command=Sleep history_list_length=9000000",
        ),
        (),
    ),
    (
        "buffer pool exhaustion",
        (
            "mysql_global_status_innodb_buffer_pool_wait_free",
            "mysql_global_status_innodb_buffer_pool_reads",
        ),
        (
            "[Warning] InnoDB: Difficult to find free blocks in the buffer pool "
            "(21 search iterations)! 0 failed attempts to flush a page!",
        ),
        (),
    ),
    (
        "lock contention",
        (),
        (),
        ("pymysql.err.OperationalError: (1205, 'Lock wait timeout exceeded')",),
    ),
    (
        # a primary demoted (or left read-only): every write refused, named by its callers
        "read-only",
        ("mysql_global_variables_super_read_only",),
        (),
        (
            "java.sql.SQLException: The MySQL server is running with the --super-read-only "
            "option so it cannot execute this statement",
        ),
    ),
]


@pytest.mark.parametrize(("want", "metrics", "own", "callers"), MYSQL_CASES)
def test_the_mysql_mode_whose_signatures_fit_best_is_named(
    want: str, metrics: tuple[str, ...], own: tuple[str, ...], callers: tuple[str, ...]
) -> None:
    got = _mode(ComponentKind.MYSQL, metrics=metrics, own=own, callers=callers)
    assert got is not None and got.startswith(want), got


@pytest.mark.parametrize(
    ("kind", "want", "metrics", "own", "callers"),
    [
        (
            ComponentKind.OTHER,
            "connection exhaustion",
            ("pg_stat_activity_count",),
            ("FATAL:  sorry, too many clients already",),
            (),
        ),
        (
            ComponentKind.OTHER,
            "replication lag",
            ("pg_stat_replication_pg_wal_lsn_diff",),
            ("ERROR: canceling statement due to conflict with recovery",),
            (),
        ),
        (
            ComponentKind.REDIS,
            "failover",
            ("redis_connected_slaves",),
            (),
            ("session lookup failed: CLUSTERDOWN The cluster is down",),
        ),
        (
            ComponentKind.REDIS,
            "memory pressure and evictions",
            ("redis_evicted_keys_total",),
            (),
            ("OOM command not allowed when used memory > 'maxmemory'",),
        ),
        (
            ComponentKind.REDIS,
            "slow command storm",
            ("redis_slowlog_length", "redis_commands_duration_seconds_total"),
            (),
            (),
        ),
        (
            ComponentKind.PROXY,
            "worker exhaustion",
            ("nginx_connections_active",),
            ("[alert] 7#7: 512 worker_connections are not enough",),
            (),
        ),
        (
            ComponentKind.APP,
            "memory leak",
            ("container_memory_working_set_bytes",),
            ("java.lang.OutOfMemoryError: Java heap space",),
            (),
        ),
        (ComponentKind.APP, "CPU burn", ("container_cpu_usage_seconds_total",), (), ()),
        (
            ComponentKind.APP,
            "crash loop",
            ("kube_pod_container_status_restarts_total",),
            ("Last State: Terminated, Reason: OOMKilled",),
            (),
        ),
        (
            # memory up to the limit, and the process's start-up line again and again
            ComponentKind.APP,
            "crash loop",
            ("container_memory_working_set_bytes", "process_resident_memory_bytes"),
            ("[INFO] Booting worker with pid: 7",),
            (),
        ),
        (
            # a provider's certificate expired: the app's outbound calls fail (Go's x509)
            ComponentKind.APP,
            "external dependency",
            ("http_requests_total",),
            (
                'send failed: Post "https://push.example/v3/send": tls: failed to verify '
                "certificate: x509: certificate has expired or is not yet valid",
            ),
            (),
        ),
        (
            # a carrier's resolver fails (glibc's getaddrinfo, as Python prints it)
            ComponentKind.APP,
            "external dependency",
            (),
            ("quote failed: [Errno -3] Temporary failure in name resolution",),
            (),
        ),
        (
            ComponentKind.APP,
            "node disk pressure",
            ("node_filesystem_avail_bytes",),
            ("write /var/cache/x: no space left on device",),
            (),
        ),
    ],
)
def test_each_kind_names_its_own_mode(
    kind: ComponentKind,
    want: str,
    metrics: tuple[str, ...],
    own: tuple[str, ...],
    callers: tuple[str, ...],
) -> None:
    got = _mode(kind, metrics=metrics, own=own, callers=callers)
    assert got is not None and got.startswith(want), got


def test_exporter_self_metrics_name_no_mode() -> None:
    # Only the exporter's Go runtime and scrapes moved: nothing says how MySQL failed.
    metrics = ("go_gc_duration_seconds", "process_cpu_seconds_total", "mysql_exporter_scrapes")
    assert _mode(ComponentKind.MYSQL, metrics=metrics) is None


def test_a_close_second_mode_is_named_too() -> None:
    got = _mode(
        ComponentKind.MYSQL,
        callers=(
            "Error 1213 (40001): Deadlock found when trying to get lock",
            "Error 1040: Too many connections",
        ),
    )
    assert got == "lock contention and connection exhaustion"


def test_clients_and_quiet_windows() -> None:
    topology = Topology(components=(Component("svc", ComponentKind.APP, Labels({"job": "s"})),))
    client = AbusiveClient(
        ip="198.51.100.7", reason="r", requests=90, pattern=ClientPattern.RETRY_LOOP
    )
    cause = RootCause(component=CLIENT_CAUSE, kind=None, instance=None, confidence=0.8, summary="")
    mode = root_failure_mode(topology=topology, evidence={}, root_cause=cause, clients=[client])
    assert mode == "retry loop"
    # the fleet's traffic with no single address (``surge.traffic_led``)
    fleet = root_failure_mode(topology=topology, evidence={}, root_cause=cause, clients=[])
    assert fleet == TRAFFIC_SURGE
    quiet = dataclasses.replace(cause, component=NO_INCIDENT)
    assert root_failure_mode(topology=topology, evidence={}, root_cause=quiet) is None


# --------------------------------------------------------------------------- attribution

STACK = Topology(
    components=(
        Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("store", "kv")),
        Component("store", ComponentKind.MYSQL, Labels({"job": "store"})),
        Component("kv", ComponentKind.REDIS, Labels({"job": "kv"})),
    )
)


def _named(line: str, **extra: ComponentEvidence) -> dict[str, dict[str, int]]:
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["svc"] = ComponentEvidence(
        component=STACK.get("svc"), logs=_logs("svc", line, count=30)
    )
    evidence.update(extra)
    return named_dependencies(topology=STACK, evidence=evidence, window=WINDOW)


def test_a_mysql_error_number_names_the_database() -> None:
    # The Go driver's format names neither "mysql" nor the component.
    line = (
        '{"level":"error","msg":"debit account",'
        '"error":"Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction"}'
    )
    named = _named(line)
    assert named == {"svc": {"store": 30, "kv": 0}}
    assert caller_blame(named) == {"store": 1.0, "kv": 0.0}
    assert _named('{"level":"error","msg":"PDOException: SQLSTATE[HY000] [1040] x"}') == {
        "svc": {"store": 30, "kv": 0}
    }


def test_a_redis_reply_names_the_cache() -> None:
    named = _named(
        '{"level":"error","msg":"READONLY You can\'t write against a read only replica."}'
    )
    assert named == {"svc": {"store": 0, "kv": 30}}


def test_an_address_names_the_dependency_whose_series_carry_its_host() -> None:
    store = ComponentEvidence(
        component=STACK.get("store"),
        detections=(_detection("store", "mysql_global_status_threads_running", "10.9.8.7:9104"),),
    )
    line = '{"level":"error","error":"dial tcp 10.9.8.7:3306: connect: connection refused"}'
    assert _named(line, store=store) == {"svc": {"store": 30, "kv": 0}}
    # An unknown host on a kind's default port: the one dependency of that kind.
    assert _named("ECONNREFUSED 10.77.0.3:6379") == {"svc": {"store": 0, "kv": 30}}
    # An address that belongs to neither names nothing.
    assert _named("upstream 10.1.1.1:8080 timed out") == {}


def test_the_old_words_still_name_their_dependency() -> None:
    assert _named('{"level":"error","msg":"redis timeout reading from socket"}') == {
        "svc": {"store": 0, "kv": 30}
    }


def test_an_error_number_shared_by_two_databases_of_one_kind_names_neither() -> None:
    stack = Topology(
        components=(
            Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("orders", "users")),
            Component("orders", ComponentKind.MYSQL, Labels({"job": "orders"})),
            Component("users", ComponentKind.MYSQL, Labels({"job": "users"})),
        )
    )
    users = ComponentEvidence(
        component=stack.get("users"),
        detections=(_detection("users", "mysql_global_status_threads_running", "10.0.0.5:9104"),),
    )

    def named(line: str) -> dict[str, dict[str, int]]:
        evidence = {c.name: ComponentEvidence(component=c) for c in stack}
        evidence["svc"] = ComponentEvidence(
            component=stack.get("svc"), logs=_logs("svc", line, count=30)
        )
        evidence["users"] = users
        return named_dependencies(topology=stack, evidence=evidence, window=WINDOW)

    assert named("Error 1213 (40001): Deadlock found when trying to get lock") == {}
    assert named("Error 1213 (40001): Deadlock found; db=10.0.0.5:3306") == {
        "svc": {"orders": 0, "users": 30}
    }


def test_addresses_are_read_in_v4_v6_and_host_forms() -> None:
    assert addresses("dial tcp [2001:db8::5]:5432: refused; redis-0.cache:6379") == [
        ("2001:db8::5", 5432),
        ("redis-0.cache", 6379),
    ]


# --------------------------------------------------------------------------- the result


def test_the_result_and_the_report_name_the_failure_mode() -> None:
    result = full_incident()
    named = dataclasses.replace(
        result, root_cause=dataclasses.replace(result.root_cause, failure_mode="lock contention")
    )
    shown = named.to_json()
    assert shown["rootCause"]["failureMode"] == "lock contention"
    assert result_from_json(json.loads(json.dumps(shown))) == named
    assert "**Root cause**: db: lock contention, kind mysql" in render_markdown(named)
    assert "db: lock contention, kind mysql" in render_html(named)
