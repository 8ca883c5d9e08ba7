"""A policy test's expectation against what the policy gave on a bundle: the differences.  Pure.

``compare`` takes the expectation of one test (``api.policytest.Expectation``)
and the outcome (root cause, failure mode, and the guards' decision on every
proposed action, ``models.preview.ActionPreview``) and returns one
``Difference`` per field that differs; ``render_differences`` writes them as a
readable diff, expected (``-``) against got (``+``), field by field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.api.policytest import Expectation, ExpectedAction, ExpectedRefusal
from diagnosis_operator.models.preview import ActionPreview, Decision

NOTHING = "(nothing)"
# The expectation's list fields and the decision each one holds.
ACTION_FIELDS: tuple[tuple[str, str, Decision], ...] = (
    ("run", "run", Decision.RUN),
    ("dry_run", "dryRun", Decision.DRY_RUN),
    ("awaiting_approval", "awaitingApproval", Decision.APPROVAL),
    ("refused", "refused", Decision.REFUSED),
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What a policy gave on one bundle."""

    root_cause: str
    failure_mode: str | None
    actions: tuple[ActionPreview, ...]


@dataclass(frozen=True, slots=True)
class Difference:
    """One field that differs: ``expected`` and ``got`` as lines (empty: none)."""

    field: str
    expected: tuple[str, ...]
    got: tuple[str, ...]


def compare(expect: Expectation, outcome: Outcome) -> tuple[Difference, ...]:
    """Every difference between ``expect`` and ``outcome``; empty when the test passes."""
    out: list[Difference] = []
    if expect.root_cause is not None and expect.root_cause != outcome.root_cause:
        out.append(Difference("rootCause", (expect.root_cause,), (outcome.root_cause,)))
    if expect.failure_mode is not None and expect.failure_mode != outcome.failure_mode:
        got = outcome.failure_mode or NOTHING
        out.append(Difference("failureMode", (expect.failure_mode,), (got,)))
    for attribute, wire, decision in ACTION_FIELDS:
        wanted: Sequence[ExpectedAction] | None = getattr(expect, attribute)
        if wanted is None:
            continue
        got_actions = [p for p in outcome.actions if p.decision is decision]
        missing, extra = _unmatched(wanted, got_actions)
        if missing or extra:
            elsewhere = [
                f"{_describe(p)} is {p.decision.value}"
                for item in missing
                for p in outcome.actions
                if p.decision is not decision and _same_action(item, p)
            ]
            out.append(
                Difference(
                    wire,
                    tuple(item.describe() for item in missing),
                    tuple(_describe(preview) for preview in extra) + tuple(elsewhere),
                )
            )
    return tuple(out)


def _same_action(item: ExpectedAction, preview: ActionPreview) -> bool:
    return item.action is preview.action and item.target in (None, preview.target)


def _unmatched(
    wanted: Sequence[ExpectedAction], got: Sequence[ActionPreview]
) -> tuple[list[ExpectedAction], list[ActionPreview]]:
    """The expected items nothing matched, and the got items no expectation took."""
    left = list(got)
    missing: list[ExpectedAction] = []
    for item in wanted:
        found = next((p for p in left if _matches(item, p)), None)
        if found is None:
            missing.append(item)
        else:
            left.remove(found)
    return missing, left


def _matches(item: ExpectedAction, preview: ActionPreview) -> bool:
    if item.action is not preview.action:
        return False
    if item.target is not None and item.target != preview.target:
        return False
    if isinstance(item, ExpectedRefusal):
        if item.reason != preview.code:
            return False
        if item.message is not None and item.message not in preview.reason:
            return False
    return True


def _describe(preview: ActionPreview) -> str:
    words = f"{preview.action.value} {preview.target}"
    if preview.decision is Decision.RUN:
        return words
    return f"{words} ({preview.code}: {preview.reason})"


def render_differences(differences: Sequence[Difference]) -> list[str]:
    """The differences as diff lines: per field, ``- expected`` then ``+ got``."""
    lines: list[str] = []
    for difference in differences:
        lines.append(f"  {difference.field}:")
        lines += [f"    - expected: {text}" for text in difference.expected or (NOTHING,)]
        lines += [f"    + got:      {text}" for text in difference.got or (NOTHING,)]
    return lines
