"""Leader election over a lease, decided purely: the record and ``now`` in, a step out.

One replica acts at a time.  A replica that finds no lease, or one whose holder
has not renewed it within its duration, takes it (``ACQUIRE``, counting a
transition); the holder renews it (``RENEW``); everyone else ``WAIT``s.  The
holder must stand down (stop acting at once) when it has not renewed for
``renew_deadline`` seconds, which is shorter than the lease duration: it stops
before anyone else may start.  This is client-go's leader election, see
docs/architecture.md "Two replicas".
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, replace

from diagnosis_operator.models.lease import LeaseRecord

__all__ = ["Claim", "Step", "claim", "must_stand_down"]


class Step(enum.Enum):
    ACQUIRE = "acquire"
    RENEW = "renew"
    WAIT = "wait"


@dataclass(frozen=True, slots=True)
class Claim:
    """What to do: write ``record`` (ACQUIRE, RENEW) or wait (``record`` is None)."""

    step: Step
    record: LeaseRecord | None
    why: str


def claim(
    *, current: LeaseRecord | None, me: str, now: float, duration: float, elapsed: float
) -> Claim:
    """Pure.  The next step of replica ``me`` given the lease as last read.

    ``now`` (wall clock) goes into what is written; ``elapsed`` is how long this
    replica has seen ``current`` unchanged, by its own clock: a lease held by
    another is expired once ``elapsed`` reaches the duration the holder wrote.
    """
    if duration <= 0:
        raise ValueError(f"lease duration must be positive, got {duration}")
    if current is None:
        record = LeaseRecord(holder=me, acquired=now, renewed=now, duration=duration)
        return Claim(Step.ACQUIRE, record, "no lease yet")
    if current.holder == me:
        return Claim(Step.RENEW, replace(current, renewed=now, duration=duration), "renewing")
    if current.holder is not None and elapsed < current.duration:
        return Claim(
            Step.WAIT,
            None,
            f"held by {current.holder}, unchanged for {elapsed:.1f}s of {current.duration:g}s",
        )
    taken = replace(
        current,
        holder=me,
        acquired=now,
        renewed=now,
        duration=duration,
        transitions=current.transitions + 1,
    )
    why = "lease free" if current.holder is None else f"{current.holder}'s lease expired"
    return Claim(Step.ACQUIRE, taken, why)


def must_stand_down(*, last_renewed: float, now: float, renew_deadline: float) -> bool:
    """Pure.  True once the holder has gone ``renew_deadline`` seconds without a renewal."""
    return now - last_renewed >= renew_deadline
