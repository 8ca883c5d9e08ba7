"""A queue whose only trouble is its consumers' lag waits on its consumers.  Pure.

Consumer lag (``catalog.modes_queue.CONSUMER_GROUP_METRICS``: kafka_exporter's
``kafka_consumergroup_lag``, Burrow's, KMinion's) is the consumer's symptom,
published by the broker's exporter.  When every strong departure of a queue
component is such a consumer-group series, and the broker shows nothing of its
own (no other metric, no new severe log category), the broker is not failing:
its consumers are not keeping up.  ``with_consumers`` then turns the edge of
each of its anomalous background consumers round (a component that depends on
the queue and that no component depends on: a worker, not a request path), so
the queue depends on its consumers before ranking and the ranking's usual rules
(who went bad first, who explains whom) decide between them.  A broker with
trouble of its own keeps the declared edges.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from diagnosis_operator.catalog.failure_modes import catalog_kinds, compiled
from diagnosis_operator.catalog.mode_types import QUEUE
from diagnosis_operator.catalog.modes_queue import CONSUMER_GROUP_METRICS
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.models.topology import Topology, TopologyError


def is_consumer_group_metric(name: str) -> bool:
    """Pure: whether a series describes a consumer group, not the broker exporting it."""
    return any(compiled(p).search(name) for p in CONSUMER_GROUP_METRICS)


def only_consumer_lag(ev: ComponentEvidence) -> bool:
    """Pure: whether all a queue component shows is its consumer groups' series."""
    names = [d.signal.name for d in ev.detections]
    if QUEUE not in catalog_kinds(ev.component, names) or ev.new_categories:
        return False
    strong = [d for d in ev.metric_detections if d.score >= Z_THRESHOLD]
    return bool(strong) and all(is_consumer_group_metric(d.signal.name) for d in strong)


def _consumers(
    topology: Topology, queue: str, evidence: Mapping[str, ComponentEvidence]
) -> tuple[str, ...]:
    """The queue's anomalous background consumers: its dependents nothing depends on."""
    return tuple(
        name
        for name in topology.dependents_of(queue)
        if not topology.dependents_of(name)
        and name in evidence
        and evidence[name].evidence_score >= Z_THRESHOLD
    )


def with_consumers(*, topology: Topology, evidence: Mapping[str, ComponentEvidence]) -> Topology:
    """Pure: the topology with each lagging-only queue depending on its background consumers."""
    turned: dict[str, tuple[str, ...]] = {}
    for queue, ev in sorted(evidence.items()):
        if queue in topology.names and only_consumer_lag(ev):
            consumers = _consumers(topology, queue, evidence)
            if consumers:
                turned[queue] = consumers
    if not turned:
        return topology
    components = []
    for c in topology:
        depends = tuple(d for d in c.depends_on if c.name not in turned.get(d, ()))
        depends += turned.get(c.name, ())
        components.append(replace(c, depends_on=depends) if depends != c.depends_on else c)
    try:
        return Topology(components=tuple(components))
    except TopologyError:  # consumers of two queues feeding each other: leave it as declared
        return topology
