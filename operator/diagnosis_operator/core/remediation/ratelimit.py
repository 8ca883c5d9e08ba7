"""Client rate-limit rules: planning, escalation and expiry.  Pure.

``plan_rules`` turns the client addresses a diagnosis flagged into ``ClientRule``
values.  Each client is parsed with ``ipaddress`` (text never reaches a backend
as is) and checked, in this order:

1. it parses as an address or CIDR (host bits zero);
2. it is no broader than ``maxPrefixV4`` / ``maxPrefixV6`` (a /16 is refused
   when the limit is /24);
3. it does not overlap an allow-listed network (internal ranges, health
   checkers, the operator's own addresses): an allowed address is never limited;
4. no unexpired rule already covers it (re-planning while a rule is in force
   neither stacks rules nor escalates).

Repeat offenders climb the policy's ladder: each earlier rule on an overlapping
network created within ``repeatWindowSeconds`` is one step, capped at the last
step (e.g. rate-limit 10 min -> rate-limit 1 h -> deny 1 h).  TTLs are capped by
``maxTtlSeconds``.  In shadow mode rules are planned and recorded with
``shadow=True``; backends do not enforce them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from diagnosis_operator.models.actions import (
    ClientRule,
    IPNetwork,
    RateLimitPolicy,
    RulePlan,
    RuleRefusal,
    parse_network,
)


def rule_id(*, network: IPNetwork, created_at: float) -> str:
    """A stable, name-safe id for one rule (lower-case hex).  Pure."""
    material = f"{network}\x1f{created_at:.3f}"
    return hashlib.sha256(material.encode()).hexdigest()[:12]


def broader_than_allowed(*, network: IPNetwork, policy: RateLimitPolicy) -> bool:
    limit = policy.max_prefix_v4 if network.version == 4 else policy.max_prefix_v6
    return network.prefixlen < limit


def allow_listed(*, network: IPNetwork, allow: Sequence[IPNetwork]) -> IPNetwork | None:
    """The allow-listed network this one overlaps, if any.  Pure."""
    for allowed in allow:
        if allowed.version == network.version and allowed.overlaps(network):
            return allowed
    return None


def _overlap(a: IPNetwork, b: IPNetwork) -> bool:
    return a.version == b.version and a.overlaps(b)


def active(*, rules: Sequence[ClientRule], now: float) -> tuple[ClientRule, ...]:
    """Rules still in force at ``now``.  Pure."""
    return tuple(rule for rule in rules if rule.expires_at > now)


def expired(*, rules: Sequence[ClientRule], now: float) -> tuple[ClientRule, ...]:
    """Rules whose TTL has run out at ``now``: backends remove these.  Pure."""
    return tuple(rule for rule in rules if rule.expires_at <= now)


def enforced(rules: Sequence[ClientRule]) -> tuple[ClientRule, ...]:
    """The rules a backend must enforce: shadow rules are only recorded.  Pure."""
    return tuple(rule for rule in rules if not rule.shadow)


def escalation_level(
    *, network: IPNetwork, history: Sequence[ClientRule], policy: RateLimitPolicy, now: float
) -> int:
    """The ladder step for a new rule on ``network``.  Pure."""
    earlier = sum(
        1
        for rule in history
        if _overlap(rule.network, network)
        and now - policy.repeat_window_seconds < rule.created_at <= now
    )
    return min(earlier, len(policy.ladder) - 1)


def plan_rules(
    *,
    clients: Sequence[str],
    policy: RateLimitPolicy,
    history: Sequence[ClientRule],
    now: float,
    reason: str,
) -> RulePlan:
    """Rules for the flagged ``clients`` (addresses or CIDRs) at ``now``.  Pure.

    ``history`` holds every rule created before (active or expired), as kept in the
    ledger; it drives escalation and stops duplicates.
    """
    allow = policy.allow_networks()
    in_force = active(rules=history, now=now)
    rules: list[ClientRule] = []
    refused: list[RuleRefusal] = []
    seen: set[IPNetwork] = set()
    for client in clients:
        try:
            network = parse_network(client, where="client list")
        except ValueError as error:
            refused.append(RuleRefusal(client=client, reason=str(error)))
            continue
        if network in seen:
            continue
        seen.add(network)
        why = _refusal(network, policy=policy, allow=allow, in_force=in_force)
        if why is not None:
            refused.append(RuleRefusal(client=client, reason=why))
            continue
        level = escalation_level(network=network, history=history, policy=policy, now=now)
        step = policy.ladder[level]
        ttl = min(step.ttl_seconds, policy.max_ttl_seconds)
        rules.append(
            ClientRule(
                rule_id=rule_id(network=network, created_at=now),
                network=network,
                mode=step.mode,
                requests_per_second=step.requests_per_second,
                created_at=now,
                expires_at=now + ttl,
                level=level,
                shadow=policy.shadow,
                reason=reason if level == 0 else f"{reason} (repeat offence, step {level + 1})",
            )
        )
    return RulePlan(rules=tuple(rules), refused=tuple(refused))


def _refusal(
    network: IPNetwork,
    *,
    policy: RateLimitPolicy,
    allow: Sequence[IPNetwork],
    in_force: Sequence[ClientRule],
) -> str | None:
    """Why no rule may be made for ``network``: too broad, allow-listed, already ruled."""
    if broader_than_allowed(network=network, policy=policy):
        limit = policy.max_prefix_v4 if network.version == 4 else policy.max_prefix_v6
        return f"{network} is broader than the /{limit} the policy allows"
    allowed = allow_listed(network=network, allow=allow)
    if allowed is not None:
        return f"{network} overlaps allow-listed {allowed}"
    covering = next((rule for rule in in_force if _overlap(rule.network, network)), None)
    if covering is not None:
        return (
            f"{network} is already under rule {covering.rule_id} "
            f"({covering.mode.value} on {covering.network}) "
            f"until {covering.expires_at:.0f}"
        )
    return None
