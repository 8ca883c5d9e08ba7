"""A queue whose only trouble is its consumers' lag waits on its consumers (``consumers``)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.catalog.failure_modes import compiled, modes_of
from diagnosis_operator.catalog.mode_types import APP
from diagnosis_operator.core.diagnosis.consumers import (
    is_consumer_group_metric,
    only_consumer_lag,
    with_consumers,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.ranking import rank
from diagnosis_operator.core.diagnosis.signal_types import Detection, Signal, SignalKind
from diagnosis_operator.core.diagnosis.signals import grid_timestamps
from diagnosis_operator.models.findings import Anomaly
from diagnosis_operator.models.signals import Labels, Window
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

T0 = 1_700_000_000.0
WINDOW = Window(start=T0, end=T0 + 3600.0)
STEP = 30.0
TS = grid_timestamps(window=WINDOW, step=STEP)

GATEWAY = Component("gw", ComponentKind.PROXY, Labels({"app": "gw"}), ("api",))
API = Component("api", ComponentKind.APP, Labels({"app": "api"}), ("broker",))
WORKER = Component("worker", ComponentKind.APP, Labels({"app": "worker"}), ("broker",))
BROKER = Component("broker", ComponentKind.OTHER, Labels({"app": "broker"}))
SHOP = Topology(components=(GATEWAY, API, WORKER, BROKER))


def _detection(component: str, name: str, onset: float, score: float = 80.0) -> Detection:
    values = np.where(onset <= TS, 1.0, 0.5)
    anomaly = Anomaly(
        component=component,
        signal=name,
        instance=None,
        onset=onset,
        peak_ts=onset,
        value=1.0,
        baseline=0.5,
        score=score,
        direction="up",
        query=name,
    )
    kind = SignalKind.ERROR_RATIO if name == "5xx" else SignalKind.GAUGE
    signal = Signal(component, None, name, name, kind, name, values, Labels({}))
    return Detection(signal=signal, anomaly=anomaly, exceedances=10, peak=anomaly.value)


def _evidence(broker: tuple[str, ...]) -> dict[str, ComponentEvidence]:
    def ev(component: Component, *detections: Detection) -> ComponentEvidence:
        return ComponentEvidence(component=component, detections=detections)

    return {
        "gw": ev(
            GATEWAY, _detection("gw", "5xx", T0 + 1500), _detection("gw", "latency", T0 + 1500)
        ),
        "api": ev(API, _detection("api", "5xx", T0 + 1500), _detection("api", "lat", T0 + 1500)),
        "worker": ev(
            WORKER,
            _detection("worker", "process_cpu_seconds_total", T0 + 1200),
            _detection("worker", "kafka_consumer_coordinator_rebalance_total", T0 + 1230),
        ),
        "broker": ev(BROKER, *(_detection("broker", name, T0 + 1400) for name in broker)),
    }


LAG_ONLY = ("kafka_consumergroup_lag", "kafka_consumergroup_lag_sum")


def test_consumer_group_series_are_the_consumers_not_the_brokers() -> None:
    assert is_consumer_group_metric("kafka_consumergroup_lag")
    assert is_consumer_group_metric("burrow_kafka_consumer_partition_lag")
    assert not is_consumer_group_metric("kafka_topic_partition_under_replicated_partition")


def test_a_broker_showing_only_lag_depends_on_its_background_consumer() -> None:
    evidence = _evidence(LAG_ONLY)
    assert only_consumer_lag(evidence["broker"])
    turned = with_consumers(topology=SHOP, evidence=evidence)
    assert turned.get("broker").depends_on == ("worker",)
    assert turned.get("worker").depends_on == ()
    assert turned.get("api").depends_on == ("broker",)  # a request path keeps its edge
    ranking = rank(topology=turned, evidence=evidence, clients=[], window=WINDOW, step=STEP)
    assert ranking.root_cause.component == "worker"


def test_a_broker_with_trouble_of_its_own_keeps_the_declared_edges() -> None:
    evidence = _evidence((*LAG_ONLY, "kafka_topic_partition_under_replicated_partition"))
    assert not only_consumer_lag(evidence["broker"])
    assert with_consumers(topology=SHOP, evidence=evidence) is SHOP


def test_the_catalogue_knows_a_consumer_leaving_its_group() -> None:
    line = (
        "consumer poll timeout has expired. This means the time between subsequent calls to "
        "poll() was longer than the configured max.poll.interval.ms"
    )
    rebalancing = [m for m in modes_of((APP,)) if m.name == "consumer group rebalancing"]
    assert rebalancing and any(compiled(p).search(line) for p in rebalancing[0].logs)
