"""``top_counts`` (all groups counted at once) against a brute-force reference."""

from __future__ import annotations

import random

import numpy as np
import pytest

from diagnosis_operator.adapters.bundle._counting import top_counts
from diagnosis_operator.models.signals import Labels, LogCount

STEP = 15_000_000_000
START = 1_700_000_000_000_000_000


def reference(
    stamps_by_group: dict[Labels, list[list[int]]], instants: list[int], top: int
) -> list[LogCount]:
    """Count ``(t - step, t]`` by hand; keep the ``top`` largest groups at each step."""
    counts = {
        group: [sum(1 for part in parts for s in part if t - STEP < s <= t) for t in instants]
        for group, parts in stamps_by_group.items()
    }
    order = sorted(counts, key=lambda labels: tuple(labels.items()))
    kept: dict[Labels, list[int]] = {group: [0] * len(instants) for group in order}
    for step in range(len(instants)):
        ranked = sorted(
            (group for group in order if counts[group][step] > 0),
            key=lambda group: -counts[group][step],  # stable: label order on ties
        )
        for group in ranked if len(order) <= top else ranked[:top]:
            kept[group][step] = counts[group][step]
    return [
        LogCount(
            labels=group,
            timestamps=tuple(t / 1e9 for t, c in zip(instants, kept[group], strict=True) if c),
            values=tuple(float(c) for c in kept[group] if c),
        )
        for group in order
        if any(kept[group])
    ]


@pytest.mark.parametrize("seed", range(12))
def test_matches_the_brute_force_reference(seed: int) -> None:
    rng = random.Random(seed)
    steps = rng.randint(1, 30)
    instants = [START + STEP * k for k in range(steps)]
    groups = rng.randint(0, 12)
    stamps_by_group: dict[Labels, list[list[int]]] = {}
    for number in range(groups):
        labels = Labels({"client": f"10.0.0.{rng.randint(0, 6)}", "n": str(number % 3)})
        parts = [
            sorted(
                START + rng.randint(-2 * STEP, (steps + 1) * STEP)
                # on the edges of the steps too
                if rng.random() < 0.7
                else START + STEP * rng.randint(-1, steps)
                for _ in range(rng.randint(0, 40))
            )
            for _ in range(rng.randint(1, 3))
        ]
        stamps_by_group.setdefault(labels, []).extend(parts)
    top = rng.randint(1, 5)
    got = top_counts(
        {g: [np.array(p, dtype=np.int64) for p in parts] for g, parts in stamps_by_group.items()},
        instants=np.array(instants, dtype=np.int64),
        step_ns=STEP,
        top=top,
    )
    assert got == reference(stamps_by_group, instants, top)


def test_no_group_no_count() -> None:
    instants = np.array([START, START + STEP], dtype=np.int64)
    assert top_counts({}, instants=instants, step_ns=STEP, top=3) == []
