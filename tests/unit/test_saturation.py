"""A one-thread server at its ceiling of work: its CPU is harm, not load (catalog.saturation)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.mode_types import APP, NODE, POD, REDIS
from diagnosis_operator.catalog.saturation import CEILINGS, ceilings_of
from diagnosis_operator.core.diagnosis.derived import derived_signals
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.saturated import counter_of, saturated
from diagnosis_operator.core.diagnosis.shifted_load import only_asked_more
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_700_000_000.0
REDIS_KINDS = (REDIS, POD, NODE)
KV = Component("kv", ComponentKind.REDIS, Labels({"job": "kv"}))


def _cpu(counter: str, level: float, *, instance: str = "10.0.0.1:9121") -> Detection:
    values = np.array([0.05] * 10 + [level] * 10)
    query = f'sum(rate({counter}{{instance="{instance}"}}[1m]))'
    signal = Signal("kv", instance, "cpu usage", "cpu", SignalKind.CPU, query, values, Labels())
    anomaly = Anomaly(
        component="kv",
        signal="cpu usage",
        instance=instance,
        onset=T0,
        peak_ts=T0,
        value=level,
        baseline=0.05,
        score=80.0,
        direction="up",
        query=query,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=level)


def _work(level: float) -> Detection:
    name = "redis_commands_processed_total rate"
    values = np.array([1.0] * 10 + [level] * 10)
    signal = Signal("kv", "10.0.0.1:9121", name, name, SignalKind.RATE, name, values, Labels())
    anomaly = Anomaly("kv", name, "10.0.0.1:9121", T0, T0, level, 1.0, 80.0, "up", name)
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=level)


USER = "redis_cpu_user_seconds_total"
SYS = "redis_cpu_sys_seconds_total"


def test_every_ceiling_cites_its_sources_and_bounds_a_share() -> None:
    for ceiling in CEILINGS:
        assert ceiling.sources and all(s.startswith("https://") for s in ceiling.sources)
        assert 0.0 < ceiling.share <= 1.0 and ceiling.cores > 0.0
    assert ceilings_of(REDIS_KINDS) and not ceilings_of((APP, POD, NODE))


def test_the_counter_of_a_derived_cpu_signal_is_read_from_its_query() -> None:
    rates = {(USER, Labels({"instance": "10.0.0.1:9121"})): np.array([0.5, 0.6])}
    (signal,) = derived_signals("kv", rates, 15.0, pods={})
    assert signal.kind is SignalKind.CPU
    assert counter_of(signal) == USER


def test_user_and_system_time_near_one_core_saturate_a_redis_instance() -> None:
    found = saturated([_cpu(USER, 0.69), _cpu(SYS, 0.29)], REDIS_KINDS)
    assert len(found) == 2


def test_a_busier_redis_below_its_ceiling_is_load_only() -> None:
    assert saturated([_cpu(USER, 0.40), _cpu(SYS, 0.20)], REDIS_KINDS) == ()


def test_instances_are_judged_each_on_its_own_time() -> None:
    half = [_cpu(USER, 0.5, instance="a:1"), _cpu(USER, 0.5, instance="b:1")]
    assert saturated(half, REDIS_KINDS) == ()


def test_the_main_thread_counters_win_over_the_process_ones() -> None:
    # the process is busy (background threads), the command thread is not
    found = saturated(
        [_cpu(USER, 0.9), _cpu("redis_cpu_user_main_thread_seconds_total", 0.3)], REDIS_KINDS
    )
    assert found == ()


def test_a_forked_child_is_no_busy_command_thread() -> None:
    assert saturated([_cpu("redis_cpu_user_children_seconds_total", 0.99)], REDIS_KINDS) == ()


def test_an_app_at_one_core_is_not_saturated_by_this_model() -> None:
    assert saturated([_cpu(USER, 0.99)], (APP, POD, NODE)) == ()


def test_a_saturated_redis_is_harmed_and_more_than_asked_more_work() -> None:
    hot = ComponentEvidence(component=KV, detections=(_work(8.0), _cpu(USER, 0.7), _cpu(SYS, 0.28)))
    assert hot.has_symptom and len(hot.harm) == 2
    assert not only_asked_more(evidence=hot, tolerance=30.0)
    busy = ComponentEvidence(component=KV, detections=(_work(8.0), _cpu(USER, 0.3)))
    assert not busy.has_symptom and busy.harm == ()
    assert only_asked_more(evidence=busy, tolerance=30.0)
