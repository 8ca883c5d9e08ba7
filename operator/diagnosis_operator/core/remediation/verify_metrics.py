"""Verification by PromQL: the symptom's own signals back under the gate's thresholds.  Pure.

The incident gate (``core.diagnosis.gate``) and the alert rules
(``core.rules.symptoms``) call it an incident when the symptom component's 5xx
ratio rises ``thresholds.minErrorRatioRise`` (absolute) above its baseline, or its
mean latency ``thresholds.minLatencyRise`` (relative) above it.  After an action
the same catalogue signals (``catalog.signals``, the ``SYMPTOMS`` of the rules) are
read again from Prometheus, and the action counts as verified only when every one
of them stayed at or under that threshold for the whole sustained period:

* the threshold: the median of the signal over ``alerts.baseline`` before the
  incident, plus the rise (error ratio) or times ``1 + rise`` (latency);
* the sustained period: the last ``verification.sustain`` before the verdict, and
  only once the rate window no longer reaches back before the action (the
  verification waits for that: ``due_after``);
* "before": the worst level over an equal span just before the action.

The checks are ``SignalCheck``s with ``require_healthy`` (improving is not enough);
no data for the baseline or the period gives an unknown verdict, never a pass.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

from diagnosis_operator.api import PolicyComponent
from diagnosis_operator.catalog.signals import DEFAULT_RATE_WINDOW, catalog_for, render
from diagnosis_operator.core.remediation.verify import Better, SignalCheck
from diagnosis_operator.core.rules.symptoms import SYMPTOMS, Measure
from diagnosis_operator.models.signals import Series, Window

MIN_RATE_WINDOW = 30.0


@dataclass(frozen=True, slots=True)
class SymptomQuery:
    """One symptom signal of a component, as PromQL (rate window of the verification)."""

    signal: str
    component: str
    promql: str
    measure: Measure


@dataclass(frozen=True, slots=True)
class MetricWindows:
    baseline: Window  # before the incident: the threshold's baseline
    before: Window  # just before the action
    sustained: Window  # the period that must stay healthy


def rate_window(sustain: float) -> float:
    """The rate window of the verification queries: the sustained period, within limits.  Pure."""
    return min(DEFAULT_RATE_WINDOW, max(MIN_RATE_WINDOW, sustain))


def due_after(*, acted_at: float, sustain: float) -> float:
    """When the sustained period has been seen whole, after the action's rate window.  Pure."""
    return acted_at + rate_window(sustain) + sustain


def symptom_queries(component: PolicyComponent, *, sustain: float) -> tuple[SymptomQuery, ...]:
    """The gate's symptom signals of ``component``'s kind, rendered for its selector.  Pure."""
    templates = {template.name: template for template in catalog_for(component.kind)}
    window = rate_window(sustain)
    return tuple(
        SymptomQuery(
            signal=symptom.signal,
            component=component.name,
            promql=render(
                templates[symptom.signal], selector=component.selector, rate_window=window
            ),
            measure=symptom.measure,
        )
        for symptom in SYMPTOMS
        if symptom.signal in templates
    )


def metric_windows(
    *, incident_start: float, acted_at: float, now: float, baseline: float, sustain: float
) -> MetricWindows | None:
    """The three windows, or None while the sustained period cannot be seen whole.  Pure."""
    if now < due_after(acted_at=acted_at, sustain=sustain):
        return None
    return MetricWindows(
        baseline=Window(start=incident_start - baseline, end=incident_start),
        before=Window(start=acted_at - sustain, end=acted_at),
        sustained=Window(start=now - sustain, end=now),
    )


def _values(series: Sequence[Series], window: Window) -> list[float]:
    return [
        value
        for one in series
        for ts, value in zip(one.timestamps, one.values, strict=True)
        if window.contains(ts) and math.isfinite(value)
    ]


def threshold(
    *, measure: Measure, baseline: float, error_rise: float, latency_rise: float
) -> float:
    """The level the gate calls elevated, from the signal's baseline.  Pure."""
    if measure is Measure.ABSOLUTE_RISE:
        return baseline + error_rise
    return baseline * (1.0 + latency_rise)


def metric_check(
    *,
    query: SymptomQuery,
    baseline: Sequence[Series],
    before: Sequence[Series],
    sustained: Sequence[Series],
    windows: MetricWindows,
    error_rise: float,
    latency_rise: float,
) -> SignalCheck:
    """One symptom signal judged: worst level before vs worst level sustained.  Pure."""
    base = _values(baseline, windows.baseline)
    limit = (
        threshold(
            measure=query.measure,
            baseline=statistics.median(base),
            error_rise=error_rise,
            latency_rise=latency_rise,
        )
        if base
        else None
    )
    worst_before = max(_values(before, windows.before), default=None)
    worst_after = max(_values(sustained, windows.sustained), default=None)
    span = windows.sustained.duration
    return SignalCheck(
        name=f"{query.signal} of {query.component} (PromQL, worst of {span:g}s)",
        before=worst_before,
        after=worst_after,
        better=Better.LOWER,
        healthy=limit,
        require_healthy=True,
    )
