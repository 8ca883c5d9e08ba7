"""A policy's signalOverrides put to a real Prometheus: its own refusals come back.

Also the operator's verdict (``handlers.policy.check_promql``): InvalidPromQL
for a refused override, Accepted for good ones, and PrometheusUnavailable
(retried, bounded) when nothing answers; never Invalid for that.
"""

from __future__ import annotations

import socket
from typing import Any, cast

import pytest
from kubernetes import client
from pydantic import ValidationError

from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.api import ConditionStatus, DiagnosisPolicySpec
from diagnosis_operator.entrypoints.kopf.context import OperatorContext
from diagnosis_operator.entrypoints.kopf.kube import Kube
from diagnosis_operator.entrypoints.kopf.policy import check_promql
from diagnosis_operator.service.policy_check import check_overrides, render_overrides
from diagnosis_operator.settings import OperatorSettings
from tests.services.prometheus import PrometheusServer

pytestmark = pytest.mark.integration

COMPONENTS: list[dict[str, Any]] = [
    {"name": "api", "kind": "app", "selector": {"job": "api"}},
    {"name": "web", "kind": "app", "selector": {"job": 'we"b\\', "env": "{range}"}},
]
GOOD = {"name": "good", "componentKind": "app",
        "promql": "sum by (instance) (rate(http_requests_total{selector}[{range}]))"}  # fmt: skip
# Within the PromQL subset policies may use (models/promql_subset.py), so admitted,
# but Prometheus' regexp dialect (RE2) has no lookaround: Prometheus refuses them.
LOOKAHEAD = {"name": "lookahead", "component": "api",
             "promql": 'rate(http_requests_total{{matchers},route=~"/a(?=b)"}[5m])'}  # fmt: skip
LOOKBEHIND = {
    "name": "lookbehind",
    "componentKind": "app",
    "promql": 'sum by (instance) (rate(x_total{{matchers},c=~"(?<!4)0"}[{range}]))',
}
# Outside the subset: refused before any Prometheus is asked.
UNCLOSED = {"name": "unclosed", "component": "api",
            "promql": "rate(http_requests_total{selector}[5m]"}  # fmt: skip


def policy(
    *overrides: dict[str, Any], signals: dict[str, Any] | None = None
) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {"components": COMPONENTS, "signalOverrides": list(overrides), "signals": signals or {}}
    )


def test_prometheus_refusals_come_back_in_its_own_words(
    prometheus_server: PrometheusServer,
) -> None:
    renderings, problems = render_overrides(spec=policy(GOOD, LOOKAHEAD, LOOKBEHIND))
    assert problems == [] and len(renderings) == 5
    rendered = 'rate(http_requests_total{job="api",route=~"/a(?=b)"}[5m])'
    with PrometheusAdapter(prometheus_server.url) as prometheus:
        refused = check_overrides(renderings=renderings, checker=prometheus)
        # Prometheus' own answer, asked directly, is what the problem carries.
        own = prometheus.check_query(promql=rendered)
    by_name = {problem.override: problem for problem in refused}
    assert sorted(by_name) == ["lookahead", "lookbehind"]
    assert own is not None and "(?=" in own
    assert by_name["lookahead"].error == own
    assert by_name["lookahead"].promql == rendered
    assert "(?<" in by_name["lookbehind"].error
    assert by_name["lookbehind"].component == "api"


def test_promql_outside_the_subset_is_refused_before_prometheus_is_asked() -> None:
    with pytest.raises(ValidationError, match=r"signalOverrides\[unclosed\].promql: outside"):
        policy(UNCLOSED)


def test_good_overrides_give_no_problems_even_for_awkward_selectors(
    prometheus_server: PrometheusServer,
) -> None:
    renderings, problems = render_overrides(spec=policy(GOOD))
    assert problems == [] and [r.component for r in renderings] == ["api", "web"]
    with PrometheusAdapter(prometheus_server.url) as prometheus:
        assert check_overrides(renderings=renderings, checker=prometheus) == []


def _context(**settings: Any) -> OperatorContext:
    # No Secret is referenced, so the apiserver client is never used.
    return OperatorContext(
        settings=OperatorSettings(**{"all_namespaces": True, "prometheus_url": None, **settings}),
        configuration=client.Configuration(),
        kube=cast(Kube, None),
    )


def test_the_operator_verdict_names_the_override_and_prometheus_error(
    prometheus_server: PrometheusServer,
) -> None:
    spec = policy(GOOD, LOOKAHEAD, signals={"prometheus": {"url": prometheus_server.url}})
    verdict = check_promql(spec=spec, namespace="shop", context=_context(), retry=0)
    assert (verdict.status, verdict.reason, verdict.retry) == (
        ConditionStatus.FALSE, "InvalidPromQL", False
    )  # fmt: skip
    assert (
        "signalOverrides[" in verdict.message
        and "(lookahead) for component api: " in verdict.message
    )
    assert "(?=" in verdict.message
    # The operator's default Prometheus is used when the policy names none.
    fine = check_promql(
        spec=policy(GOOD), namespace="shop",
        context=_context(prometheus_url=prometheus_server.url), retry=0,
    )  # fmt: skip
    assert (fine.status, fine.reason) == (ConditionStatus.TRUE, "Accepted"), fine


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_prometheus_leaves_the_policy_unchecked_and_retries_bounded() -> None:
    url = f"http://127.0.0.1:{_closed_port()}"
    spec = policy(LOOKAHEAD, signals={"prometheus": {"url": url, "timeout": "2s"}})
    context = _context(source_retries=2)
    first = check_promql(spec=spec, namespace="shop", context=context, retry=0)
    assert (first.status, first.reason, first.retry) == (
        ConditionStatus.UNKNOWN, "PrometheusUnavailable", True
    )  # fmt: skip
    assert url in first.message and "retry 1 of 2" in first.message
    last = check_promql(spec=spec, namespace="shop", context=context, retry=2)
    assert (last.status, last.retry) == (ConditionStatus.UNKNOWN, False)
    assert "gave up after 2 retries" in last.message


def test_without_any_prometheus_the_check_says_so() -> None:
    verdict = check_promql(spec=policy(GOOD), namespace="shop", context=_context(), retry=0)
    assert (verdict.status, verdict.reason) == (ConditionStatus.UNKNOWN, "NoPrometheus")
