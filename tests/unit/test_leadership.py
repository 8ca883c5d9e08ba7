"""Leader election: the pure decision (core.leadership) and its loop (service.leadership)."""

from __future__ import annotations

import threading

import pytest

from diagnosis_operator.core.leadership import Step, claim, must_stand_down
from diagnosis_operator.models.lease import LeaseRecord
from diagnosis_operator.service.leadership import Leadership, LeaseTimings
from tests.fakes.lease import FakeLeaseStore

HELD = LeaseRecord(holder="a", acquired=100.0, renewed=110.0, duration=15.0, version="7")


def test_no_lease_is_acquired_fresh() -> None:
    decided = claim(current=None, me="b", now=50.0, duration=15.0, elapsed=0.0)
    assert decided.step is Step.ACQUIRE and decided.record is not None
    assert (decided.record.holder, decided.record.acquired, decided.record.transitions) == (
        "b",
        50.0,
        0,
    )


def test_the_holder_renews_keeping_its_acquire_time() -> None:
    decided = claim(current=HELD, me="a", now=120.0, duration=15.0, elapsed=99.0)
    assert decided.step is Step.RENEW and decided.record is not None
    assert (decided.record.renewed, decided.record.acquired) == (120.0, 100.0)
    assert decided.record.version == "7"


@pytest.mark.parametrize("elapsed", [0.0, 14.9])
def test_another_waits_while_the_lease_is_fresh_by_its_own_clock(elapsed: float) -> None:
    # The holder's wall clock (renewed=110) is far behind "now": only elapsed counts.
    decided = claim(current=HELD, me="b", now=10_000.0, duration=15.0, elapsed=elapsed)
    assert decided.step is Step.WAIT and decided.record is None
    assert "held by a" in decided.why


def test_an_expired_or_released_lease_is_taken_over_counting_a_transition() -> None:
    decided = claim(current=HELD, me="b", now=200.0, duration=15.0, elapsed=15.0)
    assert decided.step is Step.ACQUIRE and decided.record is not None
    assert (decided.record.holder, decided.record.transitions, decided.record.version) == (
        "b",
        1,
        "7",
    )
    released = LeaseRecord(holder=None, acquired=100.0, renewed=None, duration=15.0, version="8")
    free = claim(current=released, me="b", now=200.0, duration=15.0, elapsed=0.0)
    assert free.step is Step.ACQUIRE and free.why == "lease free"


def test_stand_down_once_the_renew_deadline_has_passed() -> None:
    assert not must_stand_down(last_renewed=100.0, now=109.9, renew_deadline=10.0)
    assert must_stand_down(last_renewed=100.0, now=110.0, renew_deadline=10.0)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(store: FakeLeaseStore, me: str, clock: Clock) -> Leadership:
    return Leadership(
        store=store,
        me=me,
        timings=LeaseTimings(duration=15.0, renew_deadline=10.0, retry_period=2.0),
        wall=clock,
        monotonic=clock,
    )


def test_two_replicas_only_one_leads_and_the_other_takes_over_after_expiry() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = replica(store, "a", clock), replica(store, "b", clock)
    assert a.try_once() is Step.ACQUIRE
    assert b.try_once() is Step.WAIT
    clock.now += 10
    assert a.try_once() is Step.RENEW
    clock.now += 1
    assert b.try_once() is Step.WAIT  # a new version: b's count starts from here
    clock.now += 14
    assert b.try_once() is Step.WAIT
    # a stops renewing (killed): 15 s after b first saw its last renewal, b takes over.
    clock.now += 1
    assert b.try_once() is Step.ACQUIRE
    assert store.stored is not None and store.stored.holder == "b"
    assert store.stored.transitions == 1
    # a, had it survived, cannot renew: it sees b holding the lease.
    assert a.try_once() is Step.WAIT


def test_of_two_replicas_claiming_at_once_one_loses_the_write() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = replica(store, "a", clock), replica(store, "b", clock)
    seen = store.read()
    assert a.try_once() is Step.ACQUIRE
    # b decided on the same (absent) lease: its create conflicts.
    store_read = store.read
    store.read = lambda: seen  # type: ignore[method-assign]
    try:
        assert b.try_once() is Step.WAIT
    finally:
        store.read = store_read  # type: ignore[method-assign]
    assert [w.holder for w in store.writes] == ["a"]


def test_the_holder_gives_up_when_it_cannot_renew_within_the_deadline() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a = replica(store, "a", clock)
    assert a.try_once() is Step.ACQUIRE
    store.down = True
    lost: list[str] = []
    stop = threading.Event()

    class Ticking(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            clock.now += timeout or 0
            return stop.is_set()

    a.keep(stop=Ticking(), on_lost=lost.append)
    assert lost == ["lease test/operator not renewed for 10s"]
    assert clock.now - 1000.0 == 10.0  # five periods of 2 s: at the deadline, not later


def test_the_holder_is_told_when_another_holds_the_lease() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a = replica(store, "a", clock)
    assert a.try_once() is Step.ACQUIRE
    assert store.stored is not None
    store.stored = LeaseRecord(
        holder="b", acquired=1.0, renewed=1.0, duration=15.0, version=store.stored.version
    )
    lost: list[str] = []

    class Once(threading.Event):
        def wait(self, timeout: float | None = None) -> bool:
            return bool(lost)

    a.keep(stop=Once(), on_lost=lost.append)
    assert lost == ["lease test/operator is held by another replica"]


def test_release_frees_the_lease_for_a_standby_at_once() -> None:
    store, clock = FakeLeaseStore(), Clock()
    a, b = replica(store, "a", clock), replica(store, "b", clock)
    assert a.try_once() is Step.ACQUIRE
    assert b.try_once() is Step.WAIT
    a.release()
    assert b.try_once() is Step.ACQUIRE
    b.release()
    assert store.stored is not None and store.stored.holder is None
    b.release()  # not the holder any more: nothing written
    assert len(store.writes) == 4


def test_acquire_returns_false_when_stopped_while_standing_by() -> None:
    store, clock = FakeLeaseStore(), Clock()
    assert replica(store, "a", clock).try_once() is Step.ACQUIRE
    stop = threading.Event()
    stop.set()
    assert replica(store, "b", clock).acquire(stop=stop) is False
