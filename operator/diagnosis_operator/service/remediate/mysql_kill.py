"""kill-mysql-queries end to end: gather, decide (pure), apply, audit.

``select_kill`` reads one consistent-enough snapshot through the ``MySQLAdmin``
port and lets ``core.killer`` choose; the result is a ``KillQueries`` action the
guards judge.  ``execute_kill`` applies an allowed action: each victim is
re-read and killed only if it still runs the selected statement, and one
``KillAudit`` per victim goes to ``audit`` whatever happened (print-only and dry
runs included).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from diagnosis_operator.core.remediation.killer import (
    KillSelection,
    Victim,
    audit_record,
    kill_command,
    select_victims,
)
from diagnosis_operator.models.actions import KillAudit, KillPolicy, KillQueries
from diagnosis_operator.models.sqltext import digest, fingerprint
from diagnosis_operator.ports import MySQLAdmin


@dataclass(frozen=True, slots=True)
class KillProposal:
    action: KillQueries
    selection: KillSelection
    own_connection_id: int


def select_kill(*, admin: MySQLAdmin, policy: KillPolicy, component: str) -> KillProposal:
    """The victims on this server right now, as a ``KillQueries`` action."""
    own = admin.connection_id()
    processes = admin.processlist()
    transactions = admin.transactions()
    selection = select_victims(
        processes=processes, transactions=transactions, policy=policy, own_connection_id=own
    )
    reasons = sorted({victim.reason for victim in selection.victims})
    action = KillQueries(
        component=component,
        victims=tuple(victim.row for victim in selection.victims),
        mode=policy.mode,
        reason="; ".join(reasons) if reasons else "no thread matched",
    )
    return KillProposal(action=action, selection=selection, own_connection_id=own)


def execute_kill(
    *,
    admin: MySQLAdmin,
    action: KillQueries,
    now: float,
    audit: Callable[[KillAudit], None],
    print_only: bool,
) -> tuple[KillAudit, ...]:
    """Kill the action's victims (or only report them when ``print_only``)."""
    server = admin.server_info()
    records: list[KillAudit] = []
    for row in action.victims:
        victim = Victim(
            row=row,
            reason=action.reason,
            fingerprint=fingerprint(row.info or ""),
            digest=digest(row.info or ""),
        )
        command = kill_command(row=row, mode=action.mode, server=server)
        if print_only:
            outcome, executed = "print-only", False
        else:
            try:
                outcome = admin.kill(command=command, expected=row)
            except Exception as error:  # one failed kill must not hide the others' audit
                outcome = f"error: {error}"
            executed = outcome == "killed"
        record = audit_record(
            victim=victim,
            command=command,
            server=action.component,
            at=now,
            executed=executed,
            outcome=outcome,
        )
        audit(record)
        records.append(record)
    return tuple(records)
