"""General ranking rules: who is the root along dependsOn, who is singled out, when a client is.

Evidence is built by hand (detections with chosen onsets and scores, log events
with chosen words) so that each test isolates one rule.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.affected import (
    errors_stand_out,
    find_affected,
    still_failing,
)
from diagnosis_operator.core.diagnosis.blame import caller_blame, named_dependencies
from diagnosis_operator.core.diagnosis.bursts import burst_start
from diagnosis_operator.core.diagnosis.evidence import (
    ComponentEvidence,
    fails_by_itself,
    incident_events,
)
from diagnosis_operator.core.diagnosis.gate import incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, LogEvent, read_event
from diagnosis_operator.core.diagnosis.onsets import new_log_categories
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    NO_INCIDENT,
    AbusiveClient,
    Anomaly,
    ClientPattern,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
INCIDENT = T0 + 2000.0

STACK = Topology(
    components=(
        Component("front", ComponentKind.PROXY, Labels({"job": "front"}), ("svc",)),
        Component("svc", ComponentKind.APP, Labels({"job": "svc"}), ("store", "kv")),
        Component("store", ComponentKind.MYSQL, Labels({"job": "store"})),
        Component("kv", ComponentKind.REDIS, Labels({"job": "kv"})),
    )
)


def _detection(
    component: str,
    family: str,
    onset: float,
    score: float,
    instance: str | None = None,
    kind: SignalKind = SignalKind.GAUGE,
) -> Detection:
    # the signal sits at its anomalous level (1.0) from the onset on
    values = np.where(onset <= TS, 1.0, 0.0)
    signal = Signal(
        component,
        instance,
        family,
        family,
        kind,
        family,
        values,
        Labels({"instance": instance} if instance else {}),
    )
    anomaly = Anomaly(
        component=component,
        signal=family,
        instance=instance,
        onset=onset,
        peak_ts=onset,
        value=1.0,
        baseline=0.0,
        score=score,
        direction="up",
        query=family,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=1.0)


def _strong(component: str, onset: float, families: int = 4) -> tuple[Detection, ...]:
    # it fails loudly: its first signal is its error ratio (a symptom), the others load
    return tuple(
        _detection(
            component,
            f"{component}-m{i}",
            onset + 15 * i,
            80.0,
            kind=SignalKind.ERROR_RATIO if i == 0 else SignalKind.GAUGE,
        )
        for i in range(families)
    )


def _errors(component: str, start: float, text: str, count: int = 30) -> ComponentLogs:
    events = tuple(
        read_event(component=component, instance=None, ts=start + 5 * i, line=text, query="")
        for i in range(count)
    )
    return ComponentLogs(component=component, events=events)


def _evidence(**parts: ComponentEvidence) -> dict[str, ComponentEvidence]:
    out = {c.name: ComponentEvidence(component=c) for c in STACK}
    out.update(parts)
    return out


def _rank(
    evidence: dict[str, ComponentEvidence], clients: list[AbusiveClient] | None = None
) -> str:
    ranking = rank(
        topology=STACK, evidence=evidence, clients=clients or [], window=WINDOW, step=STEP
    )
    return ranking.root_cause.component


def test_a_weak_early_dependency_neither_becomes_root_nor_hides_the_real_one() -> None:
    # One marginal signal on the database (one family, score 12) before a
    # service that fails loudly: the service is the root, not "none".
    evidence = _evidence(
        store=ComponentEvidence(
            component=STACK.get("store"),
            detections=(_detection("store", "lock waits", INCIDENT - 300, 12.0),),
        ),
        svc=ComponentEvidence(component=STACK.get("svc"), detections=_strong("svc", INCIDENT)),
    )
    assert _rank(evidence) == "svc"


def test_a_dependency_named_by_the_callers_errors_explains_a_small_lead() -> None:
    # The service's first failed call comes 100 s before the database's metrics
    # move: more than two steps, but its errors say the database failed.
    def stack(line: str) -> dict[str, ComponentEvidence]:
        return _evidence(
            svc=ComponentEvidence(
                component=STACK.get("svc"),
                detections=_strong("svc", INCIDENT),
                logs=_errors("svc", INCIDENT, line),
            ),
            store=ComponentEvidence(
                component=STACK.get("store"), detections=_strong("store", INCIDENT + 100)
            ),
        )

    named = stack(
        '{"level":"error","msg":"SQLTransactionRollbackException: Lock wait timeout exceeded"}'
    )
    ranking = rank(topology=STACK, evidence=named, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "store"
    svc = next(c for c in ranking.candidates if c.component == "svc")
    assert "explained by earlier store" in svc.reasons
    silent = stack('{"level":"error","msg":"request failed"}')
    ranking = rank(topology=STACK, evidence=silent, clients=[], window=WINDOW, step=STEP)
    svc = next(c for c in ranking.candidates if c.component == "svc")
    assert not any("explained by" in reason for reason in svc.reasons)


def test_a_caller_with_one_dependency_blames_nobody() -> None:
    # A proxy's access lines name whatever its paths hold ("/svc/items"); with a
    # single upstream that says nothing about which dependency failed.
    access = '10.1.1.1 - - [01/Jan/2026:00:00:00 +0000] "GET /svc/items HTTP/1.1" 503 12 "-" "curl"'
    evidence = _evidence(
        front=ComponentEvidence(
            component=STACK.get("front"), logs=_errors("front", INCIDENT, access)
        ),
        svc=ComponentEvidence(
            component=STACK.get("svc"),
            logs=_errors(
                "svc", INCIDENT, '{"level":"error","msg":"redis timeout reading from socket"}'
            ),
        ),
    )
    named = named_dependencies(topology=STACK, evidence=evidence, window=WINDOW)
    assert named == {"svc": {"store": 0, "kv": 30}}
    assert caller_blame(named) == {"store": 0.0, "kv": 1.0}


def test_a_flood_that_starts_with_the_trouble_is_the_root_one_long_after_it_is_not() -> None:
    evidence = _evidence(
        svc=ComponentEvidence(component=STACK.get("svc"), detections=_strong("svc", INCIDENT))
    )

    def flood(first_seen: float) -> list[AbusiveClient]:
        return [
            AbusiveClient(
                "203.0.113.9", "flood", 9000, ClientPattern.FLOOD, first_seen, first_seen + 600
            )
        ]

    assert _rank(evidence, flood(INCIDENT - 10)) == CLIENT_CAUSE
    assert _rank(evidence, flood(INCIDENT + 900)) == "svc"


def test_nothing_significant_is_no_incident() -> None:
    evidence = _evidence(
        svc=ComponentEvidence(
            component=STACK.get("svc"), detections=(_detection("svc", "x", INCIDENT, 9.0),)
        )
    )
    assert _rank(evidence) == NO_INCIDENT


def _instances(
    levels: dict[str, float],
) -> tuple[dict[str, list[Signal]], dict[str, list[Detection]]]:
    signals: list[Signal] = []
    detections: list[Detection] = []
    onset_index = 150
    for instance, level in levels.items():
        values = np.full(TS.size, 0.001)
        values[onset_index:] = level
        signal = Signal(
            "svc",
            instance,
            "errors ratio",
            "errors",
            SignalKind.ERROR_RATIO,
            "q",
            values,
            Labels({"instance": instance}),
        )
        signals.append(signal)
        if level >= 0.3:
            anomaly = Anomaly(
                "svc",
                "errors ratio",
                instance,
                float(TS[onset_index]),
                float(TS[onset_index]),
                level,
                0.001,
                50.0,
                "up",
                "q",
            )
            detections.append(Detection(signal, anomaly, 90, level))
    return {"svc": signals}, {"svc": detections}


def test_an_instance_is_singled_out_only_when_its_siblings_stayed_well() -> None:
    signals, detections = _instances({"a:1": 0.4, "b:1": 0.001, "c:1": 0.002})
    found = find_affected(
        topology=STACK, detections=detections, signals=signals, timestamps=TS, upstream_errors={}
    )
    assert [f.instance.instance for f in found] == ["a:1"]
    # siblings that moved most of the way (just under the detection threshold) are hit alike
    signals, detections = _instances({"a:1": 0.4, "b:1": 0.29, "c:1": 0.28})
    found = find_affected(
        topology=STACK, detections=detections, signals=signals, timestamps=TS, upstream_errors={}
    )
    assert found == []


def test_upstream_errors_count_only_from_their_burst_on() -> None:
    line = (
        '10.1.1.1 - - [01/Jan/2026:00:00:00 +0000] "GET / HTTP/1.1" 502 1 "-" "x" ua="10.9.9.9:80"'
    )
    logs = _errors("front", INCIDENT, line, count=5)
    quiet = ComponentEvidence(component=STACK.get("front"), logs=logs)
    assert incident_events(evidence=quiet, category=LogCategory.UPSTREAM_ERROR) == []
    first: LogEvent = logs.events[2]
    bursting = ComponentEvidence(
        component=STACK.get("front"),
        logs=logs,
        new_categories={LogCategory.UPSTREAM_ERROR: (first, 3)},
    )
    assert incident_events(evidence=bursting, category=LogCategory.UPSTREAM_ERROR) == list(
        logs.events[2:]
    )


def test_a_log_burst_starts_after_the_strays_that_open_its_stretch() -> None:
    stray = [T0 + 100.0, T0 + 900.0, INCIDENT - 60.0]
    burst = [INCIDENT + 0.5 * i for i in range(60)]
    stamps = stray + burst
    assert burst_start(stamps, index=2, span=300.0, usual_rate=3 / 900.0) == 3
    # events as dense as the rest of the stretch are part of the burst
    assert burst_start(burst, index=0, span=300.0, usual_rate=3 / 900.0) == 0


# --- held-out lessons: few errors, recovered instances, no symptom, a broken proxy -------


def _ratio(instance: str, errors: float, requests_per_step: float = 10.0) -> Signal:
    """An error-ratio signal with ``errors`` failures from the incident on."""
    events = np.zeros(TS.size)
    onset = int(np.searchsorted(TS, INCIDENT))
    events[onset : onset + 40] = errors / 40.0
    requests = np.full(TS.size, requests_per_step)
    return Signal(
        "svc",
        instance,
        "http 5xx ratio",
        "http errors",
        SignalKind.ERROR_RATIO,
        "q",
        events / requests,
        Labels({"instance": instance}),
        events=events,
        requests=requests,
    )


def _ratio_detection(signal: Signal) -> Detection:
    level = float(np.max(signal.values))
    anomaly = Anomaly(
        "svc", signal.name, signal.instance, INCIDENT, INCIDENT, level, 0.0, 40.0, "up", "q"
    )
    return Detection(signal, anomaly, 40, level)


def test_a_few_failed_requests_do_not_single_out_an_instance() -> None:
    # 4 failures among ~7000 requests (99.9 % success) vs none at the siblings
    few = _ratio("a:1", 4.0)
    siblings = [_ratio("b:1", 0.0), _ratio("c:1", 0.0)]
    found = find_affected(
        topology=STACK,
        detections={"svc": [_ratio_detection(few)]},
        signals={"svc": [few, *siblings]},
        timestamps=TS,
        upstream_errors={},
    )
    assert found == []
    many = _ratio("a:1", 150.0)
    found = find_affected(
        topology=STACK,
        detections={"svc": [_ratio_detection(many)]},
        signals={"svc": [many, *siblings]},
        timestamps=TS,
        upstream_errors={},
    )
    assert [f.instance.instance for f in found] == ["a:1"]


def test_errors_stand_out_only_when_many_material_and_unlikely() -> None:
    siblings = [_ratio("b:1", 2.0), _ratio("c:1", 2.0)]
    for errors, expected in ((4.0, False), (12.0, False), (200.0, True)):
        signal = _ratio("a:1", errors, requests_per_step=100.0)
        assert (
            errors_stand_out(
                detection=_ratio_detection(signal), peers=[signal, *siblings], timestamps=TS
            )
            is expected
        ), errors


def test_an_instance_the_proxy_stopped_naming_long_ago_recovered() -> None:
    blip = [INCIDENT + i for i in range(0, 90, 2)] + [INCIDENT + 1500.0]  # then one stray error
    assert not still_failing(times=blip, end=INCIDENT + 1800.0)
    ongoing = [INCIDENT + 20.0 * i for i in range(90)]
    assert still_failing(times=ongoing, end=INCIDENT + 1800.0)
    # sampled lines that stop early (the sample's limit) say nothing of the rest
    assert still_failing(times=blip[:-1], end=INCIDENT + 90.0)

    signals = [
        Signal(
            "svc", i, "g", "g", SignalKind.GAUGE, "q", np.zeros(TS.size), Labels({"instance": i})
        )
        for i in ("10.0.0.1:80", "10.0.0.2:80")
    ]

    def affected(times: list[float]) -> list[str]:
        found = find_affected(
            topology=STACK,
            detections={},
            signals={"svc": signals},
            timestamps=TS,
            upstream_errors={"front": {"10.0.0.1:80": len(times)}},
            upstream_seen={"front": {"10.0.0.1:80": times}},
            log_horizon={"front": INCIDENT + 1800.0},
        )
        return [f.instance.instance for f in found]

    assert affected(blip) == []
    assert affected(ongoing) == ["10.0.0.1:80"]


def test_load_that_moved_without_any_symptom_is_no_incident() -> None:
    load = tuple(_detection("svc", f"svc-load{i}", INCIDENT + 15 * i, 80.0) for i in range(4))
    evidence = _evidence(svc=ComponentEvidence(component=STACK.get("svc"), detections=load))
    assert _rank(evidence) == NO_INCIDENT
    slower = (*load, _detection("svc", "svc-latency", INCIDENT, 40.0, kind=SignalKind.LATENCY))
    evidence = _evidence(svc=ComponentEvidence(component=STACK.get("svc"), detections=slower))
    assert _rank(evidence) == "svc"


def _fell(component: str, onset: float) -> tuple[Detection, ...]:
    out = []
    for i in range(3):
        detection = _detection(component, f"{component}-work{i}", onset, 40.0)
        anomaly = Anomaly(
            component, detection.anomaly.signal, None, onset, onset, 0.1, 1.0, 40.0, "down", "q"
        )
        out.append(Detection(detection.signal, anomaly, 50, 0.1))
    return tuple(out)


def test_a_callee_whose_work_fell_after_its_caller_broke_explains_nothing() -> None:
    evidence = _evidence(
        svc=ComponentEvidence(component=STACK.get("svc"), detections=_strong("svc", INCIDENT)),
        store=ComponentEvidence(
            component=STACK.get("store"), detections=_fell("store", INCIDENT + 15)
        ),
    )
    assert _rank(evidence) == "svc"
    # the same fall before the caller's trouble began may well explain it
    evidence["store"] = ComponentEvidence(
        component=STACK.get("store"), detections=_fell("store", INCIDENT - 600)
    )
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    svc = next(c for c in ranking.candidates if c.component == "svc")
    assert "explained by earlier store" in svc.reasons


def _proxy_logs(*, upstream_in_errors: bool) -> ComponentLogs:
    lines: list[tuple[float, str]] = []
    for i in range(6):  # ordinary hour: a 500 now and then, naming its upstream
        lines.append(
            (
                T0 + 300.0 * i,
                f'10.1.1.{i} - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 500 5 "-" "x" '
                'upstream="10.2.0.1:8080"',
            )
        )
    for i in range(60):
        upstream = '"10.2.0.1:8080"' if upstream_in_errors else '"-"'
        lines.append(
            (
                INCIDENT + 10.0 * i,
                f'10.1.1.{i} - - [01/Jan/2026:00:00:00 +0000] "GET /a HTTP/1.1" 502 5 "-" "x" '
                f"upstream={upstream}",
            )
        )
        lines.append(
            (
                INCIDENT + 10.0 * i + 1,
                "2026/01/01 00:00:00 [error] 7#7: *1 no resolver defined to resolve a.internal, "
                'client: 10.1.1.1, request: "GET /a HTTP/1.1"',
            )
        )
    events = tuple(
        read_event(component="front", instance=None, ts=ts, line=line, query="")
        for ts, line in lines
    )
    return ComponentLogs(component="front", events=events)


def _proxy_evidence(logs: ComponentLogs) -> ComponentEvidence:
    return ComponentEvidence(
        component=STACK.get("front"),
        detections=(_detection("front", "front 5xx", INCIDENT, 90.0, kind=SignalKind.ERROR_RATIO),),
        logs=logs,
        new_categories=new_log_categories(logs=logs, window=WINDOW),
    )


def test_a_proxy_that_answers_its_errors_itself_is_the_root() -> None:
    broken = _proxy_evidence(_proxy_logs(upstream_in_errors=False))
    assert fails_by_itself(evidence=broken, window=WINDOW)
    # its upstream's CPU and traffic fell a little later: nothing reaches it any more
    quiet_svc = ComponentEvidence(
        component=STACK.get("svc"),
        detections=_fell("svc", INCIDENT + 15) + _strong("svc", INCIDENT + 15)[1:],
    )
    assert _rank(_evidence(front=broken, svc=quiet_svc)) == "front"
    healthy_proxy = _proxy_evidence(_proxy_logs(upstream_in_errors=True))
    assert not fails_by_itself(evidence=healthy_proxy, window=WINDOW)


def _latency(component: str, elevated: slice) -> Detection:
    detection = _detection(
        component, f"{component}-latency", INCIDENT, 40.0, kind=SignalKind.LATENCY
    )
    values = np.zeros(TS.size)
    values[elevated] = 1.0
    signal = Signal(
        component, None, "latency", "latency", SignalKind.LATENCY, "latency", values, Labels({})
    )
    return Detection(signal=signal, anomaly=detection.anomaly, exceedances=3, peak=1.0)


def test_slowness_that_healed_long_before_the_end_is_no_incident() -> None:
    load = tuple(_detection("svc", f"svc-load{i}", INCIDENT + 15 * i, 80.0) for i in range(4))
    start = int((INCIDENT - T0) / STEP)
    blip = (*load, _latency("svc", slice(start, start + 2)))
    evidence = _evidence(svc=ComponentEvidence(component=STACK.get("svc"), detections=blip))
    assert not incident_gate(evidence=evidence, window=WINDOW, step=STEP).incident
    assert _rank(evidence) == NO_INCIDENT
    lasting = (*load, _latency("svc", slice(start, TS.size)))
    evidence = _evidence(svc=ComponentEvidence(component=STACK.get("svc"), detections=lasting))
    assert incident_gate(evidence=evidence, window=WINDOW, step=STEP).incident
    assert _rank(evidence) == "svc"
    failing = (*blip, _detection("svc", "svc-errors", INCIDENT, 40.0, kind=SignalKind.ERROR_RATIO))
    evidence = _evidence(svc=ComponentEvidence(component=STACK.get("svc"), detections=failing))
    assert _rank(evidence) == "svc"
