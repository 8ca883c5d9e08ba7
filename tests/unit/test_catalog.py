"""The signal catalog: templates, kinds, policy overrides and escaping."""

from __future__ import annotations

import json
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from diagnosis_operator.catalog.signals import (
    DEFAULT_CATALOG,
    CatalogError,
    SignalTemplate,
    catalog_for,
    parse_template,
    render,
    render_component,
)
from diagnosis_operator.models.querytext import QueryBuildError
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind


def names(kind: ComponentKind, **options: object) -> set[str]:
    return {t.name for t in catalog_for(kind, **options)}  # type: ignore[arg-type]


def test_every_default_template_is_a_valid_scoped_template() -> None:
    assert len({t.name for t in DEFAULT_CATALOG}) == len(DEFAULT_CATALOG)
    for template in DEFAULT_CATALOG:
        checked = parse_template(name=template.name, promql=template.promql)
        assert checked.promql == template.promql


def test_kinds_get_their_exporters_signals() -> None:
    mysql, redis, app, proxy = (
        names(ComponentKind.MYSQL),
        names(ComponentKind.REDIS),
        names(ComponentKind.APP),
        names(ComponentKind.PROXY),
    )
    assert {"mysql_threads_connected", "mysql_deadlocks_rate", "mysql_slow_queries_rate"} <= mysql
    assert {"redis_slowlog_length", "redis_command_latency_mean"} <= redis
    assert {"error_ratio", "latency_p99", "request_rate"} <= app
    assert {"ingress_error_ratio", "nginx_request_rate", "error_ratio"} <= proxy
    assert {"up", "process_cpu", "container_cpu"} <= mysql & redis & app & proxy
    assert not any(name.startswith("redis_") for name in mysql)
    assert not any(name.startswith(("mysql_", "ingress_")) for name in app)


def test_render_fills_selector_matchers_and_range() -> None:
    text = render(
        'sum(rate(m{{matchers},code="500"}[{range}])) / sum(rate(m{selector}[{range}]))',
        selector={"job": "api", "namespace": "shop"},
        rate_window=90,
    )
    assert text == (
        'sum(rate(m{job="api",namespace="shop",code="500"}[90s]))'
        ' / sum(rate(m{job="api",namespace="shop"}[90s]))'
    )


def test_render_adds_the_instance() -> None:
    text = render("up{selector}", selector={"job": "db"}, instance="10.1.2.3:9104")
    assert text == 'up{instance="10.1.2.3:9104",job="db"}'


@pytest.mark.parametrize(
    "value",
    ['a"b', "back\\slash", "new\nline", "{range}", "{selector}", '"} or vector(1) #'],
)
def test_label_values_are_quoted_and_never_substituted_again(value: str) -> None:
    text = render("rate(m{selector}[{range}])", selector={"job": value}, rate_window=60)
    assert text == "rate(m{job=" + json.dumps(value, ensure_ascii=False) + "}[1m])"
    assert "\n" not in text


def test_render_refuses_what_cannot_be_made_safe() -> None:
    with pytest.raises(CatalogError):
        render("up{selector}", selector={})
    with pytest.raises(QueryBuildError):
        render("up{selector}", selector={"bad-name": "x"})
    with pytest.raises(QueryBuildError):
        render("rate(up{selector}[{range}])", selector={"job": "x"}, rate_window=0)


@pytest.mark.parametrize(
    ("name", "promql", "complaint"),
    [
        ("Bad Name", "up{selector}", "signal name"),
        ("queue", "   ", "empty"),
        ("queue", "sum(queue_depth)", "must use {selector} or {matchers}"),
        ("queue", "queue_depth{selector}[{window}]", "unknown placeholder(s) {window}"),
    ],
)
def test_policy_templates_are_checked_with_clear_errors(
    name: str, promql: str, complaint: str
) -> None:
    with pytest.raises(CatalogError) as raised:
        parse_template(name=name, promql=promql)
    assert complaint in str(raised.value)


def test_overrides_replace_add_and_remove() -> None:
    overrides: dict[str, str | SignalTemplate | None] = {
        "mysql_threads_connected": "max(mysql_global_status_threads_connected{selector})",
        "orders_backlog": "sum(orders_pending{selector})",
        "mysql_deadlocks_rate": None,
    }
    chosen = {t.name: t for t in catalog_for(ComponentKind.MYSQL, overrides=overrides)}
    assert chosen["mysql_threads_connected"].promql == (
        "max(mysql_global_status_threads_connected{selector})"
    )
    assert "orders_backlog" in chosen
    assert "mysql_deadlocks_rate" not in chosen
    # Other kinds are not touched by a mysql component's overrides.
    assert "mysql_threads_connected" not in names(ComponentKind.REDIS)
    assert "mysql_deadlocks_rate" in names(ComponentKind.MYSQL)


def test_a_bad_override_names_the_signal() -> None:
    with pytest.raises(CatalogError, match="'orders_backlog'"):
        catalog_for(ComponentKind.APP, overrides={"orders_backlog": "sum(orders_pending)"})


def test_render_component_uses_the_topology_selector() -> None:
    component = Component(
        name="cache",
        kind=ComponentKind.REDIS,
        selector=Labels({"job": "redis", "namespace": 'we"ird'}),
    )
    rendered = {s.name: s for s in render_component(component, rate_window=300)}
    assert rendered["redis_slowlog_length"].promql == (
        'max by (instance) (redis_slowlog_length{job="redis",namespace="we\\"ird"})'
    )
    assert rendered["redis_slowlog_length"].component == "cache"
    assert "[5m]" in rendered["redis_commands_rate"].promql
    assert all(
        "{selector}" not in s.promql and "{range}" not in s.promql for s in rendered.values()
    )


_label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,10}", fullmatch=True)


@given(st.dictionaries(_label_names, st.text(max_size=20), min_size=1, max_size=4))
def test_rendered_matchers_decode_back_to_the_selector(selector: dict[str, str]) -> None:
    text = render("up{selector}", selector=selector)
    assert text.startswith("up{") and text.endswith("}")
    # Each matcher is name="json-escaped value"; decoding gives the input back.
    decoded = {
        match.group(1): json.loads(match.group(2))
        for match in re.finditer(r'([a-zA-Z_][a-zA-Z0-9_]*)=("(?:[^"\\]|\\.)*")', text)
    }
    assert decoded == selector
