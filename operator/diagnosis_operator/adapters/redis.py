"""Redis through redis-py, read-only: SLOWLOG GET, INFO, LATENCY LATEST, key sizes.

Nothing here writes to the server or changes its configuration.  Key names come
from the server's own slow log and travel as RESP arguments, never as text
spliced into a command.  Every call is bounded: a socket timeout on connect and
read, and a cap on how many slow-log entries and keys are read.

Errors are ``RedisError``s naming the server (host:port/db, never the password)
and what was asked.
"""

from __future__ import annotations

import contextlib
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import redis

from diagnosis_operator.models.observations import KeySize, LatencyEvent, RedisInfo, SlowlogEntry

MAX_SLOWLOG_ENTRIES = 1024
MAX_KEYS_SIZED = 50
# The element count of each value type, asked with the command that reads it in O(1).
_LENGTH_COMMANDS: Mapping[str, str] = {
    "string": "STRLEN",
    "hash": "HLEN",
    "set": "SCARD",
    "zset": "ZCARD",
    "list": "LLEN",
    "stream": "XLEN",
}


class RedisError(RuntimeError):
    """A Redis call failed: which server, what was asked, what came back."""

    def __init__(self, *, server: str, asked: str, error: BaseException) -> None:
        self.server = server
        self.asked = asked
        self.error = error
        super().__init__(f"redis {server}: {asked} failed: {type(error).__name__}: {error}")


def describe_url(url: str) -> str:
    """``host:port/db`` of a Redis URL, without user or password.  Pure."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "unix":
        return f"unix:{parts.path}"
    host = parts.hostname or "localhost"
    port = parts.port or 6379
    db = parts.path.strip("/") or "0"
    return f"{host}:{port}/{db}"


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", errors="replace")
    return str(value)


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class RedisAdapter:
    """``RedisProbe`` over one redis-py client (its own small connection pool)."""

    def __init__(
        self,
        *,
        url: str,
        timeout: float = 5.0,
        client: redis.Redis | None = None,
    ) -> None:
        self.server = describe_url(url)
        # Any: redis-py's execute_command is untyped; the raw replies are checked here.
        self._client: Any = client or redis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=False,
            health_check_interval=0,
        )

    def describe(self) -> str:
        return self.server

    def _call(self, asked: str, *args: Any) -> Any:
        try:
            return self._client.execute_command(*args)
        except redis.RedisError as error:
            raise RedisError(server=self.server, asked=asked, error=error) from error

    def slowlog(self, *, limit: int) -> tuple[SlowlogEntry, ...]:
        """The newest ``limit`` slow-log entries (1..1024), newest first."""
        count = max(1, min(int(limit), MAX_SLOWLOG_ENTRIES))
        # "SLOWLOG", "GET" as separate words: redis-py then returns the raw reply,
        # keeping every argument apart instead of joining them with spaces.
        raw = self._call(f"SLOWLOG GET {count}", "SLOWLOG", "GET", count)
        return tuple(entry for entry in (_slowlog_entry(item) for item in raw or ()) if entry)

    def slowlog_threshold(self) -> float | None:
        """``slowlog-log-slower-than`` in seconds; None when CONFIG is not allowed or it is off."""
        try:
            reply = self._client.execute_command("CONFIG", "GET", "slowlog-log-slower-than")
        except redis.RedisError:
            return None  # managed services often rename or forbid CONFIG
        values = [_text(v) for v in (reply.values() if isinstance(reply, dict) else reply or ())]
        micros = _int(values[-1]) if values else None
        return micros / 1e6 if micros is not None and micros >= 0 else None

    def info(self) -> RedisInfo:
        """The default INFO sections (server, clients, memory, stats, keyspace)."""
        raw = self._call("INFO", "INFO")
        if isinstance(raw, bytes | str):
            raw = _parse_info_text(_text(raw))
        return info_from_mapping(raw)

    def latency_latest(self) -> tuple[LatencyEvent, ...]:
        raw = self._call("LATENCY LATEST", "LATENCY", "LATEST")
        events = []
        for item in raw or ():
            if not isinstance(item, list | tuple) or len(item) < 4:
                continue
            at, latest, worst = _int(item[1]), _int(item[2]), _int(item[3])
            if at is None or latest is None or worst is None:
                continue
            events.append(
                LatencyEvent(
                    event=_text(item[0]),
                    latest_at=float(at),
                    latest=latest / 1e3,
                    worst=worst / 1e3,
                )
            )
        return tuple(events)

    def key_sizes(self, *, keys: Sequence[str]) -> tuple[KeySize, ...]:
        """Type, element count and memory of at most 50 keys (missing keys have type "none")."""
        wanted = list(dict.fromkeys(keys))[:MAX_KEYS_SIZED]
        if not wanted:
            return ()
        asked = f"TYPE / MEMORY USAGE of {len(wanted)} key(s)"
        try:
            pipe = self._client.pipeline(transaction=False)
            for key in wanted:
                pipe.execute_command("TYPE", key)
                pipe.execute_command("MEMORY", "USAGE", key)
            first = pipe.execute(raise_on_error=False)
            types = [
                _text(first[2 * i]) if not isinstance(first[2 * i], Exception) else "unknown"
                for i in range(len(wanted))
            ]
            memory = [
                _int(first[2 * i + 1]) if not isinstance(first[2 * i + 1], Exception) else None
                for i in range(len(wanted))
            ]
            pipe = self._client.pipeline(transaction=False)
            measured = [i for i, kind in enumerate(types) if kind in _LENGTH_COMMANDS]
            for i in measured:
                pipe.execute_command(_LENGTH_COMMANDS[types[i]], wanted[i])
            lengths = pipe.execute(raise_on_error=False) if measured else []
        except redis.RedisError as error:
            raise RedisError(server=self.server, asked=asked, error=error) from error
        length_of = {
            i: _int(value) if not isinstance(value, Exception) else None
            for i, value in zip(measured, lengths, strict=True)
        }
        return tuple(
            KeySize(key=key, value_type=types[i], length=length_of.get(i), memory_bytes=memory[i])
            for i, key in enumerate(wanted)
        )

    def close(self) -> None:
        with contextlib.suppress(redis.RedisError):
            self._client.close()


def _slowlog_entry(item: Any) -> SlowlogEntry | None:
    """One raw SLOWLOG GET item: id, start, duration (us), args, [client, name]."""
    if not isinstance(item, list | tuple) or len(item) < 4:
        return None
    entry_id, started, duration = _int(item[0]), _int(item[1]), _int(item[2])
    args = item[3]
    if not isinstance(args, list | tuple):
        # Some Redis-compatible servers put a complexity figure before the arguments.
        if len(item) < 5 or not isinstance(item[4], list | tuple):
            return None
        args, rest = item[4], item[5:]
    else:
        rest = item[4:]
    if entry_id is None or started is None or duration is None:
        return None
    client = _text(rest[0]) if len(rest) > 0 and rest[0] else None
    name = _text(rest[1]) if len(rest) > 1 and rest[1] else None
    return SlowlogEntry(
        entry_id=entry_id,
        started=float(started),
        duration=duration / 1e6,
        args=tuple(_text(arg) for arg in args),
        client=client,
        client_name=name,
    )


def _parse_info_text(text: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for line in text.splitlines():
        if not line or line.startswith("#") or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if key.startswith("db") and "=" in value:
            out[key] = dict(part.split("=", 1) for part in value.split(",") if "=" in part)
        else:
            out[key] = value
    return out


def info_from_mapping(raw: Mapping[str, Any]) -> RedisInfo:
    """``RedisInfo`` from an INFO reply parsed into a mapping (redis-py's or ours).  Pure."""
    keys_by_db: dict[str, int] = {}
    for name, value in raw.items():
        if str(name).startswith("db") and isinstance(value, Mapping):
            count = _int(value.get("keys"))
            if count is not None:
                keys_by_db[str(name)] = count
    policy = raw.get("maxmemory_policy")
    version = raw.get("redis_version")
    return RedisInfo(
        version=_text(version) if version is not None else None,
        uptime_seconds=_int(raw.get("uptime_in_seconds")),
        connected_clients=_int(raw.get("connected_clients")),
        blocked_clients=_int(raw.get("blocked_clients")),
        maxclients=_int(raw.get("maxclients")),
        rejected_connections=_int(raw.get("rejected_connections")),
        evicted_keys=_int(raw.get("evicted_keys")),
        used_memory=_int(raw.get("used_memory")),
        maxmemory=_int(raw.get("maxmemory")),
        maxmemory_policy=_text(policy) if policy is not None else None,
        keys_by_db=keys_by_db,
    )
