"""Whom a MySQL kill ends: the one holding the others back, never its victims, else no one.

Four rules, each with evidence and processlists built by hand (nothing comes from a
bundle):

* a lock whose holder changes at nearly every sighting has no single blocker (a hot
  row's queue): no kill; and live, a holder running the very statement its waiters
  wait to run heads that queue and is not selected;
* slow statements that read few rows waited for something else (a starved buffer
  pool, the disk): victims of a capacity problem, no kill;
* an idle open transaction while the InnoDB history list length grows holds purge
  back: the kill ends idle open transactions (its connection), and the executor
  never takes an idle connection without a transaction.
"""

from __future__ import annotations

from diagnosis_operator.api import KillMysqlQueriesPolicy
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.plan_kill import (
    history_grows,
    idle_transactions,
    no_single_blocker,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection
from diagnosis_operator.core.remediation.killer import (
    heads_a_queue,
    idle_open_transactions,
    lock_blockers,
    select_victims,
)
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import InnodbTransaction, KillMode, ProcessRow
from diagnosis_operator.models.findings import ActionType, ProposedRemediation
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from tests.unit.mysql_evidence import evidence_of, planned_for_root, rising

T0 = 1_960_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
INCIDENT = T0 + 1800.0
STACK = Topology(
    components=(
        Component("web", ComponentKind.APP, Labels({"job": "web"}), ("rdb",)),
        Component("rdb", ComponentKind.MYSQL, Labels({"job": "rdb"})),
    )
)
OWN = 900


def _rdb(lines: list[str], detections: tuple[Detection, ...] = ()) -> ComponentEvidence:
    return evidence_of(
        topology=STACK,
        component="rdb",
        lines=lines,
        window=WINDOW,
        first=INCIDENT,
        spacing=30.0,
        detections=detections,
    )


def _rising(name: str) -> Detection:
    return rising(
        component="rdb", instance="10.7.0.2:9104", name=name, onset=INCIDENT, level=50.0, score=40.0
    )


def _kills(rdb: ComponentEvidence) -> list[ProposedRemediation]:
    return planned_for_root(topology=STACK, component="rdb", evidence=rdb)


# --------------------------------------------------------------------- a hot row


def _watch(pid: int, *, command: str = "Query", age: int = 1) -> str:
    return (
        f'level=warn msg="sys.innodb_lock_waits" rows=90 blocking_pid={pid} '
        f"blocking_command={command} blocking_trx_age={age}s wait_age_max=50s"
    )


LOCK_WAITS = (_rising("mysql_global_status_innodb_row_lock_current_waits"),)


def test_no_single_blocker_needs_enough_sightings_and_no_holder_named_in_half() -> None:
    assert no_single_blocker(["11", "12", "13"])
    assert no_single_blocker([str(n) for n in range(20)] + ["3"])  # a pooled thread twice
    assert not no_single_blocker(["11", "12"])  # too few sightings to say
    assert not no_single_blocker(["11", "11", "12"])  # one holder in two of three
    assert not no_single_blocker(["7"] * 10 + [str(n) for n in range(10)])  # half: it blocks
    assert not no_single_blocker([])


def test_a_lock_whose_holder_changes_at_every_sighting_gets_no_kill() -> None:
    queue = _rdb([_watch(5000 + 37 * i) for i in range(12)], detections=LOCK_WAITS)
    assert _kills(queue) == []
    # lock-wait timeouts from the same queue change nothing: still no one to end
    with_timeouts = _rdb(
        [_watch(5000 + 37 * i) for i in range(12)]
        + ["[Warning] Lock wait timeout exceeded; try restarting transaction"] * 8,
        detections=LOCK_WAITS,
    )
    assert _kills(with_timeouts) == []


def test_one_holder_named_again_and_again_is_the_blocker_to_end() -> None:
    held = _rdb([_watch(88213, command="Sleep", age=60 * i) for i in range(12)], LOCK_WAITS)
    (kill,) = _kills(held)
    assert (kill.action, kill.target) == (ActionType.KILL_MYSQL_QUERIES, "rdb")
    assert kill.params == {"matchBlocker": True, "mode": "connection"}
    assert "88213" in kill.reason
    # two sightings are too few to call the holder changing: the blocker kill stays
    (kill,) = _kills(_rdb([_watch(1), _watch(2)], LOCK_WAITS))
    assert kill.params.get("matchBlocker") is True


# --------------------------------------------------------------------- a starved server


def _slow(*, query_time: float, examined: int, statement: str) -> str:
    return (
        "# User@Host: app[app] @  [10.7.1.9]\n"
        f"# Query_time: {query_time:.6f}  Lock_time: 0.000020  Rows_sent: 1  "
        f"Rows_examined: {examined}\nSET timestamp=1;\n{statement};"
    )


STATEMENTS = (
    "SELECT budget FROM pacing WHERE campaign_id = {n}",
    "SELECT SUM(clicks) FROM daily WHERE campaign_id = {n}",
    "INSERT INTO raw (campaign_id, cost) VALUES ({n}, 3)",
)


def test_slow_statements_that_read_few_rows_are_victims_and_get_no_kill() -> None:
    starved = _rdb(
        [
            _slow(query_time=1.0 + 0.1 * i, examined=i * 20, statement=s.format(n=i))
            for i in range(12)
            for s in STATEMENTS
        ]
    )
    assert starved.slow_queries
    assert _kills(starved) == []


def test_statements_that_read_many_rows_keep_the_busy_time_kill_aimed_at_them_only() -> None:
    scans = [
        _slow(query_time=20.0 + i, examined=2_400_000, statement="SELECT * FROM raw WHERE note = 1")
        for i in range(6)
    ]
    cheap = [
        _slow(query_time=1.5, examined=4, statement=STATEMENTS[0].format(n=i)) for i in range(9)
    ]
    (kill,) = _kills(_rdb(scans + cheap))
    # the busy time comes from the scans, not from the 1.5 s lookups that waited behind them
    assert kill.params["busyTime"] == 16
    assert kill.params["matchInfo"].startswith("SELECT * FROM raw WHERE note")
    assert "9 slow statement(s) read few rows" in kill.reason


def test_connections_that_ran_out_keep_a_kill_of_long_holders_not_of_the_cheap_slow_ones() -> None:
    cheap = [
        _slow(query_time=1.2, examined=3, statement=STATEMENTS[1].format(n=i)) for i in range(6)
    ]
    full = ["[Warning] Aborted connection 0 to db: 'unconnected' (Too many connections)"] * 10
    (kill,) = _kills(_rdb(cheap + full))
    assert kill.params == {"busyTime": 30}


# --------------------------------------------------------------------- purge held back


def _trx_watch(thread: int, *, age: int, history: int, command: str = "Sleep") -> str:
    return (
        'level=warn msg="information_schema.innodb_trx oldest" trx_state=RUNNING '
        f"age_s={age} trx_mysql_thread_id={thread} user=bi command={command} "
        f"trx_rows_locked=0 history_list_length={history}"
    )


def test_an_idle_open_transaction_while_history_grows_is_killed_by_its_connection() -> None:
    lines = [_trx_watch(4242, age=7200 + 120 * i, history=900_000 + 50_000 * i) for i in range(10)]
    rdb = _rdb(lines)
    assert history_grows(rdb)
    assert [(t.thread, t.age) for t in idle_transactions(rdb)] == [("4242", 7200 + 120 * 9)]
    (kill,) = _kills(rdb)
    assert (kill.action, kill.target) == (ActionType.KILL_MYSQL_QUERIES, "rdb")
    assert kill.params == {"matchBlocker": True, "mode": "connection", "idleTime": 300}
    assert "4242" in kill.reason and "history list length" in kill.reason


def test_the_history_series_rising_says_purge_falls_behind_too() -> None:
    series = (_rising("mysql_info_schema_innodb_metrics_transaction_trx_rseg_history_len"),)
    rdb = _rdb([_trx_watch(77, age=3600, history=5000)] * 3, detections=series)
    assert history_grows(rdb)
    assert _kills(rdb)[0].params.get("idleTime") == 300


def test_no_kill_without_growth_without_idleness_or_for_a_young_transaction() -> None:
    flat = _rdb([_trx_watch(4242, age=7200 + 120 * i, history=900_000) for i in range(10)])
    assert not history_grows(flat) and _kills(flat) == []
    busy = _rdb(
        [_trx_watch(4242, age=7200, history=10_000 * (i + 1), command="Query") for i in range(5)]
    )
    assert idle_transactions(busy) == [] and _kills(busy) == []
    young = _rdb([_trx_watch(4242, age=20 + i, history=10_000 * (i + 1)) for i in range(5)])
    assert idle_transactions(young) == [] and _kills(young) == []


def _row(thread: int, *, command: str, time: float) -> ProcessRow:
    return ProcessRow(
        id=thread,
        user="bi" if thread == 4242 else "app",
        host=f"10.7.2.{thread % 250}:50412",
        db="billing",
        command=command,
        time=time,
        state="",
        info=None if command == "Sleep" else "SELECT 1",
    )


SNAPSHOT = _row(4242, command="Sleep", time=20_000.0)  # idle in its open transaction
POOLED = _row(51, command="Sleep", time=900.0)  # idle, no transaction: holds nothing
RECENT = _row(52, command="Sleep", time=40.0)  # idle in a transaction for 40 s
RUNNING = _row(53, command="Query", time=2.0)
TRANSACTIONS = [
    InnodbTransaction(thread_id=4242, rows_modified=0, state="RUNNING", started=T0 - 21_000.0),
    InnodbTransaction(thread_id=52, rows_modified=1, state="RUNNING", started=T0 - 45.0),
    InnodbTransaction(thread_id=53, rows_modified=0, state="RUNNING", started=T0 - 2.0),
]


def test_the_executor_ends_only_idle_open_transactions_idle_longer_than_idle_time() -> None:
    rows = [SNAPSHOT, POOLED, RECENT, RUNNING]
    assert set(idle_open_transactions(transactions=TRANSACTIONS, processes=rows)) == {4242, 52}
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(
        policy=spec, proposal={"matchBlocker": True, "mode": "connection", "idleTime": 300}
    )
    assert policy.match_blocker and policy.idle_time == 300 and policy.busy_time is None
    assert policy.mode is KillMode.CONNECTION
    chosen = select_victims(
        processes=rows, transactions=TRANSACTIONS, policy=policy, own_connection_id=OWN
    )
    assert [v.row.id for v in chosen.victims] == [4242]
    assert "open transaction" in chosen.victims[0].reason
    # the policy's own idle time is never lowered by the proposal's
    stricter = KillMysqlQueriesPolicy.model_validate({"match": {"idleTime": 86_400}})
    strict = kill_policy_for(
        policy=stricter, proposal={"matchBlocker": True, "mode": "connection", "idleTime": 300}
    )
    assert strict.idle_time == 86_400
    none = select_victims(
        processes=rows, transactions=TRANSACTIONS, policy=strict, own_connection_id=OWN
    )
    assert none.victims == ()


def test_with_transactions_waiting_for_locks_idle_time_does_not_widen_the_blocker_match() -> None:
    waiting = [
        *TRANSACTIONS,
        InnodbTransaction(
            thread_id=60, rows_modified=0, state="LOCK WAIT", started=T0 - 30.0, waiting_for=(53,)
        ),
    ]
    rows = [SNAPSHOT, POOLED, RECENT, RUNNING, _row(60, command="Query", time=30.0)]
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(
        policy=spec, proposal={"matchBlocker": True, "mode": "connection", "idleTime": 300}
    )
    chosen = select_victims(
        processes=rows, transactions=waiting, policy=policy, own_connection_id=OWN
    )
    # the named holder (53) is busy, not idle: with idleTime nothing matches, and the
    # idle snapshot that blocks no one's lock is not taken in its place
    assert chosen.victims == ()


HOT = "UPDATE inventory SET reserved = reserved + 1 WHERE sku_id = {n}"


def _updating(thread: int, *, time: float, info: str) -> ProcessRow:
    return ProcessRow(
        id=thread,
        user="app",
        host=f"10.7.3.{thread % 250}:41000",
        db="shop",
        command="Query",
        time=time,
        state="updating",
        info=info,
    )


def test_a_holder_running_its_waiters_own_statement_heads_a_queue_and_is_not_killed() -> None:
    holder = _updating(70, time=0.4, info=HOT.format(n=88))
    waiters = [_updating(71 + i, time=10.0 + i, info=HOT.format(n=88)) for i in range(6)]
    assert heads_a_queue(holder, waiters)
    transactions = [
        InnodbTransaction(thread_id=70, rows_modified=1, state="RUNNING", started=T0 - 1.0),
        *(
            InnodbTransaction(
                thread_id=row.id,
                rows_modified=0,
                state="LOCK WAIT",
                started=T0 - row.time,
                waiting_for=(70,),
            )
            for row in waiters
        ),
    ]
    assert lock_blockers(transactions=transactions, processes=[holder, *waiters]) == {}
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(policy=spec, proposal={"matchBlocker": True, "mode": "connection"})
    chosen = select_victims(
        processes=[holder, *waiters],
        transactions=transactions,
        policy=policy,
        own_connection_id=OWN,
    )
    assert chosen.victims == ()
    # a holder running something else (a long report) is the blocker, and an idle
    # one too: neither is one of its waiters
    report = _updating(70, time=95.0, info="SELECT * FROM inventory WHERE note LIKE '%x%'")
    assert not heads_a_queue(report, waiters)
    assert set(lock_blockers(transactions=transactions, processes=[report, *waiters])) == {70}
    idle = ProcessRow(
        id=70,
        user="ops",
        host="10.7.3.9:1",
        db="shop",
        command="Sleep",
        time=80.0,
        state="",
        info=None,
    )
    assert not heads_a_queue(idle, waiters)
