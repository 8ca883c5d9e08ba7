"""The ``Diagnosis`` custom resource: what to diagnose (spec), what was found (status)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import ConfigDict, Field, model_validator

from diagnosis_operator.api.common import (
    CATEGORY,
    ComponentName,
    Conditions,
    CrdModel,
    CrdSpec,
    Duration,
    LabelMatchers,
    parse_duration,
    validations,
)
from diagnosis_operator.api.notifications import NotificationStatus
from diagnosis_operator.api.policy import DiagnosisPolicySpec
from diagnosis_operator.models.signals import Window, utc_seconds

DIAGNOSIS_KIND = "Diagnosis"
DIAGNOSIS_PLURAL = "diagnoses"
# The report ConfigMap of Diagnosis NAME is NAME + this, owned by the Diagnosis.
REPORT_SUFFIX = "-report"


def report_config_map(name: str) -> str:
    """The report ConfigMap of the Diagnosis ``name`` (a valid name whatever its length)."""
    return name[: 253 - len(REPORT_SUFFIX)] + REPORT_SUFFIX


MAX_EVIDENCE = 50
MAX_TIMELINE = 100
MAX_CANDIDATES = 20
MAX_AFFECTED = 100
MAX_CLIENTS = 50
MAX_REMEDIATIONS = 50


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
        json_schema_extra=validations(
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
        json_schema_extra=validations(
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
    notifications: list[NotificationStatus] = Field(
        default_factory=list,
        max_length=32,
        description="What each notification sink was told (never sent twice).",
    )


DIAGNOSIS_CRD = CrdSpec(
    kind=DIAGNOSIS_KIND,
    plural=DIAGNOSIS_PLURAL,
    singular="diagnosis",
    short_names=("diag",),
    categories=(CATEGORY,),
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
