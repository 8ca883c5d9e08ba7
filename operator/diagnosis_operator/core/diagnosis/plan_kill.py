"""Which MySQL statements or transactions a kill should end, if any.  Pure.

The rule of every kill: end the one that holds the others back, never its
victims, and nothing when no one does.

* **Lock contention** (deadlocks, lock-wait timeouts, row-lock waits, a watcher
  naming the holder): the kill carries ``matchBlocker``, so the executor ends
  the transaction the others wait on (``catalog.locks``), unless long scans
  are in the slow log (they hold the locks: a busy-time kill aims at them).
  When the watchers name a different holder nearly every time
  (``no_single_blocker``), no transaction blocks: the waiters queue on a hot
  row and take the lock in turn; killing the holder of the moment hands the
  lock to the next one.  No kill: the remedy is in the application.
* **An idle transaction holding purge back** (``catalog.transactions``): the
  history list length grows while an old transaction sits idle (``Sleep``) in
  ``INNODB_TRX``: the kill ends idle open transactions (``matchBlocker`` with
  ``idleTime``, its connection, since it runs no statement).
* **Runaway statements**: a busy-time kill below the shortest slow run, with the
  literal head of the statement when one dominates.  Only statements that did
  work of their own count: a slow statement that read few rows
  (``SlowQuery.read_little``) waited for something else (a lock, a starved
  buffer pool, the disk) and is a victim; a slow log of victims only calls for
  no kill.  Connections that ran out still call for one (long holders free
  the slots), with the default busy time.
* **Runaway statements not yet in the slow log** (``catalog.runaway``): the
  processlist shows threads running a statement in a state of work for far
  longer than the workload's, still running, while the server's row reads rose
  (``long_running``): a busy-time kill below their age.  The same ages while the
  server reads less are the workload's statements slowed by something else: no kill.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from diagnosis_operator.catalog.locks import (
    BLOCKING_THREAD,
    LOCK_WAIT_SERIES,
    LOCK_WAIT_WORDS,
    MIN_HOLDER_SIGHTINGS,
    SINGLE_BLOCKER_SHARE,
)
from diagnosis_operator.catalog.server_locks import (
    MIN_UNSTARTED_WRITES,
    NO_LOCK_TIME_SHARE,
    ROW_STATEMENT,
    SERVER_LOCK_STATE_LABELS,
    STATE_LABEL,
    THREAD_STATE_SERIES,
    UNSTARTED_SHARE,
    UNSTARTED_WRITE_SECONDS,
)
from diagnosis_operator.catalog.transactions import (
    HISTORY_LENGTH_SERIES,
    HISTORY_LENGTH_VALUE,
    IDLE_COMMAND,
    LONG_IDLE_TRANSACTION_SECONDS,
    TRANSACTION_AGE,
    TRANSACTION_THREAD,
)
from diagnosis_operator.core.diagnosis.evidence import ComponentEvidence, incident_events
from diagnosis_operator.core.diagnosis.logs import (
    LogCategory,
    SlowQuery,
    statement_fingerprint,
    statement_prefix,
)
from diagnosis_operator.core.diagnosis.long_running import LongRunning, reads_rose
from diagnosis_operator.core.diagnosis.signal_types import Z_THRESHOLD
from diagnosis_operator.models.findings import ActionType, ProposedRemediation

# Busy time (seconds) proposed when connections ran out but no slow query was timed.
DEFAULT_BUSY_TIME = 30
MIN_BUSY_TIME = 1
# A history list length that ends this much above where it began has grown.
HISTORY_GROWTH = 1.1


@dataclass(frozen=True, slots=True)
class IdleTransaction:
    """An open transaction whose connection is idle, as a watcher's line names it."""

    thread: str
    age: int  # seconds its transaction has been open


def lock_contention(ev: ComponentEvidence) -> bool:
    """Pure: whether a database's incident logs show transactions fighting over locks.

    New deadlocks, or lock-wait timeouts among the lines of a category that is
    new in the incident (an ordinary hour may hold a stray one).
    """
    if LogCategory.DEADLOCK in ev.new_categories:
        return True
    return any(
        any(word in event.line.lower() for word in LOCK_WAIT_WORDS)
        for category in ev.new_categories
        for event in incident_events(evidence=ev, category=category)
    )


def waits_for_locks(ev: ComponentEvidence) -> bool:
    """Pure: whether transactions wait for each other's locks on this database.

    Its logs say so (``lock_contention``), a lock-wait watcher in its logs names
    the thread others wait on (``blocking_pid`` of the sys schema's
    ``innodb_lock_waits`` and ``schema_table_lock_waits`` views: row and
    metadata locks), its slow statements spent their time waiting for locks
    (``SlowQuery.lock_victim``) or never reached their rows (``never_reached_rows``:
    a global read lock or a metadata lock), its own row-lock wait series rose
    (``catalog.locks.LOCK_WAIT_SERIES``), or its threads waiting in a server-level
    lock state rose (``server_lock_waiters``).
    """
    if lock_contention(ev) or holder_sightings(ev) or never_reached_rows(ev):
        return True
    if server_lock_waiters(ev):
        return True
    if any(e.slow_query is not None and e.slow_query.lock_victim for e in ev.slow_queries):
        return True
    return _series_rose(ev, LOCK_WAIT_SERIES)


def server_lock_waiters(ev: ComponentEvidence) -> list[str]:
    """Pure: the server-level lock states whose thread count rose on this database.

    mysqld_exporter's processlist gauge by state (``catalog.server_locks``:
    "Waiting for global read lock", "Waiting for table flush", "Waiting for table
    metadata lock", with spaces or underscores) rose significantly: threads queue
    behind a lock the server holds for one session, not behind rows.
    """
    found: list[str] = []
    for d in ev.metric_detections:
        state = d.signal.labels.get(STATE_LABEL) or ""
        if (
            d.anomaly.direction == "up"
            and d.score >= Z_THRESHOLD
            and THREAD_STATE_SERIES.search(d.signal.name) is not None
            and any(re.search(p, state, re.IGNORECASE) for p in SERVER_LOCK_STATE_LABELS)
            and state not in found
        ):
            found.append(state)
    return found


def never_reached_rows(ev: ComponentEvidence) -> bool:
    """Pure: whether slow statements waited for a server-level lock before reaching any row.

    At least ``MIN_UNSTARTED_WRITES`` slow statements naming their rows by a filter
    (reads, updates, deletes), and ``UNSTARTED_SHARE`` of the slow statements,
    examined no rows although they ran ``UNSTARTED_WRITE_SECONDS`` or longer, with
    (nearly) no lock time (``catalog.server_locks``: the global read lock of
    ``FLUSH TABLES WITH READ LOCK`` holds the writes, a table's metadata lock
    behind a waiting DDL holds its reads too).
    """
    found = [e.slow_query for e in ev.slow_queries if e.slow_query is not None]
    unstarted = [s for s in found if waited_before_rows(s)]
    return len(unstarted) >= MIN_UNSTARTED_WRITES and len(unstarted) >= UNSTARTED_SHARE * len(found)


def waited_before_rows(slow: SlowQuery) -> bool:
    """Pure: whether one slow statement naming its rows by a filter examined none for
    seconds with (nearly) no lock time: it waited for a server-level lock, not on
    reading (``catalog.server_locks``), and no index would make it faster."""
    query_time = slow.query_time or 0.0
    return (
        ROW_STATEMENT.search(slow.statement) is not None
        and bool(slow.where_columns)
        and slow.rows_examined == 0
        and query_time >= UNSTARTED_WRITE_SECONDS
        and (slow.lock_time or 0.0) < NO_LOCK_TIME_SHARE * query_time
    )


def _series_rose(ev: ComponentEvidence, series: re.Pattern[str]) -> bool:
    """Whether one of the component's series named by ``series`` rose significantly."""
    return any(
        d.anomaly.direction == "up"
        and d.score >= Z_THRESHOLD
        and (series.search(d.signal.family) or series.search(d.signal.name)) is not None
        for d in ev.metric_detections
    )


def own_queries_at_fault(ev: ComponentEvidence) -> bool:
    """Pure: whether a database's own statements cause trouble, not only suffer the load.

    Full scans (many rows read for few returned) or lock contention are the
    statements' doing; slow single-row reads under a flood of cache misses are
    not, and killing them only turns slow answers into errors.
    """
    if lock_contention(ev):
        return True
    return any(
        e.slow_query is not None and e.slow_query.full_scan_suspected for e in ev.slow_queries
    )


def holder_sightings(ev: ComponentEvidence) -> list[str]:
    """Pure: the lock holder each watcher line names (``blocking_pid``), one per line, in order."""
    if ev.logs is None:
        return []
    sightings = []
    for event in ev.logs.events:
        match = BLOCKING_THREAD.search(event.line)
        if match is not None:
            sightings.append(match.group(1))
    return sightings


def no_single_blocker(sightings: Sequence[str]) -> bool:
    """Pure: whether the holders named change so often that no one transaction blocks.

    At least ``MIN_HOLDER_SIGHTINGS`` sightings, and none of the holders named
    in ``SINGLE_BLOCKER_SHARE`` of them (``catalog.locks``: a hot row's queue).
    """
    if len(sightings) < MIN_HOLDER_SIGHTINGS:
        return False
    most = Counter(sightings).most_common(1)[0][1]
    return most < SINGLE_BLOCKER_SHARE * len(sightings)


def idle_transactions(ev: ComponentEvidence) -> list[IdleTransaction]:
    """Pure: long idle open transactions the database's own watcher lines name, oldest first.

    A line naming a transaction's connection (``catalog.transactions``), idle
    (``Command = Sleep``) and open for at least ``LONG_IDLE_TRANSACTION_SECONDS``;
    each thread once, with the longest age seen.
    """
    if ev.logs is None:
        return []
    ages: dict[str, int] = {}
    for event in ev.logs.events:
        line = event.line
        thread, age = TRANSACTION_THREAD.search(line), TRANSACTION_AGE.search(line)
        if thread is None or age is None or IDLE_COMMAND.search(line) is None:
            continue
        seconds = int(age.group(1))
        if seconds >= LONG_IDLE_TRANSACTION_SECONDS:
            ages[thread.group(1)] = max(seconds, ages.get(thread.group(1), 0))
    found = [IdleTransaction(thread=t, age=a) for t, a in ages.items()]
    return sorted(found, key=lambda trx: -trx.age)


def history_grows(ev: ComponentEvidence) -> bool:
    """Pure: whether the InnoDB history list length grew (purge falls behind).

    Its series rose (``catalog.transactions.HISTORY_LENGTH_SERIES``), or the
    lengths the database's own lines print end ``HISTORY_GROWTH`` times above
    where they began.
    """
    if _series_rose(ev, HISTORY_LENGTH_SERIES):
        return True
    lengths = [
        int(match.group(1))
        for event in (ev.logs.events if ev.logs is not None else ())
        for match in [HISTORY_LENGTH_VALUE.search(event.line)]
        if match is not None
    ]
    return len(lengths) >= 2 and lengths[-1] > HISTORY_GROWTH * max(lengths[0], 1)


def kill_queries(name: str, ev: ComponentEvidence) -> ProposedRemediation | None:
    """Pure: the kill this database's evidence calls for, or ``None`` (see the module)."""
    found = [e.slow_query for e in ev.slow_queries if e.slow_query is not None]
    # statements that only waited for another transaction's locks are its victims
    victims = [s for s in found if s.lock_victim]
    slow = [s for s in found if not s.lock_victim]
    # ... and so are those that read little: they waited for something else
    runaway = [s for s in slow if not s.read_little]
    starved = len(slow) - len(runaway)
    exhausted = LogCategory.TOO_MANY_CONNECTIONS in ev.new_categories
    if waits_for_locks(ev) and not any(s.full_scan_suspected for s in runaway):
        sightings = holder_sightings(ev)
        if no_single_blocker(sightings):
            return None
        return _kill_blocker(
            name,
            victims=victims,
            exhausted=exhausted,
            named=_most_named(sightings),
            states=server_lock_waiters(ev),
        )
    idle = idle_transactions(ev)
    if idle and history_grows(ev):
        return _kill_idle_transaction(name, idle)
    if not runaway and not exhausted:
        running = ev.long_running if reads_rose(ev.metric_detections) else ()
        return _kill_long_running(name, running, starved=starved) if running else None
    return _kill_runaway(
        name,
        runaway=runaway,
        starved=starved,
        exhausted=exhausted,
        locked=waits_for_locks(ev),
    )


def _kill_runaway(
    name: str, *, runaway: Sequence[SlowQuery], starved: int, exhausted: bool, locked: bool
) -> ProposedRemediation:
    """A busy-time kill of the statements that run away (pt-kill's ``--busy-time``)."""
    params: dict[str, Any] = {}
    reasons = []
    timed = [s.query_time for s in runaway if s.query_time is not None and s.query_time > 0]
    if timed:
        # below the shortest slow run seen, so the runaway statements are caught
        params["busyTime"] = max(MIN_BUSY_TIME, math.floor(0.8 * min(timed)))
        reasons.append(f"slow queries ran {min(timed):.1f}-{max(timed):.1f} s")
    else:
        params["busyTime"] = DEFAULT_BUSY_TIME
    params.update(_dominant_statement(runaway))
    if starved:
        reasons.append(
            f"{starved} slow statement(s) read few rows: they waited, they are not "
            "the trouble, and the busy time is not taken from them"
        )
    if exhausted:
        reasons.append("connections ran out (too many connections)")
    if locked:
        reasons.append(
            "transactions wait for locks while long scans run: end the scans, "
            "which hold the locks the others wait for"
        )
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons) if reasons else f"{name}: long-running queries",
        params=params,
    )


def _kill_long_running(
    name: str, running: Sequence[LongRunning], *, starved: int
) -> ProposedRemediation:
    """A busy-time kill of the statements the processlist shows running away, not yet in the
    slow log (``catalog.runaway``): below the youngest mean age seen of their run, far above
    the time of the statements that wait behind them."""
    youngest = min(r.youngest for r in running)
    groups = "; ".join(
        f"{r.threads} thread(s) {r.command} in state {r.state!r}, their mean age "
        f"{r.youngest:.0f} s growing to {r.oldest:.0f} s (the running threads' at the "
        f"window's beginning: {r.typical:.0f} s)"
        for r in running[:3]
    )
    reasons = [
        f"statements still running far longer than the workload's, reading rows: {groups}; "
        "the server's row reads rose: they consume it while the others wait their turn"
    ]
    if starved:
        reasons.append(f"{starved} slow statement(s) read few rows: they waited, not killed")
    reasons.append(
        "end the long-running statements (KILL QUERY, the busy time below their age); the "
        "short statements waiting behind them are not matched; then keep such work off the "
        "primary or bound it (max_statement_time)"
    )
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons),
        params={"busyTime": max(MIN_BUSY_TIME, math.floor(0.8 * youngest))},
    )


def _dominant_statement(slow: Sequence[SlowQuery]) -> dict[str, Any]:
    """``matchInfo`` (a literal head) and ``statement`` when one statement is half the log."""
    if not slow:
        return {}
    fingerprints = Counter(statement_fingerprint(s.statement) for s in slow)
    top, count = fingerprints.most_common(1)[0]
    if count * 2 < len(slow):
        return {}
    example = next(s for s in slow if statement_fingerprint(s.statement) == top)
    prefix = statement_prefix(example.statement)
    if len(prefix) < 12:
        return {}
    return {"matchInfo": prefix, "statement": top}


def _most_named(sightings: Sequence[str]) -> list[str]:
    """The holders named most often (at most three, most named first)."""
    return [thread for thread, _ in Counter(sightings).most_common(3)]


def _kill_blocker(
    name: str,
    *,
    victims: Sequence[SlowQuery],
    exhausted: bool,
    named: Sequence[str],
    states: Sequence[str] = (),
) -> ProposedRemediation:
    """Kill the transaction the others wait on (``matchBlocker``), never the waiters."""
    reasons = ["transactions wait for locks held by another session"]
    if states:
        reasons.append(
            f"threads queue in the processlist states {', '.join(states)}: a server-level "
            "lock one session holds; a table flush (FLUSH TABLES WITH READ LOCK) waits for "
            "the statements running since before it, which keep the tables open: they are "
            "the blockers, not the threads queued behind the flush"
        )
    if named:
        reasons.append(f"the logs name the holding thread(s) {', '.join(named)}")
    if victims:
        shapes = len({statement_fingerprint(s.statement) for s in victims})
        reasons.append(
            f"the {len(victims)} slow statement(s) of {shapes} shape(s) in the slow log "
            "only waited for those locks: they are the victims and are not killed"
        )
    if exhausted:
        reasons.append("connections ran out (too many connections) as the waiters piled up")
    reasons.append(
        "end the blocking transaction: the one the lock-wait tables name, an idle "
        "transaction older than every waiter, or the one idle session that held a global "
        "read or metadata lock since before the waiters (its connection, since an idle one "
        "runs no query)"
    )
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=f"{name}: " + "; ".join(reasons),
        params={"matchBlocker": True, "mode": "connection"},
    )


def _kill_idle_transaction(name: str, idle: Sequence[IdleTransaction]) -> ProposedRemediation:
    """End the idle open transaction that holds purge back (its connection: it runs nothing)."""
    oldest = idle[0]
    threads = ", ".join(trx.thread for trx in idle[:3])
    return ProposedRemediation(
        action=ActionType.KILL_MYSQL_QUERIES,
        target=name,
        reason=(
            f"{name}: the InnoDB history list length grows while a transaction sits idle in "
            f"its connection (thread(s) {threads}; the oldest open {oldest.age / 3600:.1f} h): "
            "its read view keeps purge from removing old row versions, and every read walks "
            "longer version chains; end the idle open transaction (its connection, since an "
            f"idle one runs no query; idle over {LONG_IDLE_TRANSACTION_SECONDS} s)"
        ),
        params={
            "matchBlocker": True,
            "mode": "connection",
            "idleTime": LONG_IDLE_TRANSACTION_SECONDS,
        },
    )
