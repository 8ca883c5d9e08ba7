"""The cluster admin's guard caps over a policy's guards.  Pure.

A tenant writes its DiagnosisPolicy, so its budget, cooldown and target limits
cannot be the last word: ``capped`` lowers each action's budget and target limit
to the admin's maximum and raises its cooldown to the admin's minimum.  When the
admin configuration is unusable (``GuardCaps.disabled_reason``) every action is a
dry run.  The result goes to ``guard.check`` unchanged, so the caps sit in the
guard chain ahead of every other check.
"""

from __future__ import annotations

from diagnosis_operator.models.actions import ActionPolicy, GuardPolicy
from diagnosis_operator.models.tenancy import GuardCaps


def _capped_action(rules: ActionPolicy, caps: GuardCaps) -> ActionPolicy:
    budget = rules.max_per_window
    if caps.max_actions_per_window is not None:
        budget = min(budget, caps.max_actions_per_window)
    targets = rules.max_targets
    if caps.max_targets is not None:
        targets = min(targets, caps.max_targets)
    cooldown = rules.cooldown_seconds
    if caps.min_cooldown_seconds is not None:
        cooldown = max(cooldown, caps.min_cooldown_seconds)
    return rules.model_copy(
        update={
            "enabled": rules.enabled and caps.disabled_reason is None,
            "max_per_window": budget,
            "max_targets": targets,
            "cooldown_seconds": cooldown,
        }
    )


def capped(policy: GuardPolicy, caps: GuardCaps) -> GuardPolicy:
    """``policy`` with every action held to ``caps`` (never loosened).  Pure."""
    return policy.model_copy(
        update={
            "drain_pod": _capped_action(policy.drain_pod, caps),
            "kill_mysql_queries": _capped_action(policy.kill_mysql_queries, caps),
            "rate_limit_client": _capped_action(policy.rate_limit_client, caps),
            "disabled_reason": caps.disabled_reason or policy.disabled_reason,
        }
    )
