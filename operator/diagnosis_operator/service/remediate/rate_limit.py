"""rate-limit-client: a rule at the traffic backend that limits (or denies) a client network.

What differs from the skeleton (``flow.run_action``): the target must be a
network, the backend comes from the policy (``ActionPorts.traffic``), the rule is
planned against the rules in force and the ledger's history (escalation), a
shadow rule is a dry run, and the rule's id is the action's key, so a restart
recognises the rule in force.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from diagnosis_operator.api import RemediationAction, RemediationState, RemediationStatus
from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.core.remediation.ratelimit import plan_rules
from diagnosis_operator.core.remediation.remedy import rate_limit_policy_for, rule_history
from diagnosis_operator.models.actions import ClientRule, RateLimitClient, Verdict, parse_network
from diagnosis_operator.models.signals import isoformat_z
from diagnosis_operator.ports import (
    ClusterError,
    TooManyRules,
    TrafficPolicyBackend,
    UnsupportedRule,
)
from diagnosis_operator.service.remediate import outcome
from diagnosis_operator.service.remediate.conflicts import with_conflict_retry
from diagnosis_operator.service.remediate.flow import ActionFlow, Plan, guarded
from diagnosis_operator.service.remediate.run import (
    FINAL_STATES,
    PortUnavailable,
    executor_params,
)

RULE_PARAM = "rule"  # params.executor.rule: the ClientRule, as ClientRule.to_json
LABEL = "rate-limit-client: "


def rule_of(item: RemediationStatus) -> ClientRule | None:
    """The rule recorded in ``params.executor.rule`` (``None``: none, or unreadable)."""
    found = executor_params(item).get(RULE_PARAM)
    if not isinstance(found, Mapping):
        return None
    try:
        return ClientRule.from_json(found)
    except (KeyError, TypeError, ValueError):
        return None


def holds_rule(item: RemediationStatus) -> bool:
    """A rule this remediation put in force and that was not removed yet.  Pure."""
    executor = executor_params(item)
    return (
        item.action is RemediationAction.RATE_LIMIT_CLIENT
        and item.state is RemediationState.SUCCEEDED
        and executor.get(RULE_PARAM) is not None
        and not executor.get("removed")
    )


def remove_rule(backend: TrafficPolicyBackend, rule: ClientRule) -> None:
    with_conflict_retry(lambda: backend.remove(rules=[rule]))


def describe_rule(rule: ClientRule) -> str:
    what = (
        f"limit {rule.network} to {rule.requests_per_second:g} req/s"
        if rule.mode.value == "rate-limit"
        else f"deny {rule.network}"
    )
    step = f", escalation step {rule.level + 1}" if rule.level else ""
    return f"{what} until {isoformat_z(rule.expires_at)}{step}"


class RateLimitFlow(ActionFlow):
    """rate-limit-client's strategy (module docstring)."""

    def prepare(self) -> bool:
        item = self.slot.item
        try:
            self.network = parse_network(item.target, where="rate-limit-client target")
        except ValueError as error:
            if item.state not in FINAL_STATES:
                self.slot.move(RemediationState.DENIED, str(error))
            return False
        return True

    def connect(self) -> bool:
        slot, run = self.slot, self.run
        missing = run.policy.remediation.rate_limit_client.params.missing()
        if missing is not None:
            outcome.skip(slot, f"no rate-limit backend configured: {missing}")
            return False
        if run.ports.traffic is None:
            outcome.skip(slot, "no rate-limit backend: this operator has no traffic port")
            return False
        try:
            self.backend: TrafficPolicyBackend = run.ports.traffic()
        except PortUnavailable as error:
            outcome.skip(slot, f"not applied: {error}")
            return False
        return True

    def plan(self, entries: ledgers.Ledger) -> Plan | None:
        rule = self._planned(entries)
        if rule is None:
            return None
        item, backend = self.slot.item, self.backend
        action = RateLimitClient(
            component=str(item.params.get("component") or ""), rules=(rule,), reason=item.reason
        )
        shadow = "shadow mode: the rule is recorded, never enforced" if rule.shadow else None
        words = f"{describe_rule(rule)} at {backend.name}"
        return Plan(
            action=action,
            decide=guarded(self.run, action=action, key=self.slot.key, dry_run_reason=shadow),
            what=words,
            reason=f"{words}: started",
            announce=f"rate-limit-client: {words}",
            extra={"rule": rule.to_json(), "backend": backend.name},
        )

    def _planned(self, entries: ledgers.Ledger) -> ClientRule | None:
        """The rule for this client now (``None``: none, the status says why)."""
        slot, run, item = self.slot, self.run, self.slot.item
        limits = rate_limit_policy_for(policy=run.policy.remediation.rate_limit_client)
        try:
            active = self.backend.active()
        except (ClusterError, ValueError) as error:
            reason = f"cannot read the rules in force at {self.backend.name}: {error}"
            slot.move(RemediationState.FAILED, reason)
            return None
        planned = plan_rules(
            clients=[str(self.network)],
            policy=limits,
            history=rule_history(entries=entries.entries, active=active),
            now=run.now,
            reason=item.reason[:200],
        )
        if not planned.rules:
            refusal = planned.refused[0].reason if planned.refused else "no rule planned"
            if "already under rule" in refusal:
                outcome.skip(slot, refusal)
                return None
            slot.move(RemediationState.DENIED, f"refused: {refusal}")
            run.event(
                "RemediationDenied", f"rate-limit-client {item.target}: {refusal}", warning=True
            )
            return None
        # The rule id is the action's key: after a restart the rule in force is recognised.
        return dataclasses.replace(planned.rules[0], rule_id=slot.key[:12])

    def dry_run(self, plan: Plan, verdict: Verdict) -> None:
        (rule,) = self._rules(plan)
        target = self.slot.item.target
        reason = f"dry run ({verdict.reason}): would {describe_rule(rule)} at {self.backend.name}"
        self.slot.move(RemediationState.SKIPPED, reason, **plan.extra)
        self.run.event("RemediationDryRun", f"rate-limit-client {target}: {reason}")

    def apply(self, plan: Plan) -> None:
        (rule,) = self._rules(plan)
        self._apply(rule)

    @staticmethod
    def _rules(plan: Plan) -> tuple[ClientRule, ...]:
        assert isinstance(plan.action, RateLimitClient)
        return plan.action.rules

    def _apply(self, rule: ClientRule) -> None:
        slot, run, backend = self.slot, self.run, self.backend
        run.checkpoint("before-apply", slot.key)
        words = f"{describe_rule(rule)} at {backend.name}"
        try:
            with_conflict_retry(lambda: backend.apply(rules=[rule]))
        except (ClusterError, UnsupportedRule, TooManyRules, ValueError) as error:
            reason = f"{words} failed: {error}"
            outcome.finish(
                slot, state=RemediationState.FAILED, reason=reason, pod=None, label=LABEL
            )
            return
        run.checkpoint("after-apply", slot.key)
        outcome.finish(
            slot,
            state=RemediationState.SUCCEEDED,
            reason=f"{words}: in force",
            pod=None,
            label=LABEL,
            expiresAt=rule.expires_at,
        )

    def resume(self) -> None:
        """The rule was started before: in force at the backend is done; else apply it now."""
        slot, run, backend = self.slot, self.run, self.backend
        rule_id = slot.key[:12]
        in_force = next((rule for rule in backend.active() if rule.rule_id == rule_id), None)
        if in_force is not None:
            reason = (
                f"{describe_rule(in_force)} at {backend.name} is already in force "
                "(checked after a restart); not repeated"
            )
            outcome.recovered(
                slot,
                reason=reason,
                label=LABEL,
                rule=in_force.to_json(),
                appliedAt=in_force.created_at,
                expiresAt=in_force.expires_at,
            )
            return
        # Applied before and since removed (its TTL ran out): never re-applied.
        if outcome.done_before(slot, what="rule", removed=run.now):
            return
        rule = rule_of(slot.item)
        if rule is None or rule.expires_at <= run.now:
            outcome.abandon(
                slot, "the rule of this reservation is unknown or already expired: not applied"
            )
            return
        run.event(
            "RemediationResumed",
            f"rate-limit-client: {describe_rule(rule)} had not reached {backend.name}; applying it",
        )
        self._apply(rule)
