"""A runaway statement seen only in the processlist: killed, aimed at it, never at its victims.

mysqld_exporter's processlist gauges (threads and their summed seconds by command and
state, ``catalog.runaway``), built by hand (nothing comes from a bundle):

* threads running a statement in a state of work for tens of seconds, their age
  growing (still running, not yet in the slow log), while the server's row reads
  rose: a runaway; the kill's busy time is below its age, and the executor then
  matches it and not the short statements waiting behind it;
* the same ages while the server reads fewer rows (a throttled disk, a stalled
  server: the workload's own statements slowed by something else): no kill;
* a stream of short statements each slow for a few seconds (mean age flat), threads
  waiting in a commit state, a workload whose statements typically run long: no kill;
* lock contention keeps its kill of the blocker.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from diagnosis_operator.api import KillMysqlQueriesPolicy
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.long_running import LongRunning, long_running, reads_rose
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.remediation.killer import select_victims
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import ProcessRow
from diagnosis_operator.models.findings import ActionType, Anomaly, ProposedRemediation
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from tests.unit.mysql_evidence import evidence_of, planned_for_root

T0 = 1_970_000_000.0
STEP = 15.0
STEPS = 24
TIMES = T0 + STEP * np.arange(STEPS, dtype=np.float64)
ONSET = 12  # the step the trouble begins at
WINDOW = Window(start=T0, end=T0 + STEP * STEPS)
DB = "10.9.0.5:9104"
STACK = Topology(
    components=(
        Component("shop", ComponentKind.APP, Labels({"job": "shop"}), ("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
    )
)
NAN = float("nan")


def _gauge(name: str, state: str, values: list[float], command: str = "Query") -> Signal:
    labels = Labels({"command": command, "state": state, "instance": DB})
    return Signal("db", DB, name, name, SignalKind.GAUGE, "q", np.array(values), labels)


def _group(state: str, threads: list[float], seconds: list[float], **kw: str) -> list[Signal]:
    """The processlist gauges of one (command, state): its thread count and summed seconds."""
    return [
        _gauge("mysql_info_schema_processlist_threads", state, threads, **kw),
        _gauge("mysql_info_schema_processlist_seconds", state, seconds, **kw),
    ]


def _report(
    state: str = "sending_data", *, start: float = 12.0, onset: int = ONSET
) -> list[Signal]:
    """Three sessions of a long statement from ``onset``, each ``start`` s old when first seen."""
    threads = [NAN] * onset + [3.0] * (STEPS - onset)
    seconds = [NAN] * onset + [3 * (start + STEP * k) for k in range(STEPS - onset)]
    return _group(state, threads, seconds)


def _short_statements(age: float) -> list[Signal]:
    """Ten threads of short statements at every scrape, each ``age`` s old (a flat mean)."""
    return _group("optimizing", [10.0] * STEPS, [10.0 * age] * STEPS)


def _changed(name: str, handler: str, direction: str) -> Detection:
    signal = Signal(
        "db", DB, name, name.removesuffix(" rate"), SignalKind.RATE, "q", np.zeros(STEPS),
        Labels({"handler": handler, "instance": DB}),
    )  # fmt: skip
    anomaly = Anomaly(
        component="db",
        signal=name,
        instance=DB,
        onset=float(TIMES[ONSET]),
        peak_ts=float(TIMES[ONSET]),
        value=2000.0 if direction == "up" else 1.0,
        baseline=100.0,
        score=60.0,
        direction=direction,
        query="q",
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=anomaly.value)


READS_ROSE = (_changed("mysql_global_status_handlers_total rate", "read_next", "up"),)
READS_FELL = (
    _changed("mysql_global_status_handlers_total rate", "read_next", "down"),
    _changed("mysql_global_status_innodb_buffer_pool_read_requests rate", "", "down"),
)


def _db(
    signals: list[Signal], detections: tuple[Detection, ...], lines: tuple[str, ...] = ()
) -> ComponentEvidence:
    ev = evidence_of(
        topology=STACK,
        component="db",
        lines=list(lines),
        window=WINDOW,
        first=float(TIMES[ONSET]),
        spacing=5.0,
        detections=detections,
    )
    return replace(ev, long_running=long_running(signals, TIMES))


def _kills(ev: ComponentEvidence) -> list[ProposedRemediation]:
    return planned_for_root(topology=STACK, component="db", evidence=ev)


# --------------------------------------------------------------------- the runaway


def test_statements_running_tens_of_seconds_and_growing_are_long_running() -> None:
    found = long_running(_report() + _short_statements(0.3), TIMES)
    assert len(found) == 1
    run = found[0]
    assert isinstance(run, LongRunning)
    assert (run.command, run.state, run.threads) == ("Query", "sending_data", 3)
    assert run.typical == 0.3
    assert run.youngest == 12.0 and run.oldest == 12.0 + STEP * (STEPS - ONSET - 1)


def test_a_runaway_consuming_the_server_gets_a_busy_time_kill_below_its_age() -> None:
    kills = _kills(_db(_report(), READS_ROSE))
    assert [(k.action, k.target) for k in kills] == [(ActionType.KILL_MYSQL_QUERIES, "db")]
    busy = kills[0].params["busyTime"]
    assert 1 <= busy < 12.0
    assert "matchBlocker" not in kills[0].params
    assert "sending_data" in kills[0].reason


def test_the_kill_matches_the_runaway_and_not_the_short_statements_waiting_behind_it() -> None:
    kill = _kills(_db(_report(), READS_ROSE))[0]
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 1}})
    policy = kill_policy_for(policy=spec, proposal=kill.params)
    report = "SELECT a.customer_id, SUM(b.total) FROM orders a JOIN orders b ON a.customer_id"
    rows = [
        ProcessRow(id=i, user="app", host=f"10.9.1.{i}:4000", db="shop", command="Query",
                   time=t, state="Sending data", info=info)
        for i, t, info in (
            (11, 95.0, report), (12, 40.0, report), (13, 12.0, report),
            (21, 0.0, "SELECT * FROM items WHERE id = 7"),
            (22, 1.0, "SELECT * FROM orders WHERE customer_id = 9"),
        )
    ]  # fmt: skip
    chosen = select_victims(processes=rows, transactions=[], policy=policy, own_connection_id=1)
    assert {v.row.id for v in chosen.victims} == {11, 12, 13}


# --------------------------------------------------------------------- not a runaway


def test_the_same_ages_while_the_server_reads_less_are_victims_of_a_stall_no_kill() -> None:
    """A throttled disk or a stalled server: the workload's statements age, reads fall."""
    assert not reads_rose(READS_FELL)
    assert _kills(_db(_report(), READS_FELL)) == []
    assert _kills(_db(_report(), ())) == []


def test_short_statements_slow_for_seconds_are_not_long_running() -> None:
    """Ordinary statements slowed to 4 s each: their mean age stays flat, below ten seconds."""
    slowed = _group("sending_data", [10.0] * STEPS, [10.0 * (0.2 if i < ONSET else 4.0)
                                                     for i in range(STEPS)])  # fmt: skip
    assert long_running(slowed, TIMES) == ()
    assert _kills(_db(slowed, READS_ROSE)) == []


def test_statements_old_but_no_longer_growing_are_not_still_running() -> None:
    """A mean age of 30 s that stays flat: a stream of 30 s statements, not one runaway."""
    flat = _group("sending_data", [NAN] * ONSET + [3.0] * (STEPS - ONSET),
                  [NAN] * ONSET + [90.0] * (STEPS - ONSET))  # fmt: skip
    assert long_running(flat, TIMES) == ()


def test_threads_waiting_in_a_commit_or_lock_state_are_not_runaways() -> None:
    for state in ("waiting_for_handler_commit", "query_end", "waiting_for_table_metadata_lock"):
        assert long_running(_report(state), TIMES) == ()
        assert _kills(_db(_report(state), READS_ROSE)) == []


def test_a_workload_whose_statements_typically_run_long_needs_ten_times_that() -> None:
    """Batch statements of 5 s at the window's beginning: 20-50 s is not a runaway, 60 s is."""
    usual = _group("creating_sort_index", [2.0] * STEPS, [10.0] * STEPS)
    late = STEPS - 3  # seen at the last three scrapes
    assert long_running(_report(start=20.0, onset=late) + usual, TIMES) == ()
    assert len(long_running(_report(start=60.0, onset=late) + usual, TIMES)) == 1
    assert len(long_running(_report(start=20.0, onset=late), TIMES)) == 1


def test_idle_threads_and_other_commands_are_not_counted() -> None:
    threads = [NAN] * ONSET + [3.0] * (STEPS - ONSET)
    seconds = [NAN] * ONSET + [3 * (12.0 + STEP * k) for k in range(STEPS - ONSET)]
    assert long_running(_group("", threads, seconds, command="Sleep"), TIMES) == ()


# --------------------------------------------------------------------- locks keep theirs


def test_lock_contention_keeps_its_kill_of_the_blocker() -> None:
    deadlocks = tuple(
        f"2031-01-01T00:00:{i:02d} 7 [Note] InnoDB: Transactions deadlock detected, dumping "
        "detailed information."
        for i in range(6)
    )
    kills = _kills(_db(_report(), READS_ROSE, deadlocks))
    assert [k.params.get("matchBlocker") for k in kills] == [True]
