"""The remediation executor: guarded actions applied once, then verified or undone.

``execute.remediate`` runs every open remediation through the one skeleton
(``flow``) with its action's strategy (``drain``, ``kill``, ``rate_limit``),
reserving each in the cluster-wide ledger (``ledger``); ``aftercare`` lifts
quarantines and rules when due and verifies what was applied (its signals:
``verification``), tick after tick (``follow``).  ``run`` holds the settings,
ports and status of one run, ``policy`` maps a DiagnosisPolicy onto the guards.
"""

from diagnosis_operator.service.remediate.aftercare import (
    Restored,
    awaits_verification,
    expire_rules,
    follow_up,
    lift_due,
    needs_attention,
    restore_expired,
)
from diagnosis_operator.service.remediate.execute import remediate
from diagnosis_operator.service.remediate.follow import (
    Connections,
    Followed,
    escalations,
    follow_through,
    let_go,
    verify_due,
)
from diagnosis_operator.service.remediate.ledger import ActionLedger, LedgerUnavailable
from diagnosis_operator.service.remediate.policy import guard_policy_from
from diagnosis_operator.service.remediate.run import (
    EXECUTOR_PARAM,
    ActionPorts,
    Checkpoint,
    DiagnosisRef,
    DrainMethod,
    ExecutorSettings,
    PortUnavailable,
    checkpoint_from_dir,
    with_state,
)

__all__ = [
    "EXECUTOR_PARAM",
    "ActionLedger",
    "ActionPorts",
    "Checkpoint",
    "Connections",
    "DiagnosisRef",
    "DrainMethod",
    "ExecutorSettings",
    "Followed",
    "LedgerUnavailable",
    "PortUnavailable",
    "Restored",
    "awaits_verification",
    "checkpoint_from_dir",
    "escalations",
    "expire_rules",
    "follow_through",
    "follow_up",
    "guard_policy_from",
    "let_go",
    "lift_due",
    "needs_attention",
    "remediate",
    "restore_expired",
    "verify_due",
    "with_state",
]
