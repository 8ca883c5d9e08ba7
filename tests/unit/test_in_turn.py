"""Pod after pod of one workload ended the same way: no instance singled out (``in_turn``)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.in_turn import ended_in_turn, without_in_turn
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_700_000_000.0
SVC = Component("svc", ComponentKind.APP, Labels({"container": "svc"}))
EVICTED = (
    "Warning Evicted pod/{pod} Pod ephemeral local storage usage exceeds the total limit of "
    "containers 2Gi."
)


def _evidence(lines: list[str]) -> ComponentEvidence:
    events = tuple(
        read_event(component="svc", instance=None, ts=T0 + 300 * i, line=line, query="")
        for i, line in enumerate(lines)
    )
    return ComponentEvidence(component=SVC, logs=ComponentLogs(component="svc", events=events))


def _signals(count: int) -> dict[str, list[Signal]]:
    return {
        "svc": [
            Signal(
                "svc",
                f"10.0.0.{i}:8080",
                "cpu usage",
                "cpu",
                SignalKind.GAUGE,
                "q",
                np.zeros(4),
                Labels({"instance": f"10.0.0.{i}:8080"}),
            )
            for i in range(count)
        ]
    }


def _finding() -> AffectedFinding:
    return AffectedFinding(
        instance=AffectedInstance(component="svc", instance="10.0.0.1:8080", reason="cpu"),
        detections=(),
    )


def test_every_pod_evicted_in_turn_leaves_no_instance_to_drain() -> None:
    ev = _evidence([EVICTED.format(pod=f"svc-6f9d7-a{i}") for i in range(4)])
    assert ended_in_turn(ev, 6) == "evicted"
    assert without_in_turn([_finding()], evidence={"svc": ev}, signals=_signals(6)) == []
    # an OOM kill named in the pod's own field, pod after pod, is the same
    oom = _evidence([f'reason=OOMKilled pod="svc-x{i}" container=svc' for i in range(3)])
    assert ended_in_turn(oom, 4) == "OOM-killed"


def test_one_pod_or_a_minority_ended_is_an_instance_of_its_own() -> None:
    # the same pod named again and again: one pod, which draining may help
    same = _evidence([EVICTED.format(pod="svc-6f9d7-a0")] * 5)
    assert ended_in_turn(same, 6) is None
    # three of twelve (the pods of one node low on disk): a minority of the workload
    few = _evidence([EVICTED.format(pod=f"svc-6f9d7-b{i}") for i in range(3)])
    assert ended_in_turn(few, 12) is None
    kept = without_in_turn([_finding()], evidence={"svc": few}, signals=_signals(12))
    assert [f.instance.instance for f in kept] == ["10.0.0.1:8080"]
    # lines that end no pod
    quiet = _evidence([f"Normal Scheduled pod/svc-{i} Successfully assigned" for i in range(5)])
    assert ended_in_turn(quiet, 5) is None
