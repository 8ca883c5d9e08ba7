"""Models of how components fail, as the lab's real software showed them (issues 10, 11).

* a short window's baseline is a third of it (a few minutes, 15 s steps);
* a caller whose harm stays on one instance among healthy siblings is explained by
  no shared dependency, and a component that only carried less load is no cause;
* the catalogue's harm metrics (evicted keys, a failed save) are symptoms;
* a client repeating one failing request far more than any other is a retry loop.

All inputs are synthetic: names, addresses and values of our own.
"""

from __future__ import annotations

import dataclasses
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
from diagnosis_operator.core.diagnosis.tight_loops import densest, repeated_failures
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


def test_one_failing_request_tried_now_and_then_over_the_window_is_no_retry_loop() -> None:
    # twelve failures of the same search, one every 2.5 minutes: a user trying a
    # slow page again, not a client resending it within seconds
    events = _browsers_and("/p?id=9", 0)
    events += [_access(ONSET + 150 * i, "192.0.2.77", "/p?id=9", 500) for i in range(12)]
    rates = {f"192.0.2.{n}": 1.7 for n in range(1, 5)} | {"192.0.2.77": 2.4}
    assert not repeated_failures(events, rates=rates)  # type: ignore[arg-type]
    # the same twelve resent every 3 s are one
    events = _browsers_and("/p?id=9", 12)
    assert [loop.ip for loop in repeated_failures(events, rates=rates)] == ["192.0.2.77"]  # type: ignore[arg-type]


def test_densest_counts_the_most_times_within_a_span() -> None:
    assert densest([], span=60.0) == 0
    assert densest([0.0, 30.0, 59.0, 61.0, 200.0], span=60.0) == 3
    assert densest([0.0, 150.0, 300.0], span=60.0) == 1


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


# ----------------------------------------------------------------- proxies and releases


def test_envoy_answering_503_itself_from_its_circuit_breaker_is_its_own_mode_and_harm() -> None:
    from diagnosis_operator.core.diagnosis.derived import derived_signals
    from diagnosis_operator.core.diagnosis.modes import root_failure_mode
    from diagnosis_operator.models.findings import RootCause

    kinds = ("proxy",)
    assert harm_direction("envoy_cluster_upstream_rq_pending_overflow_total", kinds) == "up"
    front = Topology(components=(Component("mesh", ComponentKind.PROXY, Labels({"job": "m"})),))
    overflow = _detection(
        "mesh", "envoy_cluster_upstream_rq_pending_overflow rate", kind=SignalKind.RATE
    )
    pending = _detection("mesh", "envoy_cluster_upstream_rq_pending_active")
    evidence = {
        "mesh": ComponentEvidence(component=front.get("mesh"), detections=(overflow, pending))
    }
    assert incident_gate(evidence=evidence, window=SHORT, step=STEP).incident
    root = RootCause(component="mesh", kind="proxy", instance=None, confidence=0.7, summary="")
    mode = root_failure_mode(topology=front, evidence=evidence, root_cause=root)
    assert mode == "circuit breaker overflow"
    # Envoy's response code class label gives the 5xx ratio, with a query that selects it
    ok, failed = np.full(TS.size, 9.0), np.where(ONSET <= TS, 3.0, 0.0)
    rates = {
        ("envoy_http_downstream_rq_xx", Labels({"envoy_response_code_class": "2"})): ok,
        ("envoy_http_downstream_rq_xx", Labels({"envoy_response_code_class": "5"})): failed,
    }
    made = derived_signals("mesh", rates, STEP, pods={})
    ratio = next(s for s in made if s.kind is SignalKind.ERROR_RATIO)
    assert float(ratio.values[-1]) == 0.25
    assert 'envoy_response_code_class=~"5"' in ratio.query


def test_a_data_store_that_reported_itself_down_explains_callers_that_failed_a_step_earlier() -> (
    None
):
    down = _detection("db", "pg_up", direction="down")
    fewer = _detection("db", "pg_stat_database_xact_commit rate", direction="down")
    evidence = {c.name: ComponentEvidence(component=c) for c in STACK}
    evidence["db"] = ComponentEvidence(component=STACK.get("db"), detections=(down, fewer))
    early = [
        _detection("web", "5xx ratio", kind=SignalKind.ERROR_RATIO),
        _detection("web", "latency", kind=SignalKind.LATENCY),
    ]
    # the callers failed a step before the exporter said the store was down
    shifted = [
        dataclasses.replace(d, anomaly=dataclasses.replace(d.anomaly, onset=ONSET - STEP))
        for d in early
    ]
    evidence["web"] = ComponentEvidence(component=STACK.get("web"), detections=tuple(shifted))
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=SHORT, step=STEP)
    assert ranking.root_cause.component == "db"


def test_an_instance_singled_out_only_by_traffic_that_fell_away_is_not_affected() -> None:
    from diagnosis_operator.core.diagnosis.affected import find_affected

    flat = [10.0] * TS.size
    gone = [10.0] * 7 + [0.0] * (TS.size - 7)
    signals = [
        _signal("web", f"requests {n}", values, instance=f"10.9.0.{i}:80", kind=SignalKind.RATE)
        for i, values in ((1, gone), (2, flat), (3, flat))
        for n in range(3)
    ]
    fallen = [
        _detection(
            "web", f"requests {n}", direction="down", instance="10.9.0.1:80", kind=SignalKind.RATE
        )
        for n in range(3)
    ]
    found = find_affected(
        topology=STACK,
        detections={"web": fallen},
        signals={"web": signals},
        timestamps=TS,
        upstream_errors={},
    )
    assert found == []


def test_a_text_access_line_that_opens_with_the_client_is_read_in_any_field_order() -> None:
    import re

    from diagnosis_operator.core.diagnosis.logs import ACCESS_PATTERN, NETWORK_PATTERN, parse_access

    line = (
        '198.51.100.7 [19/Dec/2028:14:00:00 +0000] 0.124 "GET /search?page=3" 200 970 '
        'upstream=10.1.2.3:9000 ua="Mozilla/5.0 (X11)"'
    )
    record = parse_access(line)
    assert record is not None
    assert (record.client, record.path, record.status, record.agent) == (
        "198.51.100.7",
        "/search?page=3",
        200,
        "Mozilla/5.0 (X11)",
    )
    groups = {k: v for k, v in re.search(ACCESS_PATTERN, line).groupdict().items() if v}  # type: ignore[union-attr]
    assert groups == {"tclient": "198.51.100.7", "trequest": "GET /search?page=3"}
    net = {k: v for k, v in re.search(NETWORK_PATTERN, line).groupdict().items() if v}  # type: ignore[union-attr]
    assert net == {"tnet": "198.51.100."}
    # a line that opens with a word, not an address, is no access line
    assert parse_access('cafe [x] "GET /a" 200 1') is None
