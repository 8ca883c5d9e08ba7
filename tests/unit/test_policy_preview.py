"""What a policy's guards would decide offline (``core.remediation.preview``), and the
comparison of a policy test (``core.policytest``)."""

from __future__ import annotations

from typing import Any

import pytest

from diagnosis_operator.api import DiagnosisPolicySpec, RemediationAction, RemediationStatus
from diagnosis_operator.api.policytest import Expectation
from diagnosis_operator.core.policytest import Outcome, compare, render_differences
from diagnosis_operator.core.remediation.preview import preview_actions
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.models.preview import ActionPreview, Decision
from diagnosis_operator.service.remediate import guard_policy_from

NOW = 1_767_000_000.0
COMPONENTS = [
    {"name": "edge", "kind": "proxy", "selector": {"job": "edge"}, "dependsOn": ["api"]},
    {"name": "api", "kind": "app", "selector": {"job": "api"}, "namespace": "shop"},
    {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
]
DRAIN = RemediationStatus(
    action=RemediationAction.DRAIN_POD,
    target="10.0.0.5:8080",
    state="proposed",
    params={"component": "api", "pod": "api-7d9-abcde"},
)
KILL = RemediationStatus(
    action=RemediationAction.KILL_MYSQL_QUERIES,
    target="db",
    state="proposed",
    params={"busyTime": 5, "matchInfo": "SELECT * FROM t"},
)
LIMIT = RemediationStatus(
    action=RemediationAction.RATE_LIMIT_CLIENT,
    target="203.0.113.9",
    state="proposed",
    params={"component": "edge"},
)
MYSQL = {"secretRef": {"name": "db-admin"}}
NGINX = {"provider": "nginx", "configMap": "edge-limits"}


def _preview(remediation: dict[str, Any], *items: RemediationStatus) -> list[ActionPreview]:
    spec = DiagnosisPolicySpec.model_validate(
        {"components": COMPONENTS, "remediation": remediation}
    )
    return list(
        preview_actions(
            remediations=items,
            policy=spec,
            guard=guard_policy_from(spec.remediation, paused=False),
            namespace="default",
            now=NOW,
        )
    )


def _decided(previews: list[ActionPreview]) -> list[tuple[str, str, str]]:
    return [(p.action.value, p.decision.value, p.code) for p in previews]


def test_the_defaults_leave_every_action_a_dry_run_or_say_what_is_missing() -> None:
    previews = _preview({}, DRAIN, KILL, LIMIT)
    assert _decided(previews) == [
        ("drain-pod", "dry-run", "not-enabled"),
        ("kill-mysql-queries", "refused", "not-configured"),
        ("rate-limit-client", "refused", "not-configured"),
    ]
    assert "killMysqlQueries.connection" in previews[1].reason
    assert "envoy-gateway needs params.targetRef" in previews[2].reason


def test_enabled_actions_run_or_wait_for_approval() -> None:
    enabled = {
        "drainPod": {"enabled": True, "requireApproval": False},
        "killMysqlQueries": {"enabled": True, "connection": MYSQL},
        "rateLimitClient": {"enabled": True, "requireApproval": False, "params": NGINX},
    }
    assert _decided(_preview(enabled, DRAIN, KILL, LIMIT)) == [
        ("drain-pod", "run", "all-guards-passed"),
        ("kill-mysql-queries", "awaits-approval", "approval-required"),
        ("rate-limit-client", "run", "all-guards-passed"),
    ]


def test_never_and_allow_lists_refuse_with_the_guards_words() -> None:
    drain = {"drainPod": {"enabled": True, "neverList": ["shop/api-7d9-*"]}}
    [refused] = _preview(drain, DRAIN)
    # The pod is resolved in the component's namespace, as the executor resolves it.
    assert (refused.decision, refused.code) == (Decision.REFUSED, "never-listed")
    assert refused.reason == "target shop/api-7d9-abcde is on the never list (shop/api-7d9-*)"
    kill = {"killMysqlQueries": {"enabled": True, "connection": MYSQL, "allowList": ["other"]}}
    assert _decided(_preview(kill, KILL)) == [("kill-mysql-queries", "refused", "not-allow-listed")]


def test_max_pods_refuses_the_drains_beyond_it() -> None:
    second = DRAIN.model_copy(update={"target": "10.0.0.6:8080", "params": {"component": "api"}})
    previews = _preview({"drainPod": {"params": {"maxPods": 1}}}, DRAIN, second)
    assert _decided(previews) == [
        ("drain-pod", "dry-run", "not-enabled"),
        ("drain-pod", "refused", "too-many-targets"),
    ]


def test_rate_limit_rules_the_planner_refuses_and_shadow_mode() -> None:
    allowed = {
        "rateLimitClient": {
            "enabled": True,
            "params": NGINX,
            "limits": {"allow": ["203.0.113.0/24"]},
        }
    }
    [refused] = _preview(allowed, LIMIT)
    assert (refused.code, refused.reason) == (
        "rule-refused",
        "refused: 203.0.113.9/32 overlaps allow-listed 203.0.113.0/24",
    )
    shadow = {
        "rateLimitClient": {
            "enabled": True,
            "requireApproval": False,
            "params": NGINX,
            "limits": {"shadow": True},
        }
    }
    assert _decided(_preview(shadow, LIMIT)) == [("rate-limit-client", "dry-run", "shadow-mode")]


# --- the comparison -----------------------------------------------------------------

GOT = Outcome(
    root_cause="db",
    failure_mode="lock contention",
    actions=(
        ActionPreview(
            ActionType.DRAIN_POD, "10.0.0.5:8080", Decision.RUN, "all-guards-passed", "ok"
        ),
        ActionPreview(
            ActionType.KILL_MYSQL_QUERIES, "db", Decision.REFUSED, "never-listed", "target db is"
        ),
    ),
)


def _expect(**fields: Any) -> Expectation:
    return Expectation.model_validate(fields)


def test_a_matching_expectation_has_no_difference() -> None:
    expect = _expect(
        rootCause="db",
        failureMode="lock contention",
        run=[{"action": "drain-pod", "target": "10.0.0.5:8080"}],
        dryRun=[],
        refused=[{"action": "kill-mysql-queries", "reason": "never-listed", "message": "db is"}],
    )
    assert compare(expect, GOT) == ()


def test_fields_left_out_are_not_compared_and_lists_are_compared_whole() -> None:
    assert compare(_expect(rootCause="db"), GOT) == ()
    [difference] = compare(_expect(run=[]), GOT)
    assert (difference.field, difference.expected, difference.got) == (
        "run",
        (),
        ("drain-pod 10.0.0.5:8080",),
    )
    assert render_differences([difference]) == [
        "  run:",
        "    - expected: (nothing)",
        "    + got:      drain-pod 10.0.0.5:8080",
    ]


@pytest.mark.parametrize(
    ("expect", "field", "got"),
    [
        ({"rootCause": "api"}, "rootCause", ("db",)),
        ({"failureMode": "slow queries"}, "failureMode", ("lock contention",)),
        (
            {"refused": [{"action": "kill-mysql-queries", "reason": "cooldown"}]},
            "refused",
            ("kill-mysql-queries db (never-listed: target db is)",),
        ),
        (
            {"awaitingApproval": ["drain-pod"]},
            "awaitingApproval",
            ("drain-pod 10.0.0.5:8080 is run",),
        ),
    ],
)
def test_each_difference_says_what_was_expected_and_what_came(
    expect: dict[str, Any], field: str, got: tuple[str, ...]
) -> None:
    [difference] = compare(_expect(**expect), GOT)
    assert (difference.field, difference.got) == (field, got)
