"""The columns of a block of ``metrics.om`` lines, found with numpy over its bytes.

A sample line is ``series value timestamp``: the value and the timestamp are
the text between the line's last two spaces and its end, and the series
(``name`` or ``name{labels}``) is everything before.  Newlines and spaces are
located at once; each line's series is one slice of the block's bytes, and
consecutive lines of one series (equal bytes) form a run, whose text alone is
decoded and validated.  The numbers of every sample line are gathered into one
byte string, split, and converted by numpy, which reads each with Python's
``float``.

``columns`` answers None when a line needs the line-by-line parser (an empty
line, a line without two spaces, a number OpenMetrics does not write); that
parser then names the line.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from diagnosis_operator.models.bundle import Float64Array, Int64Array

_NEWLINE, _SPACE, _HASH = ord("\n"), ord(" "), ord("#")
# Bytes Python's float() accepts (or bytes.split() cuts at) but OpenMetrics numbers
# never hold, and every byte beyond ASCII: a block holding one in a number goes to
# the line-by-line parser, which names the line.
_NOT_IN_NUMBERS = np.zeros(256, dtype=bool)
_NOT_IN_NUMBERS[list(b"_#{}\t\r\x0b\x0c")] = True
_NOT_IN_NUMBERS[128:] = True

_Bytes = npt.NDArray[np.uint8]


@dataclass(frozen=True)
class Columns:
    """A block's comment lines, its runs of one series, and every sample's numbers.

    Line positions count from the block's first line (0); ``run_samples[i]`` is
    the index, among the block's sample lines, of run ``i``'s first sample (with
    the number of samples last).  A run's lines are consecutive.
    """

    line_count: int
    comments: dict[int, str]
    run_lines: list[int]
    run_keys: list[str]
    run_samples: list[int]
    values: Float64Array
    stamps_ms: Int64Array


def columns(block: bytes) -> Columns | None:
    """The columns of ``block`` (complete lines, no final newline); None: go line by line."""
    data = np.frombuffer(block, dtype=np.uint8)
    if not data.size:
        return None
    ends = np.append(np.flatnonzero(data == _NEWLINE), data.size)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    if bool((ends == starts).any()):
        return None  # an empty line
    comment = data[starts] == _HASH
    sample_lines = np.flatnonzero(~comment)
    sample_starts, sample_ends = starts[sample_lines], ends[sample_lines]
    spaces = np.flatnonzero(data == _SPACE)
    before = np.searchsorted(spaces, sample_ends)
    if bool((before < 2).any()):
        return None
    stamp_at, value_at = spaces[before - 1], spaces[before - 2]
    widths = value_at - sample_starts
    if not bool(((widths > 0) & (stamp_at > value_at + 1) & (sample_ends > stamp_at + 1)).all()):
        return None
    numbers = _numbers(data, value_at, sample_ends)
    if numbers is None:
        return None
    runs = _run_starts(block, sample_starts, value_at, sample_lines)
    comment_lines = np.flatnonzero(comment).tolist()
    return Columns(
        line_count=len(ends),
        comments={
            line: block[int(starts[line]) : int(ends[line])].decode() for line in comment_lines
        },
        run_lines=sample_lines[runs].tolist(),
        run_keys=[block[int(sample_starts[run]) : int(value_at[run])].decode() for run in runs],
        run_samples=[*runs, len(sample_lines)],
        values=numbers[0],
        stamps_ms=numbers[1],
    )


def _numbers(
    data: _Bytes, value_at: Int64Array, ends: Int64Array
) -> tuple[Float64Array, Int64Array] | None:
    """Values and millisecond stamps of the sample lines (the text after ``value_at``)."""
    if not value_at.size:
        return np.empty(0, np.float64), np.empty(0, np.int64)
    kept = data[_numbers_mask(data.size, value_at, ends)]
    if bool(_NOT_IN_NUMBERS[kept].any()):
        return None
    tokens = kept.tobytes().split()
    if len(tokens) != 2 * value_at.size:
        return None
    try:
        both = np.array(tokens, dtype=np.float64)
    except ValueError:
        return None
    seconds = both[1::2]
    if not bool(np.isfinite(seconds).all()):
        return None
    return np.ascontiguousarray(both[0::2]), (seconds * 1000).astype(np.int64)


def _numbers_mask(size: int, value_at: Int64Array, ends: Int64Array) -> npt.NDArray[np.bool_]:
    """True on ``[value_at + 1, end]`` of every sample line (its newline kept as separator)."""
    bounds = np.empty(2 * value_at.size + 1, dtype=np.int64)
    bounds[0] = 0
    bounds[1::2] = value_at + 1
    bounds[2::2] = np.minimum(ends + 1, size)
    pattern = np.zeros(2 * value_at.size + 1, dtype=np.bool_)
    pattern[1::2] = True
    lengths = np.diff(bounds, append=size)
    return np.repeat(pattern, lengths)


def _run_starts(
    block: bytes, starts: Int64Array, value_at: Int64Array, lines: Int64Array
) -> list[int]:
    """Which sample lines start a run: the first, and each whose series text differs.

    A line continues its predecessor's run when it is the very next line (no
    comment between) and its series text is the same bytes.
    """
    keys = np.array(
        list(map(block.__getitem__, map(slice, starts.tolist(), value_at.tolist()))), dtype=object
    )
    same = np.zeros(starts.size, dtype=np.bool_)
    same[1:] = (lines[1:] == lines[:-1] + 1) & (keys[1:] == keys[:-1])
    return np.flatnonzero(~same).tolist()
