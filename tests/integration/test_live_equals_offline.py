"""Live equals offline: one bundle, diagnosed from its files and through PromQL + LogQL.

The bundle is replayed the way a user replays it (``adapters/replay.py``): its
metrics backfilled into a real Prometheus with promtool, its log lines pushed to
the Loki test server through ``POST /loki/api/v1/push``.  ``run_diagnosis`` then
runs twice, once on ``PrometheusAdapter`` + ``LokiLogSource`` and once on
``BundleSource``; the two results must be the same diagnosis, field for field.

Nothing is excluded from the comparison: where the live and the offline source
gave different answers, the adapter or source with the inexact semantics was
fixed, not this test.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

from diagnosis_operator.adapters.bundle import BundleSource, load_bundle
from diagnosis_operator.adapters.loki import LokiLogSource
from diagnosis_operator.adapters.prometheus import PrometheusAdapter
from diagnosis_operator.adapters.replay import push_logs
from diagnosis_operator.entrypoints.cli.diagnose import symptom_text
from diagnosis_operator.models.findings import DiagnosisResult
from diagnosis_operator.service.diagnose import run_diagnosis
from tests.services.loki import LokiTenant
from tests.services.prometheus import PrometheusFactory
from tests.services.type_exporter import type_exporter

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
from examples.incidents import generate as generator  # noqa: E402

pytestmark = pytest.mark.integration

# Every scenario the generator knows (those whose module is not written yet skip),
# the reference with its addresses, names and times rewritten, and a small
# hand-made bundle with other components, log formats and label values.
PERTURBED = "reference-perturbed"
HANDMADE = "ledger-lock-storm"
SCENARIOS = [*generator.SCENARIOS, PERTURBED, HANDMADE]


def _bundle(name: str, folder: Path) -> Path:
    if name == PERTURBED:
        from tests.integration.test_diagnose_scenarios import perturb

        perturb(_bundle("reference", folder), folder / PERTURBED)
        return folder / PERTURBED
    if name == HANDMADE:
        from tests.integration.test_replay import write_bundle

        return write_bundle(folder / HANDMADE)
    try:
        return generator.generate(name, folder)
    except ModuleNotFoundError as error:
        pytest.fail(f"scenario {name} has no generator: {error}")


def _diagnose_live(
    bundle_dir: Path, *, prometheus_factory: PrometheusFactory, loki: LokiTenant
) -> DiagnosisResult:
    bundle = load_bundle(bundle_dir)
    # A scraping Prometheus knows each family's declared type; backfill alone does not.
    with type_exporter(bundle_dir / "metrics.om") as types:
        server = prometheus_factory(openmetrics=bundle_dir / "metrics.om", type_targets=[types])
        # The Loki-API double is a Python evaluator: on a loaded machine a regexp topk
        # over an hour of a flood's lines takes longer than a real Loki's default timeout.
        client = loki.client(timeout=180.0)
        try:
            lines, _streams = push_logs(bundle=bundle, client=client)
            assert lines == sum(len(stream) for stream in bundle.streams)
            with PrometheusAdapter(server.url) as metrics:
                return run_diagnosis(
                    topology=bundle.topology,
                    window=bundle.window,
                    symptom=symptom_text(bundle),
                    series=metrics,
                    logs=LokiLogSource(client),
                    now=bundle.window.end,
                )
        finally:
            client.close()


def _diagnose_offline(bundle_dir: Path) -> DiagnosisResult:
    bundle = load_bundle(bundle_dir)
    source = BundleSource(bundle)
    return run_diagnosis(
        topology=bundle.topology,
        window=bundle.window,
        symptom=symptom_text(bundle),
        series=source,
        logs=source,
        now=bundle.window.end,
    )


def _differences(live: Any, offline: Any, path: str = "") -> list[str]:
    """Where two JSON values differ, as readable paths (the assertion message)."""
    if isinstance(live, dict) and isinstance(offline, dict):
        out: list[str] = []
        for key in sorted(set(live) | set(offline)):
            if key not in live or key not in offline:
                out.append(f"{path}.{key}: only {'live' if key in live else 'offline'}")
            else:
                out.extend(_differences(live[key], offline[key], f"{path}.{key}"))
        return out
    if isinstance(live, list) and isinstance(offline, list):
        if len(live) != len(offline):
            return [f"{path}: {len(live)} items live, {len(offline)} offline"]
        return [
            d
            for i, (a, b) in enumerate(zip(live, offline, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if live == offline else [f"{path}: live {live!r} != offline {offline!r}"]


@pytest.mark.parametrize("name", SCENARIOS)
def test_live_diagnosis_equals_offline(
    name: str, tmp_path: Path, prometheus_factory: PrometheusFactory, loki: LokiTenant
) -> None:
    bundle_dir = _bundle(name, tmp_path / "bundles")
    offline = _diagnose_offline(bundle_dir).to_json()
    live = _diagnose_live(bundle_dir, prometheus_factory=prometheus_factory, loki=loki).to_json()

    differences = _differences(live, offline)
    assert not differences, "\n".join(differences[:40])
    # The comparison compared something: the scenario's diagnosis is not empty.
    assert offline["rootCause"]["component"]
    assert offline["candidates"] or offline["rootCause"]["component"] == "none"


def test_reference_live_diagnosis_is_the_report(
    tmp_path: Path, prometheus_factory: PrometheusFactory, loki: LokiTenant
) -> None:
    """The live path alone reaches the reference report's conclusions."""
    bundle_dir = _bundle("reference", tmp_path / "bundles")
    result = _diagnose_live(bundle_dir, prometheus_factory=prometheus_factory, loki=loki)
    out = result.to_json()
    assert out["rootCause"]["component"] == "mysql"
    assert [a["instance"].rsplit(":", 1)[0] for a in out["affected"]] == ["10.0.2.101"]
    assert [c["ip"] for c in out["clients"]] == ["192.168.10.100"]
    assert out["aggravating"] == ["redis"]
    assert {r["action"] for r in out["remediations"]} == {
        "drain-pod",
        "kill-mysql-queries",
        "rate-limit-client",
    }
    assert all(r["state"] == "proposed" for r in out["remediations"])
    assert any(e["source"] == "loki" for e in out["evidence"])
    assert any(e["source"] == "prometheus" for e in out["evidence"])
