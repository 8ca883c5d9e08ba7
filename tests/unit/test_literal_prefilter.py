"""The literal prefilter never drops a line its pattern matches (and does drop most others)."""

from __future__ import annotations

import random
import re

import pytest

from diagnosis_operator.adapters.bundle.literal_prefilter import (
    candidate_lines,
    lowered_text,
    required_literals,
)
from diagnosis_operator.core.diagnosis.logs import (
    ACCESS_PATTERN,
    FAILED_REQUEST_FILTER,
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
        candidates = candidate_lines(*lowered_text(lines), literals).tolist()
    assert [index for index in candidates if search(lines[index])] == everyone


def test_literals_of_the_collector_filters() -> None:
    significant = required_literals(SIGNIFICANT_FILTER)
    assert significant is not None and {"deadlock", "timeout", '" 5'} <= set(significant)
    assert required_literals("a.*b") is None  # one-character literals are no use
    lines = ['1.2.3.4 - - [x] "GET / HTTP/1.1" 200 5 "-" "curl"'] * 50 + ["db: Deadlock found"]
    assert candidate_lines(*lowered_text(lines), significant).tolist() == [50]
