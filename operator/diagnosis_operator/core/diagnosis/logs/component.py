"""All sampled lines of one component: events, counts and templates.  Pure."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from diagnosis_operator.core.diagnosis.logs.categories import read_event
from diagnosis_operator.core.diagnosis.logs.model import ComponentLogs, LogCategory, LogEvent
from diagnosis_operator.core.diagnosis.logs.templates import mine_templates
from diagnosis_operator.models.signals import LogStream


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
