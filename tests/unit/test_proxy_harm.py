"""A proxy whose own behaviour harms the app behind it: retries without a budget,
forwarded-header trust lost."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.proxy_harm import (
    ProxyHarm,
    amplified_retries,
    clients_collapsed,
    find_proxy_harm,
    proxy_rerooted,
    reloaded_before,
)
from diagnosis_operator.core.diagnosis.ranking import ROLE_ROOT, ROLE_SYMPTOM, Ranking
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly, Candidate, RootCause
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
STEP = 15.0
TIMES: FloatArray = (T0 + STEP * np.arange(160)).astype(np.float64)
ONSET = float(TIMES[80])


def _stack(edge_kind: ComponentKind = ComponentKind.PROXY) -> Topology:
    return Topology(
        components=(
            Component("edge", edge_kind, Labels({"job": "edge"}), ("api",)),
            Component("api", ComponentKind.APP, Labels({"job": "api"})),
        )
    )


def _signal(component: str, name: str, values: np.ndarray, kind: SignalKind) -> Signal:
    return Signal(component, "10.0.0.1:80", name, name, kind, name, values, Labels())


def _detection(
    component: str, name: str, *, direction: str = "up", value: float = 3.0, baseline: float = 0.0
) -> Detection:
    signal = _signal(component, name, np.ones(4), SignalKind.GAUGE)
    anomaly = Anomaly(component, name, None, ONSET, ONSET, value, baseline, 50.0, direction, name)
    return Detection(signal=signal, anomaly=anomaly, exceedances=5, peak=value)


def _step(before: float, after: float) -> np.ndarray:
    return np.where(TIMES >= ONSET, after, before).astype(float)


def _envoy(retries_before: float, retries_after: float) -> list[Signal]:
    return [
        _signal(
            "edge",
            "envoy_cluster_upstream_rq_retry rate",
            _step(retries_before, retries_after),
            SignalKind.RATE,
        ),
        _signal("edge", "envoy_http_downstream_rq_total rate", _step(5.0, 5.0), SignalKind.RATE),
    ]


def _evidence(topology: Topology, name: str, *detections: Detection) -> ComponentEvidence:
    return ComponentEvidence(component=topology.get(name), detections=detections)


def _retrying(topology: Topology) -> dict[str, ComponentEvidence]:
    return {
        "edge": _evidence(
            topology, "edge", _detection("edge", "envoy_cluster_upstream_rq_retry rate")
        ),
        "api": _evidence(
            topology, "api", _detection("api", "container_cpu_usage_seconds_total rate")
        ),
    }


def test_retries_several_times_the_requests_are_amplified() -> None:
    ratio = amplified_retries(
        signals=_envoy(0.0, 30.0), timestamps=TIMES, onset=ONSET, tolerance=30.0
    )
    assert ratio is not None and 5.5 < ratio < 6.5


def test_retries_near_none_per_request_or_usual_before_are_not_amplified() -> None:
    # an app overloaded on its own: a few retries, attempts about the requests
    few = _envoy(0.0, 0.3)
    assert amplified_retries(signals=few, timestamps=TIMES, onset=ONSET, tolerance=30.0) is None
    usual = _envoy(15.0, 30.0)
    assert amplified_retries(signals=usual, timestamps=TIMES, onset=ONSET, tolerance=30.0) is None
    assert amplified_retries(signals=[], timestamps=TIMES, onset=ONSET, tolerance=30.0) is None


def test_a_proxy_retrying_without_budget_is_the_root_of_its_upstreams_overload() -> None:
    stack = _stack()
    harm = find_proxy_harm(
        topology=stack,
        evidence=_retrying(stack),
        signals={"edge": _envoy(0.0, 30.0)},
        timestamps=TIMES,
        root="api",
        tolerance=30.0,
    )
    assert harm is not None and harm.proxy == "edge" and harm.upstream == "api"
    assert "retry" in harm.mode


def test_an_overloaded_upstream_with_few_retries_or_an_app_caller_stays_the_root() -> None:
    stack = _stack()
    few = {"edge": _envoy(0.0, 0.3)}
    assert _harm(stack, _retrying(stack), few) is None
    app = _stack(ComponentKind.APP)
    many = {"edge": _envoy(0.0, 30.0)}
    assert _harm(app, _retrying(app), many) is None


def _harm(
    topology: Topology,
    evidence: dict[str, ComponentEvidence],
    signals: dict[str, list[Signal]],
) -> ProxyHarm | None:
    return find_proxy_harm(
        topology=topology,
        evidence=evidence,
        signals=signals,
        timestamps=TIMES,
        root="api",
        tolerance=30.0,
    )


def _limiting_api(stack: Topology, *, collapsed: bool) -> ComponentEvidence:
    refused = _detection("api", "http_requests_total 429 ratio", value=0.5)
    clients = _detection(
        "api", "ratelimit_tracked_clients", direction="down", value=40.0, baseline=390.0
    )
    return _evidence(stack, "api", refused, *((clients,) if collapsed else ()))


def _reloaded(at: float) -> list[Signal]:
    values = np.where(at <= TIMES, at, at - 86400.0 * 3).astype(float)
    return [_signal("edge", "traefik_config_last_reload_success", values, SignalKind.GAUGE)]


def test_an_apps_clients_collapsing_after_the_proxys_reload_is_the_proxys_forwarding() -> None:
    stack = _stack()
    api = _limiting_api(stack, collapsed=True)
    assert clients_collapsed(api)
    edge_signals = _reloaded(ONSET - 20.0)
    assert reloaded_before(signals=edge_signals, onset=ONSET, tolerance=30.0) == ONSET - 20.0
    harm = find_proxy_harm(
        topology=stack,
        evidence={"edge": _evidence(stack, "edge"), "api": api},
        signals={"edge": edge_signals},
        timestamps=TIMES,
        root="api",
        tolerance=30.0,
    )
    assert harm is not None and harm.proxy == "edge" and "misconfiguration" in harm.mode


def test_an_app_that_always_saw_one_address_or_a_reload_days_ago_stays_the_root() -> None:
    stack = _stack()
    always = {"edge": _evidence(stack, "edge"), "api": _limiting_api(stack, collapsed=False)}
    recent = {"edge": _reloaded(ONSET - 20.0)}
    assert _harm(stack, always, recent) is None
    collapsed = {"edge": _evidence(stack, "edge"), "api": _limiting_api(stack, collapsed=True)}
    old = {"edge": _reloaded(ONSET - 3 * 86400.0)}
    assert _harm(stack, collapsed, old) is None


def test_the_proxy_becomes_root_and_the_app_its_symptom() -> None:
    stack = _stack()
    ranking = Ranking(
        root_cause=RootCause(
            component="api", kind="app", instance=None, confidence=0.9, summary=""
        ),
        candidates=(
            Candidate(component="api", score=0.8, role=ROLE_ROOT),
            Candidate(component="edge", score=0.3, role=ROLE_SYMPTOM),
        ),
        scores=(),
        root_onset=ONSET,
    )
    moved, harm = proxy_rerooted(
        ranking=ranking,
        topology=stack,
        evidence=_retrying(stack),
        signals={"edge": _envoy(0.0, 30.0)},
        timestamps=TIMES,
        step=STEP,
    )
    assert harm is not None and moved.root_cause.component == "edge"
    roles = {c.component: c.role for c in moved.candidates}
    assert roles == {"edge": ROLE_ROOT, "api": ROLE_SYMPTOM}
    kept, none = proxy_rerooted(
        ranking=ranking,
        topology=stack,
        evidence=_retrying(stack),
        signals={"edge": _envoy(0.0, 0.3)},
        timestamps=TIMES,
        step=STEP,
    )
    assert none is None and kept is ranking
