"""Remediation settings as the executor's values, and what to look at again afterwards.  Pure.

* ``kill_policy_for``: the pt-kill options of one kill -- the policy's ``match``
  (or one derived from its ``params``) narrowed by what the planner saw (a busy
  time below the observed query time, the literal head of the dominant
  statement, escaped here so it matches as text, never as a pattern);
* ``rate_limit_policy_for``: the escalation ladder, allow list, prefix and TTL
  limits of rate-limit-client (the policy's ``limits`` or a ladder derived from
  ``params.requestsPerSecond`` and ``ttl``; deny-only for Istio, which has no
  per-client rate limit);
* ``rule_history``: the client rules escalation counts, from the backend's
  active rules and the ledger's executed entries (which outlive expired rules);
* ``rechecks_for`` / ``signal_checks``: which log signals to count again after
  an action, over equal spans before and after it, and the ``SignalCheck``s
  ``core.verify`` judges.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from diagnosis_operator.api import (
    KillMysqlQueriesPolicy,
    RateLimitClientPolicy,
    RemediationAction,
    TrafficProvider,
    parse_duration,
)
from diagnosis_operator.core.diagnosis.logs import FAILED_REQUEST_FILTER, SIGNIFICANT_FILTER
from diagnosis_operator.core.remediation.verify import Better, SignalCheck
from diagnosis_operator.models.actions import (
    ClientRule,
    EscalationStep,
    KillMode,
    KillPolicy,
    LedgerEntry,
    LedgerOutcome,
    RateLimitPolicy,
    RuleMode,
    Victims,
    parse_network,
)
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.signals import Labels, LogCount, Window
from diagnosis_operator.models.topology import Topology

DEFAULT_RULE_TTL = 600.0
# A statement head longer than this is cut: the KillPolicy regex limit is 512 characters.
MAX_STATEMENT_HEAD = 160
# Responses that are server errors (not throttles: a rate limit's own 429s must not count).
SERVER_ERROR_FILTER = r"(\" 5[0-9][0-9] |\"(status|code|status_code)\" *: *\"?5[0-9][0-9])"
MIN_RECHECK_SPAN = 60.0


# --------------------------------------------------------------------- kill-mysql-queries


def _any_of(names: Sequence[str]) -> str:
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def kill_policy_for(*, policy: KillMysqlQueriesPolicy, proposal: Mapping[str, Any]) -> KillPolicy:
    """The pt-kill options for one proposed kill.  Pure.

    ``proposal`` holds the planner's parameters: ``busyTime`` (seconds) raises the
    busy threshold (never lowers the policy's), ``matchInfo`` (a literal statement
    head) is escaped and anchored, unless the policy sets its own ``matchInfo``.
    ``matchBlocker`` (lock contention: kill the transaction the others wait on)
    turns the policy's busy time off, since the blocker is often idle in its
    transaction, and keeps its other options; its ``mode: connection`` applies
    unless the policy's ``match`` sets a mode itself (``KILL QUERY`` leaves an
    idle transaction and its locks in place: ``catalog.locks``).  With ``idleTime``
    (an idle transaction holding InnoDB's purge back: ``catalog.transactions``)
    it matches idle open transactions idle longer than that, never less than the
    policy's own ``idleTime``.
    """
    if proposal.get("matchBlocker") is True:
        return _blocker_policy(policy=policy, proposal=proposal)
    base = _base_policy(policy)
    fields = base.model_dump()
    planned = proposal.get("busyTime")
    if (
        base.idle_time is None
        and isinstance(planned, int | float)
        and not isinstance(planned, bool)
        and math.isfinite(planned)
        and planned > 0
    ):
        fields["busy_time"] = max(base.busy_time or 0.0, float(planned))
    head = proposal.get("matchInfo")
    if isinstance(head, str) and head.strip() and base.match_info is None:
        fields["match_info"] = r"^\s*" + re.escape(head.strip()[:MAX_STATEMENT_HEAD])
    return KillPolicy.model_validate(fields)


def _base_policy(policy: KillMysqlQueriesPolicy) -> KillPolicy:
    if policy.match is not None:
        return policy.match
    params = policy.params
    return KillPolicy(
        busy_time=float(params.min_query_seconds),
        kill_busy_commands=tuple(params.commands),
        match_user=_any_of(params.users) if params.users else None,
        victims=Victims.ALL,
    )


def _blocker_policy(*, policy: KillMysqlQueriesPolicy, proposal: Mapping[str, Any]) -> KillPolicy:
    """The policy's options aimed at the lock blocker (see ``kill_policy_for``).  Pure."""
    base = _base_policy(policy)
    fields = base.model_dump()
    fields["match_blocker"] = True
    fields["busy_time"] = None
    idle = proposal.get("idleTime")
    if (
        isinstance(idle, int | float)
        and not isinstance(idle, bool)
        and math.isfinite(idle)
        and idle > 0
    ):
        # an idle open transaction (purge held back): never below the policy's own
        fields["idle_time"] = max(base.idle_time or 0.0, float(idle))
    if proposal.get("mode") == KillMode.CONNECTION.value and "mode" not in base.model_fields_set:
        fields["mode"] = KillMode.CONNECTION
    return KillPolicy.model_validate(fields)


# --------------------------------------------------------------------- rate-limit-client


def rate_limit_policy_for(*, policy: RateLimitClientPolicy) -> RateLimitPolicy:
    """The client-rule limits of a policy (see the module docstring).  Pure."""
    if policy.limits is not None:
        return policy.limits
    ttl = parse_duration(policy.ttl) if policy.ttl else DEFAULT_RULE_TTL
    rps = float(policy.params.requests_per_second)
    ladder: tuple[EscalationStep, ...]
    if policy.params.provider is TrafficProvider.ISTIO:
        ladder = (
            EscalationStep(mode=RuleMode.DENY, ttl_seconds=ttl, requests_per_second=rps),
            EscalationStep(mode=RuleMode.DENY, ttl_seconds=6 * ttl, requests_per_second=rps),
        )
    else:
        ladder = (
            EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=ttl, requests_per_second=rps),
            EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=6 * ttl, requests_per_second=rps),
            EscalationStep(mode=RuleMode.DENY, ttl_seconds=6 * ttl, requests_per_second=rps),
        )
    return RateLimitPolicy(ladder=ladder, max_ttl_seconds=max(6 * ttl, 86400.0))


def rule_history(
    *, entries: Sequence[LedgerEntry], active: Sequence[ClientRule]
) -> tuple[ClientRule, ...]:
    """Earlier client rules for escalation: the active ones and the ledger's.  Pure.

    An executed ledger entry of rate-limit-client stands for a rule created at its
    time on each of its networks (already expired, so it escalates but never
    blocks a new rule); one that is also an active rule is counted once.
    """
    seen = {(rule.network, round(rule.created_at, 3)) for rule in active}
    earlier: list[ClientRule] = list(active)
    for entry in entries:
        if entry.action is not ActionType.RATE_LIMIT_CLIENT:
            continue
        if entry.outcome is not LedgerOutcome.EXECUTED:
            continue
        for target in entry.targets:
            try:
                network = parse_network(target)
            except ValueError:
                continue
            if (network, round(entry.at, 3)) in seen:
                continue
            earlier.append(
                ClientRule(
                    rule_id="ledger",
                    network=network,
                    mode=RuleMode.RATE_LIMIT,
                    requests_per_second=1.0,
                    created_at=entry.at,
                    expires_at=entry.at,
                    level=0,
                )
            )
    return tuple(earlier)


# --------------------------------------------------------------------- verification


@dataclass(frozen=True, slots=True)
class LogRecheck:
    """Count these lines again: ``selector`` (a component's) with ``line_filter``."""

    name: str
    component: str
    selector: Labels
    line_filter: str | None


def rechecks_for(
    *,
    action: RemediationAction,
    target: str,
    params: Mapping[str, Any],
    topology: Topology,
    symptom_component: str | None,
) -> tuple[LogRecheck, ...]:
    """The log signals that should improve after this action.  Pure.

    * kill-mysql-queries: the significant lines (errors, slow queries, exhausted
      connections) of the MySQL component;
    * rate-limit-client: the server errors answered at the edge (throttled 429s
      are the rule working, not harm);
    * drain-pod: the failed requests at the symptom's component, and the
      significant lines of the drained pod's component.
    Components the topology does not know are left out.
    """
    names = set(topology.names)
    checks: list[LogRecheck] = []

    def add(name: str, component: str | None, line_filter: str | None) -> None:
        if component and component in names:
            selector = topology.get(component).selector
            if all(c.component != component or c.line_filter != line_filter for c in checks):
                checks.append(LogRecheck(name, component, selector, line_filter))

    if action is RemediationAction.KILL_MYSQL_QUERIES:
        add(f"errors and slow queries of {target}", target, SIGNIFICANT_FILTER)
    elif action is RemediationAction.RATE_LIMIT_CLIENT:
        edge = str(params.get("component") or symptom_component or "")
        add(f"server errors at {edge}", edge, SERVER_ERROR_FILTER)
    else:
        component = str(params.get("component") or "")
        if symptom_component and symptom_component != component:
            add(f"failed requests at {symptom_component}", symptom_component, FAILED_REQUEST_FILTER)
        add(f"errors of {component}", component, SIGNIFICANT_FILTER)
    return tuple(checks)


def recheck_windows(*, acted_at: float, now: float) -> tuple[Window, Window] | None:
    """Equal spans just before and since the action; None if too little time passed.  Pure."""
    span = now - acted_at
    if span < MIN_RECHECK_SPAN:
        return None
    return Window(start=acted_at - span, end=acted_at), Window(start=acted_at, end=now)


def lines_in(*, counts: Sequence[LogCount], window: Window) -> float:
    """Lines counted in ``(window.start, window.end]`` (steps after the start).  Pure."""
    return sum(
        value
        for series in counts
        for ts, value in zip(series.timestamps, series.values, strict=True)
        if window.start < ts <= window.end and math.isfinite(value)
    )


def signal_checks(
    *,
    rechecks: Sequence[LogRecheck],
    before: Mapping[str, float | None],
    after: Mapping[str, float | None],
    span: float,
) -> tuple[SignalCheck, ...]:
    """``SignalCheck``s (lines per minute, healthy at zero) from counted lines.  Pure.

    A recheck missing from ``before`` or ``after`` (its query failed) has no data,
    which ``core.verify`` judges as unknown.
    """
    per_minute = 60.0 / span if span > 0 else 0.0

    def rate(value: float | None) -> float | None:
        return None if value is None else value * per_minute

    return tuple(
        SignalCheck(
            name=f"{check.name} (lines/min)",
            before=rate(before.get(check.name)),
            after=rate(after.get(check.name)),
            better=Better.LOWER,
            healthy=0.0,
        )
        for check in rechecks
    )
