"""Which MySQL threads to kill: pt-kill's selection as a pure function.

``select_victims`` takes a processlist snapshot, the InnoDB transactions, the
operator's own connection id and a ``KillPolicy`` and returns the victims and
every other thread with the reason it was spared.  The steps follow pt-kill:

1. protected threads are dropped first, whatever the policy matches: the
   operator's own connection, system and configured users, replication threads,
   the event scheduler, daemon/background threads, threads already being killed,
   DDL and table maintenance (unless ``allowDdl``), and write transactions with
   many modified rows (unless ``allowLargeTransactions``), since killing them
   starts a rollback as long as the work done;
2. ignore options (any match drops the thread), then match options (all must
   match; nothing matches without one, unless ``matchAll``); ``matchBlocker``
   is one more match option: the thread holds locks others wait for
   (``lock_blockers``), so under lock contention the holder is chosen and its
   waiters never are;
3. threads are grouped into classes (``groupBy``); classes failing the class
   filters (``queryCount``, ``anyBusyTime``, ``eachBusyTime``) are spared whole;
   ``victims`` picks in each remaining class: the oldest, all, or all but the oldest.

``models.sqltext.fingerprint`` / ``digest`` normalise a statement (literals, numbers and IN
lists folded, comments dropped) so audit records group the same query shape.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.core.remediation.lock_holders import server_lock_blockers
from diagnosis_operator.models.actions import (
    GroupBy,
    InnodbTransaction,
    KillAudit,
    KillCommand,
    KillMode,
    KillPolicy,
    ProcessRow,
    ServerInfo,
    Victims,
)
from diagnosis_operator.models.sqltext import digest, fingerprint, strip_comments

REPLICATION_COMMANDS = frozenset(
    {
        "binlog dump",
        "binlog dump gtid",
        "register slave",
        "register replica",
        "slave_io",
        "slave_sql",
        "slave_worker",
        "replica_io",
        "replica_sql",
        "replica_worker",
        "table dump",
    }
)
# Replication threads whose command is just "Connect" / "Query" are told apart by state.
_REPLICATION_STATE = re.compile(
    r"(waiting for (master|source) to send event|"
    r"(slave|replica) has read all relay log|"
    r"waiting for the next event in relay log|"
    r"(master|source) has sent all binlog to (slave|replica)|"
    r"waiting for (an event from coordinator|work from sql thread|(slave|replica) workers)|"
    r"reading event from the relay log|queueing (master|source) event to the relay log|"
    r"connecting to (master|source))",
    re.IGNORECASE,
)
_DAEMON_COMMANDS = frozenset({"daemon", "killed"})
_BACKGROUND_STATE = re.compile(
    r"innodb|purge|buffer pool|page cleaner|event_scheduler", re.IGNORECASE
)
_DDL = re.compile(
    r"^\s*(alter|create|drop|rename|truncate|optimize|repair|analyze|check\s+table|"
    r"lock\s+tables|flush|grant|revoke)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Victim:
    row: ProcessRow
    reason: str
    fingerprint: str
    digest: str


@dataclass(frozen=True, slots=True)
class Skipped:
    row: ProcessRow
    reason: str
    protected: bool  # True: never killed whatever the policy says


@dataclass(frozen=True, slots=True)
class KillSelection:
    victims: tuple[Victim, ...]
    skipped: tuple[Skipped, ...]


# --------------------------------------------------------------------- protection


def protection_reason(
    *,
    row: ProcessRow,
    policy: KillPolicy,
    own_connection_id: int,
    transactions: Mapping[int, InnodbTransaction],
) -> str | None:
    """Why a thread must never be killed under this policy, or None.  Pure."""
    return _server_thread(row, own_connection_id=own_connection_id) or _policy_protects(
        row, policy=policy, transactions=transactions
    )


def _server_thread(row: ProcessRow, *, own_connection_id: int) -> str | None:
    """The server's own threads and ours: never a kill target, whatever the policy."""
    command = row.command.strip().lower()
    if row.id == own_connection_id:
        return "the operator's own connection"
    if command in REPLICATION_COMMANDS or _REPLICATION_STATE.search(row.state or ""):
        return f"replication thread ({row.command})"
    if row.user.strip().lower() == "event_scheduler":
        return "the event scheduler"
    if command in _DAEMON_COMMANDS:
        return f"daemon or background thread ({row.command})"
    return None


def _policy_protects(
    row: ProcessRow, *, policy: KillPolicy, transactions: Mapping[int, InnodbTransaction]
) -> str | None:
    """Threads the policy protects: its users, background work, DDL, large writes."""
    if row.user.strip().lower() in {name.lower() for name in policy.protected_users}:
        return f"protected user {row.user!r}"
    if not row.host and not row.info and _BACKGROUND_STATE.search(row.state or ""):
        return "background thread"
    if row.info and not policy.allow_ddl and _DDL.match(strip_comments(row.info)):
        return "DDL or table maintenance (allowDdl is off)"
    trx = transactions.get(row.id)
    if (
        trx is not None
        and not policy.allow_large_transactions
        and trx.rows_modified > policy.max_rows_modified
    ):
        return (
            f"write transaction with {trx.rows_modified} modified rows "
            f"(> maxRowsModified {policy.max_rows_modified}; a kill would roll it all back)"
        )
    return None


# --------------------------------------------------------------------- matching


def _field(row: ProcessRow, name: str) -> str:
    value = getattr(row, name)
    return "" if value is None else str(value)


_FIELDS = ("user", "host", "db", "command", "state", "info")


def _ignored(row: ProcessRow, policy: KillPolicy) -> str | None:
    for name in _FIELDS:
        pattern = getattr(policy, f"ignore_{name}")
        if pattern is not None and re.search(pattern, _field(row, name)):
            return f"ignored: {name} matches ignore pattern {pattern!r}"
    return None


def lock_blockers(
    *, transactions: Sequence[InnodbTransaction], processes: Sequence[ProcessRow]
) -> dict[int, str]:
    """The threads whose transactions block others, each with why.  Pure.

    The lock-wait tables name them (``InnodbTransaction.waiting_for``): a named
    holder that is not itself waiting is a blocker (one that also waits is a
    link of a chain, freed when its own blocker goes; a cycle is a deadlock,
    which InnoDB resolves by itself), unless it runs the very statement its
    waiters wait to run (``heads_a_queue``).  Without them: an idle (``Sleep``)
    connection whose transaction runs and started before every waiting
    transaction, the classic forgotten open transaction.  Nothing waits:
    nothing blocks.
    """
    by_thread = {trx.thread_id: trx for trx in transactions}
    waiters = [trx for trx in transactions if trx.waiting]
    if not waiters:
        return {}
    named: dict[int, int] = {}
    for trx in waiters:
        for holder in trx.waiting_for:
            named[holder] = named.get(holder, 0) + 1
    if named:
        rows = {row.id: row for row in processes}
        return {
            thread: f"holds locks {count} waiting transaction(s) wait for (lock-wait tables)"
            for thread, count in named.items()
            if not (thread in by_thread and by_thread[thread].waiting)
            and not heads_a_queue(
                rows.get(thread),
                [rows.get(t.thread_id) for t in waiters if thread in t.waiting_for],
            )
        }
    starts = [trx.started for trx in waiters if trx.started is not None]
    if not starts:
        return {}
    first_wait = min(starts)
    idle = {row.id: row for row in processes if row.command.strip().lower() == "sleep"}
    return {
        trx.thread_id: (
            f"idle in a transaction open {first_wait - trx.started:g} s before the first of "
            f"{len(waiters)} waiting transaction(s) began"
        )
        for trx in transactions
        if not trx.waiting
        and trx.thread_id in idle
        and trx.started is not None
        and trx.started < first_wait
    }


def heads_a_queue(holder: ProcessRow | None, waiting: Sequence[ProcessRow | None]) -> bool:
    """Whether a lock holder runs the very statement shape every waiter waits to run.  Pure.

    Then it is the head of a queue on a hot row, not a blocker: InnoDB grants
    the lock to the next waiter when it ends (``catalog.locks``), so killing it
    fails one more request and frees nobody.
    """
    if holder is None or not holder.info or holder.command.strip().lower() == "sleep":
        return False
    shapes = {fingerprint(row.info) for row in waiting if row is not None and row.info}
    return shapes == {fingerprint(holder.info)}


def idle_open_transactions(
    *, transactions: Sequence[InnodbTransaction], processes: Sequence[ProcessRow]
) -> dict[int, str]:
    """The idle (``Sleep``) connections whose InnoDB transaction is open, each with why.  Pure.

    An open transaction keeps its read view, and InnoDB's purge cannot remove
    row versions newer than the oldest one (``catalog.transactions``); idle, it
    runs no statement that ``busyTime`` could match.  An idle connection with no
    transaction holds nothing back and is not one; nor is a waiting one (a
    victim of a lock).
    """
    idle = {row.id: row for row in processes if row.command.strip().lower() == "sleep"}
    return {
        trx.thread_id: f"idle {idle[trx.thread_id].time:g} s in an open transaction ({trx.state})"
        for trx in transactions
        if trx.thread_id in idle and not trx.waiting
    }


def _time_unmatched(row: ProcessRow, policy: KillPolicy) -> str | None:
    """Why a thread fails ``busyTime`` / ``idleTime``, or None."""
    if policy.busy_time is not None:
        busy_commands = {c.lower() for c in policy.kill_busy_commands}
        if row.command.lower() not in busy_commands:
            return f"not busy: command {row.command!r} is not one of {sorted(busy_commands)}"
        if not row.time > policy.busy_time:
            return f"busy {row.time:g} s, not over busyTime {policy.busy_time:g} s"
    if policy.idle_time is not None:
        if row.command.lower() != "sleep":
            return f"not idle: command {row.command!r}"
        if not row.time > policy.idle_time:
            return f"idle {row.time:g} s, not over idleTime {policy.idle_time:g} s"
    return None


def _unmatched(
    row: ProcessRow, policy: KillPolicy, blockers: Mapping[int, str] | None = None
) -> str | None:
    """Why a thread does not match, or None when it matches.  Every given option must match."""
    if policy.match_blocker and row.id not in (blockers or {}):
        return "holds no lock another transaction waits for (matchBlocker)"
    reason = _time_unmatched(row, policy)
    if reason is not None:
        return reason
    given = [policy.match_blocker, policy.busy_time is not None, policy.idle_time is not None]
    for name in _FIELDS:
        pattern = getattr(policy, f"match_{name}")
        if pattern is None:
            continue
        given.append(True)
        if not re.search(pattern, _field(row, name)):
            return f"{name} does not match {pattern!r}"
    if not any(given) and not policy.match_all:
        return "no match option given (set matchAll to match every unprotected thread)"
    return None


def _describe_match(
    row: ProcessRow, policy: KillPolicy, blockers: Mapping[int, str] | None = None
) -> str:
    parts: list[str] = []
    if policy.match_blocker:
        parts.append(f"blocker: {(blockers or {}).get(row.id, 'holds locks others wait for')}")
    if policy.busy_time is not None:
        parts.append(f"busy {row.time:g} s > {policy.busy_time:g} s")
    if policy.idle_time is not None:
        parts.append(f"idle {row.time:g} s > {policy.idle_time:g} s")
    parts.extend(
        f"{name} ~ {getattr(policy, f'match_{name}')!r}"
        for name in _FIELDS
        if getattr(policy, f"match_{name}") is not None
    )
    return ", ".join(parts) if parts else "matchAll"


def _class_key(policy: KillPolicy) -> Callable[[ProcessRow], str]:
    if policy.group_by is GroupBy.NONE:
        return lambda row: ""
    if policy.group_by is GroupBy.FINGERPRINT:
        return lambda row: fingerprint(row.info or "")
    name = policy.group_by.value
    return lambda row: _field(row, name)


def _class_filtered(members: Sequence[ProcessRow], policy: KillPolicy) -> str | None:
    """Why a whole class is spared by pt-kill's class filters, or None."""
    if policy.query_count is not None and len(members) < policy.query_count:
        return f"class has {len(members)} threads, fewer than queryCount {policy.query_count}"
    if policy.any_busy_time is not None and not any(r.time > policy.any_busy_time for r in members):
        return f"no thread in its class runs longer than anyBusyTime {policy.any_busy_time:g} s"
    if policy.each_busy_time is not None and not all(
        r.time > policy.each_busy_time for r in members
    ):
        limit = policy.each_busy_time
        return f"not every thread in its class runs longer than eachBusyTime {limit:g} s"
    return None


def select_victims(
    *,
    processes: Sequence[ProcessRow],
    transactions: Sequence[InnodbTransaction],
    policy: KillPolicy,
    own_connection_id: int,
) -> KillSelection:
    """pt-kill's selection over one processlist snapshot.  Pure.

    Every row ends up either in ``victims`` or in ``skipped`` with a reason.
    """
    trx_by_thread = {trx.thread_id: trx for trx in transactions}
    blockers = _blockers(transactions=transactions, processes=processes, policy=policy)
    skipped: list[Skipped] = []
    candidates: list[ProcessRow] = []
    for row in processes:
        protected = protection_reason(
            row=row, policy=policy, own_connection_id=own_connection_id, transactions=trx_by_thread
        )
        if protected is not None:
            skipped.append(Skipped(row=row, reason=f"protected: {protected}", protected=True))
            continue
        reason = _ignored(row, policy) or _unmatched(row, policy, blockers)
        if reason is not None:
            skipped.append(Skipped(row=row, reason=reason, protected=False))
            continue
        candidates.append(row)

    classes: dict[str, list[ProcessRow]] = {}
    key = _class_key(policy)
    for row in candidates:
        classes.setdefault(key(row), []).append(row)

    victims: list[Victim] = []
    for members in classes.values():
        chosen, spared = _choose_in_class(members, policy, blockers)
        victims.extend(chosen)
        skipped.extend(spared)
    victims.sort(key=lambda victim: victim.row.id)
    return KillSelection(victims=tuple(victims), skipped=tuple(skipped))


def _blockers(
    *,
    transactions: Sequence[InnodbTransaction],
    processes: Sequence[ProcessRow],
    policy: KillPolicy,
) -> dict[int, str]:
    """What ``matchBlocker`` matches: the lock holders while transactions wait for locks;
    with ``idleTime`` and nothing waiting, the idle open transactions (purge held back).
    """
    if not policy.match_blocker:
        return {}
    if policy.idle_time is None or any(trx.waiting for trx in transactions):
        # row locks first; else a global read or metadata lock's idle holder (``lock_holders``)
        found = lock_blockers(transactions=transactions, processes=processes)
        return found or server_lock_blockers(processes)
    return idle_open_transactions(transactions=transactions, processes=processes)


def _choose_in_class(
    members: list[ProcessRow], policy: KillPolicy, blockers: Mapping[int, str]
) -> tuple[list[Victim], list[Skipped]]:
    """The victims of one class of matching threads, and the ones spared (with why)."""
    class_reason = _class_filtered(members, policy)
    if class_reason is not None:
        return [], [Skipped(row=row, reason=class_reason, protected=False) for row in members]
    # Oldest first: the longest time; ties broken by the lower (older) thread id.
    members.sort(key=lambda row: (-row.time, row.id))
    oldest, rest = members[0], members[1:]
    if policy.victims is Victims.OLDEST:
        chosen, spared = [oldest], rest
        spare_reason = "spared: not the oldest in its class (victims=oldest)"
    elif policy.victims is Victims.ALL:
        chosen, spared = members, []
        spare_reason = ""
    else:
        chosen, spared = rest, [oldest]
        spare_reason = "spared: the oldest in its class (victims=all-but-oldest)"
    victims = [
        Victim(
            row=row,
            reason=f"matched: {_describe_match(row, policy, blockers)}",
            fingerprint=fingerprint(row.info or ""),
            digest=digest(row.info or ""),
        )
        for row in chosen
    ]
    return victims, [Skipped(row=row, reason=spare_reason, protected=False) for row in spared]


def kill_command(*, row: ProcessRow, mode: KillMode, server: ServerInfo) -> KillCommand:
    """The kill for one victim: ``KILL QUERY ID`` on MariaDB when the query id is known.  Pure."""
    if mode is KillMode.QUERY and server.kills_by_query_id and row.query_id:
        return KillCommand(thread_id=row.id, mode=mode, query_id=row.query_id)
    return KillCommand(thread_id=row.id, mode=mode)


def describe_kill(command: KillCommand) -> str:
    """The statement shape for audit records, e.g. ``KILL QUERY ID 42``.  Pure."""
    if command.query_id is not None:
        return f"KILL QUERY ID {command.query_id}"
    verb = "KILL QUERY" if command.mode is KillMode.QUERY else "KILL CONNECTION"
    return f"{verb} {command.thread_id}"


def audit_record(
    *,
    victim: Victim,
    command: KillCommand,
    server: str,
    at: float,
    executed: bool,
    outcome: str,
) -> KillAudit:
    """The audit record of one kill (or of a print-only selection).  Pure."""
    row = victim.row
    return KillAudit(
        at=at,
        server=server,
        thread_id=row.id,
        user=row.user,
        host=row.host,
        db=row.db,
        time=row.time,
        digest=victim.digest,
        fingerprint=victim.fingerprint,
        command=describe_kill(command),
        reason=victim.reason,
        executed=executed,
        outcome=outcome,
    )
