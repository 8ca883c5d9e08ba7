"""A store its callers connect to too often: a victim of connection churn, not the root."""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.catalog.churn import CONNECTION_COUNTERS
from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.core.diagnosis.churn import CHURNED, churn_victim, closed_by_store
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT, ROLE_SYMPTOM, rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 2700.0)
STEP = 15.0
TOLERANCE = 30.0
TS = grid_timestamps(window=WINDOW, step=STEP)
START = T0 + 1200.0

STACK = Topology(
    components=(
        Component("gateway", ComponentKind.PROXY, Labels({"job": "gateway"}), ("orders",)),
        Component("orders", ComponentKind.APP, Labels({"job": "orders"}), ("db",)),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)


def _detection(
    component: str,
    name: str,
    onset: float,
    *,
    baseline: float = 1.0,
    value: float = 3.0,
    kind: SignalKind = SignalKind.RATE,
) -> Detection:
    values = np.where(onset <= TS, value, baseline)
    signal = Signal(component, None, name, name.removesuffix(" rate"), kind, name, values, Labels())
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=onset,
        peak_ts=onset,
        value=value,
        baseline=baseline,
        score=60.0,
        direction="up" if value >= baseline else "down",
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=value)


def _evidence(component: str, *detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get(component), detections=detections)


def _mysql(*, connections: float, questions: float | None, later: float = 0.0) -> ComponentEvidence:
    found = [
        _detection(
            "db",
            "mysql_global_status_connections rate",
            START + later,
            baseline=6.0,
            value=connections,
        ),
        _detection(
            "db",
            "mysql_global_status_threads_connected",
            START + 15.0,
            baseline=40.0,
            value=290.0,
            kind=SignalKind.GAUGE,
        ),
    ]
    if questions is not None:
        found.append(
            _detection(
                "db",
                "mysql_global_status_questions rate",
                START + 30.0,
                baseline=900.0,
                value=questions,
            )
        )
    return _evidence("db", *found)


def test_the_catalogue_pairs_accepted_connections_with_commands() -> None:
    names = {
        "mysql_global_status_connections": "mysql_global_status_questions",
        "redis_connections_received_total": "redis_commands_processed_total",
        "pg_stat_database_sessions": "pg_stat_database_xact_commit",
    }
    for accepted, commands in names.items():
        pair = [c for c in CONNECTION_COUNTERS if compiled(c.accepted).search(accepted)]
        assert len(pair) == 1
        assert compiled(pair[0].commands).search(commands)


def test_new_connections_up_tenfold_with_the_same_statements_is_churn() -> None:
    assert churn_victim(evidence=_mysql(connections=240.0, questions=1150.0), tolerance=TOLERANCE)
    # statements that did not move at all are the same work too
    assert churn_victim(evidence=_mysql(connections=240.0, questions=None), tolerance=TOLERANCE)


def test_redis_clients_reconnecting_per_command_is_churn() -> None:
    cache = _evidence(
        "cache",
        _detection(
            "cache", "redis_connections_received_total rate", START, baseline=2.0, value=90.0
        ),
        _detection("cache", "redis_commands_processed_total rate", START, baseline=5e3, value=6e3),
    )
    assert churn_victim(evidence=cache, tolerance=TOLERANCE)


@pytest.mark.parametrize(
    ("connections", "questions"),
    [
        (30.0, 1150.0),  # three times more connections: not an order of magnitude
        (240.0, 120.0),  # statements collapsed: a store failing, callers reconnecting
        (240.0, 9000.0),  # ten times the statements too: more work asked, not churn
    ],
)
def test_other_moves_are_not_churn(connections: float, questions: float) -> None:
    db = _mysql(connections=connections, questions=questions)
    assert not churn_victim(evidence=db, tolerance=TOLERANCE)


def test_churn_that_followed_the_stores_own_trouble_is_not_its_cause() -> None:
    # callers reconnecting after their timeouts, minutes after the store went bad
    db = _mysql(connections=240.0, questions=1150.0, later=600.0)
    assert not churn_victim(evidence=db, tolerance=TOLERANCE)


def _incident() -> dict[str, ComponentEvidence]:
    db = ComponentEvidence(
        component=STACK.get("db"),
        detections=(
            *_mysql(connections=240.0, questions=1150.0).detections,
            _detection("db", "mysql_global_status_aborted_connects rate", START, baseline=0.0),
        ),
    )
    orders = _evidence(
        "orders",
        _detection(
            "orders", "errors", START + 20.0, baseline=0.0, value=0.2, kind=SignalKind.ERROR_RATIO
        ),
        _detection(
            "orders", "latency", START + 20.0, baseline=0.02, value=0.2, kind=SignalKind.LATENCY
        ),
        _detection("orders", "cpu", START + 20.0, baseline=0.2, value=0.5, kind=SignalKind.CPU),
    )
    gateway = _evidence(
        "gateway",
        _detection(
            "gateway", "errors", START + 30.0, baseline=0.0, value=0.1, kind=SignalKind.ERROR_RATIO
        ),
    )
    return {"db": db, "orders": orders, "gateway": gateway}


def test_the_caller_that_churns_is_the_root_and_the_store_a_symptom() -> None:
    ranking = rank(topology=STACK, evidence=_incident(), clients=(), window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "orders"
    roles = {c.component: c for c in ranking.candidates}
    assert roles["orders"].role == ROLE_ROOT
    assert roles["db"].role == ROLE_SYMPTOM
    assert CHURNED in roles["db"].reasons


SERVER_CLOSED = [
    '{"level":50,"err":{"message":"read ECONNRESET","code":"ECONNRESET"},'
    '"msg":"redis command failed"}',
    "redis.exceptions.ConnectionError: Connection closed by server.",
    "redis.clients.jedis.exceptions.JedisConnectionException: Unexpected end of stream.",
    'level=error msg="cache get failed" err="EOF"',
    "psycopg2.OperationalError: server closed the connection unexpectedly",
    "OperationalError: (2006, 'MySQL server has gone away')",
]
FAILED_TO_CONNECT = [
    "HikariPool-1 - Connection is not available, request timed out after 30000ms.",
    "OperationalError: (1040, 'Too many connections')",
    "redis.exceptions.ConnectionError: Error 111 connecting to cache:6379. Connection refused.",
]


def _caller(*lines: str) -> ComponentEvidence:
    events = tuple(
        LogEvent("orders", "10.0.0.1:8080", START + 20.0 * i, LogCategory.ERROR, line, "q")
        for i, line in enumerate(lines)
    )
    return ComponentEvidence(
        component=STACK.get("orders"), detections=(), logs=ComponentLogs("orders", events=events)
    )


def _churned_cache() -> ComponentEvidence:
    return _evidence(
        "cache",
        _detection(
            "cache", "redis_connections_received_total rate", START, baseline=2.0, value=90.0
        ),
    )


@pytest.mark.parametrize("line", SERVER_CLOSED)
def test_a_store_closing_its_callers_connections_is_no_churn_victim(line: str) -> None:
    """Callers' errors on established connections the server closed: the store closes them."""
    callers = (_caller(line, line, line),)
    assert closed_by_store(callers, since=START)
    assert not churn_victim(evidence=_churned_cache(), tolerance=TOLERANCE, callers=callers)


@pytest.mark.parametrize("line", FAILED_TO_CONNECT)
def test_callers_failing_to_get_a_connection_still_churn(line: str) -> None:
    callers = (_caller(line, line, line),)
    assert not closed_by_store(callers, since=START)
    assert churn_victim(evidence=_churned_cache(), tolerance=TOLERANCE, callers=callers)


def test_a_reset_or_two_do_not_turn_churn_around() -> None:
    callers = (_caller(SERVER_CLOSED[0], SERVER_CLOSED[1]),)
    assert churn_victim(evidence=_churned_cache(), tolerance=TOLERANCE, callers=callers)
