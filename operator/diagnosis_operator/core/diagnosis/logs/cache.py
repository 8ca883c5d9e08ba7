"""Slow cache commands (Redis style): command, key, duration; hot keys.  Pure."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable

from diagnosis_operator.core.diagnosis.logs._fields import to_seconds
from diagnosis_operator.core.diagnosis.logs.model import LogEvent, SlowCommand

_REDIS_COMMANDS = (
    "GET|SET|SETEX|SETNX|GETSET|MGET|MSET|DEL|UNLINK|EXISTS|EXPIRE|TTL|INCR|INCRBY|DECR|DECRBY|"
    "HGET|HSET|HMGET|HMSET|HGETALL|HDEL|HINCRBY|HKEYS|HVALS|LRANGE|LPUSH|RPUSH|LPOP|RPOP|LLEN|"
    "SADD|SREM|SMEMBERS|SISMEMBER|SUNION|SINTER|ZADD|ZREM|ZRANGE|ZREVRANGE|ZRANGEBYSCORE|ZINCRBY|"
    "ZSCORE|KEYS|SCAN|SSCAN|HSCAN|EVAL|EVALSHA|SORT|XADD|XRANGE|PUBLISH"
)
_REDIS_COMMAND = re.compile(rf"(?<![\w:/])({_REDIS_COMMANDS})\b[\s\"',:\[]+([^\s\"',\]\[()]+)?")


def cache_command(text: str) -> re.Match[str] | None:
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


def parse_slow_command(text: str) -> SlowCommand | None:
    """Pure: a cache command (Redis style), its key and duration, from a slow-log line."""
    match = cache_command(text)
    if not match:
        return None
    duration = None
    field_match = _DURATION_FIELD.search(text)
    if field_match:
        duration = to_seconds(
            float(field_match.group(2)), field_match.group(1) or "us", default_unit="us"
        )
    else:
        unit_match = _DURATION.search(text)
        if unit_match:
            duration = to_seconds(float(unit_match.group(1)), unit_match.group(2))
    key = match.group(2).rstrip(":;.") if match.group(2) else None
    return SlowCommand(command=match.group(1).upper(), key=key or None, duration=duration)


def hot_keys(events: Iterable[LogEvent], *, top: int = 5) -> list[tuple[str, int]]:
    """Pure: keys named most often by slow cache commands (at least twice)."""
    counter: Counter[str] = Counter()
    for event in events:
        if event.slow_command is not None and event.slow_command.key:
            counter[event.slow_command.key] += 1
    return [(key, count) for key, count in counter.most_common(top) if count >= 2]
