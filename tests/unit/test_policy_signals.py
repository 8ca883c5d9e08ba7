"""A policy's ``signalOverrides``: the PromQL subset, its offline evaluation, the engine's use."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from pydantic import ValidationError

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.api import DiagnosisPolicySpec
from diagnosis_operator.models.promql_subset import UnsupportedQuery, check_template, parse_subset
from diagnosis_operator.models.signals import Labels, Series, Window
from diagnosis_operator.ports import SignalError
from diagnosis_operator.service.diagnose import run_diagnosis
from diagnosis_operator.service.policy_engine import engine_inputs
from tests.fakes.logs import FakeLogSource
from tests.fakes.metrics import FakePromQLSource, FakeSeriesSource
from tests.unit.bundle_helpers import INCIDENT, T0, write_bundle

COMPONENTS = [
    {"name": "web", "kind": "proxy", "selector": {"job": "web"}, "dependsOn": ["db"]},
    {"name": "db", "kind": "mysql", "selector": {"job": "db"}},
]


def _spec(*overrides: dict[str, str]) -> DiagnosisPolicySpec:
    return DiagnosisPolicySpec.model_validate(
        {"components": COMPONENTS, "signalOverrides": list(overrides)}
    )


@pytest.mark.parametrize(
    "template",
    [
        "max by (instance) (mysql_global_status_threads_running{selector})",
        'sum by (instance) (rate(http_requests_total{{matchers},code=~"5.."}[{range}]))',
        "increase(errors_total{selector}[5m])",
        "sum(irate(x_total{selector}[{range}])) by (pod)",
        "count(up{selector})",
    ],
)
def test_templates_within_the_subset_are_admitted(template: str) -> None:
    check_template(template)
    spec = _spec({"name": "extra", "component": "db", "promql": template})
    assert [signal.component for signal in engine_inputs(spec).signals] == ["db"]


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("rate(a{selector}[{range}]) / rate(b{selector}[{range}])", "cannot read ' / rate"),
        ("histogram_quantile(0.9, rate(b{selector}[{range}]))", "cannot read '0.9"),
        ("sum without (pod) (up{selector})", "'without' is not supported"),
        ("rate(a{selector}[5m] offset 1m)", "unexpected 'offset'"),
        ("rate(a{selector})", "expected ["),
    ],
)
def test_templates_outside_the_subset_are_refused_naming_the_override(
    template: str, says: str
) -> None:
    with pytest.raises(UnsupportedQuery, match="outside the PromQL subset"):
        check_template(template)
    with pytest.raises(ValidationError) as raised:
        _spec({"name": "fancy", "component": "db", "promql": template})
    message = str(raised.value)
    assert "signalOverrides[fancy].promql" in message
    assert says in message


# --- offline evaluation -------------------------------------------------------------

STEP = 15
# Two counters of web growing by 3 (w1) and 6 (w2) per 15 s; w1 resets at 00:15.
METRICS = "\n".join(
    [
        "# TYPE req counter",
        *(
            f'req_total{{job="web",instance="w1"}} {(3 * i) if i < 20 else 3 * (i - 19)} '
            f"{T0 + 600 + STEP * i}"
            for i in range(41)
        ),
        *(f'req_total{{job="web",instance="w2"}} {6 * i} {T0 + 600 + STEP * i}' for i in range(41)),
        "# TYPE up gauge",
        *(f'up{{job="db",instance="d1"}} {i % 2} {T0 + 600 + 60 * i}' for i in range(11)),
        "# EOF",
        "",
    ]
)
WINDOW = Window(start=T0 + 660, end=T0 + 1200)


@pytest.fixture
def source(tmp_path: Path) -> BundleSource:
    folder = write_bundle(tmp_path / "b", incident=INCIDENT, metrics=METRICS, logs="")
    return BundleSource(load_bundle(folder))


def _values(found: list[Series]) -> dict[tuple[tuple[str, str], ...], set[float]]:
    return {tuple(series.labels.items()): {round(v, 6) for v in series.values} for series in found}


def test_rate_increase_and_irate_follow_prometheus(source: BundleSource) -> None:
    # Four samples in (t-1m, t]: 9 over 45 s, extrapolated to the 60 s range: 12.
    rate = source.query_range(promql='rate(req_total{job="web"}[1m])', window=WINDOW, step=60)
    assert _values(rate) == {
        (("instance", "w1"), ("job", "web")): {0.2},  # the reset at 00:15 counts as growth
        (("instance", "w2"), ("job", "web")): {0.4},
    }
    increase = source.query_range(
        promql='increase(req_total{job="web",instance="w2"}[1m])', window=WINDOW, step=60
    )
    assert _values(increase) == {(("instance", "w2"), ("job", "web")): {24.0}}
    irate = source.query_range(
        promql='irate(req_total{job="web",instance=~"w1|w3"}[1m])', window=WINDOW, step=60
    )
    assert _values(irate) == {(("instance", "w1"), ("job", "web")): {0.2}}


def test_aggregations_keep_only_their_labels(source: BundleSource) -> None:
    total = source.query_range(
        promql='sum by (job) (rate(req_total{job="web"}[1m]))', window=WINDOW, step=60
    )
    assert _values(total) == {(("job", "web"),): {0.6}}
    top = source.query_range(
        promql='max(rate(req_total{job="web",instance!="w2"}[1m]))', window=WINDOW, step=60
    )
    assert _values(top) == {(): {0.2}}


def test_an_instant_selector_takes_the_newest_sample(source: BundleSource) -> None:
    [up] = source.query_range(promql='up{job="db"}', window=WINDOW, step=60)
    assert up.values == tuple(float(i % 2) for i in range(1, 11))


def test_queries_outside_the_subset_are_signal_errors(source: BundleSource) -> None:
    with pytest.raises(SignalError, match="outside the supported PromQL subset"):
        source.query_range(promql='up{job="db"} * 2', window=WINDOW, step=60)


# --- the engine analyses them ----------------------------------------------------

ENGINE_WINDOW = Window(start=T0, end=T0 + 3600)


def test_policy_signals_become_signals_of_their_component() -> None:
    spec = _spec(
        {"name": "lock-waits", "component": "db", "promql": "max by (instance) (waits{selector})"}
    )
    inputs = engine_inputs(spec)
    points = [(T0 + s, 1.0 if s < 2400 else 400.0) for s in range(0, 3601, 15)]
    answer = Series(
        name="",
        labels=Labels({"instance": "d1"}),
        timestamps=tuple(t for t, _ in points),
        values=tuple(v for _, v in points),
    )
    promql = FakePromQLSource(answers={inputs.signals[0].promql: [answer]})
    result = run_diagnosis(
        topology=inputs.topology,
        window=ENGINE_WINDOW,
        symptom=None,
        series=FakeSeriesSource(raw=[]),
        logs=FakeLogSource(),
        now=ENGINE_WINDOW.end,
        settings=inputs.settings,
        policy_signals=inputs.signals,
        promql=promql,
    )
    assert promql.asked == ['max by (instance) (waits{job="db"})']
    [signal] = [k for k in result.key_signals if k.signal == "lock-waits"]
    assert signal.component == "db" and signal.anomalous
    assert signal.query == 'max by (instance) (waits{job="db"})'


def test_without_a_promql_source_a_policy_signal_is_a_warning() -> None:
    inputs = engine_inputs(
        _spec({"name": "lock-waits", "component": "db", "promql": "max(waits{selector})"})
    )
    result = run_diagnosis(
        topology=inputs.topology,
        window=ENGINE_WINDOW,
        symptom=None,
        series=FakeSeriesSource(raw=[]),
        logs=FakeLogSource(),
        now=ENGINE_WINDOW.end,
        policy_signals=inputs.signals,
    )
    assert any("policy signal lock-waits not collected" in w for w in result.warnings)


def test_parse_subset_reads_the_parts() -> None:
    query = parse_subset('sum by (instance) (rate(x_total{a="b",c=~"5.."}[1m30s]))')
    assert (query.aggregation, query.by, query.function) == ("sum", ("instance",), "rate")
    assert (query.metric, query.range_seconds, query.equalities) == ("x_total", 90.0, {"a": "b"})


def test_ranges_are_read_as_prometheus_reads_them() -> None:
    assert parse_subset('rate(x{a="b"}[1h30m15s])').range_seconds == 5415.0
    with pytest.raises(UnsupportedQuery, match="largest to smallest"):
        parse_subset('rate(x{a="b"}[30s5m])')


def test_aggregations_equal_python_over_each_instant(tmp_path: Path) -> None:
    """sum, avg, min, max and count over present values only, bit for bit as Python's loops.

    The members hold sums that depend on their order (0.1 + 0.2 + 0.3), NaN,
    -0.0 against 0.0, and gaps longer than the lookback (absent instants).
    """
    values = {
        "a": [0.1, float("nan"), -0.0, 1e16, 0.3, 2.5],
        "b": [0.2, 1.0, 0.0, 1.0, float("nan"), -1.5],
        "c": [0.3, 2.0, -0.0, -1e16, 0.1, 7.0],
    }
    lines = ["# TYPE g gauge", f'g{{job="web"}} 1 {T0 + 600}']
    for instance, row in values.items():
        for i, value in enumerate(row):
            if instance == "b" and i in (2, 3):
                continue  # b is absent at the third and fourth instants (over 5 m since its last)
            lines.append(f'g{{job="db",instance="{instance}"}} {value!r} {T0 + 600 + 400 * i}')
    metrics = "\n".join([*lines, "# EOF", ""])
    folder = write_bundle(tmp_path / "b", incident=INCIDENT, metrics=metrics, logs="")
    source = BundleSource(load_bundle(folder))
    window = Window(start=T0 + 600, end=T0 + 600 + 400 * 5)
    alone = {
        instance: dict(zip(found.timestamps, found.values, strict=True))
        for instance in values
        for found in source.query_range(
            promql=f'g{{job="db",instance="{instance}"}}', window=window, step=400
        )
    }
    instants = sorted({ts for points in alone.values() for ts in points})
    python: dict[str, Callable[[list[float]], float]] = {
        "sum": lambda present: float(sum(present)),
        "avg": lambda present: float(sum(present) / len(present)),
        "min": lambda present: float(min(present)),
        "max": lambda present: float(max(present)),
        "count": lambda present: float(len(present)),
    }
    for name, combine in python.items():
        [found] = source.query_range(promql=f'{name}(g{{job="db"}})', window=window, step=400)
        expected = [
            combine([alone[i][ts] for i in sorted(alone) if ts in alone[i]]) for ts in instants
        ]
        assert found.timestamps == tuple(instants)
        assert [repr(value) for value in found.values] == [repr(value) for value in expected], name
