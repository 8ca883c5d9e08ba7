"""The summary tells the root's callers apart from its own dependencies that followed it."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.explain.summary import summary
from diagnosis_operator.core.diagnosis.ranking import ROLE_SYMPTOM
from diagnosis_operator.models.findings import Candidate, RootCause

ROOT = RootCause(component="api", kind="app", instance=None, confidence=0.8, summary="")
CANDIDATES = (
    Candidate(component="api", score=0.9, role="root"),
    Candidate(component="db", score=0.5, role=ROLE_SYMPTOM),
    Candidate(component="edge", score=0.4, role=ROLE_SYMPTOM),
)


def _text(dependencies: frozenset[str]) -> str:
    return summary(
        root_cause=ROOT,
        candidates=CANDIDATES,
        evidence={},
        affected=(),
        clients=(),
        symptom="edge",
        dependencies=dependencies,
    )


def test_a_dependency_that_followed_is_not_called_a_caller() -> None:
    text = _text(frozenset({"db"}))
    assert "Its callers followed: edge." in text
    assert "Its own dependencies felt it: db." in text
    assert "callers followed: db" not in text


def test_without_dependencies_every_follower_is_a_caller() -> None:
    text = _text(frozenset())
    assert "Its callers followed: db, edge." in text
    assert "dependencies" not in text


def test_a_root_whose_dependency_it_churned_is_named_for_the_churn() -> None:
    from diagnosis_operator.catalog.churn import CALLER_MODE
    from diagnosis_operator.core.diagnosis.churn import CHURNED, churning_caller_mode

    churned = (
        Candidate(component="api", score=0.9, role="root"),
        Candidate(component="db", score=0.5, role=ROLE_SYMPTOM, reasons=(CHURNED,)),
    )
    assert churning_caller_mode(candidates=churned, dependencies=("db",)) == CALLER_MODE
    # not its dependency (the edge calls it), or no churn reason: no such mode
    assert churning_caller_mode(candidates=churned, dependencies=("cache",)) is None
    assert churning_caller_mode(candidates=CANDIDATES, dependencies=("db",)) is None
