"""A database's own stall: a global read lock queued behind a long statement, a full redo log.

Evidence, series and processlists are built by hand from the vendors' vocabulary (mysqld_
exporter's names, MariaDB's underscored thread states, Percona's checkpoint status); nothing
here comes from a held-out bundle.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.api import KillMysqlQueriesPolicy
from diagnosis_operator.catalog.failure_modes import harm_direction, is_self_metric, modes_of
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.flush_point import past_flush_point
from diagnosis_operator.core.diagnosis.modes import mode_name, rank_modes
from diagnosis_operator.core.diagnosis.plan_kill import server_lock_waiters, waits_for_locks
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.remediation.killer import select_victims
from diagnosis_operator.core.remediation.lock_holders import server_lock_blockers
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import ProcessRow
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from tests.unit.mysql_evidence import planned_for_root, rising

STACK = Topology(
    components=(
        Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
    )
)
ONSET = 1_960_000_600.0
THREADS = "mysql_info_schema_processlist_threads"
CONNECTIONS = ["mysql_global_status_threads_connected", "mysql_global_status_max_used_connections"]


def _threads_in(state: str, *, command: str = "query", level: float = 40.0) -> Detection:
    found = rising(
        component="db", instance="10.0.0.5:9104", name=THREADS, onset=ONSET, level=level, score=40
    )
    labels = Labels({"job": "db", "instance": "10.0.0.5:9104", "command": command, "state": state})
    signal = Signal(
        "db", "10.0.0.5:9104", THREADS, THREADS, SignalKind.GAUGE, "q", found.signal.values, labels
    )
    return Detection(signal=signal, anomaly=found.anomaly, exceedances=100, peak=level)


def _db(*detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get("db"), detections=detections)


# --- a global read lock queued behind a long statement ------------------------------


def test_threads_queued_behind_a_server_lock_name_lock_contention_not_connections() -> None:
    states = ["waiting_for_global_read_lock", "waiting_for_table_flush"]
    fits = rank_modes(
        modes_of(["mysql"]),
        metric_names=[*CONNECTIONS, THREADS],
        own_lines=[],
        caller_lines=[],
        states=states,
    )
    assert mode_name(fits) == "lock contention"
    # threads busy in ordinary states say nothing of a lock
    busy = rank_modes(
        modes_of(["mysql"]),
        metric_names=[*CONNECTIONS, THREADS],
        own_lines=[],
        caller_lines=[],
        states=["sending_data", "executing"],
    )
    assert mode_name(busy) == "connection exhaustion"


def test_processlist_waiters_on_a_global_read_lock_call_for_the_blocker_kill() -> None:
    # no slow log, no row-lock series: only the processlist's states say it
    db = _db(
        _threads_in("Waiting for global read lock"),
        _threads_in("Waiting for table flush", level=60),
    )
    assert server_lock_waiters(db) == ["Waiting for global read lock", "Waiting for table flush"]
    assert waits_for_locks(db)
    (kill,) = planned_for_root(topology=STACK, component="db", evidence=db)
    assert (kill.action, kill.target) == (ActionType.KILL_MYSQL_QUERIES, "db")
    assert kill.params == {"matchBlocker": True, "mode": "connection"}
    assert "table flush" in kill.reason and "victims" not in kill.reason.split(";")[0]


def test_threads_in_ordinary_states_call_for_no_kill() -> None:
    db = _db(_threads_in("sending_data"), _threads_in("executing"))
    assert server_lock_waiters(db) == [] and not waits_for_locks(db)
    assert planned_for_root(topology=STACK, component="db", evidence=db) == []


def _row(thread: int, command: str, time: float, state: str | None, info: str | None) -> ProcessRow:
    return ProcessRow(
        id=thread,
        user="app" if thread > 10 else "bi",
        host="10.0.0.7:5000",
        db="crm",
        command=command,
        time=time,
        state=state,
        info=info,
    )


REPORT = _row(
    5, "Query", 2400.0, "Sending data", "SELECT region, SUM(total) FROM deals GROUP BY region"
)
FTWRL = _row(6, "Query", 300.0, "Waiting for table flush", "FLUSH TABLES WITH READ LOCK")
WRITERS = [
    _row(
        20 + i,
        "Query",
        290.0 - i,
        "Waiting for global read lock",
        "UPDATE deals SET a=1 WHERE id=1",
    )
    for i in range(4)
]
READERS = [
    _row(40 + i, "Query", 280.0 - i, "Waiting for table flush", "SELECT * FROM deals WHERE id=2")
    for i in range(4)
]
IDLE_POOL = _row(8, "Sleep", 900.0, None, None)
FRESH = _row(9, "Query", 0.2, "executing", "SELECT 1")


def test_a_table_flush_waits_for_the_statement_running_since_before_it() -> None:
    processes = [REPORT, FTWRL, *WRITERS, *READERS, IDLE_POOL, FRESH]
    found = server_lock_blockers(processes)
    # the long report keeps the tables open; the idle pool connection holds nothing
    assert list(found) == [5] and "table flush" in found[5]
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(policy=spec, proposal={"matchBlocker": True, "mode": "connection"})
    chosen = select_victims(
        processes=processes, transactions=[], policy=policy, own_connection_id=500
    )
    assert [v.row.id for v in chosen.victims] == [5]


def test_a_global_read_lock_held_by_an_idle_backup_still_names_the_idle_holder() -> None:
    holder = _row(7, "Sleep", 400.0, None, None)
    assert list(server_lock_blockers([holder, *WRITERS, FRESH])) == [7]


# --- a full redo log --------------------------------------------------------------------

T0 = 1_960_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + 2400.0), step=15.0)
DB = Labels({"job": "db", "instance": "10.0.0.5:9104"})


def _gauge(name: str, values: np.ndarray) -> Signal:
    return Signal("db", "10.0.0.5:9104", name, name, SignalKind.GAUGE, name, values, DB)


def _age(share_from_half: float, capacity: float) -> np.ndarray:
    values = np.full(TS.size, 0.2 * capacity)
    values[TS.size // 2 :] = share_from_half * capacity
    return values


def test_a_checkpoint_age_past_the_synchronous_flush_point_is_harm() -> None:
    size = 2 * 48 * 2**20  # MySQL 5.7's two 48 MiB files
    files = [
        _gauge("mysql_global_variables_innodb_log_file_size", np.full(TS.size, size / 2)),
        _gauge("mysql_global_variables_innodb_log_files_in_group", np.full(TS.size, 2.0)),
    ]
    age = _gauge("mysql_global_status_innodb_checkpoint_age", _age(0.85, size))
    (found,) = past_flush_point(signals=[age, *files], timestamps=TS)
    assert found.anomaly.onset == TS[TS.size // 2] and found.at_declared_maximum
    assert _db(found).harm == (found,) and _db(found).has_symptom
    # busy but flushing in time: below the point, only load
    calm = _gauge("mysql_global_status_innodb_checkpoint_age", _age(0.6, size))
    assert past_flush_point(signals=[calm, *files], timestamps=TS) == []


def test_the_flush_point_is_read_against_the_max_age_the_server_publishes() -> None:
    max_age = _gauge("mysql_global_status_innodb_checkpoint_max_age", np.full(TS.size, 8e7))
    # 0.9 of the max age is past the files' 0.76 but short of the synchronous 15/16
    near = _gauge("mysql_global_status_innodb_checkpoint_age", _age(0.9, 8e7))
    assert past_flush_point(signals=[near, max_age], timestamps=TS) == []
    full = _gauge("mysql_global_status_innodb_checkpoint_age", _age(0.97, 8e7))
    assert len(past_flush_point(signals=[full, max_age], timestamps=TS)) == 1
    # always past it in the window: no change to date
    always = _gauge("mysql_global_status_innodb_checkpoint_age", np.full(TS.size, 7.9e7))
    assert past_flush_point(signals=[always, max_age], timestamps=TS) == []


def test_writes_waiting_for_the_redo_log_are_harm_and_name_the_checkpoint_stall() -> None:
    assert harm_direction("mysql_global_status_innodb_log_waits", ("mysql",)) == "up"
    assert (
        harm_direction(
            "mysql_info_schema_innodb_metrics_log_log_on_file_space_waits_total", ("mysql",)
        )
        == "up"
    )
    moved = [
        "mysql_info_schema_innodb_metrics_log_log_lsn_checkpoint_age",
        "mysql_global_status_innodb_log_waits",
        "mysql_global_status_innodb_buffer_pool_pages_flushed",
        "mysql_global_status_innodb_buffer_pool_wait_free",
        *CONNECTIONS,
    ]
    fits = rank_modes(modes_of(["mysql"]), metric_names=moved, own_lines=[], caller_lines=[])
    assert mode_name(fits) == "checkpoint stall (redo log full)"
    line = (
        "2031-04-02T10:00:01.000000Z 0 [Warning] [MY-013865] [InnoDB] Redo log writer is "
        "waiting for a new redo log file. Consider increasing innodb_redo_log_capacity."
    )
    by_line = rank_modes(modes_of(["mysql"]), metric_names=[], own_lines=[line], caller_lines=[])
    assert mode_name(by_line) == "checkpoint stall (redo log full)"


def test_redo_log_positions_are_not_evidence_but_the_checkpoint_age_is() -> None:
    for position in (
        "mysql_global_status_innodb_redo_log_current_lsn",
        "mysql_global_status_innodb_redo_log_checkpoint_lsn",
        "mysql_global_status_innodb_redo_log_flushed_to_disk_lsn",
        "mysql_info_schema_innodb_metrics_log_log_lsn_current",
        "mysql_info_schema_innodb_metrics_recovery_log_lsn_last_checkpoint",
    ):
        assert is_self_metric(position, "mysql"), position
    assert not is_self_metric(
        "mysql_info_schema_innodb_metrics_log_log_lsn_checkpoint_age", "mysql"
    )
    assert not is_self_metric("mysql_global_status_innodb_checkpoint_age", "mysql")
