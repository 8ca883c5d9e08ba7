"""A window running past the last scrape: the lookback's repeats are not the system's."""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.data_end import LOOKBACK, data_end, without_tail
from diagnosis_operator.models.signals import ComponentSignals, Labels, Series, Window

STEP = 15.0
WINDOW = Window(start=0.0, end=3600.0)
GRID = tuple(STEP * i for i in range(241))


def _counter(stop: float) -> Series:
    """A counter growing by 10 per step until ``stop``, then repeated (lookback)."""
    values, total = [], 0.0
    for ts in GRID:
        if ts <= stop:
            total += 10.0
        values.append(total)
    return Series("requests_total", Labels({"instance": "a"}), GRID, tuple(values))


def _component(*series: Series) -> ComponentSignals:
    return ComponentSignals(component="api", series=series)


def test_a_tail_where_nothing_changes_is_the_lookback_and_is_cut() -> None:
    component = _component(_counter(3480.0))
    end = data_end([component], window=WINDOW, step=STEP)
    assert end == 3480.0
    trimmed = without_tail(component, end=end, step=STEP)
    assert trimmed.series[0].timestamps[-1] == 3480.0 + STEP


def test_one_series_still_moving_means_the_data_runs_to_the_end() -> None:
    assert (
        data_end([_component(_counter(3480.0), _counter(3600.0))], window=WINDOW, step=STEP) is None
    )


def test_a_set_silent_for_longer_than_the_lookback_is_left_to_the_detectors() -> None:
    stopped = 3600.0 - LOOKBACK - 4 * STEP
    assert data_end([_component(_counter(stopped))], window=WINDOW, step=STEP) is None
