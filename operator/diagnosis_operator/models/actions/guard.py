"""What the guards decide: the guard policy, the verdict, and the ledger's memory of it."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from diagnosis_operator.models.actions._spec import Spec
from diagnosis_operator.models.findings import ActionType


class DenialCode(StrEnum):
    PAUSED = "paused"
    APPROVAL_REQUIRED = "approval-required"
    EMPTY_TARGETS = "empty-targets"
    TOO_MANY_TARGETS = "too-many-targets"
    NEVER_LISTED = "never-listed"
    # an allow/never-list entry that is not a usable pattern: the action fails closed
    MALFORMED_GUARD = "malformed-guard"
    NOT_ALLOW_LISTED = "not-allow-listed"
    COOLDOWN = "cooldown"
    BUDGET_EXHAUSTED = "budget-exhausted"
    ALREADY_DONE = "already-done"
    # drain-pod target safety (core/drain.py)
    TARGET_NOT_FOUND = "target-not-found"
    # an instance address that names more than one pod: nothing is guessed
    AMBIGUOUS_TARGET = "ambiguous-target"
    BARE_POD = "bare-pod"
    DAEMONSET_POD = "daemonset-pod"
    UNSUPPORTED_OWNER = "unsupported-owner"
    PROTECTED_NAMESPACE = "protected-namespace"
    # a pod outside the namespaces the policy may act on (its own, plus the admin's grants)
    OTHER_NAMESPACE = "other-namespace"
    MIN_HEALTHY = "min-healthy"
    # the cluster-wide action ledger (core/ledger.py)
    GLOBAL_BUDGET_EXHAUSTED = "global-budget-exhausted"


@dataclass(frozen=True, slots=True)
class Allowed:
    """The action may proceed; ``dry_run`` means record what would happen, change nothing."""

    dry_run: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Denied:
    code: DenialCode
    reason: str


Verdict = Allowed | Denied


class LedgerOutcome(StrEnum):
    EXECUTED = "executed"
    DRY_RUN = "dry-run"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One decision about one action, as remembered across reconciles."""

    key: str  # idempotency key
    action: ActionType
    targets: tuple[str, ...]  # cooldown targets (see cooldown_targets_of)
    at: float  # epoch seconds
    outcome: LedgerOutcome
    detail: str = ""

    @property
    def counts_against_budget(self) -> bool:
        return self.outcome is LedgerOutcome.EXECUTED


class ActionPolicy(Spec):
    """Per action type: whether it may really run and within which limits."""

    enabled: bool = False  # False: dry-run only
    require_approval: bool = True
    max_per_window: Annotated[int, Field(ge=0)] = 3
    window_seconds: Annotated[float, Field(gt=0)] = 3600.0
    cooldown_seconds: Annotated[float, Field(ge=0)] = 600.0
    max_targets: Annotated[int, Field(ge=1)] = 10
    # Glob patterns (fnmatch) or CIDRs.  A non-empty allow list admits only what it names.
    allow: tuple[str, ...] = ()
    never: tuple[str, ...] = ()


class GuardPolicy(Spec):
    paused: bool = False
    # Why every action is held to a dry run by the operator's admin (core.remediation.caps).
    disabled_reason: str | None = None
    drain_pod: ActionPolicy = ActionPolicy()
    kill_mysql_queries: ActionPolicy = ActionPolicy()
    rate_limit_client: ActionPolicy = ActionPolicy()

    def for_action(self, action: ActionType) -> ActionPolicy:
        return {
            ActionType.DRAIN_POD: self.drain_pod,
            ActionType.KILL_MYSQL_QUERIES: self.kill_mysql_queries,
            ActionType.RATE_LIMIT_CLIENT: self.rate_limit_client,
        }[action]
