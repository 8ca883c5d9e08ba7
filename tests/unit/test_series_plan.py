"""The planned series queries: escaping, budgets, and the bundle evaluating the same PromQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.core.series_plan import (
    MAXED,
    RAW,
    SKIPPED_NAMES,
    SUMMED,
    SeriesPlan,
    SeriesQuery,
    allowance,
    cut,
    discovery_query,
    plan_series,
)
from diagnosis_operator.models.promql_subset import UnsupportedQuery, parse_subset
from diagnosis_operator.models.querytext import QueryBuildError
from diagnosis_operator.models.signals import Labels, MetricType, Series, Window
from diagnosis_operator.models.topology import Component, ComponentKind
from diagnosis_operator.service.series_collect import component_series
from tests.unit.bundle_helpers import T0, write_bundle

WINDOW = Window(start=T0 + 600, end=T0 + 1200)
HOSTILE = 'x"}) or vector(1) # \\ \n'


def _component(selector: dict[str, str], kind: ComponentKind = ComponentKind.APP) -> Component:
    return Component(name="api", kind=kind, selector=Labels(selector))


def test_discovery_counts_families_over_the_window_and_the_lookback() -> None:
    query = discovery_query({"job": "api"}, WINDOW)
    assert query == (
        'count by (__name__) (last_over_time({job="api",__name__!~".+_bucket|.+_created"}[15m]))'
    )
    parsed = parse_subset(query)
    assert (parsed.aggregation, parsed.by, parsed.function) == (
        "count",
        ("__name__",),
        "last_over_time",
    )


def test_label_values_are_quoted_in_every_planned_query() -> None:
    component = _component({"job": HOSTILE})
    families = {"http_requests_total": 5000, "memory_bytes": 10}
    types = {"memory_bytes": MetricType.GAUGE}
    texts = [discovery_query(dict(component.selector), WINDOW)]
    texts += [
        q.promql
        for q in plan_series(component=component, families=families, types=types, limit=10).queries
    ]
    for text in texts:
        assert 'job="x\\"}) or vector(1) # \\\\ \\n"' in text
        assert parse_subset(text).equalities["job"] == HOSTILE  # one matcher, the value intact


def test_a_bad_label_name_or_an_empty_selector_is_refused() -> None:
    with pytest.raises(QueryBuildError):
        discovery_query({"job=~": "x"}, WINDOW)
    with pytest.raises(QueryBuildError):
        plan_series(component=_component({}), families={"a": 1}, types={}, limit=10)


def test_within_its_budget_a_component_gets_everything_the_engine_reads() -> None:
    families = {"http_requests_total": 10, "http_duration_seconds_bucket": 500, "x_created": 3}
    plan = plan_series(component=_component({"job": "api"}), families=families, types={}, limit=10)
    assert plan.queries == (
        SeriesQuery(promql=f'{{job="api",__name__!~"{SKIPPED_NAMES}"}}', what=RAW),
    )
    assert not plan.aggregated
    assert plan.notes == ()


def test_over_its_budget_counters_are_summed_and_gauges_maxed_by_instance() -> None:
    families = {
        "http_requests_total": 3000,
        "http_request_duration_seconds_count": 3000,
        "rpc_latency_seconds": 40,  # a summary's quantiles: levels
        "queue_depth": 20,
        "mysterious": 20,
    }
    types = {
        "rpc_latency_seconds": MetricType.SUMMARY,
        "queue_depth": MetricType.GAUGE,
        "http_request_duration_seconds_count": MetricType.HISTOGRAM,
    }
    plan = plan_series(
        component=_component({"job": "api"}), families=families, types=types, limit=100
    )
    assert plan.aggregated
    summed, maxed = plan.queries
    assert summed.what == SUMMED and maxed.what == MAXED
    assert summed.promql.startswith("sum by (__name__, job, instance, pod, namespace, ")
    assert '__name__=~"http_request_duration_seconds_count|http_requests_total"' in summed.promql
    assert '__name__=~"mysterious|queue_depth|rpc_latency_seconds"' in maxed.promql
    for label in ("code", "status", "quantile"):
        assert label in parse_subset(summed.promql).by
    assert "6080 series over the component's budget of 100" in plan.notes[0]


def test_an_exporters_self_metrics_are_left_out_when_aggregated() -> None:
    families = {
        "mysql_global_status_threads_running": 50,
        "go_goroutines": 50,
        "promhttp_x_total": 9,
    }
    plan = plan_series(
        component=_component({"job": "db"}, ComponentKind.MYSQL),
        families=families,
        types={},
        limit=10,
    )
    text = " ".join(q.promql for q in plan.queries)
    assert "mysql_global_status_threads_running" in text
    assert "go_goroutines" not in text and "promhttp" not in text
    assert "2 exporter self-metric families left out" in plan.notes[0]


def test_family_names_are_escaped_as_regular_expressions() -> None:
    plan = plan_series(
        component=_component({"job": "api"}), families={"a.b:c_total": 50}, types={}, limit=1
    )
    assert '__name__=~"a\\\\.b:c_total"' in plan.queries[0].promql
    assert parse_subset(plan.queries[0].promql).matchers[-1].matches("a.b:c_total")
    assert not parse_subset(plan.queries[0].promql).matchers[-1].matches("aXb:c_total")


def test_the_diagnosis_budget_is_shared_between_components() -> None:
    assert allowance(1, per_query=2000, per_diagnosis=20_000) == 2000
    assert allowance(40, per_query=2000, per_diagnosis=20_000) == 500
    assert allowance(0, per_query=5, per_diagnosis=7) == 5
    assert allowance(100, per_query=5, per_diagnosis=7) == 1


def _series(name: str, pod: str) -> Series:
    return Series(name=name, labels=Labels({"pod": pod}), timestamps=(1.0,), values=(1.0,))


def test_a_cut_keeps_the_catalogues_families_first_and_says_so() -> None:
    plan = SeriesPlan(queries=(), limit=3, priority=("mysql_global_status_threads_running", "zzz"))
    found = (
        [_series("zzz", p) for p in "ab"]
        + [_series("mysql_global_status_threads_running", p) for p in "ab"]
        + [_series("aaa", "a")]
    )
    kept, note = cut(found, plan=plan)
    assert [s.name for s in kept] == ["mysql_global_status_threads_running"] * 2 + ["zzz"]
    assert note == "5 series over the budget of 3: 2 left out (families aaa)"
    assert cut(found[:3], plan=plan) == (found[:3], None)


# --- The bundle evaluates the same PromQL ----------------------------------------------

METRICS = "\n".join(
    [
        "# TYPE up gauge",  # the bundle's own components (bundle_helpers.INCIDENT)
        f'up{{job="web"}} 1 {T0 + 600}',
        f'up{{job="db"}} 1 {T0 + 600}',
        "# TYPE http_requests counter",
        *(
            f'http_requests_total{{job="api",pod="{pod}",code="{code}",route="{route}"}} '
            f"{step * (2 if code == '500' else 5)} {T0 + 600 + step * 15}"
            for pod in ("p1", "p2")
            for code in ("200", "500")
            for route in ("/a", "/b")
            for step in range(41)
        ),
        "# TYPE rss_bytes gauge",
        *(
            f'rss_bytes{{job="api",pod="p1",area="{a}"}} {v} {T0 + 600 + s * 15}'
            for a, v in (("x", 3), ("y", 9))
            for s in range(41)
        ),
        "# TYPE lat histogram",
        *(
            f'lat_bucket{{job="api",pod="p1",le="{le}"}} {s} {T0 + 600 + s * 15}'
            for le in ("1", "+Inf")
            for s in range(41)
        ),
        *(f'lat_count{{job="api",pod="p1"}} {s} {T0 + 600 + s * 15}' for s in range(41)),
        "# EOF",
    ]
)


@pytest.fixture
def bundle_source(tmp_path: Path) -> BundleSource:
    return BundleSource(load_bundle(write_bundle(tmp_path / "b", metrics=METRICS + "\n", logs="")))


def test_the_bundle_counts_families_like_prometheus(bundle_source: BundleSource) -> None:
    found = bundle_source.query_instant(
        promql=discovery_query({"job": "api"}, WINDOW), at=WINDOW.end
    )
    # Buckets are never read by the engine: not counted either.
    assert {s.name: s.values[-1] for s in found} == {
        "http_requests_total": 8.0,
        "rss_bytes": 2.0,
        "lat_count": 1.0,
    }


def test_within_the_budget_the_planned_series_are_the_raw_ones_the_engine_reads(
    bundle_source: BundleSource,
) -> None:
    component = _component({"job": "api"})
    planned = component_series(
        bundle_source, component=component, window=WINDOW, step=15.0, limit=100
    )
    raw = component_series(
        bundle_source, component=component, window=WINDOW, step=15.0, limit=100, aggregate=False
    )
    assert planned.notes == []
    assert planned.series == [s for s in raw.series if not s.name.endswith("_bucket")]
    assert {s.type for s in planned.series if s.name == "http_requests_total"} == {
        MetricType.COUNTER
    }


def test_over_the_budget_the_bundle_sums_counters_and_maxes_gauges_by_instance(
    bundle_source: BundleSource,
) -> None:
    component = _component({"job": "api"})
    answer = component_series(bundle_source, component=component, window=WINDOW, step=15.0, limit=6)
    by_key = {(s.name, tuple(s.labels.items())): s for s in answer.series}
    total = by_key[("http_requests_total", (("code", "500"), ("job", "api"), ("pod", "p2")))]
    assert total.values[-1] == 2 * 40 * 2  # the two routes summed
    assert total.type is MetricType.COUNTER
    assert by_key[("rss_bytes", (("job", "api"), ("pod", "p1")))].values[-1] == 9
    assert len(answer.series) == 6 and "series over the component's budget of 6" in answer.notes[0]


def test_the_subset_refuses_a_selector_that_matches_everything() -> None:
    with pytest.raises(UnsupportedQuery, match="non-empty matcher"):
        parse_subset('{__name__=~".*"}')
    assert parse_subset('{__name__=~".+"}').metric == ""


def test_functions_drop_the_metric_name_but_last_over_time_keeps_it(
    bundle_source: BundleSource,
) -> None:
    rated = bundle_source.query_range(
        promql='sum by (__name__, pod) (rate(http_requests_total{job="api"}[1m]))',
        window=WINDOW,
        step=60.0,
    )
    assert {s.name for s in rated} == {""}  # as Prometheus: rate drops __name__
    assert sorted(s.labels["pod"] for s in rated) == ["p1", "p2"]
    last = bundle_source.query_instant(
        promql='last_over_time(rss_bytes{job="api",area="y"}[20m])', at=WINDOW.end
    )
    assert [(s.name, s.values) for s in last] == [("rss_bytes", (9.0,))]
