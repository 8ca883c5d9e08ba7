"""The catalogue's literal screen never changes an answer (and does skip most regexes).

For every pattern of the failure-mode catalogue (and the drivers' caller
formats), ``vocabulary.search`` must answer what ``compiled(p).search`` answers,
over real lines (the lab's recorded logs), lines built around the screen's own
literals in other cases, and lines a case-insensitive ``re`` matches through
non-ASCII letters (``ſ``, the Kelvin sign) that ``str.lower`` does not fold.
"""

from __future__ import annotations

import gzip
import json
import random
import re
import re._constants as sre  # type: ignore[import-not-found]  # no stubs: private
import re._parser as sre_parse  # type: ignore[import-not-found]
import string
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from diagnosis_operator.catalog.failure_modes import FAILURE_MODES, KIND_CALLERS, compiled
from diagnosis_operator.core.diagnosis import vocabulary
from diagnosis_operator.models.regex_literals import required_literals
from diagnosis_operator.models.regex_tree import Unsupported, parse

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "incidents"
DIGITS = re.compile(r"\d+")
# Non-ASCII letters a case-insensitive ``re`` matches to ASCII ones.
FOLDED = {"s": "ſ", "k": "\u212a", "i": "\u0130"}


def _patterns() -> list[str]:
    found: set[str] = set()
    for mode in FAILURE_MODES:
        found.update(mode.metrics, mode.logs, mode.callers, mode.harm)
    for patterns in KIND_CALLERS.values():
        found.update(patterns)
    return sorted(found)


PATTERNS = _patterns()


@cache
def _recorded_lines() -> tuple[str, ...]:
    """One line per shape (digits masked) of every recorded lab bundle's logs."""
    shapes: dict[str, str] = {}
    for path in sorted(EXAMPLES.glob("**/logs.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as lines:
            for raw in lines:
                line = json.loads(raw)["line"]
                shapes.setdefault(DIGITS.sub("0", line), line)
    return tuple(shapes.values())


_CATEGORIES = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
}
_POOL = string.ascii_letters + string.digits + " _-.:/()[]'\"=,"


def _in_class(character: str, items: list[Any]) -> bool:
    inside, negate = False, False
    for op, value in items:
        if op is sre.NEGATE:
            negate = True
        elif op is sre.LITERAL:
            inside |= ord(character) == value
        elif op is sre.RANGE:
            inside |= value[0] <= ord(character) <= value[1]
        elif op is sre.CATEGORY:
            inside |= re.fullmatch(_CATEGORIES[value], character) is not None
    return inside != negate


def _one_of(items: list[Any], rng: random.Random) -> str:
    fitting = [c for c in _POOL if _in_class(c, items)]
    return rng.choice(fitting) if fitting else "~"


def _sample(tree: Any, rng: random.Random) -> str:
    """A string Python's own parse of a pattern says matches it (lookarounds ignored)."""
    out: list[str] = []
    for op, value in tree:
        if op is sre.LITERAL:
            out.append(chr(value))
        elif op is sre.NOT_LITERAL:
            out.append("x" if value != ord("x") else "y")
        elif op is sre.ANY:
            out.append(rng.choice(_POOL))
        elif op is sre.IN:
            out.append(_one_of(value, rng))
        elif op is sre.BRANCH:
            out.append(_sample(rng.choice(value[1]), rng))
        elif op is sre.SUBPATTERN:
            out.append(_sample(value[3], rng))
        elif op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            low, high, inner = value
            times = rng.randint(low, min(high, low + 3))
            out.extend(_sample(inner, rng) for _ in range(times))
    return "".join(out)


def _matching_lines(pattern: str, rng: random.Random, count: int = 12) -> list[str]:
    """Lines holding a sample of ``pattern``, in mixed case, amid other words."""
    tree = sre_parse.parse(pattern)
    lines = []
    for _ in range(count):
        sample = "".join(c.upper() if rng.random() < 0.3 else c for c in _sample(tree, rng))
        lines.append(rng.choice(("{} done", "ERROR {}", "level=warn msg={}", "{}")).format(sample))
    return lines


def _built_lines(pattern: str, rng: random.Random) -> list[str]:
    """Lines around the screen's literals: cased, cut, and folded through non-ASCII letters."""
    lines: list[str] = []
    for literal in vocabulary.screen(pattern) or ():
        lines += [literal, literal.upper(), f"ERROR x: {literal.title()} (code 1)", literal[1:]]
        for ascii_letter, other in FOLDED.items():
            if ascii_letter in literal:
                lines.append("warn " + literal.replace(ascii_letter, other, 1))
        cut = rng.randrange(len(literal))
        lines.append(literal[:cut] + " " + literal[cut:])
    return lines


def test_every_catalogue_pattern_has_a_screen() -> None:
    """A pattern without a screen would still be right (always run), only slow."""
    assert PATTERNS
    assert [p for p in PATTERNS if vocabulary.screen(p) is None] == []


@pytest.mark.parametrize("pattern", PATTERNS)
def test_the_screen_gives_the_regex_answer_on_every_line(pattern: str) -> None:
    rng = random.Random(pattern)
    lines = [*_recorded_lines(), *_built_lines(pattern, rng), *_matching_lines(pattern, rng)]
    for other in rng.sample(PATTERNS, 5):
        lines += _built_lines(other, rng) + _matching_lines(other, rng, 3)
    regex = compiled(pattern)
    assert [vocabulary.search(pattern, line) for line in lines] == [
        regex.search(line) is not None for line in lines
    ]


def test_the_corpus_holds_matches_and_the_screen_skips_most_lines() -> None:
    """The exactness test above sees matching lines, and the screen does its work."""
    lines = _recorded_lines()
    matched = [p for p in PATTERNS if any(compiled(p).search(line) for line in lines)]
    assert len(matched) >= 10
    rng = random.Random(0)
    sampled = [p for p in PATTERNS if any(map(compiled(p).search, _matching_lines(p, rng)))]
    assert len(sampled) > 0.95 * len(PATTERNS)
    screened = sum(
        1
        for pattern in PATTERNS
        for line in lines[:500]
        if not any(text in line.lower() for text in vocabulary.screen(pattern) or ())
    )
    assert screened > 0.8 * len(PATTERNS) * min(len(lines), 500)


def test_non_ascii_lines_always_run_the_regex() -> None:
    """``re`` folds ``ſ`` to s and the Kelvin sign to k; ``str.lower`` does not."""
    assert vocabulary.screen("too many connections") == ("too many connections",)
    assert "too many connections" not in "ERROR 1040: Too many connection\u017f".lower()
    assert vocabulary.search("too many connections", "ERROR 1040: Too many connection\u017f")
    assert vocabulary.search("lock wait", "loc\u212a wait timeout exceeded")
    assert not vocabulary.search("lock wait", "lock-wait timeout exceeded")


@pytest.mark.parametrize(
    ("pattern", "literals"),
    [
        ("lost connection to mysql server(?! during query)", ("lost connection to mysql server",)),
        ("(?<!not )deadlock found", ("deadlock found",)),
        ("(?=.*timeout)connection reset", ("connection reset",)),
        ("errx{,3}or", ("err",)),  # {,3}: from none to three, in Python re
        ("ab{,}cd", ("cd",)),
        ("(?<=a)|bc", None),  # an empty alternative matches anywhere
    ],
)
def test_python_syntax_is_read_as_python_re(pattern: str, literals: tuple[str, ...] | None) -> None:
    assert required_literals(pattern, python=True) == literals
    regex = re.compile(pattern, re.IGNORECASE)
    for text in ("err", "erxxor", "ab cd", "acd", "not deadlock found"):
        if literals is not None and regex.search(text):
            assert any(literal in text.lower() for literal in literals)


def test_without_python_syntax_lookarounds_are_not_read() -> None:
    with pytest.raises(Unsupported):
        parse("a(?!b)")
    assert required_literals("errx{,3}or") == ("errx{,3}or",)  # RE2: a literal brace
