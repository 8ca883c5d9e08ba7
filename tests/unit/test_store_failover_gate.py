"""A data store that went away for a moment: a restart that healed, or a failover.

A store restarted in place and serving again for a minute is a blip (root ``none``,
named in the summary); one that changed role meanwhile (a replica promoted, a
Sentinel switch, its callers told it is read-only) is an incident however short.
Synthetic inputs in PostgreSQL, MySQL and Valkey words (not the recorded bundles').
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.role_change import changed_role
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_900_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
START = int(3000 / STEP)  # 50 min into the hour: back for ten minutes before the end

STACK = Topology(
    components=(
        Component("ledger", ComponentKind.APP, Labels({"job": "ledger"}), ("pg", "kv")),
        Component("pg", ComponentKind.OTHER, Labels({"job": "pg"})),
        Component("kv", ComponentKind.REDIS, Labels({"job": "valkey"})),
    )
)


def _gauge(
    component: str, family: str, *, steps: int, base: float = 1.0, again: int | None = None
) -> Detection:
    values: FloatArray = np.full(TS.size, base)
    values[START : START + steps] = 0.0
    if again is not None:  # down once more, ``again`` steps after the first outage began
        values[START + again : START + again + steps] = 0.0
    signal = Signal(
        component, "i-1", family, family, SignalKind.GAUGE, family, values, Labels({"i": "1"})
    )
    anomaly = Anomaly(
        component=component,
        signal=family,
        instance="i-1",
        onset=float(TS[START]),
        peak_ts=float(TS[START]),
        value=0.0,
        baseline=base,
        score=60.0,
        direction="down",
        query=family,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=2, peak=0.0)


def _logs(component: str, line: str, count: int = 3) -> ComponentLogs:
    events = tuple(
        read_event(component=component, instance=None, ts=TS[START] + i, line=line, query="")
        for i in range(count)
    )
    return ComponentLogs(component=component, events=events)


def _store(name: str, *detections: Detection, line: str | None = None) -> ComponentEvidence:
    logs = _logs(name, line) if line else None
    return ComponentEvidence(component=STACK.get(name), detections=detections, logs=logs)


def _caller(line: str) -> ComponentEvidence:
    return ComponentEvidence(component=STACK.get("ledger"), logs=_logs("ledger", line, 5))


def _gate(**parts: ComponentEvidence) -> tuple[bool, tuple[str, ...], tuple[str, ...]]:
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence.update(parts)
    verdict = incident_gate(evidence=evidence, window=WINDOW, step=STEP)
    return verdict.incident, verdict.down, tuple(s.component for s in verdict.healed)


def test_a_postgresql_restart_back_in_seconds_is_a_blip_that_healed() -> None:
    pg = _store("pg", _gauge("pg", "pg_up", steps=1))
    assert _gate(pg=pg) == (False, (), ("pg",))


def test_a_store_that_went_down_again_and_again_has_not_healed() -> None:
    # a backend OOM-killed twice: each time the server resets and recovers
    pg = _store("pg", _gauge("pg", "pg_up", steps=1, again=8))
    assert _gate(pg=pg) == (True, ("pg",), ())


def test_a_promoted_standby_is_a_failover_however_short() -> None:
    promoted = "LOG:  received promote request"
    pg = _store("pg", _gauge("pg", "pg_up", steps=1), line=promoted)
    assert _gate(pg=pg) == (True, ("pg",), ())


def test_a_sentinel_switch_or_a_role_series_that_moved_is_a_failover() -> None:
    switched = "+switch-master primary 10.9.0.4 6379 10.9.0.5 6379"
    kv = _store("kv", _gauge("kv", "redis_up", steps=1), line=switched)
    assert _gate(kv=kv)[:2] == (True, ("kv",))
    replicas = _gauge("kv", "redis_connected_slaves", steps=4, base=2.0)
    kv = _store("kv", _gauge("kv", "redis_up", steps=1), replicas)
    assert _gate(kv=kv)[:2] == (True, ("kv",))


def test_callers_refused_by_a_read_only_primary_name_a_failover() -> None:
    refused = (
        "ERROR 1290 (HY000): The MySQL server is running with the --read-only option so "
        "it cannot execute this statement"
    )
    pg = _store("pg", _gauge("pg", "pg_up", steps=1))
    assert changed_role(pg, [_caller(refused)])
    assert _gate(pg=pg, ledger=_caller(refused))[:2] == (True, ("pg",))
    # the same outage with callers that only could not connect: a restart
    assert not changed_role(pg, [_caller("dial tcp 10.9.0.7:5432: connection refused")])
