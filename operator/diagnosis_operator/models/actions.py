"""Remediation actions as values: what may be done, what the guards said, what was done.

Stages return these values; only ``service/execute.py`` acts on them.  Three
families live here:

* policies parsed from outside (pydantic, ``extra="forbid"``, camelCase aliases so
  they can be embedded in the DiagnosisPolicy CRD): ``GuardPolicy``,
  ``KillPolicy``, ``RateLimitPolicy``;
* the pipeline's frozen values: the actions (``DrainPod | KillQueries |
  RateLimitClient``), ``Plan``, ``Verdict`` (``Allowed | Denied``),
  ``LedgerEntry``, MySQL processlist rows, client rules and audit records;
* pure helpers: ``idempotency_key``, ``targets_of``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic.alias_generators import to_camel

from diagnosis_operator.models.findings import ActionType

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class _Spec(BaseModel):
    """Parsed from a CR or a file: unknown fields are errors, names are camelCase."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, alias_generator=to_camel, populate_by_name=True
    )


def parse_network(text: str, *, where: str = "") -> IPNetwork:
    """An address or CIDR as a network (host bits must be zero).  Pure.

    A bare address becomes a /32 (IPv4) or /128 (IPv6) network.
    """
    try:
        return ipaddress.ip_network(text.strip(), strict=True)
    except ValueError as error:
        place = f" in {where}" if where else ""
        raise ValueError(f"invalid IP address or CIDR {text!r}{place}: {error}") from None


# --------------------------------------------------------------------- actions


class KillMode(StrEnum):
    QUERY = "query"  # KILL QUERY: the statement stops, the connection stays
    CONNECTION = "connection"  # KILL CONNECTION: only when asked for


class RuleMode(StrEnum):
    RATE_LIMIT = "rate-limit"
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class DrainPod:
    """Take one pod out of service (evict it through the API, PDBs respected)."""

    component: str
    namespace: str
    pod: str
    reason: str
    kind: Literal[ActionType.DRAIN_POD] = ActionType.DRAIN_POD


@dataclass(frozen=True, slots=True)
class KillQueries:
    """Kill the listed MySQL threads of one server (``component``).

    ``victims`` are the selection made by ``core.killer``; the adapter kills by the
    integer ids only, re-checking each thread right before the kill.
    """

    component: str
    victims: tuple[ProcessRow, ...]
    mode: KillMode
    reason: str
    kind: Literal[ActionType.KILL_MYSQL_QUERIES] = ActionType.KILL_MYSQL_QUERIES

    @property
    def thread_ids(self) -> tuple[int, ...]:
        return tuple(victim.id for victim in self.victims)


@dataclass(frozen=True, slots=True)
class RateLimitClient:
    """Rate-limit or deny client networks at the edge (rules planned by ``core.ratelimit``)."""

    component: str
    rules: tuple[ClientRule, ...]
    reason: str
    kind: Literal[ActionType.RATE_LIMIT_CLIENT] = ActionType.RATE_LIMIT_CLIENT

    @property
    def networks(self) -> tuple[IPNetwork, ...]:
        return tuple(rule.network for rule in self.rules)


Action = DrainPod | KillQueries | RateLimitClient


def targets_of(action: Action) -> tuple[str, ...]:
    """The target set an action touches, as strings the guard lists are matched against.  Pure."""
    if isinstance(action, DrainPod):
        return (f"{action.namespace}/{action.pod}",)
    if isinstance(action, KillQueries):
        return tuple(str(thread_id) for thread_id in action.thread_ids)
    return tuple(str(network) for network in action.networks)


def cooldown_targets_of(action: Action) -> tuple[str, ...]:
    """What a cooldown is kept per: the pod, the MySQL server, each client network.  Pure.

    Thread ids are reused by the server, so a cooldown per thread would mean nothing;
    a kill's cooldown is per server (the component).
    """
    if isinstance(action, KillQueries):
        return (action.component,)
    return targets_of(action)


def idempotency_key(*, diagnosis_uid: str, action: ActionType, target: str) -> str:
    """A stable key for "this action on this target for this diagnosis".  Pure.

    The same diagnosis re-reconciled after a restart derives the same key, so the
    ledger tells that the action was already taken.
    """
    material = "\x1f".join((diagnosis_uid, action.value, target))
    return hashlib.sha256(material.encode()).hexdigest()[:32]


def action_key(*, diagnosis_uid: str, action: Action) -> str:
    """``idempotency_key`` over the action's sorted target set.  Pure."""
    target = ",".join(sorted(targets_of(action)))
    return idempotency_key(diagnosis_uid=diagnosis_uid, action=action.kind, target=target)


@dataclass(frozen=True, slots=True)
class Plan:
    """The actions proposed for one diagnosis, in the order they should run."""

    diagnosis_uid: str
    actions: tuple[Action, ...]


class DenialCode(StrEnum):
    PAUSED = "paused"
    APPROVAL_REQUIRED = "approval-required"
    EMPTY_TARGETS = "empty-targets"
    TOO_MANY_TARGETS = "too-many-targets"
    NEVER_LISTED = "never-listed"
    NOT_ALLOW_LISTED = "not-allow-listed"
    COOLDOWN = "cooldown"
    BUDGET_EXHAUSTED = "budget-exhausted"
    ALREADY_DONE = "already-done"
    # drain-pod target safety (core/drain.py)
    TARGET_NOT_FOUND = "target-not-found"
    BARE_POD = "bare-pod"
    DAEMONSET_POD = "daemonset-pod"
    UNSUPPORTED_OWNER = "unsupported-owner"
    PROTECTED_NAMESPACE = "protected-namespace"
    MIN_HEALTHY = "min-healthy"
    # the cluster-wide action ledger (core/ledger.py)
    GLOBAL_BUDGET_EXHAUSTED = "global-budget-exhausted"


@dataclass(frozen=True, slots=True)
class Allowed:
    """The action may proceed; ``dry_run`` means record what would happen, change nothing."""

    dry_run: bool
    reason: str


@dataclass(frozen=True, slots=True)
class Denied:
    code: DenialCode
    reason: str


Verdict = Allowed | Denied


class LedgerOutcome(StrEnum):
    EXECUTED = "executed"
    DRY_RUN = "dry-run"
    DENIED = "denied"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One decision about one action, as remembered across reconciles."""

    key: str  # idempotency key
    action: ActionType
    targets: tuple[str, ...]  # cooldown targets (see cooldown_targets_of)
    at: float  # epoch seconds
    outcome: LedgerOutcome
    detail: str = ""

    @property
    def counts_against_budget(self) -> bool:
        return self.outcome is LedgerOutcome.EXECUTED


# --------------------------------------------------------------------- guard policy


class ActionPolicy(_Spec):
    """Per action type: whether it may really run and within which limits."""

    enabled: bool = False  # False: dry-run only
    require_approval: bool = True
    max_per_window: Annotated[int, Field(ge=0)] = 3
    window_seconds: Annotated[float, Field(gt=0)] = 3600.0
    cooldown_seconds: Annotated[float, Field(ge=0)] = 600.0
    max_targets: Annotated[int, Field(ge=1)] = 10
    # Glob patterns (fnmatch) or CIDRs.  A non-empty allow list admits only what it names.
    allow: tuple[str, ...] = ()
    never: tuple[str, ...] = ()


class GuardPolicy(_Spec):
    paused: bool = False
    drain_pod: ActionPolicy = ActionPolicy()
    kill_mysql_queries: ActionPolicy = ActionPolicy()
    rate_limit_client: ActionPolicy = ActionPolicy()

    def for_action(self, action: ActionType) -> ActionPolicy:
        return {
            ActionType.DRAIN_POD: self.drain_pod,
            ActionType.KILL_MYSQL_QUERIES: self.kill_mysql_queries,
            ActionType.RATE_LIMIT_CLIENT: self.rate_limit_client,
        }[action]


# --------------------------------------------------------------------- MySQL


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
    state: str
    started: float | None = None  # epoch seconds, when known


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


class KillPolicy(_Spec):
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


# --------------------------------------------------------------------- client rules


class EscalationStep(_Spec):
    mode: RuleMode
    ttl_seconds: Annotated[float, Field(gt=0)]
    requests_per_second: Annotated[float, Field(gt=0)] = 5.0


def _default_ladder() -> tuple[EscalationStep, ...]:
    return (
        EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=600),
        EscalationStep(mode=RuleMode.RATE_LIMIT, ttl_seconds=3600),
        EscalationStep(mode=RuleMode.DENY, ttl_seconds=3600),
    )


class RateLimitPolicy(_Spec):
    """How offending client networks are limited.

    ``ladder`` is the escalation for repeat offenders: the first offence gets step
    0, each earlier rule for an overlapping network within ``repeatWindowSeconds``
    moves one step up, capped at the last step.  ``allow`` networks are never
    limited (internal ranges, health checkers, the operator's own addresses);
    rules broader than ``maxPrefixV4`` / ``maxPrefixV6`` are refused.
    """

    ladder: tuple[EscalationStep, ...] = Field(default_factory=_default_ladder, min_length=1)
    repeat_window_seconds: Annotated[float, Field(gt=0)] = 86400.0
    max_ttl_seconds: Annotated[float, Field(gt=0)] = 86400.0
    allow: tuple[str, ...] = ()
    max_prefix_v4: Annotated[int, Field(ge=0, le=32)] = 24
    max_prefix_v6: Annotated[int, Field(ge=0, le=128)] = 64
    shadow: bool = False

    @field_validator("allow")
    @classmethod
    def _valid_networks(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for index, text in enumerate(value):
            parse_network(text, where=f"allow[{index}]")
        return value

    def allow_networks(self) -> tuple[IPNetwork, ...]:
        return tuple(parse_network(text) for text in self.allow)


@dataclass(frozen=True, slots=True)
class ClientRule:
    """One enforced (or, in shadow mode, only recorded) rule on one client network."""

    rule_id: str
    network: IPNetwork
    mode: RuleMode
    requests_per_second: float
    created_at: float
    expires_at: float
    level: int  # escalation step index
    shadow: bool = False
    reason: str = ""

    @property
    def ttl_seconds(self) -> float:
        return self.expires_at - self.created_at

    def to_json(self) -> dict[str, Any]:
        return {
            "ruleId": self.rule_id,
            "network": str(self.network),
            "mode": self.mode.value,
            "requestsPerSecond": self.requests_per_second,
            "createdAt": self.created_at,
            "expiresAt": self.expires_at,
            "level": self.level,
            "shadow": self.shadow,
            "reason": self.reason,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ClientRule:
        return cls(
            rule_id=str(data["ruleId"]),
            network=parse_network(str(data["network"])),
            mode=RuleMode(data["mode"]),
            requests_per_second=float(data["requestsPerSecond"]),
            created_at=float(data["createdAt"]),
            expires_at=float(data["expiresAt"]),
            level=int(data["level"]),
            shadow=bool(data.get("shadow", False)),
            reason=str(data.get("reason", "")),
        )


@dataclass(frozen=True, slots=True)
class RuleRefusal:
    """A client network the planner would not limit, and why."""

    client: str
    reason: str


@dataclass(frozen=True, slots=True)
class RulePlan:
    rules: tuple[ClientRule, ...]
    refused: tuple[RuleRefusal, ...] = field(default_factory=tuple)
