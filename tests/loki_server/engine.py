"""The test server's store and LogQL evaluator (Loki semantics for the supported subset).

* Log queries: entries with ``start <= ts < end``; ``limit`` entries overall,
  the oldest (``forward``) or newest (``backward``) first; result streams are
  grouped by their labels after the pipeline (extracted labels included).
* Range aggregations at each step ``t`` cover ``(t - range, t]``; a step with
  no entry has no point.  Vector aggregations group by/without labels;
  ``topk``/``bottomk`` keep k series per step (per group).
* Parsers add labels; an extracted label that clashes with a stream label is
  renamed ``<name>_extracted``.  ``json``/``logfmt`` failures set ``__error__``;
  a metric result still carrying ``__error__`` is rejected like Loki does.
"""

from __future__ import annotations

import bisect
import json
import math
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TypedDict

from tests.loki_server.logql import (
    Expr,
    LabelFilter,
    LineFilter,
    LogExpr,
    Matcher,
    ParserStage,
    RangeAggregation,
    VectorAggregation,
)

LabelKey = tuple[tuple[str, str], ...]
_SANITIZE = re.compile(r"[^a-zA-Z0-9_]")


class LogStream(TypedDict):
    """One stream of a log query's result: its labels and its ``[ns, line]`` entries."""

    stream: dict[str, str]
    values: list[list[str]]


class MatrixSeries(TypedDict):
    """One series of a range query's result: its labels and its ``(seconds, value)`` points."""

    metric: dict[str, str]
    values: list[tuple[float, str]]


class QueryError(ValueError):
    """A query Loki would refuse at evaluation time (HTTP 400)."""


def key_of(labels: Mapping[str, str]) -> LabelKey:
    return tuple(sorted(labels.items()))


@dataclass
class Stream:
    labels: dict[str, str]
    # Sorted by timestamp; lines of one timestamp keep the order they were pushed in
    # (as Loki's chunks keep them).  Loki drops an entry identical to one it has.
    entries: list[tuple[int, int, str]] = field(default_factory=list)
    seen: set[tuple[int, str]] = field(default_factory=set)

    def add(self, ns: int, line: str) -> bool:
        if (ns, line) in self.seen:
            return False
        self.seen.add((ns, line))
        bisect.insort(self.entries, (ns, len(self.seen), line))
        return True

    def between(self, start_ns: int, end_ns: int) -> list[tuple[int, str]]:
        """Entries with ``start_ns <= ts < end_ns``."""
        low = bisect.bisect_left(self.entries, (start_ns, -1, ""))
        high = bisect.bisect_left(self.entries, (end_ns, -1, ""))
        return [(ns, line) for ns, _order, line in self.entries[low:high]]


@dataclass
class Store:
    """Streams per tenant, safe for the threading HTTP server."""

    tenants: dict[str, dict[LabelKey, Stream]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def push(
        self, tenant: str, labels: Mapping[str, str], entries: Iterable[tuple[int, str]]
    ) -> int:
        with self.lock:
            streams = self.tenants.setdefault(tenant, {})
            stream = streams.setdefault(key_of(labels), Stream(dict(labels)))
            return sum(stream.add(ns, line) for ns, line in entries)

    def select(self, tenant: str, matchers: Iterable[Matcher]) -> list[Stream]:
        wanted = tuple(matchers)
        with self.lock:
            streams = list(self.tenants.get(tenant, {}).values())
        return [s for s in streams if all(m.matches(s.labels.get(m.name, "")) for m in wanted)]

    def streams_in(self, tenant: str, start_ns: int, end_ns: int) -> list[Stream]:
        with self.lock:
            streams = list(self.tenants.get(tenant, {}).values())
        return [s for s in streams if s.between(start_ns, end_ns)]


# --- Pipelines --------------------------------------------------------------------------------


def _add_extracted(labels: dict[str, str], base: Mapping[str, str], name: str, value: str) -> None:
    name = _SANITIZE.sub("_", name)
    if not name:
        return
    if name[0].isdigit():
        name = "_" + name
    if name in base:
        name += "_extracted"
    labels[name] = value


def _flatten_json(prefix: str, value: object, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten_json(f"{prefix}_{key}" if prefix else str(key), inner, out)
    elif isinstance(value, list):
        return
    elif isinstance(value, bool):
        out[prefix] = "true" if value else "false"
    elif value is None:
        out[prefix] = ""
    elif isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        out[prefix] = str(int(value))
    else:
        out[prefix] = str(value)


_LOGFMT_PAIR = re.compile(r'\s*([^\s=]+)(?:=("(?:[^"\\]|\\.)*"|\S*))?')


def _parse_logfmt(line: str) -> dict[str, str] | None:
    out: dict[str, str] = {}
    position = 0
    while position < len(line):
        if line[position].isspace():
            position += 1
            continue
        match = _LOGFMT_PAIR.match(line, position)
        if not match or match.end() == position:
            return None
        key, raw = match.group(1), match.group(2)
        if raw is None:
            value = ""
        elif raw.startswith('"'):
            try:
                value = json.loads(raw)
            except ValueError:
                return None
        else:
            value = raw
        if '"' in key:
            return None
        out[key] = value
        position = match.end()
    return out


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if not math.isnan(number) else None


def _compare(op: str, left: float, right: float) -> bool:
    return {
        ">": left > right,
        ">=": left >= right,
        "<": left < right,
        "<=": left <= right,
        "==": left == right,
        "!=": left != right,
    }[op]


def run_pipeline(expr: LogExpr, labels: Mapping[str, str], line: str) -> dict[str, str] | None:
    """The labels of ``line`` after the pipeline, or None if a stage drops it."""
    current = dict(labels)
    for stage in expr.stages:
        if isinstance(stage, LineFilter):
            if not stage.keeps(line):
                return None
        elif isinstance(stage, ParserStage):
            if stage.kind == "json":
                try:
                    parsed = json.loads(line)
                except ValueError:
                    parsed = None
                if not isinstance(parsed, dict):
                    current["__error__"] = "JSONParserErr"
                    continue
                flat: dict[str, str] = {}
                _flatten_json("", parsed, flat)
                for name, value in flat.items():
                    _add_extracted(current, labels, name, value)
            elif stage.kind == "logfmt":
                pairs = _parse_logfmt(line)
                if pairs is None:
                    current["__error__"] = "LogfmtParserErr"
                    continue
                for name, value in pairs.items():
                    _add_extracted(current, labels, name, value)
            else:
                assert stage.regex is not None
                found = stage.regex.search(line)
                if found is None:
                    continue
                for name in stage.names:
                    value = found.group(name)
                    if value is not None:
                        _add_extracted(current, labels, name, value)
        else:
            if not _label_filter_keeps(stage, current):
                return None
    return {name: value for name, value in current.items() if value != ""}


def _label_filter_keeps(stage: LabelFilter, current: dict[str, str]) -> bool:
    value = current.get(stage.name, "")
    if isinstance(stage.value, str):
        if stage.op == "=":
            return value == stage.value
        if stage.op == "!=":
            return value != stage.value
        assert stage.regex is not None
        found = stage.regex.fullmatch(value) is not None
        return found if stage.op == "=~" else not found
    number = _number(value)
    if number is None:
        # Loki keeps the line and marks it; `| __error__=""` drops such lines.
        current["__error__"] = "LabelFilterErr"
        return True
    return _compare(stage.op, number, stage.value)


# --- Log queries ------------------------------------------------------------------------------


def log_query(
    store: Store,
    tenant: str,
    expr: LogExpr,
    *,
    start_ns: int,
    end_ns: int,
    limit: int,
    direction: str,
) -> list[LogStream]:
    entries: list[tuple[int, str, LabelKey]] = []
    for stream in store.select(tenant, expr.matchers):
        for ns, line in stream.between(start_ns, end_ns):
            labels = run_pipeline(expr, stream.labels, line)
            if labels is not None:
                entries.append((ns, line, key_of(labels)))
    backward = direction == "backward"
    # Stable: equal timestamps stay in stream order, then push order.
    entries.sort(key=lambda entry: entry[0], reverse=backward)
    kept = entries[:limit]
    grouped: dict[LabelKey, list[list[str]]] = {}
    for ns, line, key in kept:
        grouped.setdefault(key, []).append([str(ns), line])
    return [{"stream": dict(key), "values": values} for key, values in grouped.items()]


# --- Metric queries ---------------------------------------------------------------------------


@dataclass
class _Processed:
    """A stream's pipeline output over the whole query span, for per-step slicing."""

    points: dict[LabelKey, tuple[list[int], list[int]]]  # key -> (ns list, byte sizes)


def _process(
    store: Store, tenant: str, agg: RangeAggregation, start_ns: int, end_ns: int
) -> _Processed:
    points: dict[LabelKey, tuple[list[int], list[int]]] = {}
    for stream in store.select(tenant, agg.log.matchers):
        # Window (t - range, t] for t in [start, end]: entries in (start - range, end].
        for ns, line in stream.between(start_ns - agg.range_ns + 1, end_ns + 1):
            labels = run_pipeline(agg.log, stream.labels, line)
            if labels is None:
                continue
            stamps, sizes = points.setdefault(key_of(labels), ([], []))
            stamps.append(ns)
            sizes.append(len(line.encode("utf-8")))
    for stamps, sizes in points.values():
        order = sorted(range(len(stamps)), key=stamps.__getitem__)
        stamps[:] = [stamps[i] for i in order]
        sizes[:] = [sizes[i] for i in order]
    return _Processed(points)


Vector = dict[LabelKey, float]


def _range_vectors(agg: RangeAggregation, processed: _Processed, times: list[int]) -> list[Vector]:
    """The range vector at each of ``times`` (ascending), all steps at once.

    An entry at ``ns`` is in the window ``(t - range, t]`` of every step
    ``ns <= t < ns + range``: each entry is added to those steps only, so the
    cost grows with the entries, not with series x steps.  Each step's vector
    lists its series in the order of ``processed.points``.
    """
    vectors: list[Vector] = [{} for _ in times]
    seconds = agg.range_ns / 1e9
    counting = agg.function in ("count_over_time", "rate")
    for key, (stamps, sizes) in processed.points.items():
        totals: dict[int, int] = {}
        for ns, size in zip(stamps, sizes, strict=True):
            low = bisect.bisect_left(times, ns)
            high = bisect.bisect_left(times, ns + agg.range_ns)
            for index in range(low, high):
                totals[index] = totals.get(index, 0) + (1 if counting else size)
        for index, total in totals.items():
            value = float(total)
            if agg.function in ("rate", "bytes_rate"):
                value /= seconds
            vectors[index][key] = value
    return vectors


def _group_key(key: LabelKey, agg: VectorAggregation) -> LabelKey:
    if agg.by is not None:
        return tuple((name, value) for name, value in key if name in agg.by)
    if agg.without is not None:
        return tuple((name, value) for name, value in key if name not in agg.without)
    return ()


def _aggregate(agg: VectorAggregation, vector: Vector) -> Vector:
    if agg.op in ("topk", "bottomk"):
        assert agg.param is not None
        groups: dict[LabelKey, list[tuple[LabelKey, float]]] = {}
        for key, value in vector.items():
            groups.setdefault(_group_key(key, agg) if (agg.by or agg.without) else (), []).append(
                (key, value)
            )
        out: Vector = {}
        for members in groups.values():
            members.sort(key=lambda item: (-item[1] if agg.op == "topk" else item[1], item[0]))
            out.update(members[: agg.param])
        return out
    grouped: dict[LabelKey, list[float]] = {}
    for key, value in vector.items():
        grouped.setdefault(_group_key(key, agg), []).append(value)
    result: Vector = {}
    for key, values in grouped.items():
        if agg.op == "sum":
            result[key] = math.fsum(values)
        elif agg.op == "count":
            result[key] = float(len(values))
        elif agg.op == "min":
            result[key] = min(values)
        elif agg.op == "max":
            result[key] = max(values)
        else:
            result[key] = math.fsum(values) / len(values)
    return result


def _innermost(expr: RangeAggregation | VectorAggregation) -> RangeAggregation:
    while isinstance(expr, VectorAggregation):
        expr = expr.inner
    return expr


def _evaluate(expr: RangeAggregation | VectorAggregation, ranged: Vector) -> Vector:
    """``expr`` at one step, whose innermost range vector is ``ranged``."""
    if isinstance(expr, RangeAggregation):
        return ranged
    return _aggregate(expr, _evaluate(expr.inner, ranged))


def _check_errors(vector: Vector) -> None:
    for key in vector:
        labels = dict(key)
        if "__error__" in labels:
            series = "{" + ", ".join(f'{k}="{v}"' for k, v in key) + "}"
            raise QueryError(
                f"pipeline error: '{labels['__error__']}' for series: '{series}'.\n"
                "Use a label filter to intentionally skip this error. "
                f'(e.g | __error__!="{labels["__error__"]}").\n'
                'To skip all potential errors you can match empty errors.(e.g __error__="")\n'
                "The label filter can also be specified after unwrap. "
                '(e.g | unwrap latency | __error__="" )\n'
            )


def step_times(start_ns: int, end_ns: int, step_ns: int) -> Iterator[int]:
    t = start_ns
    while t <= end_ns:
        yield t
        t += step_ns


def metric_range(
    store: Store,
    tenant: str,
    expr: RangeAggregation | VectorAggregation,
    *,
    start_ns: int,
    end_ns: int,
    step_ns: int,
) -> list[MatrixSeries]:
    inner = _innermost(expr)
    processed = _process(store, tenant, inner, start_ns, end_ns)
    times = list(step_times(start_ns, end_ns, step_ns))
    series: dict[LabelKey, list[tuple[float, str]]] = {}
    for t_ns, ranged in zip(times, _range_vectors(inner, processed, times), strict=True):
        vector = _evaluate(expr, ranged)
        _check_errors(vector)
        for key, value in vector.items():
            series.setdefault(key, []).append((seconds_json(t_ns), format_value(value)))
    return [{"metric": dict(key), "values": values} for key, values in sorted(series.items())]


def metric_instant(
    store: Store, tenant: str, expr: RangeAggregation | VectorAggregation, *, time_ns: int
) -> list[dict[str, object]]:
    inner = _innermost(expr)
    processed = _process(store, tenant, inner, time_ns, time_ns)
    vector = _evaluate(expr, _range_vectors(inner, processed, [time_ns])[0])
    _check_errors(vector)
    return [
        {"metric": dict(key), "value": [seconds_json(time_ns), format_value(value)]}
        for key, value in sorted(vector.items())
    ]


def seconds_json(ns: int) -> float | int:
    """Prometheus model.Time in JSON: seconds with millisecond precision."""
    millis = ns // 1_000_000
    return millis // 1000 if millis % 1000 == 0 else millis / 1000


def format_value(value: float) -> str:
    """Go's strconv.FormatFloat(v, 'f', -1, 64)."""
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if math.isnan(value):
        return "NaN"
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if "e" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    return text


def is_log(expr: Expr) -> bool:
    return isinstance(expr, LogExpr)
