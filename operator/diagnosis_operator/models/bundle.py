"""Incident bundle, format v1: the ``incident.yaml`` schema and the loader's result types.

The spec is ``docs/incident-bundle.md``.  ``IncidentSpec`` is what comes from
outside (pydantic, unknown fields refused); ``Bundle`` is what the loader hands
to the pipeline: the parsed spec plus the metric series and log streams, held
compactly (numpy arrays, one per series / stream) because a bundle may hold
millions of samples and lines.

Timestamps are kept as integers, exactly as the live backends store them:
milliseconds for metric samples (Prometheus) and nanoseconds for log lines
(Loki), so that the offline and the live path round the same way.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from diagnosis_operator.models.signals import Labels, MetricType, Window, utc_seconds
from diagnosis_operator.models.topology import Component, ComponentKind, Topology

BUNDLE_FORMAT = "incident-bundle/v1"
INCIDENT_FILE = "incident.yaml"
METRICS_FILE = "metrics.om"
LOGS_FILE = "logs.jsonl"

_LABEL_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_LABEL_NAME_REST = _LABEL_NAME_FIRST | frozenset("0123456789")


def is_label_name(name: str) -> bool:
    """Pure: ``[a-zA-Z_][a-zA-Z0-9_]*`` (Prometheus and Loki label names)."""
    return (
        bool(name)
        and name[0] in _LABEL_NAME_FIRST
        and all(character in _LABEL_NAME_REST for character in name)
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class WindowSpec(_Strict):
    start: datetime
    end: datetime

    @field_validator("start", "end", mode="before")
    @classmethod
    def _rfc3339_text(cls, value: object) -> object:
        # YAML turns unquoted timestamps into datetimes; both forms are fine,
        # but bare numbers (epoch seconds) are not RFC 3339.
        if isinstance(value, int | float):
            raise ValueError("must be an RFC 3339 timestamp such as 2025-12-11T08:30:00Z")
        return value

    @field_validator("start", "end")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a time zone (RFC 3339, e.g. 2025-12-11T08:30:00Z)")
        return value.astimezone(UTC)

    @model_validator(mode="after")
    def _ordered(self) -> WindowSpec:
        if not self.end > self.start:
            raise ValueError(
                f"window.end {self.end.isoformat()} is not after window.start "
                f"{self.start.isoformat()}"
            )
        return self

    def to_window(self) -> Window:
        return Window(start=utc_seconds(self.start), end=utc_seconds(self.end))


class SymptomSpec(_Strict):
    component: str | None = None
    route: str | None = None


class ComponentSpec(_Strict):
    name: str = Field(min_length=1)
    kind: ComponentKind
    selector: dict[str, str] = Field(min_length=1)
    depends_on: list[str] = Field(default_factory=list, alias="dependsOn")

    @field_validator("selector")
    @classmethod
    def _label_names(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if not is_label_name(name):
                raise ValueError(f"invalid label name {name!r}: must match [a-zA-Z_][a-zA-Z0-9_]*")
        return value

    def to_component(self) -> Component:
        return Component(
            name=self.name,
            kind=self.kind,
            selector=Labels(self.selector),
            depends_on=tuple(self.depends_on),
        )


class TopologySpec(_Strict):
    components: list[ComponentSpec] = Field(min_length=1)

    def to_topology(self) -> Topology:
        """Raises ``TopologyError`` for duplicate names, unknown dependencies, cycles."""
        return Topology(components=tuple(spec.to_component() for spec in self.components))


class IncidentSpec(_Strict):
    """``incident.yaml``."""

    format: Literal["incident-bundle/v1"]
    name: str = Field(min_length=1)
    description: str = ""
    window: WindowSpec
    symptom: SymptomSpec | None = None
    topology: TopologySpec

    @model_validator(mode="after")
    def _symptom_component_known(self) -> IncidentSpec:
        if self.symptom is not None and self.symptom.component is not None:
            names = {component.name for component in self.topology.components}
            if self.symptom.component not in names:
                raise ValueError(
                    f"symptom.component {self.symptom.component!r} is not a topology component "
                    f"(known: {', '.join(sorted(names))})"
                )
        return self


Int64Array = npt.NDArray[np.int64]
Float64Array = npt.NDArray[np.float64]


@dataclass(frozen=True, eq=False)
class StoredSeries:
    """One metric series as loaded: strictly increasing millisecond timestamps."""

    name: str
    labels: Labels
    timestamps_ms: Int64Array
    values: Float64Array
    type: MetricType = MetricType.UNKNOWN


@dataclass(frozen=True, eq=False)
class StoredStream:
    """One log stream as loaded: lines sorted by nanosecond timestamp, duplicates dropped."""

    labels: Labels
    timestamps_ns: Int64Array
    lines: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.lines)


@dataclass(frozen=True, eq=False)
class Bundle:
    """A loaded, validated incident bundle."""

    path: str
    spec: IncidentSpec
    topology: Topology
    window: Window
    series: tuple[StoredSeries, ...]
    streams: tuple[StoredStream, ...]
    family_types: Mapping[str, MetricType] = field(default_factory=dict)
    # Log entries Loki would drop as duplicates (same stream, timestamp and line).
    duplicate_lines: int = 0

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def symptom_component(self) -> str | None:
        return self.spec.symptom.component if self.spec.symptom else None

    def series_of(self, selector: Mapping[str, str]) -> tuple[StoredSeries, ...]:
        """Pure: the series whose labels (``__name__`` included) match ``selector``.

        Through an index of positions per label name and value, made on first
        use: the collector asks tens of selectors of ten thousand series.
        """
        index = self._series_index
        chosen: set[int] | None = None
        for name, value in selector.items():
            found = index.get((name, value), frozenset())
            chosen = set(found) if chosen is None else chosen & found
            if not chosen:
                return ()
        if chosen is None:
            return self.series
        return tuple(self.series[position] for position in sorted(chosen))

    @cached_property
    def _series_index(self) -> dict[tuple[str, str], frozenset[int]]:
        """Per label name and value (``__name__`` too), the positions of the series holding it."""
        positions: dict[tuple[str, str], list[int]] = {}
        for position, stored in enumerate(self.series):
            positions.setdefault(("__name__", stored.name), []).append(position)
            for pair in stored.labels.items():
                if pair[0] != "__name__":
                    positions.setdefault(pair, []).append(position)
        return {pair: frozenset(found) for pair, found in positions.items()}

    def streams_of(self, selector: Mapping[str, str]) -> tuple[StoredStream, ...]:
        """Pure: the log streams whose labels match ``selector``."""
        return tuple(stream for stream in self.streams if stream.labels.matches(selector))


@dataclass(frozen=True, slots=True)
class ComponentSummary:
    """What a bundle holds for one component (``bundle validate`` prints these)."""

    component: str
    kind: ComponentKind
    series: int
    samples_in_window: int
    streams: int
    lines: int
    lines_in_window: int
    instances: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LoadProgress:
    """Reported to a ``progress`` callback while a bundle loads."""

    file: str
    lines_read: int
    done: bool = False


def summarize(bundle: Bundle) -> tuple[ComponentSummary, ...]:
    """Pure: per component, how many series, samples, streams and lines the bundle holds."""
    start_ms = round(bundle.window.start * 1000)
    end_ms = round(bundle.window.end * 1000)
    start_ns = round(bundle.window.start * 1e9)
    end_ns = round(bundle.window.end * 1e9)
    summaries: list[ComponentSummary] = []
    for component in bundle.topology:
        series = bundle.series_of(component.selector)
        streams = bundle.streams_of(component.selector)
        samples = sum(
            int(np.searchsorted(stored.timestamps_ms, end_ms, side="right"))
            - int(np.searchsorted(stored.timestamps_ms, start_ms, side="left"))
            for stored in series
        )
        lines_in_window = sum(
            int(np.searchsorted(stream.timestamps_ns, end_ns, side="right"))
            - int(np.searchsorted(stream.timestamps_ns, start_ns, side="left"))
            for stream in streams
        )
        instances = {stored.labels.get("instance") for stored in series}
        instances |= {stream.labels.get("instance") for stream in streams}
        summaries.append(
            ComponentSummary(
                component=component.name,
                kind=component.kind,
                series=len(series),
                samples_in_window=samples,
                streams=len(streams),
                lines=sum(len(stream) for stream in streams),
                lines_in_window=lines_in_window,
                instances=tuple(sorted(name for name in instances if name)),
            )
        )
    return tuple(summaries)
