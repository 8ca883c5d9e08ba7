"""A ``RuleSet`` as the documents Prometheus, the Prometheus Operator and Loki read (pure).

* ``prometheus_rule_file``: a Prometheus rule file (``groups:``), for
  ``rule_files`` and ``promtool check rules``;
* ``prometheus_rule``: the same group in a ``monitoring.coreos.com/v1``
  ``PrometheusRule`` object, optionally owned by the policy;
* ``loki_rule_file``: the log rules in Loki's ruler format (the same ``groups:``
  shape, LogQL expressions).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.api import POLICY_KIND
from diagnosis_operator.core.rules.symptoms import AlertRule, RuleSet
from diagnosis_operator.models.querytext import duration

PROMETHEUS_RULE_API_VERSION = "monitoring.coreos.com/v1"
PROMETHEUS_RULE_KIND = "PrometheusRule"
MANAGED_BY = {"app.kubernetes.io/managed-by": "diagnosis-operator"}
POLICY_OBJECT_LABEL = f"{API_GROUP}/policy"
_NAME_SUFFIX = "-diagnosis-alerts"
_MAX_NAME = 253
_MAX_LABEL_VALUE = 63


def rule_object_name(policy: str) -> str:
    """``<policy>-diagnosis-alerts``, shortened with a hash where it would pass 253 characters."""
    name = policy + _NAME_SUFFIX
    if len(name) <= _MAX_NAME:
        return name
    digest = hashlib.sha256(policy.encode()).hexdigest()[:10]
    keep = _MAX_NAME - len(_NAME_SUFFIX) - len(digest) - 1
    return f"{policy[:keep].rstrip('-.')}-{digest}{_NAME_SUFFIX}"


def _rule(rule: AlertRule) -> dict[str, Any]:
    document: dict[str, Any] = {"alert": rule.alert, "expr": rule.expr}
    if rule.for_seconds > 0:
        document["for"] = duration(rule.for_seconds)
    document["labels"] = dict(rule.labels)
    document["annotations"] = dict(rule.annotations)
    return document


def _groups(name: str, rules: Sequence[AlertRule]) -> list[dict[str, Any]]:
    return [{"name": name, "rules": [_rule(rule) for rule in rules]}] if rules else []


def prometheus_rule_file(rules: RuleSet) -> dict[str, Any]:
    """Pure.  ``{"groups": [...]}``: the metric rules as a Prometheus rule file."""
    return {"groups": _groups(rules.group, rules.prometheus)}


def loki_rule_file(rules: RuleSet) -> dict[str, Any]:
    """Pure.  ``{"groups": [...]}``: the log rules in Loki's ruler format."""
    return {"groups": _groups(rules.group, rules.loki)}


def prometheus_rule(
    rules: RuleSet,
    *,
    labels: Mapping[str, str] | None = None,
    owner_uid: str | None = None,
) -> dict[str, Any]:
    """Pure.  The metric rules as a ``PrometheusRule`` in the policy's namespace.

    ``labels`` go on the object (a Prometheus' ``ruleSelector``); with ``owner_uid`` the
    object is owned by the policy, so Kubernetes deletes it with the policy.
    """
    metadata: dict[str, Any] = {
        "name": rule_object_name(rules.policy),
        "namespace": rules.namespace,
        "labels": {
            **dict(labels or {}),
            **MANAGED_BY,
            POLICY_OBJECT_LABEL: _label_value(rules.policy),
        },
    }
    if owner_uid is not None:
        metadata["ownerReferences"] = [
            {
                "apiVersion": f"{API_GROUP}/{API_VERSION}",
                "kind": POLICY_KIND,
                "name": rules.policy,
                "uid": owner_uid,
                "controller": True,
                "blockOwnerDeletion": False,
            }
        ]
    return {
        "apiVersion": PROMETHEUS_RULE_API_VERSION,
        "kind": PROMETHEUS_RULE_KIND,
        "metadata": metadata,
        "spec": prometheus_rule_file(rules),
    }


def _label_value(text: str) -> str:
    if len(text) <= _MAX_LABEL_VALUE:
        return text
    return (
        text[: _MAX_LABEL_VALUE - 11].rstrip("-.")
        + "-"
        + hashlib.sha256(text.encode()).hexdigest()[:10]
    )
