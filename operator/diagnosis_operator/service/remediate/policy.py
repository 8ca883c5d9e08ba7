"""A DiagnosisPolicy's ``remediation`` section as the guards' policy.  Pure."""

from __future__ import annotations

from diagnosis_operator.api import ActionPolicy as CrdActionPolicy
from diagnosis_operator.api import RemediationSettings, parse_duration
from diagnosis_operator.models.actions import ActionPolicy, GuardPolicy


def _action_rules(policy: CrdActionPolicy, *, max_targets: int) -> ActionPolicy:
    return ActionPolicy(
        enabled=policy.enabled,
        require_approval=policy.require_approval,
        max_per_window=policy.budget.max_actions,
        window_seconds=max(parse_duration(policy.budget.window), 1e-3),
        cooldown_seconds=parse_duration(policy.cooldown),
        max_targets=max_targets,
        allow=tuple(policy.allow_list),
        never=tuple(policy.never_list),
    )


def guard_policy_from(remediation: RemediationSettings, *, paused: bool) -> GuardPolicy:
    """The guards' policy from a DiagnosisPolicy's ``remediation`` section.  Pure.

    Each action targets one object (a pod, a MySQL server, a client network set), so
    its target limit is the action's own ``max*`` parameter where it has one.
    """
    return GuardPolicy(
        paused=paused,
        drain_pod=_action_rules(remediation.drain_pod, max_targets=1),
        kill_mysql_queries=_action_rules(
            remediation.kill_mysql_queries,
            max_targets=remediation.kill_mysql_queries.params.max_queries,
        ),
        rate_limit_client=_action_rules(
            remediation.rate_limit_client,
            max_targets=remediation.rate_limit_client.params.max_clients,
        ),
    )
