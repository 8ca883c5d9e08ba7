"""The cluster-wide action ledger: its data shape and the append decision.  Pure.

Every action the operator really runs is recorded here *before* it runs (a
reservation), whichever Diagnosis asked for it.  The ledger is what makes the
limits hold across diagnoses, replicas and restarts:

* the global budget: at most ``GlobalBudget.max_actions`` executed actions in
  any sliding ``window_seconds``, all action types and diagnoses together;
* the per-action budgets and cooldowns of ``core/guard.py``, which read the
  same entries;
* idempotency: one executed entry per idempotency key.

The store (a ConfigMap, see ``adapters/kubernetes.py``) is written with
optimistic concurrency: read the ledger and its version, decide with
``may_append`` (and the guards), write ``appended(...)`` with the version read;
on a conflict re-read and decide again.  So two writers racing for the last
unit of budget cannot both win.

The stored text is JSON::

    {"format": 1, "entries": [{"key": ..., "action": "drain-pod", "targets": [...],
      "at": <epoch seconds>, "outcome": "executed", "detail": "..."}, ...]}
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, replace
from typing import Any

from diagnosis_operator.models.actions import (
    Allowed,
    DenialCode,
    Denied,
    LedgerEntry,
    LedgerOutcome,
    Verdict,
)
from diagnosis_operator.models.findings import ActionType

LEDGER_FORMAT = 1
LEDGER_KEY = "ledger.json"  # the ConfigMap data key


class LedgerFormatError(ValueError):
    """The stored ledger cannot be read; the message says where and what."""


@dataclass(frozen=True, slots=True)
class GlobalBudget:
    """The cluster-wide limit on executed actions, and how long entries are kept.

    ``retention_seconds`` must cover the longest budget window and cooldown of any
    policy, or those limits would forget entries too early; ``max_entries`` bounds
    the stored size (a ConfigMap holds 1 MiB).
    """

    max_actions: int = 10
    window_seconds: float = 3600.0
    retention_seconds: float = 7 * 86400.0
    max_entries: int = 2000

    def __post_init__(self) -> None:
        if self.max_actions < 0:
            raise ValueError(f"global budget max_actions must be >= 0, got {self.max_actions}")
        if not (self.window_seconds > 0 and math.isfinite(self.window_seconds)):
            raise ValueError(f"global budget window must be > 0 s, got {self.window_seconds}")
        if self.retention_seconds < self.window_seconds:
            raise ValueError("ledger retention must be at least the global budget window")
        if self.max_entries < max(1, self.max_actions):
            raise ValueError("ledger max_entries must be at least the global budget")


@dataclass(frozen=True, slots=True)
class Ledger:
    entries: tuple[LedgerEntry, ...] = ()

    def find(self, key: str) -> LedgerEntry | None:
        for entry in self.entries:
            if entry.key == key:
                return entry
        return None

    def used(self, *, now: float, window_seconds: float) -> int:
        """Executed entries inside the sliding window ``(now - window, now]``."""
        return sum(
            1
            for entry in self.entries
            if entry.counts_against_budget and now - window_seconds < entry.at <= now
        )


def entry_to_json(entry: LedgerEntry) -> dict[str, Any]:
    return {
        "key": entry.key,
        "action": entry.action.value,
        "targets": list(entry.targets),
        "at": entry.at,
        "outcome": entry.outcome.value,
        "detail": entry.detail,
    }


def entry_from_json(data: Any, *, where: str) -> LedgerEntry:
    if not isinstance(data, dict):
        raise LedgerFormatError(f"{where}: expected an object, got {type(data).__name__}")
    try:
        targets = data["targets"]
        if not isinstance(targets, list):
            raise TypeError("targets must be a list")
        return LedgerEntry(
            key=str(data["key"]),
            action=ActionType(data["action"]),
            targets=tuple(str(target) for target in targets),
            at=float(data["at"]),
            outcome=LedgerOutcome(data["outcome"]),
            detail=str(data.get("detail", "")),
        )
    except (KeyError, TypeError, ValueError) as error:
        raise LedgerFormatError(f"{where}: {type(error).__name__}: {error}") from None


def encode(ledger: Ledger) -> str:
    """The stored text of a ledger.  Pure."""
    return json.dumps(
        {"format": LEDGER_FORMAT, "entries": [entry_to_json(e) for e in ledger.entries]},
        separators=(",", ":"),
        sort_keys=True,
    )


def decode(text: str | None, *, where: str = LEDGER_KEY) -> Ledger:
    """Read a stored ledger; None or empty text is an empty ledger.  Pure.

    Raises ``LedgerFormatError``: an unreadable ledger must stop remediation, not be
    taken for an empty one (which would reset every budget).
    """
    if text is None or not text.strip():
        return Ledger()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise LedgerFormatError(f"{where}: not JSON: {error}") from None
    if not isinstance(data, dict) or data.get("format") != LEDGER_FORMAT:
        raise LedgerFormatError(f"{where}: expected an object with format {LEDGER_FORMAT}")
    entries = data.get("entries")
    if not isinstance(entries, list):
        raise LedgerFormatError(f"{where}: entries must be a list")
    return Ledger(
        entries=tuple(
            entry_from_json(item, where=f"{where}: entries[{index}]")
            for index, item in enumerate(entries)
        )
    )


def may_append(*, ledger: Ledger, entry: LedgerEntry, budget: GlobalBudget, now: float) -> Verdict:
    """May ``entry`` be recorded now?  Pure.

    * an executed entry with the same key exists: ``Denied(ALREADY_DONE)`` -- the
      action was reserved or run before (by this or another process);
    * an executed entry would exceed the global budget in the window ending at
      ``now``: ``Denied(GLOBAL_BUDGET_EXHAUSTED)``;
    * otherwise ``Allowed`` (entries that do not count against the budget, e.g.
      ``failed``, are always allowed).
    """
    existing = ledger.find(entry.key)
    if existing is not None and existing.outcome is LedgerOutcome.EXECUTED:
        return Denied(
            DenialCode.ALREADY_DONE,
            f"{entry.action.value} {entry.key} is already in the ledger (at {existing.at:.0f})",
        )
    if entry.counts_against_budget:
        used = ledger.used(now=now, window_seconds=budget.window_seconds)
        if used >= budget.max_actions:
            return Denied(
                DenialCode.GLOBAL_BUDGET_EXHAUSTED,
                f"cluster-wide action budget spent: {used} of {budget.max_actions} "
                f"in the last {budget.window_seconds:.0f} s",
            )
    return Allowed(dry_run=False, reason="within the global budget")


def pruned(*, ledger: Ledger, budget: GlobalBudget, now: float) -> Ledger:
    """Entries still inside the retention, at most ``max_entries`` (newest kept).  Pure.

    Entries that count against the global budget window are never dropped for size:
    ``max_entries >= max_actions`` keeps them all.
    """
    kept = [e for e in ledger.entries if now - e.at < budget.retention_seconds]
    if len(kept) > budget.max_entries:
        in_window = [
            e for e in kept if e.counts_against_budget and now - budget.window_seconds < e.at <= now
        ]
        others = [e for e in kept if e not in in_window]
        others.sort(key=lambda e: e.at)
        room = max(0, budget.max_entries - len(in_window))
        kept = sorted(
            [*in_window, *others[len(others) - room :]] if room else in_window, key=lambda e: e.at
        )
    return Ledger(entries=tuple(kept))


def appended(*, ledger: Ledger, entry: LedgerEntry, budget: GlobalBudget, now: float) -> Ledger:
    """The ledger with ``entry`` recorded (replacing a non-executed entry of its key).  Pure.

    Call only after ``may_append`` allowed it.
    """
    rest = tuple(e for e in ledger.entries if e.key != entry.key)
    return pruned(ledger=Ledger(entries=(*rest, entry)), budget=budget, now=now)


def with_outcome(*, ledger: Ledger, key: str, outcome: LedgerOutcome, detail: str) -> Ledger:
    """The ledger with the entry of ``key`` given a new outcome (unchanged if absent).  Pure.

    Used when a reserved action turned out not to happen (e.g. an eviction blocked by
    a PodDisruptionBudget): a ``failed`` entry no longer spends budget.
    """
    return Ledger(
        entries=tuple(
            replace(entry, outcome=outcome, detail=detail) if entry.key == key else entry
            for entry in ledger.entries
        )
    )
