"""A release whose new instances are worse than the old ones were: the component's harm,
and the 5xx a caller's access log blames on each upstream instance."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from diagnosis_operator.core.diagnosis.logs import ComponentLogs, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.logs.categories import read_event
from diagnosis_operator.core.diagnosis.logs.patterns import SIGNIFICANT_FILTER
from diagnosis_operator.core.diagnosis.release_harm import release_detections, release_harm
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.core.diagnosis.upstream_reports import (
    blamed_upstream,
    flags_of,
    reported_signals,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

STEP = 15.0
T0 = 1_700_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + STEP * 199), step=STEP)
ROLL = 60  # the rollout's first new instance, as a grid index


Level = Callable[[int], float]
LATENCY = ("http_request_duration_seconds mean", SignalKind.LATENCY)
LAG = ("nodejs_eventloop_lag_seconds", SignalKind.GAUGE)
THROTTLED = ("container_cpu_cfs_throttled_periods_total rate", SignalKind.RATE)
MEMORY = ("process_resident_memory_bytes", SignalKind.GAUGE)


def _signal(
    instance: str,
    level: Level,
    *,
    start: int = 0,
    stop: int = 200,
    what: tuple[str, SignalKind] = LATENCY,
) -> Signal:
    """One instance's series: ``level`` per grid index from ``start`` to ``stop``, +-10 %."""
    name, kind = what
    values = np.full(TS.shape, np.nan)
    rng = np.random.default_rng(sum(map(ord, instance)))
    for k in range(start, stop):
        values[k] = level(k) * rng.uniform(0.9, 1.1)
    return Signal(
        "api", instance, name, name.split()[0], kind, "q", values, Labels({"instance": instance})
    )


def _old(level: Level = lambda k: 0.05, what: tuple[str, SignalKind] = LATENCY) -> list[Signal]:
    """Three old instances, gone one by one once the new ones came."""
    return [_signal(f"10.0.0.{i}:80", level, stop=ROLL + 8 * i + 6, what=what) for i in range(3)]


def _new(level: Level, count: int = 3, what: tuple[str, SignalKind] = LATENCY) -> list[Signal]:
    return [_signal(f"10.0.1.{i}:80", level, start=ROLL + 8 * i, what=what) for i in range(count)]


def test_new_instances_slower_than_the_old_were_are_the_release_s_harm() -> None:
    new = _new(lambda k: 0.4)
    found = release_harm(signals=_old() + new, timestamps=TS)
    assert sorted(d.signal.instance or "" for d in found) == [s.instance for s in new]
    first = min(found, key=lambda d: d.onset)
    assert first.onset == TS[ROLL]  # dated at the first new instance's first scrape
    assert first.anomaly.direction == "up" and first.score >= 10.0
    assert 0.04 < first.anomaly.baseline < 0.06


def test_an_event_loop_lag_and_cfs_throttling_read_worse_the_higher_they_go() -> None:
    lagging = _old(lambda k: 0.008, LAG) + _new(lambda k: 2.0, what=LAG)
    assert len(release_harm(signals=lagging, timestamps=TS)) == 3
    throttled = _old(lambda k: 0.1, THROTTLED) + _new(lambda k: 7.0, what=THROTTLED)
    assert len(release_harm(signals=throttled, timestamps=TS)) == 3


def test_a_load_gauge_higher_on_new_instances_is_no_harm() -> None:
    memory = _old(lambda k: 1e8, MEMORY) + _new(lambda k: 3e8, what=MEMORY)
    assert release_harm(signals=memory, timestamps=TS) == []


def test_a_warm_up_slow_only_at_first_is_no_release_harm() -> None:
    def warming(k: int) -> float:
        return 0.6 if (k - ROLL) % 8 < 3 else 0.05

    assert release_harm(signals=_old() + _new(warming), timestamps=TS) == []


def test_an_incident_after_a_healthy_rollout_is_not_the_release_s() -> None:
    later = _new(lambda k: 0.05 if k < ROLL + 40 else 0.5)
    assert release_harm(signals=_old() + later, timestamps=TS) == []


def test_old_instances_as_slow_beside_the_new_ones_share_a_cause() -> None:
    slow_from_roll = _old(lambda k: 0.05 if k < ROLL else 0.4)
    assert release_harm(signals=slow_from_roll + _new(lambda k: 0.4), timestamps=TS) == []


def test_one_new_instance_is_a_canary_and_all_new_must_be_worse() -> None:
    assert release_harm(signals=_old() + _new(lambda k: 0.4, count=1), timestamps=TS) == []
    mixed = [*_new(lambda k: 0.4, count=2), _signal("10.0.1.9:80", lambda k: 0.05, start=ROLL)]
    assert release_harm(signals=_old() + mixed, timestamps=TS) == []


# --- the 5xx a caller blames on each upstream instance ---------------------------------

ENVOY = (
    '{{"start_time":"2023-01-01T00:00:00Z","method":"GET","path":"/v1/x","response_code":{code},'
    '"response_flags":"{flags}","upstream_host":"{host}","duration":2}}'
)
NGINX = (
    '100.1.2.3 - - [01/Jan/2023:00:00:00 +0000] "GET /v1/x HTTP/1.1" {code} 160 "-" "curl/8" '
    "312 5.001 [feed-api-3000] [] {host} 0 5.000 {code} abc"
)


def _event(line: str, ts: float) -> LogEvent:
    return read_event(component="edge", instance=None, ts=ts, line=line, query="{job=edge}")


def test_an_upstream_s_5xx_is_the_upstream_s_unless_the_proxy_refused_it() -> None:
    uc = _event(ENVOY.format(code=503, flags="UC", host="10.0.1.0:80"), T0)
    assert flags_of(uc.line) == {"UC"}
    assert blamed_upstream(uc) == "10.0.1.0:80"
    overflow = _event(ENVOY.format(code=503, flags="UO", host="10.0.1.0:80"), T0)
    assert blamed_upstream(overflow) is None  # circuit breaking: the proxy's own
    ok = _event(ENVOY.format(code=200, flags="-", host="10.0.1.0:80"), T0)
    assert blamed_upstream(ok) is None
    timeout = _event(NGINX.format(code=504, host="10.0.1.1:80"), T0)
    assert blamed_upstream(timeout) == "10.0.1.1:80"
    text = '[2023-01-01T00:00:00.000Z] "GET /x HTTP/1.1" 503 URX 0 91 3 - "-" "curl/8"'
    assert flags_of(text) == {"URX"}


def test_an_envoy_json_5xx_is_a_line_worth_reading() -> None:
    line = ENVOY.format(code=503, flags="UC", host="10.0.1.0:80")
    assert re.search(SIGNIFICANT_FILTER, line)
    assert _event(line, T0).category is LogCategory.UPSTREAM_ERROR


def _edge_logs(hosts: list[str]) -> ComponentLogs:
    """The proxy's 503 UC lines: three per host and step, from the rollout on."""
    events = [
        _event(ENVOY.format(code=503, flags="UC", host=host), float(TS[k]) + 1.0 + n)
        for k in range(ROLL, 200)
        for host in hosts
        for n in range(3)
    ]
    return ComponentLogs(component="edge", events=tuple(events))


TOPOLOGY = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), depends_on=("api",)),
        Component("api", ComponentKind.APP, Labels({"job": "api"})),
    )
)


def test_the_5xx_blamed_on_new_instances_only_are_their_release_s_harm() -> None:
    healthy = {"api": _old() + _new(lambda k: 0.05)}  # their own metrics see nothing
    hosts = [f"10.0.1.{i}:80" for i in range(3)]
    reported = reported_signals(
        topology=TOPOLOGY, logs={"edge": _edge_logs(hosts)}, signals=healthy, timestamps=TS
    )
    blamed = {s.instance: float(np.nansum(s.values)) for s in reported["api"]}
    assert blamed["10.0.0.0:80"] == 0.0 and blamed["10.0.1.2:80"] > 100
    found = release_detections(
        topology=TOPOLOGY,
        signals=healthy,
        logs={"edge": _edge_logs(hosts)},
        timestamps=TS,
        detected=(),
    )
    assert sorted(d.signal.instance or "" for d in found) == hosts
    assert all(
        d.signal.component == "api" and d.signal.name == "5xx reported by edge" for d in found
    )


def test_5xx_blamed_on_old_and_new_instances_alike_name_no_release() -> None:
    healthy = {"api": _old() + _new(lambda k: 0.05)}
    everyone = [f"10.0.{g}.{i}:80" for g in (0, 1) for i in range(3)]
    found = release_detections(
        topology=TOPOLOGY,
        signals=healthy,
        logs={"edge": _edge_logs(everyone)},
        timestamps=TS,
        detected=(),
    )
    assert found == []


REQUESTS = ("http_requests_total request rate", SignalKind.REQUEST_RATE)


def test_new_instances_slower_under_more_requests_each_are_the_load_s_doing() -> None:
    slow = _old() + _new(lambda k: 0.4)
    same_load = _old(lambda k: 5.0, REQUESTS) + _new(lambda k: 5.0, what=REQUESTS)
    assert len(release_harm(signals=slow + same_load, timestamps=TS)) == 3
    doubled = _old(lambda k: 5.0, REQUESTS) + _new(lambda k: 10.0, what=REQUESTS)
    assert release_harm(signals=slow + doubled, timestamps=TS) == []
