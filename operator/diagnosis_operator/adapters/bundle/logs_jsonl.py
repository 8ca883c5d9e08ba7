"""``logs.jsonl``: one ``{"ts", "labels", "line"}`` object per line, into streams.

Blocks of well-formed lines are decoded at once (orjson, numpy timestamps); a
block holding anything unusual goes line by line, which names the offending
line in its ``BundleError``.  Entries repeating the timestamp and line of an
earlier one in their stream are dropped, as Loki does.
"""

from __future__ import annotations

import json
import operator
import os
import re
from typing import Any

import numpy as np
import numpy.typing as npt
import orjson

from diagnosis_operator.adapters.bundle.errors import BundleError, ProgressCallback
from diagnosis_operator.models.bundle import (
    Int64Array,
    LoadProgress,
    StoredStream,
    is_label_name,
)
from diagnosis_operator.models.signals import Labels
from diagnosis_operator.models.timefmt import BadTimestampError, rfc3339_nanoseconds

_READ_BYTES = 4 << 20
_UTC_STAMPS = re.compile(
    r"(?:\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z\n)*"
    r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z",
    re.ASCII,
)
_ENTRY_FIELDS = ("ts", "labels", "line")
_get_ts = operator.itemgetter("ts")
_get_labels = operator.itemgetter("labels")
_get_line = operator.itemgetter("line")


# Where a fixed-length UTC stamp (2025-12-11T09:19:44.120Z) holds what: every
# other column is a digit.
_STAMP_PUNCTUATION = {4: ord("-"), 7: ord("-"), 10: ord("T"), 13: ord(":"), 16: ord(":")}
_SHORTEST_STAMP = len("2025-12-11T09:19:44Z")
_LONGEST_STAMP = len("2025-12-11T09:19:44.123456789Z")


def _utc_nanoseconds(stamps: list[str]) -> Int64Array | None:
    """Nanoseconds since the epoch of RFC 3339 UTC stamps; None when one is not of that form.

    Stamps of one length (what a writer gives) are checked column by column at
    once; mixed lengths go through ``_UTC_STAMPS``.  numpy reads the dates and
    refuses impossible ones (a 13th month) with ``ValueError``.
    """
    widths = set(map(len, stamps))
    joined = "\n".join(stamps)
    if len(widths) == 1:
        if not _fixed_width_stamps(stamps, widths.pop()):
            return None
    elif not _UTC_STAMPS.fullmatch(joined):
        return None
    return np.array(joined.replace("Z", "").split("\n"), dtype="datetime64[ns]").astype(np.int64)


def _fixed_width_stamps(stamps: list[str], width: int) -> bool:
    """Whether every stamp (``width`` characters) is ``YYYY-MM-DDTHH:MM:SS[.fraction]Z``."""
    if width != _SHORTEST_STAMP and not _SHORTEST_STAMP + 2 <= width <= _LONGEST_STAMP:
        return False
    data = np.frombuffer("".join(stamps).encode(), dtype=np.uint8)
    if data.size != width * len(stamps):
        return False  # a character beyond ASCII
    table = data.reshape(len(stamps), width)
    fixed = {**_STAMP_PUNCTUATION, width - 1: ord("Z")}
    if width > _SHORTEST_STAMP:
        fixed[_SHORTEST_STAMP - 1] = ord(".")
    digits = [column for column in range(width) if column not in fixed]
    if not bool(((table[:, digits] >= ord("0")) & (table[:, digits] <= ord("9"))).all()):
        return False
    expected = np.array(list(fixed.values()), dtype=np.uint8)
    return bool((table[:, list(fixed)] == expected).all())


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
            nanoseconds = _utc_nanoseconds(stamps)
            if nanoseconds is None:
                return False
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
        except BadTimestampError:
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
