"""signalOverrides rendered per component through the catalog and judged by a checker."""

from __future__ import annotations

from typing import Any

import pytest

from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.entrypoints.kopf.policy import (
    MESSAGE_LIMIT,
    problem_status,
    refused_verdict,
)
from diagnosis_operator.ports import SignalError
from diagnosis_operator.service.policy_check import check_overrides, render_overrides
from tests.fakes.promql_checker import FakeQueryChecker

COMPONENTS: list[dict[str, Any]] = [
    {"name": "api", "kind": "app", "selector": {"job": "api"}},
    {"name": "web", "kind": "app", "selector": {"job": 'we"b', "env": "{range}"}},
    {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
]


def policy(*overrides: dict[str, Any]) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {"components": COMPONENTS, "signalOverrides": list(overrides)}
    )


def test_a_kind_override_is_rendered_for_every_component_of_that_kind_escaped() -> None:
    spec = policy(
        {"name": "slow-calls", "componentKind": "app",
         "promql": "sum(rate(calls_total{{matchers},slow=\"1\"}[{range}]))"},
    )  # fmt: skip
    renderings, problems = render_overrides(spec=spec, rate_window=300)
    assert problems == []
    assert [(r.override, r.component) for r in renderings] == [
        ("slow-calls", "api"),
        ("slow-calls", "web"),
    ]
    assert renderings[0].promql == 'sum(rate(calls_total{job="api",slow="1"}[5m]))'
    # The label value `{range}` stays text and the quote is escaped: no injection.
    web = renderings[1].promql
    assert 'job="we\\"b"' in web and 'env="{range}"' in web and web.endswith("[5m]))")


def test_a_named_override_is_rendered_for_its_component_only() -> None:
    renderings, problems = render_overrides(
        spec=policy({"name": "locks", "component": "db", "promql": "max(locks{selector})"})
    )
    assert problems == []
    assert [(r.component, r.promql) for r in renderings] == [("db", 'max(locks{job="db"})')]


@pytest.mark.parametrize(
    ("promql", "says"),
    [
        ("sum(rate(http_requests_total[5m]))", "{selector} or {matchers}"),
        ("up{selector}[{window}]", "unknown placeholder(s) {window}"),
    ],
)
def test_templates_the_catalog_refuses_are_problems_without_asking_prometheus(
    promql: str, says: str
) -> None:
    renderings, problems = render_overrides(
        spec=policy({"name": "bad", "component": "api", "promql": promql})
    )
    assert renderings == []
    [problem] = problems
    assert problem.found_by == "template" and says in problem.error
    assert problem.describe().startswith("spec.signalOverrides[0] (bad): ")


def test_an_override_of_a_kind_no_component_has_renders_nothing() -> None:
    renderings, problems = render_overrides(
        spec=policy({"name": "hits", "componentKind": "redis", "promql": "x{selector}"})
    )
    assert renderings == [] and problems == []


def test_prometheus_refusals_name_the_override_component_query_and_error() -> None:
    spec = policy(
        {"name": "good", "component": "api", "promql": "max(up{selector})"},
        {"name": "broken", "componentKind": "app", "promql": "rate(x{selector}[{range}])"},
    )
    renderings, _ = render_overrides(spec=spec)
    checker = FakeQueryChecker(refuse=lambda q: "1:1: unknown metric x" if "rate(" in q else None)
    [problem] = check_overrides(renderings=renderings, checker=checker)
    assert (problem.override, problem.component) == ("broken", "api")
    assert problem.promql == 'rate(x{job="api"}[2m])'
    assert problem.describe() == (
        "spec.signalOverrides[1] (broken) for component api: Prometheus rejected "
        'rate(x{job="api"}[2m]): 1:1: unknown metric x'
    )
    # Refused once is enough: the second app component is not asked.
    assert checker.asked == ['max(up{job="api"})', 'rate(x{job="api"}[2m])']


def test_accepted_queries_give_no_problems_and_each_rendering_is_asked() -> None:
    renderings, _ = render_overrides(
        spec=policy({"name": "ok", "componentKind": "app", "promql": "max(up{selector})"})
    )
    checker = FakeQueryChecker()
    assert check_overrides(renderings=renderings, checker=checker) == []
    assert len(checker.asked) == 2


def test_an_unreachable_prometheus_is_not_a_problem_of_the_policy() -> None:
    renderings, _ = render_overrides(
        spec=policy({"name": "ok", "component": "api", "promql": "max(up{selector})"})
    )
    with pytest.raises(SignalError, match="connection refused"):
        check_overrides(renderings=renderings, checker=FakeQueryChecker(unreachable=True))


def test_every_problem_is_reported_by_index_the_template_ones_and_prometheus_ones() -> None:
    spec = policy(
        {"name": "no-scope", "component": "api", "promql": "sum(up)"},
        {"name": "good", "componentKind": "app", "promql": "max(up{selector})"},
        {"name": "unclosed", "component": "db", "promql": "rate(x{selector}[5m]"},
        {"name": "typo", "componentKind": "app", "promql": "up{selector}[{window}]"},
    )
    renderings, problems = render_overrides(spec=spec)
    # A bad template does not stop the others from being rendered and asked.
    assert sorted({r.override for r in renderings}) == ["good", "unclosed"]
    checker = FakeQueryChecker(refuse=lambda q: "parse error: unclosed" if "rate(" in q else None)
    problems = [*problems, *check_overrides(renderings=renderings, checker=checker)]
    verdict = refused_verdict(problems)
    assert [(p.index, p.override, p.found_by) for p in verdict.problems] == [
        (0, "no-scope", "template"),
        (2, "unclosed", "prometheus"),
        (3, "typo", "template"),
    ]
    assert verdict.message.startswith("3 signalOverrides refused: spec.signalOverrides[0]")
    for where in ("[0] (no-scope)", "[2] (unclosed) for component db", "[3] (typo)"):
        assert f"spec.signalOverrides{where}" in verdict.message
    assert "parse error: unclosed" in verdict.message
    statuses = [problem_status(p).to_wire() for p in verdict.problems]
    assert statuses[1] == {
        "index": 2,
        "name": "unclosed",
        "component": "db",
        "promql": 'rate(x{job="db"}[5m]',
        "error": "parse error: unclosed",
        "foundBy": "prometheus",
    }


def test_many_long_problems_all_fit_in_the_message_each_shortened() -> None:
    long = "x" * 3000
    spec = policy(
        *(
            {"name": f"o{i}", "component": "api", "promql": f"rate({long}{{selector}}[5m]"}
            for i in range(20)
        )
    )
    renderings, problems = render_overrides(spec=spec)
    problems = check_overrides(
        renderings=renderings, checker=FakeQueryChecker(refuse=lambda q: "parse error")
    )
    verdict = refused_verdict(problems)
    assert len(verdict.message) <= MESSAGE_LIMIT
    assert all(f"spec.signalOverrides[{i}] (o{i})" in verdict.message for i in range(20))
    assert len(verdict.problems) == 20
