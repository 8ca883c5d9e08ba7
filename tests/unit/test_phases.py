"""The Diagnosis state machine (core/phases.py): pure, so every path is checked here."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from diagnosis_operator.api import (
    MAX_EVIDENCE,
    ConditionStatus,
    DiagnosisStatus,
    Phase,
    RemediationState,
)
from diagnosis_operator.core.phases import (
    COMPLETE,
    FAILED,
    PROGRESSING,
    Decision,
    PhaseError,
    can_transition,
    decide,
    skip_remediations,
    status_patch,
    transition,
    with_result,
)
from diagnosis_operator.models.findings import (
    ActionType,
    DiagnosisResult,
    Evidence,
    EvidenceSource,
    ProposedRemediation,
    RootCause,
    TimelineEvent,
)
from diagnosis_operator.models.signals import Window

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def walk(*phases: Phase, generation: int = 1) -> DiagnosisStatus:
    status = DiagnosisStatus()
    for index, phase in enumerate(phases):
        status = transition(
            status, target=phase, generation=generation, now=T0 + timedelta(seconds=index)
        )
    return status


def conditions(status: DiagnosisStatus) -> dict[str, tuple[ConditionStatus, str]]:
    return {c.type: (c.status, c.reason) for c in status.conditions}


def test_a_successful_run_walks_every_phase_in_order() -> None:
    status = walk(
        Phase.PENDING, Phase.COLLECTING, Phase.CORRELATING, Phase.PLANNING, Phase.COMPLETED
    )
    assert status.phase is Phase.COMPLETED
    assert conditions(status) == {
        COMPLETE: (ConditionStatus.TRUE, "Completed"),
        FAILED: (ConditionStatus.FALSE, "Succeeded"),
        PROGRESSING: (ConditionStatus.FALSE, "Completed"),
    }
    assert status.completed_at == T0 + timedelta(seconds=4)
    assert status.started_at == T0
    assert all(c.observed_generation == 1 for c in status.conditions)


def test_running_phases_say_progressing() -> None:
    status = walk(Phase.PENDING, Phase.COLLECTING)
    assert conditions(status)[PROGRESSING] == (ConditionStatus.TRUE, "Collecting")
    assert conditions(status)[COMPLETE] == (ConditionStatus.FALSE, "InProgress")


def test_failure_carries_reason_and_message() -> None:
    status = walk(Phase.PENDING, Phase.COLLECTING)
    failed = transition(
        status,
        target=Phase.FAILED,
        generation=1,
        now=T0,
        reason="EngineUnavailable",
        message="no engine",
    )
    by_type = {c.type: c for c in failed.conditions}
    assert by_type[FAILED].status is ConditionStatus.TRUE
    assert (by_type[FAILED].reason, by_type[FAILED].message) == ("EngineUnavailable", "no engine")
    assert by_type[PROGRESSING].status is ConditionStatus.FALSE


def test_last_transition_time_moves_only_when_the_status_changes() -> None:
    status = walk(Phase.PENDING, Phase.COLLECTING, Phase.CORRELATING)
    progressing = next(c for c in status.conditions if c.type == PROGRESSING)
    # True since Pending (T0), although the reason changed twice since.
    assert progressing.last_transition_time == T0
    assert progressing.reason == "Correlating"


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (None, Phase.PENDING, True),
        (None, Phase.COLLECTING, False),
        (None, Phase.FAILED, False),
        (Phase.PENDING, Phase.COLLECTING, True),
        (Phase.PENDING, Phase.PLANNING, True),  # stages the engine did not announce
        (Phase.PLANNING, Phase.COLLECTING, False),
        (Phase.PLANNING, Phase.REMEDIATING, True),
        (Phase.PLANNING, Phase.COMPLETED, True),
        (Phase.REMEDIATING, Phase.FAILED, True),
        (Phase.COMPLETED, Phase.FAILED, False),
        (Phase.FAILED, Phase.COMPLETED, False),
        (Phase.COMPLETED, Phase.PENDING, True),  # a re-run
        (Phase.COLLECTING, Phase.PENDING, True),  # a resume
    ],
)
def test_allowed_transitions(current: Phase | None, target: Phase, allowed: bool) -> None:
    assert can_transition(current=current, target=target) is allowed


def test_a_bad_transition_raises() -> None:
    with pytest.raises(PhaseError, match="cannot go from Completed to Collecting"):
        transition(
            walk(Phase.PENDING, Phase.COMPLETED), target=Phase.COLLECTING, generation=1, now=T0
        )


@pytest.mark.parametrize(
    ("phases", "observed", "generation", "decision"),
    [
        ((), None, 1, Decision.START),
        ((Phase.PENDING, Phase.COMPLETED), 1, 1, Decision.NOTHING),
        ((Phase.PENDING, Phase.FAILED), 1, 1, Decision.NOTHING),
        ((Phase.PENDING, Phase.COMPLETED), 1, 2, Decision.RERUN),
        ((Phase.PENDING, Phase.COLLECTING), 1, 1, Decision.RESUME),
        ((Phase.PENDING, Phase.COLLECTING), 1, 2, Decision.RERUN),
    ],
)
def test_decide(
    phases: tuple[Phase, ...], observed: int | None, generation: int, decision: Decision
) -> None:
    status = walk(*phases, generation=observed or 1) if phases else DiagnosisStatus()
    assert decide(status=status, generation=generation) is decision


def _result(evidence: int = 3) -> DiagnosisResult:
    window = Window(start=T0.timestamp(), end=T0.timestamp() + 1800)
    return DiagnosisResult(
        window=window,
        root_cause=RootCause(
            component="store", kind="mysql", instance="db-0", confidence=1.3, summary="slow"
        ),
        evidence=tuple(
            Evidence(
                component="store", source=EvidenceSource.PROMETHEUS, query=f"q{i}", summary=f"s{i}"
            )
            for i in range(evidence)
        ),
        timeline=(
            TimelineEvent(ts=window.start + 60, component="edge", event="5xx"),
            TimelineEvent(ts=window.start + 30, component="store", event="slow queries"),
        ),
        remediations=(
            ProposedRemediation(
                action=ActionType.KILL_MYSQL_QUERIES, target="db-0", reason="long queries"
            ),
        ),
    )


def test_results_are_copied_bounded_and_ordered() -> None:
    status = with_result(
        walk(Phase.PENDING),
        result=_result(evidence=MAX_EVIDENCE + 7),
        diagnosis_uid="uid-1",
        namespace="shop",
    )
    assert status.root_cause is not None and status.root_cause.confidence == 1.0
    assert len(status.evidence) == MAX_EVIDENCE
    assert status.evidence_total == MAX_EVIDENCE + 7
    assert [t.component for t in status.timeline] == ["store", "edge"]
    assert status.remediations[0].state is RemediationState.PROPOSED
    wire = status.to_wire()
    assert wire["rootCause"]["component"] == "store"
    assert wire["window"]["start"] == "2024-05-01T12:00:00Z"


def test_rerun_clears_the_previous_results() -> None:
    done = transition(
        with_result(
            walk(Phase.PENDING, Phase.PLANNING),
            result=_result(),
            diagnosis_uid="uid-1",
            namespace="shop",
        ),
        target=Phase.COMPLETED,
        generation=1,
        now=T0,
    )
    again = transition(done, target=Phase.PENDING, generation=2, now=T0 + timedelta(hours=1))
    assert again.root_cause is None and again.evidence == [] and again.completed_at is None
    assert again.started_at == T0 + timedelta(hours=1)
    patch = status_patch(done.to_wire(), again.to_wire())
    assert patch["rootCause"] is None and patch["completedAt"] is None
    assert patch["observedGeneration"] == 2


def test_status_patch_sends_only_changes() -> None:
    assert status_patch({"a": 1, "b": [1]}, {"a": 1, "b": [1, 2], "c": "x"}) == {
        "b": [1, 2],
        "c": "x",
    }
    assert status_patch({"a": 1}, {}) == {"a": None}


def test_skipped_remediations_say_why() -> None:
    status = skip_remediations(
        with_result(walk(Phase.PENDING), result=_result(), diagnosis_uid="uid-1", namespace="shop"),
        reason="no executor",
        now=T0,
    )
    assert [(r.state, r.reason) for r in status.remediations] == [
        (RemediationState.SKIPPED, "no executor")
    ]
