"""Template mining (Drain) of sampled lines, after masking variable parts.  Pure."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from drain3.drain import Drain

from diagnosis_operator.core.diagnosis.logs._fields import IP, first_field, json_object
from diagnosis_operator.core.diagnosis.logs.categories import categorize
from diagnosis_operator.core.diagnosis.logs.model import SEVERITY, LogTemplate

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
    (re.compile(rf"\b{IP}(?::\d+)?\b"), "<IP>"),
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
    obj = json_object(line)
    if obj is not None:
        message = first_field(obj, ("msg", "message", "event", "error", "err"))
        level = first_field(obj, ("level", "severity", "lvl"))
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
