"""Pure parts of replay: splitting a bundle's streams into push batches."""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.adapters.replay import log_batches
from diagnosis_operator.models.bundle import StoredStream
from diagnosis_operator.models.signals import Labels


def stream(labels: dict[str, str], count: int, first_ns: int) -> StoredStream:
    return StoredStream(
        labels=Labels(labels),
        timestamps_ns=np.array([first_ns + i * 1_000_000 for i in range(count)], dtype=np.int64),
        lines=tuple(f"{labels['job']} line {i}" for i in range(count)),
    )


def test_batches_hold_at_most_n_lines_and_keep_every_line_in_order() -> None:
    streams = [
        stream({"job": "a"}, 5, 1_700_000_000_000_000_000),
        stream({"job": "b"}, 2, 1_700_000_001_000_000_000),
    ]
    batches = list(log_batches(streams, batch_lines=3))
    assert [sum(len(s.lines) for s in batch) for batch in batches] == [3, 3, 1]
    flat = [
        (s.labels["job"], line.line, line.ts)
        for batch in batches
        for s in batch
        for line in s.lines
    ]
    assert [line for _, line, _ in flat] == [*streams[0].lines, *streams[1].lines]
    assert flat[1][2] == pytest.approx(1_700_000_000.001)
    # The second batch holds the end of stream a and the start of stream b.
    assert [dict(s.labels) for s in batches[1]] == [{"job": "a"}, {"job": "b"}]


def test_batch_size_must_be_positive() -> None:
    with pytest.raises(ValueError, match="batch_lines"):
        list(log_batches([], batch_lines=0))
