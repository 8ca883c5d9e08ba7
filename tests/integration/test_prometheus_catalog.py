"""Every catalog template parses in the real Prometheus and a few compute what they say."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.catalog.signals import DEFAULT_CATALOG, SignalTemplate, render
from diagnosis_operator.models.signals import Series, Window
from tests.fakes.metrics import by_family, openmetrics_text, series
from tests.services.prometheus import PrometheusServer, start_prometheus

pytestmark = pytest.mark.integration

START = 1_765_441_800.0
STEPS = range(0, 41)  # 10 minutes at 15 s


@pytest.mark.parametrize("template", DEFAULT_CATALOG, ids=lambda t: t.name)
@pytest.mark.parametrize(
    "selector",
    [{"job": "api"}, {"job": 'we"ird\\job\n', "namespace": "{range}"}],
    ids=["plain", "awkward"],
)
def test_prometheus_accepts_every_catalog_template(
    prometheus_server: PrometheusServer, template: SignalTemplate, selector: dict[str, str]
) -> None:
    promql = render(template, selector=selector, instance="10.0.0.1:9100", rate_window=60)
    with PrometheusAdapter(prometheus_server.url) as prometheus:
        assert prometheus.check_query(promql=promql, at=START) is None, promql


def _counter(
    name: str, labels: dict[str, str], per_step: float, start_value: float = 0.0
) -> Series:
    return series(name, labels, [(START + 15 * i, start_value + per_step * i) for i in STEPS])


def _gauge(name: str, labels: dict[str, str], value: float) -> Series:
    return series(name, labels, [(START + 15 * i, value) for i in STEPS])


@pytest.fixture(scope="module")
def exporters(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrometheusServer]:
    api = {"job": "api"}
    raw = [
        # Instance a: 30 ok + 10 errors per 15 s (by `code`); b: ok only.
        _counter("http_requests_total", {**api, "instance": "a", "code": "200"}, 30),
        _counter("http_requests_total", {**api, "instance": "a", "code": "500"}, 10),
        _counter("http_requests_total", {**api, "instance": "b", "code": "200"}, 20),
        # Another app labels with `status`: 1 in 4 fails.
        _counter("http_requests_total", {"job": "web", "instance": "w", "status": "200"}, 30),
        _counter("http_requests_total", {"job": "web", "instance": "w", "status": "503"}, 10),
        _gauge("mysql_global_status_threads_connected", {"job": "db", "instance": "m"}, 50),
        _gauge("mysql_global_variables_max_connections", {"job": "db", "instance": "m"}, 200),
        _counter("redis_keyspace_hits_total", {"job": "cache", "instance": "r"}, 90),
        _counter("redis_keyspace_misses_total", {"job": "cache", "instance": "r"}, 30),
    ]
    workdir: Path = tmp_path_factory.mktemp("catalog")
    om = workdir / "m.om"
    om.write_text(openmetrics_text(by_family(raw)))
    server = start_prometheus(workdir=workdir, openmetrics=om)
    yield server
    server.process.stop()


def _by_instance(server: PrometheusServer, name: str, selector: dict[str, str]) -> dict[str, float]:
    template = next(t for t in DEFAULT_CATALOG if t.name == name)
    window = Window(start=START + 300, end=START + 540)
    with PrometheusAdapter(server.url) as prometheus:
        found = prometheus.query_range(
            promql=render(template, selector=selector, rate_window=120), window=window, step=60
        )
    result: dict[str, float] = {}
    for member in found:
        assert len(set(member.values)) == 1, member
        result[member.labels.get("instance", "")] = member.values[0]
    return result


def test_error_ratio_by_code_with_zero_for_a_healthy_instance(exporters: PrometheusServer) -> None:
    assert _by_instance(exporters, "error_ratio", {"job": "api"}) == pytest.approx(
        {"a": 0.25, "b": 0.0}
    )


def test_error_ratio_by_status_label(exporters: PrometheusServer) -> None:
    assert _by_instance(exporters, "error_ratio", {"job": "web"}) == pytest.approx({"w": 0.25})


def test_mysql_connection_usage(exporters: PrometheusServer) -> None:
    assert _by_instance(exporters, "mysql_connection_usage", {"job": "db"}) == pytest.approx(
        {"m": 0.25}
    )


def test_redis_keyspace_miss_ratio(exporters: PrometheusServer) -> None:
    assert _by_instance(exporters, "redis_keyspace_miss_ratio", {"job": "cache"}) == pytest.approx(
        {"r": 0.25}
    )
