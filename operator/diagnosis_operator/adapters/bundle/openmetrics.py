"""``metrics.om``: an OpenMetrics parser for samples that all carry a timestamp.

A hand-written splitter: a benchmark bundle holds millions of samples, and a
regular expression per line would dominate the run.  Blocks of plain lines are
cut and converted with numpy over their bytes (``_om_columns``), with Python
work per series run, not per line; a block holding anything unusual goes line
by line, which names the offending line in its ``BundleError``.
"""

from __future__ import annotations

import codecs
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

import numpy as np

from diagnosis_operator.adapters.bundle._om_columns import Columns, columns
from diagnosis_operator.adapters.bundle.errors import BundleError, ProgressCallback
from diagnosis_operator.models.bundle import (
    Float64Array,
    Int64Array,
    LoadProgress,
    StoredSeries,
    is_label_name,
)
from diagnosis_operator.models.querytext import quote
from diagnosis_operator.models.signals import Labels, MetricType

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
        labels[name], position = _label_value(text, equals + 2, name, where)
        if position < length and text[position] == ",":
            position += 1
        elif position < length and text[position] != "}":
            raise where(f"expected ',' or '}}' after label {name!r}")


def _label_value(
    text: str, position: int, name: str, where: Callable[[str], BundleError]
) -> tuple[str, int]:
    """The escaped value starting at ``position`` (after its '"'), and the index after it."""
    parts: list[str] = []
    while True:
        quote_at = text.find('"', position)
        if quote_at == -1:
            raise where(f"label {name!r}: value not closed with '\"'")
        backslash_at = text.find("\\", position, quote_at)
        if backslash_at == -1:
            parts.append(text[position:quote_at])
            return "".join(parts), quote_at + 1
        parts.append(text[position:backslash_at])
        escaped = text[backslash_at + 1 : backslash_at + 2]
        if escaped not in _LABEL_ESCAPES:
            raise where(f"label {name!r}: invalid escape '\\{escaped}' (only \\\\, \\\" and \\n)")
        parts.append(_LABEL_ESCAPES[escaped])
        position = backslash_at + 2


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

    def chunk(self, block: bytes, first_line: int) -> None:
        """Parse complete lines ``block`` (UTF-8, no final newline) starting at ``first_line``."""
        found = None if self.eof_line else columns(block)
        if found is not None and self._fast(found, first_line):
            self.line_number = first_line + found.line_count - 1
            return
        self._slow(block.decode("utf-8"), first_line)

    def _fast(self, found: Columns, first_line: int) -> bool:
        """Vectorised path; False (nothing changed) when a line needs the line-by-line parser."""
        eof_at = [line for line, text in found.comments.items() if text == "# EOF"]
        if eof_at and eof_at[0] != found.line_count - 1:
            return False  # content after EOF: the slow path reports the line
        if not all(map(self._plain_key, set(found.run_keys) - self.key_index.keys())):
            return False
        pending = iter(sorted(found.comments))
        next_comment = next(pending, None)
        samples = found.run_samples
        for run, (line, key) in enumerate(zip(found.run_lines, found.run_keys, strict=True)):
            next_comment = self._comments_before(
                line, next_comment, pending, found.comments, first_line
            )
            low, high = samples[run], samples[run + 1]
            self.line_number = first_line + line
            self._run(key, found.values[low:high], found.stamps_ms[low:high])
        self._comments_before(found.line_count, next_comment, pending, found.comments, first_line)
        return True

    def _comments_before(
        self,
        limit: int,
        next_comment: int | None,
        pending: Iterator[int],
        comments: dict[int, str],
        first_line: int,
    ) -> int | None:
        """Read the comments at positions before ``limit``; return the next one after."""
        while next_comment is not None and next_comment < limit:
            self.line_number = first_line + next_comment
            self.comment(comments[next_comment])
            next_comment = next(pending, None)
        return next_comment

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

    def _run(self, key: str, values: Float64Array, run: Int64Array) -> None:
        """Samples of one series on consecutive lines from ``self.line_number``."""
        builder = self.builders[self.series_index(key)]
        if builder.last_ms is not None and run[0] <= builder.last_ms:
            raise self.out_of_order(builder, int(run[0]), self.line_number)
        if run.size > 1:
            steps = np.diff(run)
            if bool((steps <= 0).any()):
                bad = int(np.flatnonzero(steps <= 0)[0]) + 1
                builder.last_ms = int(run[bad - 1])
                raise self.out_of_order(builder, int(run[bad]), self.line_number + bad)
        builder.flush()
        builder.stamp_parts.append(run)
        builder.value_parts.append(values)
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
        end = self._series_end(line)
        builder = self.builders[self.series_index(line[:end])]
        value, stamp = self._sample(line[end + 1 :])
        if builder.last_ms is not None and stamp <= builder.last_ms:
            raise self.out_of_order(builder, stamp, self.line_number)
        builder.pending_stamps.append(stamp)
        builder.pending_values.append(value)
        builder.last_ms = stamp

    def _series_end(self, line: str) -> int:
        """Where the series (``name`` or ``name{labels}``) of a sample line ends."""
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
        return end

    def _sample(self, rest: str) -> tuple[float, int]:
        """The value and the millisecond timestamp of ``value timestamp [# exemplar]``."""
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
        return value, stamp


def parse_openmetrics(
    path: str | os.PathLike[str], *, progress: ProgressCallback | None = None
) -> tuple[list[StoredSeries], dict[str, MetricType]]:
    """Parse an OpenMetrics file with a timestamp on every sample (what promtool backfills)."""
    file = str(path)
    parser = _OpenMetricsParser(file)
    next_line = 1
    carry = b""
    with open(file, "rb") as handle:
        try:
            while True:
                block = handle.read(_READ_CHARS)
                if not block:
                    break
                block = carry + block
                cut = block.rfind(b"\n")
                if cut == -1:
                    carry = block
                    continue
                carry = block[cut + 1 :]
                text = block[:cut]
                if not text.isascii():
                    text.decode("utf-8")  # a block ends at a newline: whole characters
                parser.chunk(text, next_line)
                next_line += text.count(b"\n") + 1
                if progress is not None:
                    progress(LoadProgress(file=file, lines_read=next_line - 1))
        except UnicodeDecodeError:
            line, reason = _first_undecodable(file)
            raise BundleError(file, line, f"not UTF-8 text: {reason}") from None
    if carry:
        try:
            carry.decode("utf-8")
        except UnicodeDecodeError:
            line, reason = _first_undecodable(file)
            raise BundleError(file, line, f"not UTF-8 text: {reason}") from None
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


def _first_undecodable(file: str) -> tuple[int, str]:
    """The line of the first byte that is not UTF-8, and why (read again, in binary)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with open(file, "rb") as handle:
        while chunk := handle.read(_READ_CHARS):
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as error:
                return line + chunk.count(b"\n", 0, max(error.start, 0)), error.reason
            line += chunk.count(b"\n")
    return line, "undecodable bytes"
