"""Reading a saved diagnosis back: the inverse of ``DiagnosisResult.to_json()``.

Pydantic models mirror the JSON document; each leaf is checked by a strict
validator (a number is never a boolean, a time is RFC 3339 with a zone) so that
a wrong document is rejected with the path of the first wrong field, e.g.
``evidence[3].ts: 'yesterday' is not an RFC 3339 time``.  Fields the reader does
not know are ignored (the output contract says more may be added); a missing or
null optional field takes its default.

Pure: JSON values in, a ``DiagnosisResult`` out.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

from diagnosis_operator.models.coverage import Coverage, Outcome
from diagnosis_operator.models.findings import (
    AbusiveClient,
    ActionType,
    AffectedInstance,
    Candidate,
    ClientPattern,
    DiagnosisResult,
    Evidence,
    EvidenceSource,
    KeySignal,
    ProposedRemediation,
    Recommendation,
    RootCause,
    TimelineEvent,
    Urgency,
)
from diagnosis_operator.models.signals import Window, utc_seconds

__all__ = ["ResultFormatError", "result_from_json"]


class ResultFormatError(ValueError):
    """A saved diagnosis that cannot be read; the message names the field."""


# --------------------------------------------------------------------------- leaf checks


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean"}.get(
        type(value), f"a {type(value).__name__}"
    )


def _wrong(message: str, *, at: str = "") -> PydanticCustomError:
    """A rejection; ``at`` extends the path of the value checked (``[2]``: its third item)."""
    # The message is context, not template: data in it may hold braces.
    return PydanticCustomError("result_format", "{message}", {"message": message, "at": at})


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise _wrong(f"expected a string, got {_kind(value)}")
    return value


def _number(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong(f"expected a number, got {_kind(value)}")
    return float(value)


def _integer(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _wrong(f"expected an integer, got {_kind(value)}")
    return value


def _boolean(value: object) -> bool:
    if not isinstance(value, bool):
        raise _wrong(f"expected true or false, got {_kind(value)}")
    return value


def _time(value: object) -> float:
    text = _string(value)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _wrong(f"{text!r} is not an RFC 3339 time") from None
    if moment.tzinfo is None:
        raise _wrong(f"{text!r} has no time zone")
    return utc_seconds(moment)


def _list(value: object) -> list[object]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise _wrong(f"expected a list, got {_kind(value)}")
    return value


def _object(value: object) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _wrong(f"expected an object, got {_kind(value)}")
    return value


def _objects(value: object) -> list[object]:
    """A list of objects; every item is checked to be one before any item is read."""
    items = _list(value)
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise _wrong(f"expected an object, got {_kind(item)}", at=f"[{index}]")
    return items


def _mapping(value: object) -> dict[str, Any]:
    return {} if value is None else dict(_object(value))


def _point(value: object) -> tuple[float, float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(part, int | float) and not isinstance(part, bool) for part in value)
    ):
        raise _wrong(f"expected [timestamp, value], got {value!r:.80}")
    return float(value[0]), float(value[1])


_E = TypeVar("_E", bound=StrEnum)


def _choice(choices: type[_E]) -> Callable[[object], _E]:
    def check(value: object) -> _E:
        text = _string(value)
        try:
            return choices(text)
        except ValueError:
            allowed = ", ".join(member.value for member in choices)
            raise _wrong(f"{text!r} is not one of {allowed}") from None

    return check


def _optional(check: Callable[[object], Any]) -> Callable[[object], Any]:
    return lambda value: None if value is None else check(value)


_T = TypeVar("_T")

Str = Annotated[str, PlainValidator(_string)]
OptStr = Annotated[str | None, PlainValidator(_optional(_string))]
Number = Annotated[float, PlainValidator(_number)]
OptNumber = Annotated[float | None, PlainValidator(_optional(_number))]
Time = Annotated[float, PlainValidator(_time)]
OptTime = Annotated[float | None, PlainValidator(_optional(_time))]
Strings = Annotated[tuple[Str, ...], BeforeValidator(_list)]
Objects = Annotated[tuple[_T, ...], BeforeValidator(_objects)]


class _Doc(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @model_validator(mode="before")
    @classmethod
    def _absent_is_null(cls, data: object) -> object:
        """A required field that is missing is checked (and named) like one that is null."""
        if not isinstance(data, dict):
            return data
        required = {
            field.alias or name: None
            for name, field in cls.model_fields.items()
            if field.is_required()
        }
        return {**required, **data}


# --------------------------------------------------------------------------- the document
# Fields are declared in the order they are checked: the first wrong one is reported.


class _WindowDoc(_Doc):
    start: Time
    end: Time

    @model_validator(mode="after")
    def _ordered(self) -> _WindowDoc:
        try:
            Window(self.start, self.end)
        except ValueError as error:
            raise _wrong(str(error)) from None
        return self


class _RootCauseDoc(_Doc):
    component: Str
    kind: OptStr = None
    instance: OptStr = None
    confidence: Number
    failure_mode: OptStr = Field(default=None, alias="failureMode")
    summary: OptStr = None

    def build(self) -> RootCause:
        return RootCause(
            component=self.component,
            kind=self.kind,
            instance=self.instance,
            confidence=self.confidence,
            summary=self.summary or "",
            failure_mode=self.failure_mode,
        )


class _CandidateDoc(_Doc):
    component: Str
    score: Number
    role: OptStr = None
    reasons: Strings = ()

    def build(self) -> Candidate:
        return Candidate(
            component=self.component,
            score=self.score,
            role=self.role or "candidate",
            reasons=self.reasons,
        )


class _AffectedDoc(_Doc):
    component: Str
    instance: Str
    reason: OptStr = None
    pod: OptStr = None
    namespace: OptStr = None

    def build(self) -> AffectedInstance:
        return AffectedInstance(
            component=self.component,
            instance=self.instance,
            reason=self.reason or "",
            pod=self.pod,
            namespace=self.namespace,
        )


class _ClientDoc(_Doc):
    ip: Str
    reason: OptStr = None
    requests: Annotated[int, PlainValidator(_integer)]
    pattern: Annotated[ClientPattern, PlainValidator(_choice(ClientPattern))]
    first_seen: OptTime = Field(default=None, alias="firstSeen")
    last_seen: OptTime = Field(default=None, alias="lastSeen")

    def build(self) -> AbusiveClient:
        return AbusiveClient(
            ip=self.ip,
            reason=self.reason or "",
            requests=self.requests,
            pattern=self.pattern,
            first_seen=self.first_seen,
            last_seen=self.last_seen,
        )


class _TimelineDoc(_Doc):
    ts: Time
    component: Str
    event: Str
    source: Annotated[EvidenceSource | None, PlainValidator(_optional(_choice(EvidenceSource)))] = (
        None
    )

    def build(self) -> TimelineEvent:
        return TimelineEvent(
            ts=self.ts, component=self.component, event=self.event, source=self.source
        )


class _EvidenceDoc(_Doc):
    component: Str
    source: Annotated[EvidenceSource, PlainValidator(_choice(EvidenceSource))]
    query: OptStr = None
    summary: OptStr = None
    ts: OptTime = None
    value: OptNumber = None
    baseline: OptNumber = None
    instance: OptStr = None
    line: OptStr = None

    def build(self) -> Evidence:
        return Evidence(
            component=self.component,
            source=self.source,
            query=self.query or "",
            summary=self.summary or "",
            ts=self.ts,
            value=self.value,
            baseline=self.baseline,
            instance=self.instance,
            line=self.line,
        )


class _RemediationDoc(_Doc):
    action: Annotated[ActionType, PlainValidator(_choice(ActionType))]
    target: Str
    reason: OptStr = None
    state: OptStr = None
    params: Annotated[dict[str, Any], PlainValidator(_mapping)] = Field(default_factory=dict)

    def build(self) -> ProposedRemediation:
        return ProposedRemediation(
            action=self.action,
            target=self.target,
            reason=self.reason or "",
            state=self.state or "proposed",
            params=self.params,
        )


class _RecommendationDoc(_Doc):
    component: Str
    urgency: Annotated[Urgency, PlainValidator(_choice(Urgency))]
    text: Str
    because: OptStr = None

    def build(self) -> Recommendation:
        return Recommendation(
            component=self.component,
            urgency=self.urgency,
            text=self.text,
            because=self.because or "",
        )


class _KeySignalDoc(_Doc):
    points: Annotated[
        tuple[Annotated[tuple[float, float], PlainValidator(_point)], ...],
        BeforeValidator(_list),
    ] = ()
    component: Str
    instance: OptStr = None
    signal: Str
    query: OptStr = None
    anomalous: Annotated[bool, PlainValidator(_boolean)] = False

    def build(self) -> KeySignal:
        return KeySignal(
            component=self.component,
            instance=self.instance,
            signal=self.signal,
            query=self.query or "",
            timestamps=tuple(ts for ts, _ in self.points),
            values=tuple(value for _, value in self.points),
            anomalous=self.anomalous,
        )


class _OutcomeDoc(_Doc):
    state: Annotated[Outcome, PlainValidator(_choice(Outcome))] = Outcome.COMPLETE
    reason: OptStr = None
    message: OptStr = None
    queries_asked: Annotated[int, PlainValidator(_integer)] = Field(default=0, alias="queriesAsked")
    queries_failed: Annotated[int, PlainValidator(_integer)] = Field(
        default=0, alias="queriesFailed"
    )
    queries_timed_out: Annotated[int, PlainValidator(_integer)] = Field(
        default=0, alias="queriesTimedOut"
    )
    queries_partial: Annotated[int, PlainValidator(_integer)] = Field(
        default=0, alias="queriesPartial"
    )

    def build(self) -> Coverage:
        return Coverage(
            outcome=self.state,
            reason=self.reason or "",
            message=self.message or "",
            asked=self.queries_asked,
            failed=self.queries_failed,
            timed_out=self.queries_timed_out,
            partial=self.queries_partial,
        )


class _DiagnosisDoc(_Doc):
    window: Annotated[_WindowDoc, BeforeValidator(_object)]
    root_cause: Annotated[_RootCauseDoc, BeforeValidator(_object)] = Field(alias="rootCause")
    candidates: Objects[_CandidateDoc] = ()
    affected: Objects[_AffectedDoc] = ()
    clients: Objects[_ClientDoc] = ()
    timeline: Objects[_TimelineDoc] = ()
    evidence: Objects[_EvidenceDoc] = ()
    remediations: Objects[_RemediationDoc] = ()
    recommendations: Objects[_RecommendationDoc] = ()
    key_signals: Objects[_KeySignalDoc] = Field(default=(), alias="keySignals")
    symptom: OptStr = None
    warnings: Strings = ()
    outcome: Annotated[_OutcomeDoc, BeforeValidator(_object)] = _OutcomeDoc()

    def build(self) -> DiagnosisResult:
        return DiagnosisResult(
            window=Window(self.window.start, self.window.end),
            root_cause=self.root_cause.build(),
            candidates=tuple(c.build() for c in self.candidates),
            affected=tuple(a.build() for a in self.affected),
            clients=tuple(c.build() for c in self.clients),
            timeline=tuple(t.build() for t in self.timeline),
            evidence=tuple(e.build() for e in self.evidence),
            remediations=tuple(r.build() for r in self.remediations),
            recommendations=tuple(r.build() for r in self.recommendations),
            key_signals=tuple(k.build() for k in self.key_signals),
            symptom=self.symptom,
            warnings=self.warnings,
            coverage=self.outcome.build(),
        )


_DOCUMENT: TypeAdapter[_DiagnosisDoc] = TypeAdapter(
    Annotated[_DiagnosisDoc, BeforeValidator(_object)]
)


def _where(location: tuple[int | str, ...]) -> str:
    """``('evidence', 3, 'ts')`` as ``evidence[3].ts``; the empty path is the document."""
    path = ""
    for part in location:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path or "the document"


def result_from_json(data: object) -> DiagnosisResult:
    """Pure: the inverse of ``DiagnosisResult.to_json()``.

    Fields the reader does not know are ignored (the output contract says more
    may be added); known fields with the wrong shape raise ``ResultFormatError``
    naming the first wrong field, e.g. ``evidence[3].ts``.
    """
    try:
        document = _DOCUMENT.validate_python(data)
    except ValidationError as error:
        first = error.errors(include_url=False)[0]
        at = first.get("ctx", {}).get("at", "")
        raise ResultFormatError(f"{_where(first['loc'])}{at}: {first['msg']}") from None
    return document.build()
