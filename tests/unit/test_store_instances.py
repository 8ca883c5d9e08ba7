"""One instance of a sharded store stalled while its siblings served: named affected.

Synthetic MySQL shards (not the recorded bundles' Redis Cluster), beside a Valkey of one:
the instance whose own stall series rose alone, named by its callers' errors, is
affected; a store whose instances all stalled, or whose callers name a sibling, is not.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.diagnosis.store_instances import with_stalled_store_instances
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_950_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
TS = grid_timestamps(window=WINDOW, step=15.0)
SHARDS = ("10.3.0.6:3306", "10.3.0.7:3306", "10.3.0.8:3306")
THREADS = "mysql_global_status_threads_running"

STACK = Topology(
    components=(
        Component("orders", ComponentKind.APP, Labels({"job": "orders"}), ("shards", "kv")),
        Component("shards", ComponentKind.MYSQL, Labels({"job": "shards"})),
        Component("kv", ComponentKind.REDIS, Labels({"job": "valkey"})),
    )
)


def _signal(component: str, instance: str, name: str) -> Signal:
    values = np.full(TS.size, 2.0)
    return Signal(component, instance, name, name, SignalKind.GAUGE, name, values, Labels({}))


def _rise(component: str, instance: str, name: str) -> Detection:
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=instance,
        onset=float(TS[200]),
        peak_ts=float(TS[200]),
        value=40.0,
        baseline=2.0,
        score=30.0,
        direction="up",
        query=name,
    )
    return Detection(
        signal=_signal(component, instance, name), anomaly=anomaly, exceedances=9, peak=40.0
    )


def _caller(line: str) -> ComponentEvidence:
    events = tuple(
        read_event(component="orders", instance=None, ts=TS[200] + i, line=line, query="")
        for i in range(6)
    )
    logs = ComponentLogs(component="orders", events=events)
    return ComponentEvidence(component=STACK.get("orders"), logs=logs)


def _affected(stalled: tuple[str, ...], caller_line: str) -> list[str]:
    shards = ComponentEvidence(
        component=STACK.get("shards"),
        detections=tuple(_rise("shards", i, THREADS) for i in stalled),
    )
    evidence = {
        "orders": _caller(caller_line),
        "shards": shards,
        "kv": ComponentEvidence(component=STACK.get("kv")),
    }
    signals = {"shards": [_signal("shards", i, THREADS) for i in SHARDS]}
    found = with_stalled_store_instances([], topology=STACK, evidence=evidence, signals=signals)
    return [f.instance.instance for f in found]


TIMEOUT = "ERROR place order: dial 10.3.0.7:3306: i/o timeout after 3s"


def test_the_one_shard_that_stalled_and_its_callers_name_is_affected() -> None:
    assert _affected(("10.3.0.7:3306",), TIMEOUT) == ["10.3.0.7:3306"]


def test_callers_naming_a_sibling_or_nothing_name_no_instance() -> None:
    assert _affected(("10.3.0.7:3306",), TIMEOUT.replace("10.3.0.7", "10.3.0.8")) == []
    assert _affected(("10.3.0.7:3306",), "ERROR place order: context deadline exceeded") == []


def test_shards_that_all_stalled_are_the_store_not_one_instance() -> None:
    assert _affected(SHARDS, TIMEOUT) == []
