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

import contextlib
import gc
import itertools
import json
import math
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson
import yaml
from pydantic import ValidationError

from diagnosis_operator.adapters import background, logql, promql
from diagnosis_operator.adapters.bundle import literal_prefilter
from diagnosis_operator.models.bundle import (
    BUNDLE_FORMAT,
    INCIDENT_FILE,
    LOGS_FILE,
    METRICS_FILE,
    Bundle,
    Float64Array,
    IncidentSpec,
    Int64Array,
    LoadProgress,
    StoredSeries,
    StoredStream,
    is_label_name,
)
from diagnosis_operator.models.querytext import quote
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
from diagnosis_operator.ports import SignalError

ProgressCallback = Callable[[LoadProgress], None]

# Prometheus 2.x lookback delta: the newest sample in [t - 5m, t] counts.
LOOKBACK_MS = 5 * 60 * 1000
_READ_BYTES = 4 << 20


class BundleError(ValueError):
    """A bundle that cannot be used.  The message starts with ``file:line:`` when known."""

    def __init__(self, file: str, line: int | None, problem: str) -> None:
        self.file = file
        self.line = line
        self.problem = problem
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {problem}")

    def __reduce__(self) -> tuple[type[BundleError], tuple[str, int | None, str]]:
        # rebuilt from its parts when it comes back from a forked parser
        return (BundleError, (self.file, self.line, self.problem))


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
    streams: list[StoredStream] = []
    duplicates = 0
    with _collector_paused():
        metrics_result = None
        if metrics_path.is_file():
            metrics_result = _start_metrics(metrics_path, progress)
        if logs_path.is_file():
            streams, duplicates = parse_log_entries(logs_path, progress=progress)
        if metrics_result is not None:
            series, family_types = metrics_result()

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


# Above this size metrics.om is parsed in a forked child while logs.jsonl is
# parsed here (two files, two cores); below it a fork costs more than it gains.
FORK_METRICS_BYTES = 8 << 20


def _start_metrics(
    path: Path, progress: ProgressCallback | None
) -> Callable[[], tuple[list[StoredSeries], dict[str, MetricType]]]:
    """Start parsing ``metrics.om``; the returned call gives its result (and reports it)."""
    if path.stat().st_size < FORK_METRICS_BYTES:
        parsed = parse_openmetrics(path, progress=progress)
        return lambda: parsed
    reports: list[LoadProgress] = []

    def parse() -> tuple[list[StoredSeries], dict[str, MetricType], list[LoadProgress]]:
        series, types = parse_openmetrics(path, progress=reports.append)
        return series, types, reports[-1:]

    pending = background.start_forked(parse)

    def result() -> tuple[list[StoredSeries], dict[str, MetricType]]:
        series, types, last = pending()
        if progress is not None:
            for report in last:
                progress(report)
        return series, types

    return result


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while parsing.

    Parsing allocates millions of containers that live on; every collection
    would walk them all again, which made loading several times slower.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


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
        message = first["msg"].removeprefix("Value error, ")
        if location == ("window",) and message.startswith("window.end"):
            location = ("window", "end")
        field_path = ".".join(str(part) for part in location) or "(document)"
        raise BundleError(str(path), lines.line_of(location), f"{field_path}: {message}") from None
    try:
        topology = spec.topology.to_topology()
    except TopologyError as error:
        raise BundleError(
            str(path), lines.line_of(_topology_error_location(spec, error)), f"topology: {error}"
        ) from None
    return spec, topology, lines


def _topology_error_location(spec: IncidentSpec, error: TopologyError) -> tuple[Any, ...]:
    """Where in incident.yaml a topology error points: the offending dependsOn when known."""
    names = [component.name for component in spec.topology.components]
    seen: set[str] = set()
    for index, component in enumerate(spec.topology.components):
        if component.name in seen:
            return ("topology", "components", index, "name")
        seen.add(component.name)
    for index, component in enumerate(spec.topology.components):
        for position, dependency in enumerate(component.depends_on):
            if dependency not in names:
                return ("topology", "components", index, "dependsOn", position)
    cycle = str(error).partition("cycle: ")[2].split(" -> ")
    if cycle and cycle[0] in names:
        return ("topology", "components", names.index(cycle[0]), "dependsOn")
    return ("topology",)


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
# Characters Python's float() accepts but OpenMetrics numbers never hold; a chunk
# holding one goes to the line-by-line parser, which names the line.
_NOT_IN_NUMBERS = ("_", "\t", "\r", "\v", "\f", "\x85", "\xa0", "#", "{", "}")
_READ_CHARS = 4 << 20


def _is_metric_name(name: str) -> bool:
    return (
        bool(name)
        and name[0] in _METRIC_NAME_FIRST
        and all(character in _METRIC_NAME_REST for character in name)
    )


def _parse_label_set(
    text: str, start: int, where: Callable[[str], BundleError]
) -> tuple[dict[str, str], int]:
    """Parse ``{a="b",...}`` at ``text[start] == '{'``; return labels and the index after ``}``."""
    labels: dict[str, str] = {}
    position = start + 1
    length = len(text)
    while True:
        if position >= length:
            raise where("label set not closed with '}'")
        if text[position] == "}":
            return labels, position + 1
        equals = text.find("=", position)
        if equals == -1:
            raise where(f'expected name="value" in the label set at column {position + 1}')
        name = text[position:equals]
        if not is_label_name(name):
            raise where(f"invalid label name {name!r}")
        if name in labels:
            raise where(f"label {name!r} appears twice")
        if equals + 1 >= length or text[equals + 1] != '"':
            raise where(f"label {name!r}: value must be a double-quoted string")
        position = equals + 2
        parts: list[str] = []
        while True:
            quote_at = text.find('"', position)
            if quote_at == -1:
                raise where(f"label {name!r}: value not closed with '\"'")
            backslash_at = text.find("\\", position, quote_at)
            if backslash_at == -1:
                parts.append(text[position:quote_at])
                position = quote_at + 1
                break
            parts.append(text[position:backslash_at])
            escaped = text[backslash_at + 1 : backslash_at + 2]
            if escaped not in _LABEL_ESCAPES:
                raise where(
                    f"label {name!r}: invalid escape '\\{escaped}' (only \\\\, \\\" and \\n)"
                )
            parts.append(_LABEL_ESCAPES[escaped])
            position = backslash_at + 2
        labels[name] = "".join(parts)
        if position < length and text[position] == ",":
            position += 1
        elif position < length and text[position] != "}":
            raise where(f"expected ',' or '}}' after label {name!r}")


@dataclass
class _SeriesBuilder:
    name: str
    labels: Labels
    type: MetricType
    stamp_parts: list[Int64Array] = field(default_factory=list)
    value_parts: list[Float64Array] = field(default_factory=list)
    pending_stamps: list[int] = field(default_factory=list)
    pending_values: list[float] = field(default_factory=list)
    last_ms: int | None = None

    def flush(self) -> None:
        if self.pending_stamps:
            self.stamp_parts.append(np.array(self.pending_stamps, dtype=np.int64))
            self.value_parts.append(np.array(self.pending_values, dtype=np.float64))
            self.pending_stamps = []
            self.pending_values = []

    def finish(self) -> StoredSeries:
        self.flush()
        stamps = (
            self.stamp_parts[0] if len(self.stamp_parts) == 1 else np.concatenate(self.stamp_parts)
        )
        values = (
            self.value_parts[0] if len(self.value_parts) == 1 else np.concatenate(self.value_parts)
        )
        return StoredSeries(
            name=self.name, labels=self.labels, timestamps_ms=stamps, values=values, type=self.type
        )


class _OpenMetricsParser:
    """State of one ``metrics.om`` parse; see ``parse_openmetrics``."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.family_types: dict[str, str] = {}
        self.name_family: dict[str, str] = {}
        self.key_index: dict[str, int] = {}
        self.canonical_index: dict[tuple[str, Labels], int] = {}
        self.builders: list[_SeriesBuilder] = []
        self.eof_line = 0
        self.line_number = 0

    def error(self, problem: str, line: int | None = None) -> BundleError:
        return BundleError(self.file, self.line_number if line is None else line, problem)

    # -- families and series --------------------------------------------------

    def family_of(self, name: str) -> str:
        family = self.name_family.get(name)
        if family is not None:
            return family
        if not _is_metric_name(name):
            raise self.error(f"invalid metric name {name!r}")
        if name in self.family_types:
            family = name
        else:
            for candidate_type, suffixes in _FAMILY_SUFFIXES.items():
                for suffix in suffixes:
                    base = name[: -len(suffix)]
                    if name.endswith(suffix) and self.family_types.get(base) == candidate_type:
                        family = base
                        break
                if family is not None:
                    break
        if family is None:
            raise self.error(
                f"sample {name!r} belongs to no family declared with '# TYPE' before it"
            )
        self.name_family[name] = family
        return family

    def series_index(self, key: str) -> int:
        """The series of ``key`` (``name`` or ``name{labels}``), validated on first sight."""
        index = self.key_index.get(key)
        if index is not None:
            return index
        brace = key.find("{")
        if brace == -1:
            name, labels = key, dict[str, str]()
        else:
            name = key[:brace]
            labels, end = _parse_label_set(key, brace, self.error)
            if end != len(key):
                raise self.error(f"unexpected text after the label set: {key[end:][:40]!r}")
        family = self.family_of(name)
        canonical = (name, Labels({k: v for k, v in labels.items() if v}))
        index = self.canonical_index.get(canonical)
        if index is None:
            index = len(self.builders)
            self.canonical_index[canonical] = index
            self.builders.append(
                _SeriesBuilder(
                    name=name, labels=canonical[1], type=_METRIC_TYPES[self.family_types[family]]
                )
            )
        self.key_index[key] = index
        return index

    def out_of_order(self, builder: _SeriesBuilder, stamp_ms: int, line: int) -> BundleError:
        return self.error(
            f"timestamp {stamp_ms / 1000:.3f} of {builder.name}{_label_text(builder.labels)} "
            f"is not after its previous sample ({(builder.last_ms or 0) / 1000:.3f}); "
            "a series' timestamps must increase",
            line,
        )

    # -- comments -------------------------------------------------------------------

    def comment(self, line: str) -> None:
        if line == "# EOF":
            self.eof_line = self.line_number
            return
        parts = line.split(" ", 3)
        if len(parts) < 3 or parts[0] != "#" or parts[1] not in ("TYPE", "HELP", "UNIT"):
            raise self.error(
                f"unexpected comment {line[:60]!r} (only # TYPE, # HELP, # UNIT, # EOF)"
            )
        keyword, family = parts[1], parts[2]
        if not _is_metric_name(family):
            raise self.error(f"invalid metric family name {family!r}")
        if keyword == "TYPE":
            if len(parts) != 4 or parts[3] not in _METRIC_TYPES:
                raise self.error(f"# TYPE {family}: expected one of {', '.join(_METRIC_TYPES)}")
            if family in self.family_types:
                raise self.error(f"second '# TYPE' for family {family!r}")
            self.family_types[family] = parts[3]

    # -- chunks -----------------------------------------------------------------------

    def chunk(self, text: str, first_line: int) -> None:
        """Parse complete lines ``text`` (no final newline) starting at ``first_line``."""
        lines = text.split("\n")
        rows = [line.rsplit(" ", 2) for line in lines]
        comments = (
            {position: line for position, line in enumerate(lines) if line[:1] == "#"}
            if text[:1] == "#" or "\n#" in text
            else {}
        )
        for position in comments:
            rows[position] = ["#", "0", "0"]
        if not self.eof_line and self._fast(rows, comments, first_line):
            self.line_number = first_line + len(rows) - 1
            return
        self._slow(text, first_line)

    def _fast(self, rows: list[list[str]], comments: dict[int, str], first_line: int) -> bool:
        """Vectorised path; False (nothing changed) when a line needs the line-by-line parser."""
        try:
            keys, values_text, stamps_text = zip(*rows, strict=True)
        except ValueError:
            return False
        numbers = "".join(values_text) + "".join(stamps_text)
        if any(character in numbers for character in _NOT_IN_NUMBERS):
            return False
        comment_at = sorted(comments)
        bounds = [-1, *comment_at, len(rows)]
        segments = [(low + 1, high) for low, high in itertools.pairwise(bounds) if high > low + 1]
        converted: list[tuple[int, int, Float64Array, Int64Array]] = []
        for low, high in segments:
            try:
                values = np.array(values_text[low:high], dtype=np.float64)
                seconds = np.array(stamps_text[low:high], dtype=np.float64)
            except ValueError:
                return False
            if not bool(np.isfinite(seconds).all()):
                return False
            converted.append((low, high, values, (seconds * 1000).astype(np.int64)))
        for low, high, _, _ in converted:
            for key in set(keys[low:high]) - self.key_index.keys():
                if not self._plain_key(key):
                    return False
        eof_at = [position for position, text in comments.items() if text == "# EOF"]
        if eof_at and eof_at[0] != len(rows) - 1:
            return False  # content after EOF: the slow path reports the line
        pending = iter(comment_at)
        next_comment = next(pending, None)
        for low, high, values, stamps in converted:
            while next_comment is not None and next_comment < low:
                self.line_number = first_line + next_comment
                self.comment(comments[next_comment])
                next_comment = next(pending, None)
            self._runs(keys, low, high, values, stamps, first_line)
        while next_comment is not None:
            self.line_number = first_line + next_comment
            self.comment(comments[next_comment])
            next_comment = next(pending, None)
        return True

    @staticmethod
    def _plain_key(key: str) -> bool:
        """Whether ``key`` is exactly ``name`` or ``name{...}`` (no exemplar, no stray text)."""
        brace = key.find("{")
        if brace == -1:
            return _is_metric_name(key)
        try:
            _, end = _parse_label_set(key, brace, lambda problem: BundleError("", None, problem))
        except BundleError:
            return False
        return end == len(key) and _is_metric_name(key[:brace])

    def _runs(
        self,
        keys: tuple[str, ...],
        low: int,
        high: int,
        values: Float64Array,
        stamps: Int64Array,
        first_line: int,
    ) -> None:
        segment_keys = np.array(keys[low:high], dtype=object)
        starts = [0, *(np.flatnonzero(segment_keys[1:] != segment_keys[:-1]) + 1).tolist()]
        ends = [*starts[1:], high - low]
        for start, end in zip(starts, ends, strict=True):
            self.line_number = first_line + low + start
            builder = self.builders[self.series_index(keys[low + start])]
            run = stamps[start:end]
            if builder.last_ms is not None and run[0] <= builder.last_ms:
                raise self.out_of_order(builder, int(run[0]), self.line_number)
            if end - start > 1:
                steps = np.diff(run)
                if bool((steps <= 0).any()):
                    bad = int(np.flatnonzero(steps <= 0)[0]) + 1
                    builder.last_ms = int(run[bad - 1])
                    raise self.out_of_order(builder, int(run[bad]), self.line_number + bad)
            builder.flush()
            builder.stamp_parts.append(run)
            builder.value_parts.append(values[start:end])
            builder.last_ms = int(run[-1])

    def _slow(self, text: str, first_line: int) -> None:
        for offset, line in enumerate(text.split("\n")):
            self.line_number = first_line + offset
            self.line(line)

    def line(self, line: str) -> None:
        if self.eof_line:
            raise self.error(f"content after '# EOF' (line {self.eof_line})")
        if line[:1] == "#":
            self.comment(line)
            return
        if not line:
            raise self.error("empty line (OpenMetrics allows none)")
        brace = line.find("{")
        space = line.find(" ")
        if brace != -1 and (space == -1 or brace < space):
            _, end = _parse_label_set(line, brace, self.error)
        else:
            if space == -1:
                raise self.error("sample has no value (expected 'name{labels} value timestamp')")
            end = space
        if end >= len(line) or line[end] != " ":
            raise self.error("expected a single space between the series and its value")
        builder = self.builders[self.series_index(line[:end])]
        rest = line[end + 1 :]
        parts = rest.split(" ")
        if len(parts) < 2 or parts[1] == "#":
            raise self.error("sample has no timestamp (every sample in a bundle needs one)")
        if len(parts) > 2 and parts[2] != "#":
            raise self.error(f"unexpected text after the timestamp: {' '.join(parts[2:])[:40]!r}")
        value_text, stamp_text = parts[0], parts[1]
        try:
            if (
                "_" in value_text
                or not value_text.isprintable()
                or value_text != value_text.strip()
            ):
                raise ValueError(value_text)
            value = float(value_text)
        except ValueError:
            raise self.error(
                f"bad value {value_text!r} (expected a float, NaN, +Inf or -Inf)"
            ) from None
        try:
            if "_" in stamp_text or stamp_text != stamp_text.strip():
                raise ValueError(stamp_text)
            stamp = int(float(stamp_text) * 1000)
        except (ValueError, OverflowError):
            raise self.error(
                f"bad timestamp {stamp_text!r} (expected seconds since the epoch)"
            ) from None
        if builder.last_ms is not None and stamp <= builder.last_ms:
            raise self.out_of_order(builder, stamp, self.line_number)
        builder.pending_stamps.append(stamp)
        builder.pending_values.append(value)
        builder.last_ms = stamp


def parse_openmetrics(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[list[StoredSeries], dict[str, MetricType]]:
    """Parse an OpenMetrics file with a timestamp on every sample (what promtool backfills)."""
    file = str(path)
    parser = _OpenMetricsParser(file)
    next_line = 1
    carry = ""
    with open(file, encoding="utf-8", newline="\n") as handle:
        try:
            while True:
                block = handle.read(_READ_CHARS)
                if not block:
                    break
                block = carry + block
                cut = block.rfind("\n")
                if cut == -1:
                    carry = block
                    continue
                carry = block[cut + 1 :]
                text = block[:cut]
                parser.chunk(text, next_line)
                next_line += text.count("\n") + 1
                if progress is not None:
                    progress(LoadProgress(file=file, lines_read=next_line - 1))
        except UnicodeDecodeError as decode_error:
            raise BundleError(
                file, next_line, f"not UTF-8 near here: {decode_error.reason}"
            ) from None
    if carry:
        parser.chunk(carry, next_line)
        next_line += 1
    if not parser.eof_line:
        raise BundleError(file, next_line, "missing '# EOF' at the end (OpenMetrics needs it last)")
    if progress is not None:
        progress(LoadProgress(file=file, lines_read=next_line - 1, done=True))
    series = [builder.finish() for builder in parser.builders]
    types = {family: _METRIC_TYPES[kind] for family, kind in parser.family_types.items()}
    return series, types


def _label_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f"{name}={quote(value)}" for name, value in labels.items()) + "}"


# ------------------------------------------------------------------------- JSONL

_SECONDS_CACHE_LIMIT = 1_000_000
_UTC_STAMPS = re.compile(
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z\n)*"
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z",
    re.ASCII,
)
_ENTRY_FIELDS = ("ts", "labels", "line")
_get_ts = operator.itemgetter("ts")
_get_labels = operator.itemgetter("labels")
_get_line = operator.itemgetter("line")


class _BadTimestamp(ValueError):
    pass


_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d)(?:\.(?P<fraction>\d{1,9}))?"
    r"(?P<zone>[Zz]|[+-]\d\d:\d\d)\Z",
    re.ASCII,
)


def rfc3339_nanoseconds(text: str) -> int:
    """Pure: an RFC 3339 timestamp (any offset) to integer nanoseconds since the epoch."""
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


class _LogParser:
    """State of one ``logs.jsonl`` parse; see ``parse_log_entries``."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.stream_of_key: dict[tuple[tuple[str, Any], ...], int] = {}
        self.stream_of_labels: dict[Labels, int] = {}
        self.labels: list[Labels] = []
        self.lines: list[str] = []
        self.stamp_parts: list[Int64Array] = []
        self.id_parts: list[npt.NDArray[np.int32]] = []

    def chunk(self, block: bytes, first_line: int) -> None:
        """Parse complete lines ``block`` (no final newline) starting at ``first_line``."""
        if not self._fast(block, first_line):
            self._slow(block, first_line)

    def _fast(self, block: bytes, first_line: int) -> bool:
        try:
            # A raw newline cannot occur inside a JSON value, so lines become array items.
            entries = orjson.loads(b"[" + block.replace(b"\n", b",") + b"]")
            if len(entries) != block.count(b"\n") + 1 or set(map(len, entries)) != {3}:
                return False
            stamps = list(map(_get_ts, entries))
            labels = list(map(_get_labels, entries))
            lines = list(map(_get_line, entries))
            if set(map(type, lines)) != {str} or set(map(type, labels)) != {dict}:
                return False
            joined = "\n".join(stamps)
            if not _UTC_STAMPS.fullmatch(joined):
                return False
            nanoseconds = np.array(
                joined.replace("Z", "").split("\n"), dtype="datetime64[ns]"
            ).astype(np.int64)
            keys = list(map(tuple, map(dict.items, labels)))
            ids = list(map(self.stream_of_key.get, keys))
        except (orjson.JSONDecodeError, ValueError, TypeError, KeyError):
            return False
        if None in ids:
            for position, (key, found) in enumerate(zip(keys, ids, strict=True)):
                if found is None and key not in self.stream_of_key:
                    self.stream_of_key[key] = self._new_stream(
                        labels[position], first_line + position
                    )
            ids = list(map(self.stream_of_key.get, keys))
        self.lines.extend(lines)
        self.stamp_parts.append(nanoseconds)
        self.id_parts.append(np.array(ids, dtype=np.int32))
        return True

    def _slow(self, block: bytes, first_line: int) -> None:
        stamps: list[int] = []
        ids: list[int] = []
        lines: list[str] = []
        for offset, raw_bytes in enumerate(block.split(b"\n")):
            line_number = first_line + offset
            try:
                raw = raw_bytes.decode("utf-8")
            except UnicodeDecodeError as decode_error:
                raise BundleError(
                    self.file, line_number, f"not UTF-8 at byte {decode_error.start + 1}"
                ) from None
            if not raw.strip():
                continue
            try:
                entry = json.loads(raw)
            except json.JSONDecodeError as decode_error:
                raise BundleError(
                    self.file,
                    line_number,
                    f"invalid JSON: {decode_error.msg} at column {decode_error.colno}",
                ) from None
            stamp, stream, text = self._entry(entry, line_number)
            stamps.append(stamp)
            ids.append(stream)
            lines.append(text)
        self.lines.extend(lines)
        self.stamp_parts.append(np.array(stamps, dtype=np.int64))
        self.id_parts.append(np.array(ids, dtype=np.int32))

    def _entry(self, entry: Any, line_number: int) -> tuple[int, int, str]:
        def bad(problem: str) -> BundleError:
            return BundleError(self.file, line_number, problem)

        if type(entry) is not dict:
            raise bad("entry must be a JSON object with ts, labels and line")
        missing = [key for key in _ENTRY_FIELDS if key not in entry]
        if missing:
            raise bad(f"entry has no {', '.join(repr(key) for key in missing)}")
        unknown = sorted(set(entry) - set(_ENTRY_FIELDS))
        if unknown:
            raise bad(f"unknown field(s) {', '.join(repr(key) for key in unknown)}")
        text = entry["line"]
        if type(text) is not str:
            raise bad("'line' must be a string")
        stamp = entry["ts"]
        if type(stamp) is not str:
            raise bad("'ts' must be an RFC 3339 string such as 2025-12-11T09:19:44.120Z")
        try:
            nanoseconds = rfc3339_nanoseconds(stamp)
        except _BadTimestamp:
            raise bad(f"bad RFC 3339 timestamp {stamp!r} (e.g. 2025-12-11T09:19:44.120Z)") from None
        labels = entry["labels"]
        if type(labels) is not dict:
            raise bad("'labels' must be an object of string values")
        try:
            key = tuple(labels.items())
            stream = self.stream_of_key.get(key)
        except TypeError:
            key, stream = None, None
        if stream is None:
            stream = self._new_stream(labels, line_number)
            if key is not None:
                self.stream_of_key[key] = stream
        return nanoseconds, stream, text

    def _new_stream(self, labels: dict[str, Any], line_number: int) -> int:
        for name, value in labels.items():
            if not is_label_name(name):
                raise BundleError(self.file, line_number, f"invalid label name {name!r}")
            if type(value) is not str:
                raise BundleError(
                    self.file,
                    line_number,
                    f"label {name!r} must be a string, got {json.dumps(value)}",
                )
        canonical = Labels({name: value for name, value in labels.items() if value})
        if not canonical:
            raise BundleError(self.file, line_number, "'labels' needs at least one non-empty label")
        stream = self.stream_of_labels.get(canonical)
        if stream is None:
            stream = len(self.labels)
            self.labels.append(canonical)
            self.stream_of_labels[canonical] = stream
        return stream

    def finish(self) -> tuple[list[StoredStream], int]:
        if not self.lines:
            return [], 0
        stamps = np.concatenate(self.stamp_parts)
        ids = np.concatenate(self.id_parts)
        order = np.lexsort((stamps, ids))
        sorted_ids = ids[order]
        streams: list[StoredStream] = []
        duplicates = 0
        for stream in sorted(
            range(len(self.labels)), key=lambda number: tuple(self.labels[number].items())
        ):
            low = int(np.searchsorted(sorted_ids, stream, side="left"))
            high = int(np.searchsorted(sorted_ids, stream, side="right"))
            if high == low:
                continue
            positions = order[low:high]
            picked = operator.itemgetter(*positions.tolist())(self.lines)
            lines = picked if high - low > 1 else (picked,)
            stored, dropped = _without_duplicates(self.labels[stream], stamps[positions], lines)
            streams.append(stored)
            duplicates += dropped
        return streams, duplicates


def parse_log_entries(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[list[StoredStream], int]:
    """Parse ``logs.jsonl``; return the streams and how many duplicate entries were dropped."""
    file = str(path)
    parser = _LogParser(file)
    next_line = 1
    carry = b""
    with open(file, "rb") as handle:
        while True:
            block = handle.read(_READ_BYTES)
            if not block:
                break
            block = carry + block
            cut = block.rfind(b"\n")
            if cut == -1:
                carry = block
                continue
            carry = block[cut + 1 :]
            parser.chunk(block[:cut], next_line)
            next_line += block.count(b"\n", 0, cut) + 1
            if progress is not None:
                progress(LoadProgress(file=file, lines_read=next_line - 1))
    if carry.strip():
        parser.chunk(carry, next_line)
        next_line += 1
    if progress is not None:
        progress(LoadProgress(file=file, lines_read=next_line - 1, done=True))
    return parser.finish()


def _without_duplicates(
    labels: Labels, stamps: Int64Array, lines: tuple[str, ...]
) -> tuple[StoredStream, int]:
    """Drop entries with the same timestamp and line in one stream, as Loki does."""
    equal = np.flatnonzero(stamps[1:] == stamps[:-1]) if len(stamps) > 1 else np.empty(0, np.int64)
    drop: set[int] = set()
    for position in equal.tolist():
        later = position + 1
        back = position
        while back >= 0 and stamps[back] == stamps[later]:
            if back not in drop and lines[back] == lines[later]:
                drop.add(later)
                break
            back -= 1
    if not drop:
        return StoredStream(labels=labels, timestamps_ns=stamps, lines=lines), 0
    keep = [index for index in range(len(lines)) if index not in drop]
    return (
        StoredStream(
            labels=labels,
            timestamps_ns=stamps[np.asarray(keep, dtype=np.int64)],
            lines=tuple(lines[index] for index in keep),
        ),
        len(drop),
    )


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
    # Answers in-process: the collector asks it sequentially (threads would only
    # contend for the interpreter lock).
    in_process = True

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._filtered: dict[tuple[int, str], Int64Array] = {}
        self._regexps: dict[str, re.Pattern[str]] = {}
        self._lowered: dict[int, tuple[str, Int64Array]] = {}
        self._literals: dict[str, tuple[str, ...] | None] = {}
        self._alternatives: dict[str, _Alternatives | None] = {}

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
        return logql.describe_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )

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
            lines = stream.lines
            search = compiled.search
            # ``groups("")`` gives "" for a group that took no part, like ``group() or ""``.
            picks = [compiled.groupindex[group] - 1 for group, _ in wanted]
            empty = ("",) * len(picks)
            key_of: Callable[[tuple[str, ...]], tuple[str, ...]] = (
                operator.itemgetter(*picks) if len(picks) > 1 else _KeyOf(picks)
            )
            # One key per line, numbered as first seen; lines are then grouped by
            # number with one stable sort (positions stay in time order).
            line_keys = [
                key_of(match.groups("")) if match is not None else empty
                for match in map(search, map(lines.__getitem__, indexes[low:high].tolist()))
            ]
            numbers: dict[tuple[str, ...], int] = {}
            codes = np.fromiter(
                (numbers.setdefault(key, len(numbers)) for key in line_keys),
                dtype=np.int64,
                count=len(line_keys),
            )
            order = np.argsort(codes, kind="stable")
            bounds = np.searchsorted(codes[order], np.arange(len(numbers) + 1))
            window_stamps = stamps[low:high]
            for key, number in numbers.items():
                labels = dict(stream_part)
                labels.update(
                    {label: value for (_, label), value in zip(wanted, key, strict=True) if value}
                )
                stamps_by_group.setdefault(Labels(labels), []).append(
                    window_stamps[order[bounds[number] : bounds[number + 1]]]
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
            compiled = self._regex(line_filter, query, window)
            search = compiled.search
            lines = stream.lines
            # Only lines holding one of the literals every match needs can match
            # (exact: the candidates still go through the pattern).
            candidates: Iterable[int] = range(len(lines))
            if line_filter not in self._literals:
                self._literals[line_filter] = literal_prefilter.required_literals(line_filter)
            literals = self._literals[line_filter]
            if literals is not None and len(lines) > 1:
                lowered = self._lowered.get(id(stream))
                if lowered is None:
                    lowered = literal_prefilter.lowered_text(lines)
                    # one stream's text at a time: the collector asks stream by stream
                    self._lowered.clear()
                    self._lowered[id(stream)] = lowered
                if line_filter not in self._alternatives:
                    self._alternatives[line_filter] = literal_prefilter.split_alternatives(compiled)
                alternatives = self._alternatives[line_filter]
                if alternatives is not None:
                    self._filtered[cache_key] = _matching_any(lines, lowered, alternatives)
                    return self._filtered[cache_key]
                candidates = literal_prefilter.candidate_lines(*lowered, literals).tolist()
            cached = np.fromiter(
                (index for index in candidates if search(lines[index])), dtype=np.int64
            )
            self._filtered[cache_key] = cached
        return cached


_Alternatives = tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]


def _matching_any(
    lines: Sequence[str], lowered: tuple[str, Int64Array], alternatives: _Alternatives
) -> Int64Array:
    """Sorted indexes of the lines one of ``alternatives`` matches.

    Each alternative runs only on the lines holding one of its literals and
    not matched yet: a cheap pattern over few lines instead of the whole
    alternation over every line holding any literal.
    """
    matched: set[int] = set()
    for pattern, literals in alternatives:
        search = pattern.search
        candidates = literal_prefilter.candidate_lines(*lowered, literals).tolist()
        matched.update(
            index for index in candidates if index not in matched and search(lines[index])
        )
    return np.array(sorted(matched), dtype=np.int64)


class _KeyOf:
    """The chosen groups of a match's ``groups()`` as a tuple (for fewer than two groups)."""

    def __init__(self, picks: Sequence[int]) -> None:
        self.picks = tuple(picks)

    def __call__(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(groups[pick] for pick in self.picks)


def _counts_per_step(stamps: Int64Array, instants: Int64Array, step_ns: int) -> Int64Array:
    """Lines in ``(t - step, t]`` for each instant ``t``; ``stamps`` sorted."""
    upto = np.searchsorted(stamps, instants, side="right")
    before = np.searchsorted(stamps, instants - step_ns, side="right")
    return (upto - before).astype(np.int64)


def _top_per_step(totals: Mapping[Labels, Int64Array], top: int) -> dict[Labels, Int64Array]:
    """Keep, at each step, the ``top`` largest non-zero groups (ties: label order).

    Groups left with no count at any step are dropped (they would count nothing).
    """
    if len(totals) <= top:
        return dict(totals)
    groups = sorted(totals, key=lambda labels: tuple(labels.items()))
    # Only non-zero cells can rank: work on them alone, not on a dense
    # groups x steps matrix (tens of thousands of groups on a client flood).
    rows_parts: list[Int64Array] = []
    columns_parts: list[Int64Array] = []
    values_parts: list[Int64Array] = []
    for row, group in enumerate(groups):
        counts = totals[group]
        (columns,) = np.nonzero(counts)
        rows_parts.append(np.full(columns.size, row, dtype=np.int64))
        columns_parts.append(columns.astype(np.int64))
        values_parts.append(counts[columns].astype(np.int64))
    rows = np.concatenate(rows_parts)
    columns = np.concatenate(columns_parts)
    values = np.concatenate(values_parts)
    # By step, then larger count first, then label order: the rank inside a step.
    order = np.lexsort((rows, -values, columns))
    rows, columns, values = rows[order], columns[order], values[order]
    ranks = np.arange(columns.size) - np.searchsorted(columns, columns, side="left")
    kept = ranks < top
    rows, columns, values = rows[kept], columns[kept], values[kept]
    by_row = np.argsort(rows, kind="stable")
    rows, columns, values = rows[by_row], columns[by_row], values[by_row]
    steps = len(totals[groups[0]])
    result: dict[Labels, Int64Array] = {}
    chosen_rows, starts = np.unique(rows, return_index=True)
    ends = np.append(starts[1:], rows.size)[: starts.size]
    for row, start, end in zip(chosen_rows.tolist(), starts.tolist(), ends.tolist(), strict=True):
        counts = np.zeros(steps, dtype=np.int64)
        counts[columns[start:end]] = values[start:end]
        result[groups[row]] = counts
    return result


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
