"""Before/after verification: resolved, not resolved, unknown, and the follow-up."""

from __future__ import annotations

from diagnosis_operator.core.remediation.verify import (
    Better,
    FollowUp,
    Outcome,
    SignalCheck,
    verify,
    window_mean,
)
from diagnosis_operator.models.signals import Labels, Series, Window


def test_healthy_after_is_resolved() -> None:
    result = verify(
        checks=[SignalCheck("5xx ratio", before=0.3, after=0.001, healthy=0.01)], reversible=True
    )
    assert (result.outcome, result.follow_up) == (Outcome.RESOLVED, FollowUp.KEEP)


def test_enough_improvement_is_resolved() -> None:
    result = verify(
        checks=[SignalCheck("latency", before=8.0, after=3.0, healthy=0.5)], reversible=False
    )
    assert result.outcome is Outcome.RESOLVED


def test_too_little_improvement_escalates() -> None:
    result = verify(
        checks=[SignalCheck("latency", before=8.0, after=7.0, healthy=0.5)], reversible=True
    )
    assert (result.outcome, result.follow_up) == (Outcome.NOT_RESOLVED, FollowUp.ESCALATE)


def test_worse_rolls_back_when_reversible_else_escalates() -> None:
    worse = [SignalCheck("5xx ratio", before=0.1, after=0.4, healthy=0.01)]
    assert verify(checks=worse, reversible=True).follow_up is FollowUp.ROLLBACK
    assert verify(checks=worse, reversible=False).follow_up is FollowUp.ESCALATE
    assert "worse" in verify(checks=worse, reversible=True).summary


def test_higher_is_better_signals() -> None:
    good = SignalCheck(
        "success ratio", before=0.63, after=0.999, better=Better.HIGHER, healthy=0.99
    )
    bad = SignalCheck("success ratio", before=0.63, after=0.5, better=Better.HIGHER, healthy=0.99)
    assert verify(checks=[good], reversible=False).outcome is Outcome.RESOLVED
    assert verify(checks=[bad], reversible=True).follow_up is FollowUp.ROLLBACK


def test_missing_data_is_unknown_not_resolved() -> None:
    checks = [
        SignalCheck("5xx ratio", before=0.3, after=0.0, healthy=0.01),
        SignalCheck("cpu", before=0.9, after=None),
    ]
    result = verify(checks=checks, reversible=True)
    assert (result.outcome, result.follow_up) == (Outcome.UNKNOWN, FollowUp.ESCALATE)
    assert verify(checks=[], reversible=True).outcome is Outcome.UNKNOWN


def test_all_checks_must_resolve() -> None:
    checks = [
        SignalCheck("5xx ratio", before=0.3, after=0.0, healthy=0.01),
        SignalCheck("cpu", before=0.9, after=0.89, healthy=0.7),
    ]
    assert verify(checks=checks, reversible=False).outcome is Outcome.NOT_RESOLVED


def test_window_mean_uses_only_samples_in_the_window() -> None:
    series = Series(
        name="x",
        labels=Labels({"job": "a"}),
        timestamps=(0.0, 10.0, 20.0, 30.0),
        values=(100.0, 1.0, 3.0, 100.0),
    )
    assert window_mean(series=[series], window=Window(5.0, 25.0)) == 2.0
    assert window_mean(series=[series], window=Window(40.0, 50.0)) is None
