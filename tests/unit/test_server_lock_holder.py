"""A global read lock (or metadata lock) held by an idle session: kill its holder, not the waiters.

Evidence and processlists are built by hand; nothing here comes from a recording.
"""

from __future__ import annotations

from diagnosis_operator.api import KillMysqlQueriesPolicy
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.explain.recommendations import recommendations
from diagnosis_operator.core.diagnosis.plan_kill import never_reached_rows
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT
from diagnosis_operator.core.remediation.killer import select_victims
from diagnosis_operator.core.remediation.lock_holders import server_lock_blockers
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import KillMode, ProcessRow
from diagnosis_operator.models.findings import ActionType, Candidate, RootCause
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology
from tests.unit.mysql_evidence import evidence_of, planned_for_root

T0 = 1_960_000_000.0
WINDOW = Window(start=T0, end=T0 + 600.0)
STACK = Topology(
    components=(
        Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
    )
)


def _slow(statement: str, *, query_time: float, examined: int, lock_time: float = 0.0) -> str:
    return (
        "# User@Host: app[app] @  [127.0.0.1]\n"
        f"# Query_time: {query_time:.6f}  Lock_time: {lock_time:.6f}  Rows_sent: 0  "
        f"Rows_examined: {examined}\nSET timestamp=1;\n{statement};"
    )


def _db(lines: list[str]) -> ComponentEvidence:
    return evidence_of(
        topology=STACK, component="db", lines=lines, window=WINDOW, first=T0 + 400.0, spacing=5.0
    )


def test_writes_that_never_reached_their_rows_call_for_the_blocker_kill() -> None:
    stuck = [
        _slow(
            f"UPDATE item_stats SET views = views + 1 WHERE item_id = {i}",
            query_time=15.0,
            examined=0,
        )
        for i in range(6)
    ]
    db = _db(stuck)
    assert never_reached_rows(db)
    (kill,) = planned_for_root(topology=STACK, component="db", evidence=db)
    assert (kill.action, kill.target) == (ActionType.KILL_MYSQL_QUERIES, "db")
    assert kill.params == {"matchBlocker": True, "mode": "connection"}
    assert "global read or metadata lock" in kill.reason


def test_reads_queued_behind_a_metadata_lock_call_for_the_blocker_kill() -> None:
    # an ALTER waits for the metadata lock an idle transaction holds; every later read of
    # the table queues behind it: point reads that examined nothing for 16 s, no lock time
    queued = [
        _slow(f"SELECT id, name FROM items WHERE id = {i}", query_time=16.0, examined=0)
        for i in range(6)
    ]
    db = _db(queued)
    assert never_reached_rows(db)
    (kill,) = planned_for_root(topology=STACK, component="db", evidence=db)
    assert kill.params == {"matchBlocker": True, "mode": "connection"}
    assert "victims" in kill.reason or "metadata lock" in kill.reason


def test_slow_point_reads_or_writes_that_read_their_row_are_no_server_lock() -> None:
    # a starved server: the writes read their row (and reads are slow too): no blocker to end
    starved = [
        _slow(
            f"UPDATE item_stats SET views = views + 1 WHERE item_id = {i}",
            query_time=3.0,
            examined=1,
        )
        for i in range(6)
    ] + [_slow(f"SELECT * FROM items WHERE id = {i}", query_time=2.0, examined=0) for i in range(6)]
    db = _db(starved)
    assert not never_reached_rows(db)
    assert planned_for_root(topology=STACK, component="db", evidence=db) == []


def test_inserts_and_short_waits_are_no_server_lock() -> None:
    # an INSERT examines no rows however it fares; a 2 s update is a starved read, not a lock
    inserts = [
        _slow(f"INSERT INTO hits (item_id) VALUES ({i})", query_time=9.0, examined=0)
        for i in range(6)
    ]
    short = [
        _slow(f"UPDATE item_stats SET views = 1 WHERE item_id = {i}", query_time=2.0, examined=0)
        for i in range(6)
    ]
    assert not never_reached_rows(_db(inserts)) and not never_reached_rows(_db(short))


def _row(thread: int, command: str, time: float, state: str | None, info: str | None) -> ProcessRow:
    return ProcessRow(
        id=thread,
        user="app",
        host="127.0.0.1:5000",
        db="app",
        command=command,
        time=time,
        state=state,
        info=info,
    )


WAITERS = [
    _row(
        100 + i,
        "Query",
        12.0 - i,
        "Waiting for global read lock",
        "UPDATE item_stats SET views = views + 1 WHERE item_id = 3",
    )
    for i in range(5)
]
HOLDER = _row(7, "Sleep", 40.0, None, None)
FRESH_IDLE = _row(8, "Sleep", 2.0, None, None)


def test_the_one_connection_idle_since_before_the_waiters_is_the_holder() -> None:
    found = server_lock_blockers([*WAITERS, HOLDER, FRESH_IDLE])
    assert list(found) == [7] and "global read lock" in found[7]
    spec = KillMysqlQueriesPolicy.model_validate({"params": {"minQuerySeconds": 10}})
    policy = kill_policy_for(policy=spec, proposal={"matchBlocker": True, "mode": "connection"})
    chosen = select_victims(
        processes=[*WAITERS, HOLDER, FRESH_IDLE],
        transactions=[],
        policy=policy,
        own_connection_id=500,
    )
    assert [v.row.id for v in chosen.victims] == [7]
    assert policy.mode is KillMode.CONNECTION


def test_no_waiter_or_several_idle_candidates_name_no_holder() -> None:
    assert server_lock_blockers([HOLDER, FRESH_IDLE]) == {}
    other_idle = _row(9, "Sleep", 300.0, None, None)
    assert server_lock_blockers([*WAITERS, HOLDER, other_idle]) == {}


def test_no_index_is_advised_for_reads_that_waited_for_a_server_lock() -> None:
    queued = [
        _slow(f"SELECT id, name FROM items WHERE id = {i}", query_time=16.0, examined=0)
        for i in range(6)
    ]
    about = _advice(_db(queued))
    assert about, "the waiting statement is still explained"
    assert not any("index on" in text.lower() or "add indexes" in text.lower() for text in about)
    assert any("server-level lock" in text for text in about)
    # a read that examined rows for long is still one to optimise
    scans = [
        _slow(f"SELECT id, name FROM items WHERE name = 'x{i}'", query_time=16.0, examined=90000)
        for i in range(6)
    ]
    assert any("index" in text.lower() for text in _advice(_db(scans)))


def _advice(db: ComponentEvidence) -> list[str]:
    advice = recommendations(
        topology=STACK,
        root_cause=RootCause(
            component="db", kind="mysql", instance=None, confidence=0.8, summary=""
        ),
        candidates=[Candidate(component="db", score=0.8, role=ROLE_ROOT)],
        evidence={"db": db},
        affected=[],
        clients=[],
    )
    return [r.text for r in advice if "items" in r.text]
