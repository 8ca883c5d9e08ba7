"""Reading log lines: categories, slow queries, hot keys, upstreams, templates.  Pure.

Parsing is tolerant on purpose: the same facts are looked for in plain text,
key=value and JSON lines, in any field order, and a line that gives only part
of them still counts for what it gives.  Nothing depends on one exact format.

The regular expressions the collector sends to Loki (``SIGNIFICANT_FILTER``,
``ACCESS_PATTERN``, ``FAILED_REQUEST_FILTER``) stay in the common subset of
RE2 and Python ``re``: no look-around, no back-references, named groups as
``(?P<name>...)``.
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drain3.drain import Drain

from diagnosis_operator.models.signals import LogStream

# --- what the collector asks Loki for (RE2 and Python re alike) ---------------------

# Lines worth reading: errors, warnings, slowness, locking, refused/timeouts, 5xx.
SIGNIFICANT_FILTER = (
    r"(?i)(error|fatal|panic|exception|fail|deadlock|too many connections|timeout|timed out"
    r"|refused|denied|slow|query_time|warn|lost connection|connection lost|reset by peer"
    r"|broken pipe|unavailable|out of memory|oom|killed"
    r"|\" 5[0-9][0-9] |\"(status|code|status_code)\" *: *\"?5[0-9][0-9])"
)
# Access lines whose response is a server error or a throttle (a client retrying).
FAILED_REQUEST_FILTER = (
    r"(\" (5[0-9][0-9]|429) |\"(status|code|status_code)\" *: *\"?(5[0-9][0-9]|429))"
)
# Client address, request and user agent of an access line: combined-style text
# (nginx, ingress-nginx, Apache), a JSON object with the usual field names, or
# Envoy's default format, which opens with the time in brackets and names the
# client in the first quoted field after the status (X-Forwarded-For, whose
# first address is the original client), followed by the user agent.
ACCESS_PATTERN = (
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) [^ ]+ [^ ]+ \[[^\]]*\] "
    r"\"(?P<request>[^\"]*)\" (?P<status>[0-9]{3}) [^ ]+ \"[^\"]*\" \"(?P<agent>[^\"]*)\""
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for)\" *: *"
    r"\"(?P<jclient>[0-9A-Fa-f.:]{3,45})"
    r"|^\[[^\]]*\] \"(?P<frequest>[^\"]*)\" [0-9]{3} [^\"]*"
    r"\"(?P<fclient>[0-9A-Fa-f.:]{3,45})(?:, *[^\"]*)?\" \"(?P<fagent>[^\"]*)\""
)
# The client's network of an access line, in the same three forms: the first
# three octets of an IPv4 address with their dot ("203.0.113.") or the first
# four explicit hextets of an IPv6 address with their colon (a /64).  Counting
# by it sees a flood spread over one range, whose addresses are each too small
# for a per-address top list.  /24 and /64 are the broadest client rules allowed.
NETWORK_PATTERN = (
    r"^(?P<net>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]* [^ ]+ [^ ]+ \["
    r"|\"(?:remote_addr|client_ip|clientip|remote_ip|client|src_ip|x_forwarded_for)\" *: *"
    r"\"(?P<jnet>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]*\""
    r"|^\[[^\]]*\] \"[^\"]*\" [0-9]{3} [^\"]*"
    r"\"(?P<fnet>(?:[0-9]{1,3}\.){3}|(?:[0-9A-Fa-f]{1,4}:){4})[0-9A-Fa-f.:]*(?:, *[^\"]*)?\" \""
)
NETWORK_LABELS = ("net", "jnet", "fnet")
# The groups of ACCESS_PATTERN naming the client, the request and the agent, per format.
CLIENT_LABELS = ("client", "jclient", "fclient")
REQUEST_LABELS = ("request", "frequest")
AGENT_LABELS = ("agent", "fagent")
RETRY_LABELS = ("client", "request", "agent", "fclient", "frequest", "fagent")

_IP = r"(?:\d{1,3}\.){3}\d{1,3}"


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


@dataclass(frozen=True, slots=True)
class SlowQuery:
    statement: str
    query_time: float | None  # seconds
    rows_examined: int | None
    rows_sent: int | None
    table: str | None
    where_columns: tuple[str, ...]

    @property
    def full_scan_suspected(self) -> bool:
        """Many rows read for few returned, or an unindexed-looking filter that was slow."""
        if self.rows_examined is not None:
            sent = max(self.rows_sent or 0, 1)
            return self.rows_examined >= 10_000 and self.rows_examined >= 100 * sent
        return bool(self.where_columns) and (self.query_time or 0.0) >= 1.0


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


# --- parsing --------------------------------------------------------------------------

_SQL_STATEMENT = re.compile(r"\b(SELECT|INSERT|UPDATE|DELETE|REPLACE)\b[^;\n\"]*", re.IGNORECASE)
_QUERY_TIME = re.compile(
    r"(?:query_time|querytime|duration|elapsed|took|exec(?:ution)?_?time)[\"']?\s*[:=]?\s*\"?"
    r"(\d+(?:\.\d+)?)\s*(ms|milliseconds|us|µs|s|sec|seconds)?\b",
    re.IGNORECASE,
)
_ROWS_EXAMINED = re.compile(r"rows_examined[\"']?\s*[:=]\s*\"?(\d+)", re.IGNORECASE)
_ROWS_SENT = re.compile(r"rows_sent[\"']?\s*[:=]\s*\"?(\d+)", re.IGNORECASE)
_TABLE = re.compile(r"\b(?:FROM|UPDATE|INTO|JOIN)\s+`?(?:\w+`?\.`?)?(\w+)`?", re.IGNORECASE)
_INNODB_TABLE = re.compile(r"\btable\s+`?(?:\w+)`?\.`?(\w+)`?", re.IGNORECASE)
_WHERE = re.compile(
    r"\bWHERE\b(.*?)(?:\bORDER\s+BY\b|\bGROUP\s+BY\b|\bLIMIT\b|\bFOR\s+UPDATE\b|;|$)", re.IGNORECASE
)
_WHERE_COLUMN = re.compile(
    r"`?(?:\w+`?\.`?)?([A-Za-z_]\w*)`?\s*(?:=|<=|>=|<>|!=|<|>|\bIN\b|\bLIKE\b|\bBETWEEN\b|\bIS\b)",
    re.IGNORECASE,
)
_SQL_KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "null",
        "select",
        "where",
        "in",
        "like",
        "between",
        "is",
        "insert",
        "update",
        "delete",
        "replace",
        "set",
        "values",
        "into",
        "from",
        "join",
        "table",
        "dual",
    }
)
_REDIS_COMMANDS = (
    "GET|SET|SETEX|SETNX|GETSET|MGET|MSET|DEL|UNLINK|EXISTS|EXPIRE|TTL|INCR|INCRBY|DECR|DECRBY|"
    "HGET|HSET|HMGET|HMSET|HGETALL|HDEL|HINCRBY|HKEYS|HVALS|LRANGE|LPUSH|RPUSH|LPOP|RPOP|LLEN|"
    "SADD|SREM|SMEMBERS|SISMEMBER|SUNION|SINTER|ZADD|ZREM|ZRANGE|ZREVRANGE|ZRANGEBYSCORE|ZINCRBY|"
    "ZSCORE|KEYS|SCAN|SSCAN|HSCAN|EVAL|EVALSHA|SORT|XADD|XRANGE|PUBLISH"
)
_REDIS_COMMAND = re.compile(rf"(?<![\w:/])({_REDIS_COMMANDS})\b[\s\"',:\[]+([^\s\"',\]\[()]+)?")


def _cache_command(text: str) -> re.Match[str] | None:
    """The first cache command in a text; ``GET /path`` is an HTTP request, not one."""
    for match in _REDIS_COMMAND.finditer(text):
        if not (match.group(2) or "").startswith("/"):
            return match
    return None


_DURATION = re.compile(
    r"(\d+(?:\.\d+)?)\s*(us|µs|microseconds|ms|milliseconds|s|sec|secs|seconds)\b", re.IGNORECASE
)
_DURATION_FIELD = re.compile(
    r"duration(?:_?(us|ms|s))?[\"']?\s*[:=]\s*\"?(\d+(?:\.\d+)?)", re.IGNORECASE
)
_ACCESS_TEXT = re.compile(
    r"^(?P<client>[0-9A-Fa-f.:]{3,45}) \S+ \S+ \[[^\]]*\] \"(?P<request>[^\"]*)\" "
    r"(?P<status>\d{3}) "
    r"\S+(?: \"[^\"]*\" \"(?P<agent>[^\"]*)\")?"
)
_LATENCY_FIELD = re.compile(
    r"\b(?:rt|request_time|upstream_response_time|urt|upstream_time|latency|duration|elapsed|response_time)"
    r"[\"']?\s*[:=]\s*\"?(\d+(?:\.\d+)?)\s*(ms|s)?",
    re.IGNORECASE,
)
_UPSTREAM_FIELD = re.compile(
    r"(?:upstream(?:_addr)?|ua|backend|upstream_host)[\"']?\s*[:=]\s*\"?(?:https?://)?"
    r"([\w.-]+:\d{2,5}|" + _IP + r")",
    re.IGNORECASE,
)
_HOST_PORT = re.compile(rf"\b({_IP}:\d{{2,5}})\b")
_JSON_CLIENT_KEYS = ("remote_addr", "client_ip", "clientip", "remote_ip", "client", "src_ip", "ip")
_JSON_STATUS_KEYS = ("status", "code", "status_code", "response_code")
_JSON_AGENT_KEYS = ("http_user_agent", "user_agent", "agent", "ua")
_JSON_UPSTREAM_KEYS = ("upstream_addr", "upstream", "backend", "upstream_host")
_JSON_LATENCY_KEYS = (
    "request_time",
    "upstream_response_time",
    "latency",
    "duration",
    "rt",
    "elapsed",
)


def _seconds(amount: float, unit: str | None, *, default_unit: str = "s") -> float:
    unit = (unit or default_unit).lower()
    if unit in ("us", "µs", "microseconds"):
        return amount / 1e6
    if unit in ("ms", "milliseconds"):
        return amount / 1e3
    return amount


def _json_object(line: str) -> dict[str, Any] | None:
    text = line.strip()
    if not text.startswith("{"):
        return None
    try:
        parsed = json.loads(text)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _flat_text(obj: Mapping[str, Any]) -> str:
    return " ".join(f"{key}={value}" for key, value in obj.items())


def parse_slow_query(text: str) -> SlowQuery | None:
    """Pure: statement, Query_time, rows and WHERE columns of a slow-query entry."""
    statements = [m.group(0).strip() for m in _SQL_STATEMENT.finditer(text)]
    if not statements:
        return None
    statement = max(statements, key=len)
    query_time = None
    match = _QUERY_TIME.search(text)
    if match:
        query_time = _seconds(float(match.group(1)), match.group(2))
    examined = _ROWS_EXAMINED.search(text)
    sent = _ROWS_SENT.search(text)
    table_match = _TABLE.search(statement)
    return SlowQuery(
        statement=statement,
        query_time=query_time,
        rows_examined=int(examined.group(1)) if examined else None,
        rows_sent=int(sent.group(1)) if sent else None,
        table=table_match.group(1) if table_match else None,
        where_columns=where_columns(statement),
    )


def where_columns(statement: str) -> tuple[str, ...]:
    """Pure: the columns a statement's WHERE clause filters on, in order, unique."""
    match = _WHERE.search(statement)
    if not match:
        return ()
    seen: list[str] = []
    for column in _WHERE_COLUMN.findall(match.group(1)):
        if column.lower() not in _SQL_KEYWORDS and column not in seen:
            seen.append(column)
    return tuple(seen)


def tables_of(text: str) -> tuple[str, ...]:
    """Pure: tables named by SQL statements or InnoDB lock reports in a text."""
    found: list[str] = []
    for table in [*_TABLE.findall(text), *_INNODB_TABLE.findall(text)]:
        if table not in found and table.lower() not in _SQL_KEYWORDS:
            found.append(table)
    return tuple(found)


def parse_slow_command(text: str) -> SlowCommand | None:
    """Pure: a cache command (Redis style), its key and duration, from a slow-log line."""
    match = _cache_command(text)
    if not match:
        return None
    duration = None
    field_match = _DURATION_FIELD.search(text)
    if field_match:
        duration = _seconds(
            float(field_match.group(2)), field_match.group(1) or "us", default_unit="us"
        )
    else:
        unit_match = _DURATION.search(text)
        if unit_match:
            duration = _seconds(float(unit_match.group(1)), unit_match.group(2))
    key = match.group(2).rstrip(":;.") if match.group(2) else None
    return SlowCommand(command=match.group(1).upper(), key=key or None, duration=duration)


def parse_access(line: str) -> AccessRecord | None:
    """Pure: client, request, status, agent, latency and upstream of an access line."""
    obj = _json_object(line)
    if obj is not None:
        return _parse_access_json(obj)
    match = _ACCESS_TEXT.search(line)
    if not match:
        return _parse_access_bracketed(line)
    method, path = _split_request(match.group("request"))
    return AccessRecord(
        client=match.group("client"),
        method=method,
        path=path,
        status=int(match.group("status")),
        agent=match.group("agent"),
        latency=_latency(line[match.end() :]),
        upstream=_upstream(line[match.end() :], exclude=match.group("client")),
    )


_ACCESS_BRACKETED = re.compile(
    r"^\[[^\]]*\] \"(?P<request>[^\"]*)\" (?P<status>\d{3}) (?P<fields>[^\"]*)(?P<quoted>.*)$"
)
_QUOTED = re.compile(r"\"([^\"]*)\"")
_HOST_AND_PORT = re.compile(r"^\[?[\w.:-]+\]?:\d{2,5}$")


def _address_list_head(text: str) -> str | None:
    """The first address of an ``X-Forwarded-For``-like list, when it is an IP address."""
    head = text.split(",", 1)[0].strip()
    try:
        ipaddress.ip_address(head)
    except ValueError:
        return None
    return head


def _parse_access_bracketed(line: str) -> AccessRecord | None:
    """Envoy-style access lines: ``[time] "request" status fields... "client" "agent" ...``.

    The client is the first quoted field after the status when it holds an IP
    address (Envoy's default puts X-Forwarded-For there), the agent the field
    after it, the upstream the last quoted ``host:port``, the latency the
    fourth field after the status (Envoy's total duration, in milliseconds)
    when it is a number.
    """
    match = _ACCESS_BRACKETED.match(line)
    if not match:
        return None
    quoted = _QUOTED.findall(match.group("quoted"))
    client = _address_list_head(quoted[0]) if quoted else None
    agent = quoted[1] if client is not None and len(quoted) > 1 else None
    upstream = next((field for field in reversed(quoted[1:]) if _HOST_AND_PORT.match(field)), None)
    fields = match.group("fields").split()
    latency = float(fields[3]) / 1000.0 if len(fields) >= 4 and fields[3].isdigit() else None
    method, path = _split_request(match.group("request"))
    return AccessRecord(
        client=client,
        method=method,
        path=path,
        status=int(match.group("status")),
        agent=agent if agent not in (None, "-") else None,
        latency=latency,
        upstream=upstream,
    )


def _split_request(request: str) -> tuple[str | None, str | None]:
    parts = request.split()
    if len(parts) >= 2:
        return parts[0], parts[1]
    return None, request or None


def _first(obj: Mapping[str, Any], keys: Sequence[str]) -> Any:
    lowered = {str(key).lower(): value for key, value in obj.items()}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return lowered[key]
    return None


def _parse_access_json(obj: Mapping[str, Any]) -> AccessRecord | None:
    client = _first(obj, _JSON_CLIENT_KEYS)
    status = _first(obj, _JSON_STATUS_KEYS)
    request = _first(obj, ("request",))
    method = _first(obj, ("method", "request_method", "http_method"))
    path = _first(obj, ("path", "uri", "request_uri", "url", "route"))
    if request and not (method and path):
        method, path = _split_request(str(request))
    if client is None and status is None:
        return None
    try:
        status_code = int(str(status)) if status is not None else None
    except ValueError:
        status_code = None
    latency_value = _first(obj, _JSON_LATENCY_KEYS)
    try:
        latency = float(latency_value) if latency_value is not None else None
    except (TypeError, ValueError):
        latency = _latency(f"latency={latency_value}")
    upstream = _first(obj, _JSON_UPSTREAM_KEYS)
    agent = _first(obj, _JSON_AGENT_KEYS)
    return AccessRecord(
        client=str(client) if client is not None else None,
        method=str(method) if method else None,
        path=str(path) if path else None,
        status=status_code,
        agent=str(agent) if agent is not None else None,
        latency=latency,
        upstream=str(upstream) if upstream else None,
    )


def _latency(text: str) -> float | None:
    match = _LATENCY_FIELD.search(text)
    if not match:
        return None
    return _seconds(float(match.group(1)), match.group(2))


def _upstream(text: str, *, exclude: str | None) -> str | None:
    match = _UPSTREAM_FIELD.search(text)
    if match:
        return match.group(1)
    for candidate in _HOST_PORT.findall(text):
        if candidate != exclude:
            return str(candidate)
    return None


def categorize(line: str) -> LogCategory:
    """Pure: the most severe category a line's words (or its level) point to."""
    obj = _json_object(line)
    text = _flat_text(obj) if obj is not None else line
    lowered = text.lower()
    if "deadlock" in lowered:
        return LogCategory.DEADLOCK
    if (
        "too many connections" in lowered
        or "max_connections" in lowered
        or "er_con_count_error" in lowered
    ):
        return LogCategory.TOO_MANY_CONNECTIONS
    if "out of memory" in lowered or "oomkill" in lowered or "oom-kill" in lowered:
        return LogCategory.OUT_OF_MEMORY
    if "query_time" in lowered or ("slow" in lowered and _SQL_STATEMENT.search(text)):
        return LogCategory.SLOW_QUERY
    if "slow" in lowered and _cache_command(text):
        return LogCategory.SLOW_COMMAND
    access = parse_access(line)
    if access is not None and access.status is not None and access.status >= 500:
        return LogCategory.UPSTREAM_ERROR
    if access is not None and access.status == 429:
        return LogCategory.WARNING
    if "upstream" in lowered and any(
        w in lowered for w in ("timed out", "timeout", "refused", "prematurely", "no live", "reset")
    ):
        return LogCategory.UPSTREAM_ERROR
    if "timeout" in lowered or "timed out" in lowered:
        return LogCategory.TIMEOUT
    if "refused" in lowered:
        return LogCategory.REFUSED
    if any(
        w in lowered for w in ("connection lost", "lost connection", "reset by peer", "broken pipe")
    ):
        return LogCategory.CONNECTION_LOST
    level = str(_first(obj, ("level", "severity", "lvl", "loglevel")) or "").lower() if obj else ""
    if level in ("error", "err", "fatal", "critical", "crit", "panic") or any(
        w in lowered for w in ("error", "fatal", "panic", "exception", "fail")
    ):
        return LogCategory.ERROR
    if level.startswith("warn") or "warn" in lowered or "slow" in lowered:
        return LogCategory.WARNING
    return LogCategory.OTHER


def read_event(
    *, component: str, instance: str | None, ts: float, line: str, query: str
) -> LogEvent:
    """Pure: one sampled line as an event with whatever details it carries."""
    category = categorize(line)
    slow_query = parse_slow_query(line) if category is LogCategory.SLOW_QUERY else None
    slow_command = parse_slow_command(line) if category is LogCategory.SLOW_COMMAND else None
    access = parse_access(line)
    tables = (
        tables_of(line)
        if category in (LogCategory.DEADLOCK, LogCategory.TOO_MANY_CONNECTIONS)
        else ()
    )
    if access is None and category is LogCategory.UPSTREAM_ERROR:
        access = AccessRecord(
            None, None, None, None, None, _latency(line), _upstream(line, exclude=None)
        )
    return LogEvent(
        component=component,
        instance=instance,
        ts=ts,
        category=category,
        line=line,
        query=query,
        slow_query=slow_query,
        slow_command=slow_command,
        access=access,
        tables=tables,
    )


# --- templates -------------------------------------------------------------------------

_MASKS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?"),
        "<TS>",
    ),
    (re.compile(r"\[\d{2}/\w{3}/\d{4}:\d{2}:\d{2}:\d{2} [+-]\d{4}\]"), "<TS>"),
    (
        re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b", re.I),
        "<UUID>",
    ),
    (re.compile(rf"\b{_IP}(?::\d+)?\b"), "<IP>"),
    (re.compile(r"\b0x[0-9a-f]+\b|\b[0-9a-f]{12,}\b", re.I), "<HEX>"),
    (re.compile(r"'[^']*'|\"[^\"]{0,200}\""), "<STR>"),
    (re.compile(r"(?<![\w<])[-+]?\d+(?:\.\d+)?(?:ms|us|s)?\b"), "<NUM>"),
)


def mask(line: str) -> str:
    """Pure: a line with numbers, IPs, hex, UUIDs, times and quoted strings masked."""
    for pattern, replacement in _MASKS:
        line = pattern.sub(replacement, line)
    return line


def _template_text(line: str) -> str:
    """The part of an entry that names what happened: a JSON message, a statement line."""
    obj = _json_object(line)
    if obj is not None:
        message = _first(obj, ("msg", "message", "event", "error", "err"))
        level = _first(obj, ("level", "severity", "lvl"))
        if message is not None:
            return f"{level or ''} {message}".strip()
        return " ".join(sorted(str(key) for key in obj))
    for part in line.split("\n"):
        stripped = part.strip()
        if (
            stripped
            and not stripped.startswith("#")
            and not stripped.lower().startswith(("set timestamp", "use "))
        ):
            return stripped
    return line.split("\n", 1)[0]


def mine_templates(
    *, lines: Iterable[tuple[float, str]], limit: int = 20
) -> tuple[LogTemplate, ...]:
    """Pure: Drain templates of (ts, line) pairs, most frequent first."""
    drain = Drain(depth=4, sim_th=0.5, max_children=64, max_clusters=500)
    stats: dict[int, list[Any]] = {}
    for ts, line in lines:
        cluster, _ = drain.add_log_message(mask(_template_text(line)))
        entry = stats.get(cluster.cluster_id)
        if entry is None:
            stats[cluster.cluster_id] = [ts, ts, line]
        else:
            entry[0] = min(entry[0], ts)
            entry[1] = max(entry[1], ts)
    templates = []
    for cluster in drain.clusters:
        first_ts, last_ts, example = stats[cluster.cluster_id]
        templates.append(
            LogTemplate(
                template=cluster.get_template(),
                count=cluster.size,
                first_ts=first_ts,
                last_ts=last_ts,
                category=categorize(example),
                example=example,
            )
        )
    templates.sort(key=lambda t: (-SEVERITY[t.category], -t.count, t.first_ts))
    return tuple(templates[:limit])


def read_component_logs(
    *, component: str, streams: Sequence[LogStream], query: str, max_events: int = 5000
) -> ComponentLogs:
    """Pure: categorise every sampled line of a component and mine its templates."""
    events: list[LogEvent] = []
    pairs: list[tuple[float, str]] = []
    for stream in streams:
        instance = stream.labels.get("instance") or stream.labels.get("pod")
        for entry in stream.lines:
            if len(events) >= max_events:
                break
            event = read_event(
                component=component, instance=instance, ts=entry.ts, line=entry.line, query=query
            )
            if event.category is not LogCategory.OTHER:
                events.append(event)
            pairs.append((entry.ts, entry.line))
    events.sort(key=lambda e: e.ts)
    counts = Counter(e.category for e in events)
    return ComponentLogs(
        component=component,
        events=tuple(events),
        templates=mine_templates(lines=sorted(pairs)),
        counts=dict(counts),
    )


def hot_keys(events: Iterable[LogEvent], *, top: int = 5) -> list[tuple[str, int]]:
    """Pure: keys named most often by slow cache commands (at least twice)."""
    counter: Counter[str] = Counter()
    for event in events:
        if event.slow_command is not None and event.slow_command.key:
            counter[event.slow_command.key] += 1
    return [(key, count) for key, count in counter.most_common(top) if count >= 2]


def upstream_errors(events: Iterable[LogEvent]) -> dict[str, list[LogEvent]]:
    """Pure: 5xx/timeout events of a proxy grouped by the upstream address they name."""
    grouped: dict[str, list[LogEvent]] = defaultdict(list)
    for event in events:
        if (
            event.access is not None
            and event.access.upstream
            and event.category
            in (
                LogCategory.UPSTREAM_ERROR,
                LogCategory.TIMEOUT,
            )
        ):
            grouped[event.access.upstream].append(event)
    return dict(grouped)


def statement_fingerprint(statement: str) -> str:
    """Pure: a statement with literals replaced by ``?`` and spaces collapsed."""
    text = re.sub(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", "?", statement)
    text = re.sub(r"\b\d+(?:\.\d+)?\b", "?", text)
    return re.sub(r"\s+", " ", text).strip().rstrip(";")


def statement_prefix(statement: str) -> str:
    """Pure: the literal-free head of a statement (what a process-list match can use)."""
    text = re.sub(r"\s+", " ", statement).strip()
    cut = len(text)
    for match in re.finditer(r"['\"]|\b\d", text):
        cut = match.start()
        break
    return text[:cut].rstrip(" =<>!(")


__all__ = [
    "ACCESS_PATTERN",
    "AGENT_LABELS",
    "CLIENT_LABELS",
    "FAILED_REQUEST_FILTER",
    "NETWORK_LABELS",
    "NETWORK_PATTERN",
    "REQUEST_LABELS",
    "RETRY_LABELS",
    "SIGNIFICANT_FILTER",
    "AccessRecord",
    "ComponentLogs",
    "LogCategory",
    "LogEvent",
    "LogTemplate",
    "SlowCommand",
    "SlowQuery",
    "categorize",
    "hot_keys",
    "mask",
    "mine_templates",
    "parse_access",
    "parse_slow_command",
    "parse_slow_query",
    "read_component_logs",
    "read_event",
    "statement_fingerprint",
    "statement_prefix",
    "tables_of",
    "upstream_errors",
    "where_columns",
]
