"""Guards: pause, idempotency, target sets, lists, cooldown, budget, approval, dry run."""

from __future__ import annotations

import pytest

from diagnosis_operator.core.remediation.guard import check, target_matches
from diagnosis_operator.models.actions import (
    ActionPolicy,
    Allowed,
    ClientRule,
    DenialCode,
    Denied,
    DrainPod,
    GuardPolicy,
    KillMode,
    KillQueries,
    LedgerEntry,
    LedgerOutcome,
    ProcessRow,
    RateLimitClient,
    RuleMode,
    action_key,
    cooldown_targets_of,
    idempotency_key,
    parse_network,
)
from diagnosis_operator.models.findings import ActionType

NOW = 1_800_000_000.0


def _enabled(**overrides: object) -> ActionPolicy:
    base: dict[str, object] = {"enabled": True, "require_approval": False}
    base.update(overrides)
    return ActionPolicy.model_validate(base)


def _drain(pod: str = "api-1", namespace: str = "shop") -> DrainPod:
    return DrainPod(component="api", namespace=namespace, pod=pod, reason="degraded")


def _row(thread_id: int) -> ProcessRow:
    return ProcessRow(
        id=thread_id,
        user="app",
        host="10.1.1.1:5555",
        db="app",
        command="Query",
        time=30,
        state="Sending data",
        info="SELECT 1",
    )


def _kill(*ids: int) -> KillQueries:
    return KillQueries(
        component="mysql", victims=tuple(_row(i) for i in ids), mode=KillMode.QUERY, reason="slow"
    )


def _rate(*cidrs: str) -> RateLimitClient:
    rules = tuple(
        ClientRule(
            rule_id=f"r{i}",
            network=parse_network(c),
            mode=RuleMode.RATE_LIMIT,
            requests_per_second=5,
            created_at=NOW,
            expires_at=NOW + 600,
            level=0,
        )
        for i, c in enumerate(cidrs)
    )
    return RateLimitClient(component="edge", rules=rules, reason="flood")


def _entry(
    action: DrainPod | KillQueries | RateLimitClient,
    *,
    at: float,
    outcome: LedgerOutcome = LedgerOutcome.EXECUTED,
    key: str = "other",
) -> LedgerEntry:
    return LedgerEntry(
        key=key, action=action.kind, targets=cooldown_targets_of(action), at=at, outcome=outcome
    )


def _check(
    action: DrainPod | KillQueries | RateLimitClient,
    policy: GuardPolicy,
    ledger: list[LedgerEntry] | None = None,
    approved: bool = False,
) -> Allowed | Denied:
    return check(
        action=action,
        policy=policy,
        ledger=ledger or [],
        now=NOW,
        key=action_key(diagnosis_uid="uid-1", action=action),
        approved=approved,
    )


def test_default_policy_is_dry_run() -> None:
    verdict = _check(_drain(), GuardPolicy())
    assert isinstance(verdict, Allowed)
    assert verdict.dry_run is True


def test_enabled_without_approval_requirement_runs_for_real() -> None:
    verdict = _check(_drain(), GuardPolicy(drain_pod=_enabled()))
    assert verdict == Allowed(dry_run=False, reason="all guards passed")


def test_approval_required_until_approved() -> None:
    policy = GuardPolicy(drain_pod=_enabled(require_approval=True))
    denied = _check(_drain(), policy)
    assert isinstance(denied, Denied) and denied.code is DenialCode.APPROVAL_REQUIRED
    assert _check(_drain(), policy, approved=True) == Allowed(
        dry_run=False, reason="all guards passed"
    )


def test_pause_wins_over_everything() -> None:
    verdict = _check(_drain(), GuardPolicy(paused=True, drain_pod=_enabled()))
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.PAUSED


def test_empty_target_set_refused() -> None:
    verdict = _check(_kill(), GuardPolicy(kill_mysql_queries=_enabled()))
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.EMPTY_TARGETS


def test_oversized_target_set_refused() -> None:
    policy = GuardPolicy(kill_mysql_queries=_enabled(max_targets=3))
    assert isinstance(_check(_kill(1, 2, 3), policy), Allowed)
    verdict = _check(_kill(1, 2, 3, 4), policy)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.TOO_MANY_TARGETS
    assert "4 targets" in verdict.reason


def test_never_list_by_glob_and_by_network() -> None:
    policy = GuardPolicy(
        drain_pod=_enabled(never=("kube-system/*",)),
        rate_limit_client=_enabled(never=("10.0.0.0/8",)),
    )
    assert isinstance(_check(_drain(namespace="kube-system"), policy), Denied)
    assert isinstance(_check(_drain(namespace="shop"), policy), Allowed)
    verdict = _check(_rate("10.20.30.0/24"), policy)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.NEVER_LISTED
    assert isinstance(_check(_rate("203.0.113.7/32"), policy), Allowed)


@pytest.mark.parametrize("field", ["never", "allow"])
def test_a_malformed_list_entry_fails_closed(field: str) -> None:
    """An entry that cannot be parsed must not match nothing: the action is refused."""
    rules = {field: ("10.0.0.0/8", "192.168.10.0/33")}
    policy = GuardPolicy(rate_limit_client=_enabled(**rules), drain_pod=_enabled(**rules))
    for action in (_rate("192.168.10.7/32"), _rate("203.0.113.7/32"), _drain()):
        verdict = _check(action, policy)
        assert isinstance(verdict, Denied) and verdict.code is DenialCode.MALFORMED_GUARD
        assert f"{field}List[1]" in verdict.reason and "192.168.10.0/33" in verdict.reason
    # Not even a dry run: the action is disabled, whatever else the policy says.
    dry = GuardPolicy(drain_pod=ActionPolicy(never=("10.0.0/8",)))
    verdict = _check(_drain(), dry)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.MALFORMED_GUARD
    # Other actions of the same policy, with well-formed lists, are not affected.
    assert isinstance(_check(_kill(5), policy), Allowed)


def test_never_list_matches_the_component() -> None:
    policy = GuardPolicy(kill_mysql_queries=_enabled(never=("mysql",)))
    verdict = _check(_kill(5), policy)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.NEVER_LISTED


def test_allow_list_admits_only_contained_targets() -> None:
    policy = GuardPolicy(rate_limit_client=_enabled(allow=("198.51.100.0/24",)))
    assert isinstance(_check(_rate("198.51.100.9/32"), policy), Allowed)
    verdict = _check(_rate("198.51.101.9/32"), policy)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.NOT_ALLOW_LISTED


def test_cooldown_per_target() -> None:
    policy = GuardPolicy(drain_pod=_enabled(cooldown_seconds=600))
    ledger = [_entry(_drain("api-1"), at=NOW - 100)]
    verdict = _check(_drain("api-1"), policy, ledger)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.COOLDOWN
    assert "500 s" in verdict.reason
    assert isinstance(_check(_drain("api-2"), policy, ledger), Allowed)
    old = [_entry(_drain("api-1"), at=NOW - 601)]
    assert isinstance(_check(_drain("api-1"), policy, old), Allowed)


def test_dry_runs_and_denials_do_not_cool_down_or_spend_budget() -> None:
    policy = GuardPolicy(drain_pod=_enabled(max_per_window=1))
    ledger = [
        _entry(_drain("api-1"), at=NOW - 10, outcome=LedgerOutcome.DRY_RUN),
        _entry(_drain("api-1"), at=NOW - 10, outcome=LedgerOutcome.DENIED),
    ]
    assert isinstance(_check(_drain("api-1"), policy, ledger), Allowed)


def test_budget_is_a_sliding_window() -> None:
    policy = GuardPolicy(
        drain_pod=_enabled(max_per_window=2, window_seconds=3600, cooldown_seconds=0)
    )
    ledger = [_entry(_drain("a"), at=NOW - 3000), _entry(_drain("b"), at=NOW - 10)]
    verdict = _check(_drain("c"), policy, ledger)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.BUDGET_EXHAUSTED
    # The older one leaves the window: budget frees up.
    ledger[0] = _entry(_drain("a"), at=NOW - 3601)
    assert isinstance(_check(_drain("c"), policy, ledger), Allowed)


def test_budget_counts_only_the_same_action_type() -> None:
    policy = GuardPolicy(drain_pod=_enabled(max_per_window=1), kill_mysql_queries=_enabled())
    ledger = [_entry(_kill(1), at=NOW - 10)]
    assert isinstance(_check(_drain(), policy, ledger), Allowed)


def test_already_executed_key_is_not_repeated() -> None:
    action = _drain()
    key = action_key(diagnosis_uid="uid-1", action=action)
    ledger = [_entry(action, at=NOW - 5000, key=key)]
    verdict = _check(action, GuardPolicy(drain_pod=_enabled(cooldown_seconds=0)), ledger)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.ALREADY_DONE


def test_kill_cooldown_is_per_server_not_per_thread() -> None:
    policy = GuardPolicy(kill_mysql_queries=_enabled(cooldown_seconds=300))
    ledger = [_entry(_kill(1, 2), at=NOW - 60)]
    verdict = _check(_kill(77), policy, ledger)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.COOLDOWN


def test_idempotency_key_is_stable_and_distinct() -> None:
    a = idempotency_key(diagnosis_uid="u", action=ActionType.DRAIN_POD, target="ns/p")
    assert a == idempotency_key(diagnosis_uid="u", action=ActionType.DRAIN_POD, target="ns/p")
    assert a != idempotency_key(diagnosis_uid="u", action=ActionType.DRAIN_POD, target="ns/q")
    assert a != idempotency_key(diagnosis_uid="v", action=ActionType.DRAIN_POD, target="ns/p")
    assert a != idempotency_key(
        diagnosis_uid="u", action=ActionType.RATE_LIMIT_CLIENT, target="ns/p"
    )
    # Target order does not change the action key.
    assert action_key(diagnosis_uid="u", action=_kill(1, 2)) == action_key(
        diagnosis_uid="u", action=_kill(2, 1)
    )


@pytest.mark.parametrize(
    ("target", "pattern", "expected"),
    [
        ("10.0.0.5/32", "10.0.0.0/8", True),
        ("10.0.0.0/8", "10.0.0.5/32", True),  # overlap counts for a never list
        ("11.0.0.5/32", "10.0.0.0/8", False),
        ("2001:db8::1/128", "2001:db8::/32", True),
        ("2001:db8::1/128", "10.0.0.0/8", False),
        ("shop/api-1", "shop/*", True),
        ("shop/api-1", "kube-system/*", False),
    ],
)
def test_target_matches(target: str, pattern: str, expected: bool) -> None:
    assert target_matches(target=target, pattern=pattern) is expected


def test_policy_parses_camel_case_and_refuses_unknown_fields() -> None:
    policy = GuardPolicy.model_validate(
        {"killMysqlQueries": {"enabled": True, "maxTargets": 2, "requireApproval": False}}
    )
    assert policy.kill_mysql_queries.max_targets == 2
    with pytest.raises(ValueError, match="maxTarget"):
        GuardPolicy.model_validate({"killMysqlQueries": {"maxTarget": 2}})
