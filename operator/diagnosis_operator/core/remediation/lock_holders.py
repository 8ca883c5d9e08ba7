"""The holder of a server-level lock (global read lock, metadata lock), from the processlist.  Pure.

Statements waiting for such a lock show it in their processlist state
(``catalog.server_locks.SERVER_LOCK_STATES``); no ``INNODB_TRX`` lock-wait row
names the holder, which is often idle (the backup session that ran ``FLUSH
TABLES WITH READ LOCK``, a forgotten console).  The holder took the lock before
the first waiter began waiting and has done nothing since: it is an idle
(``Sleep``) connection, itself not waiting, idle at least as long as the
longest waiter has waited.  Only when exactly one connection fits is it named;
several that fit (an idle pool) cannot be told apart, and none is named: the
kill then ends nothing (fail closed).

When threads wait for a table flush (``FLUSH TABLES WITH READ LOCK`` issued while
a long statement runs, ``catalog.server_locks``), the flush waits for the
statements that keep the tables open: every statement running (``Query``, itself
waiting for no server lock) since before the longest waiter began to wait is a
holder, and all are named; an idle connection keeps no table open.
"""

from __future__ import annotations

from collections.abc import Sequence

from diagnosis_operator.catalog.server_locks import SERVER_LOCK_STATES, TABLE_FLUSH_STATE
from diagnosis_operator.models.actions import ProcessRow


def _waits_for_server_lock(row: ProcessRow) -> bool:
    return row.state is not None and SERVER_LOCK_STATES.search(row.state) is not None


def server_lock_blockers(processes: Sequence[ProcessRow]) -> dict[int, str]:
    """Pure: the one idle connection holding the server-level lock others wait for, with why."""
    waiters = [row for row in processes if _waits_for_server_lock(row)]
    if not waiters:
        return {}
    longest = max(row.time for row in waiters)
    flush = [row for row in waiters if TABLE_FLUSH_STATE.search(row.state or "") is not None]
    if flush:
        return _flush_holders(processes, longest=longest, waiting=len(waiters))
    idle = [
        row
        for row in processes
        if row.command.strip().lower() == "sleep"
        and not _waits_for_server_lock(row)
        and row.time >= longest
    ]
    if len(idle) != 1:
        return {}
    holder = idle[0]
    state = waiters[0].state or "a server lock"
    return {
        holder.id: (
            f"idle {holder.time:g} s, since before the first of {len(waiters)} statement(s) "
            f"began waiting ({state.lower()}): the only session that can hold that lock"
        )
    }


def _flush_holders(
    processes: Sequence[ProcessRow], *, longest: float, waiting: int
) -> dict[int, str]:
    """The statements running since before the first waiter: they keep the tables open."""
    return {
        row.id: (
            f"running {row.time:g} s, since before the first of {waiting} statement(s) began "
            "waiting (waiting for table flush): it keeps open the tables the flush waits for"
        )
        for row in processes
        if row.command.strip().lower() == "query"
        and not _waits_for_server_lock(row)
        and row.time >= longest
    }
