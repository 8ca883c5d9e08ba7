"""A small parser of the project's regex dialect into a tree.  Pure.

The dialect is the subset of RE2 and Python ``re`` that ``regex_dialect``
accepts (no lookaround, no backreferences, no possessive repeats).  The tree
keeps only what the literal prefilter needs: literal characters, single
characters that are not literal (classes, ``.``, ``\\d``...), zero-width
assertions, groups, alternations (with the text span of each alternative) and
repeats.  Anything else raises ``Unsupported``; callers then do without a
prefilter.

The failure-mode catalogue's patterns are Python ``re``: with ``python=True``
a repeat may omit its lower bound (``{,3}``, ``{,}``: from 0), and each
lookaround (``(?=...)``, ``(?!...)``, ``(?<=...)``, ``(?<!...)``) is read as one
zero-width assertion, its content skipped: a pattern without its lookarounds
matches wherever the whole does, so strings every match of the rest holds are
still held by every match of the whole.

Nodes are tuples, compared by value:

    ("lit", char)                  one literal character
    ("any", text)                  one character from a class, ``.``, ``\\d``...
    ("at", text)                   a zero-width assertion: ``^ $ \\b \\B \\A``, ``(?!``...
    ("group", seq, flagged)        ``(...)``, ``(?:...)``, ``(?P<n>...)``, ``(?i:...)``
    ("branch", (seq, ...), spans)  ``A|B|...``, spans = ((start, end), ...) in the text
    ("repeat", low, high, seq)     a greedy or lazy repeat; high is None when unbounded

A sequence (``seq``) is a tuple of nodes.
"""

from __future__ import annotations

import re
from typing import Any

Node = tuple[Any, ...]
Seq = tuple[Node, ...]

_PERL_CLASSES = frozenset("dDwWsS")
_ASSERTIONS = frozenset("bBA")
_CONTROL = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a"}
_REPEAT = re.compile(r"\{(\d+)(,(\d*))?\}")
_FLAGS = re.compile(r"\(\?([aiLmsux]*)(?:-([imsx]+))?([:)])")
_NAMED = re.compile(r"\(\?P<[A-Za-z_][A-Za-z0-9_]*>")
_SIMPLE_REPEATS = {"*": (0, None), "+": (1, None), "?": (0, 1)}
_LOOKAROUNDS = ("(?=", "(?!", "(?<=", "(?<!")
_PYTHON_REPEAT = re.compile(r"\{()(,(\d*))\}")  # {,n} and {,}: Python re only


class Unsupported(ValueError):
    """A construct the tree does not model (the caller goes without a prefilter)."""


def parse(pattern: str, *, python: bool = False) -> Seq:
    """The tree of ``pattern``: a top-level alternation is one ``branch`` node.

    ``python``: read ``pattern`` as Python ``re`` (see the module docstring).
    """
    parser = _Parser(pattern, python=python)
    tree = parser.alternation()
    if parser.position != len(pattern):
        raise Unsupported(f"unbalanced ')' at {parser.position}")
    return tree


def _class_node(text: str) -> Node:
    """A class of one literal character (``[.]``, ``[\\]]``) is that literal."""
    body = text[1:-1]
    if len(body) == 1 and body not in "^\\":
        return ("lit", body)
    if len(body) == 2 and body[0] == "\\" and not (body[1].isascii() and body[1].isalnum()):
        return ("lit", body[1])
    return ("any", text)


class _Parser:
    def __init__(self, text: str, *, python: bool = False) -> None:
        self.text = text
        self.position = 0
        self.python = python

    def peek(self, width: int = 1) -> str:
        return self.text[self.position : self.position + width]

    def alternation(self) -> Seq:
        """Alternatives up to a ')' or the end, as one sequence."""
        alternatives: list[Seq] = []
        spans: list[tuple[int, int]] = []
        while True:
            start = self.position
            alternatives.append(self.sequence())
            spans.append((start, self.position))
            if self.peek() != "|":
                break
            self.position += 1
        if len(alternatives) == 1:
            return alternatives[0]
        return (("branch", tuple(alternatives), tuple(spans)),)

    def sequence(self) -> Seq:
        nodes: list[Node] = []
        while self.position < len(self.text) and self.peek() not in "|)":
            atom = self.atom()
            if atom is None:
                continue  # a global flag group: no node
            nodes.append(self.repeated(atom))
        return tuple(nodes)

    def atom(self) -> Node | None:
        character = self.peek()
        start = self.position
        if character == "(":
            return self.group()
        self.position += 1
        if character == "\\":
            return self.escape()
        if character == "[":
            self.skip_class()
            return _class_node(self.text[start : self.position])
        if character == ".":
            return ("any", ".")
        if character in "^$":
            return ("at", character)
        if character in "*+?":
            raise Unsupported(f"nothing to repeat at {start}")
        return ("lit", character)

    def escape(self) -> Node:
        escaped = self.peek()
        self.position += 1
        if not escaped:
            raise Unsupported("trailing backslash")
        if escaped in _PERL_CLASSES:
            return ("any", "\\" + escaped)
        if escaped in _ASSERTIONS:
            return ("at", "\\" + escaped)
        if escaped in _CONTROL:
            return ("lit", _CONTROL[escaped])
        if escaped == "x":
            digits = self.peek(2)
            if len(digits) != 2 or not all(c in "0123456789abcdefABCDEF" for c in digits):
                raise Unsupported("bad \\x escape")
            self.position += 2
            return ("lit", chr(int(digits, 16)))
        if escaped.isascii() and escaped.isalnum():
            raise Unsupported(f"escape \\{escaped}")
        return ("lit", escaped)

    def skip_class(self) -> None:
        """Move past a character class whose '[' was just read."""
        if self.peek() == "^":
            self.position += 1
        if self.peek() == "]":
            self.position += 1
        while True:
            character = self.peek()
            if not character:
                raise Unsupported("character class not closed")
            self.position += 2 if character == "\\" else 1
            if character == "]":
                return

    def group(self) -> Node | None:
        start = self.position
        if self.python and self.text.startswith(_LOOKAROUNDS, start):
            return self.assertion()
        flags = _FLAGS.match(self.text, start)
        flagged = False
        if flags is not None:
            if "x" in flags.group(1) or (not flags.group(1) and flags.group(3) == ")"):
                raise Unsupported(f"group at {start}")
            self.position = flags.end()
            if flags.group(3) == ")":
                return None  # (?i) and friends: flags of the whole pattern
            flagged = bool(flags.group(1) or flags.group(2))
        elif self.text.startswith("(?P<", start):
            named = _NAMED.match(self.text, start)
            if named is None:
                raise Unsupported(f"group name at {start}")
            self.position = named.end()
        elif self.text.startswith("(?", start):
            raise Unsupported(f"group at {start}")
        else:
            self.position += 1
        inner = self.alternation()
        if self.peek() != ")":
            raise Unsupported(f"group at {start} not closed")
        self.position += 1
        return ("group", inner, flagged)

    def assertion(self) -> Node:
        """A lookaround, its content read (to find its end) and dropped."""
        start = self.position
        opening = next(text for text in _LOOKAROUNDS if self.text.startswith(text, start))
        self.position += len(opening)
        self.alternation()
        if self.peek() != ")":
            raise Unsupported(f"group at {start} not closed")
        self.position += 1
        return ("at", opening)

    def repeated(self, atom: Node) -> Node:
        """``atom`` with the repeat that follows it, if any."""
        character = self.peek()
        bounds: tuple[int, int | None] | None = _SIMPLE_REPEATS.get(character)
        if bounds is not None:
            self.position += 1
        elif character == "{":
            match = _REPEAT.match(self.text, self.position)
            if match is None and self.python:
                match = _PYTHON_REPEAT.match(self.text, self.position)
            if match is None:
                return atom  # a literal '{' follows, read as the next atom
            low = int(match.group(1) or 0)
            if match.group(2) is None:
                high: int | None = low
            else:
                high = int(match.group(3)) if match.group(3) else None
            bounds = (low, high)
            self.position = match.end()
        else:
            return atom
        if atom[0] == "at":
            raise Unsupported("repeated assertion")
        if self.peek() == "+":
            raise Unsupported("possessive repeat")
        if self.peek() == "?":
            self.position += 1
        if self.peek() and self.peek() in "*+?":
            raise Unsupported("multiple repeat")
        return ("repeat", bounds[0], bounds[1], (atom,))
