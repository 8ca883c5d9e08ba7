"""When the planner calls for killing MySQL queries: whose queries, and on what evidence.

Evidence is built by hand (roles, slow-query and deadlock lines) so that each test
isolates one rule; nothing here is taken from an example bundle.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.onsets import new_log_categories, new_slow_queries
from diagnosis_operator.core.diagnosis.plan import plan
from diagnosis_operator.core.diagnosis.ranking import ROLE_AGGRAVATING, ROLE_ROOT
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import ActionType, AffectedInstance, Anomaly, Candidate
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_900_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
INCIDENT = T0 + 1800.0
STACK = Topology(
    components=(
        Component("api", ComponentKind.APP, Labels({"job": "api"}), ("db", "cache")),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)


def _slow(rows_examined: int, query_time: float) -> str:
    return (
        f"# Query_time: {query_time}  Lock_time: 0.000041  Rows_sent: 1  "
        f"Rows_examined: {rows_examined}\nSET timestamp=1;\n"
        "SELECT o.* FROM orders o JOIN lines l ON l.order_id = o.id WHERE o.id = 4711;"
    )


DEADLOCK = (
    "2031-01-01  4:37:10 19 [Note] InnoDB: Transactions deadlock detected, "
    "dumping detailed information."
)


def _db(lines: list[str]) -> ComponentEvidence:
    events = tuple(
        read_event(component="db", instance=None, ts=INCIDENT + 20.0 * i, line=line, query="q")
        for i, line in enumerate(lines)
    )
    logs = ComponentLogs(component="db", events=events)
    return ComponentEvidence(
        component=STACK.get("db"),
        logs=logs,
        new_categories=new_log_categories(logs=logs, window=WINDOW),
        slow_queries=new_slow_queries(logs=logs, window=WINDOW),
    )


def _actions(db: ComponentEvidence, role: str) -> list[tuple[ActionType, str]]:
    proposals = plan(
        topology=STACK,
        candidates=[Candidate(component="db", score=0.6, role=role)],
        evidence={"db": db},
        affected=[],
        clients=[],
        edge=None,
    )
    return [(p.action, p.target) for p in proposals]


def test_a_db_slowed_by_load_from_elsewhere_gets_no_kill_its_root_twin_only_for_own_work() -> None:
    # one-row lookups that take 1-3 s because a cache stopped absorbing reads
    victims = _db([_slow(400, 1.0 + 0.1 * i) for i in range(20)])
    assert _actions(victims, ROLE_AGGRAVATING) == []
    # at the root too, statements that read few rows waited: they are victims
    assert _actions(victims, ROLE_ROOT) == []
    # the same join reading 60,000 rows a call does work of its own: the root kills it
    heavy = _db([_slow(60_000, 1.0 + 0.1 * i) for i in range(20)])
    assert _actions(heavy, ROLE_ROOT) == [(ActionType.KILL_MYSQL_QUERIES, "db")]


def test_an_aggravating_db_running_full_scans_gets_a_kill() -> None:
    scans = _db([_slow(2_000_000, 40.0 + i) for i in range(10)])
    assert _actions(scans, ROLE_AGGRAVATING) == [(ActionType.KILL_MYSQL_QUERIES, "db")]


def test_deadlocks_at_a_root_db_call_for_a_kill_without_any_slow_log() -> None:
    locked = _db([DEADLOCK] * 12)
    assert locked.slow_queries == ()
    proposals = plan(
        topology=STACK,
        candidates=[Candidate(component="db", score=0.8, role=ROLE_ROOT)],
        evidence={"db": locked},
        affected=[],
        clients=[],
        edge=None,
    )
    assert [(p.action, p.target) for p in proposals] == [(ActionType.KILL_MYSQL_QUERIES, "db")]
    # aimed at the transaction holding the locks, not at statements busy for a while
    assert proposals[0].params == {"matchBlocker": True, "mode": "connection"}
    assert "lock" in proposals[0].reason
    # lock-wait timeouts say the same
    waits = _db(["[Warning] Lock wait timeout exceeded; try restarting transaction"] * 12)
    assert _actions(waits, ROLE_ROOT) == [(ActionType.KILL_MYSQL_QUERIES, "db")]


def _instance_detection(kind: SignalKind, elevated: slice) -> Detection:
    values = np.zeros(240)
    values[elevated] = 2.0
    signal = Signal("api", "10.9.0.1:80", "s", "s", kind, "q", values, Labels({}))
    anomaly = Anomaly(
        component="api",
        signal="s",
        instance="10.9.0.1:80",
        onset=INCIDENT,
        peak_ts=INCIDENT,
        value=2.0,
        baseline=0.0,
        score=30.0,
        direction="up",
        query="q",
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=2, peak=2.0)


def _drains(*detections: Detection) -> list[tuple[ActionType, str]]:
    finding = AffectedFinding(
        instance=AffectedInstance(component="api", instance="10.9.0.1:80", reason="slow"),
        detections=detections,
        healthy_siblings=1,
    )
    proposals = plan(
        topology=STACK, candidates=[], evidence={}, affected=[finding], clients=[], edge=None
    )
    return [(p.action, p.target) for p in proposals]


def test_a_pod_whose_slowness_healed_long_ago_is_not_drained() -> None:
    blip = _instance_detection(SignalKind.LATENCY, slice(100, 102))
    assert _drains(blip) == []
    lasting = _instance_detection(SignalKind.LATENCY, slice(100, 240))
    assert _drains(lasting) == [(ActionType.DRAIN_POD, "10.9.0.1:80")]
    failed = _instance_detection(SignalKind.ERROR_RATIO, slice(100, 102))
    assert _drains(blip, failed) == [(ActionType.DRAIN_POD, "10.9.0.1:80")]
