"""Half the serving fleet degraded alike is the fleet's harm: no instance of it is drained.

Synthetic signals: pods replaced by a rolling update (their series end early), the
new ones serving to the end; nothing here is taken from an example bundle.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.fleet import (
    own_harm,
    serving_at_end,
    without_fleet_harm,
)
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.signals import Labels, Window

T0 = 1_800_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + 3600.0), step=15.0)
OLD = tuple(f"10.8.0.{i}:8080" for i in range(1, 9))
NEW = tuple(f"10.9.0.{i}:8080" for i in range(1, 9))


def _signal(instance: str, *, until: int | None = None, start: int = 0) -> Signal:
    values = np.full(TS.size, 0.05)
    values[:start] = np.nan
    if until is not None:
        values[until:] = np.nan
    labels = Labels({"job": "api", "instance": instance})
    return Signal("api", instance, "latency", "latency", SignalKind.LATENCY, "q", values, labels)


def _finding(instance: str, component: str = "api", *, release: bool = False) -> AffectedFinding:
    return AffectedFinding(
        instance=AffectedInstance(component=component, instance=instance, reason="latency"),
        detections=(),
        healthy_siblings=4,
        release=release,
    )


def _rolled() -> list[Signal]:
    """Eight old pods replaced one by one by eight new ones that serve to the end."""
    return [_signal(i, until=100) for i in OLD] + [_signal(i, start=100) for i in NEW]


def test_only_pods_serving_at_the_end_count() -> None:
    assert serving_at_end(_rolled(), TS) == set(NEW)


def test_half_the_serving_fleet_alike_is_no_instance_of_its_own() -> None:
    starved = [_finding(i) for i in NEW[4:]]
    assert own_harm(starved, _rolled(), TS) == []
    assert without_fleet_harm(starved, {"api": _rolled()}, TS) == []


def test_every_instance_degraded_is_never_drained() -> None:
    all_of_them = [_finding(i) for i in NEW]
    assert without_fleet_harm(all_of_them, {"api": _rolled()}, TS) == []


def test_one_instance_worse_than_its_siblings_stays_affected() -> None:
    one = [_finding(NEW[0])]
    assert without_fleet_harm(one, {"api": _rolled()}, TS) == one


def test_a_minority_of_the_fleet_stays_affected() -> None:
    few = [_finding(i) for i in NEW[:3]]
    assert without_fleet_harm(few, {"api": _rolled()}, TS) == few


def test_one_of_two_serving_stays_affected() -> None:
    signals = [_signal(NEW[0]), _signal(NEW[1])]
    one = [_finding(NEW[0])]
    assert without_fleet_harm(one, {"api": signals}, TS) == one


def test_a_release_judged_by_rollout_is_kept() -> None:
    release = [_finding(i, release=True) for i in NEW]
    assert without_fleet_harm(release, {"api": _rolled()}, TS) == release
