"""A policy's symptoms as alerting rules (pure): what the incident gate measures, in PromQL/LogQL.

The incident gate (``core.diagnosis.gate``) names an incident when a symptom stays
elevated against its own baseline for ``thresholds.minSymptomDuration``: a 5xx ratio
``thresholds.minErrorRatioRise`` (absolute) above it, a latency
``thresholds.minLatencyRise`` (relative) above it, severe log lines where there were
few, or a data store reporting itself down.  The rules here measure the same things
with the same catalog queries (``catalog.signals``: per instance, over the catalog's
rate window) so that an alert fires where a Diagnosis would find an incident:

* a 5xx ratio (``error_ratio``, ``ingress_error_ratio``) above the median of its
  own baseline plus ``minErrorRatioRise``;
* a mean latency (``latency_mean``) above the median of its baseline times
  ``1 + minLatencyRise``;
* a data store's availability gauge (``catalog.gate``; not for stateless kinds)
  below 0.5, for ``DOWN_FOR`` (a failover is an incident however short);
* significant log lines (``SIGNIFICANT_FILTER``, the collector's filter) at least
  ``LOG_MIN_LINES`` in the rate window and over ``LOG_RISE`` times their baseline
  rate, or with no such line in the baseline at all (Loki).

The baseline is the median (``quantile_over_time(0.5, ...)`` over a subquery) of
``alerts.baseline`` ending where the rate window starts; LogQL has no subqueries, so
the log rule compares with the baseline's mean rate.  ``for`` is
``minSymptomDuration``.

Every alert carries ``diagnosis_policy``, ``diagnosis_namespace``,
``diagnosis_component`` and ``diagnosis_signal``, and the component's selector, so
the webhook (``core.alerts``) maps it back to the policy and component.  Values from
the policy reach PromQL/LogQL only through ``models.querytext`` (quoted); label and
annotation text goes through ``template_literal``, because Prometheus and Loki expand
Go templates in both.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from diagnosis_operator.api import DiagnosisPolicySpec, PolicyComponent, parse_duration
from diagnosis_operator.catalog.gate import STATELESS_KINDS, is_availability_gauge
from diagnosis_operator.catalog.signals import (
    DEFAULT_RATE_WINDOW,
    SignalTemplate,
    catalog_for,
    render,
)
from diagnosis_operator.core.diagnosis.logs.patterns import SIGNIFICANT_FILTER
from diagnosis_operator.models.querytext import QueryBuildError, duration, matchers, quote

POLICY_LABEL = "diagnosis_policy"
NAMESPACE_LABEL = "diagnosis_namespace"
COMPONENT_LABEL = "diagnosis_component"
SIGNAL_LABEL = "diagnosis_signal"
_RESERVED = frozenset({"alertname", POLICY_LABEL, NAMESPACE_LABEL, COMPONENT_LABEL, SIGNAL_LABEL})

DOWN_FOR = 60.0
LOG_RISE = 2.0
LOG_MIN_LINES = 5
LOG_SIGNAL = "significant_log_lines"
_MIN_SUBQUERY_STEP = 15.0
_BASELINE_POINTS = 60
_TEMPLATE_OPEN = re.compile(r"\{\{")


class RulesError(QueryBuildError):
    """A policy whose rules cannot be rendered; says which field and why."""


class Measure(StrEnum):
    ABSOLUTE_RISE = "absolute rise"
    RELATIVE_RISE = "relative rise"
    DOWN = "down"


@dataclass(frozen=True, slots=True)
class Symptom:
    """A catalog signal the gate counts as a symptom, and the alert it becomes."""

    signal: str
    alert: str
    measure: Measure


SYMPTOMS: tuple[Symptom, ...] = (
    Symptom("error_ratio", "DiagnosisErrorRatioHigh", Measure.ABSOLUTE_RISE),
    Symptom("ingress_error_ratio", "DiagnosisIngressErrorRatioHigh", Measure.ABSOLUTE_RISE),
    Symptom("latency_mean", "DiagnosisLatencyHigh", Measure.RELATIVE_RISE),
)
LOG_ALERT = "DiagnosisSignificantLogLines"
DOWN_ALERT = "DiagnosisDataStoreDown"


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One alerting rule: Prometheus' (PromQL) or Loki's (LogQL)."""

    alert: str
    expr: str
    for_seconds: float
    labels: tuple[tuple[str, str], ...]
    annotations: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class RuleSet:
    """A policy's rules: ``prometheus`` for its metrics, ``loki`` for its logs."""

    policy: str
    namespace: str
    prometheus: tuple[AlertRule, ...]
    loki: tuple[AlertRule, ...]

    @property
    def group(self) -> str:
        return f"diagnosis/{self.namespace}/{self.policy}"


@dataclass(frozen=True, slots=True)
class _Settings:
    rate_window: float
    baseline: float
    for_seconds: float
    error_rise: float
    latency_rise: float
    extra_labels: tuple[tuple[str, str], ...]


def template_literal(text: str) -> str:
    """``text`` as Go template text that expands to itself (pure).

    Prometheus and Loki expand ``{{ ... }}`` in alert labels and annotations; an
    opening ``{{`` from input is written as the action ``{{ "{{" }}``.
    """
    return _TEMPLATE_OPEN.sub('{{ "{{" }}', text)


def render_rules(spec: DiagnosisPolicySpec, *, policy: str, namespace: str) -> RuleSet:
    """Pure.  The alerting rules of ``spec``; ``RulesError`` names the field at fault."""
    settings = _settings(spec)
    prometheus: list[AlertRule] = []
    loki: list[AlertRule] = []
    for index, component in enumerate(spec.components):
        where = f"spec.components[{index}] ({component.name})"
        labels = _labels(component, policy=policy, namespace=namespace, settings=settings)
        try:
            prometheus.extend(_metric_rules(component, labels=labels, settings=settings))
            loki.append(_log_rule(component, labels=labels, settings=settings))
        except RulesError:
            raise
        except QueryBuildError as error:
            raise RulesError(f"{where}.selector: {error}") from error
    return RuleSet(
        policy=policy, namespace=namespace, prometheus=tuple(prometheus), loki=tuple(loki)
    )


def _settings(spec: DiagnosisPolicySpec) -> _Settings:
    baseline = parse_duration(spec.alerts.baseline)
    if baseline < 2 * DEFAULT_RATE_WINDOW:
        raise RulesError(
            f"spec.alerts.baseline: {spec.alerts.baseline} is shorter than twice the rate "
            f"window ({duration(2 * DEFAULT_RATE_WINDOW)}); a baseline needs a few windows"
        )
    thresholds = spec.thresholds
    for field, value in (
        ("minErrorRatioRise", thresholds.min_error_ratio_rise),
        ("minLatencyRise", thresholds.min_latency_rise),
    ):
        if not math.isfinite(value):
            raise RulesError(f"spec.thresholds.{field}: {value!r} is not a finite number")
    return _Settings(
        rate_window=DEFAULT_RATE_WINDOW,
        baseline=baseline,
        for_seconds=parse_duration(thresholds.min_symptom_duration),
        error_rise=thresholds.min_error_ratio_rise,
        latency_rise=thresholds.min_latency_rise,
        extra_labels=tuple(sorted(spec.alerts.labels.items())),
    )


def _labels(
    component: PolicyComponent, *, policy: str, namespace: str, settings: _Settings
) -> dict[str, str]:
    labels = {
        key: value
        for key, value in component.selector.items()
        if key not in _RESERVED and not key.startswith("__")  # __name__ is no alert label
    }
    labels.update(settings.extra_labels)
    labels.update(
        {POLICY_LABEL: policy, NAMESPACE_LABEL: namespace, COMPONENT_LABEL: component.name}
    )
    return labels


def _metric_rules(
    component: PolicyComponent, *, labels: Mapping[str, str], settings: _Settings
) -> list[AlertRule]:
    templates = {template.name: template for template in catalog_for(component.kind)}
    rules = []
    for symptom in SYMPTOMS:
        template = templates.get(symptom.signal)
        if template is not None:
            rules.append(_rise_rule(component, symptom, template, labels, settings))
    if component.kind not in STATELESS_KINDS:
        rules.extend(
            _down_rule(component, template, labels)
            for template in templates.values()
            if is_availability_gauge(template.name)
        )
    return rules


def _number(value: float) -> str:
    if not math.isfinite(value):
        raise RulesError(f"threshold {value!r} is not a finite number")
    return repr(float(value))


def _rise_rule(
    component: PolicyComponent,
    symptom: Symptom,
    template: SignalTemplate,
    labels: Mapping[str, str],
    settings: _Settings,
) -> AlertRule:
    window = settings.rate_window
    current = render(template, selector=component.selector, rate_window=window)
    step = max(_MIN_SUBQUERY_STEP, round(settings.baseline / _BASELINE_POINTS))
    baseline = (
        f"quantile_over_time(0.5, ({current})[{duration(settings.baseline)}:{duration(step)}]"
        f" offset {duration(window)})"
    )
    if symptom.measure is Measure.ABSOLUTE_RISE:
        floor = f"{baseline} + {_number(settings.error_rise)}"
        rise = f"{settings.error_rise:g} above"
    else:
        floor = f"{baseline} * {_number(1.0 + settings.latency_rise)}"
        rise = f"{settings.latency_rise:.0%} above"
    summary = f"{component.name}: {template.description} is {rise} its baseline"
    return AlertRule(
        alert=symptom.alert,
        expr=f"({current}) > ({floor})",
        for_seconds=settings.for_seconds,
        labels=_rule_labels(labels, symptom.signal),
        annotations=_annotations(summary, baseline=settings.baseline),
    )


def _down_rule(
    component: PolicyComponent, template: SignalTemplate, labels: Mapping[str, str]
) -> AlertRule:
    current = render(template, selector=component.selector)
    return AlertRule(
        alert=DOWN_ALERT,
        expr=f"({current}) < 0.5",
        for_seconds=DOWN_FOR,
        labels=_rule_labels(labels, template.name),
        annotations=_annotations(f"{component.name}: {template.description} is 0", baseline=None),
    )


def _log_rule(
    component: PolicyComponent, *, labels: Mapping[str, str], settings: _Settings
) -> AlertRule:
    if all(value == "" for value in component.selector.values()):
        raise QueryBuildError("a LogQL stream selector needs a matcher with a non-empty value")
    window, baseline = settings.rate_window, settings.baseline
    lines = f"{matchers(component.selector)} |~ {quote(SIGNIFICANT_FILTER)}"
    current = f"sum by (instance) (count_over_time({lines} [{duration(window)}]))"
    before = (
        f"sum by (instance) (count_over_time({lines} [{duration(baseline)}]"
        f" offset {duration(window)}))"
    )
    enough = f"({current} >= {LOG_MIN_LINES})"
    factor = _number(LOG_RISE * window / baseline)
    risen = f"({enough} > on (instance) ({before} * {factor}))"
    expr = f"{risen} or ({enough} unless on (instance) {before})"
    summary = (
        f"{component.name}: significant log lines (errors, warnings, timeouts) at "
        f"{LOG_RISE:g} times their baseline rate or new"
    )
    return AlertRule(
        alert=LOG_ALERT,
        expr=expr,
        for_seconds=settings.for_seconds,
        labels=_rule_labels(labels, LOG_SIGNAL),
        annotations=_annotations(summary, baseline=baseline),
    )


def _rule_labels(labels: Mapping[str, str], signal: str) -> tuple[tuple[str, str], ...]:
    merged = {**labels, SIGNAL_LABEL: signal}
    return tuple(sorted((key, template_literal(value)) for key, value in merged.items()))


def _annotations(summary: str, *, baseline: float | None) -> tuple[tuple[str, str], ...]:
    against = f" (baseline: the last {duration(baseline)})" if baseline is not None else ""
    description = (
        template_literal(summary + against)
        + " on {{ $labels.instance }}: now {{ $value | humanize }}."
    )
    return (("description", description), ("summary", template_literal(summary)))
