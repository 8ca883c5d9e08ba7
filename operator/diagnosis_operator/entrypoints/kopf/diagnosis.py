"""kopf handlers for ``Diagnosis``: parse the CR, run the engine, patch the status.

One handler serves create, resume and spec updates; ``core.phases.decide`` says
whether to start, resume, re-run or leave the diagnosis alone (see there for the
re-run rule: editing the spec of a finished diagnosis runs it again).  Each phase
change is patched to ``status`` at once and posted as an Event, so ``kubectl get
diag -w`` shows the run as it goes.

Failure reasons (``Failed`` condition and Event reason): ``InvalidSpec``,
``PolicyNotFound``, ``PolicyInvalid``, ``SourceNotConfigured``, ``SourceUnavailable``
(after ``DIAG_SOURCE_RETRIES`` retries), ``EngineError`` and those of ``outcome.py``
(``UnknownComponent``, no conclusion, the deadline, a window in the future);
``Degraded``: concluded on part of the evidence.  Status writes: ``status_write.py``.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

import kopf
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import (
    DIAGNOSIS_PLURAL,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisSpec,
    DiagnosisStatus,
    Mode,
    NotificationStatus,
    ObjectRef,
    Phase,
    PolicySnapshot,
    ResolvedWindow,
    report_config_map,
)
from diagnosis_operator.core.phases import (
    PROGRESSING,
    STAGE_PHASES,
    TERMINAL,
    Decision,
    can_transition,
    decide,
    set_condition,
    status_patch,
    transition,
    with_result,
)
from diagnosis_operator.entrypoints.bootstrap.signals import (
    SourceConfigError,
    Sources,
    SourceUnreachable,
)
from diagnosis_operator.entrypoints.kopf.context import OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.inputs import plain, validation_message
from diagnosis_operator.entrypoints.kopf.kube import NotOwned, OwnerRef
from diagnosis_operator.entrypoints.kopf.notifications import send_notifications
from diagnosis_operator.entrypoints.kopf.outcome import (
    Deadline,
    Stop,
    check_window,
    no_conclusion,
    policy_inputs,
)
from diagnosis_operator.entrypoints.kopf.remediation import policy_enricher, remediate_now
from diagnosis_operator.entrypoints.kopf.status_write import write_status
from diagnosis_operator.models.coverage import Outcome
from diagnosis_operator.models.findings import NO_INCIDENT, DiagnosisResult
from diagnosis_operator.models.signals import Window, from_seconds, utc_seconds
from diagnosis_operator.ports import ClusterError, SignalError
from diagnosis_operator.report import render_markdown
from diagnosis_operator.service import metrics
from diagnosis_operator.service.diagnose import run_diagnosis
from diagnosis_operator.service.policy_engine import EngineInputs
from diagnosis_operator.service.remediate import LedgerUnavailable

# A ConfigMap holds at most 1 MiB; keep room for the Markdown beside the JSON.
MAX_REPORT_JSON = 700_000


def _now() -> datetime:
    return datetime.now(UTC)


class DiagnosisRun:
    """One pass of the handler over one Diagnosis: holds the status it patches."""

    def __init__(
        self,
        *,
        context: OperatorContext,
        body: kopf.Body,
        namespace: str,
        name: str,
        generation: int,
        raw_status: dict[str, Any],
        deadline: Deadline | None = None,
    ) -> None:
        self.context = context
        self.deadline = deadline or Deadline.unbounded()  # DIAG_DIAGNOSIS_DEADLINE
        self.body = body
        self.namespace = namespace
        self.name = name
        self.generation = generation
        self.wire = {k: v for k, v in raw_status.items() if k in _STATUS_KEYS}
        try:
            self.status = DiagnosisStatus.model_validate(self.wire)
        except ValidationError:
            # A status someone edited by hand: start from scratch rather than trust it.
            self.status = DiagnosisStatus()

    def flush(self) -> None:
        after = self.status.to_wire()
        patch = status_patch(self.wire, after)
        write_status(
            self.context.kube,
            body=self.body,
            namespace=self.namespace,
            name=self.name,
            patch=patch,
            retry_delay=self.context.settings.source_retry_delay,
        )
        self.wire = after

    def move(self, target: Phase, *, reason: str | None = None, message: str = "") -> None:
        self.status = transition(
            self.status,
            target=target,
            generation=self.generation,
            now=_now(),
            reason=reason,
            message=message,
        )
        self.flush()
        text = message or self.status_message()
        if target in (Phase.FAILED, Phase.DEGRADED):
            kopf.warn(self.body, reason=reason or target.value, message=text)
        else:
            kopf.info(self.body, reason=reason or target.value, message=text)

    def note(self, reason: str, message: str) -> None:
        """Say on the Progressing condition why the run waits, without a phase change."""
        self.status = self.status.model_copy(
            update={
                "conditions": set_condition(
                    self.status.conditions,
                    type=PROGRESSING,
                    status=ConditionStatus.TRUE,
                    reason=reason,
                    message=message,
                    generation=self.generation,
                    now=_now(),
                )
            }
        )
        self.flush()
        kopf.warn(self.body, reason=reason, message=message)

    def status_message(self) -> str:
        for condition in self.status.conditions:
            if condition.type == PROGRESSING:
                return condition.message
        return ""


_STATUS_KEYS = frozenset(
    field.alias or name for name, field in DiagnosisStatus.model_fields.items()
)


@kopf.on.resume(API_GROUP, API_VERSION, DIAGNOSIS_PLURAL)
@kopf.on.create(API_GROUP, API_VERSION, DIAGNOSIS_PLURAL)
@kopf.on.update(API_GROUP, API_VERSION, DIAGNOSIS_PLURAL, field="spec")
def reconcile_diagnosis(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    name: str | None,
    namespace: str | None,
    retry: int,
    memo: kopf.Memo,
    **kwargs: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None  # a namespaced resource
    generation = int(meta.get("generation") or 0)
    # kopf's runtime counts from the first attempt: the deadline covers the retries too.
    runtime = kwargs.get("runtime")
    spent = runtime.total_seconds() if isinstance(runtime, timedelta) else 0.0
    run = DiagnosisRun(
        context=context,
        body=body,
        namespace=namespace,
        name=name,
        generation=generation,
        raw_status=plain(status),
        deadline=Deadline.after(context.settings.diagnosis_deadline, spent=spent),
    )
    decision = decide(status=run.status, generation=generation)
    if decision is Decision.NOTHING:
        return
    started = time.monotonic()
    try:
        result = _run(run, decision=decision, spec=plain(spec), retry=retry, uid=meta.get("uid"))
    except Stop as stop:
        _fail(run, stop.reason, stop.message)
        metrics.record_diagnosis("failed", time.monotonic() - started)
        return
    except (kopf.TemporaryError, kopf.PermanentError):
        raise
    except Exception as error:
        kopf.exception(body, reason="EngineError", message=f"{type(error).__name__}: {error}")
        _fail(run, "EngineError", f"{type(error).__name__}: {error}")
        metrics.record_diagnosis("failed", time.monotonic() - started)
        return
    outcome = "no-incident" if result.root_cause.component == NO_INCIDENT else "diagnosed"
    if result.coverage.outcome is Outcome.DEGRADED:
        outcome = "degraded"
    metrics.record_diagnosis(outcome, time.monotonic() - started)


def _fail(run: DiagnosisRun, reason: str, message: str) -> None:
    if run.status.phase is None:
        run.move(Phase.PENDING)
    if run.status.phase in TERMINAL or not can_transition(
        current=run.status.phase, target=Phase.FAILED
    ):
        return
    run.move(Phase.FAILED, reason=reason, message=message)


def _run(
    run: DiagnosisRun, *, decision: Decision, spec: dict[str, Any], retry: int, uid: Any
) -> DiagnosisResult:
    """The phases of one pass, in order; each step patches status as it goes."""
    resuming = decision is Decision.RESUME
    keep_window = run.status.window if resuming else None
    keep_snapshot = run.status.policy_snapshot if resuming else None
    _announce(run, decision=decision, retry=retry)
    try:
        parsed = DiagnosisSpec.model_validate(spec)
    except ValidationError as error:
        raise Stop("InvalidSpec", validation_message("spec", error)) from error
    snapshot = keep_snapshot or _snapshot_policy(run, parsed, retry=retry)
    if run.status.policy_snapshot != snapshot:
        run.status = run.status.model_copy(update={"policy_snapshot": snapshot})
        run.flush()
    inputs = policy_inputs(snapshot, parsed.symptom.component)
    window = _fix_window(run, parsed=parsed, keep=keep_window)
    run.deadline.check(what="before collecting")
    result = _diagnose(
        run, parsed=parsed, snapshot=snapshot, inputs=inputs, window=window, retry=retry
    )
    if (nothing := no_conclusion(result)) is not None:
        if nothing.retryable:
            _retry_or_stop(run, retry=retry, message=nothing.message, reason=nothing.reason)
        raise Stop(nothing.reason, nothing.message)
    # Stages the engine did not announce are still walked, in order.
    for stage_phase in (Phase.COLLECTING, Phase.CORRELATING, Phase.PLANNING):
        if can_transition(current=run.status.phase, target=stage_phase):
            run.move(stage_phase)
    run.status = with_result(
        run.status, result=result, diagnosis_uid=str(uid or ""), namespace=run.namespace
    )
    run.flush()
    if parsed.mode in (Mode.REMEDIATE, Mode.DRY_RUN) and run.status.remediations:
        _remediate(run, mode=parsed.mode, uid=uid, retry=retry)
    if run.context.settings.write_report:
        _write_report(run, result=result, uid=uid)
    _complete(run, result)
    _notify(run, result=result)
    return result


def _notify(run: DiagnosisRun, *, result: DiagnosisResult) -> None:
    """Tell the policy's sinks, after the final status is written (never fails the run)."""

    def record(items: list[NotificationStatus]) -> None:
        run.status = run.status.model_copy(update={"notifications": items})
        run.flush()

    send_notifications(
        context=run.context,
        body=run.body,
        namespace=run.namespace,
        name=run.name,
        status=run.status,
        failure_mode=result.root_cause.failure_mode,
        record=record,
    )


def _announce(run: DiagnosisRun, *, decision: Decision, retry: int) -> None:
    reason = {
        Decision.START: "Started",
        Decision.RESUME: "Resumed",
        Decision.RERUN: "SpecChanged",
    }[decision]
    if run.status.phase is not Phase.PENDING or retry == 0:
        run.move(Phase.PENDING, reason=reason, message=f"diagnosis {reason.lower()}")


def _fix_window(run: DiagnosisRun, *, parsed: DiagnosisSpec, keep: ResolvedWindow | None) -> Window:
    """The window of this diagnosis: kept across resumes, else resolved against now."""
    now = time.time()
    if keep is not None:
        window = Window(start=utc_seconds(keep.start), end=utc_seconds(keep.end))
    else:
        window = parsed.window.resolve(now=now)
    check_window(window, now=now)
    run.status = run.status.model_copy(
        update={
            "window": ResolvedWindow(start=from_seconds(window.start), end=from_seconds(window.end))
        }
    )
    run.flush()
    return window


def _open_sources(run: DiagnosisRun, *, snapshot: PolicySnapshot, retry: int) -> Sources:
    context = run.context
    try:
        return context.open_sources(
            policy=snapshot.spec,
            namespace=run.namespace,
            settings=context.settings,
            kube=context.kube,
            rules=context.tenancy(),
        )
    except SourceConfigError as error:
        raise Stop("SourceNotConfigured", str(error)) from error
    except SourceUnreachable as error:
        _retry_or_stop(run, retry=retry, message=str(error))


def _diagnose(
    run: DiagnosisRun,
    *,
    parsed: DiagnosisSpec,
    snapshot: PolicySnapshot,
    inputs: EngineInputs,
    window: Window,
    retry: int,
) -> DiagnosisResult:
    sources = _open_sources(run, snapshot=snapshot, retry=retry)

    def on_stage(stage: str) -> None:
        target = STAGE_PHASES.get(stage)
        if target is not None and can_transition(current=run.status.phase, target=target):
            run.move(target)

    # Direct questions to the MySQL / Redis servers the policy names (never fatal).
    enrich, problems = policy_enricher(run.context, policy=snapshot.spec, namespace=run.namespace)
    for problem in problems:
        kopf.warn(run.body, reason="EnrichmentUnavailable", message=problem)
    extra: dict[str, Any] = {"enrich": enrich} if enrich is not None else {}
    try:
        return run_diagnosis(
            topology=inputs.topology,
            window=window,
            symptom=parsed.symptom.describe() or None,
            series=sources.series,
            logs=sources.logs,
            now=time.time(),
            on_stage=on_stage,
            settings=inputs.settings,
            policy_signals=inputs.signals,
            promql=sources.promql,
            symptom_component=parsed.symptom.component,
            deadline=run.deadline.at,
            aggregate=run.context.settings.series_queries != "raw",
            **extra,
        )
    except SignalError as error:
        _retry_or_stop(run, retry=retry, message=str(error))
    except (ConnectionError, TimeoutError) as error:
        _retry_or_stop(run, retry=retry, message=f"{type(error).__name__}: {error}")


def _remediate(run: DiagnosisRun, *, mode: Mode, uid: Any, retry: int) -> None:
    """Hand the planned actions to the executor, which guards and records each one."""
    if mode is Mode.REMEDIATE:
        run.move(Phase.REMEDIATING)
    try:
        remediations = remediate_now(
            context=run.context,
            namespace=run.namespace,
            name=run.name,
            uid=str(uid or ""),
            annotations=dict((run.body.get("metadata") or {}).get("annotations") or {}),
            status=run.status,
            mode=mode,
        )
    except LedgerUnavailable as error:
        _retry_or_stop(run, retry=retry, message=str(error))
    run.status = run.status.model_copy(update={"remediations": remediations})
    run.flush()


def _complete(run: DiagnosisRun, result: DiagnosisResult) -> None:
    root = result.root_cause
    found = root.component != NO_INCIDENT
    coverage = result.coverage
    if coverage.outcome is Outcome.DEGRADED:
        text = f"{root.component} ({root.confidence:.0%}): {coverage.message}"
        run.move(Phase.DEGRADED, reason=coverage.reason, message=text[:4096])
        return
    run.move(
        Phase.COMPLETED,
        reason="RootCauseFound" if found else "NoIncident",
        message=(
            f"root cause {root.component} ({root.confidence:.0%}): {root.summary}"
            if found
            else root.summary or "no incident in the window"
        )[:4096],
    )


def _snapshot_policy(run: DiagnosisRun, spec: DiagnosisSpec, *, retry: int) -> PolicySnapshot:
    policy_name = spec.policy_ref.name
    found = run.context.kube.get_policy(namespace=run.namespace, name=policy_name)
    if found is None:
        settings = run.context.settings
        message = f"DiagnosisPolicy {run.namespace}/{policy_name} not found"
        if retry < settings.source_retries:
            run.note(
                "WaitingForPolicy", f"{message}; retry {retry + 1} of {settings.source_retries}"
            )
            raise kopf.TemporaryError(message, delay=settings.source_retry_delay)
        raise Stop("PolicyNotFound", message)
    metadata = found.get("metadata") or {}
    try:
        policy_spec = DiagnosisPolicySpec.model_validate(found.get("spec") or {})
    except ValidationError as error:
        raise Stop(
            "PolicyInvalid", validation_message(f"policy {policy_name} spec", error)
        ) from error
    return PolicySnapshot(
        name=policy_name,
        uid=metadata.get("uid"),
        resource_version=str(metadata.get("resourceVersion", "")),
        generation=int(metadata.get("generation") or 0),
        spec=policy_spec,
    )


def _retry_or_stop(
    run: DiagnosisRun, *, retry: int, message: str, reason: str = "SourceUnavailable"
) -> NoReturn:
    settings = run.context.settings
    if retry < settings.source_retries:
        slack = settings.source_retry_delay
        run.deadline.check(what="waiting for its sources", last=message, slack=slack)
        run.note(
            "SourceUnavailable",
            f"{message}; retry {retry + 1} of {settings.source_retries} "
            f"in {settings.source_retry_delay:g}s",
        )
        raise kopf.TemporaryError(message, delay=settings.source_retry_delay)
    raise Stop(reason, f"{message} (after {retry} retries)")


def _write_report(run: DiagnosisRun, *, result: DiagnosisResult, uid: Any) -> None:
    payload = result.to_json()
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    if len(text) > MAX_REPORT_JSON:
        payload["keySignals"] = []
        payload["warnings"] = [*payload.get("warnings", []), "keySignals dropped: report too large"]
        text = json.dumps(payload, ensure_ascii=False)
    data = {"diagnosis.json": text[:MAX_REPORT_JSON]}
    try:
        data["report.md"] = render_markdown(result)[:250_000]
    except Exception as error:  # the JSON is the contract; the Markdown is a courtesy
        kopf.warn(run.body, reason="ReportRenderFailed", message=f"{type(error).__name__}: {error}")
    config_map = report_config_map(run.name)
    try:
        run.context.kube.write_report(
            namespace=run.namespace,
            name=config_map,
            owner=OwnerRef(name=run.name, uid=str(uid or "")),
            data=data,
        )
    except (NotOwned, ClusterError) as error:
        # The diagnosis stands without its report; say why, never touch a stranger's object.
        message = f"report not written: {error}"[:1024]
        kopf.warn(run.body, reason="ReportNotWritten", message=message)
        run.status = run.status.model_copy(
            update={"warnings": [*run.status.warnings, message][-32:]}
        )
        run.flush()
        return
    run.status = run.status.model_copy(update={"report_ref": ObjectRef(name=config_map)})
    run.flush()
