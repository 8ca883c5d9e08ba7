"""The incident gate: a root cause only for a significant, sustained symptom.  Synthetic inputs.

A blip that healed by itself (a 45 s stall of one instance, a deploy's few
failed requests, a single slow query in a busy hour) is no incident: root
``none``, what was seen in the summary, nothing to remediate.  A symptom that
lasts, one still going on at the end, or a data store that reported itself down
and did not heal (a failover, however short) is one; a store restarted and serving
again for a minute is a blip.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.api.policy import Thresholds
from diagnosis_operator.catalog.gate import is_availability_gauge
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.gate import elevated_steps, incident_gate
from diagnosis_operator.core.diagnosis.logs import ComponentLogs, read_event
from diagnosis_operator.core.diagnosis.onsets import new_log_categories
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.engine import EngineSettings
from diagnosis_operator.models.findings import NO_INCIDENT, Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
START = int(2100 / STEP)  # the symptom's first step, 35 min into the hour

STACK = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("web",)),
        Component("web", ComponentKind.APP, Labels({"job": "web"}), ("db", "cache")),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)


def _series(level: float, steps: int, *, base: float = 0.0, start: int = START) -> FloatArray:
    values = np.full(TS.size, base)
    values[start : start + steps] = level
    return values


def _detection(
    component: str,
    name: str,
    values: FloatArray,
    *,
    kind: SignalKind,
    baseline: float = 0.0,
    direction: str = "up",
) -> Detection:
    moved = np.flatnonzero(values != baseline)
    onset_index = int(moved[0]) if moved.size else START
    level = float(values[onset_index])
    signal = Signal(component, "i-1", name, name, kind, name, values, Labels({"instance": "i-1"}))
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance="i-1",
        onset=float(TS[onset_index]),
        peak_ts=float(TS[onset_index]),
        value=level,
        baseline=baseline,
        score=80.0,
        direction=direction,
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=3, peak=level)


def _failing_web(steps: int, *, ratio: float = 0.3) -> ComponentEvidence:
    """web's 5xx ratio at ``ratio`` for ``steps`` steps, with load signals that moved too."""
    detections = (
        _detection("web", "5xx ratio", _series(ratio, steps), kind=SignalKind.ERROR_RATIO),
        _detection(
            "web",
            "connections",
            _series(50.0, steps, base=10.0),
            kind=SignalKind.GAUGE,
            baseline=10.0,
        ),
        _detection(
            "web", "threads", _series(40.0, steps, base=8.0), kind=SignalKind.GAUGE, baseline=8.0
        ),
    )
    return ComponentEvidence(component=STACK.get("web"), detections=detections)


def _evidence(**parts: ComponentEvidence) -> dict[str, ComponentEvidence]:
    out = {c.name: ComponentEvidence(component=c) for c in STACK}
    out.update(parts)
    return out


def _root(evidence: dict[str, ComponentEvidence], settings: EngineSettings | None = None) -> str:
    gate = incident_gate(
        evidence=evidence, window=WINDOW, step=STEP, settings=settings or EngineSettings()
    )
    ranking = rank(
        topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP, gate=gate
    )
    return ranking.root_cause.component


def test_a_45_second_blip_that_healed_is_no_incident_and_is_named_in_the_summary() -> None:
    evidence = _evidence(web=_failing_web(3))
    gate = incident_gate(evidence=evidence, window=WINDOW, step=STEP)
    assert not gate.incident
    ranking = rank(topology=STACK, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == NO_INCIDENT
    assert "web 5xx ratio for 45 s" in ranking.root_cause.summary


def test_a_symptom_that_lasts_names_a_root() -> None:
    assert _root(_evidence(web=_failing_web(20))) == "web"  # 5 minutes, then healed


def test_a_short_symptom_still_going_on_at_the_end_is_an_incident() -> None:
    late = int((WINDOW.duration - 45) / STEP)
    detections = (
        _detection("web", "5xx ratio", _series(0.4, 10, start=late), kind=SignalKind.ERROR_RATIO),
        _detection(
            "web",
            "threads",
            _series(40.0, 10, base=8.0, start=late),
            kind=SignalKind.GAUGE,
            baseline=8.0,
        ),
    )
    evidence = _evidence(web=ComponentEvidence(component=STACK.get("web"), detections=detections))
    assert incident_gate(evidence=evidence, window=WINDOW, step=STEP).incident
    assert _root(evidence) == "web"


def test_an_error_ratio_below_the_minimum_rise_is_not_elevated() -> None:
    # 0.4 % of requests failing for half an hour: a 99 % objective's business as usual
    evidence = _evidence(web=_failing_web(120, ratio=0.004))
    assert _root(evidence) == NO_INCIDENT
    stricter = EngineSettings(min_error_ratio_rise=0.001)
    assert _root(evidence, stricter) == "web"


def test_latency_counts_only_when_it_rose_by_the_minimum_effect() -> None:
    slower = _detection(
        "web", "latency", _series(0.13, 40, base=0.1), kind=SignalKind.LATENCY, baseline=0.1
    )
    assert not elevated_steps(slower).any()  # 30 % slower: a busy hour
    assert elevated_steps(slower, settings=EngineSettings(min_latency_rise=0.2)).sum() == 40


def test_the_duration_a_symptom_must_last_is_a_setting() -> None:
    evidence = _evidence(web=_failing_web(8))  # 2 minutes
    assert _root(evidence) == NO_INCIDENT
    assert _root(evidence, EngineSettings(min_symptom_seconds=60.0)) == "web"
    short = Window(start=T0, end=T0 + 240.0)  # never more than a quarter of the window
    assert incident_gate(evidence=evidence, window=short, step=STEP).needed == 60.0


def _cache_down(steps: int, *, start: int = START) -> ComponentEvidence:
    down = _detection(
        "cache",
        "redis_up",
        _series(0.0, steps, base=1.0, start=start),
        kind=SignalKind.GAUGE,
        baseline=1.0,
        direction="down",
    )
    return ComponentEvidence(component=STACK.get("cache"), detections=(down,))


def test_a_data_store_still_down_at_the_end_is_an_incident_however_short() -> None:
    cache = _cache_down(2, start=TS.size - 2)  # a failover: down to the window's end
    gate = incident_gate(
        evidence=_evidence(web=_failing_web(2), cache=cache), window=WINDOW, step=STEP
    )
    assert gate.incident
    assert gate.down == ("cache",)
    # back up only a step before the end: too soon to call it healed
    cache = _cache_down(2, start=TS.size - 4)
    assert incident_gate(evidence=_evidence(cache=cache), window=WINDOW, step=STEP).incident


def test_a_data_store_down_for_long_then_back_is_an_incident() -> None:
    cache = _cache_down(20)  # 5 minutes down, back since
    gate = incident_gate(evidence=_evidence(cache=cache), window=WINDOW, step=STEP)
    assert gate.incident
    assert gate.down == ("cache",)


def test_a_data_store_restarted_and_serving_since_is_a_blip_that_healed() -> None:
    # 30 s down (a package upgrade's restart), its callers' few errors, then served again
    evidence = _evidence(web=_failing_web(2), cache=_cache_down(2))
    gate = incident_gate(evidence=evidence, window=WINDOW, step=STEP)
    assert not gate.incident
    assert gate.down == ()
    assert [s.component for s in gate.healed] == ["cache"]
    assert "cache reported itself down for 30 s" in gate.describe()
    assert _root(evidence) == NO_INCIDENT


def test_one_instance_of_a_stateless_tier_down_is_no_incident() -> None:
    # one instance of a stateless tier down is what its siblings are there for
    pod_down = _detection(
        "web",
        "up",
        _series(0.0, 3, base=1.0),
        kind=SignalKind.GAUGE,
        baseline=1.0,
        direction="down",
    )
    web = _failing_web(2)
    web = ComponentEvidence(component=web.component, detections=(*web.detections, pod_down))
    assert not incident_gate(evidence=_evidence(web=web), window=WINDOW, step=STEP).incident


def _log_evidence(component: str, times: list[float], line: str) -> ComponentEvidence:
    events = tuple(
        read_event(component=component, instance=None, ts=ts, line=line, query="") for ts in times
    )
    logs = ComponentLogs(component=component, events=events)
    return ComponentEvidence(
        component=STACK.get(component),
        logs=logs,
        new_categories=new_log_categories(logs=logs, window=WINDOW),
    )


DEADLOCK = "InnoDB: Deadlock found when trying to get lock; try restarting transaction"


TOO_MANY = "[Warning] Too many connections"


def test_severe_log_lines_last_as_long_as_the_steps_holding_them() -> None:
    burst = _log_evidence("db", [T0 + 2100.0 + i for i in range(30)], TOO_MANY)
    gate = incident_gate(evidence=_evidence(db=burst), window=WINDOW, step=STEP)
    assert burst.new_categories
    assert not gate.incident
    assert "db too-many-connections log lines" in gate.describe()
    lasting = _log_evidence("db", [T0 + 2100.0 + 10 * i for i in range(60)], TOO_MANY)
    assert incident_gate(evidence=_evidence(db=lasting), window=WINDOW, step=STEP).incident


def test_availability_gauges_of_the_usual_exporters() -> None:
    for name in ("up", "redis_up", "mysql_up", "pg_up", "nginx_up", "haproxy_up"):
        assert is_availability_gauge(name)
    assert not is_availability_gauge("redis_uptime_in_seconds")


def test_a_policy_overrides_the_gate_thresholds() -> None:
    settings = Thresholds.model_validate(
        {"minSymptomDuration": "5m", "minErrorRatioRise": 0.02, "minLatencyRise": 1.0}
    ).to_engine_settings()
    assert settings.min_symptom_seconds == 300.0
    assert settings.min_error_ratio_rise == 0.02
    assert settings.min_latency_rise == 1.0
    assert Thresholds().to_engine_settings() == EngineSettings()
    with pytest.raises(ValueError, match="min_symptom_seconds"):
        EngineSettings(min_symptom_seconds=-1.0)


SLOW = "# Query_time: 2.104  Lock_time: 0.000  Rows_sent: 400000  Rows_examined: 400000"


def test_slow_statements_no_caller_felt_are_no_incident() -> None:
    """A nightly dump's full reads fill the slow log; the API in front of it is at baseline."""
    times = [T0 + 2100.0 + 10 * i for i in range(60)]
    slow = _log_evidence("db", times, SLOW)
    assert slow.new_categories
    gate = incident_gate(evidence=_evidence(db=slow), window=WINDOW, step=STEP)
    assert not gate.incident
    assert "db logged slow statements that none of its callers felt" in gate.describe()
    # the same slow log while its caller fails is an incident
    felt = incident_gate(
        evidence=_evidence(db=slow, web=_failing_web(40)), window=WINDOW, step=STEP
    )
    assert felt.incident
    # deadlocks its transactions retried are judged alike (``retried_deadlocks``) ...
    deadlocks = _log_evidence("db", times, DEADLOCK)
    assert not incident_gate(evidence=_evidence(db=deadlocks), window=WINDOW, step=STEP).incident
    felt = incident_gate(
        evidence=_evidence(db=deadlocks, web=_failing_web(40)), window=WINDOW, step=STEP
    )
    assert felt.incident
    # ... while other severe lines of the store count by themselves, as before
    full = _log_evidence("db", times, TOO_MANY)
    assert incident_gate(evidence=_evidence(db=full), window=WINDOW, step=STEP).incident
