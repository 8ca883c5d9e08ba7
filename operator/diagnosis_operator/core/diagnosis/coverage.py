"""How much of the evidence the sources gave: an honest outcome for a diagnosis.  Pure.

A diagnosis is only as good as what it could read.  ``assess`` looks at what
``service.collect`` recorded for every component (queries asked, failed, timed
out, and whether anything came back at all) and says which of three outcomes
the diagnosis may claim:

* ``complete``: every query answered; the engine's conclusion stands.
* ``degraded``: some queries failed (or ran past the deadline), or some
  answers came back marked partial by their source (a Thanos store that
  could not be reached, a Mimir or Prometheus answer with warnings), and the
  engine ran on what there was.  Its confidence is scaled by the share of queries that
  answered, so a conclusion drawn from half the evidence never reads as
  certain, and the reason lists what is missing.  A partial answer counts as
  not fully answered (how much it lacks the source does not say), and it is
  never a calm: with nothing found in it the outcome stays degraded.
* ``failed``: nothing to conclude from.  Every query failed; or the symptom's
  own metrics (the component the user named) could not be read; or every query
  answered but no component had a single series or log line in the window (a
  window in the future, or beyond the data the sources keep).  No root cause
  is named: "no incident" on no data would be a calm nobody measured.
"""

from __future__ import annotations

from dataclasses import replace

from diagnosis_operator.models.coverage import (
    DEADLINE_EXCEEDED,
    NO_DATA,
    PARTIAL_DATA,
    SOURCES_FAILED,
    SYMPTOM_SOURCE_FAILED,
    Coverage,
    Outcome,
)
from diagnosis_operator.models.signals import ComponentSignals, SignalSet, isoformat_z

MAX_LISTED = 3  # failed queries quoted in a reason (the rest are in the warnings)


def assess(signals: SignalSet, *, symptom_component: str | None = None) -> Coverage:
    """Pure: the outcome ``signals`` allow (see the module docstring)."""
    components = signals.components
    asked = sum(c.asked for c in components.values())
    failed = sum(c.failed for c in components.values())
    timed_out = sum(c.timed_out for c in components.values())
    partial = sum(c.partial for c in components.values())
    counted = Coverage(asked=asked, failed=failed, timed_out=timed_out, partial=partial)
    window = f"{isoformat_z(signals.window.start)} to {isoformat_z(signals.window.end)}"
    errors = [e for c in components.values() for e in c.errors]
    if asked and failed >= asked:
        return replace(
            counted,
            outcome=Outcome.FAILED,
            reason=DEADLINE_EXCEEDED if timed_out >= failed else SOURCES_FAILED,
            message=f"all {asked} queries for {window} failed: {_listed(errors)}",
        )
    symptom = components.get(symptom_component or "")
    if symptom is not None and symptom.series_failed:
        return replace(
            counted,
            outcome=Outcome.FAILED,
            reason=SYMPTOM_SOURCE_FAILED,
            message=(
                f"the metrics of the symptom's component {symptom.component} could not be "
                f"read for {window}: {_listed(symptom.errors)}"
            ),
        )
    if failed or partial:
        return replace(
            counted,
            outcome=Outcome.DEGRADED,
            reason=DEADLINE_EXCEEDED if timed_out else PARTIAL_DATA,
            message=(
                f"{_missing(failed=failed, partial=partial, asked=asked)} for {window}; the "
                f"diagnosis rests on the rest (confidence scaled by "
                f"{counted.answered_share:.2f}): {_listed(errors)}"
            ),
        )
    if components and not any(_has_data(c) for c in components.values()):
        return replace(
            counted,
            outcome=Outcome.FAILED,
            reason=NO_DATA,
            message=(
                f"no component has a single series or log line for {window}: the window "
                "lies beyond the data the sources hold (in the future, or older than their "
                "retention), or no selector matches"
            ),
        )
    return counted


def _missing(*, failed: int, partial: int, asked: int) -> str:
    said = [f"{failed} of {asked} queries failed"] if failed else []
    if partial:
        said.append(f"{partial} of {asked} answers were partial (the source said so)")
    return " and ".join(said)


def _has_data(component: ComponentSignals) -> bool:
    return bool(
        component.series
        or any(component.policy_series.values())  # the policy's own signals
        or component.log_samples
        or any(any(v > 0 for v in count.values) for count in component.log_counts)
    )


def _listed(errors: list[str] | tuple[str, ...]) -> str:
    shown = "; ".join(errors[:MAX_LISTED])
    more = len(errors) - MAX_LISTED
    return shown + (f" (and {more} more)" if more > 0 else "")
