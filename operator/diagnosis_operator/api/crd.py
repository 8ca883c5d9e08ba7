"""The ``Diagnosis`` and ``DiagnosisPolicy`` custom resources, as pydantic models.

These models are the single source of the CRD schemas: ``api/crdgen.py`` turns
them into ``crds/*.yaml`` and a test checks the committed files equal its output,
so the apiserver and the operator cannot disagree about a field.  Rules the
apiserver checks with CEL (``x-kubernetes-validations``) are checked again here by
model validators, so a spec read from a file or a test is held to the same rules.

Field names are snake_case in Python and camelCase on the wire (aliases); unknown
fields are refused (``extra="forbid"``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from diagnosis_operator.models.actions import KillPolicy, RateLimitPolicy
from diagnosis_operator.models.engine import EngineSettings
from diagnosis_operator.models.signals import Labels, Window, utc_seconds
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

DIAGNOSIS_KIND = "Diagnosis"
DIAGNOSIS_PLURAL = "diagnoses"
POLICY_KIND = "DiagnosisPolicy"
POLICY_PLURAL = "diagnosispolicies"

# Go-style durations as Kubernetes users write them ("30m", "1h30m", "90s"), plus days.
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|m|h|d))+$"
_DURATION_PART = re.compile(r"([0-9]+(?:\.[0-9]+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
# A DNS-1123 label: what a component name has to be to show up in labels and events.
NAME_PATTERN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
# A condition reason, as metav1.Condition requires it.
REASON_PATTERN = r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"

MAX_COMPONENTS = 64
MAX_DEPENDS_ON = 16
MAX_EVIDENCE = 50
MAX_TIMELINE = 100
MAX_CANDIDATES = 20
MAX_AFFECTED = 100
MAX_CLIENTS = 50
MAX_REMEDIATIONS = 50
MAX_CONDITIONS = 16

Duration = Annotated[
    str,
    Field(
        pattern=DURATION_PATTERN,
        max_length=32,
        description='A duration such as "30s", "5m", "1h30m" or "2d".',
    ),
]
ComponentName = Annotated[str, Field(min_length=1, max_length=63, pattern=NAME_PATTERN)]
LabelMatchers = Annotated[
    dict[str, str],
    Field(
        description="Label equality matchers: every label must be present with this value.",
        max_length=32,
    ),
]


def parse_duration(text: str) -> float:
    """Seconds in a duration such as ``"1h30m"`` (pure).  Raises ``ValueError``."""
    if not re.fullmatch(DURATION_PATTERN, text):
        raise ValueError(f"invalid duration {text!r}: expected e.g. 30s, 5m, 1h30m or 2d")
    return sum(float(number) * _UNIT_SECONDS[unit] for number, unit in _DURATION_PART.findall(text))


class CrdModel(BaseModel):
    """Base for everything in a CR: camelCase on the wire, unknown fields refused."""

    model_config = ConfigDict(
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        use_enum_values=False,
    )

    def to_wire(self) -> dict[str, Any]:
        """The object as the apiserver stores it: camelCase, JSON types, no nulls."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


def _validations(*rules: tuple[str, str, str | None]) -> dict[str, Any]:
    """``x-kubernetes-validations`` entries: (CEL rule, message, fieldPath)."""
    entries: list[dict[str, str]] = []
    for rule, message, field_path in rules:
        entry = {"rule": rule, "message": message}
        if field_path:
            entry["fieldPath"] = field_path
        entries.append(entry)
    return {"x-kubernetes-validations": entries}


# --------------------------------------------------------------------------- shared


class ConditionStatus(StrEnum):
    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(CrdModel):
    """A standard condition (the shape of metav1.Condition)."""

    type: str = Field(min_length=1, max_length=316, description="Condition type, e.g. Ready.")
    status: ConditionStatus
    reason: str = Field(min_length=1, max_length=1024, pattern=REASON_PATTERN)
    message: str = Field(default="", max_length=32768)
    last_transition_time: datetime = Field(
        description="When the condition last changed status (RFC 3339)."
    )
    observed_generation: int | None = Field(
        default=None, ge=0, description="The .metadata.generation the condition was set for."
    )


Conditions = Annotated[
    list[Condition],
    Field(
        max_length=MAX_CONDITIONS,
        json_schema_extra={"x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"]},
    ),
]


class SecretKeyRef(CrdModel):
    """A key of a Secret in the resource's own namespace."""

    name: str = Field(min_length=1, max_length=253)
    key: str = Field(default="token", min_length=1, max_length=253)


class ConnectionSecretRef(CrdModel):
    """A Secret holding connection settings, in the policy's namespace unless ``namespace``.

    For MySQL the keys are ``host``, ``port``, ``user``, ``password`` and ``database``
    (``host``, ``user`` and ``password`` required); for Redis the key ``key`` holds a
    ``redis://`` / ``rediss://`` / ``unix://`` URL (which may carry the password).
    """

    name: str = Field(min_length=1, max_length=253)
    namespace: str | None = Field(default=None, min_length=1, max_length=63)
    key: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="Redis only: the key holding the URL (default url).",
    )


class MySQLConnection(CrdModel):
    """How the operator reaches one MySQL/MariaDB server."""

    secret_ref: ConnectionSecretRef


class RedisConnection(CrdModel):
    """How the operator reaches one Redis server: a URL without secrets, or a Secret."""

    url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^(redis|rediss|unix)://[^@]*$",
        description="redis://host:port/db without credentials (use secretRef for those).",
    )
    secret_ref: ConnectionSecretRef | None = None

    model_config = ConfigDict(
        json_schema_extra=_validations(
            (
                "has(self.url) != has(self.secretRef)",
                "set exactly one of url or secretRef",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _one_form(self) -> RedisConnection:
        if (self.url is None) == (self.secret_ref is None):
            raise ValueError("set exactly one of url or secretRef")
        return self


class LabelSelectorOperator(StrEnum):
    IN = "In"
    NOT_IN = "NotIn"
    EXISTS = "Exists"
    DOES_NOT_EXIST = "DoesNotExist"


class LabelSelectorRequirement(CrdModel):
    key: str = Field(min_length=1, max_length=317)
    operator: LabelSelectorOperator
    values: list[str] = Field(default_factory=list, max_length=64)

    model_config = ConfigDict(
        json_schema_extra=_validations(
            (
                "self.operator in ['In', 'NotIn'] ? size(self.values) > 0 : size(self.values) == 0",
                "values must be non-empty for In/NotIn and empty for Exists/DoesNotExist",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _values_match_operator(self) -> LabelSelectorRequirement:
        needs_values = self.operator in (LabelSelectorOperator.IN, LabelSelectorOperator.NOT_IN)
        if needs_values != bool(self.values):
            raise ValueError(
                "values must be non-empty for In/NotIn and empty for Exists/DoesNotExist"
            )
        return self


class LabelSelector(CrdModel):
    """A Kubernetes label selector for pods (metav1.LabelSelector)."""

    match_labels: dict[str, str] = Field(default_factory=dict, max_length=32)
    match_expressions: list[LabelSelectorRequirement] = Field(default_factory=list, max_length=16)

    def to_query(self) -> str:
        """The selector as the ``labelSelector`` query parameter of a list call (pure)."""
        parts = [f"{key}={value}" for key, value in sorted(self.match_labels.items())]
        for requirement in self.match_expressions:
            if requirement.operator is LabelSelectorOperator.EXISTS:
                parts.append(requirement.key)
            elif requirement.operator is LabelSelectorOperator.DOES_NOT_EXIST:
                parts.append(f"!{requirement.key}")
            else:
                verb = "in" if requirement.operator is LabelSelectorOperator.IN else "notin"
                parts.append(f"{requirement.key} {verb} ({','.join(requirement.values)})")
        return ",".join(parts)


# --------------------------------------------------------------------------- Diagnosis


class Mode(StrEnum):
    OBSERVE = "observe"
    DRY_RUN = "dry-run"
    REMEDIATE = "remediate"


class Phase(StrEnum):
    PENDING = "Pending"
    COLLECTING = "Collecting"
    CORRELATING = "Correlating"
    PLANNING = "Planning"
    REMEDIATING = "Remediating"
    COMPLETED = "Completed"
    FAILED = "Failed"


class RemediationState(StrEnum):
    PROPOSED = "proposed"
    APPROVED = "approved"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"
    DENIED = "denied"
    ROLLED_BACK = "rolled-back"


class RemediationAction(StrEnum):
    DRAIN_POD = "drain-pod"
    KILL_MYSQL_QUERIES = "kill-mysql-queries"
    RATE_LIMIT_CLIENT = "rate-limit-client"


class DiagnosisSymptom(CrdModel):
    """What hurts: a component, a label selector on its signals, and/or a route."""

    component: ComponentName | None = Field(
        default=None, description="The topology component that shows the symptom."
    )
    selector: LabelMatchers | None = None
    route: str | None = Field(
        default=None,
        min_length=1,
        max_length=1024,
        pattern=r"^/",
        description="HTTP route (path prefix) the symptom shows on, e.g. /api/orders.",
    )
    description: str | None = Field(default=None, max_length=1024)

    model_config = ConfigDict(
        json_schema_extra=_validations(
            (
                "has(self.component) || has(self.selector) || has(self.route)",
                "set at least one of component, selector or route",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _something_to_look_at(self) -> DiagnosisSymptom:
        if self.component is None and self.selector is None and self.route is None:
            raise ValueError("set at least one of component, selector or route")
        return self

    def describe(self) -> str:
        """A one-line description for the engine and the report (pure).

        ``component route`` as ``diagnose --bundle`` words a bundle's symptom, so that
        the live and the offline diagnosis of one incident read the same.
        """
        parts: list[str] = []
        if self.description:
            parts.append(self.description)
        if self.component:
            parts.append(self.component)
        if self.selector:
            parts.append("{" + ",".join(f"{k}={v}" for k, v in sorted(self.selector.items())) + "}")
        if self.route:
            parts.append(self.route)
        return " ".join(parts)


class DiagnosisWindow(CrdModel):
    """The time range to diagnose: ``start`` and ``end``, or ``lookback`` from now."""

    start: datetime | None = Field(default=None, description="Start of the window (RFC 3339).")
    end: datetime | None = Field(default=None, description="End of the window (RFC 3339).")
    lookback: Duration | None = Field(
        default=None, description='Diagnose the last <lookback> before the run, e.g. "30m".'
    )

    model_config = ConfigDict(
        json_schema_extra=_validations(
            (
                "has(self.lookback) != (has(self.start) || has(self.end))",
                "set exactly one form: lookback, or start and end",
                None,
            ),
            (
                "has(self.start) == has(self.end)",
                "start and end go together",
                None,
            ),
            (
                "!has(self.start) || !has(self.end) || self.end > self.start",
                "end must be after start",
                ".end",
            ),
        )
    )

    @model_validator(mode="after")
    def _one_form(self) -> DiagnosisWindow:
        absolute = self.start is not None or self.end is not None
        if (self.lookback is not None) == absolute:
            raise ValueError("set exactly one form: lookback, or start and end")
        if (self.start is None) != (self.end is None):
            raise ValueError("start and end go together")
        if self.start is not None and self.end is not None and not self.end > self.start:
            raise ValueError("end must be after start")
        if self.lookback is not None and parse_duration(self.lookback) <= 0:
            raise ValueError("lookback must be longer than zero")
        return self

    def resolve(self, *, now: float) -> Window:
        """The absolute window: ``lookback`` is counted back from ``now`` (pure)."""
        if self.lookback is not None:
            return Window(start=now - parse_duration(self.lookback), end=now)
        assert self.start is not None and self.end is not None
        return Window(start=utc_seconds(self.start), end=utc_seconds(self.end))


class PolicyRef(CrdModel):
    name: str = Field(
        min_length=1, max_length=253, description="A DiagnosisPolicy in this namespace."
    )


class DiagnosisSpec(CrdModel):
    symptom: DiagnosisSymptom
    window: DiagnosisWindow
    policy_ref: PolicyRef
    mode: Mode = Field(
        default=Mode.OBSERVE,
        description=(
            "observe: diagnose only; dry-run: also plan and guard remediations without "
            "acting; remediate: act on what the policy allows."
        ),
    )


class RootCauseStatus(CrdModel):
    component: str = Field(max_length=253)
    kind: str | None = Field(default=None, max_length=63)
    instance: str | None = Field(default=None, max_length=253)
    confidence: float = Field(ge=0, le=1)
    summary: str = Field(default="", max_length=4096)


class CandidateStatus(CrdModel):
    component: str = Field(max_length=253)
    score: float
    role: str = Field(default="candidate", max_length=32)
    reasons: list[str] = Field(default_factory=list, max_length=16)


class EvidenceStatus(CrdModel):
    component: str = Field(max_length=253)
    source: str = Field(max_length=32)
    query: str = Field(max_length=4096)
    summary: str = Field(max_length=4096)
    ts: datetime | None = None
    value: float | None = None
    baseline: float | None = None
    instance: str | None = Field(default=None, max_length=253)
    line: str | None = Field(default=None, max_length=4096)


class TimelineEntry(CrdModel):
    ts: datetime
    component: str = Field(max_length=253)
    event: str = Field(max_length=4096)
    source: str | None = Field(default=None, max_length=32)


class AffectedInstanceStatus(CrdModel):
    component: str = Field(max_length=253)
    instance: str = Field(max_length=253)
    reason: str = Field(max_length=4096)
    pod: str | None = Field(default=None, max_length=253)
    namespace: str | None = Field(default=None, max_length=63)


class AbusiveClientStatus(CrdModel):
    ip: str = Field(max_length=64)
    reason: str = Field(max_length=4096)
    requests: int = Field(ge=0)
    pattern: str = Field(max_length=32)
    first_seen: datetime | None = None
    last_seen: datetime | None = None


class RemediationStatus(CrdModel):
    action: RemediationAction
    target: str = Field(max_length=253)
    state: RemediationState
    reason: str = Field(default="", max_length=4096)
    idempotency_key: str | None = Field(default=None, max_length=253)
    approved_by: str | None = Field(default=None, max_length=253)
    params: dict[str, Any] = Field(
        default_factory=dict, description="Action parameters as the planner chose them."
    )
    updated_at: datetime | None = None


class ObjectRef(CrdModel):
    name: str = Field(min_length=1, max_length=253)


class ResolvedWindow(CrdModel):
    start: datetime
    end: datetime


# The policy snapshot embeds the policy spec; declared below, resolved by model_rebuild.
class PolicySnapshot(CrdModel):
    """The policy as it was when the diagnosis started: a later edit changes nothing."""

    name: str = Field(max_length=253)
    uid: str | None = Field(default=None, max_length=64)
    resource_version: str = Field(max_length=64)
    generation: int = Field(ge=0)
    spec: DiagnosisPolicySpec


class DiagnosisStatus(CrdModel):
    phase: Phase | None = None
    conditions: Conditions = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, ge=0)
    started_at: datetime | None = None
    completed_at: datetime | None = None
    window: ResolvedWindow | None = None
    root_cause: RootCauseStatus | None = None
    candidates: list[CandidateStatus] = Field(default_factory=list, max_length=MAX_CANDIDATES)
    evidence: list[EvidenceStatus] = Field(default_factory=list, max_length=MAX_EVIDENCE)
    evidence_total: int | None = Field(
        default=None, ge=0, description="Evidence items found; the list keeps the strongest."
    )
    timeline: list[TimelineEntry] = Field(default_factory=list, max_length=MAX_TIMELINE)
    affected: list[AffectedInstanceStatus] = Field(default_factory=list, max_length=MAX_AFFECTED)
    clients: list[AbusiveClientStatus] = Field(default_factory=list, max_length=MAX_CLIENTS)
    remediations: list[RemediationStatus] = Field(default_factory=list, max_length=MAX_REMEDIATIONS)
    report_ref: ObjectRef | None = Field(
        default=None, description="The ConfigMap holding the full report."
    )
    policy_snapshot: PolicySnapshot | None = None
    warnings: list[str] = Field(default_factory=list, max_length=32)


# --------------------------------------------------------------------------- DiagnosisPolicy


class PolicyComponent(CrdModel):
    name: ComponentName
    kind: ComponentKind
    selector: LabelMatchers = Field(
        description="Label equality matchers selecting this component's series and log streams."
    )
    pod_selector: LabelSelector | None = Field(
        default=None, description="The component's pods (for drain-pod and affected instances)."
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
        json_schema_extra=_validations(
            ("size(self.selector) > 0", "selector needs at least one label matcher", ".selector"),
        )
    )


class PrometheusSource(CrdModel):
    url: str = Field(max_length=2048, pattern=r"^https?://", description="Prometheus base URL.")
    auth_secret_ref: SecretKeyRef | None = Field(
        default=None, description="A bearer token in a Secret of the policy's namespace."
    )
    timeout: Duration = "30s"


class LokiSource(CrdModel):
    url: str = Field(max_length=2048, pattern=r"^https?://", description="Loki base URL.")
    tenant: str | None = Field(
        default=None, max_length=253, description="X-Scope-OrgID for multi-tenant Loki."
    )
    auth_secret_ref: SecretKeyRef | None = None
    timeout: Duration = "30s"


class SignalSources(CrdModel):
    """Where to read signals; each missing one falls back to the operator's settings."""

    prometheus: PrometheusSource | None = None
    loki: LokiSource | None = None


class SignalOverride(CrdModel):
    """An extra PromQL signal for components of one kind or one named component."""

    name: str = Field(min_length=1, max_length=63, pattern=NAME_PATTERN)
    component: ComponentName | None = None
    component_kind: ComponentKind | None = None
    promql: str = Field(min_length=1, max_length=4096)

    model_config = ConfigDict(
        json_schema_extra=_validations(
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

    def to_engine_settings(self) -> EngineSettings:
        # A zero step ("0s") means the same as none: let the window choose.
        seconds = parse_duration(self.step) if self.step is not None else 0.0
        return EngineSettings(
            min_confidence=self.min_confidence,
            anomaly_score=self.anomaly_score,
            step=seconds or None,
        )


class Budget(CrdModel):
    max_actions: int = Field(default=1, ge=0, le=1000)
    window: Duration = "1h"


class ActionPolicy(CrdModel):
    """Guards shared by every action.  Off by default: a disabled action is a dry run."""

    enabled: bool = Field(default=False, description="false: plan and record, never act.")
    require_approval: bool = Field(default=True)
    budget: Budget = Field(default_factory=Budget)
    cooldown: Duration = "10m"
    allow_list: list[str] = Field(
        default_factory=list,
        max_length=256,
        description="If non-empty, only these targets may be acted on.",
    )
    never_list: list[str] = Field(
        default_factory=list, max_length=256, description="Targets never acted on."
    )
    ttl: Duration | None = Field(
        default=None, description="How long an applied action stays before it is undone."
    )


class DrainPodParams(CrdModel):
    grace_period_seconds: int = Field(default=30, ge=0, le=3600)
    max_pods: int = Field(default=1, ge=1, le=100, description="Pods drained per diagnosis.")
    min_ready_remaining: int = Field(
        default=1, ge=0, description="Never leave fewer ready pods than this in a component."
    )


class DrainPodPolicy(ActionPolicy):
    params: DrainPodParams = Field(default_factory=DrainPodParams)


class KillMysqlQueriesParams(CrdModel):
    min_query_seconds: int = Field(default=30, ge=1, description="Only queries running longer.")
    max_queries: int = Field(default=20, ge=1, le=1000)
    users: list[str] = Field(
        default_factory=list, max_length=64, description="Only these MySQL users (empty: any)."
    )
    commands: list[str] = Field(
        default_factory=lambda: ["Query"],
        max_length=8,
        description="Processlist commands eligible (Query, Execute).",
    )


class KillMysqlQueriesPolicy(ActionPolicy):
    """Kill runaway statements the pt-kill way.  Without a connection nothing is asked.

    ``match`` gives pt-kill's options in full; without it they are derived from
    ``params`` (busy longer than ``minQuerySeconds`` in ``commands``, by ``users``,
    every matching thread a victim).  The planner's own threshold and statement
    head narrow the match further.
    """

    params: KillMysqlQueriesParams = Field(default_factory=KillMysqlQueriesParams)
    connection: MySQLConnection | None = Field(
        default=None,
        description="The account kills run as (needs PROCESS and CONNECTION ADMIN or "
        "SUPER); defaults to the target component's mysql connection.",
    )
    match: KillPolicy | None = Field(
        default=None, description="pt-kill matching options (override the params)."
    )


class TrafficProvider(StrEnum):
    ENVOY_GATEWAY = "envoy-gateway"
    ISTIO = "istio"
    NGINX = "nginx"


class TrafficTargetKind(StrEnum):
    GATEWAY = "Gateway"
    HTTP_ROUTE = "HTTPRoute"
    GRPC_ROUTE = "GRPCRoute"


class TrafficTargetRef(CrdModel):
    """A Gateway API object in ``params.namespace`` that the policy objects attach to."""

    kind: TrafficTargetKind = TrafficTargetKind.GATEWAY
    name: str = Field(min_length=1, max_length=253)
    section_name: str | None = Field(default=None, min_length=1, max_length=253)


class RateLimitClientParams(CrdModel):
    requests_per_second: int = Field(default=10, ge=1)
    burst: int | None = Field(default=None, ge=1)
    provider: TrafficProvider = TrafficProvider.ENVOY_GATEWAY
    target_ref: TrafficTargetRef | None = Field(
        default=None,
        description="envoy-gateway: the Gateway / route the policies attach to (required); "
        "istio: optional, instead of selector.",
    )
    namespace: str | None = Field(
        default=None,
        min_length=1,
        max_length=63,
        description="Where the policy objects (or the nginx ConfigMap) live; "
        "defaults to the Diagnosis' namespace.",
    )
    selector: LabelMatchers | None = Field(
        default=None, description="istio: the workloads (e.g. the ingress gateway) to protect."
    )
    config_map: str | None = Field(
        default=None,
        min_length=1,
        max_length=253,
        description="nginx: the ConfigMap holding the include files (required for nginx).",
    )
    max_clients: int = Field(default=10, ge=1, le=1000)

    model_config = ConfigDict(
        json_schema_extra=_validations(
            (
                "!(has(self.selector) && has(self.targetRef))",
                "give a selector or a targetRef, not both",
                None,
            ),
        )
    )

    @model_validator(mode="after")
    def _one_attachment(self) -> RateLimitClientParams:
        if self.selector and self.target_ref is not None:
            raise ValueError("give a selector or a targetRef, not both")
        return self

    def missing(self) -> str | None:
        """What the chosen provider still needs before a rule can be enforced (pure)."""
        if self.provider is TrafficProvider.ENVOY_GATEWAY and self.target_ref is None:
            return "envoy-gateway needs params.targetRef (the Gateway or HTTPRoute to attach to)"
        if self.provider is TrafficProvider.NGINX and self.config_map is None:
            return "nginx needs params.configMap (the ConfigMap nginx includes)"
        return None


class RateLimitClientPolicy(ActionPolicy):
    """Limit or deny abusive client networks at the edge, for a TTL.

    ``limits`` gives the escalation ladder, the networks never limited (``allow``),
    the broadest prefix allowed, the longest TTL and shadow mode; without it a
    ladder is derived from ``params.requestsPerSecond`` and ``ttl``.
    """

    params: RateLimitClientParams = Field(default_factory=RateLimitClientParams)
    limits: RateLimitPolicy | None = None


class VerificationSettings(CrdModel):
    """After an action: when to look again, and what counts as better."""

    enabled: bool = True
    after: Duration = Field(default="2m", description="How long after the action to verify.")
    min_improvement: float = Field(
        default=0.5, gt=0, le=1, description="Relative improvement that counts as resolved."
    )


class RemediationSettings(CrdModel):
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    drain_pod: DrainPodPolicy = Field(default_factory=DrainPodPolicy)
    kill_mysql_queries: KillMysqlQueriesPolicy = Field(default_factory=KillMysqlQueriesPolicy)
    rate_limit_client: RateLimitClientPolicy = Field(default_factory=RateLimitClientPolicy)


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

    model_config = ConfigDict(
        json_schema_extra=_validations(
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


class DiagnosisPolicyStatus(CrdModel):
    conditions: Conditions = Field(default_factory=list)
    observed_generation: int | None = Field(default=None, ge=0)
    components: int | None = Field(default=None, ge=0, description="Components in the topology.")


PolicySnapshot.model_rebuild()
DiagnosisStatus.model_rebuild()


@dataclass(frozen=True)
class CrdSpec:
    """How one CRD is named and shown: everything the schema does not say."""

    kind: str
    plural: str
    singular: str
    short_names: tuple[str, ...]
    categories: tuple[str, ...]
    spec_model: type[CrdModel]
    status_model: type[CrdModel]
    printer_columns: tuple[dict[str, str], ...]
    description: str


DIAGNOSIS_CRD = CrdSpec(
    kind=DIAGNOSIS_KIND,
    plural=DIAGNOSIS_PLURAL,
    singular="diagnosis",
    short_names=("diag",),
    categories=("diagnosis",),
    spec_model=DiagnosisSpec,
    status_model=DiagnosisStatus,
    printer_columns=(
        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
        {"name": "Mode", "type": "string", "jsonPath": ".spec.mode"},
        {"name": "Root Cause", "type": "string", "jsonPath": ".status.rootCause.component"},
        {"name": "Confidence", "type": "number", "jsonPath": ".status.rootCause.confidence"},
        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
    ),
    description="An incident diagnosis: a symptom and a window in, a root cause and a plan out.",
)

POLICY_CRD = CrdSpec(
    kind=POLICY_KIND,
    plural=POLICY_PLURAL,
    singular="diagnosispolicy",
    short_names=("diagpol",),
    categories=("diagnosis",),
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

CRDS: tuple[CrdSpec, ...] = (DIAGNOSIS_CRD, POLICY_CRD)
