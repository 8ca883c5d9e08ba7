"""The idempotency key of a remediation as it stands in a Diagnosis' status.  Pure.

One derivation for everyone: the status writer (``core.phases.with_result``) puts
the key on every proposed remediation the moment it is written, in every mode,
and the executor (``service.execute``) derives it again from the same values
before it decides.  ``kubectl diagnose approve`` names the key, so the two must
never differ: both call ``key_for``.

What a key is made of (``models.actions.idempotency_key``: diagnosis uid, action,
target):

* ``drain-pod``: the pod as ``namespace/name`` (``drain_action_of`` resolves the
  namespace: the proposal's, else its component's in the policy, else the
  Diagnosis');
* ``kill-mysql-queries``: the MySQL component (the threads are chosen when the kill
  runs, so they cannot be part of a key known beforehand);
* ``rate-limit-client``: the client network in normal form (``10.0.0.7`` and
  ``10.0.0.7/32`` are one key).
"""

from __future__ import annotations

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    RemediationAction,
    RemediationStatus,
)
from diagnosis_operator.models.actions import DrainPod, action_key, idempotency_key, parse_network
from diagnosis_operator.models.findings import ActionType


def drain_action_of(
    *, remediation: RemediationStatus, policy: DiagnosisPolicySpec, diagnosis_namespace: str
) -> DrainPod:
    """The pod a ``drain-pod`` remediation names, its namespace resolved.  Pure."""
    params = remediation.params
    component = str(params.get("component") or "")
    namespace = params.get("namespace")
    if not namespace:
        configured = next((c for c in policy.components if c.name == component), None)
        namespace = (configured.namespace if configured else None) or diagnosis_namespace
    return DrainPod(
        component=component,
        namespace=str(namespace),
        pod=str(params.get("pod") or remediation.target),
        reason=remediation.reason,
    )


def key_for(
    *,
    diagnosis_uid: str,
    diagnosis_namespace: str,
    remediation: RemediationStatus,
    policy: DiagnosisPolicySpec,
) -> str:
    """The idempotency key of ``remediation`` of the Diagnosis ``diagnosis_uid``.  Pure.

    Raises ``ValueError`` (saying what was wrong) when the target cannot name an
    action: a rate-limit-client target that is not an IP address or CIDR.
    """
    if remediation.action is RemediationAction.DRAIN_POD:
        action = drain_action_of(
            remediation=remediation, policy=policy, diagnosis_namespace=diagnosis_namespace
        )
        return action_key(diagnosis_uid=diagnosis_uid, action=action)
    if remediation.action is RemediationAction.KILL_MYSQL_QUERIES:
        return idempotency_key(
            diagnosis_uid=diagnosis_uid,
            action=ActionType.KILL_MYSQL_QUERIES,
            target=remediation.target,
        )
    network = parse_network(remediation.target, where="rate-limit-client target")
    return idempotency_key(
        diagnosis_uid=diagnosis_uid, action=ActionType.RATE_LIMIT_CLIENT, target=str(network)
    )
