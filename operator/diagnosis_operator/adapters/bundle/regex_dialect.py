"""The regular-expression dialect of line filters and extraction patterns.

LogQL reads regular expressions with RE2, the bundle source with Python ``re``.
A pattern is accepted only in the subset both read alike, so a bundle diagnosed
in-process and the same bundle replayed into Loki give identical answers.
"""

from __future__ import annotations

import re

from diagnosis_operator.models.bundle import is_label_name

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
_UNCOMMON_ESCAPES = frozenset("ZzuUNQECpPGKRX")


def check_common_regex(pattern: str) -> re.Pattern[str]:
    """Compile ``pattern`` if RE2 (LogQL) and Python ``re`` read it alike, else ValueError.

    Pure.  Perl classes (``\\d``, ``\\w``, ``\\s``, ``\\b``) are ASCII in RE2, so the
    pattern is compiled with ``re.ASCII``.
    """
    _check_common_syntax(pattern)
    try:
        compiled = re.compile(pattern, re.ASCII)
    except re.error as error:
        raise ValueError(f"regexp {pattern!r} is invalid: {error}") from None
    for group in compiled.groupindex:
        if not is_label_name(group):
            raise ValueError(f"regexp {pattern!r}: group name {group!r} is not a valid label name")
    return compiled


def _check_common_syntax(pattern: str) -> None:
    """Raise ValueError at the first construct RE2 and Python ``re`` read differently."""
    position = 0
    in_class = False
    while position < len(pattern):
        character = pattern[position]
        if character == "\\":
            _check_escape(pattern, pattern[position + 1 : position + 2])
            position += 2
        elif in_class:
            in_class = _still_in_class(pattern, position)
            position += 1
        elif character == "[":
            in_class = True
            position = _class_body_start(pattern, position)
        else:
            _check_outside_class(pattern, position)
            position += 1


def _check_escape(pattern: str, escaped: str) -> None:
    if escaped.isdigit():
        raise ValueError(
            f"regexp {pattern!r}: '\\{escaped}' (backreference or octal escape) "
            "means different things in RE2 and Python"
        )
    if escaped and escaped in _UNCOMMON_ESCAPES:
        raise ValueError(
            f"regexp {pattern!r}: escape '\\{escaped}' is not in the common subset of RE2 "
            "and Python re"
        )


def _still_in_class(pattern: str, position: int) -> bool:
    """Whether the character class goes on after ``pattern[position]`` (inside it)."""
    character = pattern[position]
    if character == "]":
        return False
    if character == "[" and pattern[position + 1 : position + 2] == ":":
        raise ValueError(f"regexp {pattern!r}: POSIX classes like [[:alpha:]] are RE2-only")
    return True


def _class_body_start(pattern: str, position: int) -> int:
    """Where the items of the class opened at ``position`` start to need a look.

    A leading ']' (or '^]') is a literal in both dialects.
    """
    if pattern[position + 1 : position + 2] == "^":
        position += 1
    if pattern[position + 1 : position + 2] == "]":
        position += 1
    return position + 1


def _check_outside_class(pattern: str, position: int) -> None:
    character = pattern[position]
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
