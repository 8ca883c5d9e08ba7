"""Every detection of a diagnosis: departures from a baseline, and those that need none.

Pure.  ``scoring.detect`` finds departures from each signal's own baseline; beside it
come the detections that need no baseline: a gauge at its type's largest value
(``at_maximum``), a redo log checkpoint age past InnoDB's synchronous flush point
(``flush_point``), an instance whose scrapes failed while its siblings' succeeded
(``scrape_down``), a release's new instances worse than the old ones they replace
(``release_harm``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from diagnosis_operator.core.diagnosis.at_maximum import at_maximum
from diagnosis_operator.core.diagnosis.flush_point import past_flush_point
from diagnosis_operator.core.diagnosis.logs import ComponentLogs
from diagnosis_operator.core.diagnosis.release_harm import release_detections
from diagnosis_operator.core.diagnosis.scoring import detect
from diagnosis_operator.core.diagnosis.scrape_down import scrape_down
from diagnosis_operator.core.diagnosis.signal_types import Detection, FloatArray, Signal
from diagnosis_operator.models.topology import Topology


class Read(Protocol):
    """What was read for a diagnosis: every signal, by component too, and the logs."""

    @property
    def all_signals(self) -> Sequence[Signal]: ...
    @property
    def by_component(self) -> Mapping[str, list[Signal]]: ...
    @property
    def logs(self) -> Mapping[str, ComponentLogs]: ...


def all_detections(
    *, topology: Topology, read: Read, timestamps: FloatArray, z_threshold: float
) -> list[Detection]:
    """Pure: the departures of what was ``read`` and the detections that need no baseline."""
    signals = read.all_signals
    found = detect(signals=signals, timestamps=timestamps, z_threshold=z_threshold)
    found += at_maximum(signals=signals, timestamps=timestamps)
    found += past_flush_point(signals=signals, timestamps=timestamps)
    found += scrape_down(signals=signals, timestamps=timestamps, detected=found)
    return found + release_detections(
        topology=topology,
        signals=read.by_component,
        logs=read.logs,
        timestamps=timestamps,
        detected=found,
    )
