"""Client extraction matched at position 0 first, then by the unanchored alternatives alone.

Against ``compiled.search`` line by line: the groups found must be the same
for every line, whichever alternative matches where.
"""

from __future__ import annotations

import random
import re

import pytest

from diagnosis_operator.adapters.bundle._anchored import anchored_split
from diagnosis_operator.adapters.bundle._counting import _line_keys
from diagnosis_operator.adapters.bundle.regex_dialect import check_common_regex
from diagnosis_operator.core.diagnosis.logs import ACCESS_PATTERN, NETWORK_PATTERN

LINES = [
    '10.0.0.1 - - [11/Dec/2025:09:19:44 +0000] "GET / HTTP/1.1" 200 5 "-" "curl"',
    '{"time":"t","remote_addr":"10.0.0.2","request":"GET /login HTTP/1.1","status":"401"}',
    '[11/Dec/2025:09:19:44 +0000] "POST /a HTTP/1.1" 502 0 "-" "10.0.0.3, 10.0.0.9" "ua"',
    '2001:db8::1 x "GET /b HTTP/1.1" 429 ',
    '{"client":"2001:db8::7"} and later "remote_addr": "10.0.0.4"',
    "",
    "nothing here",
    '"client":"1.2.3.4" at the very start',
]


def _by_search(compiled: re.Pattern[str], lines: list[str]) -> list[tuple[str, ...]]:
    picks = range(compiled.groups)
    return [
        tuple(match.groups("")[pick] for pick in picks) if match else ("",) * compiled.groups
        for match in map(compiled.search, lines)
    ]


@pytest.mark.parametrize("pattern", [ACCESS_PATTERN, NETWORK_PATTERN])
def test_the_collector_patterns_split_and_find_what_search_finds(pattern: str) -> None:
    compiled = check_common_regex(pattern)
    assert anchored_split(compiled) is not None
    lines = LINES * 3
    random.Random(7).shuffle(lines)
    assert list(_line_keys(compiled, lines, list(range(compiled.groups)))) == _by_search(
        compiled, lines
    )


def test_position_zero_wins_and_alternative_order_holds_there() -> None:
    # "b" (unanchored) matches at 0 and at 3; "^a" is tried first at 0.
    compiled = re.compile(r"^(?P<x>ab)|(?P<y>b+)|^(?P<z>a)")
    split = anchored_split(compiled)
    assert split is not None and split[0].pattern == "(?P<y>b+)"
    lines = ["ab", "bbab", "xxbb", "a", "zzz", "abb"]
    assert list(_line_keys(compiled, lines, [0, 1, 2])) == _by_search(compiled, lines)
    assert list(_line_keys(compiled, lines, [1])) == [("",), ("bb",), ("bb",), ("",), ("",), ("",)]


@pytest.mark.parametrize(
    "pattern",
    [
        r"(?P<x>a)|(?P<y>b)",  # nothing anchored
        r"^(?P<x>a)|^(?P<y>b)",  # nothing unanchored
        r"^(?P<x>a)",  # no alternation
        r"^(?P<x>a)|(b)",  # an unnamed group in what is searched
        r"(?m)^(?P<x>a)|(?P<y>b)",  # ^ after every newline
    ],
)
def test_other_forms_are_searched_as_they_are(pattern: str) -> None:
    compiled = re.compile(pattern)
    assert anchored_split(compiled) is None
    lines = ["a", "b", "xa\nab", "ba", ""]
    assert list(_line_keys(compiled, lines, list(range(compiled.groups)))) == _by_search(
        compiled, lines
    )
