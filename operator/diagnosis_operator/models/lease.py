"""A leader-election lease as the operator reads and writes it (coordination.k8s.io Lease)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["LeaseRecord"]


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    """Who holds the lease and until when (times in UTC epoch seconds).

    ``version`` is the stored object's resourceVersion (None before it exists):
    a write names it, so of two replicas writing at once one loses.
    """

    holder: str | None
    acquired: float | None
    renewed: float | None
    duration: float
    transitions: int = 0
    version: str | None = None
