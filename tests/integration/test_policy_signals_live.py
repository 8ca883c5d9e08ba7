"""A policy signal means the same live and offline: the PromQL subset against real Prometheus.

The bad-pod bundle's metrics are backfilled into a real Prometheus (promtool);
each query of the subset ``signalOverrides`` may use (``models/promql_subset.py``)
is then answered by Prometheus (``PrometheusAdapter.query_range``) and by the
bundle (``BundleSource.query_range``, ``adapters/bundle/promql_eval.py``); the
two answers must agree series for series and point for point.  The rest of a
diagnosis (series, logs) is held equal live and offline by
``test_live_equals_offline.py``; the policy signals enter it through the same
``run_diagnosis`` whichever source answers them.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.models.signals import Series, Window
from tests.services.prometheus import PrometheusFactory

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from examples.incidents import generate as generator  # noqa: E402

pytestmark = pytest.mark.integration

QUERIES = (
    'rate(http_requests_total{app="checkout",code=~"5.."}[2m])',
    'sum by (instance) (rate(http_requests_total{app="checkout",code=~"5.."}[2m]))',
    'increase(process_cpu_seconds_total{app="checkout"}[1m])',
    'irate(process_cpu_seconds_total{app="checkout",instance!="10.244.1.12:8080"}[1m])',
    'max by (instance) (process_resident_memory_bytes{app="checkout"})',
    'avg(process_resident_memory_bytes{app="checkout"})',
    'count(mysql_up{job="orders-mysql"})',
    'mysql_global_status_threads_running{job="orders-mysql"}',
)


def _points(found: list[Series]) -> dict[tuple[tuple[str, str], ...], list[tuple[float, float]]]:
    return {
        tuple(sorted(s.labels.items())): list(zip(s.timestamps, s.values, strict=True))
        for s in found
    }


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_the_subset_is_evaluated_offline_as_prometheus_does(
    tmp_path: Path, prometheus_factory: PrometheusFactory
) -> None:
    folder = generator.generate("bad-pod", tmp_path)
    bundle = load_bundle(folder)
    offline = BundleSource(bundle)
    server = prometheus_factory(openmetrics=folder / "metrics.om")
    window = Window(start=bundle.window.start, end=bundle.window.end)
    with PrometheusAdapter(server.url) as live:
        for query in QUERIES:
            want = _points(live.query_range(promql=query, window=window, step=15))
            got = _points(offline.query_range(promql=query, window=window, step=15))
            assert want, f"Prometheus answered nothing for {query}: the comparison is empty"
            assert set(got) == set(want), query
            for labels, points in want.items():
                mine = got[labels]
                assert [t for t, _ in mine] == [t for t, _ in points], (query, labels)
                wrong = [
                    (t, a, b)
                    for (t, a), (_, b) in zip(points, mine, strict=True)
                    if not _close(a, b)
                ]
                assert not wrong, f"{query} {labels}: live vs offline {wrong[:3]}"
