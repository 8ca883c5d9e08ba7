"""kopf entry points of the remediation executor (service/execute.py).

* ``remediate_now``: called by the Diagnosis handler in the Remediating phase;
* a timer on finished Diagnoses that still have executor work: a proposal a
  human approved since (``kubectl diagnose approve``), an action a stopped
  operator left ``running`` (checked against the world, never blindly re-run),
  a quarantine whose TTL ran out;
* on deletion of a Diagnosis (best effort, no finalizer): its quarantines are lifted.

The timer ticks every ``TICK`` seconds but only for Diagnoses whose status says
there is work (``service.execute.needs_attention``), so idle ones cost nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import kopf
from kubernetes import client
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.kubernetes import ConfigMapDocument, KubernetesCluster
from diagnosis_operator.core.ledger import GlobalBudget
from diagnosis_operator.handlers.context import OperatorContext, context_of
from diagnosis_operator.models.crd import (
    DIAGNOSIS_PLURAL,
    DiagnosisSpec,
    DiagnosisStatus,
    Mode,
    Phase,
    RemediationStatus,
)
from diagnosis_operator.service.execute import (
    DiagnosisRef,
    DrainMethod,
    ExecutorSettings,
    LedgerUnavailable,
    checkpoint_from_dir,
    lift_due,
    needs_attention,
    remediate,
)

TICK = 5.0
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
    return remediate(
        diagnosis=DiagnosisRef(namespace=namespace, name=name, uid=uid, annotations=annotations),
        policy=snapshot.spec,
        remediations=status.remediations,
        cluster=cluster,
        ledger=ledger,
        now=time.time(),
        mode=mode,
        record=_recorder(context, namespace=namespace, name=name),
        settings=executor_settings(context),
    )


def _plain(view: Any) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(dict(view or {}), default=str))
    return plain


def _parsed(status: Any) -> DiagnosisStatus | None:
    try:
        return DiagnosisStatus.model_validate(_plain(status))
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
        mode = DiagnosisSpec.model_validate(_plain(spec)).mode
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
    lift_due(
        diagnosis=DiagnosisRef(namespace=namespace, name=name, uid=uid, annotations=annotations),
        remediations=items,
        cluster=cluster,
        now=time.time(),
        record=_recorder(context, namespace=namespace, name=name),
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
    lift_due(
        diagnosis=DiagnosisRef(namespace=namespace, name=name, uid=str(meta.get("uid") or "")),
        remediations=parsed.remediations,
        cluster=cluster,
        now=time.time(),
        record=lambda _items: None,  # the Diagnosis is going away
        resolved=True,
    )
