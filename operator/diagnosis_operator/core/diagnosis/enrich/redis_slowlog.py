"""The Redis slow log: hot keys, whole-value reads, KEYS scans.  Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from diagnosis_operator.core.diagnosis.enrich.model import (
    EnrichThresholds,
)
from diagnosis_operator.models.findings import (
    Evidence,
    EvidenceSource,
    Recommendation,
    Urgency,
)
from diagnosis_operator.models.observations import (
    ADMIN_COMMANDS,
    KeySize,
    RedisObservation,
    SlowlogEntry,
)
from diagnosis_operator.models.signals import Window, isoformat_z

# Reads that return a whole value; on a big value each call moves and blocks a lot.
_WHOLE_VALUE_READS = {
    "HGETALL": "HSCAN, or HMGET of the fields needed",
    "HKEYS": "HSCAN",
    "HVALS": "HSCAN",
    "SMEMBERS": "SSCAN, or SISMEMBER for membership tests",
    "SUNION": "SSCAN over the sets, or a precomputed union",
    "SINTER": "SSCAN, or a precomputed intersection",
    "SDIFF": "SSCAN, or a precomputed difference",
    "LRANGE": "bounded ranges (pages)",
    "ZRANGE": "bounded ranges or ZSCAN",
    "ZREVRANGE": "bounded ranges or ZSCAN",
    "ZRANGEBYSCORE": "LIMIT offset count",
    "ZREVRANGEBYSCORE": "LIMIT offset count",
    "XRANGE": "COUNT",
    "SORT": "a precomputed sorted set",
}
_RANGE_COMMANDS = frozenset({"LRANGE", "ZRANGE", "ZREVRANGE"})


def in_window(
    entries: Iterable[SlowlogEntry], *, window: Window, margin: float
) -> tuple[SlowlogEntry, ...]:
    """Pure: the entries that started inside the window (times are whole seconds)."""
    return tuple(e for e in entries if window.start - margin <= e.started <= window.end + margin)


def workload(entries: Iterable[SlowlogEntry]) -> tuple[SlowlogEntry, ...]:
    """Pure: the entries that read or write data (not INFO, CONFIG, SLOWLOG...)."""
    return tuple(e for e in entries if e.command and e.command not in ADMIN_COMMANDS)


def keys_worth_sizing(
    *, entries: Sequence[SlowlogEntry], window: Window, limit: int = 10
) -> tuple[str, ...]:
    """Pure: the keys of the window's slow commands, most frequent first."""
    counts: Counter[str] = Counter()
    for entry in workload(in_window(entries, window=window, margin=1.0)):
        for key in entry.keys:
            counts[key] += 1
    return tuple(key for key, _ in counts.most_common(limit))


def _whole_value(entry: SlowlogEntry) -> bool:
    if entry.command not in _WHOLE_VALUE_READS:
        return False
    if entry.command in _RANGE_COMMANDS:
        return len(entry.args) >= 4 and entry.args[3].strip() == "-1"
    return True


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def _size_text(size: KeySize | None) -> str:
    if size is None:
        return ""
    parts = []
    if size.length is not None:
        unit = "bytes" if size.value_type == "string" else "elements"
        parts.append(f"{size.value_type}, {size.length} {unit}")
    else:
        parts.append(size.value_type)
    if size.memory_bytes is not None:
        parts.append(f"{size.memory_bytes} bytes in memory")
    return " (" + ", ".join(parts) + ")"


def _is_big(size: KeySize | None, thresholds: EnrichThresholds) -> bool:
    if size is None:
        return False
    if size.value_type != "string" and (size.length or 0) >= thresholds.big_value_elements:
        return True
    return (size.memory_bytes or 0) >= thresholds.big_value_bytes


def clock(ts: float) -> str:
    return isoformat_z(ts)[11:19]


@dataclass
class Found:
    """Evidence collected for one component; ``add`` returns the summary for ``because``."""

    component: str
    server: str
    evidence: list[Evidence] = field(default_factory=list)

    def add(
        self, summary: str, query: str, *, value: float | None = None, ts: float | None = None
    ) -> str:
        self.evidence.append(
            Evidence(
                component=self.component,
                source=EvidenceSource.REDIS,
                query=query,
                summary=summary,
                value=value,
                ts=ts,
                instance=self.server,
            )
        )
        return summary


def hot_key_advice(
    commands: Sequence[SlowlogEntry],
    sizes: dict[str, KeySize],
    thresholds: EnrichThresholds,
    found: Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    by_key: Counter[str] = Counter(e.key for e in commands if e.key is not None)
    if not by_key:
        return []
    key, count = by_key.most_common(1)[0]
    if count < thresholds.hot_key_min_entries or count < thresholds.hot_key_share * len(commands):
        return []
    on_key = [e for e in commands if e.key == key]
    kinds = Counter(e.command for e in on_key)
    callers = Counter(e.client for e in on_key if e.client)
    total = sum(e.duration for e in on_key)
    summary = (
        f"hot key {key!r}{_size_text(sizes.get(key))}: {count} of {len(commands)} slow commands "
        f"({', '.join(f'{c} {n}x' for c, n in kinds.most_common(3))}), {ms(total)} in total"
    )
    if callers:
        summary += f", from {len(callers)} client(s): " + ", ".join(
            f"{c} ({n}x)" for c, n in callers.most_common(3)
        )
    because = found.add(summary, query, value=float(count), ts=min(e.started for e in on_key))
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text=f"Relieve hot key {key!r} on {name}: cache it in the callers for a short time, "
            "or split it into several smaller keys (or shard it) so its load spreads.",
            because=because,
        )
    ]


def whole_value_advice(
    commands: Sequence[SlowlogEntry],
    sizes: dict[str, KeySize],
    thresholds: EnrichThresholds,
    found: Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    grouped: dict[tuple[str, str], list[SlowlogEntry]] = {}
    for entry in commands:
        if entry.key is not None and _whole_value(entry):
            grouped.setdefault((entry.command, entry.key), []).append(entry)
    out: list[Recommendation] = []
    for (command, key), entries in sorted(grouped.items(), key=lambda item: -len(item[1])):
        size = sizes.get(key)
        slowest = max(e.duration for e in entries)
        if not (_is_big(size, thresholds) or slowest >= thresholds.slow_command_seconds):
            continue
        because = found.add(
            f"{command} on {key!r}{_size_text(size)}: {len(entries)} slow call(s), "
            f"slowest {ms(slowest)}",
            query,
            value=float(len(entries)),
            ts=min(e.started for e in entries),
        )
        out.append(
            Recommendation(
                component=name,
                urgency=Urgency.SHORT_TERM,
                text=f"Split the {command} reads of {key!r} on {name}: use "
                f"{_WHOLE_VALUE_READS[command]} instead of reading the whole value, and break "
                "the value into smaller keys.",
                because=because,
            )
        )
        if len(out) >= 3:
            break
    return out


def keys_scan_advice(
    commands: Sequence[SlowlogEntry],
    observation: RedisObservation,
    thresholds: EnrichThresholds,
    found: Found,
    query: str,
    name: str,
) -> list[Recommendation]:
    scans = [e for e in commands if e.command == "KEYS"]
    if not scans:
        return []
    slowest = max(e.duration for e in scans)
    keyspace = observation.info.total_keys if observation.info is not None else 0
    if slowest < thresholds.slow_command_seconds and keyspace < thresholds.big_value_elements:
        return []
    patterns = Counter(e.args[1] for e in scans if len(e.args) > 1)
    because = found.add(
        f"KEYS over a keyspace of {keyspace} keys: {len(scans)} call(s), slowest {ms(slowest)}"
        + (
            f"; patterns: {', '.join(repr(p) for p, _ in patterns.most_common(3))}"
            if patterns
            else ""
        ),
        query,
        value=float(len(scans)),
        ts=min(e.started for e in scans),
    )
    return [
        Recommendation(
            component=name,
            urgency=Urgency.SHORT_TERM,
            text=f"Replace KEYS with SCAN (MATCH, COUNT) on {name}: KEYS walks the whole keyspace "
            "and blocks every other client while it does.",
            because=because,
        )
    ]


def slowlog_advice(
    *, observation: RedisObservation, window: Window, thresholds: EnrichThresholds, found: Found
) -> list[Recommendation]:
    """The window's slow commands as evidence; hot keys, whole-value reads and KEYS as advice."""
    advice: list[Recommendation] = []
    name = observation.component
    sizes = {size.key: size for size in observation.key_sizes}
    slowlog_query = f"SLOWLOG GET {observation.slowlog_limit}"
    recent = in_window(observation.slowlog, window=window, margin=thresholds.window_margin_seconds)
    commands = workload(recent)
    if commands:
        by_command = Counter(e.command for e in commands)
        slowest = max(commands, key=lambda e: e.duration)
        threshold = (
            f" (slowlog-log-slower-than {ms(observation.slowlog_threshold)})"
            if observation.slowlog_threshold is not None
            else ""
        )
        capped = (
            "; the slow log may hold more (limit reached)"
            if len(observation.slowlog) >= observation.slowlog_limit > 0
            else ""
        )
        found.add(
            f"slow log: {len(commands)} slow command(s) in the window{threshold}: "
            + ", ".join(f"{c} {n}x" for c, n in by_command.most_common(5))
            + f"; slowest {slowest.command} {ms(slowest.duration)} at {clock(slowest.started)}"
            + capped,
            slowlog_query,
            value=float(len(commands)),
            ts=min(e.started for e in commands),
        )
        advice.extend(hot_key_advice(commands, sizes, thresholds, found, slowlog_query, name))
        advice.extend(whole_value_advice(commands, sizes, thresholds, found, slowlog_query, name))
        advice.extend(
            keys_scan_advice(commands, observation, thresholds, found, slowlog_query, name)
        )
    elif workload(observation.slowlog):
        found.add(
            f"slow log: {len(workload(observation.slowlog))} slow command(s), none in the window",
            slowlog_query,
        )
    return advice
