"""Kill the blocker, not its victims: lock contention from evidence to the thread killed.

Evidence and processlists are built by hand; nothing here comes from a bundle.
A statement that spent its time waiting for row locks and read few rows is a
victim; the transaction the victims wait on (named by the lock-wait tables, or
idle in a transaction older than every waiter) is the one to end.
"""

from __future__ import annotations

from diagnosis_operator.api import KillMysqlQueriesPolicy
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.explain.recommendations import recommendations
from diagnosis_operator.core.diagnosis.logs import parse_slow_query
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT
from diagnosis_operator.core.diagnosis.signal_types import Detection
from diagnosis_operator.core.remediation.killer import kill_command, lock_blockers, select_victims
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import (
    InnodbTransaction,
    KillMode,
    KillPolicy,
    ProcessRow,
    ServerFlavor,
    ServerInfo,
)
from diagnosis_operator.models.findings import (
    ActionType,
    Candidate,
    ProposedRemediation,
    RootCause,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from tests.unit.mysql_evidence import evidence_of, planned_for_root, rising

T0 = 1_950_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
INCIDENT = T0 + 1800.0
STACK = Topology(
    components=(
        Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("store",)),
        Component("store", ComponentKind.MYSQL, Labels({"job": "store"})),
    )
)
OWN = 500


# --------------------------------------------------------------------- evidence


def _slow(*, query_time: float, lock_time: float, examined: int, statement: str) -> str:
    return (
        "# User@Host: app[app] @  [10.1.2.3]\n"
        f"# Query_time: {query_time:.6f}  Lock_time: {lock_time:.6f}  Rows_sent: 0  "
        f"Rows_examined: {examined}\nSET timestamp=1;\n{statement};"
    )


def _pk_update_waiting(seconds: float) -> str:
    return _slow(
        query_time=seconds,
        lock_time=seconds - 0.002,
        examined=1,
        statement=f"UPDATE wallets SET credit = credit - 5 WHERE id = {int(seconds * 1000)}",
    )


def _scan(seconds: float) -> str:
    return _slow(
        query_time=seconds,
        lock_time=0.0004,
        examined=3_500_000,
        statement="SELECT * FROM wallets WHERE note LIKE '%refund%'",
    )


def _store(lines: list[str], detections: tuple[Detection, ...] = ()) -> ComponentEvidence:
    return evidence_of(
        topology=STACK,
        component="store",
        lines=lines,
        window=WINDOW,
        first=INCIDENT,
        spacing=15.0,
        detections=detections,
    )


def _rising(name: str) -> Detection:
    return rising(
        component="store",
        instance="10.1.9.9:9104",
        name=name,
        onset=INCIDENT,
        level=90.0,
        score=60.0,
    )


def _kills(store: ComponentEvidence) -> list[ProposedRemediation]:
    return planned_for_root(topology=STACK, component="store", evidence=store)


def test_a_primary_key_update_that_waited_for_locks_is_a_victim_not_a_scan() -> None:
    waited = parse_slow_query(_pk_update_waiting(48.7))
    assert waited is not None
    assert waited.lock_time is not None and abs(waited.lock_time - 48.698) < 1e-6
    assert waited.lock_victim and not waited.full_scan_suspected
    # without Rows_examined the filter on "id" used to pass for a slow unindexed filter
    bare = parse_slow_query(
        "Query_time: 50.0 Lock_time: 49.9 UPDATE wallets SET a = 1 WHERE id = 7"
    )
    assert bare is not None and bare.lock_victim and not bare.full_scan_suspected
    # a statement that waited but also scanned millions of rows is no victim
    scanning = parse_slow_query(
        _slow(
            query_time=40.0,
            lock_time=39.5,
            examined=2_000_000,
            statement="UPDATE wallets SET frozen = 1 WHERE batch = 9",
        )
    )
    assert scanning is not None and not scanning.lock_victim and scanning.full_scan_suspected
    scan = parse_slow_query(_scan(12.0))
    assert scan is not None and not scan.waited_for_locks and scan.full_scan_suspected


def test_waiting_updates_in_the_slow_log_plan_a_kill_of_their_blocker_never_of_them() -> None:
    store = _store(
        [_pk_update_waiting(40.0 + i) for i in range(30)]
        + ["[Warning] Lock wait timeout exceeded; try restarting transaction"] * 10
    )
    (kill,) = _kills(store)
    assert (kill.action, kill.target) == (ActionType.KILL_MYSQL_QUERIES, "store")
    assert kill.params.get("matchBlocker") is True
    # no busy time from the waiters' Query_time, no statement head of the waiters
    assert "busyTime" not in kill.params and "matchInfo" not in kill.params
    assert "victims" in kill.reason and "blocking transaction" in kill.reason


def test_a_log_naming_the_holding_thread_is_quoted_in_the_reason() -> None:
    watch = 'level=warn msg="lock waits" waiting=80 blocking_pid=7781 blocking_command=Sleep'
    store = _store(
        [watch] * 4,
        detections=(_rising("mysql_global_status_innodb_row_lock_current_waits"),),
    )
    (kill,) = _kills(store)
    assert "7781" in kill.reason and kill.params == {"matchBlocker": True, "mode": "connection"}


def test_rising_row_lock_waits_alone_call_for_the_blocker_kill() -> None:
    store = _store([], detections=(_rising("mysql_global_status_innodb_row_lock_current_waits"),))
    (kill,) = _kills(store)
    assert kill.params.get("matchBlocker") is True
    # other series rising (connections) are no lock contention
    assert _kills(_store([], detections=(_rising("mysql_global_status_threads_connected"),))) == []


def test_slow_full_scans_keep_pt_kills_busy_time_match() -> None:
    scans = _store([_scan(20.0 + i) for i in range(8)])
    (kill,) = _kills(scans)
    assert "matchBlocker" not in kill.params
    assert kill.params["busyTime"] == 16
    assert kill.params["matchInfo"].startswith("SELECT * FROM wallets WHERE note LIKE")
    # scans among lock waits: the scans hold the locks, they stay the target; the
    # waiting updates set neither the busy time nor the statement head
    mixed = _store(
        [_scan(20.0 + i) for i in range(3)] + [_pk_update_waiting(3.0 + i) for i in range(9)]
    )
    (kill,) = _kills(mixed)
    assert kill.params["busyTime"] == 16 and "matchBlocker" not in kill.params
    assert kill.params["matchInfo"].startswith("SELECT * FROM wallets")
    assert "scans" in kill.reason


def test_no_index_is_advised_for_a_primary_key_update_that_only_waited() -> None:
    store = _store([_pk_update_waiting(45.0 + i) for i in range(5)])
    advice = recommendations(
        topology=STACK,
        root_cause=RootCause(
            component="store", kind="mysql", instance=None, confidence=0.8, summary=""
        ),
        candidates=[Candidate(component="store", score=0.8, role=ROLE_ROOT)],
        evidence={"store": store},
        affected=[],
        clients=[],
    )
    about = [r.text for r in advice if "wallets" in r.text or "UPDATE" in r.text]
    assert about, "the waiting statement is still explained"
    assert not any("index on" in text.lower() or "add indexes" in text.lower() for text in about)
    assert any("waiting for row locks" in text for text in about)


# --------------------------------------------------------------------- executor


def _thread(
    thread_id: int, *, command: str, time: float, info: str | None, user: str = "app"
) -> ProcessRow:
    return ProcessRow(
        id=thread_id,
        user=user,
        host=f"10.1.2.{thread_id % 250}:40000",
        db="money",
        command=command,
        time=time,
        state="updating" if command == "Query" else "",
        info=info,
    )


WAITERS = [
    _thread(
        100 + i,
        command="Query",
        time=35.0 + i,
        info=f"UPDATE wallets SET credit = 1 WHERE id = {i}",
    )
    for i in range(12)
]
HOLDER = _thread(42, command="Sleep", time=95.0, info=None, user="ops")
BYSTANDER = _thread(43, command="Sleep", time=400.0, info=None)  # idle, no transaction
LATE = _thread(44, command="Sleep", time=5.0, info=None)  # idle transaction, newer than waiters
NOW = T0


def _trx(*, waiting_for: tuple[int, ...] = ()) -> list[InnodbTransaction]:
    waiters = [
        InnodbTransaction(
            thread_id=row.id,
            rows_modified=0,
            state="LOCK WAIT",
            started=NOW - row.time,
            waiting_for=waiting_for,
        )
        for row in WAITERS
    ]
    return [
        InnodbTransaction(thread_id=42, rows_modified=3, state="RUNNING", started=NOW - 130.0),
        InnodbTransaction(thread_id=44, rows_modified=1, state="RUNNING", started=NOW - 5.0),
        *waiters,
    ]


def _blocker_policy(**params: object) -> KillPolicy:
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10, **params}})
    return kill_policy_for(policy=spec, proposal={"matchBlocker": True, "mode": "connection"})


def test_an_idle_holder_with_waiters_is_the_only_thread_selected() -> None:
    rows = [*WAITERS, HOLDER, BYSTANDER, LATE]
    policy = _blocker_policy()
    assert policy.match_blocker and policy.busy_time is None and policy.mode is KillMode.CONNECTION
    chosen = select_victims(
        processes=rows, transactions=_trx(), policy=policy, own_connection_id=OWN
    )
    assert [v.row.id for v in chosen.victims] == [42]
    assert "idle in a transaction" in chosen.victims[0].reason
    # the kill ends the connection: KILL QUERY would leave the idle transaction's locks
    server = ServerInfo(ServerFlavor.MARIADB, (10, 11, 6), "10.11.6-MariaDB")
    command = kill_command(row=HOLDER, mode=policy.mode, server=server)
    assert command.mode is KillMode.CONNECTION and command.query_id is None
    # the planner's old busy-time kill would have taken the twelve waiters instead
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    busy = kill_policy_for(policy=spec, proposal={"busyTime": 30})
    by_busy = select_victims(
        processes=rows, transactions=_trx(), policy=busy, own_connection_id=OWN
    )
    assert {v.row.id for v in by_busy.victims} == {row.id for row in WAITERS}


def test_the_lock_wait_tables_name_the_blocker_even_when_it_is_busy() -> None:
    busy_holder = _thread(42, command="Query", time=95.0, info="SELECT SLEEP(600)")
    # a chain: 100 waits on 42; the others wait on 100 (which itself waits)
    trx = _trx()
    named = [
        InnodbTransaction(
            thread_id=t.thread_id,
            rows_modified=t.rows_modified,
            state=t.state,
            started=t.started,
            waiting_for=(42,) if t.thread_id == 100 else ((100,) if t.state == "LOCK WAIT" else ()),
        )
        for t in trx
    ]
    found = lock_blockers(transactions=named, processes=[*WAITERS, busy_holder])
    assert set(found) == {42}
    chosen = select_victims(
        processes=[*WAITERS, busy_holder, LATE],
        transactions=named,
        policy=_blocker_policy(),
        own_connection_id=OWN,
    )
    assert [v.row.id for v in chosen.victims] == [42]


def test_no_waiter_no_blocker_and_the_policys_own_limits_still_hold() -> None:
    quiet = [t for t in _trx() if t.state != "LOCK WAIT"]
    assert lock_blockers(transactions=quiet, processes=[HOLDER, LATE]) == {}
    # the policy's users narrow the blocker match too, and its explicit mode wins
    only_app = _blocker_policy(users=["app"])
    chosen = select_victims(
        processes=[*WAITERS, HOLDER], transactions=_trx(), policy=only_app, own_connection_id=OWN
    )
    assert chosen.victims == ()
    explicit = KillMysqlQueriesPolicy.model_validate({"match": {"matchAll": True, "mode": "query"}})
    policy = kill_policy_for(policy=explicit, proposal={"matchBlocker": True, "mode": "connection"})
    assert policy.match_blocker and policy.mode is KillMode.QUERY


def test_slow_full_scans_are_selected_the_pt_kill_way() -> None:
    scans = [
        _thread(
            7 + i,
            command="Query",
            time=60.0 + i,
            info="SELECT * FROM wallets WHERE note LIKE '%x%'",
        )
        for i in range(3)
    ]
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(
        policy=spec, proposal={"busyTime": 16, "matchInfo": "SELECT * FROM wallets WHERE note LIKE"}
    )
    assert not policy.match_blocker
    chosen = select_victims(
        processes=[*scans, HOLDER, _thread(90, command="Query", time=2.0, info="SELECT 1")],
        transactions=[],
        policy=policy,
        own_connection_id=OWN,
    )
    assert [v.row.id for v in chosen.victims] == [7, 8, 9]
