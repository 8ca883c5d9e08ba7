"""The outcome a diagnosis may claim from what its sources gave (see core.diagnosis.coverage)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Outcome(StrEnum):
    COMPLETE = "complete"
    DEGRADED = "degraded"
    FAILED = "failed"


# Reasons (CamelCase, as a condition or Event reason) for a degraded or failed outcome.
SOURCES_FAILED = "SourcesFailed"
SYMPTOM_SOURCE_FAILED = "SymptomSourceFailed"
NO_DATA = "NoData"
PARTIAL_DATA = "PartialData"
DEADLINE_EXCEEDED = "DeadlineExceeded"


@dataclass(frozen=True)
class Coverage:
    """What the sources gave, and the outcome the diagnosis may claim from it."""

    outcome: Outcome = Outcome.COMPLETE
    reason: str = ""
    message: str = ""
    asked: int = 0
    failed: int = 0
    timed_out: int = 0
    # Answers the source said may be incomplete (warnings, partial response).
    partial: int = 0

    @property
    def answered_share(self) -> float:
        """The share of queries that answered in full (1 when none were asked).

        A partial answer is not a full one: how much it lacks, the source
        does not say.
        """
        if self.asked <= 0:
            return 1.0
        return max(0.0, (self.asked - self.failed - self.partial) / self.asked)

    def scaled(self, confidence: float) -> float:
        """``confidence`` as far as the evidence that answered supports it."""
        if self.outcome is Outcome.FAILED:
            return 0.0
        return confidence * self.answered_share

    def to_json(self) -> dict[str, object]:
        found: dict[str, object] = {
            "state": self.outcome.value,
            "reason": self.reason,
            "message": self.message,
            "queriesAsked": self.asked,
            "queriesFailed": self.failed,
            "queriesTimedOut": self.timed_out,
        }
        if self.partial:  # only when a source said so (reports without it read as 0)
            found["queriesPartial"] = self.partial
        return found


COMPLETE = Coverage()
