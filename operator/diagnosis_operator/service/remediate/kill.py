"""kill-mysql-queries: kill the threads of a MySQL server that match the kill options.

What differs from the skeleton (``flow.run_action``): the server's connection
(``ActionPorts.mysql``), the victims chosen from its processlist
(``mysql_kill.select_kill``), ``printOnly`` as a dry run, one audit record per
victim in status before the next kill is sent, and a restart that kills only
what still matches and was not audited as killed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from diagnosis_operator.api import RemediationState, RemediationStatus
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.remedy import kill_policy_for
from diagnosis_operator.models.actions import (
    DenialCode,
    Denied,
    KillAudit,
    KillPolicy,
    KillQueries,
    Verdict,
)
from diagnosis_operator.models.sqltext import digest
from diagnosis_operator.ports import MySQLAdmin
from diagnosis_operator.service.remediate import outcome
from diagnosis_operator.service.remediate.flow import ActionFlow, Plan, guarded
from diagnosis_operator.service.remediate.ledger import LedgerUnavailable
from diagnosis_operator.service.remediate.mysql_kill import execute_kill, select_kill
from diagnosis_operator.service.remediate.run import (
    EXECUTOR_PARAM,
    PortUnavailable,
    Slot,
    executor_params,
)

AUDIT_PARAM = "audit"  # params.executor.audit: one record per victim, as KillAudit.to_json
MAX_AUDIT = 50


def _audit_of(item: RemediationStatus) -> list[dict[str, Any]]:
    found = executor_params(item).get(AUDIT_PARAM) or []
    return [dict(record) for record in found if isinstance(record, Mapping)]


def _with_audit(item: RemediationStatus, records: Sequence[KillAudit]) -> RemediationStatus:
    params = dict(item.params)
    executor = dict(params.get(EXECUTOR_PARAM) or {})
    audit = [*_audit_of(item), *(record.to_json() for record in records)]
    executor[AUDIT_PARAM] = audit[-MAX_AUDIT:]
    params[EXECUTOR_PARAM] = executor
    return item.model_copy(update={"params": params})


def _describe_audit(records: Sequence[KillAudit]) -> str:
    shown = ", ".join(
        f"{record.command} ({record.user}@{record.host}, {record.time:g} s, {record.outcome})"
        for record in records[:5]
    )
    more = f" and {len(records) - 5} more" if len(records) > 5 else ""
    return shown + more


class KillFlow(ActionFlow):
    """kill-mysql-queries' strategy (module docstring)."""

    def __init__(self, slot: Slot) -> None:
        super().__init__(slot)
        self.label = f"kill-mysql-queries {slot.item.target}: "

    def connect(self) -> bool:
        slot, run, item = self.slot, self.run, self.slot.item
        try:
            self.policy: KillPolicy = kill_policy_for(
                policy=run.policy.remediation.kill_mysql_queries, proposal=item.params
            )
        except ValueError as error:
            slot.move(RemediationState.DENIED, f"invalid kill options: {error}")
            return False
        if run.ports.mysql is None:
            outcome.skip(slot, "no MySQL connection: this operator has no MySQL port")
            return False
        try:
            self.admin: MySQLAdmin = run.ports.mysql(item.target)
        except PortUnavailable as error:
            outcome.skip(slot, f"not applied: {error}")
            return False
        return True

    def plan(self, entries: ledgers.Ledger) -> Plan | None:
        slot, run, target = self.slot, self.run, self.slot.item.target
        try:
            self.proposal = select_kill(admin=self.admin, policy=self.policy, component=target)
        except Exception as error:  # the server did not answer: say so, spend nothing
            slot.move(RemediationState.FAILED, f"cannot read the processlist of {target}: {error}")
            run.event("RemediationFailed", f"kill-mysql-queries {target}: {error}", warning=True)
            return None
        action = self.proposal.action
        print_only = "the kill options say printOnly" if self.policy.print_only else None
        count = len(action.victims)
        return Plan(
            action=action,
            decide=guarded(run, action=action, key=slot.key, dry_run_reason=print_only),
            what=f"kill {count} thread(s) of {target}",
            reason=f"killing {count} thread(s) of {target}",
            announce=f"kill-mysql-queries {target}: {count} thread(s)",
            extra={"victims": [row.id for row in action.victims]},
        )

    def refused(self, verdict: Denied) -> None:
        if verdict.code is DenialCode.EMPTY_TARGETS:
            spared = len(self.proposal.selection.skipped)
            target = self.slot.item.target
            outcome.skip(
                self.slot,
                f"no running thread of {target} matches ({spared} spared): nothing to kill",
            )
            return
        self.denied(verdict)

    def dry_run(self, plan: Plan, verdict: Verdict) -> None:
        slot, item = self.slot, self.slot.item
        assert isinstance(plan.action, KillQueries)
        records = execute_kill(
            admin=self.admin,
            action=plan.action,
            now=self.run.now,
            audit=lambda _record: None,
            print_only=True,
        )
        reason = (
            f"dry run ({verdict.reason}): would kill {len(records)} thread(s) of "
            f"{item.target}: {_describe_audit(records)}"
        )
        slot.move(RemediationState.SKIPPED, reason, base=_with_audit(item, records))
        self.run.event("RemediationDryRun", f"kill-mysql-queries {item.target}: {reason}")

    def apply(self, plan: Plan) -> None:
        assert isinstance(plan.action, KillQueries)
        self._kill(plan.action)

    def _kill(self, action: KillQueries) -> None:
        slot, run = self.slot, self.run

        def audit(record: KillAudit) -> None:
            # Each kill is in status before the next one is sent.
            slot.save(_with_audit(slot.item, [record]))

        run.checkpoint("before-apply", slot.key)
        records = execute_kill(
            admin=self.admin, action=action, now=run.now, audit=audit, print_only=False
        )
        run.checkpoint("after-apply", slot.key)
        state, reason = _kill_outcome(slot.item.target, records)
        outcome.finish(slot, state=state, reason=reason, pod=None, label=self.label)

    def resume(self) -> None:
        """The kill was started before: threads audited as killed are not sent again.

        The processlist is read again; what still matches (and was not killed, as the
        audit in status says) is killed under the reservation already held.  A thread
        killed just before a crash, before its audit was written, no longer runs its
        statement, so it does not match again.
        """
        slot, run, target = self.slot, self.run, self.slot.item.target
        if outcome.done_before(slot, what="kill"):
            return
        done = {
            (int(record.get("threadId", 0)), str(record.get("digest", "")))
            for record in _audit_of(slot.item)
            if record.get("executed")
        }
        try:
            proposal = select_kill(admin=self.admin, policy=self.policy, component=target)
        except Exception as error:
            raise LedgerUnavailable(
                f"kill-mysql-queries {target} was started before and the processlist "
                f"cannot be read to resume it: {error}"
            ) from error
        remaining = tuple(
            row for row in proposal.action.victims if (row.id, digest(row.info or "")) not in done
        )
        outcome.running_again(slot, f"kill of {target} was started before; checking what is left")
        if not remaining:
            self._nothing_left(done=len(done))
            return
        run.event(
            "RemediationResumed",
            f"kill-mysql-queries {target}: {len(remaining)} thread(s) still match; "
            "killing them under the reservation",
        )
        self._kill(
            KillQueries(
                component=target,
                victims=remaining,
                mode=self.policy.mode,
                reason=proposal.action.reason,
            )
        )

    def _nothing_left(self, *, done: int) -> None:
        slot, target = self.slot, self.slot.item.target
        if done:
            reason = (
                f"{done} thread(s) of {target} were killed before the restart "
                "(audit in status); nothing left to kill, not repeated"
            )
            outcome.recovered(slot, reason=reason, label=self.label, appliedAt=self.run.now)
            return
        reason = f"no thread of {target} matches any more: nothing was killed"
        outcome.abandon(slot, reason)
        self.run.event("RemediationSkipped", f"kill-mysql-queries {target}: {reason}")


def _kill_outcome(target: str, records: Sequence[KillAudit]) -> tuple[RemediationState, str]:
    killed = [record for record in records if record.executed]
    errors = [record for record in records if record.outcome.startswith("error")]
    if killed:
        reason = f"killed {len(killed)} thread(s) of {target}: {_describe_audit(killed)}"
        if len(killed) < len(records):
            reason += f"; {len(records) - len(killed)} not killed: " + _describe_audit(
                [r for r in records if not r.executed]
            )
        return RemediationState.SUCCEEDED, reason
    if errors:
        return RemediationState.FAILED, (
            f"no thread of {target} killed: {_describe_audit(records)}"
        )
    return RemediationState.SKIPPED, (
        f"every selected thread of {target} ended or changed before its kill: "
        f"{_describe_audit(records)}"
    )
