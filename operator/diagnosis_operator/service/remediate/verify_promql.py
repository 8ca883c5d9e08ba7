"""Look again through Prometheus: the symptom's error ratio and latency after an action.

``metric_verification`` gathers what the PromQL checks of a Diagnosis need (the
live ``PromQLSource``, the symptom's component in the policy, the incident's
start and the gate's thresholds); ``metric_checks`` reads the catalogue's
symptom signals of that component over the baseline, just before the action
and over the sustained period, and returns one ``SignalCheck`` per signal
(``core.remediation.verify_metrics``: verified only when every one stayed under
the gate's threshold).  A query that fails gives no data, hence an unknown
verdict (escalated), never a pass; a signal with no series in any of the three
windows (a component without such metrics) is left out.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    PolicyComponent,
    RemediationStatus,
    parse_duration,
)
from diagnosis_operator.core.remediation.verify import SignalCheck
from diagnosis_operator.core.remediation.verify_metrics import (
    due_after,
    metric_check,
    metric_windows,
    symptom_queries,
)
from diagnosis_operator.models.signals import Series, Window
from diagnosis_operator.ports import PromQLSource
from diagnosis_operator.service.remediate.verification import applied_at

log = logging.getLogger(__name__)
MAX_STEP = 15.0
MIN_STEP = 1.0
_POINTS = 4  # at least this many samples over the sustained period


@dataclass(frozen=True)
class MetricVerification:
    """What the PromQL checks of one Diagnosis need."""

    promql: PromQLSource
    component: PolicyComponent
    incident_start: float
    baseline: float
    sustain: float
    error_rise: float
    latency_rise: float

    @property
    def step(self) -> float:
        return max(MIN_STEP, min(MAX_STEP, self.sustain / _POINTS))

    def due(self, item: RemediationStatus, *, now: float) -> bool:
        """Has the sustained period after this action been seen whole?"""
        at = applied_at(item)
        return at is not None and now >= due_after(acted_at=at, sustain=self.sustain)


def metric_verification(
    *,
    policy: DiagnosisPolicySpec,
    symptom_component: str | None,
    promql: PromQLSource | None,
    incident_start: float | None,
) -> MetricVerification | None:
    """The PromQL checks' inputs; None without Prometheus, a symptom component or a window."""
    if promql is None or symptom_component is None or incident_start is None:
        return None
    component = next((c for c in policy.components if c.name == symptom_component), None)
    if component is None:
        return None
    thresholds = policy.thresholds
    return MetricVerification(
        promql=promql,
        component=component,
        incident_start=incident_start,
        baseline=parse_duration(policy.alerts.baseline),
        sustain=parse_duration(policy.remediation.verification.sustain),
        error_rise=thresholds.min_error_ratio_rise,
        latency_rise=thresholds.min_latency_rise,
    )


def _read(spec: MetricVerification, promql: str, window: Window) -> Sequence[Series] | None:
    """The series, or None when the query failed (no data: an unknown verdict)."""
    try:
        return spec.promql.query_range(promql=promql, window=window, step=spec.step)
    except Exception as error:  # no data is an unknown verdict, not a crash
        log.warning("verification query %s over %s failed: %s", promql, window, error)
        return None


def metric_checks(
    spec: MetricVerification, *, item: RemediationStatus, now: float
) -> list[SignalCheck]:
    """One check per symptom signal of the component (see the module docstring)."""
    at = applied_at(item)
    windows = (
        None
        if at is None
        else metric_windows(
            incident_start=spec.incident_start,
            acted_at=at,
            now=now,
            baseline=spec.baseline,
            sustain=spec.sustain,
        )
    )
    if windows is None:
        return []
    checks: list[SignalCheck] = []
    for query in symptom_queries(spec.component, sustain=spec.sustain):
        readings = [
            _read(spec, query.promql, window)
            for window in (windows.baseline, windows.before, windows.sustained)
        ]
        if not any(readings) and None not in readings:
            continue  # a signal this component never had (no such metrics): not a check
        baseline, before, sustained = (reading or () for reading in readings)
        checks.append(
            metric_check(
                query=query,
                baseline=baseline,
                before=before,
                sustained=sustained,
                windows=windows,
                error_rise=spec.error_rise,
                latency_rise=spec.latency_rise,
            )
        )
    return checks
