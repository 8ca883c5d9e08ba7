"""The siblings' robust spread: one array operation, the same as the median-of-deviations rule."""

from __future__ import annotations

import numpy as np
import pytest

from diagnosis_operator.core.diagnosis.siblings import MAD_TO_SIGMA, _sibling_spread
from diagnosis_operator.core.diagnosis.signal_types import Signal, SignalKind
from diagnosis_operator.models.signals import Labels


def _signal(instance: str, values: np.ndarray, name: str = "latency mean") -> Signal:
    kind = SignalKind.LATENCY
    labels = Labels({"instance": instance, "job": "web"})
    return Signal("web", instance, name, kind.value, kind, "q", values, labels)


def _naive(signal: Signal, peers: list[Signal], period: np.ndarray) -> float:
    """The rule written out sibling by sibling (the definition the vectorised code keeps)."""
    deviations = []
    for other in peers:
        if other.peer_key != signal.peer_key or other.instance == signal.instance:
            continue
        seen = other.values[period & np.isfinite(other.values)]
        if seen.size:
            deviations.append(np.abs(seen - np.median(seen)))
    if not deviations:
        return 0.0
    return float(MAD_TO_SIGMA * np.median(np.concatenate(deviations)))


@pytest.mark.parametrize("seed", range(12))
def test_spread_matches_the_rule_with_gaps_and_odd_and_even_counts(seed: int) -> None:
    rng = np.random.default_rng(seed)
    steps = int(rng.integers(5, 40))
    peers = []
    for index in range(int(rng.integers(2, 9))):
        values = rng.gamma(2.0, 0.1 * (index + 1), steps)
        values[rng.random(steps) < 0.3] = np.nan  # scrapes missed
        if index == 1:
            values[:] = np.nan  # a sibling with no data at all
        peers.append(_signal(f"10.0.0.{index}:80", values))
    peers.append(_signal("10.0.0.99:80", rng.random(steps), name="other signal"))
    period = rng.random(steps) < 0.7
    signal = peers[0]
    assert _sibling_spread(signal, peers, period) == pytest.approx(
        _naive(signal, peers, period), rel=1e-12, abs=0.0
    )


def test_no_sibling_data_in_the_period_is_a_flat_spread() -> None:
    values = np.array([1.0, 2.0, np.nan, 4.0])
    peers = [_signal("a", values), _signal("b", np.array([np.nan, np.nan, 3.0, np.nan]))]
    period = np.array([True, True, False, True])
    assert _sibling_spread(peers[0], peers, period) == 0.0


def test_spread_reads_only_the_period() -> None:
    peers = [
        _signal("a", np.zeros(4)),
        _signal("b", np.array([1.0, 3.0, 100.0, -50.0])),
    ]
    period = np.array([True, True, False, False])
    # b over the period: 1 and 3, median 2, deviations 1 and 1
    assert _sibling_spread(peers[0], peers, period) == pytest.approx(MAD_TO_SIGMA * 1.0)
