"""Fifty Diagnoses at once on one replica: all end, each with its own status, none twice.

The session's operator (the chart's ServiceAccount, kopf's handler pool of
``MAX_WORKERS`` threads) serves 50 Diagnoses created together against real
sources: a real Prometheus holding the reference incident (promtool backfill)
and the Loki-API test server holding its logs.  Each Diagnosis has its own
window (the incident's, moved back ``index`` seconds), so its status shows
whether it got its own result.

Checked: every Diagnosis reaches a terminal phase at generation 1; its status
window is its own and its report ConfigMap is its own; the operator counted
exactly 50 ended runs (``diagnoses_total``; a retry after a source error is
not an end), so none was diagnosed twice; the ``diagnoses_running`` gauge,
sampled all along, never exceeds ``MAX_WORKERS``.  How long the 50
took is reported, never asserted: ``bench/scale_diagnoses.py`` runs this test
with ``SCALE_RESULT=path`` and turns it into Diagnoses per hour.

A partial answer through a Thanos-like frontend (``tests/services/query_frontend.py``
in front of the same Prometheus) ends the Diagnosis ``Degraded`` (``PartialData``)
with the frontend's warning in the condition: never a complete calm.
"""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.request
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from examples.incidents import generate as generator
from kubernetes import client

from diagnosis_operator import API_GROUP, API_VERSION
from diagnosis_operator.adapters.bundle import load_bundle
from diagnosis_operator.adapters.loki import LokiClient
from diagnosis_operator.adapters.replay import push_logs
from diagnosis_operator.entrypoints.kopf.lifecycle import MAX_WORKERS
from tests.controlplane.operator import OperatorProcess
from tests.e2e.test_operator import (
    conditions_of,
    custom,
    diagnosis,
    get_diag,
    namespace,
    policy,
    wait_for,
)
from tests.k8s_json import as_json
from tests.services.loki import LokiTestServer
from tests.services.prometheus import PrometheusServer, start_prometheus
from tests.services.query_frontend import (
    THANOS_STORE_UNREACHABLE,
    FrontendBehaviour,
    QueryFrontend,
)

pytestmark = pytest.mark.e2e
__all__ = ["custom", "namespace"]  # module fixtures, used by name

COUNT = 50
# Seconds of the incident each Diagnosis reads (its last ones): a quarter hour keeps
# the test to a few minutes; the bench asks for the whole hour (SCALE_WINDOW=3600).
WINDOW = float(os.environ.get("SCALE_WINDOW", "900"))
# How long to wait for the fifty to end (within pytest's own timeout; the bench raises both).
WAIT = float(os.environ.get("SCALE_WAIT", "540"))
ENDED = {"Completed", "Degraded", "Failed"}
RUNNING = "diagnosis_operator_diagnoses_running"
FINISHED = "diagnosis_operator_diagnoses_total"


@dataclass
class World:
    prometheus: PrometheusServer
    loki_url: str
    tenant: str
    start: float
    end: float
    components: list[dict[str, Any]]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory, loki_server: LokiTestServer) -> Iterator[World]:
    folder = tmp_path_factory.mktemp("scale")
    bundle = generator.generate("reference", folder / "bundle")
    loaded = load_bundle(bundle)
    prometheus = start_prometheus(workdir=folder / "prometheus", openmetrics=bundle / "metrics.om")
    tenant = f"scale-{uuid.uuid4().hex[:8]}"
    loki = LokiClient(loki_server.url, tenant=tenant, retries=0, timeout=60.0)
    try:
        push_logs(bundle=loaded, client=loki)
    finally:
        loki.close()
    components = [
        {
            "name": c.name,
            "kind": c.kind.value,
            "selector": dict(c.selector),
            **({"dependsOn": list(c.depends_on)} if c.depends_on else {}),
        }
        for c in loaded.topology
    ]
    try:
        yield World(
            prometheus=prometheus,
            loki_url=loki_server.url,
            tenant=tenant,
            start=loaded.window.start,
            end=loaded.window.end,
            components=components,
        )
    finally:
        prometheus.process.stop()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _metric(url: str, name: str) -> float:
    """The sum of every sample of ``name`` in the operator's exposition."""
    with urllib.request.urlopen(url, timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and line[len(name)] in " {":
            total += float(line.rsplit(" ", 1)[1])
    return total


class _Sampler:
    """Reads the ``diagnoses_running`` gauge every 0.2 s until stopped; keeps the peak."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.peak = 0.0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            self.peak = max(self.peak, _metric(self.url, RUNNING))
            self.samples += 1


def _policy(custom: client.CustomObjectsApi, namespace: str, name: str, **signals: Any) -> None:
    spec = {"components": signals.pop("components"), "signals": signals}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnosispolicies", policy(name, spec)
    )


def _create(
    custom: client.CustomObjectsApi, namespace: str, name: str, *, policy_name: str, window: Any
) -> None:
    spec = {"symptom": {"component": "nginx"}, "window": window, "policyRef": {"name": policy_name}}
    custom.create_namespaced_custom_object(
        API_GROUP, API_VERSION, namespace, "diagnoses", diagnosis(name, spec)
    )


def _all_ended(custom: client.CustomObjectsApi, namespace: str, prefix: str) -> list[Any] | None:
    items = as_json(
        custom.list_namespaced_custom_object(API_GROUP, API_VERSION, namespace, "diagnoses")
    )
    mine = [d for d in items["items"] if d["metadata"]["name"].startswith(prefix)]
    ended = [d for d in mine if (d.get("status") or {}).get("phase") in ENDED]
    return ended if len(ended) == COUNT else None


def test_fifty_concurrent_diagnoses_all_end_once_with_their_own_status(
    kube_admin: client.ApiClient,
    custom: client.CustomObjectsApi,
    namespace: str,
    operator_process: OperatorProcess,
    world: World,
) -> None:
    loki = {"url": world.loki_url, "tenant": world.tenant}
    _policy(
        custom,
        namespace,
        "scale",
        components=world.components,
        prometheus={"url": world.prometheus.url},
        loki=loki,
    )
    metrics_url = operator_process.metrics_url
    finished_before = _metric(metrics_url, FINISHED)
    windows = {
        f"scale-{index:02d}": {
            "start": _iso(max(world.start, world.end - WINDOW) - index),
            "end": _iso(world.end - index),
        }
        for index in range(COUNT)
    }
    began = time.monotonic()
    with _Sampler(metrics_url) as sampler:
        for name, window in windows.items():
            _create(custom, namespace, name, policy_name="scale", window=window)
        ended = wait_for(
            "50 diagnoses to end", lambda: _all_ended(custom, namespace, "scale-"), timeout=WAIT
        )
        elapsed = time.monotonic() - began
    by_name = {d["metadata"]["name"]: d for d in ended}
    finished = _metric(metrics_url, FINISHED) - finished_before
    events = client.CoreV1Api(kube_admin).list_namespaced_event(namespace)
    started = Counter(
        e.involved_object.name
        for e in events.items
        if e.reason == "Started" and e.involved_object.name in windows
    )
    # Figures first: the bench reads them even when a check below fails.
    _report(
        count=COUNT,
        windowSeconds=WINDOW,
        elapsedSeconds=round(elapsed, 1),
        peakRunning=sampler.peak,
        maxWorkers=MAX_WORKERS,
        finished=finished,
        startedEventsAboveOne={name: n for name, n in started.items() if n > 1},
        phases=dict(Counter(d["status"]["phase"] for d in ended)),
        notCompleted={
            name: conditions_of(d).get(d["status"]["phase"], {}).get("message", "")[:300]
            for name, d in by_name.items()
            if d["status"]["phase"] != "Completed"
        },
    )
    assert set(by_name) == set(windows)
    assert [problem for d in ended for problem in _not_its_own(d, windows)] == []
    reports = [d["status"]["reportRef"]["name"] for d in ended if d["status"].get("reportRef")]
    assert len(reports) == len(set(reports))
    # Each handler run that ended counts once (a retry after a source error does not):
    # fifty ends for fifty Diagnoses, so none was diagnosed twice.
    assert finished == COUNT, finished
    assert sampler.samples > 0
    assert 1 <= sampler.peak <= MAX_WORKERS, sampler.peak


def _not_its_own(found: dict[str, Any], windows: dict[str, dict[str, str]]) -> list[str]:
    """What in a Diagnosis's status is not its own result (its window, its generation)."""
    name, status = found["metadata"]["name"], found["status"]
    problems = []
    if status.get("observedGeneration") != 1:
        problems.append(f"{name}: observedGeneration {status.get('observedGeneration')}")
    window = status.get("window") or {}
    if (window.get("start"), window.get("end")) != (windows[name]["start"], windows[name]["end"]):
        problems.append(f"{name}: window {window} is not its own {windows[name]}")
    if status["phase"] != "Failed" and not (status.get("rootCause") or {}).get("component"):
        problems.append(f"{name}: {status['phase']} without a root cause")
    return problems


def _report(**figures: Any) -> None:
    """Write the figures where ``bench/scale_diagnoses.py`` asked (``SCALE_RESULT``)."""
    target = os.environ.get("SCALE_RESULT")
    if target:
        Path(target).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")


def test_a_partial_answer_from_a_thanos_frontend_ends_degraded(
    custom: client.CustomObjectsApi, namespace: str, world: World
) -> None:
    rule = FrontendBehaviour(warnings=(THANOS_STORE_UNREACHABLE,))
    with QueryFrontend(behaviour=rule, upstream=world.prometheus.url) as frontend:
        _policy(
            custom,
            namespace,
            "thanos",
            components=world.components,
            prometheus={"url": frontend.url},
            loki={"url": world.loki_url, "tenant": world.tenant},
        )
        window = {"start": _iso(world.start), "end": _iso(world.end)}
        _create(custom, namespace, "thanos-partial", policy_name="thanos", window=window)

        def ended() -> dict[str, Any] | None:
            found = get_diag(custom, namespace, "thanos-partial")
            return found if (found.get("status") or {}).get("phase") in ENDED else None

        found = wait_for("the diagnosis behind the frontend to end", ended, timeout=300)
    assert frontend.asked, "the operator never asked the frontend"
    status = found["status"]
    assert status["phase"] == "Degraded", status
    degraded = conditions_of(found)["Degraded"]
    assert degraded["reason"] == "PartialData"
    assert "partial" in degraded["message"] and "store unreachable" in degraded["message"]
    assert status["rootCause"]["confidence"] < 1.0
