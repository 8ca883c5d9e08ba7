"""Did the action help?  Before / after signal comparison.  Pure.

A ``SignalCheck`` names one signal the action should move (e.g. the 5xx ratio
should go down), its level before and after the action, and optionally a healthy
level.  ``verify`` judges them together:

* ``unknown`` when any check has no data before or after (a missing signal is
  not evidence that things are fine);
* ``resolved`` when every check is healthy after the action, or improved by at
  least ``minImprovement`` (relative) towards healthy;
* ``not-resolved`` otherwise.

The follow-up: resolved -> keep; not-resolved and worse than before -> roll back
when the action is reversible, else escalate; not-resolved or unknown -> escalate
to a human.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from enum import StrEnum

from diagnosis_operator.models.signals import Series, Window


class Better(StrEnum):
    LOWER = "lower"
    HIGHER = "higher"


class Outcome(StrEnum):
    RESOLVED = "resolved"
    NOT_RESOLVED = "not-resolved"
    UNKNOWN = "unknown"


class FollowUp(StrEnum):
    KEEP = "keep"
    ROLLBACK = "rollback"
    ESCALATE = "escalate"


@dataclass(frozen=True, slots=True)
class SignalCheck:
    name: str
    before: float | None
    after: float | None
    better: Better = Better.LOWER
    healthy: float | None = None  # at or beyond this level the signal is healthy
    # Only healthy counts (improving is not enough): the PromQL checks (verify_metrics)
    require_healthy: bool = False


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    outcome: Outcome
    worse: bool
    detail: str
    before: float | None = None
    after: float | None = None
    healthy: float | None = None

    def numbers(self) -> dict[str, object]:
        """The check as status shows it: name, outcome and the numbers.  Pure."""
        return {
            "name": self.name,
            "outcome": self.outcome.value,
            "before": self.before,
            "after": self.after,
            "threshold": self.healthy,
        }


@dataclass(frozen=True, slots=True)
class VerifyResult:
    outcome: Outcome
    follow_up: FollowUp
    checks: tuple[CheckResult, ...]
    summary: str


def window_mean(*, series: Sequence[Series], window: Window) -> float | None:
    """Mean of all finite samples of ``series`` inside ``window``; None without data.  Pure."""
    values = [
        value
        for one in series
        for ts, value in zip(one.timestamps, one.values, strict=True)
        if window.contains(ts) and math.isfinite(value)
    ]
    return sum(values) / len(values) if values else None


def _healthy(value: float, check: SignalCheck) -> bool:
    if check.healthy is None:
        return False
    return value <= check.healthy if check.better is Better.LOWER else value >= check.healthy


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _level(check: SignalCheck) -> CheckResult:
    """A check that must end healthy: under (or over) its threshold, else not resolved."""
    before, after, limit = _finite(check.before), _finite(check.after), _finite(check.healthy)
    shown = "none" if before is None else f"{before:g}"

    def result(outcome: Outcome, worse: bool, detail: str) -> CheckResult:
        return CheckResult(check.name, outcome, worse, detail, before, after, limit)

    if limit is None:
        return result(Outcome.UNKNOWN, False, "no baseline data to set its threshold")
    if after is None:
        return result(Outcome.UNKNOWN, False, "no data over the period after the action")
    side = "<=" if check.better is Better.LOWER else ">="
    if _healthy(after, check):
        return result(Outcome.RESOLVED, False, f"{shown} -> {after:g}, healthy ({side} {limit:g})")
    gain = (
        0.0
        if before is None
        else (before - after if check.better is Better.LOWER else after - before)
    )
    return result(
        Outcome.NOT_RESOLVED,
        gain < 0,
        f"{shown} -> {after:g}, still past its threshold ({side} {limit:g})",
    )


def judge(*, check: SignalCheck, min_improvement: float) -> CheckResult:
    """One signal's verdict.  Pure."""
    if check.require_healthy:
        return _level(check)
    if (
        check.before is None
        or check.after is None
        or not (math.isfinite(check.before) and math.isfinite(check.after))
    ):
        missing = "before" if check.before is None else "after"
        return CheckResult(check.name, Outcome.UNKNOWN, False, f"no data {missing} the action")
    before, after = check.before, check.after
    gain = before - after if check.better is Better.LOWER else after - before
    worse = gain < 0
    movement = f"{before:g} -> {after:g}"
    if _healthy(after, check):
        return CheckResult(
            check.name,
            Outcome.RESOLVED,
            False,
            f"{movement}, healthy (<= {check.healthy:g})"
            if check.better is Better.LOWER
            else f"{movement}, healthy (>= {check.healthy:g})",
        )
    # How far it moved relative to the distance it had to go (to healthy, else to zero).
    target = check.healthy if check.healthy is not None else 0.0
    distance = abs(before - target)
    relative = gain / distance if distance > 0 else 0.0
    if relative >= min_improvement:
        return CheckResult(
            check.name, Outcome.RESOLVED, False, f"{movement}, improved {relative:.0%}"
        )
    word = "worse" if worse else "not enough improvement"
    return CheckResult(
        check.name, Outcome.NOT_RESOLVED, worse, f"{movement}, {word} ({relative:.0%})"
    )


def verify(
    *, checks: Sequence[SignalCheck], reversible: bool, min_improvement: float = 0.5
) -> VerifyResult:
    """The verdict over all checks and what to do next.  Pure."""
    if not checks:
        return VerifyResult(Outcome.UNKNOWN, FollowUp.ESCALATE, (), "no signal to verify against")
    results = tuple(
        replace(
            judge(check=check, min_improvement=min_improvement),
            before=_finite(check.before),
            after=_finite(check.after),
            healthy=_finite(check.healthy),
        )
        for check in checks
    )
    summary = "; ".join(f"{r.name}: {r.detail}" for r in results)
    if any(r.outcome is Outcome.UNKNOWN for r in results):
        return VerifyResult(Outcome.UNKNOWN, FollowUp.ESCALATE, results, summary)
    if all(r.outcome is Outcome.RESOLVED for r in results):
        return VerifyResult(Outcome.RESOLVED, FollowUp.KEEP, results, summary)
    follow_up = (
        FollowUp.ROLLBACK if reversible and any(r.worse for r in results) else FollowUp.ESCALATE
    )
    return VerifyResult(Outcome.NOT_RESOLVED, follow_up, results, summary)
