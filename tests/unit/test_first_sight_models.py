"""Models of how components fail, as the lab's real software showed them (issues 10, 11).

* a short window's baseline is a third of it (a few minutes, 15 s steps);
* a caller whose harm stays on one instance among healthy siblings is explained by
  no shared dependency, and a component that only carried less load is no cause;
* the catalogue's harm metrics (evicted keys, a failed save) are symptoms;
* a client repeating one failing request far more than any other is a retry loop.

All inputs are synthetic: names, addresses and values of our own.
"""

from __future__ import annotations

import json

import numpy as np

from diagnosis_operator.catalog.failure_modes import harm_direction
from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.confined import confined_callers
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import read_event
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.signal_types import (
    Detection,
    Signal,
    SignalKind,
    baseline_points,
)
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.diagnosis.tight_loops import repeated_failures
from diagnosis_operator.core.diagnosis.traffic_clients import ClientTraffic, find_abusive_clients
from diagnosis_operator.models.findings import NO_INCIDENT, AffectedInstance, Anomaly
from diagnosis_operator.models.signals import Labels, LogCount, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
SHORT = Window(start=T0, end=T0 + 180.0)  # three minutes: 13 points at 15 s
STEP = 15.0
TS = grid_timestamps(window=SHORT, step=STEP)
ONSET = float(TS[7])

STACK = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("web",)),
        Component("web", ComponentKind.APP, Labels({"job": "web"}), ("db", "cache")),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)


def _signal(
    component: str,
    name: str,
    values: list[float],
    *,
    instance: str | None = None,
    kind: SignalKind = SignalKind.GAUGE,
) -> Signal:
    labels = Labels({"instance": instance} if instance else {})
    return Signal(
        component, instance, name, name, kind, name, np.asarray(values, dtype=float), labels
    )


def _detection(
    component: str,
    name: str,
    *,
    score: float = 40.0,
    direction: str = "up",
    instance: str | None = None,
    kind: SignalKind = SignalKind.GAUGE,
) -> Detection:
    low, high = (0.0, 1.0) if direction == "up" else (1.0, 0.0)
    values = np.where(ONSET <= TS, high, low)
    signal = Signal(
        component,
        instance,
        name,
        name,
        kind,
        name,
        values,
        Labels({"instance": instance} if instance else {}),
    )
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=instance,
        onset=ONSET,
        peak_ts=ONSET,
        value=high,
        baseline=low,
        score=score,
        direction=direction,
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=6, peak=high)


# ------------------------------------------------------------------ a short window's baseline


def test_a_short_window_needs_a_third_of_itself_as_baseline_a_long_one_eight_points() -> None:
    assert baseline_points(13) == 5
    assert baseline_points(24) == 8
    assert baseline_points(240) == 8


def test_a_level_shift_after_six_points_of_a_three_minute_window_is_detected() -> None:
    base = [np.nan, 0.21, 0.25, 0.23, 0.22, 0.26, 0.24]
    slow = _signal(
        "web", "latency", [*base, 0.9, 1.1, 1.0, 1.2, 1.05, 1.0], kind=SignalKind.LATENCY
    )
    flat = _signal("web", "other", [*base, 0.22, 0.24, 0.23, 0.25, 0.22, 0.21])
    found = detect(signals=[slow, flat], timestamps=TS)
    assert [d.signal.name for d in found] == ["latency"]
    assert found[0].anomaly.onset == ONSET


# ------------------------------------------------------------ one instance, healthy siblings


def _finding(instance: str, detection: Detection, healthy: int = 2) -> AffectedFinding:
    return AffectedFinding(
        instance=AffectedInstance(component="web", instance=instance, reason="slow"),
        detections=(detection,),
        healthy_siblings=healthy,
    )


def _slow_instance_evidence() -> dict[str, ComponentEvidence]:
    slow = _detection("web", "latency", instance="10.9.0.2:80", kind=SignalKind.LATENCY)
    busy = _detection("web", "cpu", instance="10.9.0.2:80", kind=SignalKind.CPU)
    return {
        "edge": ComponentEvidence(component=STACK.get("edge")),
        "web": ComponentEvidence(component=STACK.get("web"), detections=(slow, busy)),
        # the cache carried less (its caller slowed down) and its client buffers grew
        "cache": ComponentEvidence(
            component=STACK.get("cache"),
            detections=(
                _detection("cache", "cache_commands rate", score=60.0, direction="down"),
                _detection("cache", "cache_net_input rate", score=55.0, direction="down"),
                _detection("cache", "cache_client_buffer_bytes", score=30.0),
            ),
        ),
        "db": ComponentEvidence(component=STACK.get("db")),
    }


def test_harm_on_one_instance_among_healthy_siblings_confines_its_component() -> None:
    evidence = _slow_instance_evidence()
    slow = evidence["web"].detections[0]
    assert confined_callers(evidence=evidence, affected=[_finding("10.9.0.2:80", slow)]) == {"web"}
    # without a healthy sibling left, it is the whole tier
    assert not confined_callers(evidence=evidence, affected=[_finding("10.9.0.2:80", slow, 0)])
    # a symptom on an instance not singled out: the tier as a whole is hit
    other = _detection("web", "latency", instance="10.9.0.3:80", kind=SignalKind.LATENCY)
    wide = dict(evidence)
    wide["web"] = ComponentEvidence(
        component=STACK.get("web"), detections=(*evidence["web"].detections, other)
    )
    assert not confined_callers(evidence=wide, affected=[_finding("10.9.0.2:80", slow)])


def test_a_dependency_that_only_carried_less_explains_no_confined_caller() -> None:
    evidence = _slow_instance_evidence()
    slow = evidence["web"].detections[0]
    gate = incident_gate(evidence=evidence, window=SHORT, step=STEP)
    assert gate.incident
    ranking = rank(
        topology=STACK,
        evidence=evidence,
        clients=[],
        window=SHORT,
        step=STEP,
        gate=gate,
        confined=confined_callers(evidence=evidence, affected=[_finding("10.9.0.2:80", slow)]),
    )
    assert ranking.root_cause.component == "web"


# --------------------------------------------------------------------- harm in its own terms


def test_the_catalogue_names_lost_or_refused_work_and_failed_saves_as_harm() -> None:
    assert harm_direction("redis_evicted_keys_total", ("redis",)) == "up"
    assert harm_direction("redis_rejected_connections_total", ("redis",)) == "up"
    assert harm_direction("redis_rdb_last_bgsave_status", ("redis",)) == "down"
    assert harm_direction("redis_commands_processed_total", ("redis",)) is None
    # another kind's harm is not this one's
    assert harm_direction("redis_evicted_keys_total", ("mysql",)) is None


def test_evictions_while_callers_serve_are_an_incident_of_the_cache() -> None:
    evicting = ComponentEvidence(
        component=STACK.get("cache"),
        detections=(
            _detection("cache", "redis_evicted_keys_total rate", kind=SignalKind.RATE),
            _detection("cache", "redis_memory_used_dataset_bytes"),
        ),
    )
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["cache"] = evicting
    assert evicting.has_symptom
    gate = incident_gate(evidence=evidence, window=SHORT, step=STEP)
    assert gate.incident
    assert [s.what for s in gate.seen] == ["redis_evicted_keys_total rate"]
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=SHORT, step=STEP)
    assert ranking.root_cause.component == "cache"
    # memory that grew without any key lost is load: no incident
    evidence["cache"] = ComponentEvidence(
        component=STACK.get("cache"), detections=(evicting.detections[1],)
    )
    assert not incident_gate(evidence=evidence, window=SHORT, step=STEP).incident
    quiet = rank(topology=STACK, evidence=evidence, clients=[], window=SHORT, step=STEP)
    assert quiet.root_cause.component == NO_INCIDENT


def test_a_save_status_that_fell_is_harm_and_elevated_while_down() -> None:
    failed = _detection(
        "cache", "redis_rdb_last_bgsave_status", direction="down", kind=SignalKind.GAUGE
    )
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["cache"] = ComponentEvidence(component=STACK.get("cache"), detections=(failed,))
    gate = incident_gate(evidence=evidence, window=SHORT, step=STEP)
    assert gate.incident
    assert gate.seen[0].seconds == 6 * STEP and gate.seen[0].ongoing


# ------------------------------------------------------------------------ a client retrying


def _access(ts: float, client: str, path: str, status: int) -> object:
    line = json.dumps(
        {
            "remote_addr": client,
            "request": f"GET {path} HTTP/1.1",
            "status": status,
            "request_time": 0.4,
            "http_user_agent": "agent/1",
        }
    )
    return read_event(component="edge", instance=None, ts=ts, line=line, query="")


def _traffic(ip: str, per_step: float, first: int = 0) -> ClientTraffic:
    counts = tuple(per_step if i >= first else 0.0 for i in range(TS.size))
    return ClientTraffic(ip=ip, timestamps=tuple(float(t) for t in TS), counts=counts)


def _browsers_and(retrier_path: str, retrier_failures: int) -> list[object]:
    events = []
    for n in range(4):  # four browsing clients, failing on many different pages
        events += [
            _access(ONSET + 7 * i, f"192.0.2.{n + 1}", f"/p?id={n}{i}", 500) for i in range(12)
        ]
    events += [
        _access(ONSET + 3 * i, "192.0.2.77", retrier_path, 500) for i in range(retrier_failures)
    ]
    return events


def test_a_client_repeating_one_failing_request_is_a_retry_loop_even_one_at_a_time() -> None:
    events = _browsers_and("/p?id=9", 24)
    rates = {f"192.0.2.{n}": 1.7 for n in range(1, 5)} | {"192.0.2.77": 2.4}
    loops = repeated_failures(events, rates=rates)  # type: ignore[arg-type]
    assert [(loop.ip, loop.failed) for loop in loops] == [("192.0.2.77", 24)]
    # a poller that asks now and then, slower than the browsing clients, is no loop
    assert not repeated_failures(events, rates=rates | {"192.0.2.77": 0.1})  # type: ignore[arg-type]
    # nor is a client whose failures are spread over the pages it browses
    assert not repeated_failures(_browsers_and("/p?id=9", 4), rates=rates)  # type: ignore[arg-type]


def test_every_client_failing_on_the_same_page_singles_none_out() -> None:
    events = []
    for n in range(5):
        events += [_access(ONSET + 5 * i, f"192.0.2.{n + 1}", "/checkout", 503) for i in range(20)]
    rates = {f"192.0.2.{n}": 1.0 for n in range(1, 6)}
    assert not repeated_failures(events, rates=rates)  # type: ignore[arg-type]


def test_the_retrier_is_found_through_the_client_counts_and_sampled_failures() -> None:
    traffic = [
        LogCount(labels=Labels({"jclient": ip}), timestamps=tuple(map(float, TS)), values=c.counts)
        for ip, c in (
            *((f"192.0.2.{n}", _traffic(f"192.0.2.{n}", 25.0)) for n in range(1, 5)),
            ("192.0.2.77", _traffic("192.0.2.77", 36.0, first=7)),
        )
    ]
    clients = find_abusive_clients(
        client_counts=traffic,
        retry_counts=[],
        retry_step=1.0,
        access_events=_browsers_and("/p?id=9", 24),  # type: ignore[arg-type]
        step=STEP,
    )
    assert [c.ip for c in clients] == ["192.0.2.77"]
    assert clients[0].pattern.value == "retry-loop"
