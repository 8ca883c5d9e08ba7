"""A data store's deadlocks that its callers did not feel: retried, not an outage.  Pure.

InnoDB detects a deadlock at once and rolls one transaction back; "you must write
your applications so that they are always prepared to re-issue a transaction if it
gets rolled back because of a deadlock", and deadlocks "are not dangerous unless
they are so frequent that you cannot run certain transactions at all" (MySQL
"Deadlocks in InnoDB" and "How to Minimize and Handle Deadlocks":
https://dev.mysql.com/doc/refman/8.0/en/innodb-deadlocks.html,
https://dev.mysql.com/doc/refman/8.0/en/innodb-deadlocks-handling.html; PostgreSQL
likewise aborts one of the transactions: "Explicit Locking, Deadlocks",
https://www.postgresql.org/docs/current/explicit-locking.html#LOCKING-DEADLOCKS).
Two queue workers claiming rows in opposite orders deadlock every few seconds and
retry; with ``innodb_print_all_deadlocks`` every one is dumped in the error log.
A store's rise of error/warn lines made (``SHED_SHARE``) of deadlock lines is
judged as its deadlock lines are by the incident gate: an incident only when the
store's callers felt it (their errors, latency or error lines), as a slow log is.
"""

from __future__ import annotations

from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence
from diagnosis_operator.core.diagnosis.logs import LogCategory
from diagnosis_operator.core.diagnosis.quiet_lines import store_error_lines
from diagnosis_operator.core.diagnosis.shedding import SHED_MIN_LINES, SHED_SHARE
from diagnosis_operator.core.diagnosis.signal_types import Detection


def deadlock_category(ev: ComponentEvidence, detection: Detection) -> LogCategory | None:
    """Pure: ``DEADLOCK`` when a data store's rise of error/warn lines is mostly its
    deadlock lines (``None``: it is not, or the component is no store)."""
    lines = store_error_lines(ev, detection)
    if lines is None:
        return None
    deadlocks = sum(1 for e in lines if e.category is LogCategory.DEADLOCK)
    if deadlocks < SHED_MIN_LINES or deadlocks < SHED_SHARE * len(lines):
        return None
    return LogCategory.DEADLOCK
