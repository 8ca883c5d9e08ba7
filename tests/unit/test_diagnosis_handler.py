"""The Diagnosis handler (entrypoints/kopf/diagnosis.py) with fakes in place of the cluster.

Bootstrap is the place where tests pass fakes in: the context's ``open_sources`` builds
the signal sources, so these tests drive a whole pass without an apiserver, Prometheus
or Loki, and read back the status patches, Events and the report the handler wrote.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping
from typing import Any, cast

import kopf
import pytest
from kopf._core.engines import posting
from kubernetes import client

from diagnosis_operator.entrypoints.bootstrap.signals import (
    SourceConfigError,
    Sources,
    SourceUnreachable,
)
from diagnosis_operator.entrypoints.kopf.context import OperatorContext
from diagnosis_operator.entrypoints.kopf.diagnosis import reconcile_diagnosis
from diagnosis_operator.entrypoints.kopf.kube import NotOwned
from diagnosis_operator.service import metrics
from diagnosis_operator.settings import OperatorSettings
from tests.fakes.logs import FakeLogSource
from tests.fakes.metrics import FakePromQLSource, FakeSeriesSource

NAMESPACE = "shop"
POLICY = {
    "metadata": {"uid": "p-1", "resourceVersion": "7", "generation": 1},
    "spec": {
        "components": [
            {
                "name": "gateway",
                "kind": "proxy",
                "selector": {"job": "gateway"},
                "dependsOn": ["api"],
            },
            {"name": "api", "kind": "app", "selector": {"job": "api"}},
        ]
    },
}
SPEC = {
    "policyRef": {"name": "web"},
    "symptom": {"component": "gateway"},
    "window": {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T11:00:00Z"},
}


class FakeKube:
    """The handler's apiserver: a policy to read, status merge patches, a report."""

    def __init__(self, policy: Mapping[str, Any] | None) -> None:
        self.policy = policy
        self.status: dict[str, Any] = {}
        self.patches: list[dict[str, Any]] = []
        self.reports: dict[str, Mapping[str, str]] = {}

    def get_policy(self, *, namespace: str, name: str) -> Mapping[str, Any] | None:
        assert (namespace, name) == (NAMESPACE, "web")
        return self.policy

    def patch_diagnosis_status(
        self, *, namespace: str, name: str, status: Mapping[str, Any]
    ) -> None:
        self.patches.append(dict(status))
        for key, value in status.items():
            if value is None:
                self.status.pop(key, None)
            else:
                self.status[key] = value

    def write_report(
        self, *, namespace: str, name: str, owner: Any, data: Mapping[str, str]
    ) -> None:
        self.reports[name] = dict(data)


@pytest.fixture
def events() -> Iterator[asyncio.Queue[Any]]:
    """kopf's Event queue, as the running operator sets it up, read by the test."""
    queue: asyncio.Queue[Any] = asyncio.Queue()
    tokens = (
        posting.event_queue_var.set(queue),
        posting.event_queue_loop_var.set(None),  # type: ignore[arg-type]
        posting.settings_var.set(kopf.OperatorSettings()),
    )
    yield queue
    posting.event_queue_var.reset(tokens[0])
    posting.event_queue_loop_var.reset(tokens[1])
    posting.settings_var.reset(tokens[2])


def _reasons(queue: asyncio.Queue[Any]) -> list[tuple[str, str]]:
    found = []
    while not queue.empty():
        event = queue.get_nowait()
        found.append((event.type, event.reason))
    return found


def _context(kube: FakeKube, open_sources: Any, **settings: Any) -> OperatorContext:
    return OperatorContext(
        settings=OperatorSettings(
            namespaces=(NAMESPACE,), source_retries=2, source_retry_delay=1.0, **settings
        ),
        configuration=client.Configuration(),
        kube=kube,  # type: ignore[arg-type]
        open_sources=open_sources,
    )


def _reconcile(context: OperatorContext, *, spec: Mapping[str, Any] = SPEC, retry: int = 0) -> None:
    # kopf's RawMeta TypedDict lacks ``generation``, which the handler reads: a raw body.
    body = cast(
        kopf.RawBody,
        {
            "apiVersion": "diagnosis.dev/v1alpha1",
            "kind": "Diagnosis",
            "metadata": {"name": "d1", "namespace": NAMESPACE, "uid": "u-1", "generation": 1},
            "spec": dict(spec),
        },
    )
    kube = context.kube
    assert isinstance(kube, FakeKube)
    # kopf's decorators retype the handler as ChangingFn (every kwarg required); it is the
    # plain function, which takes the rest as **_.
    reconcile_diagnosis(  # type: ignore[call-arg]
        body=kopf.Body(body),
        spec=kopf.Spec(kopf.Body(body)),
        status=kopf.Status(kopf.Body({**body, "status": kube.status})),
        meta=kopf.Meta(kopf.Body(body)),
        name="d1",
        namespace=NAMESPACE,
        retry=retry,
        memo=kopf.Memo({"context": context}),
    )


def _quiet_sources(**_: Any) -> Sources:
    return Sources(series=FakeSeriesSource(raw=[]), logs=FakeLogSource(), endpoints=())


def test_a_pass_walks_every_phase_records_window_policy_and_report(
    events: asyncio.Queue[Any],
) -> None:
    kube = FakeKube(POLICY)
    asked: list[dict[str, Any]] = []

    def sources(**arguments: Any) -> Sources:
        asked.append(arguments)
        return _quiet_sources()

    before = (
        metrics.REGISTRY.get_sample_value(
            "diagnosis_operator_diagnoses_total", {"outcome": "no-incident"}
        )
        or 0.0
    )
    _reconcile(_context(kube, sources))
    phases = [patch["phase"] for patch in kube.patches if "phase" in patch]
    assert phases[0] == "Pending" and phases[-1] == "Completed", phases
    assert {"Collecting", "Correlating", "Planning"} <= set(phases)
    assert kube.status["window"] == {"start": "2026-01-01T10:00:00Z", "end": "2026-01-01T11:00:00Z"}
    assert kube.status["policySnapshot"]["name"] == "web"
    assert asked and asked[0]["namespace"] == NAMESPACE
    assert asked[0]["policy"].components[0].name == "gateway"
    assert set(kube.reports["d1-report"]) == {"diagnosis.json", "report.md"}
    assert kube.status["reportRef"] == {"name": "d1-report"}
    assert ("Normal", "NoIncident") in _reasons(events)
    assert (
        metrics.REGISTRY.get_sample_value(
            "diagnosis_operator_diagnoses_total", {"outcome": "no-incident"}
        )
        == before + 1
    )


def test_sources_not_configured_fail_the_diagnosis_naming_why(events: asyncio.Queue[Any]) -> None:
    def sources(**_: Any) -> Sources:
        raise SourceConfigError("no Prometheus URL: set spec.signals.prometheus.url")

    kube = FakeKube(POLICY)
    _reconcile(_context(kube, sources))
    assert kube.status["phase"] == "Failed"
    failed = {c["type"]: c for c in kube.status["conditions"]}["Failed"]
    assert failed["reason"] == "SourceNotConfigured"
    assert "spec.signals.prometheus.url" in failed["message"]
    assert ("Warning", "SourceNotConfigured") in _reasons(events)


def test_an_unreachable_source_is_retried_then_fails(events: asyncio.Queue[Any]) -> None:
    def sources(**_: Any) -> Sources:
        raise SourceUnreachable("prometheus at http://127.0.0.1:1 is unreachable")

    kube = FakeKube(POLICY)
    with pytest.raises(kopf.TemporaryError):
        _reconcile(_context(kube, sources), retry=0)
    assert kube.status["phase"] != "Failed"
    assert ("Warning", "SourceUnavailable") in _reasons(events)
    _reconcile(_context(kube, sources), retry=2)
    failed = {c["type"]: c for c in kube.status["conditions"]}["Failed"]
    assert failed["reason"] == "SourceUnavailable"
    assert "after 2 retries" in failed["message"]


def test_a_missing_policy_waits_then_fails(events: asyncio.Queue[Any]) -> None:
    kube = FakeKube(None)
    with pytest.raises(kopf.TemporaryError):
        _reconcile(_context(kube, _quiet_sources), retry=0)
    assert ("Warning", "WaitingForPolicy") in _reasons(events)
    _reconcile(_context(kube, _quiet_sources), retry=2)
    failed = {c["type"]: c for c in kube.status["conditions"]}["Failed"]
    assert failed["reason"] == "PolicyNotFound"


def test_an_invalid_spec_fails_naming_the_field(events: asyncio.Queue[Any]) -> None:
    kube = FakeKube(POLICY)
    _reconcile(_context(kube, _quiet_sources), spec={**SPEC, "window": {"lookback": "soon"}})
    failed = {c["type"]: c for c in kube.status["conditions"]}["Failed"]
    assert failed["reason"] == "InvalidSpec"
    assert "spec.window.lookback" in failed["message"]


def test_a_symptom_component_the_policy_lacks_fails_naming_it(events: asyncio.Queue[Any]) -> None:
    asked: list[Any] = []

    def sources(**arguments: Any) -> Sources:
        asked.append(arguments)
        return _quiet_sources()

    kube = FakeKube(POLICY)
    spec = {**SPEC, "symptom": {"component": "gatewya"}}
    _reconcile(_context(kube, sources), spec=spec)
    assert kube.status["phase"] == "Failed"
    failed = {c["type"]: c for c in kube.status["conditions"]}["Failed"]
    assert failed["reason"] == "UnknownComponent"
    assert failed["message"].startswith("spec.symptom.component: 'gatewya' is not a component")
    assert "gateway, api" in failed["message"] and "did you mean 'gateway'" in failed["message"]
    assert ("Warning", "UnknownComponent") in _reasons(events)
    # Nothing was asked of the signal sources, and no report claims a result.
    assert asked == [] and kube.reports == {}
    assert "rootCause" not in kube.status


class StrangerReportKube(FakeKube):
    """A ConfigMap ``d1-report`` exists and is not the Diagnosis' own."""

    def write_report(
        self, *, namespace: str, name: str, owner: Any, data: Mapping[str, str]
    ) -> None:
        raise NotOwned(f"ConfigMap {namespace}/{name} already exists and is not owned")


def test_a_report_name_taken_by_a_stranger_is_left_alone(events: asyncio.Queue[Any]) -> None:
    kube = StrangerReportKube(POLICY)
    _reconcile(_context(kube, _quiet_sources))
    assert kube.status["phase"] == "Completed"
    assert "reportRef" not in kube.status
    assert any("report not written" in w and "not owned" in w for w in kube.status["warnings"])
    assert ("Warning", "ReportNotWritten") in _reasons(events)


def test_signal_overrides_are_asked_through_the_promql_source_live(
    events: asyncio.Queue[Any],
) -> None:
    spec = dict(cast(Mapping[str, Any], POLICY["spec"]))
    spec["signalOverrides"] = [
        {"name": "queue-depth", "component": "api", "promql": "max by (instance) (queue{selector})"}
    ]
    kube = FakeKube({**POLICY, "spec": spec})
    promql = FakePromQLSource()

    def sources(**_: Any) -> Sources:
        return Sources(
            series=FakeSeriesSource(raw=[]), logs=FakeLogSource(), endpoints=(), promql=promql
        )

    _reconcile(_context(kube, sources))
    assert kube.status["phase"] == "Completed"
    # Rendered for its component through the catalog's escaping renderer, asked once.
    assert promql.asked == ['max by (instance) (queue{job="api"})']


def test_a_policy_whose_override_cannot_be_rendered_fails_the_diagnosis(
    events: asyncio.Queue[Any],
) -> None:
    spec = dict(cast(Mapping[str, Any], POLICY["spec"]))
    # No {selector} / {matchers}: it would read every component's series.
    spec["signalOverrides"] = [{"name": "all-up", "componentKind": "app", "promql": "max(up)"}]
    kube = FakeKube({**POLICY, "spec": spec})
    _reconcile(_context(kube, _quiet_sources))
    assert kube.status["phase"] == "Failed"
    failed = [c for c in kube.status["conditions"] if c["type"] == "Failed"]
    assert failed and failed[0]["reason"] == "PolicyInvalid"
    assert "spec.signalOverrides[all-up]" in failed[0]["message"]
