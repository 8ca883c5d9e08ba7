"""The names correlation had before it was split into rooms (kept for modules not yet moved).

New code imports from the rooms: ``evidence`` (ComponentEvidence), ``onsets``
(new log categories), ``blame``, ``ranking`` (``rank``, roles) and
``affected`` (affected instances).
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.affected import (
    AffectedFinding,
    errors_stand_out,
    find_affected,
    sole_affected_instance,
    still_failing,
)
from diagnosis_operator.core.diagnosis.blame import caller_blame, named_dependencies
from diagnosis_operator.core.diagnosis.bursts import burst_start
from diagnosis_operator.core.diagnosis.evidence import (
    ComponentEvidence,
    fails_by_itself,
    incident_events,
    only_fell,
    recovered,
)
from diagnosis_operator.core.diagnosis.onsets import new_log_categories, new_slow_queries
from diagnosis_operator.core.diagnosis.ranking import (
    ROLE_AGGRAVATING,
    ROLE_CANDIDATE,
    ROLE_ROOT,
    ROLE_SYMPTOM,
    Ranking,
    Score,
    rank,
    score_components,
)
from diagnosis_operator.core.diagnosis.stats import poisson_tail_log10_bound

__all__ = [
    "ROLE_AGGRAVATING",
    "ROLE_CANDIDATE",
    "ROLE_ROOT",
    "ROLE_SYMPTOM",
    "AffectedFinding",
    "ComponentEvidence",
    "Ranking",
    "Score",
    "burst_start",
    "caller_blame",
    "errors_stand_out",
    "fails_by_itself",
    "find_affected",
    "incident_events",
    "named_dependencies",
    "new_log_categories",
    "new_slow_queries",
    "only_fell",
    "poisson_tail_log10_bound",
    "rank",
    "recovered",
    "score_components",
    "sole_affected_instance",
    "still_failing",
]
