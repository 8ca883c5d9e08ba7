"""General detection rules: where a baseline ends, where an excursion starts, rare events.

Each test is one rule a diagnosis of an unseen bundle relies on; the signals are
synthetic and say nothing of any example bundle.
"""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.core.diagnosis.baseline import first_departure
from diagnosis_operator.core.diagnosis.counters import counter_rate, sample_periods
from diagnosis_operator.core.diagnosis.instances import instance_names, instance_of
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import build_signals, grid_timestamps
from diagnosis_operator.models.signals import ComponentSignals, Labels, Series, Window

WINDOW = Window(start=1_500_000_000.0, end=1_500_000_000.0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)


def _signal(values: np.ndarray, *, name: str = "g", kind: SignalKind = SignalKind.GAUGE) -> Signal:
    return Signal("c", "a", name, name, kind, name, values, Labels({"instance": "a"}))


def test_an_excursion_that_dips_and_returns_is_not_taken_for_the_baseline() -> None:
    # A cache fills up, crashes to zero, comes back full and drains: the largest
    # single change is the crash, but the excursion began with the filling.
    rng = np.random.default_rng(21)
    values = rng.normal(600.0, 2.0, TS.size)
    values[80:100] = np.linspace(700.0, 1000.0, 20)
    values[100:124] = 0.0
    values[124:150] = np.linspace(1000.0, 700.0, 26)
    found = detect(signals=[_signal(values)], timestamps=TS)
    assert len(found) == 1
    assert found[0].onset == TS[80]


def test_first_departure_needs_a_sustained_run() -> None:
    rng = np.random.default_rng(2)
    row = rng.normal(50.0, 1.0, TS.size)
    row[100] = 90.0  # a lone spike does not end the baseline
    row[150:] = 90.0  # a level shift does
    ends = first_departure(row[None, :], min_base=36)
    assert ends.tolist() == [150]
    calm = rng.normal(50.0, 1.0, (1, TS.size))
    assert first_departure(calm, min_base=36).tolist() == [TS.size]


def test_onset_is_where_a_ramp_left_its_normal_band() -> None:
    # Crossing the detection threshold happens several steps into the ramp.
    rng = np.random.default_rng(8)
    values = rng.normal(10.0, 1.0, TS.size)
    values[120:160] += np.linspace(0.5, 20.0, 40)
    values[160:] += 20.0
    found = detect(signals=[_signal(values)], timestamps=TS)
    assert len(found) == 1
    threshold_crossing = 120 + int(np.argmax(values[120:] > 10.0 + 6.0 * 1.0))
    assert TS[118] <= found[0].onset < TS[threshold_crossing]


def _requests(errors_per_step: np.ndarray) -> ComponentSignals:
    ok = np.cumsum(np.full(TS.size, 27.0))
    bad = np.cumsum(errors_per_step)
    return ComponentSignals(
        component="c",
        series=(
            Series(
                "http_requests_total",
                Labels({"instance": "a", "code": "200"}),
                tuple(TS),
                tuple(ok),
            ),
            Series(
                "http_requests_total",
                Labels({"instance": "a", "code": "500"}),
                tuple(TS),
                tuple(bad),
            ),
        ),
    )


def _ratio_detections(errors_per_step: np.ndarray) -> list[str]:
    signals = build_signals(component=_requests(errors_per_step), window=WINDOW, step=STEP)
    ratio = [s for s in signals if s.kind is SignalKind.ERROR_RATIO]
    return [d.signal.name for d in detect(signals=ratio, timestamps=TS)]


def test_one_failed_request_in_a_quiet_step_is_no_error_ratio_anomaly() -> None:
    # 1 of 28 requests is a 4 % error ratio against a zero baseline: a huge
    # z-score, yet one failure an hour is ordinary.  The ratio of rare events is
    # judged by how unlikely its event count is.
    errors = np.zeros(TS.size)
    errors[30] = 1.0
    errors[190] = 2.0
    assert _ratio_detections(errors) == []


def test_a_sustained_run_of_failures_is_an_error_ratio_anomaly() -> None:
    errors = np.zeros(TS.size)
    errors[30] = 1.0
    errors[150:170] = 3.0
    assert _ratio_detections(errors) == ["http_requests_total 5xx ratio"]


def test_poisson_noise_of_a_busy_counter_is_no_burst() -> None:
    # Events at 0.4 per step: the median step has none, so the sparse-event test
    # applies; a baseline that happened to be quiet must not make noise a burst.
    rng = np.random.default_rng(1234)
    signals = [
        _signal(
            rng.poisson(0.4, TS.size).astype(float), name=f"n{i}", kind=SignalKind.LOG_SIGNIFICANT
        )
        for i in range(200)
    ]
    assert detect(signals=signals, timestamps=TS) == []


def test_a_burst_starts_at_its_first_dense_event_not_at_a_stray_before_it() -> None:
    counts = np.zeros(TS.size)
    counts[60] = 1.0  # ordinary
    counts[150] = 1.0  # a stray a minute before the burst
    counts[154:170] = 3.0
    found = detect(
        signals=[_signal(counts, name="errors", kind=SignalKind.LOG_SIGNIFICANT)], timestamps=TS
    )
    assert len(found) == 1
    assert found[0].onset == TS[154]


# --- instances, scrape intervals and trends (held-out bundles' lessons) -----------------


def _series(name: str, labels: dict[str, str], values: np.ndarray) -> Series:
    finite = np.isfinite(values)
    return Series(name, Labels(labels), tuple(TS[finite]), tuple(values[finite]))


def test_a_pod_is_one_instance_whatever_scraped_its_series() -> None:
    # The app's own endpoint gives the pod's address as ``instance``; cAdvisor,
    # scraped from the kubelet, gives the node's.  Both describe the same pod.
    series = []
    for pod, address, node in (
        ("web-a", "10.9.1.5:8080", "10.9.0.1"),
        ("web-b", "10.9.2.6:8080", "10.9.0.2"),
    ):
        own = {"namespace": "shop", "pod": pod, "instance": address}
        kubelet = {
            "namespace": "shop",
            "pod": pod,
            "instance": f"{node}:10250",
            "node": f"n-{node}",
        }
        series.append(_series("app_requests_total", own, np.cumsum(np.full(TS.size, 5.0))))
        series.append(
            _series("container_cpu_usage_seconds_total", kubelet, np.cumsum(np.full(TS.size, 3.0)))
        )
    signals = build_signals(
        component=ComponentSignals(component="web", series=tuple(series)), window=WINDOW, step=STEP
    )
    assert {s.instance for s in signals if s.instance} == {"10.9.1.5:8080", "10.9.2.6:8080"}


def test_a_pod_seen_only_from_its_node_goes_by_its_pod_name() -> None:
    names = instance_names(
        [
            {"namespace": "q", "pod": "api-1", "instance": "10.0.0.1:10250", "node": "n1"},
            {"namespace": "q", "pod": "api-2", "instance": "10.0.0.9:8080"},
            # an exporter describing several pods is none of them
            {"namespace": "q", "pod": "api-2", "instance": "10.0.5.5:8443"},
            {"namespace": "q", "pod": "api-3", "instance": "10.0.5.5:8443"},
        ]
    )
    assert names == {
        ("q", "api-1"): "api-1",
        ("q", "api-2"): "10.0.0.9:8080",
        ("q", "api-3"): "api-3",
    }
    assert (
        instance_of(Labels({"pod": "api-1", "namespace": "q", "instance": "x"}), pods=names)
        == "api-1"
    )
    assert instance_of(Labels({"instance": "vm-7:9100"}), pods=names) == "vm-7:9100"


def _scraped_every(period_steps: int, per_second: float) -> np.ndarray:
    # a range query repeats the newest sample at every step until the next one
    samples = np.cumsum(np.full(TS.size, per_second * STEP))
    return samples[(np.arange(TS.size) // period_steps) * period_steps]


def test_a_counter_scraped_less_often_than_the_grid_has_a_steady_rate() -> None:
    rate = counter_rate(_scraped_every(2, 0.6), step=STEP)
    assert np.nanmin(rate[2:]) == pytest.approx(0.6)
    assert np.nanmax(rate[2:]) == pytest.approx(0.6)
    every_step = counter_rate(_scraped_every(1, 0.6), step=STEP)
    assert np.nanmax(np.abs(every_step[1:] - 0.6)) < 1e-9
    assert sample_periods(
        np.vstack([_scraped_every(1, 0.6), _scraped_every(2, 0.6), _scraped_every(4, 0.6)])
    ).tolist() == [1, 2, 4]


def test_a_sparse_counter_keeps_its_per_step_increments() -> None:
    rng = np.random.default_rng(3)
    events = np.zeros(TS.size)
    events[rng.choice(TS.size, 30, replace=False)] = 1.0
    counter = np.cumsum(events)
    assert sample_periods(counter[None, :]).tolist() == [1]
    assert np.nansum(counter_rate(counter, step=STEP) * STEP) == pytest.approx(events[1:].sum())


def test_cpu_throttling_is_not_counted_as_cpu_usage() -> None:
    labels = {"instance": "10.0.0.1:8080"}
    component = ComponentSignals(
        component="c",
        series=(
            _series("container_cpu_usage_seconds_total", labels, np.cumsum(np.full(TS.size, 9.0))),
            _series(
                "container_cpu_cfs_throttled_seconds_total",
                labels,
                np.cumsum(np.full(TS.size, 6.0)),
            ),
        ),
    )
    usage = [
        s
        for s in build_signals(component=component, window=WINDOW, step=STEP)
        if s.kind is SignalKind.CPU
    ]
    assert len(usage) == 1
    assert np.nanmedian(usage[0].values) == pytest.approx(9.0 / STEP)


def test_a_steady_ramp_is_no_anomaly_but_a_step_on_top_of_it_is() -> None:
    rng = np.random.default_rng(11)
    ramp = np.linspace(100.0, 300.0, TS.size) + rng.normal(0.0, 4.0, TS.size)
    assert detect(signals=[_signal(ramp)], timestamps=TS) == []
    stepped = ramp.copy()
    stepped[170:] += 600.0
    found = detect(signals=[_signal(stepped)], timestamps=TS)
    assert len(found) == 1 and found[0].anomaly.direction == "up"


def test_a_series_that_begins_in_the_window_has_no_baseline_to_leave() -> None:
    # a pod the autoscaler added halfway: warming up, then serving
    rng = np.random.default_rng(5)
    late = np.full(TS.size, np.nan)
    late[130:140] = 0.3
    late[140:] = 1.0 + rng.normal(0.0, 0.02, TS.size - 140)
    assert detect(signals=[_signal(late)], timestamps=TS) == []


def test_a_few_failures_are_no_error_ratio_burst_however_rare() -> None:
    # 4 failed requests within two minutes, none for the hour before: unlikely
    # at the baseline rate, yet four requests are no incident.
    errors = np.zeros(TS.size)
    errors[[200, 202, 204, 206]] = 1.0
    assert _ratio_detections(errors) == []


def _sparse_route(requests_per_step: np.ndarray) -> ComponentSignals:
    labels = {"instance": "a", "route": "/rare"}
    count = np.cumsum(requests_per_step)
    return ComponentSignals(
        component="c",
        series=(
            _series("http_seconds_count", labels, count),
            _series("http_seconds_sum", labels, np.cumsum(requests_per_step * 0.05)),
        ),
    )


def test_a_rarely_used_routes_latency_sum_is_judged_by_its_requests() -> None:
    # a route hit now and then: its duration sum is zero at most steps, and a
    # few requests close together are no burst of anything
    requests = np.zeros(TS.size)
    requests[[40, 120, 200, 201, 203]] = 1.0
    signals = build_signals(component=_sparse_route(requests), window=WINDOW, step=STEP)
    sums = [s for s in signals if s.name == "http_seconds_sum rate"]
    assert len(sums) == 1 and sums[0].events is not None
    assert detect(signals=sums, timestamps=TS) == []
