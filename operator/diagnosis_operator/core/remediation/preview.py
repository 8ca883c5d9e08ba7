"""What the guards would decide about a diagnosis' proposed actions, without a cluster.  Pure.

The same pure decisions the executor makes (``service/remediate/``), with what
an offline run knows: the policy, the proposal, ``now`` and an empty ledger (no
earlier action, no approval, not paused, no admin caps).  Nothing is executed
and no port is asked; what only a live run can judge is named in ``live_checks``:

* ``drain-pod``: the generic guards on the pod ``namespace/name`` the proposal
  names (``keys.drain_action_of``, as the executor resolves it), then the
  policy's ``maxPods`` per diagnosis; the pod of an instance known by its
  address (``podSelector``) and the pod's own facts (owner, readiness, serving
  siblings, protected namespace) are live;
* ``kill-mysql-queries``: the kill options (``remedy.kill_policy_for``), a
  connection to ask, and the guards on the component; the victims, and so
  ``maxQueries``, come from the live processlist;
* ``rate-limit-client``: a configured backend, the rule the client would get
  (``ratelimit.plan_rules``: allow list, broadest prefix, the ladder's first
  step) and the guards on its network; the rules already in force are live.
"""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.api import DiagnosisPolicySpec, RemediationAction, RemediationStatus
from diagnosis_operator.core.remediation.guard import check
from diagnosis_operator.core.remediation.keys import drain_action_of, key_for
from diagnosis_operator.core.remediation.ratelimit import plan_rules
from diagnosis_operator.core.remediation.remedy import kill_policy_for, rate_limit_policy_for
from diagnosis_operator.models.actions import (
    Action,
    Allowed,
    DenialCode,
    Denied,
    GuardPolicy,
    KillQueries,
    RateLimitClient,
    Verdict,
    parse_network,
)
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.preview import (
    CODE_INVALID,
    CODE_NOT_CONFIGURED,
    CODE_NOT_ENABLED,
    CODE_PASSED,
    CODE_RULE_REFUSED,
    CODE_SHADOW,
    ActionPreview,
    Decision,
)

PREVIEW_UID = "offline-preview"
# Beyond the policy: the admin's caps (tenancy) and the cluster-wide ledger.
LIVE_COMMON = ("the cluster admin's guard caps", "cluster-wide budget")
DRAIN_LIVE = (
    "the pod of an address (podSelector, pod IP)",
    "pod owner, readiness, serving siblings and namespace grant",
    *LIVE_COMMON,
)
KILL_LIVE = ("victims from the processlist (maxQueries)", *LIVE_COMMON)
RATE_LIVE = ("rules already in force at the backend", *LIVE_COMMON)


def preview_actions(
    *,
    remediations: Sequence[RemediationStatus],
    policy: DiagnosisPolicySpec,
    guard: GuardPolicy,
    namespace: str,
    now: float,
) -> tuple[ActionPreview, ...]:
    """Each proposed action with what the guards would decide in ``remediate`` mode.  Pure."""
    out: list[ActionPreview] = []
    drains = 0
    max_pods = policy.remediation.drain_pod.params.max_pods
    for item in remediations:
        if item.action is RemediationAction.DRAIN_POD:
            found = _drain(item, policy=policy, guard=guard, namespace=namespace, now=now)
            if found.decision in (Decision.RUN, Decision.DRY_RUN):
                drains += 1
                if drains > max_pods:
                    found = _refused(
                        item,
                        DenialCode.TOO_MANY_TARGETS.value,
                        f"this diagnosis already drains {max_pods} pod(s), the policy's maxPods",
                        DRAIN_LIVE,
                    )
        elif item.action is RemediationAction.KILL_MYSQL_QUERIES:
            found = _kill(item, policy=policy, guard=guard, namespace=namespace, now=now)
        else:
            found = _rate_limit(item, policy=policy, guard=guard, namespace=namespace, now=now)
        out.append(found)
    return tuple(out)


def _key(item: RemediationStatus, *, policy: DiagnosisPolicySpec, namespace: str) -> str:
    return key_for(
        diagnosis_uid=PREVIEW_UID, diagnosis_namespace=namespace, remediation=item, policy=policy
    )


def _drain(
    item: RemediationStatus,
    *,
    policy: DiagnosisPolicySpec,
    guard: GuardPolicy,
    namespace: str,
    now: float,
) -> ActionPreview:
    action = drain_action_of(remediation=item, policy=policy, diagnosis_namespace=namespace)
    key = _key(item, policy=policy, namespace=namespace)
    verdict = check(action=action, policy=guard, ledger=(), now=now, key=key)
    return _judged(item, verdict, live=DRAIN_LIVE)


def _kill(
    item: RemediationStatus,
    *,
    policy: DiagnosisPolicySpec,
    guard: GuardPolicy,
    namespace: str,
    now: float,
) -> ActionPreview:
    settings = policy.remediation.kill_mysql_queries
    try:
        options = kill_policy_for(policy=settings, proposal=item.params)
    except ValueError as error:
        return _refused(item, CODE_INVALID, f"invalid kill options: {error}", KILL_LIVE)
    component = next((c for c in policy.components if c.name == item.target), None)
    if settings.connection is None and (component is None or component.mysql is None):
        return _refused(
            item,
            CODE_NOT_CONFIGURED,
            f"no MySQL connection for {item.target}: set remediation.killMysqlQueries."
            f"connection or the component's mysql",
            KILL_LIVE,
        )
    action = KillQueries(
        component=item.target,
        victims=(),
        mode=options.mode,
        reason=item.reason,
    )
    key = _key(item, policy=policy, namespace=namespace)
    verdict = check(action=action, policy=guard, ledger=(), now=now, key=key, targets_known=False)
    if isinstance(verdict, Allowed) and not verdict.dry_run and options.print_only:
        verdict = Allowed(dry_run=True, reason="the kill options say printOnly")
    return _judged(item, verdict, live=KILL_LIVE)


def _rate_limit(
    item: RemediationStatus,
    *,
    policy: DiagnosisPolicySpec,
    guard: GuardPolicy,
    namespace: str,
    now: float,
) -> ActionPreview:
    settings = policy.remediation.rate_limit_client
    try:
        network = parse_network(item.target, where="rate-limit-client target")
    except ValueError as error:
        return _refused(item, CODE_INVALID, str(error), RATE_LIVE)
    missing = settings.params.missing()
    if missing is not None:
        return _refused(
            item, CODE_NOT_CONFIGURED, f"no rate-limit backend configured: {missing}", RATE_LIVE
        )
    limits = rate_limit_policy_for(policy=settings)
    planned = plan_rules(
        clients=[str(network)], policy=limits, history=(), now=now, reason=item.reason[:200]
    )
    if not planned.rules:
        refusal = planned.refused[0].reason if planned.refused else "no rule planned"
        return _refused(item, CODE_RULE_REFUSED, f"refused: {refusal}", RATE_LIVE)
    action: Action = RateLimitClient(
        component=str(item.params.get("component") or ""), rules=planned.rules, reason=item.reason
    )
    key = _key(item, policy=policy, namespace=namespace)
    verdict = check(action=action, policy=guard, ledger=(), now=now, key=key)
    if isinstance(verdict, Allowed) and not verdict.dry_run and limits.shadow:
        verdict = Allowed(dry_run=True, reason="shadow mode: the rule is recorded, never enforced")
    return _judged(item, verdict, live=RATE_LIVE, shadow=limits.shadow)


def _judged(
    item: RemediationStatus, verdict: Verdict, *, live: tuple[str, ...], shadow: bool = False
) -> ActionPreview:
    if isinstance(verdict, Denied):
        decision = (
            Decision.APPROVAL if verdict.code is DenialCode.APPROVAL_REQUIRED else Decision.REFUSED
        )
        code = verdict.code.value
    elif verdict.dry_run:
        decision = Decision.DRY_RUN
        code = CODE_SHADOW if shadow and "shadow" in verdict.reason else CODE_NOT_ENABLED
    else:
        decision, code = Decision.RUN, CODE_PASSED
    return ActionPreview(
        action=ActionType(item.action.value),
        target=item.target,
        decision=decision,
        code=code,
        reason=verdict.reason,
        live_checks=live,
    )


def _refused(
    item: RemediationStatus, code: str, reason: str, live: tuple[str, ...]
) -> ActionPreview:
    return ActionPreview(
        action=ActionType(item.action.value),
        target=item.target,
        decision=Decision.REFUSED,
        code=code,
        reason=reason,
        live_checks=live,
    )
