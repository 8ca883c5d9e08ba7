"""General detection rules: where a baseline ends, where an excursion starts, rare events.

Each test is one rule a diagnosis of an unseen bundle relies on; the signals are
synthetic and say nothing of any example bundle.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.detect import (
    Signal,
    SignalKind,
    build_signals,
    detect,
    first_departure,
    grid_timestamps,
)
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
