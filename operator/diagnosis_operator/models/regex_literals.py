"""Strings one of which every match of a regular expression contains.  Pure.

``required_literals`` reads a pattern's tree (``models.regex_tree``) and finds a
small set of literal strings (lower-cased) such that every match of the pattern
holds at least one of them: a line holding none of them cannot match, whatever
the pattern's flags (lower-casing both sides makes the condition weaker than
the pattern's own, hence still a necessary one for ASCII lines).  Used by the
bundle's line filters (``adapters.bundle.literal_prefilter``) and by the
catalogue's vocabulary searches (``core.diagnosis.vocabulary``).
"""

from __future__ import annotations

from diagnosis_operator.models.regex_tree import Seq, Unsupported, parse

MAX_LITERALS = 64
MIN_LITERAL_LENGTH = 2
MAX_PATTERN_LENGTH = 10_000


def _cross(prefixes: set[str], tails: set[str]) -> set[str]:
    return {head + tail for head in prefixes for tail in tails}


def _prefixes(seq: Seq) -> tuple[set[str], bool]:
    """Strings one of which starts every match of ``seq``; and whether they are whole."""
    found = {""}
    for node in seq:
        kind = node[0]
        if kind == "lit":
            found = {text + node[1] for text in found}
        elif kind == "group":
            inner, whole = _prefixes(node[1])
            found = _cross(found, inner)
            if not whole:
                return found, False
        elif kind == "branch":
            parts = [_prefixes(alternative) for alternative in node[1]]
            found = _cross(found, set().union(*(texts for texts, _ in parts)))
            if not all(whole for _, whole in parts):
                return found, False
        elif kind == "repeat" and node[1] >= 1:
            inner, _ = _prefixes(node[3])
            return _cross(found, inner), False
        else:
            return found, False
        if len(found) > MAX_LITERALS:
            return {""}, False
    return found, True


def _quality(literals: set[str]) -> tuple[int, int]:
    return (min(map(len, literals)), -len(literals)) if literals else (0, 0)


def _nested(seq: Seq, start: int) -> set[str] | None:
    """The best literals inside the node at ``start`` (a group, branch or repeat)."""
    node = seq[start]
    kind = node[0]
    if kind == "group":
        return _best(node[1])
    if kind == "branch":
        sets = [_best(alternative) for alternative in node[1]]
        return set().union(*sets) if all(_quality(found)[0] > 0 for found in sets) else None
    if kind == "repeat" and node[1] >= 1:
        return _best(node[3])
    return None


def _best(seq: Seq) -> set[str]:
    """The best set of strings of which every match of ``seq`` holds one."""
    best: set[str] = {""}
    for start in range(len(seq)):
        # After a literal, the strings starting one node earlier are these, each one
        # longer: better, so they cannot win here (and a long run of literals stays
        # linear, not quadratic).
        if not start or seq[start - 1][0] != "lit":
            found, _ = _prefixes(seq[start:])
            if _quality(found) > _quality(best):
                best = found
        nested = _nested(seq, start)
        if nested and len(nested) <= MAX_LITERALS and _quality(nested) > _quality(best):
            best = nested
    return best


def required_literals(pattern: str, *, python: bool = False) -> tuple[str, ...] | None:
    """Pure: lower-cased strings one of which every match of ``pattern`` contains.

    None when no useful set exists (a literal shorter than two characters, too
    many alternatives, or a pattern outside the dialect the tree reads).
    ``python``: ``pattern`` is Python ``re`` (lookarounds, ``{,n}``: ``models.regex_tree``).
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return None
    try:
        tree = parse(pattern, python=python)
    except Unsupported:
        return None
    return _usable(_best(tree))


def _usable(found: set[str]) -> tuple[str, ...] | None:
    lowered = {text.lower() for text in found}
    if not lowered or min(map(len, lowered)) < MIN_LITERAL_LENGTH or len(lowered) > MAX_LITERALS:
        return None
    return tuple(sorted(lowered))


def ascii_literals(seq: Seq) -> tuple[str, ...] | None:
    """Pure: the required literals of a parsed ``seq``, when there are and all are ASCII."""
    literals = _usable(_best(seq))
    if literals is None or not all(text.isascii() for text in literals):
        return None
    return literals
