"""kopf entry points of the remediation executor (``service/remediate``).

* ``remediate_now``: called by the Diagnosis handler in the Remediating phase;
* a timer on finished Diagnoses that still have executor work: a proposal a
  human approved since (``kubectl diagnose approve``), an action a stopped
  operator left ``running`` (checked against the world, never blindly re-run),
  a quarantine whose TTL ran out;
* on deletion of a Diagnosis (best effort, no finalizer): its quarantines are lifted
  and its client rules removed.

The same timer removes client rules whose TTL ran out and, ``verification.after``
after an action, verifies it against the live signals
(``service.remediate.follow.follow_through``): keep, roll back (quarantine
lifted, rule removed) or escalate (a warning Event and the ``Escalated``
condition).

The timer ticks every ``TICK`` seconds but only for Diagnoses whose status says
there is work (``service.remediate.needs_attention``), so idle ones cost nothing.
Each handler parses the CR, calls the service and patches the status; the
adapters are built in ``entrypoints.bootstrap``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import kopf
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument, KubernetesCluster
from diagnosis_operator.api import (
    DIAGNOSIS_PLURAL,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisSpec,
    DiagnosisStatus,
    Mode,
    Phase,
    RemediationStatus,
)
from diagnosis_operator.core.phases import set_condition
from diagnosis_operator.entrypoints.bootstrap import connections as bootstrap
from diagnosis_operator.entrypoints.bootstrap.signals import (
    SourceConfigError,
    build_sources,
    prometheus_adapter,
    resolve_endpoints,
)
from diagnosis_operator.entrypoints.kopf.context import OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.inputs import plain
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.signals import Window, from_seconds, utc_seconds
from diagnosis_operator.ports import LogSource, PromQLSource
from diagnosis_operator.service.remediate import (
    Connections,
    DiagnosisRef,
    LedgerUnavailable,
    follow_through,
    let_go,
    needs_attention,
    remediate,
)

TICK = 5.0
ESCALATED = "Escalated"  # condition: a verification asks for a human
# One client per operator context (the process has one): connections are reused.
_PORTS: dict[int, tuple[KubernetesCluster, ConfigMapDocument]] = {}


def _ports(context: OperatorContext) -> tuple[KubernetesCluster, ConfigMapDocument]:
    cached = _PORTS.get(id(context))
    if cached is None:
        cached = bootstrap.executor_cluster(
            configuration=context.configuration, settings=context.settings
        )
        _PORTS[id(context)] = cached
    return cached


def _recorder(context: OperatorContext, *, namespace: str, name: str) -> Any:
    def record(items: list[RemediationStatus]) -> None:
        context.kube.patch_diagnosis_status(
            namespace=namespace,
            name=name,
            status={"remediations": [item.to_wire() for item in items]},
        )

    return record


def policy_enricher(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> tuple[Callable[[DiagnosisResult], DiagnosisResult] | None, list[str]]:
    """The enrichment step for the components with a MySQL / Redis connection, and problems."""
    if not any(c.mysql is not None or c.redis is not None for c in policy.components):
        return None, []
    settings, problems = bootstrap.enrichment_settings(
        policy=policy,
        namespace=namespace,
        secrets=bootstrap.secret_data(context.configuration),
        rules=context.tenancy(),
    )
    return bootstrap.make_policy_enricher(settings=settings), problems


def remediate_now(
    *,
    context: OperatorContext,
    namespace: str,
    name: str,
    uid: str,
    annotations: Mapping[str, str],
    status: DiagnosisStatus,
    mode: Mode,
) -> list[RemediationStatus]:
    """Run the executor over ``status.remediations``; the status is patched as it goes."""
    snapshot = status.policy_snapshot
    if snapshot is None:
        return list(status.remediations)
    cluster, ledger = _ports(context)
    rules = context.tenancy()
    with bootstrap.action_ports(
        configuration=context.configuration, policy=snapshot.spec, namespace=namespace, rules=rules
    ) as ports:
        return remediate(
            diagnosis=DiagnosisRef(
                namespace=namespace, name=name, uid=uid, annotations=annotations
            ),
            policy=snapshot.spec,
            remediations=status.remediations,
            cluster=cluster,
            ledger=ledger,
            now=time.time(),
            mode=mode,
            record=_recorder(context, namespace=namespace, name=name),
            settings=bootstrap.executor_settings(context.settings, rules),
            ports=ports,
        )


def _live_logs(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> LogSource | None:
    try:
        prometheus, loki = resolve_endpoints(
            policy=policy,
            namespace=namespace,
            settings=context.settings,
            kube=context.kube,
            rules=context.tenancy(),
        )
        logs: LogSource = build_sources(prometheus=prometheus, loki=loki).logs
    except SourceConfigError:
        return None
    return logs


def _live_metrics(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> PromQLSource | None:
    try:
        prometheus, _ = resolve_endpoints(
            policy=policy, namespace=namespace, settings=context.settings, kube=context.kube
        )
    except SourceConfigError:
        return None
    return prometheus_adapter(prometheus)


def _connections(context: OperatorContext, *, namespace: str) -> Connections:
    """How the aftercare of a Diagnosis in ``namespace`` reaches the world."""
    return Connections(
        cluster=_ports(context)[0],
        actions=lambda policy: bootstrap.action_ports(
            configuration=context.configuration,
            policy=policy,
            namespace=namespace,
            rules=context.tenancy(),
        ),
        logs=lambda policy: _live_logs(context, policy=policy, namespace=namespace),
        metrics=lambda policy: _live_metrics(context, policy=policy, namespace=namespace),
    )


def _escalate(
    context: OperatorContext,
    *,
    namespace: str,
    name: str,
    status: DiagnosisStatus,
    escalated: list[str],
    generation: int,
) -> None:
    """The ``Escalated`` condition, saying which verifications asked for a human."""
    conditions = set_condition(
        status.conditions,
        type=ESCALATED,
        status=ConditionStatus.TRUE,
        reason="VerificationEscalated",
        message="; ".join(escalated)[:4096],
        generation=generation,
        now=from_seconds(time.time()),
    )
    context.kube.patch_diagnosis_status(
        namespace=namespace, name=name, status={"conditions": [c.to_wire() for c in conditions]}
    )


def _parsed(status: Any) -> DiagnosisStatus | None:
    try:
        return DiagnosisStatus.model_validate(plain(status))
    except ValidationError:
        return None


def _has_work(status: kopf.Status, meta: kopf.Meta, **_: Any) -> bool:
    parsed = _parsed(status)
    if parsed is None or parsed.phase is not Phase.COMPLETED:
        return False
    return needs_attention(
        remediations=parsed.remediations, annotations=dict(meta.get("annotations") or {})
    )


@kopf.timer(API_GROUP, API_VERSION, DIAGNOSIS_PLURAL, interval=TICK, when=_has_work)
def follow_remediations(
    *,
    spec: kopf.Spec,
    status: kopf.Status,
    meta: kopf.Meta,
    name: str | None,
    namespace: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None
    parsed = _parsed(status)
    if parsed is None:
        return
    try:
        mode = DiagnosisSpec.model_validate(plain(spec)).mode
    except ValidationError:
        return
    annotations = dict(meta.get("annotations") or {})
    uid = str(meta.get("uid") or "")
    try:
        items = remediate_now(
            context=context,
            namespace=namespace,
            name=name,
            uid=uid,
            annotations=annotations,
            status=parsed,
            mode=mode,
        )
    except LedgerUnavailable as error:
        raise kopf.TemporaryError(str(error), delay=TICK) from error
    snapshot = parsed.policy_snapshot
    symptom = plain(spec).get("symptom") or {}
    followed = follow_through(
        diagnosis=DiagnosisRef(namespace=namespace, name=name, uid=uid, annotations=annotations),
        policy=snapshot.spec if snapshot is not None else None,
        remediations=items,
        symptom_component=symptom.get("component") if isinstance(symptom, dict) else None,
        connections=_connections(context, namespace=namespace),
        record=_recorder(context, namespace=namespace, name=name),
        clock=time.time,
        incident=(
            Window(start=utc_seconds(parsed.window.start), end=utc_seconds(parsed.window.end))
            if parsed.window is not None
            else None
        ),
    )
    if followed.escalated:
        _escalate(
            context,
            namespace=namespace,
            name=name,
            status=parsed,
            escalated=followed.escalated,
            generation=int(meta.get("generation") or 0),
        )


@kopf.on.delete(API_GROUP, API_VERSION, DIAGNOSIS_PLURAL, optional=True)
def lift_on_delete(
    *,
    status: kopf.Status,
    meta: kopf.Meta,
    name: str | None,
    namespace: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None
    parsed = _parsed(status)
    if parsed is None or not parsed.remediations:
        return
    snapshot = parsed.policy_snapshot
    let_go(
        diagnosis=DiagnosisRef(namespace=namespace, name=name, uid=str(meta.get("uid") or "")),
        policy=snapshot.spec if snapshot is not None else None,
        remediations=parsed.remediations,
        connections=_connections(context, namespace=namespace),
        clock=time.time,
    )
