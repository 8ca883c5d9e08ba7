"""Which lines could a regular expression match?  A literal prefilter.  Pure.

Running a case-insensitive alternation such as the collector's significant-line
filter through Python ``re`` costs some 10 us per line; over a million lines that
dominates a diagnosis.  Most lines cannot match at all: every match of the
pattern contains one of a few literal strings (``error``, ``timeout``, ``" 5``...).
``required_literals`` derives such a set from the parsed pattern, and
``candidate_lines`` finds the lines holding one of them with fast substring
search over the whole stream at once.  Only those lines go through the real
pattern, so the result is exactly what matching every line would give.

The check is case-insensitive (lines and literals are lower-cased): a weaker
condition than the pattern's, hence still a necessary one, whatever its flags.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

# Python's own regex parser: private, hence every use of it fails soft.
_sre_parse: Any = importlib.import_module("re._parser")
_sre_compile: Any = importlib.import_module("re._compiler")

MAX_LITERALS = 64
MIN_LITERAL_LENGTH = 2

_LITERAL = _sre_parse.LITERAL
_SUBPATTERN = _sre_parse.SUBPATTERN
_BRANCH = _sre_parse.BRANCH
_REPEATS = (_sre_parse.MAX_REPEAT, _sre_parse.MIN_REPEAT)
_GROUP_REFERENCES = (_sre_parse.GROUPREF, _sre_parse.GROUPREF_EXISTS)

# One pattern per alternative of a top-level alternation, with its literals.
Alternatives = tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]


def _cross(prefixes: set[str], tails: set[str]) -> set[str]:
    return {head + tail for head in prefixes for tail in tails}


def _prefixes(tokens: Sequence[Any]) -> tuple[set[str], bool]:
    """Strings one of which starts every match of ``tokens``; and whether they are whole."""
    found = {""}
    for op, argument in tokens:
        if op is _LITERAL:
            found = {text + chr(argument) for text in found}
        elif op is _SUBPATTERN:
            inner, whole = _prefixes(argument[-1])
            found = _cross(found, inner)
            if not whole:
                return found, False
        elif op is _BRANCH:
            parts = [_prefixes(alternative) for alternative in argument[1]]
            found = _cross(found, set().union(*(texts for texts, _ in parts)))
            if not all(whole for _, whole in parts):
                return found, False
        elif op in _REPEATS and argument[0] >= 1:
            inner, _ = _prefixes(argument[2])
            return _cross(found, inner), False
        else:
            return found, False
        if len(found) > MAX_LITERALS:
            return {""}, False
    return found, True


def _quality(literals: set[str]) -> tuple[int, int]:
    return (min(map(len, literals)), -len(literals)) if literals else (0, 0)


def _best(tokens: Sequence[Any]) -> set[str]:
    """The best set of strings of which every match of ``tokens`` holds one."""
    best: set[str] = {""}
    for start in range(len(tokens)):
        found, _ = _prefixes(tokens[start:])
        if _quality(found) > _quality(best):
            best = found
        op, argument = tokens[start]
        nested: set[str] | None = None
        if op is _SUBPATTERN:
            nested = _best(argument[-1])
        elif op is _BRANCH:
            sets = [_best(alternative) for alternative in argument[1]]
            nested = set().union(*sets) if all(_quality(s)[0] > 0 for s in sets) else None
        elif op in _REPEATS and argument[0] >= 1:
            nested = _best(argument[2])
        if nested and len(nested) <= MAX_LITERALS and _quality(nested) > _quality(best):
            best = nested
    return best


def required_literals(pattern: str) -> tuple[str, ...] | None:
    """Pure: lower-cased strings one of which every match of ``pattern`` contains.

    None when no useful set exists (a literal shorter than two characters, too
    many alternatives, or a pattern the parser does not read).
    """
    try:
        parsed = _sre_parse.parse(pattern)
        found = _best(list(parsed))
    except Exception:  # a private parser: any surprise means "no prefilter"
        return None
    return _usable(found)


def _usable(found: set[str]) -> tuple[str, ...] | None:
    lowered = {text.lower() for text in found}
    if not lowered or min(map(len, lowered)) < MIN_LITERAL_LENGTH or len(lowered) > MAX_LITERALS:
        return None
    return tuple(sorted(lowered))


def _refers_to_groups(tokens: Any) -> bool:
    """Whether a parsed pattern holds a backreference or a group condition anywhere."""
    for op, argument in tokens:
        if op in _GROUP_REFERENCES:
            return True
        for part in argument if isinstance(argument, (tuple, list)) else (argument,):
            if isinstance(part, _sre_parse.SubPattern):
                if _refers_to_groups(part):
                    return True
            elif isinstance(part, list) and any(
                isinstance(item, _sre_parse.SubPattern) and _refers_to_groups(item) for item in part
            ):
                return True
    return False


def split_alternatives(
    compiled: re.Pattern[str],
) -> Alternatives | None:
    """Pure: a top-level alternation as one pattern per alternative, with its literals.

    A line holds a match of ``compiled`` exactly when it holds a match of one
    of the alternatives (searched alone, with the same flags), so each can be
    run only on the lines holding one of its own, narrower, literals.  Only for
    ``A|B|...`` or ``(A|B|...)`` without backreferences, when every alternative
    has usable ASCII literals and so has the whole pattern; else None.
    """
    try:
        if not isinstance(compiled.pattern, str) or len(compiled.pattern) > 10_000:
            return None
        parsed = _sre_parse.parse(compiled.pattern, compiled.flags)
        tokens = list(parsed)
        if len(tokens) == 1 and tokens[0][0] is _SUBPATTERN:
            _group, added, removed, inner = tokens[0][1]
            if added or removed:
                return None
            tokens = list(inner)
        if len(tokens) != 1 or tokens[0][0] is not _BRANCH or _refers_to_groups(tokens):
            return None
        whole = required_literals(compiled.pattern)
        if whole is None or not all(text.isascii() for text in whole):
            return None
        alternatives: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
        for branch in tokens[0][1][1]:
            literals = _usable(_best(list(branch)))
            if literals is None or not all(text.isascii() for text in literals):
                return None
            alone = _sre_parse.SubPattern(parsed.state, list(branch))
            alternatives.append((_sre_compile.compile(alone, compiled.flags), literals))
    except Exception:  # a private parser and compiler: any surprise means "do not split"
        return None
    return tuple(alternatives)


def lowered_text(lines: Sequence[str]) -> tuple[str, npt.NDArray[np.int64]]:
    """Pure: the lines lower-cased and joined by newlines, and where each line starts."""
    lengths = np.fromiter(map(len, lines), dtype=np.int64, count=len(lines))
    joined = "\n".join(lines)
    if joined.isascii():  # lower-casing keeps every position: no per-line copies
        starts = np.zeros(len(lines), dtype=np.int64)
        if len(lines) > 1:
            np.cumsum(lengths[:-1] + 1, out=starts[1:])
        return joined.lower(), starts
    del joined
    lowered = [line.lower() for line in lines]
    lengths = np.fromiter(map(len, lowered), dtype=np.int64, count=len(lowered))
    starts = np.zeros(len(lowered), dtype=np.int64)
    if len(lowered) > 1:
        np.cumsum(lengths[:-1] + 1, out=starts[1:])
    return "\n".join(lowered), starts


def candidate_lines(
    text: str, starts: npt.NDArray[np.int64], literals: Sequence[str]
) -> npt.NDArray[np.int64]:
    """Pure: sorted indexes of the lines of ``text`` holding at least one of ``literals``."""
    positions: list[int] = []
    for literal in literals:
        positions.extend(match.start() for match in re.finditer(re.escape(literal), text))
    if not positions:
        return np.empty(0, dtype=np.int64)
    lines = np.searchsorted(starts, np.asarray(positions, dtype=np.int64), side="right") - 1
    return np.unique(lines).astype(np.int64)
