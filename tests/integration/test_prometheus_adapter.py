"""PrometheusAdapter against the real Prometheus, backfilled with promtool."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pytest

from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.models.signals import Labels, Series, Window
from diagnosis_operator.ports import SignalError
from tests.fakes.metrics import FakeSeriesSource, by_family, openmetrics_text, series
from tests.services.ports import free_port
from tests.services.prometheus import PrometheusFactory, PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration

START = 1_765_441_800.0  # 2025-12-11T08:30:00Z

AWKWARD_VALUES = [
    'say "hi"',
    "C:\\temp\\",
    "two\nlines",
    '"} or vector(1) #',
    "üñí`'{}",
]


RAW = [
    # Every 15 s for 20 minutes, with a fractional first sample.
    series(
        "shop_requests_total",
        {"job": "shop", "instance": "a"},
        [(START + 0.5, 1.0)] + [(START + 15 * i, float(i * 10)) for i in range(1, 80)],
    ),
    # Two samples 10 minutes apart: the lookback (5 min) leaves holes between.
    series(
        "shop_temperature",
        {"job": "shop", "instance": "b"},
        [(START + 60, 21.5), (START + 660, 23.25)],
    ),
    # Another job: must not be selected.
    series("shop_requests_total", {"job": "other"}, [(START + 15 * i, 5.0) for i in range(80)]),
] + [
    series("awkward_info", {"job": "awkward", "value": value}, [(START + 30, float(index))])
    for index, value in enumerate(AWKWARD_VALUES)
]


@pytest.fixture(scope="module")
def backfilled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    workdir = tmp_path_factory.mktemp("prometheus-adapter")
    om = workdir / "metrics.om"
    om.write_text(openmetrics_text(by_family(RAW)))
    server = start_prometheus(workdir=workdir / "server", openmetrics=om)
    yield server
    server.process.stop()


def _as_dict(found: Sequence[Series]) -> dict[tuple[str, Labels], tuple[tuple[float, ...], ...]]:
    return {(s.name, s.labels): (s.timestamps, s.values) for s in found}


@pytest.mark.parametrize("step", [15.0, 60.0, 7.5])
def test_range_series_matches_prometheus_lookback_semantics(
    backfilled: PrometheusServer, step: float
) -> None:
    window = Window(start=START - 30, end=START + 20 * 60 + 0.25)
    with PrometheusAdapter(backfilled.url) as prometheus:
        live = prometheus.range_series(selector={"job": "shop"}, window=window, step=step)
    expected = FakeSeriesSource(RAW).range_series(
        selector={"job": "shop"}, window=window, step=step
    )
    assert _as_dict(live) == _as_dict(expected)
    assert {s.name for s in live} == {"shop_requests_total", "shop_temperature"}


@pytest.mark.parametrize("value", AWKWARD_VALUES)
def test_escaped_label_values_select_exactly_their_series(
    backfilled: PrometheusServer, value: str
) -> None:
    window = Window(start=START, end=START + 120)
    with PrometheusAdapter(backfilled.url) as prometheus:
        found = prometheus.range_series(
            selector={"job": "awkward", "value": value}, window=window, step=30
        )
    assert [(s.labels["value"], s.values[0]) for s in found] == [
        (value, float(AWKWARD_VALUES.index(value)))
    ]


def test_split_windows_give_the_same_series(backfilled: PrometheusServer) -> None:
    window = Window(start=START, end=START + 20 * 60)
    with (
        PrometheusAdapter(backfilled.url) as whole,
        PrometheusAdapter(backfilled.url, max_points=7) as split,
    ):
        expected = whole.range_series(selector={"job": "shop"}, window=window, step=15)
        pieces = split.range_series(selector={"job": "shop"}, window=window, step=15)
    assert _as_dict(pieces) == _as_dict(expected)
    assert len(expected[0].timestamps) > 7


def test_query_range_and_instant_with_real_promql(backfilled: PrometheusServer) -> None:
    window = Window(start=START + 300, end=START + 600)
    with PrometheusAdapter(backfilled.url) as prometheus:
        [rate] = prometheus.query_range(
            promql='sum(rate(shop_requests_total{job="shop"}[2m]))', window=window, step=60
        )
        [now] = prometheus.query_instant(promql='shop_requests_total{job="shop"}', at=START + 300)
    # 10 per 15 s, every step.
    assert rate.values == pytest.approx([10 / 15] * 6)
    assert rate.name == ""
    assert now.values == (200.0,)


def test_bad_queries_raise_with_prometheus_answer(backfilled: PrometheusServer) -> None:
    window = Window(start=START, end=START + 60)
    with PrometheusAdapter(backfilled.url) as prometheus:
        with pytest.raises(SignalError) as raised:
            prometheus.query_range(promql="sum(rate(x[5m])", window=window, step=15)
        assert prometheus.check_query(promql="sum(", at=START) is not None
        assert prometheus.check_query(promql='sum(rate(up{job="x"}[5m]))', at=START) is None
    assert raised.value.status == 400
    assert "parse error" in raised.value.body
    assert raised.value.window == window


def test_too_many_points_without_splitting_is_refused_by_prometheus(
    backfilled: PrometheusServer,
) -> None:
    # Proves the limit the adapter splits for is real: with splitting
    # switched off (a huge max_points), Prometheus refuses the query.
    window = Window(start=START, end=START + 11_001)
    with (
        PrometheusAdapter(backfilled.url, max_points=10**9) as unsplit,
        pytest.raises(SignalError) as raised,
    ):
        unsplit.range_series(selector={"job": "shop"}, window=window, step=1)
    assert raised.value.status == 400
    assert "11,000" in raised.value.body or "11000" in raised.value.body
    with PrometheusAdapter(backfilled.url) as split:
        found = split.range_series(selector={"job": "shop"}, window=window, step=1)
    assert found


def test_unreachable_prometheus_is_a_signal_error() -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    with (
        PrometheusAdapter(closed, retries=2, backoff=0.01) as prometheus,
        pytest.raises(SignalError) as raised,
    ):
        prometheus.query_instant(promql="up", at=START)
    assert raised.value.status is None
    assert "cannot reach" in str(raised.value)
    # urllib3's Retry asked twice more before giving up.
    assert "Max retries exceeded" in str(raised.value)


def test_an_empty_prometheus_answers_no_series(
    prometheus_factory: PrometheusFactory,
) -> None:
    server = prometheus_factory()
    with PrometheusAdapter(server.url) as prometheus:
        assert (
            prometheus.range_series(
                selector={"job": "shop"}, window=Window(start=START, end=START + 60), step=15
            )
            == []
        )
