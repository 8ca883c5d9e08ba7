"""An instance whose scrapes fail while its siblings' succeed (``scrape_down``)."""

from __future__ import annotations

import numpy as np

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, only_fell
from diagnosis_operator.core.diagnosis.scrape_down import DOWN_SCORE, scrape_down
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.topology import Component, ComponentKind

T0 = 1_800_000_000.0
TS = T0 + 15.0 * np.arange(13, dtype=np.float64)
UP = [1.0] * 13
FROZEN = [1.0] * 8 + [0.0] * 5


def _up(instance: str, values: list[float], name: str = "up") -> Signal:
    return Signal(
        component="api",
        instance=instance,
        name=name,
        family=name,
        kind=SignalKind.GAUGE,
        query=f'{name}{{job="api"}}',
        values=np.asarray(values, dtype=np.float64),
        labels=Labels({"job": "api", "instance": instance}),
    )


def test_one_instance_down_while_its_siblings_answer() -> None:
    signals = [_up("a:1", UP), _up("b:1", FROZEN), _up("c:1", UP)]
    (found,) = scrape_down(signals=signals, timestamps=TS)
    assert found.signal.instance == "b:1"
    assert (found.onset, found.score, found.anomaly.direction) == (TS[8], DOWN_SCORE, "down")
    # A failed scrape is not "less activity": the instance stopped answering.
    evidence = ComponentEvidence(
        component=Component("api", ComponentKind.APP, Labels({"job": "api"})), detections=(found,)
    )
    assert not only_fell(evidence)


def test_no_detection_when_the_siblings_are_down_too_or_it_came_back() -> None:
    # Every instance down at once: the scraper (or the network), not one instance.
    assert scrape_down(signals=[_up("a:1", FROZEN), _up("b:1", FROZEN)], timestamps=TS) == []
    # Down for a while, then up again: over, nothing to drain.
    back = [1.0] * 6 + [0.0] * 4 + [1.0] * 3
    assert scrape_down(signals=[_up("a:1", UP), _up("b:1", back)], timestamps=TS) == []
    # Too short to be more than one missed scrape.
    blip = [1.0] * 11 + [0.0] * 2
    assert scrape_down(signals=[_up("a:1", UP), _up("b:1", blip)], timestamps=TS) == []
    # Never up in the window: nothing changed.
    assert scrape_down(signals=[_up("a:1", UP), _up("b:1", [0.0] * 13)], timestamps=TS) == []


def test_only_availability_gauges_and_only_among_siblings() -> None:
    assert (
        scrape_down(signals=[_up("a:1", UP), _up("b:1", FROZEN, "queue_depth")], timestamps=TS)
        == []
    )
    assert scrape_down(signals=[_up("b:1", FROZEN)], timestamps=TS) == []
    exporter = [_up("a:1", UP, "redis_up"), _up("b:1", FROZEN, "redis_up")]
    assert [d.signal.instance for d in scrape_down(signals=exporter, timestamps=TS)] == ["b:1"]
