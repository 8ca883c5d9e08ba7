"""Fault suite (issue 12, item 5): the Diagnosis handler on real Prometheus and Loki, broken.

A small incident (``test_replay.write_bundle``: an api and its database) is
backfilled into a real Prometheus and pushed into the Loki test server.  The
handler runs as the operator runs it (real ``PrometheusAdapter``, ``LokiClient``,
the real probe of ``entrypoints/bootstrap/signals.py``), with the apiserver
replaced by the recording ``FakeKube`` of the handler tests, and a
``FaultProxy`` in front of one backend:

| fault                    | end state                         | reason stated                   |
|--------------------------|-----------------------------------|---------------------------------|
| Prometheus down          | Failed after the retries          | SourceUnavailable, the URL      |
| Prometheus slow          | Failed (the symptom's metrics)    | DeadlineExceeded / timed out    |
| Prometheus 5xx           | Failed                            | SymptomSourceFailed, HTTP 500   |
| Loki 5xx                 | Degraded, confidence scaled       | PartialData, HTTP 500 and body  |
| Loki hangs after probe   | Degraded within the deadline      | DeadlineExceeded, timed out     |

Nothing is lost (the window and the policy snapshot are in the status, the
report says what failed) and nothing claims "NoIncident".
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.adapters.replay import push_logs
from diagnosis_operator.entrypoints.bootstrap.signals import (
    Endpoint,
    Sources,
    build_sources,
    probe,
)
from diagnosis_operator.models.signals import isoformat_z
from tests.fakes.fault_proxy import FaultProxy, Mode
from tests.integration.test_replay import WINDOW, write_bundle
from tests.services.loki import LokiTenant, LokiTestServer
from tests.services.ports import free_port
from tests.services.prometheus import PrometheusServer, start_prometheus
from tests.unit.test_diagnosis_handler import FakeKube, _context, _reasons, _reconcile, events

pytestmark = pytest.mark.integration
__all__ = ["events"]  # the fixture, used by name

SYMPTOM = "api"


class World:
    """The incident in real backends, and the policy and spec of a Diagnosis of it."""

    def __init__(self, *, prometheus: str, loki: LokiTenant, topology: list[Any]) -> None:
        self.prometheus = prometheus
        self.loki = loki
        self.policy = {
            "metadata": {"uid": "p-1", "resourceVersion": "1", "generation": 1},
            "spec": {"components": topology},
        }
        self.spec = {
            "policyRef": {"name": "web"},
            "symptom": {"component": SYMPTOM},
            "window": {"start": isoformat_z(WINDOW.start), "end": isoformat_z(WINDOW.end)},
        }

    def sources(
        self, *, prometheus: str | None = None, loki: str | None = None
    ) -> Callable[..., Sources]:
        def open_sources(**_: Any) -> Sources:
            endpoints = (
                Endpoint(backend="prometheus", url=prometheus or self.prometheus, timeout=10.0),
                Endpoint(
                    backend="loki", url=loki or self.loki.url, timeout=10.0, tenant=self.loki.tenant
                ),
            )
            built = build_sources(prometheus=endpoints[0], loki=endpoints[1])
            for endpoint in built.endpoints:
                probe(endpoint)
            return built

        return open_sources

    def diagnose(self, open_sources: Callable[..., Sources], **settings: Any) -> FakeKube:
        kube = FakeKube(self.policy)
        context = _context(kube, open_sources, **{"source_retries": 0, **settings})
        _reconcile(context, spec=self.spec)
        return kube


@pytest.fixture(scope="module")
def world(
    tmp_path_factory: pytest.TempPathFactory, loki_server: LokiTestServer
) -> Generator[World, None, None]:
    folder = write_bundle(tmp_path_factory.mktemp("fault-bundle") / "bundle")
    bundle = load_bundle(folder)
    tenant = LokiTenant(url=loki_server.url, tenant=f"faults-{uuid.uuid4().hex[:8]}")
    client = tenant.client()
    try:
        push_logs(bundle=bundle, client=client)
    finally:
        client.close()
    server: PrometheusServer = start_prometheus(
        workdir=tmp_path_factory.mktemp("fault-prometheus"), openmetrics=folder / "metrics.om"
    )
    topology = yaml.safe_load((folder / "incident.yaml").read_text())["topology"]["components"]
    try:
        yield World(prometheus=server.url, loki=tenant, topology=topology)
    finally:
        server.process.stop()


@pytest.fixture
def proxy() -> Iterator[Callable[[str], FaultProxy]]:
    opened: list[FaultProxy] = []

    def start(upstream: str) -> FaultProxy:
        opened.append(FaultProxy(upstream=upstream).__enter__())
        return opened[-1]

    yield start
    for item in opened:
        item.close()


def _condition(kube: FakeKube, kind: str) -> dict[str, Any]:
    found: dict[str, Any] = {c["type"]: c for c in kube.status["conditions"]}[kind]
    return found


def _nothing_lost(kube: FakeKube) -> None:
    """The window and policy snapshot are recorded, and no calm was claimed."""
    assert kube.status["window"]["start"] == isoformat_z(WINDOW.start)
    assert kube.status["policySnapshot"]["name"] == "web"
    assert _condition(kube, "Complete")["reason"] != "NoIncident"


def test_healthy_backends_complete(world: World, events: asyncio.Queue[Any]) -> None:
    kube = world.diagnose(world.sources())
    assert kube.status["phase"] == "Completed", kube.status["conditions"]
    assert "Degraded" not in {c["type"] for c in kube.status["conditions"]}


def test_prometheus_down_fails_after_the_retries_naming_the_url(
    world: World, events: asyncio.Queue[Any]
) -> None:
    down = f"http://127.0.0.1:{free_port()}"
    kube = world.diagnose(world.sources(prometheus=down))
    assert kube.status["phase"] == "Failed"
    failed = _condition(kube, "Failed")
    assert failed["reason"] == "SourceUnavailable"
    assert down in failed["message"] and "after 0 retries" in failed["message"]
    assert ("Warning", "SourceUnavailable") in _reasons(events)


def test_prometheus_5xx_fails_with_the_upstream_status_and_body(
    world: World, proxy: Callable[[str], FaultProxy], events: asyncio.Queue[Any]
) -> None:
    broken = proxy(world.prometheus)
    broken.mode = Mode.ERROR
    kube = world.diagnose(world.sources(prometheus=broken.url))
    assert kube.status["phase"] == "Failed"
    failed = _condition(kube, "Failed")
    assert failed["reason"] == "SymptomSourceFailed"
    assert "HTTP 500" in failed["message"] and "injected upstream failure" in failed["message"]
    assert broken.faulted > 0
    assert "rootCause" not in kube.status
    _nothing_lost(kube)


def test_prometheus_slower_than_the_deadline_fails_naming_the_deadline(
    world: World, proxy: Callable[[str], FaultProxy], events: asyncio.Queue[Any]
) -> None:
    slow = proxy(world.prometheus)
    slow.mode, slow.delay = Mode.SLOW, 30.0
    kube = world.diagnose(world.sources(prometheus=slow.url), diagnosis_deadline=3.0)
    assert kube.status["phase"] == "Failed"
    failed = _condition(kube, "Failed")
    assert failed["reason"] == "SymptomSourceFailed"
    assert "timed out" in failed["message"]
    _nothing_lost(kube)


def test_loki_5xx_degrades_with_the_upstream_answer(
    world: World, proxy: Callable[[str], FaultProxy], events: asyncio.Queue[Any]
) -> None:
    broken = proxy(world.loki.url)
    broken.mode = Mode.ERROR
    kube = world.diagnose(world.sources(loki=broken.url))
    assert kube.status["phase"] == "Degraded", kube.status["conditions"]
    degraded = _condition(kube, "Degraded")
    assert degraded["reason"] == "PartialData"
    assert "HTTP 500" in degraded["message"] and "injected upstream failure" in degraded["message"]
    assert kube.status["rootCause"]["confidence"] < 1.0
    assert ("Warning", "PartialData") in _reasons(events)
    _nothing_lost(kube)


def test_loki_hanging_after_the_probe_ends_within_the_deadline(
    world: World, proxy: Callable[[str], FaultProxy], events: asyncio.Queue[Any]
) -> None:
    hung = proxy(world.loki.url)
    hung.mode = Mode.HANG
    kube = world.diagnose(world.sources(loki=hung.url), diagnosis_deadline=3.0)
    assert kube.status["phase"] == "Degraded", kube.status["conditions"]
    degraded = _condition(kube, "Degraded")
    assert degraded["reason"] == "DeadlineExceeded"
    assert "timed out" in degraded["message"]
    assert hung.faulted > 0
    assert ("Warning", "DeadlineExceeded") in _reasons(events)
    _nothing_lost(kube)


def test_the_report_of_a_degraded_diagnosis_says_what_failed(
    world: World, proxy: Callable[[str], FaultProxy], tmp_path: Path, events: asyncio.Queue[Any]
) -> None:
    broken = proxy(world.loki.url)
    broken.mode = Mode.ERROR
    kube = world.diagnose(world.sources(loki=broken.url))
    report = kube.reports["d1-report"]
    assert '"state": "degraded"' in report["diagnosis.json"]
    assert "degraded" in report["report.md"].lower()
