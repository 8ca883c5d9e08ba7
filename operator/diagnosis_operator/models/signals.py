"""Signals as the pipeline sees them: time windows, metric series and log lines.

Both the offline path (an incident bundle read in-process) and the live path
(Prometheus and Loki) produce exactly these values, so the pure core cannot
tell them apart.  Timestamps are float seconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


def utc_seconds(moment: datetime) -> float:
    """Seconds since the epoch of an aware datetime (naive ones are read as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def from_seconds(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def isoformat_z(seconds: float) -> str:
    """RFC 3339 in UTC with a ``Z``; milliseconds only when there are some."""
    moment = from_seconds(seconds)
    if moment.microsecond:
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class Window:
    """A closed time interval [start, end] in epoch seconds."""

    start: float
    end: float

    def __post_init__(self) -> None:
        if not self.end > self.start:
            raise ValueError(
                f"window end {isoformat_z(self.end)} is not after start {isoformat_z(self.start)}"
            )

    @property
    def duration(self) -> float:
        return self.end - self.start

    def contains(self, ts: float) -> bool:
        return self.start <= ts <= self.end

    def steps(self, step: float) -> Iterator[float]:
        """The evaluation timestamps of a range query: start, start+step, ... <= end."""
        count = int((self.end - self.start) // step)
        for index in range(count + 1):
            yield self.start + index * step

    def __str__(self) -> str:
        return f"[{isoformat_z(self.start)}, {isoformat_z(self.end)}]"


class Labels(Mapping[str, str]):
    """An immutable, hashable label set (a Prometheus series or a Loki stream)."""

    __slots__ = ("_hash", "_items")

    def __init__(self, items: Mapping[str, str] | None = None) -> None:
        self._items: tuple[tuple[str, str], ...] = tuple(sorted((items or {}).items()))
        self._hash = hash(self._items)

    def __getitem__(self, key: str) -> str:
        for name, value in self._items:
            if name == key:
                return value
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return (name for name, _ in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def __hash__(self) -> int:
        return self._hash

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Labels):
            return self._items == other._items
        if isinstance(other, Mapping):
            return dict(self._items) == dict(other)
        return NotImplemented

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in self._items)
        return f"Labels({inner})"

    def matches(self, selector: Mapping[str, str]) -> bool:
        """Equality matchers: every selector label is present with that value."""
        return all(self.get(name) == value for name, value in selector.items())

    def without(self, *names: str) -> Labels:
        return Labels({k: v for k, v in self._items if k not in names})


class MetricType(StrEnum):
    COUNTER = "counter"
    GAUGE = "gauge"
    HISTOGRAM = "histogram"
    SUMMARY = "summary"
    UNKNOWN = "unknown"


@dataclass(frozen=True, slots=True)
class Series:
    """One metric series: ``name`` is ``__name__``; ``labels`` excludes it.

    ``timestamps`` are strictly increasing; ``values`` has the same length.
    ``type`` is the family type when known (from ``# TYPE`` or the metadata API).
    """

    name: str
    labels: Labels
    timestamps: tuple[float, ...]
    values: tuple[float, ...]
    type: MetricType = MetricType.UNKNOWN

    def __post_init__(self) -> None:
        if len(self.timestamps) != len(self.values):
            raise ValueError(
                f"series {self.name}{dict(self.labels)}: timestamps/values differ in length"
            )


@dataclass(frozen=True, slots=True)
class LogLine:
    ts: float
    line: str


@dataclass(frozen=True, slots=True)
class LogStream:
    """Lines of one stream (one label set), sorted by time."""

    labels: Labels
    lines: tuple[LogLine, ...]


@dataclass(frozen=True, slots=True)
class LogCount:
    """A log-derived count series: lines per step, grouped by ``labels``.

    Steps with no line are absent (as Loki omits them); read them as zero.
    """

    labels: Labels
    timestamps: tuple[float, ...]
    values: tuple[float, ...]


@dataclass(frozen=True)
class ComponentSignals:
    """Everything collected for one topology component."""

    component: str
    series: tuple[Series, ...] = ()
    log_samples: tuple[LogStream, ...] = ()
    log_counts: tuple[LogCount, ...] = ()
    # Extracted-field counts (for example requests by client IP), keyed by a
    # name the collector chose (``"clients"``).
    extracted: Mapping[str, tuple[LogCount, ...]] = field(default_factory=dict)
    # What was asked, per signal, to quote in the evidence (PromQL / LogQL or a
    # description of the in-process equivalent).
    queries: Mapping[str, str] = field(default_factory=dict)
    # Collection problems that did not stop the diagnosis (partial results).
    errors: tuple[str, ...] = ()
    # How many queries were sent for this component and how many of them failed
    # (an error answer, no answer, or no answer before the deadline); whether the
    # metric series query was one of the failed ones.
    asked: int = 0
    failed: int = 0
    series_failed: bool = False
    timed_out: int = 0
    # Answers the source marked as possibly incomplete (``PartialAnswer``):
    # kept, but the diagnosis cannot be complete on them.
    partial: int = 0
    # The policy's signals (``signalOverrides``) of this component: the answer
    # of each one's PromQL, keyed by the override's name (its query is in
    # ``queries`` under ``policy_query_key(name)``).
    policy_series: Mapping[str, tuple[Series, ...]] = field(default_factory=dict)


def policy_query_key(name: str) -> str:
    """The ``ComponentSignals.queries`` key of a policy signal's PromQL."""
    return f"policy:{name}"


@dataclass(frozen=True)
class SignalSet:
    window: Window
    step: float
    components: Mapping[str, ComponentSignals]
