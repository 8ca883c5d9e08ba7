"""The pure remediation settings and re-check selection (core/remedy.py)."""

from __future__ import annotations

import ipaddress
import re

import pytest

from diagnosis_operator.api import (
    DiagnosisPolicySpec,
    KillMysqlQueriesPolicy,
    RateLimitClientPolicy,
    RemediationAction,
)
from diagnosis_operator.core.remediation.killer import select_victims
from diagnosis_operator.core.remediation.remedy import (
    SERVER_ERROR_FILTER,
    kill_policy_for,
    lines_in,
    rate_limit_policy_for,
    recheck_windows,
    rechecks_for,
    rule_history,
    signal_checks,
)
from diagnosis_operator.core.remediation.verify import Outcome, verify
from diagnosis_operator.models.actions import (
    ClientRule,
    LedgerEntry,
    LedgerOutcome,
    ProcessRow,
    RuleMode,
    Victims,
)
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.signals import Labels, LogCount

NOW = 1_900_000_000.0


def _row(thread: int, info: str, time: float, user: str = "shop") -> ProcessRow:
    return ProcessRow(
        id=thread,
        user=user,
        host="10.9.0.4:5123",
        db="orders",
        command="Query",
        time=time,
        state="Sending data",
        info=info,
    )


def test_kill_policy_from_params_takes_the_planners_busy_time_and_escaped_statement_head() -> None:
    spec = KillMysqlQueriesPolicy.model_validate(
        {"params": {"minQuerySeconds": 5, "users": ["shop", "re.port"]}}
    )
    policy = kill_policy_for(
        policy=spec, proposal={"busyTime": 12, "matchInfo": "SELECT * FROM ledger WHERE (x"}
    )
    assert policy.busy_time == 12 and policy.victims is Victims.ALL
    assert policy.match_info is not None and re.search(
        policy.match_info, "  SELECT * FROM ledger WHERE (x = 1)"
    )
    rows = [
        _row(7, "SELECT * FROM ledger WHERE (x = 1)", 30),
        _row(8, "SELECT * FROM ledger WHERE (x = 2)", 3),  # not busy long enough
        _row(9, "SELECT id FROM ledger", 30),  # another statement
        _row(10, "SELECT * FROM ledger WHERE (x = 3)", 30, user="report"),  # '.' is literal
    ]
    chosen = select_victims(processes=rows, transactions=(), policy=policy, own_connection_id=1)
    assert [v.row.id for v in chosen.victims] == [7]


def test_the_planner_never_lowers_the_policy_threshold_and_the_policy_match_wins() -> None:
    spec = KillMysqlQueriesPolicy.model_validate(
        {"match": {"busyTime": 60, "matchInfo": "^UPDATE", "victims": "oldest"}}
    )
    policy = kill_policy_for(policy=spec, proposal={"busyTime": 3, "matchInfo": "SELECT 1 FROM t"})
    assert policy.busy_time == 60 and policy.match_info == "^UPDATE"
    assert policy.victims is Victims.OLDEST
    assert kill_policy_for(policy=spec, proposal={"busyTime": "9; DROP"}).busy_time == 60


def test_rate_limit_ladder_from_params_and_deny_only_for_istio() -> None:
    derived = rate_limit_policy_for(
        policy=RateLimitClientPolicy.model_validate(
            {"ttl": "5m", "params": {"requestsPerSecond": 3}}
        )
    )
    assert [(s.mode, s.ttl_seconds) for s in derived.ladder][:2] == [
        (RuleMode.RATE_LIMIT, 300.0),
        (RuleMode.RATE_LIMIT, 1800.0),
    ]
    assert derived.ladder[0].requests_per_second == 3.0
    istio = rate_limit_policy_for(
        policy=RateLimitClientPolicy.model_validate({"params": {"provider": "istio"}})
    )
    assert {s.mode for s in istio.ladder} == {RuleMode.DENY}
    given = RateLimitClientPolicy.model_validate(
        {"limits": {"allow": ["10.0.0.0/8"], "maxPrefixV4": 28, "shadow": True}}
    )
    assert rate_limit_policy_for(policy=given) is given.limits


def test_provider_needs_are_reported_not_raised() -> None:
    assert RateLimitClientPolicy().params.missing() is not None  # envoy-gateway, no targetRef
    nginx = RateLimitClientPolicy.model_validate({"params": {"provider": "nginx"}})
    assert "configMap" in (nginx.params.missing() or "")
    with pytest.raises(ValueError, match="not both"):
        RateLimitClientPolicy.model_validate(
            {"params": {"provider": "istio", "selector": {"a": "b"}, "targetRef": {"name": "g"}}}
        )


def test_rule_history_counts_ledger_entries_once_and_never_blocks_with_them() -> None:
    network = ipaddress.ip_network("203.0.113.9/32")
    active = ClientRule(
        rule_id="abc",
        network=network,
        mode=RuleMode.RATE_LIMIT,
        requests_per_second=5,
        created_at=NOW - 100,
        expires_at=NOW + 500,
        level=0,
    )
    entries = [
        LedgerEntry(
            "k1",
            ActionType.RATE_LIMIT_CLIENT,
            ("203.0.113.9/32",),
            NOW - 100,
            LedgerOutcome.EXECUTED,
        ),
        LedgerEntry(
            "k0",
            ActionType.RATE_LIMIT_CLIENT,
            ("203.0.113.9/32",),
            NOW - 5000,
            LedgerOutcome.EXECUTED,
        ),
        LedgerEntry(
            "k2", ActionType.RATE_LIMIT_CLIENT, ("198.51.100.1/32",), NOW - 50, LedgerOutcome.FAILED
        ),
        LedgerEntry("k3", ActionType.DRAIN_POD, ("shop/web-1",), NOW - 50, LedgerOutcome.EXECUTED),
    ]
    history = rule_history(entries=entries, active=[active])
    assert len(history) == 2
    assert [rule for rule in history if rule.expires_at > NOW] == [active]


def test_rechecks_follow_the_action_and_skip_unknown_components() -> None:
    topology = DiagnosisPolicySpec.model_validate(
        {
            "components": [
                {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["db"]},
                {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
            ]
        }
    ).to_topology()
    [kill] = rechecks_for(
        action=RemediationAction.KILL_MYSQL_QUERIES,
        target="db",
        params={},
        topology=topology,
        symptom_component="edge",
    )
    assert kill.selector == Labels({"job": "db"})
    [limit] = rechecks_for(
        action=RemediationAction.RATE_LIMIT_CLIENT,
        target="203.0.113.9",
        params={},
        topology=topology,
        symptom_component="edge",
    )
    assert limit.component == "edge" and limit.line_filter == SERVER_ERROR_FILTER
    assert re.search(SERVER_ERROR_FILTER, '"GET / HTTP/1.1" 502 12') and not re.search(
        SERVER_ERROR_FILTER, '"GET / HTTP/1.1" 429 12'
    )
    assert (
        rechecks_for(
            action=RemediationAction.KILL_MYSQL_QUERIES,
            target="nope",
            params={},
            topology=topology,
            symptom_component=None,
        )
        == ()
    )


def test_before_and_after_counts_become_checks_verify_can_judge() -> None:
    assert recheck_windows(acted_at=NOW, now=NOW + 30) is None
    windows = recheck_windows(acted_at=NOW, now=NOW + 120)
    assert windows is not None
    before, after = windows
    assert before.duration == after.duration == 120
    counts = [
        LogCount(labels=Labels({}), timestamps=(NOW - 120, NOW - 60, NOW), values=(50.0, 6.0, 4.0))
    ]
    assert lines_in(counts=counts, window=before) == 10.0  # the step at the start is outside
    [check] = signal_checks(
        rechecks=rechecks_for(
            action=RemediationAction.KILL_MYSQL_QUERIES,
            target="db",
            params={},
            topology=DiagnosisPolicySpec.model_validate(
                {"components": [{"name": "db", "kind": "mysql", "selector": {"job": "db"}}]}
            ).to_topology(),
            symptom_component=None,
        ),
        before={"errors and slow queries of db": 10.0},
        after={"errors and slow queries of db": 1.0},
        span=120.0,
    )
    assert check.before == 5.0 and check.after == 0.5  # lines per minute
    assert verify(checks=[check], reversible=False).outcome is Outcome.RESOLVED
    [missing] = signal_checks(
        rechecks=rechecks_for(
            action=RemediationAction.KILL_MYSQL_QUERIES,
            target="db",
            params={},
            topology=DiagnosisPolicySpec.model_validate(
                {"components": [{"name": "db", "kind": "mysql", "selector": {"job": "db"}}]}
            ).to_topology(),
            symptom_component=None,
        ),
        before={"errors and slow queries of db": 10.0},
        after={"errors and slow queries of db": None},
        span=120.0,
    )
    assert verify(checks=[missing], reversible=False).outcome is Outcome.UNKNOWN
