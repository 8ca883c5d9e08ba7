"""How a Diagnosis run ends when it cannot conclude: ``Stop``, the deadline, the coverage.

* ``Stop`` ends a run as ``Failed`` with a CamelCase reason and a message.
* ``deadline_passed``: the overall deadline (``DIAG_DIAGNOSIS_DEADLINE``, counted
  from the first attempt, retries included) is over; the run ends
  ``DeadlineExceeded`` naming what it was doing and the last problem seen.
* ``no_conclusion``: the engine's ``coverage`` (``core.diagnosis.coverage``) says
  there is nothing to conclude from.  Failed queries may be a passing outage and
  are retried like an unreachable source; no data in the window, or the
  deadline, end the run at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from diagnosis_operator.models.coverage import (
    DEADLINE_EXCEEDED,
    SOURCES_FAILED,
    SYMPTOM_SOURCE_FAILED,
    Outcome,
)
from diagnosis_operator.models.findings import DiagnosisResult


class Stop(Exception):
    """End this run as Failed with ``reason`` (a CamelCase word) and ``message``."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class NoConclusion:
    """Why the engine concluded nothing, and whether trying again may help."""

    reason: str
    message: str
    retryable: bool


def no_conclusion(result: DiagnosisResult) -> NoConclusion | None:
    """None when the result concludes something (complete or degraded)."""
    coverage = result.coverage
    if coverage.outcome is not Outcome.FAILED:
        return None
    return NoConclusion(
        reason=coverage.reason,
        message=coverage.message,
        retryable=coverage.reason in (SOURCES_FAILED, SYMPTOM_SOURCE_FAILED),
    )


def deadline_passed(
    deadline: float | None, *, limit: float, what: str, last: str = "", slack: float = 0.0
) -> Stop | None:
    """A ``Stop`` when ``deadline`` (a ``time.monotonic()`` instant) is less than
    ``slack`` seconds away, else None."""
    if deadline is None or time.monotonic() + slack < deadline:
        return None
    return Stop(
        DEADLINE_EXCEEDED,
        f"the diagnosis ran out of its {limit:g} s deadline (DIAG_DIAGNOSIS_DEADLINE) "
        f"{what}" + (f"; last problem: {last}" if last else ""),
    )
