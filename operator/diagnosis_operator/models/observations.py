"""Direct observations of a database or cache, read after the signals were diagnosed.

The Redis adapter returns these (slow log, INFO, LATENCY LATEST, key sizes); the
enrichment service gathers them with the MySQL ``EXPLAIN`` rows and hands them to
``core.enrich``, which turns them into evidence and recommendations.  Pure data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from diagnosis_operator.models.actions import ExplainRow

# Commands that administer or inspect the server rather than read or write data:
# they name no key and say nothing about the workload.
ADMIN_COMMANDS = frozenset(
    {
        "ACL", "AUTH", "BGREWRITEAOF", "BGSAVE", "CLIENT", "CLUSTER", "COMMAND", "CONFIG",
        "DBSIZE", "DEBUG", "ECHO", "FAILOVER", "FLUSHALL", "FLUSHDB", "FUNCTION", "HELLO",
        "INFO", "LASTSAVE", "LATENCY", "LOLWUT", "MEMORY", "MODULE", "MONITOR", "MULTI",
        "EXEC", "DISCARD", "OBJECT", "PING", "PSYNC", "QUIT", "READONLY", "READWRITE",
        "REPLCONF", "REPLICAOF", "RESET", "ROLE", "SAVE", "SCRIPT", "SELECT", "SHUTDOWN",
        "SLAVEOF", "SLOWLOG", "SWAPDB", "SYNC", "TIME", "WAIT", "WATCH", "UNWATCH",
    }
)  # fmt: skip
# Commands whose first argument is not a key.
KEYLESS_COMMANDS = frozenset({"KEYS", "SCAN", "RANDOMKEY", "PUBLISH", "SUBSCRIBE", "PSUBSCRIBE"})
SCRIPT_COMMANDS = frozenset({"EVAL", "EVALSHA", "EVAL_RO", "EVALSHA_RO", "FCALL", "FCALL_RO"})


@dataclass(frozen=True, slots=True)
class SlowlogEntry:
    """One ``SLOWLOG GET`` entry.  Redis shortens long arguments and long argument lists."""

    entry_id: int
    started: float  # epoch seconds
    duration: float  # seconds
    args: tuple[str, ...]  # the command and its arguments as logged
    client: str | None = None  # ip:port
    client_name: str | None = None

    @property
    def command(self) -> str:
        return self.args[0].upper() if self.args else ""

    @property
    def keys(self) -> tuple[str, ...]:
        """The keys the command names, as far as its arguments show them."""
        command = self.command
        if not command or command in ADMIN_COMMANDS or command in KEYLESS_COMMANDS:
            return ()
        if command in SCRIPT_COMMANDS:
            if len(self.args) > 2 and self.args[2].isdigit():
                count = int(self.args[2])
                return tuple(self.args[3 : 3 + count])
            return ()
        if command in ("MGET", "DEL", "UNLINK", "EXISTS", "TOUCH", "WATCH"):
            return tuple(self.args[1:])
        if command in ("MSET", "MSETNX"):
            return tuple(self.args[1::2])
        return (self.args[1],) if len(self.args) > 1 else ()

    @property
    def key(self) -> str | None:
        keys = self.keys
        return keys[0] if keys else None


@dataclass(frozen=True, slots=True)
class LatencyEvent:
    """One ``LATENCY LATEST`` row: an event class and its latest and worst spikes."""

    event: str
    latest_at: float  # epoch seconds
    latest: float  # seconds
    worst: float  # seconds


@dataclass(frozen=True, slots=True)
class KeySize:
    """How big one key's value is: its type, element count (or string length), memory."""

    key: str
    value_type: str  # "string" | "hash" | "set" | "zset" | "list" | "stream" | "none" | ...
    length: int | None
    memory_bytes: int | None


@dataclass(frozen=True, slots=True)
class RedisInfo:
    """The INFO fields the enrichment reads (server, clients, memory, stats, keyspace).

    Counters (``rejected_connections``, ``evicted_keys``) count since the server
    started; ``uptime_seconds`` says how long that is.
    """

    version: str | None = None
    uptime_seconds: int | None = None
    connected_clients: int | None = None
    blocked_clients: int | None = None
    maxclients: int | None = None
    rejected_connections: int | None = None
    evicted_keys: int | None = None
    used_memory: int | None = None
    maxmemory: int | None = None
    maxmemory_policy: str | None = None
    keys_by_db: Mapping[str, int] = field(default_factory=dict)

    @property
    def total_keys(self) -> int:
        return sum(self.keys_by_db.values())


@dataclass(frozen=True, slots=True)
class RedisObservation:
    """What one Redis server showed when it was asked directly."""

    component: str
    server: str  # host:port/db, never credentials
    info: RedisInfo | None = None
    slowlog: tuple[SlowlogEntry, ...] = ()
    slowlog_limit: int = 0
    slowlog_threshold: float | None = None  # slowlog-log-slower-than, seconds, when known
    latency: tuple[LatencyEvent, ...] = ()
    key_sizes: tuple[KeySize, ...] = ()


@dataclass(frozen=True, slots=True)
class ExplainObservation:
    """``EXPLAIN`` of one slow statement the diagnosis found."""

    component: str
    statement: str  # the SELECT explained, as validated (comments removed)
    rows: tuple[ExplainRow, ...]
    because: str  # the evidence summary the statement came from
    original: str = ""  # the UPDATE / DELETE whose rows ``statement`` selects, if any
