"""Which lines could a regular expression match?  A literal prefilter.  Pure.

Running a case-insensitive alternation such as the collector's significant-line
filter through Python ``re`` costs some 10 us per line; over a million lines that
dominates a diagnosis.  Most lines cannot match at all: every match of the
pattern contains one of a few literal strings (``error``, ``timeout``, ``" 5``...).
``required_literals`` (``models.regex_literals``) derives such a set from the
pattern's tree (``models.regex_tree``, the project's regex dialect), and
``candidate_lines`` finds the lines holding one of them with fast substring
search over the whole stream at once.  Only those
lines go through the real pattern, so the result is exactly what matching every
line would give.

The check is case-insensitive (lines and literals are lower-cased): a weaker
condition than the pattern's, hence still a necessary one, whatever its flags.

Each literal costs one pass over the stream's text, and a filter has some
thirty.  ``bigrams`` records, in one pass, which pairs of bytes the text holds:
a literal one of whose pairs the text lacks cannot occur in it, and is not
searched for (most of them, in a stream of access lines).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from diagnosis_operator.models.regex_literals import MAX_PATTERN_LENGTH, ascii_literals
from diagnosis_operator.models.regex_literals import required_literals as required_literals
from diagnosis_operator.models.regex_tree import Seq, Unsupported, parse

# One pattern per alternative of a top-level alternation, with its literals.
Alternatives = tuple[tuple[re.Pattern[str], tuple[str, ...]], ...]


def _top_branch(tree: Seq) -> tuple[tuple[Seq, ...], tuple[tuple[int, int], ...]] | None:
    """The alternatives (and their spans) of ``A|B|...`` or ``(A|B|...)``, else None."""
    if len(tree) == 1 and tree[0][0] == "group" and not tree[0][2]:
        tree = tree[0][1]
    if len(tree) != 1 or tree[0][0] != "branch":
        return None
    _, alternatives, spans = tree[0]
    firsts = {alternative[:1] for alternative in alternatives}
    if len(firsts) == 1:
        return None  # one shared first item: the alternation is left whole
    return alternatives, spans


def split_alternatives(compiled: re.Pattern[str]) -> Alternatives | None:
    """Pure: a top-level alternation as one pattern per alternative, with its literals.

    A line holds a match of ``compiled`` exactly when it holds a match of one
    of the alternatives (searched alone, with the same flags), so each can be
    run only on the lines holding one of its own, narrower, literals.  Only for
    ``A|B|...`` or ``(A|B|...)`` (the project's dialect has no backreferences),
    when every alternative has usable ASCII literals and so has the whole
    pattern; else None.
    """
    pattern = compiled.pattern
    if not isinstance(pattern, str) or len(pattern) > MAX_PATTERN_LENGTH:
        return None
    try:
        tree = parse(pattern)
    except Unsupported:
        return None
    top = _top_branch(tree)
    if top is None or ascii_literals(tree) is None:
        return None
    split: list[tuple[re.Pattern[str], tuple[str, ...]]] = []
    for alternative, (start, end) in zip(*top, strict=True):
        expanded = _expanded(pattern, alternative, start, end)
        if expanded is not None:
            split.extend((re.compile(text, compiled.flags), found) for text, found in expanded)
            continue
        literals = ascii_literals(alternative)
        if literals is None:
            return None
        split.append((re.compile(pattern[start:end], compiled.flags), literals))
    return tuple(split)


def _expanded(
    pattern: str, alternative: Seq, start: int, end: int
) -> list[tuple[str, tuple[str, ...]]] | None:
    """``(A|B)R`` as ``AR`` and ``BR`` with their literals, else None.

    A line filter asks only whether a line holds a match, and a line holds a
    match of ``(A|B)R`` exactly when it holds one of ``AR`` or of ``BR`` (no
    backreferences in the dialect): ``(^| )rt=`` becomes ``^rt=``, tried at
    the line's start only, and `` rt=``, which ``re`` finds by its literal
    prefix instead of trying a group at every position.  Only for a leading
    group without flags or repeat whose content is an alternation, and when
    every expansion reads back as the same items and has ASCII literals.
    """
    if not alternative or alternative[0][0] != "group" or alternative[0][2]:
        return None
    inner = alternative[0][1]
    if len(inner) != 1 or inner[0][0] != "branch":
        return None
    _, choices, spans = inner[0]
    rest = pattern[spans[-1][1] + 1 : end]
    expanded: list[tuple[str, tuple[str, ...]]] = []
    for choice, (low, high) in zip(choices, spans, strict=True):
        text = pattern[low:high] + rest
        try:
            tree = parse(text)
        except Unsupported:
            return None
        if _shape(tree) != _shape(choice + alternative[1:]):
            return None  # the pieces joined read differently (``x{2,`` + ``3}``)
        literals = ascii_literals(tree)
        if literals is None:
            return None
        expanded.append((text, literals))
    return expanded


def _shape(seq: Seq) -> Seq:
    """``seq`` without the text spans of its alternations (they move when text is cut)."""
    shaped: list[tuple[object, ...]] = []
    for node in seq:
        kind = node[0]
        if kind == "branch":
            shaped.append((kind, tuple(_shape(choice) for choice in node[1])))
        elif kind == "group":
            shaped.append((kind, _shape(node[1]), node[2]))
        elif kind == "repeat":
            shaped.append((kind, node[1], node[2], _shape(node[3])))
        else:
            shaped.append(node)
    return tuple(shaped)


PIECE_LINES = 1 << 16


def lowered_text(lines: Sequence[str]) -> tuple[bytearray, npt.NDArray[np.int64]]:
    """Pure: the lines lower-cased, UTF-8 and joined by newlines, and the byte where each starts.

    Built piece by piece into one buffer, so a stream's text is held once, not
    also as a joined copy and a lowered copy (two hundred MB for a million
    access lines).  An ASCII line keeps its length when lowered; a piece holding
    another line is lowered line by line.  Literals are ASCII or UTF-8 encoded,
    and a UTF-8 byte string holds another's bytes exactly where the text holds
    the other's characters, so a search of the bytes finds what one of the
    characters would.
    """
    text = bytearray()
    lengths: list[npt.NDArray[np.int64]] = []
    for low in range(0, len(lines), PIECE_LINES):
        piece = lines[low : low + PIECE_LINES]
        joined = "\n".join(piece)
        if joined.isascii():  # lower-casing keeps every length
            data = joined.lower().encode("ascii")
            sizes = map(len, piece)
        else:
            lowered = [line.lower().encode() for line in piece]
            data = b"\n".join(lowered)
            sizes = map(len, lowered)
        del joined
        if low:
            text += b"\n"
        text += data
        lengths.append(np.fromiter(sizes, dtype=np.int64, count=len(piece)))
    starts = np.zeros(len(lines), dtype=np.int64)
    if len(lines) > 1:
        np.cumsum(np.concatenate(lengths)[:-1] + 1, out=starts[1:])
    return text, starts


BIGRAM_CHUNK = 1 << 20


def bigrams(text: str | bytes | bytearray) -> npt.NDArray[np.bool_]:
    """Pure: which pairs of bytes the UTF-8 form of ``text`` (or bytes) holds, a table of 65,536.

    A million characters at a time (each piece overlapping the next by one), so
    the temporary arrays stay a few MB however long the text.
    """
    counts = np.zeros(1 << 16, dtype=np.int64)
    for start in range(0, max(len(text) - 1, 0), BIGRAM_CHUNK):
        piece = text[start : start + BIGRAM_CHUNK + 1]
        data = np.frombuffer(piece.encode() if isinstance(piece, str) else piece, dtype=np.uint8)
        # The pairs at even offsets, then at odd ones, read as big-endian 16-bit
        # numbers in place (no shifted copy); counted rather than scattered.
        for offset in (0, 1):
            usable = (len(data) - offset) // 2 * 2
            pairs = data[offset : offset + usable].view(">u2")
            counts += np.bincount(pairs, minlength=1 << 16)
    return counts > 0


def may_hold(literal: str, present: npt.NDArray[np.bool_]) -> bool:
    """Pure: False when ``literal`` cannot occur in the text whose ``bigrams`` are ``present``."""
    data = literal.encode()
    return all(present[(first << 8) | second] for first, second in itertools.pairwise(data))


DENSE_SAMPLE = 1 << 20
DENSE_LINES = 1000


def _dense(text: bytes | bytearray, starts: npt.NDArray[np.int64], literal: bytes) -> bool:
    """Whether ``literal`` looks common enough that every line is worth trying.

    Counted over the text's first million bytes: when at least one line
    in two of those holds it on average, the stream's every line is a
    candidate (a superset: the pattern still decides), which spares a match
    object and a position per occurrence (millions in a large access log).
    """
    sample = min(len(text), DENSE_SAMPLE)
    lines = int(np.searchsorted(starts, sample, side="left"))
    return lines >= DENSE_LINES and 2 * text.count(literal, 0, sample) >= lines


def candidate_lines(
    text: bytes | bytearray,
    starts: npt.NDArray[np.int64],
    literals: Sequence[str],
    present: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.int64]:
    """Pure: sorted indexes of the lines of ``text`` holding at least one of ``literals``.

    ``present``: the text's ``bigrams``, to skip the literals it cannot hold.
    A literal common in the text's start makes every line a candidate (``_dense``).
    ``text`` is ``lowered_text``'s bytes (the literals are encoded as UTF-8).
    """
    positions: list[int] = []
    for literal in literals:
        if present is not None and not may_hold(literal, present):
            continue
        wanted = literal.encode()
        if _dense(text, starts, wanted):
            return np.arange(len(starts), dtype=np.int64)
        positions.extend(match.start() for match in re.finditer(re.escape(wanted), text))
    if not positions:
        return np.empty(0, dtype=np.int64)
    lines = np.searchsorted(starts, np.asarray(positions, dtype=np.int64), side="right") - 1
    lines.sort()
    # distinct lines (np.unique would import numpy.ma, a noticeable part of start-up)
    keep = np.empty(len(lines), dtype=bool)
    keep[0] = True
    np.not_equal(lines[1:], lines[:-1], out=keep[1:])
    return lines[keep].astype(np.int64)
