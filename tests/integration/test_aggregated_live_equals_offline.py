"""Aggregated series queries: a real Prometheus and the bundle's PromQL subset give the same.

The reference bundle is backfilled into Prometheus (with its declared types
scraped from ``type_exporter``) and its logs pushed to the Loki test server, as
``test_live_equals_offline`` does.  Here every component's series allowance is
made small, so each component is asked aggregated by instance (``sum by`` of
its counters, ``max by`` of its gauges) and cut to its budget: the same PromQL
then goes to Prometheus and to ``BundleSource``, and the series, and the whole
diagnosis built on them, must be the same.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.loki import LokiLogSource
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.adapters.replay import push_logs
from diagnosis_operator.entrypoints.cli.diagnose import symptom_text
from diagnosis_operator.models.bundle import Bundle
from diagnosis_operator.ports import SeriesSource
from diagnosis_operator.service import collect as collector
from diagnosis_operator.service.diagnose import run_diagnosis
from diagnosis_operator.service.series_collect import SeriesAnswer, component_series
from tests.integration.test_live_equals_offline import _differences
from tests.services.loki import LokiTenant
from tests.services.prometheus import PrometheusFactory
from tests.services.type_exporter import type_exporter

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from examples.incidents import generate as generator  # noqa: E402

pytestmark = pytest.mark.integration

LIMIT = 12  # series per component: most components of the reference have more


def _series_of(source: SeriesSource, bundle: Bundle) -> dict[str, SeriesAnswer]:
    return {
        component.name: component_series(
            source, component=component, window=bundle.window, step=15.0, limit=LIMIT
        )
        for component in bundle.topology
    }


def test_aggregated_series_and_diagnosis_are_the_same_live_and_offline(
    tmp_path: Path,
    prometheus_factory: PrometheusFactory,
    loki: LokiTenant,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bundle_dir = generator.generate("reference", tmp_path / "bundles")
    bundle = load_bundle(bundle_dir)
    offline_source = BundleSource(bundle)
    monkeypatch.setattr(collector, "allowance", lambda _components: LIMIT)
    with type_exporter(bundle_dir / "metrics.om") as types:
        server = prometheus_factory(openmetrics=bundle_dir / "metrics.om", type_targets=[types])
        client = loki.client()
        try:
            push_logs(bundle=bundle, client=client)
            with PrometheusAdapter(server.url) as metrics:
                live_series = _series_of(metrics, bundle)
                live = run_diagnosis(
                    topology=bundle.topology,
                    window=bundle.window,
                    symptom=symptom_text(bundle),
                    series=metrics,
                    logs=LokiLogSource(client),
                    now=bundle.window.end,
                ).to_json()
        finally:
            client.close()
    offline_series = _series_of(offline_source, bundle)
    offline = run_diagnosis(
        topology=bundle.topology,
        window=bundle.window,
        symptom=symptom_text(bundle),
        series=offline_source,
        logs=offline_source,
        now=bundle.window.end,
    ).to_json()

    aggregated = [
        name
        for name, answer in offline_series.items()
        if any("asked aggregated by instance" in note for note in answer.notes)
    ]
    assert len(aggregated) >= 2, offline_series.keys()  # the test tests aggregation
    for name, answer in offline_series.items():
        if name in aggregated:
            assert all(
                q.startswith(("sum by (__name__", "max by (__name__")) for q in answer.queries
            )
        assert 0 < len(answer.series) <= LIMIT, name
        assert live_series[name].queries == answer.queries, name
        assert live_series[name].notes == answer.notes, name
        assert live_series[name].series == answer.series, name
    differences = _differences(live, offline)
    assert not differences, "\n".join(differences[:40])
    assert any("series budget" in warning for warning in offline["warnings"])
