"""Searching ``^A|B|^C`` line by line, without trying the anchored alternatives everywhere.  Pure.

The client-extraction patterns are top-level alternations of which most
alternatives start with ``^`` (an access-log line's fields) and a few do not
(a JSON field found anywhere in the line).  ``re`` tries every alternative at
every position of a line the anchored ones do not fit, and the whole
alternation has no literal prefix to skip ahead by.  Without ``MULTILINE``,
``^`` holds only at position 0, so:

- ``pattern.match(line)`` is what ``pattern.search(line)`` finds when
  something matches at position 0 (the same alternatives in the same order);
- otherwise ``search`` finds what the unanchored alternatives alone (in their
  order) find, which ``rest`` searches for; a pattern of its own, with a
  literal prefix when those alternatives start with one.

``anchored_split`` gives ``rest`` and where its groups sit in the whole
pattern's, or None when the pattern is not of that form (no top-level
alternation, no anchored or no unanchored alternative, ``MULTILINE``, an
unnamed group in ``rest``, or outside the dialect ``models.regex_tree`` reads).
"""

from __future__ import annotations

import functools
import re

from diagnosis_operator.models.regex_tree import Unsupported, parse

_AT_START = {("at", "^"), ("at", "\\A")}


@functools.lru_cache(maxsize=64)
def anchored_split(compiled: re.Pattern[str]) -> tuple[re.Pattern[str], dict[int, int]] | None:
    """``rest`` and, per group of ``compiled`` (0-based), its group number in ``rest``."""
    pattern = compiled.pattern
    if not isinstance(pattern, str) or compiled.flags & re.MULTILINE:
        return None
    try:
        tree = parse(pattern)
    except Unsupported:
        return None
    if len(tree) != 1 or tree[0][0] != "branch":
        return None
    _, alternatives, spans = tree[0]
    unanchored = [
        pattern[start:end]
        for alternative, (start, end) in zip(alternatives, spans, strict=True)
        if not alternative or alternative[0] not in _AT_START
    ]
    if not unanchored or len(unanchored) == len(alternatives):
        return None
    try:
        rest = re.compile("|".join(unanchored), compiled.flags)
    except re.error:
        return None
    if rest.groups != len(rest.groupindex):
        return None  # an unnamed group: no name to place it by
    return rest, {compiled.groupindex[name] - 1: number for name, number in rest.groupindex.items()}
