"""Remediation actions as values: what may be done, what the guards said, what was done.

Stages return these values; only ``service/remediate/execute.py`` acts on them.
One module per concern:

* ``kinds``: the actions (``DrainPod | KillQueries | RateLimitClient``), ``Plan``
  and the pure helpers ``targets_of``, ``cooldown_targets_of``,
  ``idempotency_key``, ``action_key``;
* ``guard``: ``GuardPolicy``, the ``Verdict`` (``Allowed | Denied``) and the
  ``LedgerEntry`` that remembers it;
* ``entries``: which allow/never-list entries are well formed (``entry_problem``);
* ``mysql``: processlist rows, server info, ``KillPolicy`` (pt-kill's options),
  kill commands, audit records and EXPLAIN rows;
* ``clients``: client networks, ``RateLimitPolicy`` and its escalation ladder,
  ``ClientRule`` and the planner's refusals.

The policies are parsed from outside (pydantic, ``extra="forbid"``, camelCase
aliases so they can be embedded in the DiagnosisPolicy CRD); everything else is a
frozen dataclass.
"""

from __future__ import annotations

from diagnosis_operator.models.actions.clients import (
    ClientRule,
    EscalationStep,
    IPNetwork,
    RateLimitPolicy,
    RuleMode,
    RulePlan,
    RuleRefusal,
    parse_network,
)
from diagnosis_operator.models.actions.entries import (
    ENTRY_MAX_LENGTH,
    ENTRY_PATTERN,
    NETWORK_LIKE,
    entry_problem,
    first_malformed,
)
from diagnosis_operator.models.actions.guard import (
    ActionPolicy,
    Allowed,
    DenialCode,
    Denied,
    GuardPolicy,
    LedgerEntry,
    LedgerOutcome,
    Verdict,
)
from diagnosis_operator.models.actions.kinds import (
    Action,
    DrainPod,
    KillQueries,
    Plan,
    RateLimitClient,
    action_key,
    cooldown_targets_of,
    idempotency_key,
    targets_of,
)
from diagnosis_operator.models.actions.mysql import (
    DEFAULT_PROTECTED_USERS,
    ExplainRow,
    GroupBy,
    InnodbTransaction,
    KillAudit,
    KillCommand,
    KillMode,
    KillPolicy,
    ProcessRow,
    ServerFlavor,
    ServerInfo,
    Victims,
)

__all__ = [
    "DEFAULT_PROTECTED_USERS",
    "ENTRY_MAX_LENGTH",
    "ENTRY_PATTERN",
    "NETWORK_LIKE",
    "Action",
    "ActionPolicy",
    "Allowed",
    "ClientRule",
    "DenialCode",
    "Denied",
    "DrainPod",
    "EscalationStep",
    "ExplainRow",
    "GroupBy",
    "GuardPolicy",
    "IPNetwork",
    "InnodbTransaction",
    "KillAudit",
    "KillCommand",
    "KillMode",
    "KillPolicy",
    "KillQueries",
    "LedgerEntry",
    "LedgerOutcome",
    "Plan",
    "ProcessRow",
    "RateLimitClient",
    "RateLimitPolicy",
    "RuleMode",
    "RulePlan",
    "RuleRefusal",
    "ServerFlavor",
    "ServerInfo",
    "Verdict",
    "Victims",
    "action_key",
    "cooldown_targets_of",
    "entry_problem",
    "first_malformed",
    "idempotency_key",
    "parse_network",
    "targets_of",
]
