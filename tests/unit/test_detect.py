"""Anomaly detection on synthetic signals: baselines, onsets, counters, sparse bursts."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from diagnosis_operator.core.diagnosis.collected import SIGNIFICANT_LINES
from diagnosis_operator.core.diagnosis.counters import counter_rate
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import build_signals, grid_timestamps
from diagnosis_operator.core.diagnosis.stats import poisson_tail
from diagnosis_operator.models.signals import (
    ComponentSignals,
    Labels,
    LogCount,
    MetricType,
    Series,
    Window,
)

WINDOW = Window(start=1_000_000.0, end=1_000_000.0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)


def gauge(values: np.ndarray, name: str = "g", instance: str = "a") -> Signal:
    return Signal(
        component="c",
        instance=instance,
        name=name,
        family=name,
        kind=SignalKind.GAUGE,
        query=name,
        values=values,
        labels=Labels({"instance": instance}),
    )


def test_level_shift_is_found_with_its_onset() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(100.0, 2.0, TS.size)
    values[150:] += 40.0
    found = detect(signals=[gauge(values)], timestamps=TS)
    assert len(found) == 1
    assert found[0].onset == TS[150]
    assert found[0].anomaly.direction == "up"
    assert found[0].anomaly.baseline == pytest.approx(100.0, abs=2.0)


def test_noise_alone_is_not_an_anomaly() -> None:
    rng = np.random.default_rng(11)
    signals = [gauge(rng.normal(50.0, 5.0, TS.size), instance=str(i)) for i in range(300)]
    assert detect(signals=signals, timestamps=TS) == []


def test_a_burst_that_came_and_went_is_not_taken_for_the_baseline() -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(10.0, 0.5, TS.size)
    values[70:100] += 20.0
    found = detect(signals=[gauge(values)], timestamps=TS)
    assert len(found) == 1
    assert found[0].onset == TS[70]


def test_a_drop_is_found_as_down() -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(0.999, 0.0005, TS.size)
    values[180:] = 0.63
    found = detect(signals=[gauge(values)], timestamps=TS)
    assert found and found[0].anomaly.direction == "down"
    assert found[0].anomaly.value == pytest.approx(0.63)


def test_counter_rate_handles_resets() -> None:
    values = np.array([0.0, 10.0, 20.0, 5.0, 15.0])
    rate = counter_rate(values, step=5.0)
    assert np.isnan(rate[0])
    assert rate[1:].tolist() == [2.0, 2.0, 1.0, 2.0]


def test_sparse_burst_is_judged_by_its_unlikeliness() -> None:
    burst = np.zeros(TS.size)
    burst[[150, 153, 156, 160]] = 1.0
    stray = np.zeros(TS.size)
    stray[[100, 140, 180, 220]] = 1.0
    signals = [
        Signal("c", "a", "burst", "burst", SignalKind.LOG_SIGNIFICANT, "", burst, Labels()),
        Signal("c", "a", "stray", "stray", SignalKind.LOG_SIGNIFICANT, "", stray, Labels()),
    ]
    found = detect(signals=signals, timestamps=TS)
    assert [d.signal.name for d in found] == ["burst"]
    assert found[0].onset == TS[150]


def test_poisson_tail_matches_known_values() -> None:
    tail = poisson_tail(np.array([[0, 1, 2]]), np.array([1.0]))
    assert tail[0, 0] == 1.0
    assert tail[0, 1] == pytest.approx(1 - np.exp(-1.0))
    assert tail[0, 2] == pytest.approx(1 - 2 * np.exp(-1.0))


def _series(name: str, labels: dict[str, str], values: np.ndarray) -> Series:
    return Series(name=name, labels=Labels(labels), timestamps=tuple(TS), values=tuple(values))


def test_build_signals_derives_error_ratio_latency_and_cpu() -> None:
    ok = np.cumsum(np.full(TS.size, 150.0))
    errors = np.cumsum(np.where(np.arange(TS.size) >= 200, 50.0, 0.0))
    cpu = np.cumsum(np.full(TS.size, 0.3 * STEP))
    latency_sum = np.cumsum(np.full(TS.size, 15.0))
    latency_count = np.cumsum(np.full(TS.size, 150.0))
    component = ComponentSignals(
        component="api",
        series=(
            _series("http_requests_total", {"instance": "x", "code": "200"}, ok),
            _series("http_requests_total", {"instance": "x", "code": "502"}, errors),
            _series("process_cpu_seconds_total", {"instance": "x"}, cpu),
            _series("req_seconds_sum", {"instance": "x"}, latency_sum),
            _series("req_seconds_count", {"instance": "x"}, latency_count),
        ),
        extracted={SIGNIFICANT_LINES: (LogCount(Labels({"instance": "x"}), (TS[5],), (3.0,)),)},
    )
    signals = {s.name: s for s in build_signals(component=component, window=WINDOW, step=STEP)}
    ratio = signals["http_requests_total 5xx ratio"]
    assert ratio.kind is SignalKind.ERROR_RATIO
    assert ratio.values[210] == pytest.approx(0.25)
    assert ratio.values[100] == pytest.approx(0.0)
    assert signals["cpu usage"].values[50] == pytest.approx(0.3)
    assert signals["req_seconds mean"].values[50] == pytest.approx(0.1)
    logs = signals["error/warn log lines"]
    assert logs.values[5] == 3.0 and logs.values[6] == 0.0


def test_a_declared_gauge_that_only_grows_is_a_level_and_an_undeclared_one_a_rate() -> None:
    # a WAL distance climbing linearly: looks like a counter, is declared a gauge
    lag = np.cumsum(np.full(TS.size, 15.0))
    declared = Series(
        "pg_stat_replication_pg_wal_lsn_diff",
        Labels({"instance": "r"}),
        tuple(TS.tolist()),
        tuple(lag.tolist()),
        type=MetricType.GAUGE,
    )
    undeclared = Series(
        "pg_stat_replication_pg_wal_lsn_diff",
        Labels({"instance": "s"}),
        declared.timestamps,
        declared.values,
    )
    in_seconds = Series(
        "pg_replication_lag_seconds", Labels({"instance": "t"}), declared.timestamps, lag_tuple(lag)
    )
    component = ComponentSignals(component="db", series=(declared, undeclared, in_seconds))
    signals = {s.instance: s for s in build_signals(component=component, window=WINDOW, step=STEP)}
    assert signals["r"].values[100] == pytest.approx(lag[100])  # the level as stored
    assert signals["s"].values[100] == pytest.approx(1.0)  # 15 per 15 s step: a rate
    # undeclared, but named in a base unit without _total: a level by convention
    assert signals["t"].values[100] == pytest.approx(lag[100])


def lag_tuple(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)


def test_a_declared_counter_without_a_counter_name_is_a_rate() -> None:
    total = np.cumsum(np.full(TS.size, 30.0))
    total[120:] = np.cumsum(np.full(TS.size - 120, 30.0))  # a restart: still a counter
    series = Series(
        "mysql_global_status_questions",
        Labels({"instance": "q"}),
        tuple(TS.tolist()),
        tuple(total.tolist()),
        type=MetricType.COUNTER,
    )
    built = build_signals(
        component=ComponentSignals(component="db", series=(series,)), window=WINDOW, step=STEP
    )
    assert built[0].values[150] == pytest.approx(2.0)


def test_a_change_below_the_units_floor_is_no_departure() -> None:
    # a flat microsecond latency moving from 2 us to 3 us: a 50 % step no user notices
    values = np.full(TS.size, 2.0)
    values[150:] = 3.0
    assert detect(signals=[gauge(values, name="redis_latency_usec")], timestamps=TS) == []
    # the same step of a unitless level, and a real latency rise in seconds, are departures
    assert detect(signals=[gauge(values + 0.5, name="load_average")], timestamps=TS)
    seconds = np.full(TS.size, 0.01)
    seconds[150:] = 0.3
    assert detect(signals=[gauge(seconds, name="request_latency_seconds")], timestamps=TS)


def test_a_derived_mean_keeps_its_metrics_unit_floor() -> None:
    # redis_exporter's latency summary, its mean from _sum/_count (family "... latency"):
    # 14 us -> 38 us is the exporter's own INFO calls, not a slower cache
    values = np.full(TS.size, 14.0)
    values[150:] = 38.0
    mean = replace(
        gauge(values, name="redis_latency_percentiles_usec mean"),
        family="redis_latency_percentiles_usec latency",
        kind=SignalKind.LATENCY,
    )
    assert detect(signals=[mean], timestamps=TS) == []
    slow = replace(mean, values=values * 1000.0)  # 14 ms -> 38 ms is a departure
    assert detect(signals=[slow], timestamps=TS)


def test_a_count_gauge_stepping_by_one_is_no_departure_a_state_flag_flipping_is() -> None:
    # an InnoDB internal counter or a second idle connection: 0 -> 1 is what counts do
    step = np.zeros(TS.size)
    step[150:] = 1.0
    assert detect(signals=[gauge(step, name="innodb_pending_reads")], timestamps=TS) == []
    # a server going down is news however small the step
    up = np.ones(TS.size)
    up[150:] = 0.0
    assert detect(signals=[gauge(up, name="mysql_up")], timestamps=TS)
    # connections piling up from 20 to 150 are a departure
    piled = np.full(TS.size, 20.0)
    piled[150:] = 150.0
    assert detect(signals=[gauge(piled, name="threads_connected")], timestamps=TS)


def test_a_gauge_named_like_a_flag_that_counts_past_one_steps_like_a_count() -> None:
    # MySQL's threads_running 1 -> 2 (a second running thread): named like a flag, a count
    step = np.ones(TS.size)
    step[150:] = 2.0
    assert (
        detect(signals=[gauge(step, name="mysql_global_status_threads_running")], timestamps=TS)
        == []
    )
    # running threads piling up from 1 to 40 are a departure
    piled = np.ones(TS.size)
    piled[150:] = 40.0
    assert detect(signals=[gauge(piled, name="mysql_global_status_threads_running")], timestamps=TS)
