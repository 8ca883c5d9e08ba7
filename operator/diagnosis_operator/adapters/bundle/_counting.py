"""Log-line counts per step, as Loki's ``count_over_time`` and ``topk`` give them.  Pure."""

from __future__ import annotations

import itertools
import operator
import re
from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np

from diagnosis_operator.adapters.bundle._anchored import anchored_split
from diagnosis_operator.models.bundle import Int64Array, StoredStream
from diagnosis_operator.models.signals import Labels, LogCount


def extracted_groups(
    *,
    stream: StoredStream,
    compiled: re.Pattern[str],
    by: Sequence[str],
    indexes: Int64Array,
    stamps: Int64Array,
) -> Iterator[tuple[Labels, Int64Array]]:
    """The lines ``indexes`` (stamped ``stamps``) of ``stream`` grouped by their labels.

    Labels are the stream's and the pattern's named groups that ``by`` names (a
    group named like a stream label becomes ``<name>_extracted``, as in LogQL).
    """
    renamed = {
        group: (group + "_extracted" if group in stream.labels else group)
        for group in compiled.groupindex
    }
    wanted = [(group, renamed[group]) for group in compiled.groupindex if renamed[group] in by]
    stream_part = {name: stream.labels[name] for name in by if stream.labels.get(name)}
    picks = [compiled.groupindex[group] - 1 for group, _ in wanted]
    texts = list(map(stream.lines.__getitem__, indexes.tolist()))
    # Each line's key numbered by the line that first had it, as the keys come
    # (a million lines' key tuples are never held at once); lines are then
    # grouped by number with one stable sort (positions stay in time order),
    # the groups in the order their keys were first seen.
    first_seen: dict[tuple[str, ...], int] = {}
    codes = np.fromiter(
        map(first_seen.setdefault, _line_keys(compiled, texts, picks), itertools.count()),
        dtype=np.int64,
        count=len(texts),
    )
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], [*first_seen.values(), len(texts)])
    for number, key in enumerate(first_seen):
        labels = dict(stream_part)
        labels.update(
            {label: value for (_, label), value in zip(wanted, key, strict=True) if value}
        )
        yield Labels(labels), stamps[order[bounds[number] : bounds[number + 1]]]


def _line_keys(
    compiled: re.Pattern[str], texts: Sequence[str], picks: Sequence[int]
) -> Iterator[tuple[str, ...]]:
    """The groups ``picks`` of ``compiled.search(text)`` per text ("" for none, or no match).

    ``groups("")`` gives "" for a group that took no part, like ``group() or ""``.
    A pattern ``^A|B|^C`` is matched at position 0 first and only the lines
    that fail go through its unanchored alternatives (``_anchored``): the same
    match, found without trying ``^A`` and ``^C`` at every position.
    """
    empty = ("",) * len(picks)
    key_of = _picker(picks)
    split = anchored_split(compiled)
    if split is None:
        for match in map(compiled.search, texts):
            yield key_of(match.groups("")) if match is not None else empty
        return
    rest, numbers = split
    rest_search = rest.search
    # A group of the whole pattern that ``rest`` lacks reads the "" added at the end.
    pad = ("",)
    rest_key = _picker([numbers[pick] - 1 if pick in numbers else rest.groups for pick in picks])
    for text, match in zip(texts, map(compiled.match, texts), strict=True):
        if match is not None:
            yield key_of(match.groups(""))
            continue
        found = rest_search(text)
        yield rest_key(found.groups("") + pad) if found is not None else empty


def _picker(picks: Sequence[int]) -> Callable[[tuple[str, ...]], tuple[str, ...]]:
    """The items ``picks`` of a tuple, as a tuple (itemgetter gives a bare item for one)."""
    return operator.itemgetter(*picks) if len(picks) > 1 else _KeyOf(picks)


class _KeyOf:
    """The chosen groups of a match's ``groups()`` as a tuple (for fewer than two groups)."""

    def __init__(self, picks: Sequence[int]) -> None:
        self.picks = tuple(picks)

    def __call__(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(groups[pick] for pick in self.picks)


def top_counts(
    stamps_by_group: Mapping[Labels, list[Int64Array]],
    *,
    instants: Int64Array,
    step_ns: int,
    top: int,
) -> list[LogCount]:
    """Counts per step of each group's lines, keeping the ``top`` groups at each step.

    ``instants`` are evenly spaced by ``step_ns`` (as ``BundleSource`` makes them), so
    the windows ``(t - step, t]`` tile the time line: each line falls in one step, and
    all the groups are counted at once (one sort) rather than group by group.

    Sparse throughout: only the (group, step) cells that hold a line are ever
    made, so memory follows the lines, not groups x steps (a month of lines
    from a new client address each is hundreds of thousands of groups times
    thousands of steps).
    """
    groups = sorted(stamps_by_group, key=lambda labels: tuple(labels.items()))
    if not groups:
        return []
    rows, columns, values = _cells(
        [stamps_by_group[group] for group in groups], instants=instants, step_ns=step_ns
    )
    if len(groups) > top:
        rows, columns, values = _top_cells(rows, columns, values, top)
    return _sparse_counts(groups, rows, columns, values, instants)


def _cells(
    parts_by_row: Sequence[list[Int64Array]], *, instants: Int64Array, step_ns: int
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """The non-zero (row, step, count) cells, sorted by row then step."""
    parts = [array for row_parts in parts_by_row for array in row_parts]
    sizes = [sum(len(array) for array in row_parts) for row_parts in parts_by_row]
    stamps = np.concatenate(parts).astype(np.int64, copy=False)
    rows = np.repeat(np.arange(len(parts_by_row), dtype=np.int64), sizes)
    first = int(instants[0])
    inside = (stamps > first - step_ns) & (stamps <= int(instants[-1]))
    stamps, rows = stamps[inside], rows[inside]
    columns = -((first - stamps) // step_ns)  # the step t_k with t_k - step < stamp <= t_k
    cells = np.sort(rows * len(instants) + columns)
    if not cells.size:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty, empty
    starts = np.flatnonzero(np.r_[True, cells[1:] != cells[:-1]])
    values = np.diff(np.append(starts, cells.size)).astype(np.int64)
    distinct = cells[starts]
    return distinct // len(instants), distinct % len(instants), values


def _top_cells(
    rows: Int64Array, columns: Int64Array, values: Int64Array, top: int
) -> tuple[Int64Array, Int64Array, Int64Array]:
    """Keep, at each step, the ``top`` largest cells (ties: row order); sorted by row."""
    # By step, then larger count first, then label order: the rank inside a step.
    order = np.lexsort((rows, -values, columns))
    rows, columns, values = rows[order], columns[order], values[order]
    ranks = np.arange(columns.size) - np.searchsorted(columns, columns, side="left")
    kept = ranks < top
    rows, columns, values = rows[kept], columns[kept], values[kept]
    by_row = np.argsort(rows, kind="stable")
    return rows[by_row], columns[by_row], values[by_row]


def _sparse_counts(
    groups: Sequence[Labels],
    rows: Int64Array,
    columns: Int64Array,
    values: Int64Array,
    instants: Int64Array,
) -> list[LogCount]:
    """One ``LogCount`` per group with cells, its points in time order; groups in label order."""
    order = np.lexsort((columns, rows))
    rows, columns, values = rows[order], columns[order], values[order]
    chosen, starts = np.unique(rows, return_index=True)
    ends = np.append(starts[1:], rows.size)[: starts.size]
    seconds = instants / 1e9
    return [
        LogCount(
            labels=groups[row],
            timestamps=tuple(seconds[columns[start:end]].tolist()),
            values=tuple(values[start:end].astype(np.float64).tolist()),
        )
        for row, start, end in zip(chosen.tolist(), starts.tolist(), ends.tolist(), strict=True)
    ]


def counts_per_step(stamps: Int64Array, instants: Int64Array, step_ns: int) -> Int64Array:
    """Lines in ``(t - step, t]`` for each instant ``t``; ``stamps`` sorted."""
    upto = np.searchsorted(stamps, instants, side="right")
    before = np.searchsorted(stamps, instants - step_ns, side="right")
    return (upto - before).astype(np.int64)


def log_counts(totals: Mapping[Labels, Int64Array], instants: Int64Array) -> list[LogCount]:
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
