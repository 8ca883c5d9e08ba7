"""Client rule planning: parsing, prefix limits, allow lists, duplicates, escalation, expiry."""

from __future__ import annotations

import ipaddress
from typing import TYPE_CHECKING

import pytest

from diagnosis_operator.core.remediation.ratelimit import active, enforced, expired, plan_rules
from diagnosis_operator.models.actions import ClientRule, RateLimitPolicy, RuleMode

if TYPE_CHECKING:
    from diagnosis_operator.models.actions import RulePlan

NOW = 1_800_000_000.0
POLICY = RateLimitPolicy(allow=("10.0.0.0/8", "192.0.2.10/32", "fd00::/8"))


def plan(
    clients: list[str],
    *,
    policy: RateLimitPolicy = POLICY,
    history: list[ClientRule] | None = None,
    now: float = NOW,
) -> RulePlan:
    return plan_rules(
        clients=clients, policy=policy, history=history or [], now=now, reason="flood"
    )


def test_a_single_address_becomes_a_host_rule_with_ttl() -> None:
    result = plan(["203.0.113.7"])
    (rule,) = result.rules
    assert rule.network == ipaddress.ip_network("203.0.113.7/32")
    assert rule.mode is RuleMode.RATE_LIMIT
    assert (rule.created_at, rule.expires_at, rule.level) == (NOW, NOW + 600, 0)
    assert rule.ttl_seconds == 600
    assert result.refused == ()


def test_ipv6_and_cidrs_parse() -> None:
    result = plan(["2001:db8::1", "198.51.100.0/28", "2001:db8:1::/64"])
    assert [str(r.network) for r in result.rules] == [
        "2001:db8::1/128",
        "198.51.100.0/28",
        "2001:db8:1::/64",
    ]


@pytest.mark.parametrize(
    ("client", "why"),
    [
        ("198.51.0.0/16", "broader than the /24"),
        ("0.0.0.0/0", "broader than the /24"),
        ("2001:db8::/48", "broader than the /64"),
        ("not-an-ip", "invalid IP address"),
        ("198.51.100.7/24", "invalid IP address"),  # host bits set
        ("198.51.100.7; rm -rf /", "invalid IP address"),
    ],
)
def test_bad_or_broad_clients_are_refused(client: str, why: str) -> None:
    result = plan([client])
    assert result.rules == ()
    assert why in result.refused[0].reason
    assert result.refused[0].client == client


@pytest.mark.parametrize("client", ["10.1.2.3", "192.0.2.10", "192.0.2.0/24", "fd00::5"])
def test_allow_listed_addresses_are_never_limited(client: str) -> None:
    result = plan([client])
    assert result.rules == ()
    assert "allow-listed" in result.refused[0].reason


def test_prefix_limit_is_configurable() -> None:
    strict = RateLimitPolicy(max_prefix_v4=32)
    assert plan(["198.51.100.0/31"], policy=strict).rules == ()
    assert len(plan(["198.51.100.1"], policy=strict).rules) == 1


def test_duplicates_collapse_and_active_rules_are_not_stacked() -> None:
    first = plan(["203.0.113.7", "203.0.113.7/32"])
    assert len(first.rules) == 1
    again = plan(["203.0.113.7"], history=list(first.rules), now=NOW + 60)
    assert again.rules == ()
    assert "already under rule" in again.refused[0].reason


def test_repeat_offenders_escalate_up_to_the_cap() -> None:
    history: list[ClientRule] = []
    now = NOW
    seen: list[tuple[RuleMode, float]] = []
    for _ in range(5):
        (rule,) = plan(["203.0.113.7"], history=history, now=now).rules
        seen.append((rule.mode, rule.ttl_seconds))
        history.append(rule)
        now = rule.expires_at + 1  # re-offends right after expiry
    assert seen == [
        (RuleMode.RATE_LIMIT, 600),
        (RuleMode.RATE_LIMIT, 3600),
        (RuleMode.DENY, 3600),
        (RuleMode.DENY, 3600),
        (RuleMode.DENY, 3600),
    ]
    assert "repeat offence" in history[1].reason


def test_escalation_counts_overlapping_networks_within_the_repeat_window() -> None:
    (old,) = plan(["203.0.113.0/24"]).rules
    later = NOW + 700
    (rule,) = plan(["203.0.113.9"], history=[old], now=later).rules
    assert rule.level == 1
    forgotten = NOW + POLICY.repeat_window_seconds + 1
    (fresh,) = plan(["203.0.113.9"], history=[old], now=forgotten).rules
    assert fresh.level == 0


def test_ttl_is_capped() -> None:
    policy = RateLimitPolicy.model_validate(
        {"ladder": [{"mode": "deny", "ttlSeconds": 99999}], "maxTtlSeconds": 1800}
    )
    (rule,) = plan(["203.0.113.7"], policy=policy).rules
    assert rule.mode is RuleMode.DENY and rule.ttl_seconds == 1800


def test_expiry_uses_the_injected_now() -> None:
    (rule,) = plan(["203.0.113.7"]).rules
    assert expired(rules=[rule], now=NOW + 599) == ()
    assert active(rules=[rule], now=NOW + 599) == (rule,)
    assert expired(rules=[rule], now=NOW + 600) == (rule,)
    assert active(rules=[rule], now=NOW + 600) == ()


def test_shadow_mode_records_but_does_not_enforce() -> None:
    policy = RateLimitPolicy(shadow=True)
    (rule,) = plan(["203.0.113.7"], policy=policy).rules
    assert rule.shadow is True
    assert enforced([rule]) == ()


def test_rule_json_round_trip() -> None:
    (rule,) = plan(["2001:db8::7"]).rules
    assert ClientRule.from_json(rule.to_json()) == rule


def test_bad_allow_list_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"allow\[1\]"):
        RateLimitPolicy(allow=("10.0.0.0/8", "10.0.0.1/8"))
