"""MySQL / MariaDB values: processlist rows, pt-kill's matching policy, kills and audits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from diagnosis_operator.models.actions._spec import Spec


class KillMode(StrEnum):
    QUERY = "query"  # KILL QUERY: the statement stops, the connection stays
    CONNECTION = "connection"  # KILL CONNECTION: only when asked for


class ServerFlavor(StrEnum):
    MYSQL = "mysql"
    MARIADB = "mariadb"


@dataclass(frozen=True, slots=True)
class ServerInfo:
    flavor: ServerFlavor
    version: tuple[int, int, int]
    version_string: str

    @property
    def kills_by_query_id(self) -> bool:
        """MariaDB >= 10.0.5 has ``KILL QUERY ID <query_id>``, immune to thread-id reuse."""
        return self.flavor is ServerFlavor.MARIADB and self.version >= (10, 0, 5)


@dataclass(frozen=True, slots=True)
class ProcessRow:
    """One row of ``information_schema.PROCESSLIST``."""

    id: int
    user: str
    host: str
    db: str | None
    command: str
    time: float  # seconds in the current state
    state: str | None
    info: str | None
    query_id: int | None = None  # MariaDB only

    def still_running_in(self, current: ProcessRow) -> bool:
        """Is ``current`` (a fresh read of this id) still this connection and statement?

        Thread ids are reused; a kill goes ahead only when the connection identity and
        the statement are unchanged and the statement has not restarted.
        """
        return (
            self.id == current.id
            and self.user == current.user
            and self.host == current.host
            and self.info == current.info
            and current.time >= self.time
            and (self.query_id is None or current.query_id in (None, self.query_id))
        )


@dataclass(frozen=True, slots=True)
class InnodbTransaction:
    """One row of ``information_schema.INNODB_TRX``."""

    thread_id: int
    rows_modified: int
    state: str  # RUNNING, LOCK WAIT, ROLLING BACK, COMMITTING
    started: float | None = None  # epoch seconds, when known
    # Threads holding the locks this one waits for, from the lock-wait tables
    # (MariaDB / MySQL 5.7 information_schema.INNODB_LOCK_WAITS, MySQL 8
    # performance_schema.data_lock_waits); empty when not waiting or not readable.
    waiting_for: tuple[int, ...] = ()

    @property
    def waiting(self) -> bool:
        return self.state.strip().upper() == "LOCK WAIT" or bool(self.waiting_for)


class Victims(StrEnum):
    OLDEST = "oldest"
    ALL = "all"
    ALL_BUT_OLDEST = "all-but-oldest"


class GroupBy(StrEnum):
    NONE = "none"
    USER = "user"
    HOST = "host"
    DB = "db"
    COMMAND = "command"
    STATE = "state"
    INFO = "info"
    FINGERPRINT = "fingerprint"


_MAX_REGEX = 512


def _compiles(value: str | None, *, name: str) -> str | None:
    if value is None:
        return None
    if len(value) > _MAX_REGEX:
        raise ValueError(f"{name}: regex longer than {_MAX_REGEX} characters")
    try:
        re.compile(value)
    except re.error as error:
        raise ValueError(f"{name}: invalid regex {value!r}: {error}") from None
    return value


DEFAULT_PROTECTED_USERS = (
    "system user",
    "event_scheduler",
    "root",
    "mysql.session",
    "mysql.sys",
    "mariadb.sys",
    "rdsadmin",
)


class KillPolicy(Spec):
    """pt-kill's matching options, as a policy.

    Matching follows pt-kill: a thread is a candidate only if every given match
    option matches and no ignore option matches; with no match option at all
    nothing matches unless ``matchAll``.  ``busyTime`` matches threads whose
    command is one of ``killBusyCommands`` and whose time is above it;
    ``idleTime`` matches ``Sleep`` threads idle longer than it.  Regexes are
    Python ``re`` searched (not anchored) in the field, like pt-kill's Perl ones.
    Matching threads form classes (``groupBy``); a class is kept only if it passes
    ``queryCount`` (at least that many threads), ``anyBusyTime`` (one runs longer)
    and ``eachBusyTime`` (all run longer); ``victims`` then picks in each class.
    ``matchBlocker`` (beyond pt-kill) matches only the threads whose transaction
    holds locks that other transactions wait for: the ones the lock-wait tables
    name, or, when those cannot be read, an idle (``Sleep``) transaction that
    started before every waiting one.  Its waiters never match it.  With
    ``idleTime`` and no transaction waiting, it matches the idle connections whose
    transaction is open (an old read view holding InnoDB's purge back), idle
    longer than ``idleTime``; an idle connection without a transaction never.
    """

    busy_time: Annotated[float, Field(ge=0)] | None = None
    idle_time: Annotated[float, Field(ge=0)] | None = None
    kill_busy_commands: tuple[str, ...] = ("Query", "Execute")
    match_all: bool = False
    match_user: str | None = None
    match_host: str | None = None
    match_db: str | None = None
    match_command: str | None = None
    match_state: str | None = None
    match_info: str | None = None
    match_blocker: bool = False
    ignore_user: str | None = None
    ignore_host: str | None = None
    ignore_db: str | None = None
    ignore_command: str | None = None
    ignore_state: str | None = None
    ignore_info: str | None = None
    group_by: GroupBy = GroupBy.NONE
    # Class filters (pt-kill --query-count, --any-busy-time, --each-busy-time).
    query_count: Annotated[int, Field(ge=1)] | None = None
    any_busy_time: Annotated[float, Field(ge=0)] | None = None
    each_busy_time: Annotated[float, Field(ge=0)] | None = None
    victims: Victims = Victims.OLDEST
    mode: KillMode = KillMode.QUERY
    print_only: bool = False
    # Never killed, whatever matched (exact user names, compared case-insensitively).
    protected_users: tuple[str, ...] = DEFAULT_PROTECTED_USERS
    allow_ddl: bool = False
    allow_large_transactions: bool = False
    max_rows_modified: Annotated[int, Field(ge=0)] = 1000

    @field_validator(
        "match_user",
        "match_host",
        "match_db",
        "match_command",
        "match_state",
        "match_info",
        "ignore_user",
        "ignore_host",
        "ignore_db",
        "ignore_command",
        "ignore_state",
        "ignore_info",
    )
    @classmethod
    def _valid_regex(cls, value: str | None, info: Any) -> str | None:
        return _compiles(value, name=to_camel(str(info.field_name)))

    @model_validator(mode="after")
    def _busy_or_idle(self) -> KillPolicy:
        if self.busy_time is not None and self.idle_time is not None:
            raise ValueError("busyTime and idleTime are mutually exclusive (as in pt-kill)")
        return self


@dataclass(frozen=True, slots=True)
class KillCommand:
    """One kill to send: built from integers only (``KILL [QUERY|CONNECTION] [ID] <int>``)."""

    thread_id: int
    mode: KillMode
    query_id: int | None = None  # set: MariaDB ``KILL QUERY ID <query_id>``

    def __post_init__(self) -> None:
        if type(self.thread_id) is not int or self.thread_id <= 0:
            raise ValueError(f"thread id must be a positive int, got {self.thread_id!r}")
        if self.query_id is not None and (type(self.query_id) is not int or self.query_id <= 0):
            raise ValueError(f"query id must be a positive int, got {self.query_id!r}")
        if self.query_id is not None and self.mode is not KillMode.QUERY:
            raise ValueError("a query id only applies to KILL QUERY")


@dataclass(frozen=True, slots=True)
class KillAudit:
    """One audit record per victim: what was (or in print-only mode, would have been) killed."""

    at: float
    server: str
    thread_id: int
    user: str
    host: str
    db: str | None
    time: float
    digest: str  # hash of the normalised statement
    fingerprint: str
    command: str  # the kill statement shape, e.g. "KILL QUERY ID 42"
    reason: str
    executed: bool  # False in print-only mode or when the thread had changed
    outcome: str  # "killed" | "print-only" | "gone" | "changed" | "error: ..."

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "server": self.server,
            "threadId": self.thread_id,
            "user": self.user,
            "host": self.host,
            "db": self.db,
            "time": self.time,
            "digest": self.digest,
            "fingerprint": self.fingerprint,
            "command": self.command,
            "reason": self.reason,
            "executed": self.executed,
            "outcome": self.outcome,
        }


@dataclass(frozen=True, slots=True)
class ExplainRow:
    """One row of ``EXPLAIN SELECT ...`` (the columns MySQL and MariaDB share)."""

    table: str | None
    access_type: str | None  # the ``type`` column: ALL = full scan
    possible_keys: str | None
    key: str | None
    rows: int | None
    extra: str | None
