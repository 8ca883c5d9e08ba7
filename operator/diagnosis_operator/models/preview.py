"""What a policy's guards would decide about a diagnosis' proposed actions, offline.

``core.remediation.preview`` fills these in from the same pure guards the
executor uses; ``diagnose --policy`` shows them and ``policy test`` compares them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from diagnosis_operator.models.findings import ActionType


class Decision(StrEnum):
    """What would happen to one proposed action in a Diagnosis of mode ``remediate``."""

    RUN = "run"  # every guard passes: it would act
    DRY_RUN = "dry-run"  # the policy does not enable it (or shadow mode): recorded only
    APPROVAL = "awaits-approval"  # it waits for `kubectl diagnose approve`
    REFUSED = "refused"  # a guard (or a missing setting) refuses it


# Codes beside the guards' DenialCode values, for the preview's own findings.
CODE_PASSED = "all-guards-passed"
CODE_NOT_ENABLED = "not-enabled"
CODE_SHADOW = "shadow-mode"
CODE_NOT_CONFIGURED = "not-configured"
CODE_RULE_REFUSED = "rule-refused"
CODE_INVALID = "invalid-target"


@dataclass(frozen=True, slots=True)
class ActionPreview:
    """One proposed action, the guards' decision and the reason, in their words.

    ``live_checks`` names what only a live run can judge (pod facts, the
    processlist, the rules in force, the cluster-wide ledger).
    """

    action: ActionType
    target: str
    decision: Decision
    code: str
    reason: str
    live_checks: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "target": self.target,
            "decision": self.decision.value,
            "code": self.code,
            "reason": self.reason,
            "liveChecks": list(self.live_checks),
        }
