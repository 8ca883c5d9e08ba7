"""kopf: a policy's alerting rules kept as a ``PrometheusRule`` (``alerts.sync``).

The policy handler (``policy.py``) syncs them on create, update and resume and sets
the ``AlertRules`` condition with the rest of the status.  The timer here checks every
policy with ``alerts.sync: true`` again every ``DIAG_ALERT_RULES_RESYNC`` seconds
(default 60; the timer wakes every 10 s), so an edited or deleted PrometheusRule is
restored; it patches the condition only when its status or reason changes, and only
once the policy handler has written the policy's current generation.  Deleting the
policy deletes the object through its owner reference (the garbage collector).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import kopf
from pydantic import ValidationError

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import (
    POLICY_PLURAL,
    Condition,
    ConditionStatus,
    DiagnosisPolicySpec,
    DiagnosisPolicyStatus,
)
from diagnosis_operator.core.phases import set_condition
from diagnosis_operator.entrypoints.bootstrap.connections import object_store
from diagnosis_operator.entrypoints.kopf.context import OperatorContext, context_of
from diagnosis_operator.entrypoints.kopf.inputs import plain
from diagnosis_operator.service.alert_rules import RulesOutcome, sync_alert_rules

ALERT_RULES = "AlertRules"
TICK = 10.0  # how often the timer wakes; it syncs only every DIAG_ALERT_RULES_RESYNC s
_LAST_SYNC_KEY = "alert_rules_last_sync"


def sync_rules(
    *, spec: DiagnosisPolicySpec, name: str, namespace: str, uid: str, context: OperatorContext
) -> RulesOutcome:
    """Sync the policy's PrometheusRule through the apiserver (blocking)."""
    return sync_alert_rules(
        store=object_store(context.configuration),
        spec=spec,
        policy=name,
        namespace=namespace,
        uid=uid,
    )


def announce(body: kopf.Body, outcome: RulesOutcome) -> None:
    """A warning Event when the rules could not be kept (not for ``Disabled``)."""
    if outcome.status is not ConditionStatus.TRUE and outcome.reason != "Disabled":
        kopf.warn(body, reason=f"AlertRules{outcome.reason}", message=outcome.message[:1024])


def with_outcome(
    conditions: list[Condition], outcome: RulesOutcome, *, generation: int
) -> list[Condition]:
    """``conditions`` with ``AlertRules`` set from ``outcome``."""
    return set_condition(
        conditions,
        type=ALERT_RULES,
        status=outcome.status,
        reason=outcome.reason,
        message=outcome.message[:1024],
        generation=generation,
        now=datetime.now(UTC),
    )


def _sync_on(spec: kopf.Spec, **_: Any) -> bool:
    alerts = plain(spec).get("alerts")
    return isinstance(alerts, dict) and alerts.get("sync") is True


@kopf.timer(API_GROUP, API_VERSION, POLICY_PLURAL, interval=TICK, when=_sync_on)
def resync_alert_rules(
    *,
    body: kopf.Body,
    spec: kopf.Spec,
    meta: kopf.Meta,
    name: str | None,
    namespace: str | None,
    uid: str | None,
    memo: kopf.Memo,
    **_: Any,
) -> None:
    context = context_of(memo)
    assert name is not None and namespace is not None and uid is not None
    last: dict[str, float] = memo.setdefault(_LAST_SYNC_KEY, {})
    now = time.monotonic()
    if now - last.get(uid, -float("inf")) < context.settings.alert_rules_resync:
        return
    last[uid] = now
    try:
        parsed = DiagnosisPolicySpec.model_validate(plain(spec))
    except ValidationError:
        return  # the policy handler says why on Ready
    outcome = sync_rules(spec=parsed, name=name, namespace=namespace, uid=uid, context=context)
    if outcome.reason == "Corrected":
        kopf.info(body, reason="AlertRulesCorrected", message=outcome.message)
    _patch_condition(context, body=body, name=name, namespace=namespace, outcome=outcome, meta=meta)


def _patch_condition(
    context: OperatorContext,
    *,
    body: kopf.Body,
    name: str,
    namespace: str,
    outcome: RulesOutcome,
    meta: kopf.Meta,
) -> None:
    # Read the status afresh: the policy handler may have written it since this event.
    found = context.kube.get_policy(namespace=namespace, name=name)
    if found is None:
        return
    try:
        current = DiagnosisPolicyStatus.model_validate(found.get("status") or {})
    except ValidationError:
        current = DiagnosisPolicyStatus()
    generation = int(meta.get("generation") or 0)
    if current.observed_generation != generation:
        return  # the policy handler has yet to write this generation's status (with the rules')
    before = next((c for c in current.conditions if c.type == ALERT_RULES), None)
    if before is not None and (before.status, before.reason) == (outcome.status, outcome.reason):
        return
    announce(body, outcome)
    conditions = with_outcome(list(current.conditions), outcome, generation=generation)
    wire = DiagnosisPolicyStatus(conditions=conditions).to_wire()
    context.kube.patch_policy_status(
        namespace=namespace, name=name, status={"conditions": wire["conditions"]}
    )
