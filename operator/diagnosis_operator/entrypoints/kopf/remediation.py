"""kopf entry points of the remediation executor (service/execute.py).

* ``remediate_now``: called by the Diagnosis handler in the Remediating phase;
* a timer on finished Diagnoses that still have executor work: a proposal a
  human approved since (``kubectl diagnose approve``), an action a stopped
  operator left ``running`` (checked against the world, never blindly re-run),
  a quarantine whose TTL ran out;
* on deletion of a Diagnosis (best effort, no finalizer): its quarantines are lifted
  and its client rules removed.

The same timer removes client rules whose TTL ran out and, ``verification.after``
after an action, verifies it against the live signals (``service.verification``):
keep, roll back (quarantine lifted, rule removed) or escalate (a warning Event and
the ``Escalated`` condition).

The timer ticks every ``TICK`` seconds but only for Diagnoses whose status says
there is work (``service.execute.needs_attention``), so idle ones cost nothing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes.cluster import ConfigMapDocument, KubernetesCluster
from diagnosis_operator.adapters.kubernetes.objects import (
    KubernetesObjectStore,
    SecretReader,
)
from diagnosis_operator.api.crd import (
    DIAGNOSIS_PLURAL,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisSpec,
    DiagnosisStatus,
    Mode,
    Phase,
    RemediationStatus,
    parse_duration,
)
from diagnosis_operator.core.phases import set_condition
from diagnosis_operator.core.remediation.ledger import GlobalBudget
from diagnosis_operator.entrypoints.bootstrap import (
    MySQLPorts,
    enrichment_settings,
    make_policy_enricher,
    traffic_backend,
)
from diagnosis_operator.entrypoints.kopf.context import OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.inputs import plain
from diagnosis_operator.entrypoints.kopf.sources import (
    SourceConfigError,
    build_sources,
    resolve_endpoints,
)
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.models.signals import from_seconds
from diagnosis_operator.ports import LogSource, TrafficPolicyBackend
from diagnosis_operator.service.remediate import (
    EXECUTOR_PARAM,
    ActionPorts,
    DiagnosisRef,
    DrainMethod,
    ExecutorSettings,
    LedgerUnavailable,
    awaits_verification,
    checkpoint_from_dir,
    expire_rules,
    follow_up,
    lift_due,
    needs_attention,
    remediate,
)
from diagnosis_operator.service.remediate.verification import checks_for, is_due

TICK = 5.0
ESCALATED = "Escalated"  # condition: a verification asks for a human
# One client per operator context (the process has one): connections are reused.
_PORTS: dict[int, tuple[KubernetesCluster, ConfigMapDocument]] = {}


def _ports(context: OperatorContext) -> tuple[KubernetesCluster, ConfigMapDocument]:
    cached = _PORTS.get(id(context))
    if cached is not None:
        return cached
    api = client.ApiClient(context.configuration)
    settings = context.settings
    ports = (
        KubernetesCluster(
            api_client=api,
            operator_namespace=settings.operator_namespace,
            namespaces=settings.namespaces,
        ),
        ConfigMapDocument(api_client=api, namespace=settings.operator_namespace),
    )
    _PORTS[id(context)] = ports
    return ports


def executor_settings(context: OperatorContext) -> ExecutorSettings:
    settings = context.settings
    directory: Path | None = settings.test_checkpoint_dir
    return ExecutorSettings(
        budget=GlobalBudget(
            max_actions=settings.global_budget_max_actions,
            window_seconds=settings.global_budget_window,
            retention_seconds=max(7 * 86400.0, settings.global_budget_window),
            max_entries=max(2000, settings.global_budget_max_actions),
        ),
        protected_namespaces=(*settings.protected_namespaces, settings.operator_namespace),
        drain_method=DrainMethod(settings.drain_method),
        checkpoint=checkpoint_from_dir(directory) if directory is not None else None,
    )


def _recorder(context: OperatorContext, *, namespace: str, name: str) -> Any:
    def record(items: list[RemediationStatus]) -> None:
        context.kube.patch_diagnosis_status(
            namespace=namespace,
            name=name,
            status={"remediations": [item.to_wire() for item in items]},
        )

    return record


def _secret_data(context: OperatorContext) -> Callable[[str, str], Mapping[str, str]]:
    reader = SecretReader(api_client=client.ApiClient(context.configuration))
    return lambda namespace, name: reader.data(namespace=namespace, name=name)


def policy_enricher(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> tuple[Callable[[DiagnosisResult], DiagnosisResult] | None, list[str]]:
    """The enrichment step for the components with a MySQL / Redis connection, and problems."""
    if not any(c.mysql is not None or c.redis is not None for c in policy.components):
        return None, []
    settings, problems = enrichment_settings(
        policy=policy, namespace=namespace, secrets=_secret_data(context)
    )
    return make_policy_enricher(settings=settings), problems


@contextlib.contextmanager
def action_ports(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> Iterator[ActionPorts]:
    """The MySQL and traffic ports of one policy; MySQL connections closed afterwards."""
    mysql = MySQLPorts(policy=policy, namespace=namespace, secrets=_secret_data(context))
    api = client.ApiClient(context.configuration)

    def traffic() -> TrafficPolicyBackend:
        return traffic_backend(
            policy=policy, namespace=namespace, store=KubernetesObjectStore(api_client=api)
        )

    try:
        yield ActionPorts(mysql=mysql, traffic=traffic)
    finally:
        mysql.close()


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
    with action_ports(context, policy=snapshot.spec, namespace=namespace) as ports:
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
            settings=executor_settings(context),
            ports=ports,
        )


def _live_logs(
    context: OperatorContext, *, policy: DiagnosisPolicySpec, namespace: str
) -> LogSource | None:
    try:
        prometheus, loki = resolve_endpoints(
            policy=policy, namespace=namespace, settings=context.settings, kube=context.kube
        )
        logs: LogSource = build_sources(prometheus=prometheus, loki=loki).logs
    except SourceConfigError:
        return None
    return logs


def verify_due(
    *,
    context: OperatorContext,
    namespace: str,
    name: str,
    diagnosis: DiagnosisRef,
    status: DiagnosisStatus,
    symptom_component: str | None,
    remediations: list[RemediationStatus],
    generation: int,
) -> list[RemediationStatus]:
    """Verify the applied actions whose time has come; escalations set a condition."""
    snapshot = status.policy_snapshot
    if snapshot is None or not any(awaits_verification(item) for item in remediations):
        return remediations
    settings = snapshot.spec.remediation.verification
    now = time.time()
    record = _recorder(context, namespace=namespace, name=name)
    if not settings.enabled:
        items = list(remediations)
        for index, item in enumerate(items):
            if awaits_verification(item):
                params = dict(item.params)
                executor = dict(params.get(EXECUTOR_PARAM) or {})
                executor["verification"] = {"outcome": "skipped", "summary": "disabled by policy"}
                params[EXECUTOR_PARAM] = executor
                items[index] = item.model_copy(update={"params": params})
        record(items)
        return items
    after = parse_duration(settings.after)
    due = [
        item
        for item in remediations
        if awaits_verification(item) and is_due(item=item, now=now, after_seconds=after)
    ]
    if not due:
        return remediations
    topology = snapshot.spec.to_topology()
    logs = _live_logs(context, policy=snapshot.spec, namespace=namespace)
    cluster = _ports(context)[0]
    with action_ports(context, policy=snapshot.spec, namespace=namespace) as ports:
        items = follow_up(
            diagnosis=diagnosis,
            remediations=remediations,
            checks=lambda item: checks_for(
                item=item,
                topology=topology,
                symptom_component=symptom_component,
                logs=logs,
                mysql=ports.mysql,
                kill_spec=snapshot.spec.remediation.kill_mysql_queries,
                now=now,
            ),
            cluster=cluster,
            now=now,
            record=record,
            min_improvement=settings.min_improvement,
            traffic=ports.traffic,
            due=lambda item: is_due(item=item, now=now, after_seconds=after),
        )
    escalated = [
        f"{item.action.value} {item.target}: {verdict.get('summary', '')}"
        for item in items
        if isinstance(verdict := (item.params.get(EXECUTOR_PARAM) or {}).get("verification"), dict)
        and verdict.get("followUp") == "escalate"
    ]
    if escalated:
        conditions = set_condition(
            status.conditions,
            type=ESCALATED,
            status=ConditionStatus.TRUE,
            reason="VerificationEscalated",
            message="; ".join(escalated)[:4096],
            generation=generation,
            now=from_seconds(now),
        )
        context.kube.patch_diagnosis_status(
            namespace=namespace,
            name=name,
            status={"conditions": [c.to_wire() for c in conditions]},
        )
    return items


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
    cluster = _ports(context)[0]
    ref = DiagnosisRef(namespace=namespace, name=name, uid=uid, annotations=annotations)
    record = _recorder(context, namespace=namespace, name=name)
    items = lift_due(
        diagnosis=ref, remediations=items, cluster=cluster, now=time.time(), record=record
    )
    snapshot = parsed.policy_snapshot
    if snapshot is not None:
        with action_ports(context, policy=snapshot.spec, namespace=namespace) as ports:
            items = expire_rules(
                diagnosis=ref,
                remediations=items,
                traffic=ports.traffic,
                cluster=cluster,
                now=time.time(),
                record=record,
            )
    symptom = plain(spec).get("symptom") or {}
    verify_due(
        context=context,
        namespace=namespace,
        name=name,
        diagnosis=ref,
        status=parsed,
        symptom_component=symptom.get("component") if isinstance(symptom, dict) else None,
        remediations=items,
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
    cluster = _ports(context)[0]
    ref = DiagnosisRef(namespace=namespace, name=name, uid=str(meta.get("uid") or ""))
    lift_due(
        diagnosis=ref,
        remediations=parsed.remediations,
        cluster=cluster,
        now=time.time(),
        record=lambda _items: None,  # the Diagnosis is going away
        resolved=True,
    )
    snapshot = parsed.policy_snapshot
    if snapshot is not None:
        with action_ports(context, policy=snapshot.spec, namespace=namespace) as ports:
            expire_rules(
                diagnosis=ref,
                remediations=parsed.remediations,
                traffic=ports.traffic,
                cluster=cluster,
                now=time.time(),
                record=lambda _items: None,
                resolved=True,
            )
