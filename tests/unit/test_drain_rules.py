"""Which instance is singled out, and when it may be drained (issue 10: wrong drains).

Signals are synthetic (a noisy level per instance, a rise where the test says);
detections come from the real detector or, where a test isolates one rule, by hand.
Nothing here is taken from an example bundle.
"""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.instances import DRAIN_POLICY, drainable
from diagnosis_operator.core.diagnosis.affected import AffectedFinding, find_affected
from diagnosis_operator.core.diagnosis.plan import drain_refusal, plan
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.siblings import (
    sibling_detection,
    sustained_steps,
)
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import (
    CLIENT_CAUSE,
    ActionType,
    AffectedInstance,
    Anomaly,
)
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_800_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 15.0
TS = grid_timestamps(window=WINDOW, step=STEP)
ONSET_AT = 130  # grid index where a rise begins (well after any baseline)

STACK = Topology(
    components=(
        Component("edge", ComponentKind.PROXY, Labels({"job": "edge"}), ("web",)),
        Component("web", ComponentKind.APP, Labels({"job": "web"}), ("db", "cache")),
        Component("db", ComponentKind.MYSQL, Labels({"job": "db"})),
        Component("cache", ComponentKind.REDIS, Labels({"job": "cache"})),
    )
)
PODS = ("10.7.0.1:8080", "10.7.0.2:8080", "10.7.0.3:8080", "10.7.0.4:8080")


def _series(seed: int, level: float, *, start: int = 0) -> np.ndarray:
    """A noisy level (5 % jitter), NaN before ``start`` (a pod that joined later)."""
    rng = np.random.default_rng(seed)
    values = level * (1.0 + 0.05 * rng.standard_normal(TS.size))
    values[:start] = np.nan
    return values


def _signal(
    instance: str, values: np.ndarray, kind: SignalKind = SignalKind.LATENCY, component: str = "web"
) -> Signal:
    return Signal(
        component,
        instance,
        f"{kind.value} mean",
        kind.value,
        kind,
        "q",
        values,
        Labels({"instance": instance, "job": component}),
    )


def _affected(signals: list[Signal], detections: list[Detection] | None = None) -> list[str]:
    found = find_affected(
        topology=STACK,
        detections={
            "web": detect(signals=signals, timestamps=TS) if detections is None else detections
        },
        signals={"web": signals},
        timestamps=TS,
        upstream_errors={},
    )
    return [f.instance.instance for f in found]


def _with_rise(seed: int, rise: slice, factor: float, level: float = 0.05) -> np.ndarray:
    values = _series(seed, level)
    values[rise] *= factor
    return values


# --- who is singled out -------------------------------------------------------


def test_one_pod_apart_from_its_siblings_for_a_sustained_time_is_affected() -> None:
    signals = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[1:], start=1)]
    signals.append(_signal(PODS[0], _with_rise(0, slice(ONSET_AT, None), 8.0)))
    assert _affected(signals) == [PODS[0]]


def test_a_difference_that_lasts_a_moment_singles_nothing_out() -> None:
    # a failover's election, a stall of a few seconds: two steps apart, then like the others
    signals = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[1:], start=1)]
    signals.append(_signal(PODS[0], _with_rise(0, slice(ONSET_AT, ONSET_AT + 2), 40.0)))
    assert _affected(signals) == []


def test_pods_that_move_alike_step_by_step_single_none_out() -> None:
    # both rise in step, then both fall below their baseline; only one was flagged
    shape = np.ones(TS.size)
    shape[ONSET_AT : ONSET_AT + 60] = np.linspace(1.5, 2.2, 60)
    shape[ONSET_AT + 60 :] = 0.45
    a = _signal(PODS[0], _series(0, 20.0) * shape)
    b = _signal(PODS[1], _series(1, 20.0) * shape)
    flagged = Detection(
        signal=a,
        anomaly=Anomaly(
            component="web",
            signal=a.name,
            instance=PODS[0],
            onset=float(TS[ONSET_AT]),
            peak_ts=float(TS[ONSET_AT + 59]),
            value=45.0,
            baseline=20.0,
            score=20.0,
            direction="up",
            query="q",
        ),
        exceedances=40,
        peak=45.0,
    )
    assert _affected([a, b], [flagged]) == []


def test_all_pods_degraded_alike_single_none_out() -> None:
    signals = [
        _signal(pod, _with_rise(i, slice(ONSET_AT, None), 8.0)) for i, pod in enumerate(PODS)
    ]
    assert _affected(signals) == []


def test_a_canary_that_joined_mid_window_is_judged_against_its_siblings() -> None:
    canary = _series(9, 0.05, start=120)
    canary[160:] *= 6.0
    stable = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[1:], start=1)]
    assert _affected([*stable, _signal(PODS[0], canary)]) == [PODS[0]]
    # one that behaves like the stable pods is no finding, nor is a short hiccup
    healthy = _series(9, 0.05, start=120)
    assert _affected([*stable, _signal(PODS[0], healthy)]) == []
    hiccup = _series(9, 0.05, start=120)
    hiccup[160:163] *= 6.0
    assert _affected([*stable, _signal(PODS[0], hiccup)]) == []


def test_a_rollout_where_every_new_pod_fails_alike_singles_none_out() -> None:
    # two new pods join halfway and fail alike; the old ones are gone by then
    old = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[:2])]
    for signal in old:
        signal.values[120:] = np.nan
    new = []
    for i, pod in enumerate(PODS[2:], start=2):
        values = _series(i, 0.05, start=120)
        values[140:] *= 6.0
        new.append(_signal(pod, values))
    assert _affected([*old, *new]) == []


def test_new_pods_failing_while_old_ones_drain_away_stand_apart_no_more_at_the_end() -> None:
    # a rolling update: each new pod fails from the moment it joins, beside old pods that
    # are still healthy for a few minutes before they leave; once they are gone, every
    # pod fails alike and none is worse off than its siblings now
    old = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[:2])]
    for signal in old:
        signal.values[150:] = np.nan
    new = []
    for i, pod in enumerate(PODS[2:], start=2):
        values = _series(i, 0.05, start=120)
        values[120:] *= 6.0
        new.append(_signal(pod, values))
    peers = [*old, *new]
    assert sibling_detection(signal=new[0], peers=peers, timestamps=TS) is None
    # the same pod still apart from healthy siblings at the end of the window stands apart
    stable = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS[:2])]
    alone = sibling_detection(
        signal=new[0], peers=[*stable, _signal(PODS[3], _series(3, 0.05))], timestamps=TS
    )
    assert alone is not None


def test_a_pod_that_parted_from_its_siblings_early_is_found_one_always_apart_is_not() -> None:
    siblings = [
        _signal(pod, _series(i, 1.0, start=0), SignalKind.CPU) for i, pod in enumerate(PODS[1:], 1)
    ]
    early = _series(0, 1.0)
    early[20:] *= 3.0  # before the detector has a baseline of its own
    found = sibling_detection(
        signal=_signal(PODS[0], early, SignalKind.CPU),
        peers=[*siblings, _signal(PODS[0], early, SignalKind.CPU)],
        timestamps=TS,
    )
    assert found is not None and found.anomaly.direction == "up"
    always = _series(0, 3.0)
    assert (
        sibling_detection(
            signal=_signal(PODS[0], always, SignalKind.CPU), peers=siblings, timestamps=TS
        )
        is None
    )


def test_sustained_means_two_minutes_and_never_fewer_than_three_points() -> None:
    assert sustained_steps(TS) == 8
    coarse = grid_timestamps(window=WINDOW, step=60.0)
    assert sustained_steps(coarse) == 3
    # a three-minute window (a lab recording, a quick look): a fifth of it, 45 s
    short = grid_timestamps(window=Window(start=T0, end=T0 + 180.0), step=15.0)
    assert sustained_steps(short) == 3
    five = grid_timestamps(window=Window(start=T0, end=T0 + 300.0), step=15.0)
    assert sustained_steps(five) == 5


# --- when a drain is allowed ------------------------------------------------------


def _cpu_detection(component: str, instance: str, kind: SignalKind = SignalKind.CPU) -> Detection:
    signal = _signal(instance, _with_rise(0, slice(ONSET_AT, None), 3.0, 1.0), kind, component)
    return Detection(
        signal=signal,
        anomaly=Anomaly(
            component=component,
            signal=signal.name,
            instance=instance,
            onset=float(TS[ONSET_AT]),
            peak_ts=float(TS[-1]),
            value=3.0,
            baseline=1.0,
            score=30.0,
            direction="up",
            query="q",
        ),
        exceedances=100,
        peak=3.0,
    )


def _finding(
    component: str = "web", kind: SignalKind = SignalKind.CPU, healthy: int = 3
) -> AffectedFinding:
    return AffectedFinding(
        instance=AffectedInstance(component=component, instance=PODS[0], reason="r"),
        detections=(_cpu_detection(component, PODS[0], kind),),
        healthy_siblings=healthy,
    )


def _drained(finding: AffectedFinding, root: str | None) -> list[tuple[ActionType, str]]:
    proposals = plan(
        topology=STACK,
        candidates=[],
        evidence={},
        affected=[finding],
        clients=[],
        edge=None,
        root=root,
    )
    return [(p.action, p.target) for p in proposals]


def test_only_stateless_app_instances_are_drainable() -> None:
    assert drainable(ComponentKind.APP)
    for kind in (
        ComponentKind.MYSQL,
        ComponentKind.REDIS,
        ComponentKind.PROXY,
        ComponentKind.OTHER,
    ):
        assert not drainable(kind)
        assert DRAIN_POLICY[kind].reason
    assert _drained(_finding("web"), "web") == [(ActionType.DRAIN_POD, PODS[0])]
    for component in ("db", "cache", "edge"):
        assert _drained(_finding(component), component) == []


def test_no_drain_without_a_healthy_sibling_to_take_the_load() -> None:
    assert _drained(_finding(healthy=0), "web") == []
    assert drain_refusal(_finding(healthy=0), topology=STACK, root="web") is not None


def test_no_drain_when_a_client_floods() -> None:
    assert _drained(_finding(), CLIENT_CAUSE) == []


def test_a_proxy_naming_a_pod_only_for_a_few_seconds_singles_nothing_out() -> None:
    signals = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS)]
    start = float(TS[ONSET_AT])

    def named(times: list[float]) -> list[str]:
        found = find_affected(
            topology=STACK,
            detections={},
            signals={"web": signals},
            timestamps=TS,
            upstream_errors={"edge": {PODS[0]: len(times)}},
            upstream_seen={"edge": {PODS[0]: times}},
            log_horizon={"edge": max(times)},
        )
        return [f.instance.instance for f in found]

    # a 45-second stall that healed by itself
    assert named([start + 3.0 * i for i in range(15)]) == []
    # ten minutes of failures up to the last line read
    assert named([start + 40.0 * i for i in range(15)]) == [PODS[0]]


def test_the_pod_that_crashes_last_is_not_singled_out_by_the_others_going_down() -> None:
    # every pod's CPU falls to zero (crash loop), one a few minutes after the others
    signals = []
    for i, pod in enumerate(PODS):
        values = _series(i, 0.4)
        values[ONSET_AT + (20 if i == 0 else 0) :] = 0.0
        signals.append(_signal(pod, values, SignalKind.CPU))
    assert _affected(signals) == []


def test_a_pod_logging_a_stray_error_line_now_and_then_is_not_singled_out() -> None:
    signals = [_signal(pod, _series(i, 0.05)) for i, pod in enumerate(PODS)]
    stray = np.zeros(TS.size)
    stray[ONSET_AT::10] = 1.0  # one error line every few minutes, siblings none
    logs = [
        _signal(pod, stray if pod == PODS[0] else np.zeros(TS.size), SignalKind.LOG_SIGNIFICANT)
        for pod in PODS
    ]
    assert _affected([*signals, *logs], []) == []


def test_a_sibling_carrying_a_failing_pods_retried_requests_is_not_affected() -> None:
    # one pod fails half its requests; the proxy retries them on the next pod, whose
    # request rate, handled count and bytes double: it is busier, not worse off
    failing = [_signal(PODS[0], _with_rise(0, slice(ONSET_AT, None), 10.0), SignalKind.ERROR_RATIO)]
    failing += [
        _signal(pod, _series(i, 0.05), SignalKind.ERROR_RATIO)
        for i, pod in enumerate(PODS[1:], start=1)
    ]
    load: list[Signal] = []
    for n, kind in enumerate((SignalKind.REQUEST_RATE, SignalKind.RATE, SignalKind.LOG_LINES)):
        busier = _with_rise(10 + n, slice(ONSET_AT, None), 2.5, level=20.0)
        load.append(_signal(PODS[1], busier, kind))
        load += [
            _signal(pod, _series(20 + 10 * n + i, 20.0), kind)
            for i, pod in enumerate((PODS[0], PODS[2], PODS[3]))
        ]
    assert _affected(failing + load) == [PODS[0]]
    # the same load alone, no sibling harmed: judged as before (several signals apart)
    assert _affected(load) == [PODS[1]]
