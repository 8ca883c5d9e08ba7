"""A dependency's failure as its callers report it in its own vocabulary (``reported``)."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, read_event
from diagnosis_operator.core.diagnosis.reported import (
    reported_failures,
    with_reported,
    without_reported,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
INCIDENT = T0 + 2000.0
OOM = (
    '{"level":50,"err":{"type":"ReplyError","message":"OOM command not allowed when '
    'used memory > \'maxmemory\'."},"msg":"cart write failed"}'
)
ONE_CACHE = Topology(
    components=(
        Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("kv",)),
        Component("kv", ComponentKind.REDIS, Labels({"job": "kv"})),
    )
)


def _evidence(
    topology: Topology, line: str, *, start: float = INCIDENT, count: int = 20
) -> dict[str, ComponentEvidence]:
    events = tuple(
        read_event(component="svc", instance=None, ts=start + 5 * i, line=line, query="")
        for i in range(count)
    )
    evidence = {c.name: ComponentEvidence(component=c) for c in topology}
    evidence["svc"] = ComponentEvidence(
        component=topology.get("svc"), logs=ComponentLogs(component="svc", events=events)
    )
    return evidence


def test_a_single_dependency_refusing_writes_is_reported_by_its_caller() -> None:
    # Redis' own reply, logged by a caller whose only dependency is that Redis.
    evidence = with_reported(topology=ONE_CACHE, evidence=_evidence(ONE_CACHE, OOM), window=WINDOW)
    first, count = evidence["kv"].new_categories[LogCategory.OUT_OF_MEMORY]
    assert (first.ts, count) == (INCIDENT, 20)
    assert evidence["kv"].onset == INCIDENT
    assert evidence["svc"].new_categories == {}
    # Actions rest on the component's own lines: the reported category is not its own.
    assert without_reported(evidence["kv"]).new_categories == {}


def test_max_clients_is_connection_exhaustion() -> None:
    line = "redis.exceptions.ConnectionError: max number of clients reached"
    reported = reported_failures(
        topology=ONE_CACHE, evidence=_evidence(ONE_CACHE, f"ERROR {line}"), window=WINDOW
    )
    assert list(reported["kv"]) == [LogCategory.TOO_MANY_CONNECTIONS]


def test_what_the_dependency_never_answers_reports_nothing() -> None:
    for line in ("ERROR cart write failed: timeout", "ERROR out of memory in handler"):
        assert (
            reported_failures(
                topology=ONE_CACHE, evidence=_evidence(ONE_CACHE, line), window=WINDOW
            )
            == {}
        )


def test_an_ordinary_hour_and_a_few_lines_report_nothing() -> None:
    # As many before the incident as in it: the usual noise, not a failure.
    steady = _evidence(ONE_CACHE, OOM, start=T0 + 60.0, count=600)
    assert reported_failures(topology=ONE_CACHE, evidence=steady, window=WINDOW) == {}
    few = _evidence(ONE_CACHE, OOM, count=2)
    assert reported_failures(topology=ONE_CACHE, evidence=few, window=WINDOW) == {}


def test_two_dependencies_of_the_kind_cannot_be_told_apart() -> None:
    two = Topology(
        components=(
            Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("kv", "sessions")),
            Component("kv", ComponentKind.REDIS, Labels({"job": "kv"})),
            Component("sessions", ComponentKind.REDIS, Labels({"job": "sessions"})),
        )
    )
    assert reported_failures(topology=two, evidence=_evidence(two, OOM), window=WINDOW) == {}
