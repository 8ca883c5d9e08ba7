"""Apply the remediations the guards allow, exactly once, and undo them when due.

``remediate`` walks a Diagnosis' remediations (the ``RemediationStatus`` list the
handler keeps in status) and runs each through the one action skeleton
(``flow.run_action``) with its action's strategy: ``drain.DrainFlow``,
``kill.KillFlow``, ``rate_limit.RateLimitFlow``.  The key each action is
recorded under is the very key the status carries since the result was written
(``core.phases.with_result`` calls ``core.remediation.keys.key_for`` too).
Undoing and verifying is ``aftercare``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    Mode,
    RemediationAction,
    RemediationStatus,
)
from diagnosis_operator.core.remediation.caps import capped
from diagnosis_operator.models.controls import approvals_from
from diagnosis_operator.ports import Cluster, ClusterError, DocumentStore
from diagnosis_operator.service.remediate.drain import DrainFlow
from diagnosis_operator.service.remediate.flow import ActionFlow, run_action
from diagnosis_operator.service.remediate.kill import KillFlow
from diagnosis_operator.service.remediate.ledger import ActionLedger
from diagnosis_operator.service.remediate.policy import guard_policy_from
from diagnosis_operator.service.remediate.rate_limit import RateLimitFlow
from diagnosis_operator.service.remediate.run import (
    ActionPorts,
    DiagnosisRef,
    ExecutorSettings,
    Run,
    Slot,
)

FLOWS: dict[RemediationAction, Callable[[Slot], ActionFlow]] = {
    RemediationAction.DRAIN_POD: DrainFlow,
    RemediationAction.KILL_MYSQL_QUERIES: KillFlow,
    RemediationAction.RATE_LIMIT_CLIENT: RateLimitFlow,
}


def remediate(  # noqa: PLR0913 (the public keyword-only call of the entry points and tests)
    *,
    diagnosis: DiagnosisRef,
    policy: DiagnosisPolicySpec,
    remediations: Sequence[RemediationStatus],
    cluster: Cluster,
    ledger: DocumentStore,
    now: float,
    mode: Mode,
    record: Callable[[list[RemediationStatus]], None],
    settings: ExecutorSettings | None = None,
    ports: ActionPorts | None = None,
) -> list[RemediationStatus]:
    """Decide and apply every open remediation; returns the updated list.

    ``record`` persists the list (the handler patches the Diagnosis status); it is
    called before each side effect with the action marked ``running``, and after it.
    Nothing acts in ``observe`` mode; ``dry-run`` mode only records what would be done.
    Raises ``LedgerUnavailable`` when the ledger cannot be read or written (nothing
    is done without it).
    """
    chosen = settings or ExecutorSettings()
    items = list(remediations)
    if mode is Mode.OBSERVE:
        return items
    run = Run(
        diagnosis=diagnosis,
        policy=policy,
        cluster=cluster,
        ledger=ActionLedger(store=ledger, budget=chosen.budget, attempts=chosen.ledger_attempts),
        now=now,
        mode=mode,
        settings=chosen,
        guard=capped(guard_policy_from(policy.remediation, paused=_paused(cluster)), chosen.caps),
        approvals=approvals_from(diagnosis.annotations),
        items=items,
        record=record,
        ports=ports or ActionPorts(),
    )
    for index, item in enumerate(list(items)):
        flow = FLOWS.get(item.action)
        if flow is not None:
            run_action(flow(Slot(run=run, index=index)))
    return list(run.items)


def _paused(cluster: Cluster) -> bool:
    """The pause switch; one that cannot be read counts as on (fail safe)."""
    try:
        return cluster.paused()
    except ClusterError:
        return True
