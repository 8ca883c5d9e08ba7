"""What the engine concludes: anomalies, evidence, timeline, root cause, plan.

``DiagnosisResult.to_json()`` is the "Diagnosis output" contract of the
incident-bundle spec (docs/incident-bundle.md): rootCause, candidates, affected,
clients, timeline, evidence, remediations; more fields may be added.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from diagnosis_operator.models.coverage import COMPLETE, Coverage
from diagnosis_operator.models.signals import Window, isoformat_z

# rootCause.component when the window holds no incident / when outside traffic is the cause
NO_INCIDENT = "none"
CLIENT_CAUSE = "client"
# rootCause.component when the sources gave nothing to conclude from (outcome failed)
NO_CONCLUSION = "unknown"


class EvidenceSource(StrEnum):
    PROMETHEUS = "prometheus"
    LOKI = "loki"
    MYSQL = "mysql"
    REDIS = "redis"
    BUNDLE = "bundle"


@dataclass(frozen=True, slots=True)
class Anomaly:
    """One signal that left its baseline."""

    component: str
    signal: str  # a readable signal name, e.g. "http 5xx ratio" or a metric name
    instance: str | None
    onset: float  # epoch seconds of the change point
    peak_ts: float
    value: float  # the anomalous level (peak or mean of the anomalous segment)
    baseline: float
    score: float  # strength, >= 0 (robust z-score-like)
    direction: str  # "up" | "down"
    query: str  # what was asked (PromQL / LogQL / in-process description)
    source: EvidenceSource = EvidenceSource.PROMETHEUS


@dataclass(frozen=True, slots=True)
class Evidence:
    component: str
    source: EvidenceSource
    query: str
    summary: str
    ts: float | None = None
    value: float | None = None
    baseline: float | None = None
    instance: str | None = None
    line: str | None = None  # a representative raw log line, when the evidence is a log

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "component": self.component,
            "source": self.source.value,
            "query": self.query,
            "ts": isoformat_z(self.ts) if self.ts is not None else None,
            "value": self.value,
            "baseline": self.baseline,
            "summary": self.summary,
        }
        if self.instance is not None:
            out["instance"] = self.instance
        if self.line is not None:
            out["line"] = self.line
        return out


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    ts: float
    component: str
    event: str
    source: EvidenceSource | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "ts": isoformat_z(self.ts),
            "component": self.component,
            "event": self.event,
        }
        if self.source is not None:
            out["source"] = self.source.value
        return out


@dataclass(frozen=True, slots=True)
class RootCause:
    component: str  # a topology component, CLIENT_CAUSE or NO_INCIDENT
    kind: str | None
    instance: str | None
    confidence: float  # 0..1
    summary: str
    # how it failed, in the words of the failure-mode catalogue ("lock contention")
    failure_mode: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "kind": self.kind,
            "instance": self.instance,
            "confidence": round(self.confidence, 2),
            "failureMode": self.failure_mode,
            "summary": self.summary,
        }


@dataclass(frozen=True, slots=True)
class Candidate:
    component: str
    score: float
    role: str = "candidate"  # "root" | "aggravating" | "symptom" | "candidate"
    reasons: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "component": self.component,
            "score": round(self.score, 2),
            "role": self.role,
        }
        if self.reasons:
            out["reasons"] = list(self.reasons)
        return out


@dataclass(frozen=True, slots=True)
class AffectedInstance:
    component: str
    instance: str
    reason: str
    pod: str | None = None
    namespace: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "component": self.component,
            "instance": self.instance,
            "reason": self.reason,
        }
        if self.pod is not None:
            out["pod"] = self.pod
        if self.namespace is not None:
            out["namespace"] = self.namespace
        return out


class ClientPattern(StrEnum):
    FLOOD = "flood"
    RETRY_LOOP = "retry-loop"
    COSTLY = "costly"  # few requests, each taking much of the server's time or bytes


@dataclass(frozen=True, slots=True)
class AbusiveClient:
    ip: str
    reason: str
    requests: int
    pattern: ClientPattern
    first_seen: float | None = None
    last_seen: float | None = None
    # A range (``ip`` holds its CIDR): at least this many of its addresses took part.
    members: int | None = None

    def to_json(self) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "ip": self.ip,
            "reason": self.reason,
            "requests": self.requests,
            "pattern": self.pattern.value,
            "firstSeen": isoformat_z(self.first_seen) if self.first_seen is not None else None,
            "lastSeen": isoformat_z(self.last_seen) if self.last_seen is not None else None,
        }
        if self.members is not None:
            shown["network"] = self.ip
            shown["members"] = self.members
        return shown


class ActionType(StrEnum):
    DRAIN_POD = "drain-pod"
    KILL_MYSQL_QUERIES = "kill-mysql-queries"
    RATE_LIMIT_CLIENT = "rate-limit-client"


@dataclass(frozen=True, slots=True)
class ProposedRemediation:
    action: ActionType
    target: str  # component, instance or client IP the action is aimed at
    reason: str
    state: str = "proposed"
    params: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "action": self.action.value,
            "target": self.target,
            "state": self.state,
            "reason": self.reason,
        }
        if self.params:
            out["params"] = dict(self.params)
        return out


class Urgency(StrEnum):
    IMMEDIATE = "immediate"
    SHORT_TERM = "short-term"
    LONG_TERM = "long-term"


@dataclass(frozen=True, slots=True)
class Recommendation:
    component: str
    urgency: Urgency
    text: str
    because: str  # the evidence summary it follows from

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "urgency": self.urgency.value,
            "text": self.text,
            "because": self.because,
        }


@dataclass(frozen=True, slots=True)
class KeySignal:
    """A signal worth plotting in the report (the anomalous ones, and their peers)."""

    component: str
    instance: str | None
    signal: str
    query: str
    timestamps: tuple[float, ...]
    values: tuple[float, ...]
    anomalous: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "instance": self.instance,
            "signal": self.signal,
            "query": self.query,
            "anomalous": self.anomalous,
            "points": [[ts, value] for ts, value in zip(self.timestamps, self.values, strict=True)],
        }


@dataclass(frozen=True)
class DiagnosisResult:
    window: Window
    root_cause: RootCause
    candidates: tuple[Candidate, ...] = ()
    affected: tuple[AffectedInstance, ...] = ()
    clients: tuple[AbusiveClient, ...] = ()
    timeline: tuple[TimelineEvent, ...] = ()
    evidence: tuple[Evidence, ...] = ()
    remediations: tuple[ProposedRemediation, ...] = ()
    recommendations: tuple[Recommendation, ...] = ()
    key_signals: tuple[KeySignal, ...] = ()
    symptom: str | None = None
    warnings: tuple[str, ...] = ()
    # what the sources gave: complete, degraded (confidence scaled) or failed (no conclusion)
    coverage: Coverage = COMPLETE

    @property
    def aggravating(self) -> tuple[Candidate, ...]:
        return tuple(c for c in self.candidates if c.role == "aggravating")

    def to_json(self) -> dict[str, Any]:
        return {
            "window": {
                "start": isoformat_z(self.window.start),
                "end": isoformat_z(self.window.end),
            },
            "symptom": self.symptom,
            "rootCause": self.root_cause.to_json(),
            "candidates": [c.to_json() for c in self.candidates],
            "aggravating": [c.component for c in self.aggravating],
            "affected": [a.to_json() for a in self.affected],
            "clients": [c.to_json() for c in self.clients],
            "timeline": [t.to_json() for t in self.timeline],
            "evidence": [e.to_json() for e in self.evidence],
            "remediations": [r.to_json() for r in self.remediations],
            "recommendations": [r.to_json() for r in self.recommendations],
            "keySignals": [k.to_json() for k in self.key_signals],
            "warnings": list(self.warnings),
            "outcome": self.coverage.to_json(),
        }
