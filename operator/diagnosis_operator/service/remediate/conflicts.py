"""The one retry loop of the executor: try a write, and on a lost race (409) look again.

Every optimistic-concurrency write of the executor goes through ``retry_conflicts``:
the ledger's compare-and-swap, a quarantine, its lifting, a client rule's apply
and removal.  ``attempt`` writes from what was last read and raises
``VersionConflict`` when it lost a race; ``reread`` then reads again and says
either ``Again(fresh)`` (try once more from ``fresh``) or gives the final answer
itself (the world changed so that the write no longer applies).  When every
attempt lost, ``exhausted`` gives the answer from the last read.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from diagnosis_operator.ports import VersionConflict

P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True)
class Again(Generic[P]):
    """Try the write once more, from ``value`` (what was read again)."""

    value: P


def retry_conflicts(
    first: P,
    *,
    attempt: Callable[[P], R],
    reread: Callable[[], Again[P] | R],
    attempts: int,
    exhausted: Callable[[P], R],
) -> R:
    """``attempt(first)``, re-read and tried again on each ``VersionConflict``."""
    current = first
    for _ in range(attempts):
        try:
            return attempt(current)
        except VersionConflict:
            fresh = reread()
            if not isinstance(fresh, Again):
                return fresh
            current = fresh.value
    return exhausted(current)


def with_conflict_retry(work: Callable[[], None], *, attempts: int = 3) -> None:
    """``work()``, repeated on a lost race; the last attempt's conflict is raised."""
    retry_conflicts(
        None,
        attempt=lambda _: work(),
        reread=lambda: Again(None),
        attempts=attempts - 1,
        exhausted=lambda _: work(),
    )
