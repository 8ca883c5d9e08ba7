"""Leader election as a loop over the ``LeaseStore`` port (``core.leadership`` decides).

``Leadership.acquire`` blocks until this replica holds the lease; ``keep`` then
renews it every ``retry_period`` and calls ``on_lost`` (which must stop every
action at once: the entry point exits the process) when another replica holds
it, or when no renewal succeeded for ``renew_deadline`` seconds.  A follower
judges a lease expired by its own clock: ``duration`` seconds after it first
saw the current version of the record, so clock skew between replicas cannot
cut a holder's lease short (client-go does the same).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace

from diagnosis_operator.core.leadership import Step, claim, must_stand_down
from diagnosis_operator.models.lease import LeaseRecord
from diagnosis_operator.ports import ClusterError, LeaseStore, VersionConflict

__all__ = ["Leadership", "LeaseTimings"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LeaseTimings:
    duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class Leadership:
    """One replica's view of the election; ``wall`` for written times, ``monotonic`` to wait."""

    def __init__(
        self,
        *,
        store: LeaseStore,
        me: str,
        timings: LeaseTimings,
        wall: Callable[[], float],
        monotonic: Callable[[], float],
    ) -> None:
        self.store = store
        self.me = me
        self.timings = timings
        self._wall = wall
        self._monotonic = monotonic
        self._seen: tuple[str | None, float] = (None, 0.0)  # (version, when first seen)
        self.renewed_at: float | None = None  # monotonic time of the last successful write

    def _elapsed(self, current: LeaseRecord | None) -> float:
        """Seconds since this replica first saw ``current``'s version (its own clock)."""
        now = self._monotonic()
        version = None if current is None else current.version
        if version != self._seen[0]:
            self._seen = (version, now)
        return now - self._seen[1]

    def try_once(self) -> Step:
        """Read, decide, write once.  WAIT also when the write lost to another replica."""
        current = self.store.read()
        decided = claim(
            current=current,
            me=self.me,
            now=self._wall(),
            duration=self.timings.duration,
            elapsed=self._elapsed(current),
        )
        if decided.record is None:
            logger.debug("%s: %s", self.store.ref, decided.why)
            return Step.WAIT
        try:
            self.store.write(record=decided.record)
        except VersionConflict:
            logger.info("%s: another replica wrote first", self.store.ref)
            return Step.WAIT
        self.renewed_at = self._monotonic()
        if decided.step is Step.ACQUIRE:
            logger.warning("%s acquired by %s: %s", self.store.ref, self.me, decided.why)
        return decided.step

    def acquire(self, *, stop: threading.Event) -> bool:
        """Block until this replica holds the lease (True) or ``stop`` is set (False)."""
        logger.warning("%s: %s standing by", self.store.ref, self.me)
        while not stop.is_set():
            try:
                if self.try_once() is not Step.WAIT:
                    return True
            except ClusterError as error:
                logger.warning("%s: %s", self.store.ref, error)
            stop.wait(self.timings.retry_period)
        return False

    def release(self) -> None:
        """Give the lease up on a clean stop, so a standby need not wait for it to expire."""
        current = self.store.read()
        if current is not None and current.holder == self.me:
            self.store.write(record=replace(current, holder=None, renewed=None))
            logger.warning("%s released by %s", self.store.ref, self.me)

    def keep(self, *, stop: threading.Event, on_lost: Callable[[str], None]) -> None:
        """Renew until ``stop``; ``on_lost(why)`` once the lease is lost or cannot be renewed."""
        while not stop.wait(self.timings.retry_period):
            try:
                if self.try_once() is Step.WAIT:
                    on_lost(f"{self.store.ref} is held by another replica")
                    return
            except ClusterError as error:
                logger.warning("%s: renewal failed: %s", self.store.ref, error)
            last = self.renewed_at if self.renewed_at is not None else self._monotonic()
            if must_stand_down(
                last_renewed=last,
                now=self._monotonic(),
                renew_deadline=self.timings.renew_deadline,
            ):
                on_lost(f"{self.store.ref} not renewed for {self.timings.renew_deadline:g}s")
                return
