"""Cache penetration: a new client whose every request is a store's miss is the cause."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.miss_clients import find_miss_clients, is_miss_counter
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.traffic_clients import find_floods, merge_client_counts
from diagnosis_operator.models.findings import Anomaly, ClientPattern
from diagnosis_operator.models.signals import Labels, LogCount

STEP = 15.0
STEPS = tuple(float(1000 + STEP * i) for i in range(40))
GRID = np.array(STEPS)
ARRIVAL = 20  # the sync's first busy step
SYNC = "203.0.113.57"


def _counts(ip: str, per_step: list[float]) -> LogCount:
    return LogCount(Labels({"jclient": ip}), STEPS, tuple(per_step))


def _shoppers(before: float = 20.0, during: float = 12.0) -> list[LogCount]:
    # the shoppers wait for the busier database: fewer requests each once it slows
    return [
        _counts(f"10.0.0.{k}", [before] * ARRIVAL + [during] * (40 - ARRIVAL)) for k in range(2, 6)
    ]


def _sync(per_step: float = 70.0) -> LogCount:
    return _counts(SYNC, [0.0] * ARRIVAL + [per_step] * (40 - ARRIVAL))


def _rise(
    name: str,
    *,
    before: float,
    after: float,
    at: int = ARRIVAL,
    labels: Labels | None = None,
    component: str = "db",
) -> Detection:
    values = np.where(np.arange(40) >= at, after, before).astype(np.float64)
    family = name.removesuffix(" rate")
    signal = Signal(
        component, None, name, family, SignalKind.RATE, name, values, labels or Labels()
    )
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=STEPS[at],
        peak_ts=STEPS[at],
        value=after,
        baseline=before,
        score=50.0,
        direction="up" if after >= before else "down",
        query=name,
    )
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=after)


EMPTY = "mysql_global_status_empty_queries rate"


def _found(counts: list[LogCount], detections: list[Detection]) -> list[str]:
    traffic = merge_client_counts(counts)
    found = find_miss_clients(traffic=traffic, detections=detections, timestamps=GRID, step=STEP)
    return [c.ip for c in found]


def test_a_new_client_whose_requests_are_the_store_s_misses_is_the_cause() -> None:
    # 70 requests a step is 4.7/s; MariaDB's empty results rose by 4.4/s with it
    counts = [*_shoppers(), _sync()]
    traffic = merge_client_counts(counts)
    assert find_floods(traffic=traffic, step=STEP) == []  # not a flood by volume
    miss = _rise(EMPTY, before=0.1, after=4.5)
    found = find_miss_clients(traffic=traffic, detections=[miss], timestamps=GRID, step=STEP)
    assert [c.ip for c in found] == [SYNC]
    assert found[0].pattern is ClientPattern.FLOOD
    assert found[0].first_seen == STEPS[ARRIVAL] - STEP
    assert "empty_queries" in found[0].reason


def test_redis_misses_and_memcached_get_misses_are_miss_counters() -> None:
    assert is_miss_counter(_rise("redis_keyspace_misses_total rate", before=1.0, after=6.0))
    get_miss = Labels({"command": "get", "status": "miss"})
    get_hit = Labels({"command": "get", "status": "hit"})
    assert is_miss_counter(
        _rise("memcached_commands_total rate", before=1.0, after=6.0, labels=get_miss)
    )
    assert not is_miss_counter(
        _rise("memcached_commands_total rate", before=1.0, after=6.0, labels=get_hit)
    )
    assert not is_miss_counter(_rise(EMPTY, before=4.0, after=0.5))  # fell


def test_a_new_client_without_a_matching_miss_rise_is_not_named() -> None:
    busy = _rise("mysql_global_status_threads_running", before=2.0, after=9.0)
    assert _found([*_shoppers(), _sync()], [busy]) == []


def test_a_miss_rise_far_beyond_the_new_client_s_rate_is_someone_else_s() -> None:
    # a cache flushed for everyone: 60 misses a second, the newcomer sends 4.7
    flushed = _rise("redis_keyspace_misses_total rate", before=1.0, after=60.0)
    assert _found([*_shoppers(), _sync()], [flushed]) == []


def test_a_miss_rise_at_another_time_than_the_client_s_arrival_is_not_its() -> None:
    later = _rise(EMPTY, before=0.1, after=4.5, at=ARRIVAL + 8)
    assert _found([*_shoppers(), _sync()], [later]) == []


def test_ordinary_clients_that_were_there_before_are_not_named() -> None:
    # the store's own trouble: misses rise, no client arrived with them
    miss = _rise(EMPTY, before=0.1, after=4.5)
    steady = [_counts(f"10.0.0.{k}", [70.0] * 40) for k in range(2, 7)]
    assert _found(steady, [miss]) == []


def test_a_newcomer_on_a_busier_day_for_everyone_is_not_named() -> None:
    miss = _rise(EMPTY, before=0.1, after=4.5)
    assert _found([*_shoppers(before=20.0, during=40.0), _sync()], [miss]) == []
