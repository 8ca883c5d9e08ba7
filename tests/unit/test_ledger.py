"""The action ledger: shape, global budget, idempotency, pruning, and its CAS loop."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from diagnosis_operator.core.remediation.ledger import (
    GlobalBudget,
    Ledger,
    LedgerFormatError,
    appended,
    decode,
    encode,
    may_append,
    pruned,
    with_outcome,
)
from diagnosis_operator.models.actions import (
    Allowed,
    DenialCode,
    Denied,
    LedgerEntry,
    LedgerOutcome,
)
from diagnosis_operator.models.findings import ActionType
from diagnosis_operator.service.remediate import ActionLedger
from tests.fakes.cluster import FakeDocumentStore

NOW = 1_900_000_000.0


def _entry(
    key: str, at: float = NOW, outcome: LedgerOutcome = LedgerOutcome.EXECUTED
) -> LedgerEntry:
    return LedgerEntry(
        key=key,
        action=ActionType.DRAIN_POD,
        targets=(f"shop/{key}",),
        at=at,
        outcome=outcome,
        detail="reserved: test",
    )


def test_round_trip_and_empty() -> None:
    ledger = Ledger(entries=(_entry("a"), _entry("b", outcome=LedgerOutcome.FAILED)))
    assert decode(encode(ledger)) == ledger
    assert decode(None) == Ledger()
    assert decode("") == Ledger()


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("{", "not JSON"),
        ('{"format": 2, "entries": []}', "format 1"),
        ('{"format": 1, "entries": {}}', "entries must be a list"),
        ('{"format": 1, "entries": [{"key": "a"}]}', "entries[0]"),
        (
            '{"format": 1, "entries": [{"key": "a", "action": "reboot", "targets": [], "at": 1,'
            ' "outcome": "executed"}]}',
            "entries[0]",
        ),
    ],
)
def test_an_unreadable_ledger_is_an_error_not_an_empty_one(text: str, where: str) -> None:
    with pytest.raises(LedgerFormatError, match=where.replace("[", r"\[").replace("]", r"\]")):
        decode(text)


def test_global_budget_counts_executed_entries_in_the_sliding_window() -> None:
    budget = GlobalBudget(max_actions=2, window_seconds=600)
    ledger = Ledger(entries=(_entry("a", NOW - 500), _entry("b", NOW - 100)))
    verdict = may_append(ledger=ledger, entry=_entry("c"), budget=budget, now=NOW)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.GLOBAL_BUDGET_EXHAUSTED
    # 101 s later "a" left the window.
    assert isinstance(
        may_append(ledger=ledger, entry=_entry("c", NOW + 101), budget=budget, now=NOW + 101),
        Allowed,
    )
    # Failed entries spend nothing and can always be recorded.
    failed = with_outcome(ledger=ledger, key="b", outcome=LedgerOutcome.FAILED, detail="429")
    assert isinstance(may_append(ledger=failed, entry=_entry("c"), budget=budget, now=NOW), Allowed)


def test_the_same_key_is_never_executed_twice() -> None:
    budget = GlobalBudget(max_actions=5)
    ledger = Ledger(entries=(_entry("a"),))
    verdict = may_append(ledger=ledger, entry=_entry("a", NOW + 5), budget=budget, now=NOW + 5)
    assert isinstance(verdict, Denied) and verdict.code is DenialCode.ALREADY_DONE
    retried = appended(
        ledger=with_outcome(ledger=ledger, key="a", outcome=LedgerOutcome.FAILED, detail="x"),
        entry=_entry("a", NOW + 5),
        budget=budget,
        now=NOW + 5,
    )
    assert [(e.key, e.outcome) for e in retried.entries] == [("a", LedgerOutcome.EXECUTED)]


def test_pruning_keeps_the_window_and_bounds_the_size() -> None:
    budget = GlobalBudget(max_actions=2, window_seconds=600, retention_seconds=3600, max_entries=3)
    entries = (
        _entry("ancient", NOW - 4000),
        _entry("f1", NOW - 3000, LedgerOutcome.FAILED),
        _entry("f2", NOW - 2000, LedgerOutcome.FAILED),
        _entry("f3", NOW - 1000, LedgerOutcome.FAILED),
        _entry("w1", NOW - 300),
        _entry("w2", NOW - 200),
    )
    kept = pruned(ledger=Ledger(entries=entries), budget=budget, now=NOW)
    assert [e.key for e in kept.entries] == ["f3", "w1", "w2"]


def test_budget_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="retention"):
        GlobalBudget(window_seconds=100, retention_seconds=10)
    with pytest.raises(ValueError, match="max_entries"):
        GlobalBudget(max_actions=10, max_entries=5)


@settings(max_examples=25, deadline=None)
@given(
    budget=st.integers(min_value=0, max_value=6),
    workers=st.integers(min_value=1, max_value=12),
    conflicts=st.integers(min_value=0, max_value=5),
)
def test_racing_writers_never_exceed_the_budget(budget: int, workers: int, conflicts: int) -> None:
    store = FakeDocumentStore()
    store.conflicts = conflicts
    ledger = ActionLedger(store=store, budget=GlobalBudget(max_actions=budget), attempts=200)
    results: list[Allowed | Denied] = []
    barrier = threading.Barrier(workers)

    def worker(index: int) -> None:
        barrier.wait()
        results.append(
            ledger.reserve(
                entry=_entry(f"k{index}"), now=NOW, decide=lambda _l: Allowed(False, "ok")
            )
        )

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    won = sum(isinstance(r, Allowed) for r in results)
    assert won == min(budget, workers)
    final, _ = ledger.read()
    assert final.used(now=NOW, window_seconds=3600) == won
