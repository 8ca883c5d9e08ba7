"""The literal prefilter never drops a line its pattern matches (and does drop most others)."""

from __future__ import annotations

import itertools
import random
import re

import pytest

from diagnosis_operator.adapters.bundle import literal_prefilter
from diagnosis_operator.adapters.bundle.literal_prefilter import (
    bigrams,
    candidate_lines,
    lowered_text,
    may_hold,
    required_literals,
    split_alternatives,
)
from diagnosis_operator.core.diagnosis.logs import (
    ACCESS_PATTERN,
    FAILED_REQUEST_FILTER,
    NETWORK_PATTERN,
    SIGNIFICANT_FILTER,
)

WORDS = (
    "GET", "POST", '" 503 ', '" 200 ', '"status": 502', '"code":"429"', "ERROR", "Deadlock",
    "timed out", "TIMEOUT", "ok", "slow", "Warn", "İstanbul", "x\ny", "OOM", "fail", "é", "]",
    '"remote_addr":"10.0.0.1"', "Too Many Connections", "q=error", "-", "{", "}",
)  # fmt: skip


def _lines(seed: int, count: int = 2000) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(0, 6))) for _ in range(count)]


@pytest.mark.parametrize(
    "pattern",
    [
        SIGNIFICANT_FILTER,
        FAILED_REQUEST_FILTER,
        ACCESS_PATTERN,
        "(?i)deadlock|too many",
        "Warn",
        "x+y",
        "(ab)?ok",
        "a.*b",
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_prefiltered_matching_equals_matching_every_line(pattern: str, seed: int) -> None:
    lines = _lines(seed)
    search = re.compile(pattern, re.ASCII).search
    everyone = [index for index, line in enumerate(lines) if search(line)]
    literals = required_literals(pattern)
    if literals is None:
        candidates = list(range(len(lines)))
    else:
        text, starts = lowered_text(lines)
        candidates = candidate_lines(text, starts, literals).tolist()
        # Skipping the literals whose byte pairs the text lacks changes nothing.
        assert candidate_lines(text, starts, literals, bigrams(text)).tolist() == candidates
    assert [index for index in candidates if search(lines[index])] == everyone


def test_byte_pairs_rule_out_the_literals_a_text_cannot_hold() -> None:
    text = "get /api 200 ok\nİstanbul é"
    present = bigrams(text)
    assert int(present.sum()) == len(set(itertools.pairwise(text.encode())))
    assert may_hold("200 ok", present) and may_hold("stanbul é", present)
    assert not may_hold("error", present)  # "er" is nowhere
    assert not may_hold("k\ni", present)  # the pairs are there, "\ni" is not
    assert not may_hold("éi", present)
    lines = text.split("\n")
    lowered, starts = lowered_text(lines)
    assert candidate_lines(lowered, starts, ("error", "bul"), bigrams(lowered)).tolist() == [1]


def test_literals_of_the_collector_filters() -> None:
    significant = required_literals(SIGNIFICANT_FILTER)
    assert significant is not None and {"deadlock", "timeout", '" 5'} <= set(significant)
    assert required_literals("a.*b") is None  # one-character literals are no use
    lines = ['1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5 "-" "curl"'] * 50 + ["db: Deadlock found"]
    assert candidate_lines(*lowered_text(lines), significant).tolist() == [50]


@pytest.mark.parametrize(
    "pattern",
    [SIGNIFICANT_FILTER, ACCESS_PATTERN, NETWORK_PATTERN, "(?i)deadlock|too many"],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_split_alternatives_match_the_lines_the_whole_pattern_matches(
    pattern: str, seed: int
) -> None:
    lines = _lines(seed)
    compiled = re.compile(pattern, re.ASCII)
    alternatives = split_alternatives(compiled)
    assert alternatives is not None
    everyone = {index for index, line in enumerate(lines) if compiled.search(line)}
    lowered = lowered_text(lines)
    found: set[int] = set()
    for alone, literals in alternatives:
        assert alone.flags == compiled.flags
        found.update(
            index
            for index in candidate_lines(*lowered, literals).tolist()
            if alone.search(lines[index])
        )
    assert found == everyone


def test_required_literals_read_the_dialect() -> None:
    assert required_literals("Warn") == ("warn",)
    assert required_literals(r"(?i)a\.b\x41c") == ("a.bac",)
    assert required_literals("[.]abc") == (".abc",)
    assert required_literals("(?:ab){2}c") == ("ab",)
    assert required_literals("(a|b)cd") == ("acd", "bcd")
    assert required_literals(r"\bfoo\b|(?P<x>bar)+") == ("bar", "foo")
    assert required_literals("x{2,}yz") == ("yz",)
    assert required_literals("a{x") == ("a{x",)
    assert required_literals("(?i:abc)def") == ("abcdef",)
    assert required_literals("ab?cd") == ("cd",)


@pytest.mark.parametrize(
    "pattern", [r"(?=ab)cd", r"(ab)\1", "(?x)a b", "ab*+c", r"\Qab", "(ab", "ab)"]
)
def test_patterns_outside_the_dialect_get_no_prefilter(pattern: str) -> None:
    assert required_literals(pattern) is None


def test_alternations_sharing_a_first_item_or_lacking_literals_stay_whole() -> None:
    assert split_alternatives(re.compile("(?i)(foo|foobar)")) is None
    shared_first = r"(\" (5[0-9][0-9]|429) |\"(status|code)\" *: *\"?(5[0-9][0-9]|429))"
    assert split_alternatives(re.compile(shared_first)) is None
    assert split_alternatives(re.compile("error|x")) is None
    assert split_alternatives(re.compile("(?i:error|fail)")) is None
    assert split_alternatives(re.compile("(error|fail)x")) is None


_PIECES = ("ab", "ok", "x", "y", ".", "[0-9]", r"\d", " ", '"', "e", "rr", "or", "ER")


def _random_pattern(rng: random.Random, depth: int = 0) -> str:
    parts: list[str] = []
    for _ in range(rng.randint(1, 4)):
        choice = rng.random()
        if choice < 0.2 and depth < 2:
            inner = "|".join(_random_pattern(rng, depth + 1) for _ in range(rng.randint(1, 3)))
            # a group is at most optional: nested repeats can backtrack for ever
            piece = rng.choice(("(", "(?:", "(?i:")) + inner + ")" + rng.choice(("", "?"))
        else:
            piece = rng.choice(_PIECES)
            piece += rng.choice(("", "", "", "?", "*", "+", "{2}", "{1,3}", "+?"))
        parts.append(piece)
    return "".join(parts)


@pytest.mark.parametrize("seed", range(4))
def test_random_dialect_patterns_never_lose_a_matching_line(seed: int) -> None:
    rng = random.Random(seed)
    pieces = ("ab", "ok", "x", "y", "7", " ", '"', "error", "ERROR", "Ok", "abab", "yx")
    lines = ["".join(rng.choice(pieces) for _ in range(rng.randint(0, 8))) for _ in range(400)]
    lowered = lowered_text(lines)
    for _ in range(150):
        top = "|".join(_random_pattern(rng) for _ in range(rng.randint(1, 3)))
        pattern = rng.choice(("", "(?i)")) + top
        compiled = re.compile(pattern, re.ASCII)
        everyone = {index for index, line in enumerate(lines) if compiled.search(line)}
        literals = required_literals(pattern)
        if literals is not None:
            candidates = set(candidate_lines(*lowered, literals).tolist())
            assert everyone <= candidates, (pattern, literals)
        alternatives = split_alternatives(compiled)
        if alternatives is not None:
            found = {
                index
                for alone, alone_literals in alternatives
                for index in candidate_lines(*lowered, alone_literals).tolist()
                if alone.search(lines[index])
            }
            assert found == everyone, pattern


def test_byte_pairs_are_found_across_the_pieces_of_a_long_text(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    text = "ab é İx\nyz" * 7 + "q"
    whole = bigrams(text)
    assert int(whole.sum()) == len(set(itertools.pairwise(text.encode())))
    monkeypatch.setattr(literal_prefilter, "BIGRAM_CHUNK", 3)
    assert (bigrams(text) == whole).all()
    assert not bigrams("a").any() and not bigrams("").any()


def test_a_leading_alternation_of_an_alternative_is_split_into_its_choices() -> None:
    compiled = re.compile(r"(^| )(rt|urt)=[1-9]|\"x\"")
    alternatives = split_alternatives(compiled)
    assert alternatives is not None
    assert [alone.pattern for alone, _ in alternatives] == [
        "^(rt|urt)=[1-9]",
        " (rt|urt)=[1-9]",
        '\\"x\\"',
    ]
    assert [literals for _, literals in alternatives] == [
        ("rt=", "urt="),
        (" rt=", " urt="),
        ('"x"',),
    ]
    lines = ["rt=1", "a rt=2", "art=3", "x urt=9", "rt=0", '"x"', "urt=5 ", "b\trt=1"]
    lowered = lowered_text(lines)
    found = {
        index
        for alone, literals in alternatives
        for index in candidate_lines(*lowered, literals).tolist()
        if alone.search(lines[index])
    }
    assert found == {index for index, line in enumerate(lines) if compiled.search(line)}


def test_choices_that_would_read_differently_once_joined_stay_together() -> None:
    # "x{2," then "3}z" would read as the repeat x{2,3}: that alternative stays whole.
    alternatives = split_alternatives(re.compile("(xx{2,|yy)3}z|query"))
    assert alternatives is not None
    assert [alone.pattern for alone, _ in alternatives] == ["(xx{2,|yy)3}z", "query"]
    flagged = split_alternatives(re.compile("(?i:ab|bc)cd|query"))
    assert flagged is not None and flagged[0][0].pattern == "(?i:ab|bc)cd"


def test_a_literal_common_in_the_text_makes_every_line_a_candidate() -> None:
    lines = [f"GET /r{index} rt={index % 3}" for index in range(3000)]
    lines[10] = lines[2000] = "nothing here"
    lowered, starts = lowered_text(lines)
    assert candidate_lines(lowered, starts, ("rt=",)).tolist() == list(range(3000))
    # rare: only the lines holding it
    assert candidate_lines(lowered, starts, ("nothing",)).tolist() == [10, 2000]
    compiled = re.compile(r"(^| )rt=[12]")
    assert [index for index in candidate_lines(lowered, starts, ("rt=",)).tolist()
            if compiled.search(lines[index])] == [
        index for index, line in enumerate(lines) if compiled.search(line)
    ]  # fmt: skip


def test_lowered_text_is_utf8_bytes_with_byte_starts_built_piece_by_piece(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lines = ["GET A", "İstanbul É", "", "x\ny", "OK é", "ERROR"] * 3
    whole, starts = lowered_text(lines)
    assert bytes(whole) == "\n".join(line.lower() for line in lines).encode()
    assert starts.tolist() == [
        len("\n".join(line.lower() for line in lines[:index]).encode()) + (1 if index else 0)
        for index in range(len(lines))
    ]
    monkeypatch.setattr(literal_prefilter, "PIECE_LINES", 4)
    pieces, piece_starts = lowered_text(lines)
    assert pieces == whole and piece_starts.tolist() == starts.tolist()
    assert candidate_lines(pieces, piece_starts, ("é", "error")).tolist() == [
        1,
        4,
        5,
        7,
        10,
        11,
        13,
        16,
        17,
    ]
    assert lowered_text([])[0] == bytearray() and lowered_text(["A"])[1].tolist() == [0]
