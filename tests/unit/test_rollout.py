"""A release's new instances failing alike: affected, rolled back, never drained."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.affected import AffectedFinding
from diagnosis_operator.core.diagnosis.plan import drain_refusal
from diagnosis_operator.core.diagnosis.rollout import release_instances, with_releases
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import AffectedInstance
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

STEP = 15.0
T0 = 1_700_000_000.0
TS = grid_timestamps(window=Window(start=T0, end=T0 + STEP * 199), step=STEP)
assert TS.size == 200
API = Topology(components=(Component("api", ComponentKind.APP, Labels({"job": "api"})),))


def _ratio(instance: str, *, start: int, stop: int = 200, failing: float) -> Signal:
    requests = np.full(TS.shape, np.nan)
    requests[start:stop] = 20.0
    events = requests * failing
    return Signal(
        "api",
        instance,
        "http_requests_total 5xx ratio",
        "http_requests_total",
        SignalKind.ERROR_RATIO,
        "q",
        events / requests,
        Labels({"instance": instance, "pod": f"api-{instance}"}),
        events=events,
        requests=requests,
    )


OLD = [_ratio(f"10.0.0.{i}:80", start=0, failing=0.0) for i in range(3)]


def test_new_instances_failing_alike_are_a_release() -> None:
    new = [_ratio(f"10.0.1.{i}:80", start=100 + 8 * i, failing=1.0) for i in range(3)]
    found = release_instances(component="api", signals=OLD + new, timestamps=TS)
    assert sorted(f.instance.instance for f in found) == sorted(s.instance or "" for s in new)
    assert all(f.release and f.healthy_siblings == 3 for f in found)
    assert found[0].instance.pod == "api-10.0.1.0:80"


def test_a_release_is_rolled_back_never_drained() -> None:
    new = [_ratio(f"10.0.1.{i}:80", start=100, failing=1.0) for i in range(2)]
    (first, _) = release_instances(component="api", signals=OLD + new, timestamps=TS)
    assert drain_refusal(first, topology=API, root="api") is not None


def test_one_new_instance_failing_is_a_canary_left_to_the_siblings() -> None:
    canary = _ratio("10.0.1.9:80", start=100, failing=1.0)
    assert release_instances(component="api", signals=[*OLD, canary], timestamps=TS) == []


def test_a_rollout_that_replaced_every_old_instance_names_none() -> None:
    gone = [_ratio(f"10.0.0.{i}:80", start=0, stop=100 + 8 * i, failing=0.0) for i in range(3)]
    new = [_ratio(f"10.0.1.{i}:80", start=100 + 8 * i, failing=1.0) for i in range(3)]
    assert release_instances(component="api", signals=gone + new, timestamps=TS) == []
    one_left = [*gone[:2], OLD[2]]
    assert len(release_instances(component="api", signals=one_left + new, timestamps=TS)) == 3


def test_a_release_whose_new_instances_serve_is_no_finding() -> None:
    new = [_ratio(f"10.0.1.{i}:80", start=100, failing=f) for i, f in enumerate((1.0, 0.0))]
    assert release_instances(component="api", signals=OLD + new, timestamps=TS) == []


def test_when_the_old_instances_fail_as_much_the_new_ones_are_not_apart() -> None:
    old = [_ratio(f"10.0.0.{i}:80", start=0, failing=0.95) for i in range(3)]
    new = [_ratio(f"10.0.1.{i}:80", start=100, failing=1.0) for i in range(2)]
    assert release_instances(component="api", signals=old + new, timestamps=TS) == []


def test_a_release_instance_found_by_the_siblings_too_is_kept_once_as_a_release() -> None:
    new = [_ratio(f"10.0.1.{i}:80", start=100, failing=1.0) for i in range(2)]
    sibling = AffectedFinding(
        instance=AffectedInstance(component="api", instance="10.0.1.0:80", reason="x"),
        detections=(),
    )
    merged = with_releases([sibling], signals={"api": OLD + new}, timestamps=TS)
    assert len(merged) == 2 and all(f.release for f in merged)
