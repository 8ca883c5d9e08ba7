"""Which lines of a stream a line filter keeps, through the literal prefilter."""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from diagnosis_operator.adapters.bundle import literal_prefilter
from diagnosis_operator.adapters.bundle.literal_prefilter import Alternatives
from diagnosis_operator.models.bundle import Int64Array, StoredStream

# A stream's lines lower-cased and joined (UTF-8), the byte where each starts, its byte pairs, and
# per literal asked so far whether those pairs allow it (filters share literals).
_Lowered = tuple[bytearray, Int64Array, npt.NDArray[np.bool_], dict[str, bool]]


class LineFilters:
    """Matching line indexes per stream and filter, cached; see ``matching``."""

    def __init__(self) -> None:
        self._filtered: dict[tuple[int, str], Int64Array] = {}
        self._lowered: dict[int, _Lowered] = {}
        self._literals: dict[str, tuple[str, ...] | None] = {}
        self._alternatives: dict[str, Alternatives | None] = {}

    def matching(
        self, stream: StoredStream, line_filter: str, compiled: re.Pattern[str]
    ) -> Int64Array:
        """Indexes of the stream's lines ``compiled`` (the filter ``line_filter``) finds."""
        cache_key = (id(stream), line_filter)
        cached = self._filtered.get(cache_key)
        if cached is None:
            cached = self._search(stream, line_filter, compiled)
            self._filtered[cache_key] = cached
        return cached

    def _search(
        self, stream: StoredStream, line_filter: str, compiled: re.Pattern[str]
    ) -> Int64Array:
        search = compiled.search
        lines = stream.lines
        # Only lines holding one of the literals every match needs can match
        # (exact: the candidates still go through the pattern).
        if line_filter not in self._literals:
            self._literals[line_filter] = literal_prefilter.required_literals(line_filter)
        literals = self._literals[line_filter]
        if literals is None or len(lines) <= 1:
            return np.fromiter(
                (index for index in range(len(lines)) if search(lines[index])), dtype=np.int64
            )
        lowered = self._lowered_text(stream)
        if line_filter not in self._alternatives:
            self._alternatives[line_filter] = literal_prefilter.split_alternatives(compiled)
        alternatives = self._alternatives[line_filter]
        if alternatives is not None:
            return _matching_any(lines, lowered, alternatives)
        candidates = _candidates(lowered, literals).tolist()
        return np.fromiter((index for index in candidates if search(lines[index])), dtype=np.int64)

    def _lowered_text(self, stream: StoredStream) -> _Lowered:
        lowered = self._lowered.get(id(stream))
        if lowered is None:
            text, starts = literal_prefilter.lowered_text(stream.lines)
            lowered = (text, starts, literal_prefilter.bigrams(text), {})
            # one stream's text at a time: the collector asks stream by stream
            self._lowered.clear()
            self._lowered[id(stream)] = lowered
        return lowered


def _matching_any(
    lines: Sequence[str], lowered: _Lowered, alternatives: Alternatives
) -> Int64Array:
    """Sorted indexes of the lines one of ``alternatives`` matches.

    Each alternative runs only on the lines holding one of its literals and
    not matched yet: a cheap pattern over few lines instead of the whole
    alternation over every line holding any literal.
    """
    matched: set[int] = set()
    for pattern, literals in alternatives:
        search = pattern.search
        candidates = _candidates(lowered, literals).tolist()
        matched.update(
            index for index in candidates if index not in matched and search(lines[index])
        )
    return np.array(sorted(matched), dtype=np.int64)


def _candidates(lowered: _Lowered, literals: tuple[str, ...]) -> Int64Array:
    text, starts, present, held = lowered
    for literal in literals:
        if literal not in held:
            held[literal] = literal_prefilter.may_hold(literal, present)
    possible = [literal for literal in literals if held[literal]]
    return literal_prefilter.candidate_lines(text, starts, possible)
