"""The ``DiagnosisPolicy`` custom resource: topology, signal sources, thresholds, guards."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from diagnosis_operator.api.alerting import AlertRules
from diagnosis_operator.api.common import (
    CATEGORY,
    NAME_PATTERN,
    ComponentName,
    Conditions,
    CrdModel,
    CrdSpec,
    Duration,
    LabelSelector,
    MySQLConnection,
    RedisConnection,
    SecretKeyRef,
    SignalLabelMatchers,
    parse_duration,
    validations,
)
from diagnosis_operator.api.notifications import MAX_SINKS, NotificationSink
from diagnosis_operator.api.remediation import RemediationSettings
from diagnosis_operator.models.engine import (
    DEFAULT_MIN_ERROR_RATIO_RISE,
    DEFAULT_MIN_LATENCY_RISE,
    EngineSettings,
)
from diagnosis_operator.models.promql_subset import UnsupportedQuery, check_template
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

POLICY_KIND = "DiagnosisPolicy"
POLICY_PLURAL = "diagnosispolicies"

MAX_COMPONENTS = 64
MAX_DEPENDS_ON = 16


class PolicyComponent(CrdModel):
    name: ComponentName
    kind: ComponentKind
    selector: SignalLabelMatchers = Field(
        description="Label equality matchers selecting this component's series and log streams."
    )
    pod_selector: LabelSelector | None = Field(
        default=None,
        description="The component's pods: drain-pod finds the pod of an instance known only "
        "by its address (host:port) among the pods this selects, by pod IP.",
    )
    namespace: str | None = Field(
        default=None, max_length=63, description="Namespace of the pods; defaults to the policy's."
    )
    depends_on: list[ComponentName] = Field(default_factory=list, max_length=MAX_DEPENDS_ON)
    mysql: MySQLConnection | None = Field(
        default=None,
        description="Ask this MySQL server directly: EXPLAIN for enrichment, and the "
        "processlist for kill-mysql-queries unless that action names its own connection.",
    )
    redis: RedisConnection | None = Field(
        default=None, description="Ask this Redis server directly (read-only) for enrichment."
    )

    @field_validator("selector")
    @classmethod
    def _selector_not_empty(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("selector needs at least one label matcher")
        return value

    model_config = ConfigDict(
        json_schema_extra=validations(
            ("size(self.selector) > 0", "selector needs at least one label matcher", ".selector"),
        )
    )


class PrometheusSource(CrdModel):
    url: str = Field(max_length=2048, pattern=r"^https?://", description="Prometheus base URL.")
    auth_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="A bearer token in a Secret of the policy's namespace; sent only if the "
        "url's origin is on the operator's credential allow list (docs/multi-tenancy.md).",
    )
    timeout: Duration = "30s"


class LokiSource(CrdModel):
    url: str = Field(max_length=2048, pattern=r"^https?://", description="Loki base URL.")
    tenant: str | None = Field(
        default=None, max_length=253, description="X-Scope-OrgID for multi-tenant Loki."
    )
    auth_secret_ref: SecretKeyRef | None = Field(
        default=None,
        description="A bearer token in a Secret of the policy's namespace; sent only if the "
        "url's origin is on the operator's credential allow list (docs/multi-tenancy.md).",
    )
    timeout: Duration = "30s"


class SignalSources(CrdModel):
    """Where to read signals; each missing one falls back to the operator's settings."""

    prometheus: PrometheusSource | None = None
    loki: LokiSource | None = None


class SignalOverride(CrdModel):
    """An extra PromQL signal for components of one kind or one named component.

    The engine collects it (live from Prometheus, offline from the bundle) and
    analyses it as a signal of each component it applies to.  Its PromQL is a
    template (``{selector}``, ``{matchers}``, ``{range}``) within the subset both
    paths evaluate (``models/promql_subset.py``); anything else is refused here.
    """

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    component: ComponentName | None = None
    component_kind: ComponentKind | None = None
    promql: str = Field(
        min_length=1,
        max_length=4096,
        description="A PromQL template using {selector} or {matchers} (and {range}): "
        "[sum|min|max|avg|count [by (labels)]] ([rate|irate|increase] (metric{...}[range])).",
    )

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "has(self.component) != has(self.componentKind)",
                "set exactly one of component or componentKind",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _one_target(self) -> SignalOverride:
        if (self.component is None) == (self.component_kind is None):
            raise ValueError("set exactly one of component or componentKind")
        try:
            check_template(self.promql)
        except UnsupportedQuery as error:
            raise ValueError(f"signalOverrides[{self.name}].promql: {error}") from None
        return self


class Thresholds(CrdModel):
    """How sensitive the diagnosis is; the defaults are the engine's built-in values."""

    min_confidence: float = Field(
        default=0.0,
        ge=0,
        le=1,
        description=(
            "Below this, a root cause is reported as uncertain (summary prefixed "
            "'Uncertain:', a warning) and no remediation is proposed. 0: never."
        ),
    )
    anomaly_score: float = Field(
        default=6.0,
        gt=0,
        description=(
            "Robust z-score (distance from the baseline median in MAD units) a metric "
            "point must pass to count as an exceedance; a lone exceedance needs twice "
            "this. Sparse event counts are judged by a burst test instead."
        ),
    )
    step: Duration | None = Field(
        default=None,
        description="Resolution of range queries. Unset: 15s, coarser for windows over 2h.",
    )
    min_symptom_duration: Duration = Field(
        default="3m",
        description=(
            "The incident gate: a symptom (5xx ratio, latency, severe log lines) must stay "
            "elevated this long in all (at most a quarter of the window), or still be "
            "elevated at the end, or a data store must report itself down, before a root "
            "cause is named; below it the diagnosis is 'none' with what was seen."
        ),
    )
    min_error_ratio_rise: float = Field(
        default=DEFAULT_MIN_ERROR_RATIO_RISE,
        ge=0,
        le=1,
        description=(
            "The incident gate: how far (absolute, 0.01 = 1 percentage point) a 5xx ratio "
            "must rise above its baseline for a step to count as elevated."
        ),
    )
    min_latency_rise: float = Field(
        default=DEFAULT_MIN_LATENCY_RISE,
        ge=0,
        description=(
            "The incident gate: how far (relative, 0.5 = 50 % slower) a latency must rise "
            "above its baseline for a step to count as elevated."
        ),
    )

    def to_engine_settings(self) -> EngineSettings:
        # A zero step ("0s") means the same as none: let the window choose.
        seconds = parse_duration(self.step) if self.step is not None else 0.0
        return EngineSettings(
            min_confidence=self.min_confidence,
            anomaly_score=self.anomaly_score,
            step=seconds or None,
            min_symptom_seconds=parse_duration(self.min_symptom_duration),
            min_error_ratio_rise=self.min_error_ratio_rise,
            min_latency_rise=self.min_latency_rise,
        )


class DiagnosisPolicySpec(CrdModel):
    components: list[PolicyComponent] = Field(
        min_length=1,
        max_length=MAX_COMPONENTS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    signals: SignalSources = Field(default_factory=SignalSources)
    signal_overrides: list[SignalOverride] = Field(default_factory=list, max_length=64)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    remediation: RemediationSettings = Field(default_factory=RemediationSettings)
    notifications: list[NotificationSink] = Field(
        default_factory=list,
        max_length=MAX_SINKS,
        description="Who is told when a Diagnosis completes or an action waits for approval.",
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"]},
    )
    alerts: AlertRules = Field(default_factory=AlertRules)

    model_config = ConfigDict(
        json_schema_extra=validations(
            (
                "self.components.all(c, !has(c.dependsOn) || "
                "c.dependsOn.all(d, self.components.exists(o, o.name == d)))",
                "every dependsOn must name a component of this policy",
                ".components",
            ),
            (
                "!has(self.signalOverrides) || self.signalOverrides.all(s, !has(s.component) || "
                "self.components.exists(o, o.name == s.component))",
                "every signalOverride component must name a component of this policy",
                ".signalOverrides",
            ),
        )
    )

    @model_validator(mode="after")
    def _references_resolve(self) -> DiagnosisPolicySpec:
        # Duplicates, unknown dependsOn and cycles: the topology says which and where.
        self.to_topology()
        names = {component.name for component in self.components}
        for override in self.signal_overrides:
            if override.component is not None and override.component not in names:
                raise ValueError(
                    f"signalOverrides[{override.name}]: unknown component {override.component!r}"
                )
        sinks = [sink.name for sink in self.notifications]
        if len(set(sinks)) != len(sinks):
            raise ValueError("notifications: sink names must be unique")
        return self

    def to_topology(self) -> Topology:
        """The engine's topology (pure).  Raises ``TopologyError`` naming the problem."""
        return Topology(
            components=tuple(
                Component(
                    name=component.name,
                    kind=component.kind,
                    selector=Labels(component.selector),
                    depends_on=tuple(component.depends_on),
                )
                for component in self.components
            )
        )


class OverrideProblemStatus(CrdModel):
    """One signalOverride the operator refused, as ``PromQLChecked`` found it."""

    index: int = Field(ge=0, description="Its position in spec.signalOverrides.")
    name: str = Field(max_length=63)
    component: str | None = Field(
        default=None, max_length=63, description="The component it was rendered for."
    )
    promql: str | None = Field(
        default=None, max_length=16384, description="The rendered query Prometheus refused."
    )
    error: str = Field(max_length=4096, description="Why: the template's or Prometheus' words.")
    found_by: Literal["template", "prometheus"]


class DiagnosisPolicyStatus(CrdModel):
    conditions: Conditions = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, ge=0)
    components: int | None = Field(default=None, ge=0, description="Components in the topology.")
    override_problems: list[OverrideProblemStatus] = Field(
        default_factory=list,
        max_length=64,
        description="Every refused signalOverride (empty when all were accepted or not checked).",
    )


POLICY_CRD = CrdSpec(
    kind=POLICY_KIND,
    plural=POLICY_PLURAL,
    singular="diagnosispolicy",
    short_names=("diagpol",),
    categories=(CATEGORY,),
    spec_model=DiagnosisPolicySpec,
    status_model=DiagnosisPolicyStatus,
    printer_columns=(
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
        {"name": "Components", "type": "integer", "jsonPath": ".status.components"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ),
    description="The topology, signal sources, thresholds and remediation guards diagnoses use.",
)
