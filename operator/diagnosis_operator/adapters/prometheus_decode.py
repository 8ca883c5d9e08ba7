"""Decoding a Prometheus range answer series by series, into compact floats.

A range answer (``resultType: matrix``) holds one JSON object per series:
``{"metric":{...},"values":[[t,"v"],...]}``.  Decoding the whole body at once
builds a list, an int and a string per point (about 150 bytes each) before
anything is kept, for every answer in flight.  ``matrix_items`` walks the
body instead: it finds each series' label object and its ``values`` array
(a flat array of numbers and numeric strings), decodes the labels with
orjson and the points with numpy, and hands over one series at a time, so
what is alive while decoding is the body and one series.

It reads the layout Prometheus writes (and frontends that answer as it
does): compact JSON, ``metric`` before ``values``.  Any
other layout (white space, another key order, native histograms) returns
``None`` and the caller decodes the whole body the ordinary way.  A quote
inside a JSON string is always escaped, so the markers searched for
(``"result":[``, ``{"metric":``, ``"values":[``) cannot occur inside a label value.

Timestamps of every series on the same step grid are the same tuple: the
answer's series share it (``Grid``) instead of holding a copy each.

https://prometheus.io/docs/prometheus/latest/querying/api/#range-vectors
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, TypedDict, cast

import numpy as np
import orjson

from diagnosis_operator.models.signals import Labels, Series
from diagnosis_operator.ports import SignalError

_RESULT: Final = b'"result":['
_MATRIX: Final = b'"resultType":"matrix"'
# A series' label object: string keys and string values only.
_ITEM: Final = re.compile(rb'\{"metric":(\{(?:"(?:[^"\\]|\\.)*"[:,]?)*\}),"values":\[')
_UNQUOTED: Final = b'[]"'


class RangeItem(TypedDict):
    """One series of a decoded range vector (``metric`` and ``values``)."""

    metric: dict[str, str]
    values: list[tuple[float, str]]


class VectorItem(TypedDict):
    """One series of a decoded instant vector."""

    metric: dict[str, str]
    value: tuple[float, str]


@dataclass
class Grid:
    """Timestamp tuples already seen, so equal ones are stored once."""

    seen: dict[tuple[float, ...], tuple[float, ...]] = field(default_factory=dict)

    def shared(self, timestamps: tuple[float, ...]) -> tuple[float, ...]:
        return self.seen.setdefault(timestamps, timestamps)


@dataclass(frozen=True, slots=True)
class MatrixItem:
    """One series of a range answer: its labels (``__name__`` included) and points."""

    metric: dict[str, str]
    timestamps: tuple[float, ...]
    values: tuple[float, ...]


def matrix_items(body: bytes, *, grid: Grid) -> list[MatrixItem] | None:
    """Pure: the series of a range answer, or None if its layout is not the one read here."""
    if _MATRIX not in body:
        return None
    start = body.find(_RESULT)
    if start < 0:
        return None
    try:
        return list(_walk(body, start + len(_RESULT), grid=grid))
    except _OtherLayout:
        return None


def decode_matrix(body: bytes, *, grid: Grid) -> list[MatrixItem]:
    """Pure: a range answer's series: walked series by series, or decoded whole."""
    walked = matrix_items(body, grid=grid)
    if walked is not None:
        return walked
    result = orjson.loads(body)["data"]["result"]
    if not isinstance(result, list):
        raise TypeError(f"expected a matrix, got {result!r:.200}")
    return [
        MatrixItem(
            metric=item["metric"],
            timestamps=grid.shared(tuple(float(ts) for ts, _ in item["values"])),
            values=tuple(float(value) for _, value in item["values"]),
        )
        for item in result
    ]


def split_name(metric: Mapping[str, str]) -> tuple[str, Labels]:
    labels = dict(metric)
    name = labels.pop("__name__", "")
    return name, Labels(labels)


def instant_series(data: Any, *, query: str) -> list[Series]:
    """Pure: an instant answer's ``result`` (a vector, a matrix or a scalar) as series."""
    if isinstance(data, list) and len(data) == 2 and not isinstance(data[0], dict):
        # resultType scalar/string: [ts, "value"].
        return [
            Series(name="", labels=Labels(), timestamps=(float(data[0]),), values=(float(data[1]),))
        ]
    if not isinstance(data, list):
        raise SignalError(
            backend="prometheus",
            query=query,
            window=None,
            reason=f"unexpected result {data!r:.200}",
        )
    series: list[Series] = []
    for item in cast(list[dict[str, Any]], data):
        name, labels = split_name(item["metric"])
        if "value" in item:
            vector = cast(VectorItem, item)
            points: list[tuple[float, str]] = [vector["value"]]
        else:
            points = cast(RangeItem, item)["values"]
        series.append(
            Series(
                name=name,
                labels=labels,
                timestamps=tuple(float(ts) for ts, _ in points),
                values=tuple(float(v) for _, v in points),
            )
        )
    return series


class _OtherLayout(Exception):
    """The body is not laid out as ``matrix_items`` reads it."""


def _walk(body: bytes, position: int, *, grid: Grid) -> Iterator[MatrixItem]:
    if body[position : position + 1] == b"]":
        return
    while True:
        found = _ITEM.match(body, position)
        if found is None:
            raise _OtherLayout
        metric = orjson.loads(found.group(1))
        if body[found.end() : found.end() + 1] == b"]":  # an empty values array
            end, points = found.end() + 1, np.empty(0, dtype=np.float64)
        else:
            close = body.find(b"]]", found.end())
            if close < 0:
                raise _OtherLayout
            end = close + 2
            points = _points(body[found.end() : end])
        if body[end : end + 1] != b"}":
            raise _OtherLayout
        yield MatrixItem(
            metric=metric,
            timestamps=grid.shared(tuple(points[0::2].tolist())),
            values=_values(points[1::2]),
        )
        following = body[end + 1 : end + 2]
        if following == b"]":
            return
        if following != b",":
            raise _OtherLayout
        position = end + 2


def _values(values: np.ndarray[tuple[int], np.dtype[np.float64]]) -> tuple[float, ...]:
    """The values as a tuple; a value repeated in the series is one float object.

    Gauges mostly hold a few levels (threads, connections, sizes): each
    repeat then costs a pointer, not a float.  Values are told apart by their
    bits, so ``-0.0`` stays apart from ``0.0`` and every NaN is kept as it came.
    """
    distinct, where = np.unique(values.view(np.int64), return_inverse=True)
    if distinct.size * 2 > values.size:  # mostly distinct (a counter): nothing to share
        return tuple(values.tolist())
    shared = distinct.view(np.float64).tolist()
    return tuple(map(shared.__getitem__, where.tolist()))


def _points(text: bytes) -> np.ndarray[tuple[int], np.dtype[np.float64]]:
    """``[t,"v"],[t,"v"]...]]`` as ``t, v, t, v...`` (numpy parses ``NaN``, ``+Inf``...)."""
    numbers = text.translate(None, _UNQUOTED).split(b",")
    if len(numbers) % 2:
        raise _OtherLayout
    try:
        return np.array(numbers, dtype=np.float64)
    except ValueError as error:
        raise _OtherLayout from error
