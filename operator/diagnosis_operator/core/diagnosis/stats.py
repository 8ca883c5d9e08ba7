"""The Poisson tail, the one place event counts are judged by how unlikely they are.  Pure.

``poisson_tail`` sums the upper tail P(X >= k) directly (vectorised), so that
tiny probabilities keep their precision; ``poisson_tail_at`` is the same tail
for one count (the lower sum while the tail is large, ``poisson_tail``'s upper
sum once it is small); ``poisson_tail_log10_bound`` is the Chernoff bound of
its logarithm, for thousands of events where any sum underflows.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
POISSON_KMAX = 64  # where the vectorised tail stops summing (and caps k)
# The most terms the tail of one count sums (P(X >= k) for k well above mu
# is all in its first few terms).
POINT_TAIL_TERMS = 200


def poisson_tail(
    k: npt.NDArray[np.int64], mu: FloatArray, *, kmax: int = POISSON_KMAX
) -> FloatArray:
    """Pure: P(X >= k) for X ~ Poisson(mu), element-wise.

    ``mu`` is either one value per row of ``k`` or an array shaped like ``k``;
    ``k`` is capped at ``kmax``.  The upper tail is summed directly so
    that tiny probabilities keep their precision.
    """
    mu_full = np.broadcast_to(mu[:, None] if mu.ndim == 1 and k.ndim == 2 else mu, k.shape)
    index = np.clip(k, 0, kmax)
    asked = index > 0
    tail = np.ones(k.shape, dtype=np.float64)
    if not asked.any():
        return tail
    # Only the cells that ask for a tail (k > 0) are summed.
    wanted_k = index[asked]
    wanted_mu = np.maximum(np.ascontiguousarray(mu_full[asked]), 1e-12)
    # sum_{i=k}^{kmax} mu^i e^-mu / i!: the first term in logs, the next ones by
    # the ratio mu / i, until every remaining term is negligible.
    term = np.exp(-wanted_mu + wanted_k * np.log(wanted_mu) - _log_factorials(kmax)[wanted_k])
    total = term.copy()
    for i in range(1, kmax):
        following = wanted_k + i
        live = following <= kmax
        if not live.any():
            break
        term = np.where(live, term * wanted_mu / np.maximum(following, 1), 0.0)
        total += term
        if not (term > 1e-17 * total).any():
            break
    tail[asked] = np.minimum(total, 1.0)
    return tail


def _log_factorials(kmax: int) -> FloatArray:
    values = np.zeros(kmax + 1)
    values[1:] = np.cumsum(np.log(np.arange(1, kmax + 1)))
    return values


def poisson_tail_at(k: int, mu: float) -> float:
    """Pure: P(X >= k) for X ~ Poisson(mu), one count.

    One minus the lower sum while that sum is below 0.999; once the tail is
    that small, ``poisson_tail``'s direct upper sum (``POINT_TAIL_TERMS``
    terms at most), which keeps its precision.
    """
    if k <= 0:
        return 1.0
    term = math.exp(-mu)
    below = 0.0
    for i in range(k):
        below += term
        term *= mu / (i + 1)
    if below < 0.999:
        return max(0.0, 1.0 - below)
    upper = poisson_tail(np.array([k]), np.array([mu]), kmax=k + POINT_TAIL_TERMS - 1)
    return float(upper[0])


def poisson_tail_log10_bound(*, observed: float, expected: float) -> float:
    """Pure: an upper bound of log10 P(X >= observed), X ~ Poisson(expected) (Chernoff).

    Exact enough to tell noise from a failing instance, and free of the
    underflow a direct sum has at thousands of events.
    """
    if observed <= expected:
        return 0.0
    mu = max(expected, 1e-9)
    return (observed - mu - observed * math.log(observed / mu)) / math.log(10.0)
