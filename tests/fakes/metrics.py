"""Fakes for the metric Protocols (``SeriesSource``, ``PromQLSource``) and Prometheus' HTTP.

* ``FakeSeriesSource`` holds raw samples and answers ``range_series`` with the
  Prometheus semantics written in ``adapters/ports.py`` (newest sample at or
  before each step, no older than the 5 minute lookback).
* ``FakePromQLSource`` answers PromQL from a table and records what was asked.
* ``ScriptedTransport`` is a ``requests`` transport adapter that plays a script
  of HTTP answers (or connection failures) and records every request, so the
  real ``PrometheusAdapter`` can be unit-tested without a network.
"""

from __future__ import annotations

import bisect
import json
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.models import PreparedRequest
from requests.structures import CaseInsensitiveDict

from diagnosis_operator.adapters import promql as promql_builder
from diagnosis_operator.models.signals import Labels, Series, Window

LOOKBACK_SECONDS = 300.0


def at_steps(series: Series, *, window: Window, step: float) -> Series | None:
    """The range-query view of raw ``series``: one value per step that has a recent sample."""
    timestamps: list[float] = []
    values: list[float] = []
    for instant in window.steps(step):
        index = bisect.bisect_right(series.timestamps, instant) - 1
        if index < 0:
            continue
        if instant - series.timestamps[index] > LOOKBACK_SECONDS:
            continue
        timestamps.append(instant)
        values.append(series.values[index])
    if not timestamps:
        return None
    return Series(
        name=series.name,
        labels=series.labels,
        timestamps=tuple(timestamps),
        values=tuple(values),
    )


@dataclass
class FakeSeriesSource:
    """Raw samples in memory; a ``SeriesSource``."""

    raw: Sequence[Series]
    asked: list[tuple[dict[str, str], Window, float]] = field(default_factory=list)

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]:
        self.asked.append((dict(selector), window, step))
        found: list[Series] = []
        for series in self.raw:
            if not series.labels.matches(selector):
                continue
            stepped = at_steps(series, window=window, step=step)
            if stepped is not None:
                found.append(stepped)
        return found

    def describe_selector(self, *, selector: Mapping[str, str]) -> str:
        return promql_builder.selector(selector)


@dataclass
class FakePromQLSource:
    """Canned PromQL answers; a ``PromQLSource``.  Unknown queries answer nothing."""

    answers: Mapping[str, Sequence[Series]] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]:
        self.asked.append(promql)
        return [
            clipped
            for series in self.answers.get(promql, ())
            if (clipped := at_steps(series, window=window, step=step)) is not None
        ]

    def query_instant(self, *, promql: str, at: float) -> list[Series]:
        self.asked.append(promql)
        window = Window(start=at, end=at + 1)
        found: list[Series] = []
        for series in self.answers.get(promql, ()):
            stepped = at_steps(series, window=window, step=2)
            if stepped is not None:
                found.append(stepped)
        return found


def series(name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> Series:
    """A raw series from ``(timestamp, value)`` pairs."""
    pairs = sorted(points)
    return Series(
        name=name,
        labels=Labels(labels),
        timestamps=tuple(ts for ts, _ in pairs),
        values=tuple(v for _, v in pairs),
    )


# HTTP -----------------------------------------------------------------------


@dataclass(frozen=True)
class Answer:
    """One scripted HTTP answer."""

    status: int = 200
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


def matrix(*items: tuple[Mapping[str, str], Sequence[tuple[float, str]]]) -> Answer:
    """A successful range-query answer: ``(metric labels, [(ts, "value"), ...])`` per series."""
    return Answer(
        body={
            "status": "success",
            "data": {
                "resultType": "matrix",
                "result": [
                    {"metric": dict(metric), "values": [[ts, value] for ts, value in values]}
                    for metric, values in items
                ],
            },
        }
    )


def vector(*items: tuple[Mapping[str, str], tuple[float, str]]) -> Answer:
    return Answer(
        body={
            "status": "success",
            "data": {
                "resultType": "vector",
                "result": [{"metric": dict(m), "value": [ts, v]} for m, (ts, v) in items],
            },
        }
    )


def prometheus_error(status: int, error_type: str, message: str) -> Answer:
    return Answer(
        status=status, body={"status": "error", "errorType": error_type, "error": message}
    )


@dataclass
class SentRequest:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]
    timeout: Any


class ScriptedTransport(BaseAdapter):
    """Plays ``script`` in order: an ``Answer`` or an exception to raise (e.g. ConnectionError)."""

    def __init__(self, script: Iterable[Answer | Exception]) -> None:
        super().__init__()
        self.script = list(script)
        self.sent: list[SentRequest] = []

    def send(  # type: ignore[override]
        self, request: PreparedRequest, timeout: Any = None, **kwargs: Any
    ) -> requests.Response:
        url = urllib.parse.urlsplit(request.url or "")
        params = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if request.body:
            body = request.body if isinstance(request.body, str) else request.body.decode()
            params.update(urllib.parse.parse_qsl(body, keep_blank_values=True))
        self.sent.append(
            SentRequest(
                method=request.method or "",
                path=url.path,
                params=params,
                headers=dict(request.headers),
                timeout=timeout,
            )
        )
        if not self.script:
            raise AssertionError(f"unscripted request {request.method} {request.url}")
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        response = requests.Response()
        response.status_code = step.status
        raw = step.body if isinstance(step.body, str | bytes) else json.dumps(step.body)
        response._content = raw.encode() if isinstance(raw, str) else raw
        response.headers = CaseInsensitiveDict(
            {"Content-Type": "application/json", **dict(step.headers)}
        )
        response.url = request.url or ""
        response.request = request
        response.encoding = "utf-8"
        return response

    def close(self) -> None:
        pass


# OpenMetrics -----------------------------------------------------------------


def _om_label_value(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def openmetrics_text(families: Mapping[str, Sequence[Series]], *, kind: str = "unknown") -> str:
    """OpenMetrics as promtool wants it: a TYPE line per family, seconds, ``# EOF``.

    Each family's members must carry the family name as their sample name
    (``kind`` unknown/gauge), or the conventional suffixes for counters.
    """
    lines: list[str] = []
    for family, members in families.items():
        lines.append(f"# TYPE {family} {kind}")
        for member in members:
            labels = ",".join(f'{k}="{_om_label_value(v)}"' for k, v in member.labels.items())
            for ts, value in zip(member.timestamps, member.values, strict=True):
                lines.append(f"{member.name}{{{labels}}} {value!r} {ts!r}")
    lines.append("# EOF")
    return "\n".join(lines) + "\n"


def by_family(raw: Iterable[Series]) -> dict[str, list[Series]]:
    """Group raw series under their own name (one unknown-typed family per name)."""
    families: dict[str, list[Series]] = {}
    for member in raw:
        families.setdefault(member.name, []).append(member)
    return families
