"""The category of a line, and one sampled line read as an event.  Pure."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from diagnosis_operator.core.diagnosis.logs._fields import (
    first_field,
    flat_text,
    json_object,
    logfmt_object,
)
from diagnosis_operator.core.diagnosis.logs.access import latency_of, parse_access, upstream_of
from diagnosis_operator.core.diagnosis.logs.cache import cache_command, parse_slow_command
from diagnosis_operator.core.diagnosis.logs.model import AccessRecord, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.logs.sql import SQL_STATEMENT, parse_slow_query, tables_of

_TOO_MANY_CONNECTIONS = ("too many connections", "max_connections", "er_con_count_error")
_OUT_OF_MEMORY = ("out of memory", "oomkill", "oom-kill")
_UPSTREAM_TROUBLE = ("timed out", "timeout", "refused", "prematurely", "no live", "reset")
_CONNECTION_LOST = ("connection lost", "lost connection", "reset by peer", "broken pipe")
_ERROR_LEVELS = ("error", "err", "fatal", "critical", "crit", "panic", "alert", "emerg")
# A text line's bracketed severity, as nginx, Apache and syslog-style logs write it
# ("2028/08/09 19:23:31 [alert] 2302#2302: ..."); https://nginx.org/en/docs/ngx_core_module.html#error_log
_BRACKETED_ERROR = re.compile(r"\[(emerg|alert|crit|error)\]")
_ERROR_WORDS = ("error", "fatal", "panic", "exception", "fail")


def _any_in(words: tuple[str, ...], lowered: str) -> bool:
    return any(word in lowered for word in words)


def _by_words(text: str, lowered: str) -> LogCategory | None:
    """Deadlocks, exhausted connections or memory, slow queries and commands."""
    if "deadlock" in lowered:
        return LogCategory.DEADLOCK
    if _any_in(_TOO_MANY_CONNECTIONS, lowered):
        return LogCategory.TOO_MANY_CONNECTIONS
    if _any_in(_OUT_OF_MEMORY, lowered):
        return LogCategory.OUT_OF_MEMORY
    if "query_time" in lowered or ("slow" in lowered and SQL_STATEMENT.search(text)):
        return LogCategory.SLOW_QUERY
    if "slow" in lowered and cache_command(text):
        return LogCategory.SLOW_COMMAND
    return None


def _by_status(line: str) -> LogCategory | None:
    """A server error or a throttle answered on an access line."""
    access = parse_access(line)
    if access is not None and access.status is not None and access.status >= 500:
        return LogCategory.UPSTREAM_ERROR
    if access is not None and access.status == 429:
        return LogCategory.WARNING
    return None


def _by_connection(lowered: str) -> LogCategory | None:
    """Upstream trouble, timeouts, refused and lost connections."""
    if "upstream" in lowered and _any_in(_UPSTREAM_TROUBLE, lowered):
        return LogCategory.UPSTREAM_ERROR
    if "timeout" in lowered or "timed out" in lowered:
        return LogCategory.TIMEOUT
    if "refused" in lowered:
        return LogCategory.REFUSED
    if _any_in(_CONNECTION_LOST, lowered):
        return LogCategory.CONNECTION_LOST
    return None


def _by_level(obj: Mapping[str, Any] | None, lowered: str) -> LogCategory:
    """Errors and warnings by the line's level or words, else nothing of note."""
    level = (
        str(first_field(obj, ("level", "severity", "lvl", "loglevel")) or "").lower() if obj else ""
    )
    if level in _ERROR_LEVELS or _any_in(_ERROR_WORDS, lowered):
        return LogCategory.ERROR
    if not obj and _BRACKETED_ERROR.search(lowered):
        return LogCategory.ERROR
    if level.startswith("warn") or "warn" in lowered or "slow" in lowered:
        return LogCategory.WARNING
    return LogCategory.OTHER


def categorize(line: str) -> LogCategory:
    """Pure: the most severe category a line's words (or its level) point to."""
    obj = json_object(line)
    text = flat_text(obj) if obj is not None else line
    lowered = text.lower()
    return (
        _by_words(text, lowered)
        or _by_status(line)
        or _by_connection(lowered)
        or _by_level(obj if obj is not None else logfmt_object(line), lowered)
    )


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
            None, None, None, None, None, latency_of(line), upstream_of(line, exclude=None)
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
