"""The catalogue's vocabulary searched in log lines, screened by literals first.  Pure.

The failure-mode catalogue's log and caller signatures (``catalog.failure_modes``)
are case-insensitive regexes searched in every line a component or its callers
logged: which dependency a caller's errors name (``blame.line_names``), which
mode a dependency's refusals belong to (``reported``), how well a mode fits a
root cause (``modes``).  Most lines match none of them, and ``re`` still walks
each line once per pattern.

``search`` first asks whether the line holds one of the strings every match of
the pattern contains (``models.regex_literals``, derived from the pattern
itself, so a new catalogue entry is screened as soon as it is written): a line
holding none of them cannot match, and the regex is not run.  The screen is
exact, never a guess:

* it is a necessary condition: for an ASCII line, lower-casing line and
  literals only makes the condition weaker than the pattern's own;
* a line that is not ASCII always runs the regex (case-insensitive ``re``
  matches ``s`` to ``ſ`` and ``k`` to the Kelvin sign, which ``str.lower``
  does not), and so does a pattern without a usable ASCII literal (or outside
  the syntax ``models.regex_tree`` reads).

The screen's literals are computed once per pattern, and a line's lower-cased
form once per line while the same lines are searched for many patterns.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable

from diagnosis_operator.catalog.failure_modes import compiled
from diagnosis_operator.models.regex_literals import required_literals

LOWERED_LINES = 4096  # lines whose lower-cased form is kept (those searched lately)


@functools.cache
def screen(pattern: str) -> tuple[str, ...] | None:
    """Pure: lower-cased ASCII strings, one of which every match of ``pattern`` holds.

    None when the pattern has none worth checking: it is then always run.
    """
    literals = required_literals(pattern, python=True)
    if literals is None or not all(text.isascii() for text in literals):
        return None
    return literals


@functools.lru_cache(maxsize=LOWERED_LINES)
def _lowered(line: str) -> str:
    return line.lower()


def search(pattern: str, line: str) -> bool:
    """Pure: whether the catalogue regex ``pattern`` matches somewhere in ``line``.

    The same answer as ``compiled(pattern).search(line)``, the regex run only
    on the lines its screen lets through (see the module docstring).
    """
    literals = screen(pattern)
    if literals is not None and line.isascii():
        lowered = _lowered(line)
        for literal in literals:
            if literal in lowered:
                break
        else:
            return False
    return compiled(pattern).search(line) is not None


def search_any(patterns: Iterable[str], line: str) -> bool:
    """Pure: whether any of the catalogue regexes ``patterns`` matches in ``line``."""
    return any(search(pattern, line) for pattern in patterns)


def count(pattern: str, lines: Iterable[str]) -> int:
    """Pure: how many of ``lines`` the catalogue regex ``pattern`` matches in."""
    return sum(1 for line in lines if search(pattern, line))
