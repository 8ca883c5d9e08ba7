"""Loki's JSON answers, decoded into the project's values.  Pure.

``query`` / ``query_range`` answer ``streams`` (log queries), ``matrix`` or
``vector`` (metric queries); a malformed answer is a ``ValueError`` that the
client turns into a ``SignalError`` saying what was asked.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NotRequired, TypedDict, cast

from diagnosis_operator.adapters.loki.nanos import from_nanos
from diagnosis_operator.models.signals import Labels, LogCount, LogLine, LogStream

# One log entry as paged: its stream's labels, integer nanoseconds, the line.
Entry = tuple[Labels, int, str]


class RawStream(TypedDict):
    stream: dict[str, str]
    values: list[list[Any]]


class RawMatrixSeries(TypedDict):
    metric: dict[str, str]
    values: list[list[Any]]


class RawVectorSample(TypedDict):
    metric: dict[str, str]
    value: list[Any]


class RawQueryData(TypedDict):
    resultType: str
    result: list[Any]
    stats: NotRequired[dict[str, Any]]


class RawQueryResponse(TypedDict):
    status: str
    data: RawQueryData


class RawListResponse(TypedDict):
    status: str
    data: list[Any]


@dataclass(frozen=True)
class QueryResult:
    """One answer of ``query`` / ``query_range``: streams or series, and Loki's stats."""

    result_type: str
    streams: tuple[LogStream, ...] = ()
    series: tuple[LogCount, ...] = ()
    stats: Mapping[str, Any] = field(default_factory=dict)


def labels_of(raw: object, *, what: str) -> Labels:
    if not isinstance(raw, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in raw.items()
    ):
        raise ValueError(f"{what}: expected a label object of strings, got {raw!r:.200}")
    return Labels(cast(dict[str, str], raw))


def parse_streams(result: list[Any]) -> list[LogStream]:
    """``resultType: streams`` into LogStreams, each sorted oldest first.  Pure."""
    streams: list[LogStream] = []
    for item in cast(list[RawStream], result):
        labels = labels_of(item.get("stream"), what="stream labels")
        lines: list[LogLine] = []
        for entry in item.get("values") or []:
            if not isinstance(entry, list) or len(entry) < 2 or not isinstance(entry[1], str):
                raise ValueError(f'stream entry: expected ["<ns>", "<line>"], got {entry!r:.200}')
            lines.append(LogLine(ts=from_nanos(entry[0]), line=entry[1]))
        lines.sort(key=lambda line: (line.ts, line.line))
        streams.append(LogStream(labels=labels, lines=tuple(lines)))
    return streams


def _sample_value(raw: object) -> float:
    if not isinstance(raw, str):
        raise ValueError(f"sample value: expected a string, got {raw!r:.100}")
    return float(raw)


def parse_matrix(result: list[Any]) -> list[LogCount]:
    """``resultType: matrix`` into LogCounts.  Pure."""
    series: list[LogCount] = []
    for item in cast(list[RawMatrixSeries], result):
        labels = labels_of(item.get("metric"), what="series labels")
        points = sorted((float(ts), _sample_value(value)) for ts, value in item.get("values") or [])
        series.append(
            LogCount(
                labels=labels,
                timestamps=tuple(ts for ts, _ in points),
                values=tuple(value for _, value in points),
            )
        )
    return series


def parse_vector(result: list[Any]) -> list[LogCount]:
    """``resultType: vector`` into one-point LogCounts.  Pure."""
    series: list[LogCount] = []
    for item in cast(list[RawVectorSample], result):
        labels = labels_of(item.get("metric"), what="sample labels")
        ts, value = item["value"]
        series.append(
            LogCount(labels=labels, timestamps=(float(ts),), values=(_sample_value(value),))
        )
    return series


def parse_query_result(data: object) -> QueryResult:
    """The ``data`` object of a query answer; ``ValueError`` (or Key/TypeError) if malformed."""
    if not isinstance(data, dict):
        raise ValueError("data is not an object")
    result_type = data.get("resultType")
    result = data.get("result") or []
    stats = data.get("stats") or {}
    if result_type == "streams":
        return QueryResult("streams", streams=tuple(parse_streams(result)), stats=stats)
    if result_type == "matrix":
        return QueryResult("matrix", series=tuple(parse_matrix(result)), stats=stats)
    if result_type == "vector":
        return QueryResult("vector", series=tuple(parse_vector(result)), stats=stats)
    raise ValueError(f"unsupported resultType {result_type!r}")


def parse_entries(result: list[Any]) -> list[Entry]:
    """The entries of ``resultType: streams``, nanoseconds kept exact, oldest first.  Pure."""
    entries: list[Entry] = []
    for item in cast(list[RawStream], result):
        labels = labels_of(item.get("stream"), what="stream labels")
        for value in item.get("values") or []:
            ns, line = value[0], value[1]
            if not isinstance(ns, str) or not isinstance(line, str):
                raise ValueError(f"stream entry: expected two strings, got {value!r:.200}")
            entries.append((labels, int(ns), line))
    entries.sort(key=lambda entry: (entry[1], entry[2]))
    return entries
