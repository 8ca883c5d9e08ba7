"""Log categories, their severity and names, and what a parsed line carries.  Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class LogCategory(StrEnum):
    DEADLOCK = "deadlock"
    TOO_MANY_CONNECTIONS = "too-many-connections"
    SLOW_QUERY = "slow-query"
    SLOW_COMMAND = "slow-command"
    UPSTREAM_ERROR = "upstream-error"
    TIMEOUT = "timeout"
    REFUSED = "refused"
    CONNECTION_LOST = "connection-lost"
    OUT_OF_MEMORY = "out-of-memory"
    ERROR = "error"
    WARNING = "warning"
    OTHER = "other"


SEVERITY: Mapping[LogCategory, float] = {
    LogCategory.DEADLOCK: 3.0,
    LogCategory.TOO_MANY_CONNECTIONS: 3.0,
    LogCategory.OUT_OF_MEMORY: 3.0,
    LogCategory.SLOW_QUERY: 2.0,
    LogCategory.UPSTREAM_ERROR: 2.0,
    LogCategory.TIMEOUT: 2.0,
    LogCategory.REFUSED: 2.0,
    LogCategory.SLOW_COMMAND: 1.5,
    LogCategory.CONNECTION_LOST: 1.5,
    LogCategory.ERROR: 1.0,
    LogCategory.WARNING: 0.3,
    LogCategory.OTHER: 0.0,
}

# How an event is named in a timeline ("first deadlock", ...).
EVENT_NAMES: Mapping[LogCategory, str] = {
    LogCategory.DEADLOCK: "deadlock",
    LogCategory.TOO_MANY_CONNECTIONS: "connection exhaustion (too many connections)",
    LogCategory.SLOW_QUERY: "slow query",
    LogCategory.SLOW_COMMAND: "slow command",
    LogCategory.UPSTREAM_ERROR: "5xx from upstream",
    LogCategory.TIMEOUT: "timeout",
    LogCategory.REFUSED: "connection refused",
    LogCategory.CONNECTION_LOST: "connection lost",
    LogCategory.OUT_OF_MEMORY: "out of memory",
    LogCategory.ERROR: "error",
    LogCategory.WARNING: "warning",
    LogCategory.OTHER: "log line",
}


# A slow statement that spent at least this share of its time acquiring locks waited.
LOCK_WAIT_SHARE = 0.5
# ... and that examined at most this many rows did little of its own (a point read or write).
FEW_ROWS_EXAMINED = 100
# A statement that examined this many rows (for few returned) may have scanned a table.
SCAN_ROWS_EXAMINED = 10_000


@dataclass(frozen=True, slots=True)
class SlowQuery:
    statement: str
    query_time: float | None  # seconds
    rows_examined: int | None
    rows_sent: int | None
    table: str | None
    where_columns: tuple[str, ...]
    lock_time: float | None = None  # seconds spent acquiring locks (the slow log's Lock_time)

    @property
    def full_scan_suspected(self) -> bool:
        """Many rows read for few returned, or an unindexed-looking filter that was slow.

        A statement that spent its time waiting for locks is no scan, whatever its
        filter looks like: it was slow because another transaction held its rows.
        """
        if self.rows_examined is not None:
            sent = max(self.rows_sent or 0, 1)
            return self.rows_examined >= SCAN_ROWS_EXAMINED and self.rows_examined >= 100 * sent
        if self.waited_for_locks:
            return False
        return bool(self.where_columns) and (self.query_time or 0.0) >= 1.0

    @property
    def waited_for_locks(self) -> bool:
        """Most of its time went to acquiring locks (``Lock_time`` >= half of ``Query_time``).

        The slow log's ``Lock_time`` is "the time to acquire locks"
        (https://dev.mysql.com/doc/refman/8.0/en/slow-query-log.html); a statement
        blocked on another transaction's rows spends nearly all of its time there.
        A server whose ``Lock_time`` leaves row-lock waits out simply never says so;
        the other signs of contention (lock-wait errors, row-lock series) remain.
        """
        if self.lock_time is None or not self.query_time or self.query_time <= 0:
            return False
        return self.lock_time >= LOCK_WAIT_SHARE * self.query_time

    @property
    def read_little(self) -> bool:
        """Known to have examined fewer rows than a scan (``SCAN_ROWS_EXAMINED``).

        Slow with little to read, it spent its time waiting: for locks, for a
        free buffer-pool page, for the disk, for a CPU.  It is a victim of what
        slowed the server; ending it frees nothing another statement waits for.
        """
        return self.rows_examined is not None and self.rows_examined < SCAN_ROWS_EXAMINED

    @property
    def lock_victim(self) -> bool:
        """A statement that waited for another transaction's locks and did little itself.

        Its time went to acquiring locks and it read few rows (a point read or
        a primary-key write): it is a victim of the transaction holding the
        rows, not the trouble.  Killing it only turns a wait into an error; no
        index makes it faster.  A statement that waited *and* scanned many rows
        is not a victim: its scan holds locks too.
        """
        if not self.waited_for_locks:
            return False
        return self.rows_examined is None or self.rows_examined <= FEW_ROWS_EXAMINED


@dataclass(frozen=True, slots=True)
class SlowCommand:
    command: str
    key: str | None
    duration: float | None  # seconds


@dataclass(frozen=True, slots=True)
class AccessRecord:
    client: str | None
    method: str | None
    path: str | None
    status: int | None
    agent: str | None
    latency: float | None  # seconds
    upstream: str | None
    # The line has an upstream field even when it names none ("-": none was reached).
    upstream_field: bool = False
    # Every upstream the proxy tried for this request, in order, when it names
    # several (nginx's ``$upstream_addr``: "If several servers were contacted
    # during request processing, their addresses are separated by commas"); a
    # failed request then failed on each of them, not on ``upstream`` alone.
    upstreams: tuple[str, ...] = ()

    @property
    def request_key(self) -> str:
        return f"{self.method or '?'} {self.path or '?'}"


@dataclass(frozen=True, slots=True)
class LogEvent:
    component: str
    instance: str | None
    ts: float
    category: LogCategory
    line: str
    query: str
    slow_query: SlowQuery | None = None
    slow_command: SlowCommand | None = None
    access: AccessRecord | None = None
    tables: tuple[str, ...] = ()

    @property
    def severity(self) -> float:
        return SEVERITY[self.category]


@dataclass(frozen=True, slots=True)
class LogTemplate:
    template: str
    count: int
    first_ts: float
    last_ts: float
    category: LogCategory
    example: str


@dataclass(frozen=True)
class ComponentLogs:
    """What the sampled lines of one component say."""

    component: str
    events: tuple[LogEvent, ...] = ()
    templates: tuple[LogTemplate, ...] = ()
    counts: Mapping[LogCategory, int] = field(default_factory=dict)

    def of(self, category: LogCategory) -> tuple[LogEvent, ...]:
        return tuple(e for e in self.events if e.category is category)

    def first(self, category: LogCategory) -> LogEvent | None:
        found = self.of(category)
        return min(found, key=lambda e: e.ts) if found else None
