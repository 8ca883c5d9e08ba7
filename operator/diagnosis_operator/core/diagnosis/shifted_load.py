"""Work moved onto a dependency when its sibling failed: a symptom, not an aggravation.  Pure.

When a cache refuses connections, its callers fall back to the database; when
a primary fails, reads go to the replica.  What is left is asked for more
(``catalog.work.WORK_METRICS`` rise), slows under it and logs slow statements
of its own, from the moment the sibling failed.  It did not worsen the
incident by a fault of its own: its callers' errors name the failing sibling,
never it, and its trouble began with the extra work.  A senior engineer reads
it as one more symptom of the root, and ends nothing on it (its slow
statements are the fallback's lookups, not the trouble).
"""

from __future__ import annotations

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.catalog.work import WORK_METRICS
from diagnosis_operator.core.diagnosis.churn import CHURNED, churn_victim
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, only_fell
from diagnosis_operator.core.diagnosis.gate import reports_down
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD, SignalKind

TOOK_OVER = "took over work of failed"  # how a candidate's reasons say so
BLAMED_ROOT = 0.5  # the root's share of its callers' dependency mentions above which they name it


def asked_more(name: str) -> bool:
    """Pure: whether a metric counts work asked of a component (``WORK_METRICS``)."""
    return any(compiled(p).search(name) for p in WORK_METRICS)


def took_over_work(
    *, evidence: ComponentEvidence, root_onset: float | None, tolerance: float
) -> bool:
    """Pure: whether a dependency's anomaly began, no earlier than the root's, with more work.

    Its onset is not before the root's, and among its metrics that moved
    within ``tolerance`` of its first moving one, the work asked of it rose and
    none of it fell (one new command while the total fell is no more work).
    """
    onset = evidence.onset
    if onset is None or root_onset is None or onset < root_onset:
        return False
    strong = [d for d in evidence.metric_detections if d.score >= Z_THRESHOLD]
    if not strong:
        return False
    first = min(d.onset for d in strong)
    work = [
        d.anomaly.direction
        for d in strong
        if d.onset <= first + tolerance
        and (
            d.signal.kind is SignalKind.REQUEST_RATE
            or asked_more(d.signal.name.removesuffix(" rate"))
        )
    ]
    # more of one command while the total fell is work shifted, not more work asked
    return "up" in work and "down" not in work


def fallback_symptom(
    *,
    evidence: ComponentEvidence,
    blame: float,
    root_blame: float,
    root_onset: float | None,
    tolerance: float,
) -> bool:
    """Pure: whether a dependency beside the root only took over the root's work.

    The callers' errors name the root (``root_blame`` above ``BLAMED_ROOT``) and
    never this one (``blame`` 0), and its anomaly began with the extra work
    (``took_over_work``).
    """
    return (
        blame == 0.0
        and root_blame > BLAMED_ROOT
        and took_over_work(evidence=evidence, root_onset=root_onset, tolerance=tolerance)
    )


def only_asked_more(*, evidence: ComponentEvidence, tolerance: float) -> bool:
    """Pure: whether all a dependency shows is more work asked of it, and no harm.

    No symptom of its own (``has_symptom``: no failures, slowness, severe new
    lines, lost work), and its first moves include more work asked
    (``WORK_METRICS``): what grew in it (keys, memory, connections) is what
    its callers sent.  Such a dependency cannot have failed its callers; from
    their onset on, it only shows what they did (the counterpart of
    ``evidence.only_fell``).
    """
    if evidence.has_symptom or evidence.onset is None:
        return False
    return took_over_work(evidence=evidence, root_onset=evidence.onset, tolerance=tolerance)


# How a candidate's reasons say that only its load changed, no harm of its own.
LOAD_ONLY = "only asked"
ASKED_MORE = f"{LOAD_ONLY} more work, no harm of its own"
ASKED_LESS = f"{LOAD_ONLY} less work, no harm of its own"


def load_symptom_reason(
    *,
    evidence: ComponentEvidence,
    blame: float,
    root: str,
    root_blame: float,
    root_onset: float | None,
    tolerance: float,
) -> str | None:
    """Pure: why a dependency beside the root is one more symptom, not an aggravation.

    It took over the failed root's work (``fallback_symptom``), or all it shows
    is more work asked of it (``only_asked_more``) or less (``evidence.only_fell``:
    its callers, broken by the root, sent it less), from the root's onset on, or
    it is a victim of its callers' connection churn (``churn.churn_victim``).
    ``None``: it may aggravate the incident by a fault of its own.
    """
    if churn_victim(evidence=evidence, tolerance=tolerance):
        return CHURNED
    if fallback_symptom(
        evidence=evidence,
        blame=blame,
        root_blame=root_blame,
        root_onset=root_onset,
        tolerance=tolerance,
    ):
        return f"{TOOK_OVER} {root} (its callers name {root} only)"
    onset = evidence.onset
    if root_onset is None or onset is None or onset < root_onset or reports_down(evidence):
        return None
    if only_asked_more(evidence=evidence, tolerance=tolerance):
        return ASKED_MORE
    return ASKED_LESS if only_fell(evidence) else None
