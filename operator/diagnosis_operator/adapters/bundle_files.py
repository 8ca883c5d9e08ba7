"""Incident bundles on disk: the loader and the offline signal source.

``load_bundle`` reads ``incident.yaml``, ``metrics.om`` and ``logs.jsonl``
(format v1, see ``docs/incident-bundle.md``), validates them and fails with a
``BundleError`` whose message starts with ``file:line:``.

``BundleSource`` answers the ``SeriesSource`` and ``LogSource`` Protocols from a
loaded bundle with the semantics written in ``adapters/ports.py``, rounding like
the live backends do (Prometheus milliseconds, Loki nanoseconds), so a bundle
diagnosed in-process and the same bundle replayed into Prometheus and Loki give
identical values.

Both parsers are hand-written splitters: a benchmark bundle holds millions of
samples and lines, and a regular expression per line would dominate the run.
"""

from __future__ import annotations

import json
import math
import os
import re
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path
from typing import Any

import numpy as np
import yaml
from pydantic import ValidationError

from diagnosis_operator.adapters import logql, promql
from diagnosis_operator.adapters.ports import SignalError
from diagnosis_operator.adapters.querytext import duration, grouping, quote
from diagnosis_operator.models.bundle import (
    BUNDLE_FORMAT,
    INCIDENT_FILE,
    LOGS_FILE,
    METRICS_FILE,
    Bundle,
    IncidentSpec,
    Int64Array,
    LoadProgress,
    StoredSeries,
    StoredStream,
    is_label_name,
)
from diagnosis_operator.models.signals import (
    Labels,
    LogCount,
    LogLine,
    LogStream,
    MetricType,
    Series,
    Window,
    isoformat_z,
)
from diagnosis_operator.models.topology import Topology, TopologyError

ProgressCallback = Callable[[LoadProgress], None]

# Prometheus 2.x lookback delta: the newest sample in [t - 5m, t] counts.
LOOKBACK_MS = 5 * 60 * 1000
_PROGRESS_EVERY = 200_000
_JSON_CHUNK = 20_000


class BundleError(ValueError):
    """A bundle that cannot be used.  The message starts with ``file:line:`` when known."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")


# --------------------------------------------------------------------------- loader


def load_bundle(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> Bundle:
    """Read and validate the bundle folder ``path``; raise ``BundleError`` on bad input."""
    folder = Path(path)
    if not folder.is_dir():
        raise BundleError(str(folder), None, "not a directory (an incident bundle is a folder)")
    incident_path = folder / INCIDENT_FILE
    metrics_path = folder / METRICS_FILE
    logs_path = folder / LOGS_FILE
    if not incident_path.is_file():
        raise BundleError(str(incident_path), None, f"missing: a bundle needs {INCIDENT_FILE}")
    if not metrics_path.is_file() and not logs_path.is_file():
        raise BundleError(
            str(folder), None, f"holds neither {METRICS_FILE} nor {LOGS_FILE}: no signals to read"
        )
    spec, topology, incident_lines = _read_incident(incident_path)
    window = spec.window.to_window()

    series: list[StoredSeries] = []
    family_types: dict[str, MetricType] = {}
    if metrics_path.is_file():
        series, family_types = parse_openmetrics(metrics_path, progress=progress)
    streams: list[StoredStream] = []
    duplicates = 0
    if logs_path.is_file():
        streams, duplicates = parse_log_entries(logs_path, progress=progress)

    bundle = Bundle(
        path=str(folder),
        spec=spec,
        topology=topology,
        window=window,
        series=tuple(series),
        streams=tuple(streams),
        family_types=family_types,
        duplicate_lines=duplicates,
    )
    _check_selectors(bundle, incident_path, incident_lines)
    _check_window(bundle, incident_path, incident_lines)
    return bundle


def _read_incident(path: Path) -> tuple[IncidentSpec, Topology, _YamlLines]:
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(error, "problem", None) or str(error)
        raise BundleError(str(path), line, f"invalid YAML: {problem}") from None
    lines = _YamlLines(root)
    if not isinstance(data, dict):
        raise BundleError(str(path), 1, "must be a YAML mapping (format, name, window, topology)")
    found_format = data.get("format")
    if found_format != BUNDLE_FORMAT:
        what = "missing 'format'" if found_format is None else f"unknown format {found_format!r}"
        raise BundleError(
            str(path), lines.line_of(("format",)), f"{what}: this build reads {BUNDLE_FORMAT}"
        )
    try:
        spec = IncidentSpec.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        location = tuple(first["loc"])
        field_path = ".".join(str(part) for part in location) or "(document)"
        raise BundleError(
            str(path), lines.line_of(location), f"{field_path}: {first['msg']}"
        ) from None
    try:
        topology = spec.topology.to_topology()
    except TopologyError as error:
        raise BundleError(str(path), lines.line_of(("topology",)), f"topology: {error}") from None
    return spec, topology, lines


class _YamlLines:
    """Maps a path of keys / indexes in the YAML document to a 1-based line number."""

    def __init__(self, root: yaml.Node | None) -> None:
        self._root = root

    def line_of(self, location: Sequence[Any]) -> int:
        node = self._root
        if node is None:
            return 1
        best = node.start_mark.line + 1
        for part in location:
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                        best = key.start_mark.line + 1
                        child = value
                        break
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(part, int)
                and 0 <= part < len(node.value)
            ):
                child = node.value[part]
                best = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return best


def _component_location(bundle: Bundle, name: str) -> tuple[Any, ...]:
    for index, component in enumerate(bundle.spec.topology.components):
        if component.name == name:
            return ("topology", "components", index, "selector")
    return ("topology",)


def _check_selectors(bundle: Bundle, path: Path, lines: _YamlLines) -> None:
    for component in bundle.topology:
        if bundle.series_of(component.selector) or bundle.streams_of(component.selector):
            continue
        raise BundleError(
            str(path),
            lines.line_of(_component_location(bundle, component.name)),
            f"component {component.name!r}: selector {promql.selector(component.selector)} "
            f"matches no series in {METRICS_FILE} and no stream in {LOGS_FILE}",
        )


def _check_window(bundle: Bundle, path: Path, lines: _YamlLines) -> None:
    window = bundle.window
    start_ms, end_ms = prometheus_ms(window.start), prometheus_ms(window.end)
    start_ns, end_ns = loki_ns(window.start), loki_ns(window.end)
    first: list[float] = []
    last: list[float] = []
    for stored in bundle.series:
        stamps = stored.timestamps_ms
        first.append(float(stamps[0]) / 1000)
        last.append(float(stamps[-1]) / 1000)
        low = int(np.searchsorted(stamps, start_ms, side="left"))
        if low < len(stamps) and stamps[low] <= end_ms:
            return
    for stream in bundle.streams:
        stamps = stream.timestamps_ns
        first.append(float(stamps[0]) / 1e9)
        last.append(float(stamps[-1]) / 1e9)
        low = int(np.searchsorted(stamps, start_ns, side="left"))
        if low < len(stamps) and stamps[low] <= end_ns:
            return
    span = (
        f"the data spans [{isoformat_z(min(first))}, {isoformat_z(max(last))}]"
        if first
        else "the bundle holds no data"
    )
    raise BundleError(
        str(path),
        lines.line_of(("window",)),
        f"window {window} holds no metric sample and no log line; {span}",
    )


# ------------------------------------------------------------------ OpenMetrics


_METRIC_TYPES = {
    "counter": MetricType.COUNTER,
    "gauge": MetricType.GAUGE,
    "histogram": MetricType.HISTOGRAM,
    "gaugehistogram": MetricType.HISTOGRAM,
    "summary": MetricType.SUMMARY,
    "info": MetricType.GAUGE,
    "stateset": MetricType.GAUGE,
    "unknown": MetricType.UNKNOWN,
}
_FAMILY_SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
    "summary": ("_count", "_sum", "_created"),
    "info": ("_info",),
}
_METRIC_NAME_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_:")
_METRIC_NAME_REST = _METRIC_NAME_FIRST | frozenset("0123456789")
_LABEL_ESCAPES = {"\\": "\\", '"': '"', "n": "\n"}


def _is_metric_name(name: str) -> bool:
    return (
        bool(name)
        and name[0] in _METRIC_NAME_FIRST
        and all(character in _METRIC_NAME_REST for character in name)
    )


def _parse_label_set(
    line: str, start: int, where: Callable[[str], BundleError]
) -> tuple[dict[str, str], int]:
    """Parse ``{a="b",...}`` at ``line[start] == '{'``; return labels and the index after ``}``."""
    labels: dict[str, str] = {}
    position = start + 1
    length = len(line)
    while True:
        if position >= length:
            raise where("label set not closed with '}'")
        if line[position] == "}":
            return labels, position + 1
        equals = line.find("=", position)
        if equals == -1:
            raise where(f'expected name="value" in the label set at column {position + 1}')
        name = line[position:equals]
        if not is_label_name(name):
            raise where(f"invalid label name {name!r}")
        if name in labels:
            raise where(f"label {name!r} appears twice")
        if equals + 1 >= length or line[equals + 1] != '"':
            raise where(f"label {name!r}: value must be a double-quoted string")
        position = equals + 2
        parts: list[str] = []
        while True:
            quote_at = line.find('"', position)
            backslash_at = line.find("\\", position, quote_at if quote_at != -1 else length)
            if quote_at == -1:
                raise where(f"label {name!r}: value not closed with '\"'")
            if backslash_at == -1:
                parts.append(line[position:quote_at])
                position = quote_at + 1
                break
            parts.append(line[position:backslash_at])
            escaped = line[backslash_at + 1 : backslash_at + 2]
            if escaped not in _LABEL_ESCAPES:
                raise where(
                    f"label {name!r}: invalid escape '\\{escaped}' (only \\\\, \\\" and \\n)"
                )
            parts.append(_LABEL_ESCAPES[escaped])
            position = backslash_at + 2
        labels[name] = "".join(parts)
        if position < length and line[position] == ",":
            position += 1
        elif position < length and line[position] != "}":
            raise where(f"expected ',' or '}}' after label {name!r}")


@dataclass
class _SeriesBuilder:
    name: str
    labels: Labels
    type: MetricType
    timestamps_ms: array[int]
    values: array[float]


def parse_openmetrics(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[list[StoredSeries], dict[str, MetricType]]:
    """Parse an OpenMetrics file with a timestamp on every sample (what promtool backfills)."""
    file = str(path)
    family_types: dict[str, str] = {}
    name_family: dict[str, str] = {}
    key_index: dict[str, int] = {}
    canonical_index: dict[tuple[str, Labels], int] = {}
    builders: list[_SeriesBuilder] = []
    eof_line = 0
    line_number = 0

    def error(problem: str) -> BundleError:
        return BundleError(file, line_number, problem)

    def family_of(name: str) -> str:
        family = name_family.get(name)
        if family is not None:
            return family
        if not _is_metric_name(name):
            raise error(f"invalid metric name {name!r}")
        if name in family_types:
            family = name
        else:
            for candidate_type, suffixes in _FAMILY_SUFFIXES.items():
                for suffix in suffixes:
                    base = name[: -len(suffix)]
                    if name.endswith(suffix) and family_types.get(base) == candidate_type:
                        family = base
                        break
                if family is not None:
                    break
        if family is None:
            raise error(f"sample {name!r} belongs to no family declared with '# TYPE' before it")
        name_family[name] = family
        return family

    def new_series(line: str) -> tuple[int, str]:
        """Fully parse the series part of ``line``; return its index and the rest of the line."""
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            name = line[:brace]
            labels, end = _parse_label_set(line, brace, error)
        else:
            if space == -1:
                raise error("sample has no value (expected 'name{labels} value timestamp')")
            name = line[:space]
            labels, end = {}, space
        family = family_of(name)
        if end >= len(line) or line[end] != " ":
            raise error("expected a single space between the series and its value")
        key = line[:end]
        canonical = (name, Labels({k: v for k, v in labels.items() if v}))
        index = canonical_index.get(canonical)
        if index is None:
            index = len(builders)
            canonical_index[canonical] = index
            builders.append(
                _SeriesBuilder(
                    name=name,
                    labels=canonical[1],
                    type=_METRIC_TYPES[family_types[family]],
                    timestamps_ms=array("q"),
                    values=array("d"),
                )
            )
        key_index[key] = index
        return index, line[end + 1 :]

    def comment(line: str) -> None:
        nonlocal eof_line
        if line == "# EOF":
            eof_line = line_number
            return
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("TYPE", "HELP", "UNIT"):
            raise error(f"unexpected comment {line[:60]!r} (only # TYPE, # HELP, # UNIT, # EOF)")
        keyword, family = parts[1], parts[2]
        if not _is_metric_name(family):
            raise error(f"invalid metric family name {family!r}")
        if keyword == "TYPE":
            if len(parts) != 4 or parts[3] not in _METRIC_TYPES:
                raise error(f"# TYPE {family}: expected one of {', '.join(_METRIC_TYPES)}")
            if family in family_types:
                raise error(f"second '# TYPE' for family {family!r}")
            family_types[family] = parts[3]

    with open(file, encoding="utf-8", newline="\n") as handle:
        try:
            for line_number, raw in enumerate(handle, 1):
                line = raw[:-1] if raw[-1:] == "\n" else raw
                if eof_line:
                    raise error(f"content after '# EOF' (line {eof_line})")
                if line[:1] == "#":
                    comment(line)
                    continue
                if not line:
                    raise error("empty line (OpenMetrics allows none)")
                close = line.find("} ")
                index = key_index.get(line[: close + 1] if close != -1 else line[: line.find(" ")])
                if index is None:
                    index, rest = new_series(line)
                else:
                    rest = line[(close + 2 if close != -1 else line.find(" ") + 1) :]
                parts = rest.split(" ")
                if len(parts) < 2 or parts[1] == "#":
                    raise error("sample has no timestamp (every sample in a bundle needs one)")
                if len(parts) > 2 and parts[2] != "#":
                    raise error(
                        f"unexpected text after the timestamp: {' '.join(parts[2:])[:40]!r}"
                    )
                value_text, stamp_text = parts[0], parts[1]
                if "_" in value_text or "_" in stamp_text or "\r" in rest or "\t" in rest:
                    raise error(f"bad number in {rest[:60]!r}")
                try:
                    value = float(value_text)
                except ValueError:
                    raise error(
                        f"bad value {value_text!r} (expected a float, NaN, +Inf or -Inf)"
                    ) from None
                try:
                    stamp = int(float(stamp_text) * 1000)
                except (ValueError, OverflowError):
                    raise error(
                        f"bad timestamp {stamp_text!r} (expected seconds since the epoch)"
                    ) from None
                builder = builders[index]
                stamps = builder.timestamps_ms
                if stamps and stamp <= stamps[-1]:
                    raise error(
                        f"timestamp {stamp_text} of {builder.name}{_label_text(builder.labels)} "
                        f"is not after its previous sample ({stamps[-1] / 1000:.3f}); "
                        "a series' timestamps must increase"
                    )
                stamps.append(stamp)
                builder.values.append(value)
                if progress is not None and line_number % _PROGRESS_EVERY == 0:
                    progress(LoadProgress(file=file, lines_read=line_number))
        except UnicodeDecodeError as decode_error:
            raise BundleError(file, line_number + 1, f"not UTF-8: {decode_error.reason}") from None
    if not eof_line:
        line_number += 1
        raise error("missing '# EOF' at the end (OpenMetrics needs it as the last line)")
    if progress is not None:
        progress(LoadProgress(file=file, lines_read=line_number, done=True))
    series = [
        StoredSeries(
            name=builder.name,
            labels=builder.labels,
            timestamps_ms=np.frombuffer(builder.timestamps_ms, dtype=np.int64),
            values=np.frombuffer(builder.values, dtype=np.float64),
            type=builder.type,
        )
        for builder in builders
    ]
    return series, {family: _METRIC_TYPES[kind] for family, kind in family_types.items()}


def _label_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{name}={quote(value)}" for name, value in labels.items()) + "}"


# ------------------------------------------------------------------------- JSONL

_SECONDS_CACHE_LIMIT = 1_000_000


class _TimestampParser:
    """RFC 3339 to integer nanoseconds; the ``YYYY-MM-DDTHH:MM:SS`` part is cached."""

    def __init__(self) -> None:
        self._seconds: dict[str, int] = {}

    def nanoseconds(self, text: str) -> int:
        base = text[:19]
        seconds = self._seconds.get(base)
        if seconds is None:
            seconds = self._base_seconds(base)
            if seconds is None:
                return self._general(text)
        tail = text[19:]
        if tail == "Z":
            return seconds * 1_000_000_000
        if tail[:1] == "." and tail[-1:] == "Z":
            digits = tail[1:-1]
            if 0 < len(digits) <= 9 and digits.isascii() and digits.isdigit():
                return seconds * 1_000_000_000 + int((digits + "000000000")[:9])
        return self._general(text)

    def _base_seconds(self, base: str) -> int | None:
        if not _BASE.match(base):
            return None
        try:
            moment = datetime(
                int(base[0:4]),
                int(base[5:7]),
                int(base[8:10]),
                int(base[11:13]),
                int(base[14:16]),
                int(base[17:19]),
                tzinfo=UTC,
            )
        except ValueError:
            raise _BadTimestamp(base) from None
        seconds = int(moment.timestamp())
        if len(self._seconds) < _SECONDS_CACHE_LIMIT:
            self._seconds[base] = seconds
        return seconds

    @staticmethod
    def _general(text: str) -> int:
        match = _RFC3339.match(text)
        if not match:
            raise _BadTimestamp(text)
        zone = match.group("zone")
        try:
            moment = datetime.fromisoformat(
                match.group("date").upper() + ("+00:00" if zone in "Zz" else zone)
            )
        except ValueError:
            raise _BadTimestamp(text) from None
        fraction = match.group("fraction") or ""
        whole = int(moment.astimezone(UTC).timestamp())
        return whole * 1_000_000_000 + int((fraction + "000000000")[:9])


class _BadTimestamp(ValueError):
    pass


_BASE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\Z", re.ASCII)
_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d\d:\d\d)\Z",
    re.ASCII,
)


@dataclass
class _StreamBuilder:
    labels: Labels
    timestamps_ns: array[int]
    lines: list[str]


def parse_log_entries(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[list[StoredStream], int]:
    """Parse ``logs.jsonl``; return the streams and how many duplicate entries were dropped."""
    file = str(path)
    stream_of_key: dict[tuple[tuple[str, Any], ...], _StreamBuilder] = {}
    stream_of_labels: dict[Labels, _StreamBuilder] = {}
    timestamps = _TimestampParser()
    first_line = 1

    def add(entry: Any, line_number: int) -> None:
        if type(entry) is not dict:
            raise BundleError(
                file, line_number, "entry must be a JSON object with ts, labels, line"
            )
        if len(entry) != 3 or "ts" not in entry or "labels" not in entry or "line" not in entry:
            missing = [key for key in ("ts", "labels", "line") if key not in entry]
            if missing:
                raise BundleError(file, line_number, f"entry has no {', '.join(missing)}")
            unknown = sorted(set(entry) - {"ts", "labels", "line"})
            raise BundleError(file, line_number, f"unknown field(s) {', '.join(unknown)}")
        text = entry["line"]
        if type(text) is not str:
            raise BundleError(file, line_number, "'line' must be a string")
        stamp = entry["ts"]
        if type(stamp) is not str:
            raise BundleError(file, line_number, "'ts' must be an RFC 3339 string")
        try:
            nanoseconds = timestamps.nanoseconds(stamp)
        except _BadTimestamp:
            raise BundleError(
                file,
                line_number,
                f"bad RFC 3339 timestamp {stamp!r} (e.g. 2025-12-11T09:19:44.120Z)",
            ) from None
        labels = entry["labels"]
        if type(labels) is not dict:
            raise BundleError(file, line_number, "'labels' must be an object of string values")
        try:
            key = tuple(labels.items())
            builder = stream_of_key.get(key)
        except TypeError:
            builder = None
        if builder is None:
            builder = new_stream(labels, line_number)
            stream_of_key[tuple(labels.items())] = builder
        builder.timestamps_ns.append(nanoseconds)
        builder.lines.append(text)

    def new_stream(labels: dict[str, Any], line_number: int) -> _StreamBuilder:
        for name, value in labels.items():
            if not is_label_name(name):
                raise BundleError(file, line_number, f"invalid label name {name!r}")
            if type(value) is not str:
                raise BundleError(
                    file, line_number, f"label {name!r} must be a string, got {json.dumps(value)}"
                )
        canonical = Labels({name: value for name, value in labels.items() if value})
        if not canonical:
            raise BundleError(file, line_number, "'labels' needs at least one non-empty label")
        builder = stream_of_labels.get(canonical)
        if builder is None:
            builder = _StreamBuilder(labels=canonical, timestamps_ns=array("q"), lines=[])
            stream_of_labels[canonical] = builder
        return builder

    def per_line(chunk: Sequence[str], first: int) -> None:
        for offset, raw in enumerate(chunk):
            line_number = first + offset
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as decode_error:
                raise BundleError(
                    file,
                    line_number,
                    f"invalid JSON: {decode_error.msg} at column {decode_error.colno}",
                ) from None
            add(entry, line_number)

    with open(file, encoding="utf-8", newline="\n") as handle:
        try:
            while True:
                chunk = list(islice(handle, _JSON_CHUNK))
                if not chunk:
                    break
                try:
                    entries = json.loads("[" + ",".join(chunk) + "]")
                except json.JSONDecodeError:
                    entries = None
                if entries is not None and len(entries) == len(chunk):
                    for offset, entry in enumerate(entries):
                        add(entry, first_line + offset)
                else:
                    per_line(chunk, first_line)
                first_line += len(chunk)
                if progress is not None:
                    progress(LoadProgress(file=file, lines_read=first_line - 1))
        except UnicodeDecodeError as decode_error:
            raise BundleError(
                file, first_line, f"not UTF-8 near this line: {decode_error.reason}"
            ) from None
    if progress is not None:
        progress(LoadProgress(file=file, lines_read=first_line - 1, done=True))

    streams: list[StoredStream] = []
    duplicates = 0
    for labels in sorted(stream_of_labels, key=lambda item: tuple(item.items())):
        stream, dropped = _finish_stream(stream_of_labels[labels])
        streams.append(stream)
        duplicates += dropped
    return streams, duplicates


def _finish_stream(builder: _StreamBuilder) -> tuple[StoredStream, int]:
    """Sort by time (stable) and drop entries with the same timestamp and line, as Loki does."""
    stamps = np.frombuffer(builder.timestamps_ns, dtype=np.int64)
    lines = builder.lines
    if len(stamps) > 1 and bool(np.any(stamps[1:] < stamps[:-1])):
        order = np.argsort(stamps, kind="stable")
        stamps = stamps[order]
        lines = [lines[index] for index in order.tolist()]
    keep: list[int] | None = None
    if len(stamps) > 1:
        equal = np.flatnonzero(stamps[1:] == stamps[:-1])
        if len(equal):
            drop: set[int] = set()
            for position in equal.tolist():
                # Compare with every earlier entry of the same timestamp.
                later = position + 1
                back = later - 1
                while back >= 0 and stamps[back] == stamps[later]:
                    if back not in drop and lines[back] == lines[later]:
                        drop.add(later)
                        break
                    back -= 1
            if drop:
                keep = [index for index in range(len(lines)) if index not in drop]
    if keep is not None:
        stamps = stamps[np.asarray(keep, dtype=np.int64)]
        lines = [lines[index] for index in keep]
        dropped = len(builder.lines) - len(keep)
    else:
        dropped = 0
    return StoredStream(labels=builder.labels, timestamps_ns=stamps, lines=tuple(lines)), dropped


# ---------------------------------------------------------------- time rounding


def prometheus_ms(seconds: float) -> int:
    """Epoch seconds to milliseconds exactly as the Prometheus HTTP API parses ``start``/``end``.

    Pure.  Mirrors Go: ``s, ns := math.Modf(t); ns = math.Round(ns*1000)/1000``, then
    ``time.Unix(s, int64(ns*1e9))`` truncated to milliseconds.
    """
    fraction, whole = math.modf(seconds)
    rounded = math.copysign(math.floor(abs(fraction) * 1000 + 0.5), fraction) / 1000
    nanos = int(rounded * 1e9)
    return int(whole) * 1000 + nanos // 1_000_000


def prometheus_step_ms(step: float) -> int:
    """A range-query step in milliseconds (Prometheus truncates to whole milliseconds)."""
    millis = int(step * 1e9) // 1_000_000
    if millis <= 0:
        raise ValueError(f"step must be at least 1 ms, got {step!r} s")
    return millis


def loki_ns(seconds: float) -> int:
    """Epoch seconds to nanoseconds (microsecond precision, what a float carries)."""
    return round(seconds * 1_000_000) * 1000


# -------------------------------------------------------------------- regexps

_RE2_INCOMPATIBLE = (
    ("(?=", "lookahead"),
    ("(?!", "negative lookahead"),
    ("(?<=", "lookbehind"),
    ("(?<!", "negative lookbehind"),
    ("(?>", "atomic group"),
    ("(?(", "conditional"),
    ("(?P=", "named backreference"),
    ("(?#", "comment group"),
)


def check_common_regex(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` if RE2 (LogQL) and Python ``re`` read it alike, else ValueError.

    Pure.  Perl classes (``\\d``, ``\\w``, ``\\s``, ``\\b``) are ASCII in RE2, so the
    pattern is compiled with ``re.ASCII``.
    """
    position = 0
    length = len(pattern)
    in_class = False
    while position < length:
        character = pattern[position]
        if character == "\\":
            escaped = pattern[position + 1 : position + 2]
            if escaped.isdigit():
                raise ValueError(
                    f"regexp {pattern!r}: '\\{escaped}' (backreference or octal escape) "
                    "means different things in RE2 and Python"
                )
            if escaped in ("Z", "z", "u", "U", "N", "Q", "E", "C", "p", "P", "G", "K", "R", "X"):
                raise ValueError(
                    f"regexp {pattern!r}: escape '\\{escaped}' is not in the common subset of RE2 "
                    "and Python re"
                )
            position += 2
            continue
        if in_class:
            if character == "]":
                in_class = False
            elif character == "[" and pattern[position + 1 : position + 2] == ":":
                raise ValueError(f"regexp {pattern!r}: POSIX classes like [[:alpha:]] are RE2-only")
            position += 1
            continue
        if character == "[":
            in_class = True
            # A leading ']' (or '^]') is a literal in both dialects.
            if pattern[position + 1 : position + 2] == "^":
                position += 1
            if pattern[position + 1 : position + 2] == "]":
                position += 1
            position += 1
            continue
        if character == "(":
            for prefix, name in _RE2_INCOMPATIBLE:
                if pattern.startswith(prefix, position):
                    raise ValueError(f"regexp {pattern!r}: {name} is not supported by RE2 (LogQL)")
            if pattern.startswith("(?<", position):
                raise ValueError(
                    f"regexp {pattern!r}: write named groups as (?P<name>...) (the form both read)"
                )
        if character == "{" and pattern[position + 1 : position + 2] == ",":
            raise ValueError(
                f"regexp {pattern!r}: '{{,n}}' is a repetition in Python but literal in RE2"
            )
        position += 1
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as error:
        raise ValueError(f"regexp {pattern!r} is invalid: {error}") from None
    for group in compiled.groupindex:
        if not is_label_name(group):
            raise ValueError(f"regexp {pattern!r}: group name {group!r} is not a valid label name")
    return compiled


# ------------------------------------------------------------------ the source


class BundleSource:
    """``SeriesSource`` and ``LogSource`` over a loaded bundle (see ``adapters/ports.py``)."""

    backend = "bundle"

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._filtered: dict[tuple[int, str], Int64Array] = {}
        self._regexps: dict[str, re.Pattern[str]] = {}

    # SeriesSource ---------------------------------------------------------

    def describe_selector(self, *, selector: Mapping[str, str]) -> str:
        return promql.selector(selector)

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]:
        query = promql.selector(selector)
        try:
            step_ms = prometheus_step_ms(step)
        except ValueError as error:
            raise SignalError(
                backend=self.backend, query=query, window=window, reason=str(error)
            ) from None
        start_ms, end_ms = prometheus_ms(window.start), prometheus_ms(window.end)
        instants = start_ms + step_ms * np.arange(
            (end_ms - start_ms) // step_ms + 1, dtype=np.int64
        )
        seconds = instants / 1000.0
        found: list[Series] = []
        for stored in self.bundle.series_of(selector):
            stamps = stored.timestamps_ms
            newest = np.searchsorted(stamps, instants, side="right") - 1
            clipped = np.maximum(newest, 0)
            present = (newest >= 0) & (stamps[clipped] >= instants - LOOKBACK_MS)
            if not bool(present.any()):
                continue
            found.append(
                Series(
                    name=stored.name,
                    labels=stored.labels,
                    timestamps=tuple(seconds[present].tolist()),
                    values=tuple(stored.values[clipped[present]].tolist()),
                    type=MetricType.UNKNOWN,
                )
            )
        found.sort(key=lambda series: (series.name, tuple(series.labels.items())))
        return found

    # LogSource ------------------------------------------------------------

    def describe(
        self,
        *,
        selector: Mapping[str, str],
        line_filter: str | None,
        pattern: str | None = None,
        by: Sequence[str] = (),
        step: float | None = None,
        top: int | None = None,
    ) -> str:
        if step is None:
            query = logql.log_query(selector=selector, line_filter=line_filter)
            return query + (f" | regexp {quote(pattern)}" if pattern else "")
        if pattern is None:
            return logql.count_query(selector=selector, line_filter=line_filter, by=by, step=step)
        if top is not None:
            return logql.extract_count_query(
                selector=selector,
                line_filter=line_filter,
                pattern=pattern,
                by=by,
                step=step,
                top=top,
            )
        logs = logql.log_query(selector=selector, line_filter=line_filter)
        logs += f" | regexp {quote(pattern)}"
        inner = f"count_over_time({logs} [{duration(step)}])"
        return f"sum by ({grouping(by)}) ({inner})" if by else f"sum({inner})"

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]:
        query = logql.log_query(selector=selector, line_filter=line_filter)
        if limit <= 0:
            raise SignalError(
                backend=self.backend,
                query=query,
                window=window,
                reason=f"limit must be positive, got {limit}",
            )
        # Loki reads log queries over [start, end).
        start_ns, end_ns = loki_ns(window.start), loki_ns(window.end)
        picked_stamps: list[Int64Array] = []
        picked_streams: list[Int64Array] = []
        picked_indexes: list[Int64Array] = []
        streams = self.bundle.streams_of(selector)
        for number, stream in enumerate(streams):
            indexes = self._matching(stream, line_filter, query, window)
            stamps = stream.timestamps_ns[indexes]
            low = int(np.searchsorted(stamps, start_ns, side="left"))
            high = int(np.searchsorted(stamps, end_ns, side="left"))
            if high > low:
                high = min(high, low + limit)
                picked_stamps.append(stamps[low:high])
                picked_indexes.append(indexes[low:high])
                picked_streams.append(np.full(high - low, number, dtype=np.int64))
        if not picked_stamps:
            return []
        all_stamps = np.concatenate(picked_stamps)
        all_streams = np.concatenate(picked_streams)
        all_indexes = np.concatenate(picked_indexes)
        order = np.lexsort((all_indexes, all_streams, all_stamps))[:limit]
        grouped: dict[int, list[LogLine]] = {}
        for position in order.tolist():
            number = int(all_streams[position])
            stream = streams[number]
            grouped.setdefault(number, []).append(
                LogLine(
                    ts=int(all_stamps[position]) / 1e9,
                    line=stream.lines[int(all_indexes[position])],
                )
            )
        return [
            LogStream(labels=streams[number].labels, lines=tuple(grouped[number]))
            for number in sorted(grouped)
        ]

    def count_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        by: Sequence[str],
    ) -> list[LogCount]:
        query = logql.count_query(selector=selector, line_filter=line_filter, by=by, step=step)
        instants, step_ns = self._instants(window, step, query)
        totals: dict[Labels, Int64Array] = {}
        for stream in self.bundle.streams_of(selector):
            stamps = stream.timestamps_ns[self._matching(stream, line_filter, query, window)]
            counts = _counts_per_step(stamps, instants, step_ns)
            group = Labels({name: stream.labels[name] for name in by if stream.labels.get(name)})
            previous = totals.get(group)
            totals[group] = counts if previous is None else previous + counts
        return _log_counts(totals, instants)

    def count_extracted(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        pattern: str,
        by: Sequence[str],
        top: int,
    ) -> list[LogCount]:
        query = logql.extract_count_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
        compiled = self._regex(pattern, query, window)
        if not compiled.groupindex:
            raise SignalError(
                backend=self.backend,
                query=query,
                window=window,
                reason=f"regexp {pattern!r} needs at least one named group (?P<name>...)",
            )
        instants, step_ns = self._instants(window, step, query)
        first, last = int(instants[0]) - step_ns, int(instants[-1])
        stamps_by_group: dict[Labels, list[Int64Array]] = {}
        for stream in self.bundle.streams_of(selector):
            indexes = self._matching(stream, line_filter, query, window)
            stamps = stream.timestamps_ns[indexes]
            low = int(np.searchsorted(stamps, first, side="right"))
            high = int(np.searchsorted(stamps, last, side="right"))
            if high <= low:
                continue
            renamed = {
                group: (group + "_extracted" if group in stream.labels else group)
                for group in compiled.groupindex
            }
            wanted = [
                (group, renamed[group]) for group in compiled.groupindex if renamed[group] in by
            ]
            stream_part = {name: stream.labels[name] for name in by if stream.labels.get(name)}
            keys: dict[tuple[str, ...], list[int]] = {}
            lines = stream.lines
            for position in range(low, high):
                match = compiled.search(lines[int(indexes[position])])
                key = tuple((match.group(group) or "") if match else "" for group, _ in wanted)
                keys.setdefault(key, []).append(position)
            for key, positions in keys.items():
                labels = dict(stream_part)
                labels.update(
                    {label: value for (_, label), value in zip(wanted, key, strict=True) if value}
                )
                stamps_by_group.setdefault(Labels(labels), []).append(
                    stamps[np.asarray(positions, dtype=np.int64)]
                )
        totals: dict[Labels, Int64Array] = {}
        for group, parts in stamps_by_group.items():
            merged = np.sort(np.concatenate(parts)) if len(parts) > 1 else parts[0]
            totals[group] = _counts_per_step(merged, instants, step_ns)
        return _log_counts(_top_per_step(totals, top), instants)

    # helpers ---------------------------------------------------------------

    def _instants(self, window: Window, step: float, query: str) -> tuple[Int64Array, int]:
        step_ns = round(step * 1e9)
        if step_ns <= 0:
            raise SignalError(
                backend=self.backend,
                query=query,
                window=window,
                reason=f"step must be positive, got {step!r}",
            )
        start_ns, end_ns = loki_ns(window.start), loki_ns(window.end)
        count = (end_ns - start_ns) // step_ns + 1
        return start_ns + step_ns * np.arange(count, dtype=np.int64), step_ns

    def _regex(self, pattern: str, query: str, window: Window) -> re.Pattern[str]:
        compiled = self._regexps.get(pattern)
        if compiled is None:
            try:
                compiled = check_common_regex(pattern)
            except ValueError as error:
                raise SignalError(
                    backend=self.backend, query=query, window=window, reason=str(error)
                ) from None
            self._regexps[pattern] = compiled
        return compiled

    def _matching(
        self, stream: StoredStream, line_filter: str | None, query: str, window: Window
    ) -> Int64Array:
        """Indexes of the stream's lines the filter keeps (cached per stream and filter)."""
        if not line_filter:
            return np.arange(len(stream.lines), dtype=np.int64)
        cache_key = (id(stream), line_filter)
        cached = self._filtered.get(cache_key)
        if cached is None:
            search = self._regex(line_filter, query, window).search
            cached = np.fromiter(
                (index for index, text in enumerate(stream.lines) if search(text)), dtype=np.int64
            )
            self._filtered[cache_key] = cached
        return cached


def _counts_per_step(stamps: Int64Array, instants: Int64Array, step_ns: int) -> Int64Array:
    """Lines in ``(t - step, t]`` for each instant ``t``; ``stamps`` sorted."""
    upto = np.searchsorted(stamps, instants, side="right")
    before = np.searchsorted(stamps, instants - step_ns, side="right")
    return (upto - before).astype(np.int64)


def _top_per_step(totals: Mapping[Labels, Int64Array], top: int) -> dict[Labels, Int64Array]:
    """Keep, at each step, the ``top`` largest non-zero groups (ties: label order)."""
    if len(totals) <= top:
        return dict(totals)
    groups = sorted(totals, key=lambda labels: tuple(labels.items()))
    matrix = np.stack([totals[group] for group in groups])
    # Stable sort of -count keeps label order among equal counts.
    order = np.argsort(-matrix, axis=0, kind="stable")
    keep = np.zeros_like(matrix, dtype=bool)
    columns = np.arange(matrix.shape[1])
    for rank in range(min(top, len(groups))):
        keep[order[rank], columns] = True
    kept = np.where(keep, matrix, 0)
    return {group: kept[row] for row, group in enumerate(groups)}


def _log_counts(totals: Mapping[Labels, Int64Array], instants: Int64Array) -> list[LogCount]:
    counts: list[LogCount] = []
    for labels in sorted(totals, key=lambda item: tuple(item.items())):
        values = totals[labels]
        present = values > 0
        if not bool(present.any()):
            continue
        counts.append(
            LogCount(
                labels=labels,
                timestamps=tuple((instants[present] / 1e9).tolist()),
                values=tuple(values[present].astype(np.float64).tolist()),
            )
        )
    return counts


def iter_log_entries(bundle: Bundle) -> Iterable[tuple[Labels, int, str]]:
    """Every log entry as (stream labels, nanoseconds, line), stream by stream."""
    for stream in bundle.streams:
        for stamp, text in zip(stream.timestamps_ns.tolist(), stream.lines, strict=True):
            yield stream.labels, stamp, text
