"""Instances that came or went mid-window: no history where they were not there."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.collected import SIGNIFICANT_LINES
from diagnosis_operator.core.diagnosis.signal_types import SignalKind
from diagnosis_operator.core.diagnosis.signals import build_signals, lifespans
from diagnosis_operator.models.signals import ComponentSignals, Labels, LogCount, Series, Window

STEP = 15.0
WINDOW = Window(start=0.0, end=3600.0)
GRID = tuple(STEP * i for i in range(241))


def _up(instance: str, start: float, end: float) -> Series:
    grid = tuple(ts for ts in GRID if start <= ts <= end)
    return Series("up", Labels({"instance": instance}), grid, tuple(1.0 for _ in grid))


def _warns(instance: str, every: float, start: float, end: float = 3600.0) -> LogCount:
    """One WARN line every ``every`` seconds from ``start`` to ``end`` (other steps absent)."""
    stamps = tuple(ts for ts in GRID if start <= ts <= end and ts % every == 0.0)
    return LogCount(Labels({"instance": instance}), stamps, tuple(1.0 for _ in stamps))


def _warn_signal(component: ComponentSignals, instance: str) -> np.ndarray:
    signals = build_signals(component=component, window=WINDOW, step=STEP)
    found = [
        s.values for s in signals if s.kind is SignalKind.LOG_SIGNIFICANT and s.instance == instance
    ]
    assert len(found) == 1
    return found[0]


def test_only_instances_that_came_or_went_have_a_lifespan() -> None:
    series = [_up("a:1", 0.0, 3600.0), _up("new:1", 2400.0, 3600.0), _up("old:1", 0.0, 1200.0)]
    spans = lifespans(series, pods={}, window=WINDOW, step=STEP)
    assert spans == {"new:1": (2400.0, 3600.0), "old:1": (0.0, 1200.0)}


def test_a_pod_that_started_mid_window_has_no_history_before_it() -> None:
    component = ComponentSignals(
        component="app",
        series=(_up("a:1", 0.0, 3600.0), _up("new:1", 2460.0, 3600.0)),
        extracted={SIGNIFICANT_LINES: (_warns("new:1", 60.0, 2460.0), _warns("a:1", 60.0, 0.0))},
    )
    new = _warn_signal(component, "new:1")
    born = int(2460.0 // STEP)
    assert np.isnan(new[:born]).all()  # not a quiet instance: no instance
    assert np.nansum(new[born:]) > 0
    old = _warn_signal(component, "a:1")
    assert not np.isnan(old).any()  # there all along: a step without a line is zero


def test_lines_before_the_first_scrape_still_count() -> None:
    # the pod logs while starting, before Prometheus first scrapes it
    component = ComponentSignals(
        component="app",
        series=(_up("a:1", 0.0, 3600.0), _up("new:1", 2460.0, 3600.0)),
        extracted={SIGNIFICANT_LINES: (_warns("new:1", 60.0, 2400.0), _warns("a:1", 60.0, 0.0))},
    )
    new = _warn_signal(component, "new:1")
    assert new[int(2400.0 // STEP)] == 1.0
    assert np.isnan(new[: int(2400.0 // STEP)]).all()


def test_a_pod_that_left_has_no_history_after_it() -> None:
    component = ComponentSignals(
        component="app",
        series=(_up("a:1", 0.0, 3600.0), _up("old:1", 0.0, 1200.0)),
        extracted={SIGNIFICANT_LINES: (_warns("old:1", 60.0, 0.0, 1200.0),)},
    )
    old = _warn_signal(component, "old:1")
    assert np.isnan(old[int(1200.0 // STEP) + 1 :]).all()


def _errors(instance: str, per_step: float, start: float) -> LogCount:
    stamps = tuple(ts for ts in GRID if ts >= start)
    return LogCount(Labels({"instance": instance}), stamps, tuple(per_step for _ in stamps))


def test_a_new_pod_logging_far_more_than_pods_used_to_keeps_its_quiet_past() -> None:
    # a bad release's first pod fails every request from its start: against what the
    # old pods logged per instance, that is a rise, not a pod without history
    component = ComponentSignals(
        component="app",
        series=(_up("a:1", 0.0, 3600.0), _up("new:1", 2460.0, 3600.0)),
        extracted={SIGNIFICANT_LINES: (_warns("a:1", 60.0, 0.0), _errors("new:1", 20.0, 2460.0))},
    )
    new = _warn_signal(component, "new:1")
    born = int(2460.0 // STEP)
    assert not np.isnan(new[:born]).any()
    assert (new[:born] == 0.0).all() and (new[born:] == 20.0).all()


def test_a_pod_there_from_the_first_step_with_peers_without_history_is_kept() -> None:
    # it left mid-window; its peers have no steps before its first: nothing to compare
    component = ComponentSignals(
        component="app",
        series=(_up("a:1", 0.0, 3600.0), _up("old:1", 0.0, 1200.0)),
        extracted={
            SIGNIFICANT_LINES: (_warns("old:1", 60.0, 0.0, 1200.0), _warns("a:1", 60.0, 0.0))
        },
    )
    old = _warn_signal(component, "old:1")
    assert not np.isnan(old[: int(1200.0 // STEP)]).any()
