"""Keep a policy's alerting rules as a ``PrometheusRule`` in its namespace (``alerts.sync``).

One object per policy, ``<policy>-diagnosis-alerts`` (``core.rules``), owned by the
policy (``ownerReferences`` with its uid, so the garbage collector deletes it with the
policy).  Each sync reads it and:

* creates it when it is missing (deleted by someone: restored);
* patches it back when its rules, its labels or its owner drifted (edited by someone);
* leaves it alone when it is as rendered;
* deletes it when ``alerts.sync`` is off and the object is this policy's;
* never touches an object of that name that this policy does not own (``Conflict``).

A cluster without the PrometheusRule API (no Prometheus Operator CRDs) answers 404 to
the create: reported as ``NotInstalled``, nothing else happens.  Apiserver failures
are reported, never raised: the rules are a convenience, the policy stays usable.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from diagnosis_operator.api import ConditionStatus, DiagnosisPolicySpec
from diagnosis_operator.core.rules import (
    PROMETHEUS_RULE_API_VERSION,
    PROMETHEUS_RULE_KIND,
    RulesError,
    prometheus_rule,
    render_rules,
    rule_object_name,
)
from diagnosis_operator.ports import ClusterError, ObjectStore

_NOT_FOUND = 404
_FORBIDDEN = 403


@dataclass(frozen=True, slots=True)
class RulesOutcome:
    """What a sync did, as the ``AlertRules`` condition says it."""

    status: ConditionStatus
    reason: str
    message: str


def sync_alert_rules(
    *, store: ObjectStore, spec: DiagnosisPolicySpec, policy: str, namespace: str, uid: str
) -> RulesOutcome:
    """Bring the policy's PrometheusRule to what ``spec`` renders (see the module docstring)."""
    name = rule_object_name(policy)
    where = f"PrometheusRule {namespace}/{name}"
    try:
        current = store.get(
            api_version=PROMETHEUS_RULE_API_VERSION,
            kind=PROMETHEUS_RULE_KIND,
            namespace=namespace,
            name=name,
        )
        if not spec.alerts.sync:
            return _remove(store, current, uid=uid, where=where)
        rules = render_rules(spec, policy=policy, namespace=namespace)
        desired = prometheus_rule(rules, labels=spec.alerts.rule_labels, owner_uid=uid)
        if current is not None and not _owned(current, uid):
            return RulesOutcome(
                ConditionStatus.FALSE,
                "Conflict",
                f"{where} exists and is not owned by this policy; left alone (rename or "
                "delete it, or set alerts.sync: false)",
            )
        if current is None:
            store.put(obj=desired)
            return RulesOutcome(ConditionStatus.TRUE, "Created", _count(where, rules.prometheus))
        if _drifted(current, desired):
            store.put(obj=desired)
            return RulesOutcome(ConditionStatus.TRUE, "Corrected", _count(where, rules.prometheus))
        return RulesOutcome(ConditionStatus.TRUE, "InSync", _count(where, rules.prometheus))
    except RulesError as error:
        return RulesOutcome(ConditionStatus.FALSE, "RenderFailed", str(error))
    except ClusterError as error:
        return _failed(error, where=where)


def _remove(
    store: ObjectStore, current: Mapping[str, Any] | None, *, uid: str, where: str
) -> RulesOutcome:
    if current is not None and _owned(current, uid):
        meta = current["metadata"]
        store.delete(
            api_version=PROMETHEUS_RULE_API_VERSION,
            kind=PROMETHEUS_RULE_KIND,
            namespace=str(meta["namespace"]),
            name=str(meta["name"]),
        )
        return RulesOutcome(
            ConditionStatus.FALSE, "Disabled", f"alerts.sync is off: {where} deleted"
        )
    return RulesOutcome(ConditionStatus.FALSE, "Disabled", "alerts.sync is off")


def _failed(error: ClusterError, *, where: str) -> RulesOutcome:
    if error.status == _NOT_FOUND:
        return RulesOutcome(
            ConditionStatus.FALSE,
            "NotInstalled",
            f"{where} not written: the cluster does not serve {PROMETHEUS_RULE_API_VERSION} "
            "prometheusrules (install the Prometheus Operator CRDs, or set alerts.sync: false)",
        )
    if error.status == _FORBIDDEN:
        return RulesOutcome(ConditionStatus.FALSE, "Forbidden", f"{where}: {error}")
    return RulesOutcome(ConditionStatus.UNKNOWN, "Failed", f"{where}: {error}")


def _owned(obj: Mapping[str, Any], uid: str) -> bool:
    references = (obj.get("metadata") or {}).get("ownerReferences") or []
    return any(isinstance(ref, Mapping) and ref.get("uid") == uid for ref in references)


def _drifted(current: Mapping[str, Any], desired: Mapping[str, Any]) -> bool:
    if current.get("spec") != desired["spec"]:
        return True
    have, want = current.get("metadata") or {}, desired["metadata"]
    labels = have.get("labels") or {}
    if any(labels.get(key) != value for key, value in want["labels"].items()):
        return True
    return bool(have.get("ownerReferences") != want["ownerReferences"])


def _count(where: str, rules: tuple[Any, ...]) -> str:
    return f"{where}: {len(rules)} alerting rules"
