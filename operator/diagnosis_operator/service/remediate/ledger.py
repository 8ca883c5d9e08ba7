"""The cluster-wide action ledger, changed by compare-and-swap (``conflicts.retry_conflicts``).

Each change reads the ledger document with its version, computes the new text
from it (``core.remediation.ledger``, pure) and writes it back at that version;
a lost race reads again and decides again.  A ledger that cannot be read or
written raises ``LedgerUnavailable``: nothing is done without it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NoReturn, TypeVar

from diagnosis_operator.core.remediation import ledger as ledgers
from diagnosis_operator.models.actions import Denied, LedgerEntry, LedgerOutcome, Verdict
from diagnosis_operator.ports import ClusterError, DocumentStore, VersionConflict
from diagnosis_operator.service.remediate.conflicts import Again, retry_conflicts

# Ledger entry details: a reservation is made before acting, marked applied after.
RESERVED = "reserved: "
APPLIED = "applied: "

T = TypeVar("T")
# What a change makes of the ledger it read: the new text (None: leave it) and the answer.
Change = Callable[[ledgers.Ledger], tuple[str | None, T]]


class LedgerUnavailable(RuntimeError):
    """The ledger could not be read or written; nothing was done."""


class ActionLedger:
    """The ledger document with a compare-and-swap loop around each change."""

    def __init__(self, *, store: DocumentStore, budget: ledgers.GlobalBudget, attempts: int = 50):
        self._store = store
        self._budget = budget
        self._attempts = attempts

    def read(self) -> tuple[ledgers.Ledger, str | None]:
        try:
            document = self._store.read()
            return ledgers.decode(document.text), document.version
        except (ClusterError, ledgers.LedgerFormatError) as error:
            raise LedgerUnavailable(f"action ledger: {error}") from error

    def reserve(
        self,
        *,
        entry: LedgerEntry,
        now: float,
        decide: Callable[[ledgers.Ledger], Verdict],
    ) -> Verdict:
        """Append ``entry`` if ``decide`` and the global budget allow it on the fresh ledger.

        A lost race (409) re-reads the ledger and decides again.
        """

        def change(current: ledgers.Ledger) -> tuple[str | None, Verdict]:
            verdict = decide(current)
            if isinstance(verdict, Denied):
                return None, verdict
            fits = ledgers.may_append(ledger=current, entry=entry, budget=self._budget, now=now)
            if isinstance(fits, Denied):
                return None, fits
            appended = ledgers.appended(ledger=current, entry=entry, budget=self._budget, now=now)
            return ledgers.encode(appended), verdict

        return self._swap(change)

    def settle(self, *, key: str, outcome: LedgerOutcome, detail: str) -> None:
        """Give the entry of ``key`` its final outcome (a failed action spends no budget)."""

        def change(current: ledgers.Ledger) -> tuple[str | None, None]:
            found = current.find(key)
            if found is None or (found.outcome is outcome and found.detail == detail):
                return None, None
            changed = ledgers.with_outcome(ledger=current, key=key, outcome=outcome, detail=detail)
            return ledgers.encode(changed), None

        self._swap(change)

    def _swap(self, change: Change[T]) -> T:
        """``change`` applied to the ledger as read, written back at the version read."""

        def attempt(_: None) -> T:
            current, version = self.read()
            text, answer = change(current)
            if text is not None:
                self._write(text=text, version=version)
            return answer

        return retry_conflicts(
            None,
            attempt=attempt,
            reread=lambda: Again(None),
            attempts=self._attempts,
            exhausted=self._still_conflicting,
        )

    def _write(self, *, text: str, version: str | None) -> None:
        """Replace the ledger read at ``version`` (``VersionConflict``: lost a race)."""
        try:
            self._store.write(text=text, version=version)
        except VersionConflict:
            raise
        except ClusterError as error:
            raise LedgerUnavailable(f"action ledger: {error}") from error

    def _still_conflicting(self, _last: object) -> NoReturn:
        raise LedgerUnavailable(f"action ledger: still conflicting after {self._attempts} attempts")
