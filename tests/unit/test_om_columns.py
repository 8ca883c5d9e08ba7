"""The vectorised cut of ``metrics.om`` blocks agrees with the line-by-line parser."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from diagnosis_operator.adapters.bundle import openmetrics
from diagnosis_operator.adapters.bundle._om_columns import columns
from diagnosis_operator.adapters.bundle.errors import BundleError

TEXT = (
    "# TYPE a counter\n"
    'a_total{x="p q",y="1"} 1 10\n'
    'a_total{x="p q",y="1"} 2.5 10.5\n'
    'a_total{x="p q",y="2"} -0 11\n'
    "# HELP a the a\n"
    'a_total{x="p q",y="2"} 1e3 12.25\n'
    "# TYPE b gauge\n"
    "b NaN 13\n"
    "b +Inf 14\n"
    "# EOF"
)


def test_columns_cut_runs_and_numbers() -> None:
    found = columns(TEXT.encode())
    assert found is not None
    assert found.line_count == 10
    assert sorted(found.comments) == [0, 4, 6, 9]
    assert found.run_lines == [1, 3, 5, 7]
    one, two = 'a_total{x="p q",y="1"}', 'a_total{x="p q",y="2"}'
    assert found.run_keys == [one, two, two, "b"]  # a comment ends a run
    assert found.run_samples == [0, 2, 3, 4, 6]
    assert found.stamps_ms.tolist() == [10000, 10500, 11000, 12250, 13000, 14000]
    values = found.values.tolist()
    assert values[:4] == [1.0, 2.5, 0.0, 1000.0] and np.signbit(found.values[2])
    assert np.isnan(values[4]) and values[5] == float("inf")


@pytest.mark.parametrize(
    "block",
    [
        b"a 1 2\n\nb 1 2",  # an empty line
        b"a 1",  # no timestamp
        b"a 1_0 2",  # Python's float reads it, OpenMetrics does not write it
        b"a 1 2\tx",
        b"a 0x10 2",
        b"a 1 inf",  # a timestamp that is not finite
        "a 1 2\u00a0".encode(),
        b"",
    ],
)
def test_columns_leave_unusual_blocks_to_the_line_parser(block: bytes) -> None:
    assert columns(block) is None


def _parse(tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch, *, fast: bool) -> object:
    path = tmp_path / "metrics.om"
    path.write_text(text, encoding="utf-8")
    if not fast:
        monkeypatch.setattr(openmetrics, "columns", lambda block: None)
    try:
        series, types = openmetrics.parse_openmetrics(path)
    except BundleError as error:
        return str(error)
    return types, [
        (s.name, dict(s.labels), s.type, s.timestamps_ms.tolist(), s.values.tobytes())
        for s in series
    ]


@pytest.mark.parametrize(
    "text",
    [
        TEXT,
        TEXT.replace("12.25", "10.75"),  # out of order within a run
        TEXT.replace('y="2"} -0 11', 'y="1"} -0 10.5'),  # out of order across runs
        TEXT.replace("# TYPE b gauge\n", ""),  # a sample of no declared family
        TEXT.replace("# HELP a the a", "# TYPE a counter"),  # a second TYPE
        TEXT + "\nb 3 15",  # content after EOF
        TEXT.replace("b NaN 13", 'b{x="1"} 3 13 # {t="x"} 1'),  # an exemplar
        TEXT.replace('x="p q"', 'x="p\\"q"'),  # an escaped quote
        TEXT.replace("b NaN 13", "b  3 13"),  # two spaces: the series "b " is no name
    ],
)
def test_parse_is_the_line_parsers(
    tmp_path: Path, text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    fast = _parse(tmp_path, text, monkeypatch, fast=True)
    assert fast == _parse(tmp_path, text, monkeypatch, fast=False)
