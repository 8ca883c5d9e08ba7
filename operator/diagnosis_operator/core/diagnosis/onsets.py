"""When severe log categories and slow statements became new in the incident.  Pure."""

from __future__ import annotations

import bisect
from collections import defaultdict

from diagnosis_operator.core.diagnosis.bursts import burst_start
from diagnosis_operator.core.diagnosis.logs import (
    SEVERITY,
    ComponentLogs,
    LogCategory,
    LogEvent,
    statement_fingerprint,
)
from diagnosis_operator.core.diagnosis.stats import poisson_tail_at
from diagnosis_operator.models.signals import Window

NEW_CATEGORY_MIN_SEVERITY = 1.5


def new_log_categories(
    *,
    logs: ComponentLogs,
    window: Window,
    baseline_fraction: float = 0.25,
    span: float = 300.0,
    max_p: float = 1e-3,
) -> dict[LogCategory, tuple[LogEvent, int]]:
    """Pure: severe log categories that start (or burst) in the incident part of the window.

    The first ``baseline_fraction`` of the window gives each category's usual
    rate.  A category is new at the first event that opens a ``span``-second
    stretch holding more of it than that rate makes plausible (Poisson tail
    below ``max_p``); the most severe categories (deadlocks, connection
    exhaustion, out of memory) are new at their first line when the baseline
    had none.  Slow queries are judged per statement fingerprint, so a slow
    report that runs every hour does not hide a new slow statement.  Returns the
    first event from the onset on and the number of events from there.
    """
    cut = window.start + baseline_fraction * window.duration
    before_span = max(cut - window.start, 1.0)
    grouped: dict[tuple[LogCategory, str], list[LogEvent]] = defaultdict(list)
    for event in logs.events:
        if SEVERITY[event.category] >= NEW_CATEGORY_MIN_SEVERITY:
            key = ""
            if event.slow_query is not None:
                key = statement_fingerprint(event.slow_query.statement)
            grouped[(event.category, key)].append(event)
    found: dict[LogCategory, tuple[LogEvent, int]] = {}
    for (category, fingerprint), events in grouped.items():
        events.sort(key=lambda e: e.ts)
        stamps = [e.ts for e in events]
        before = bisect.bisect_left(stamps, cut)
        if before == len(events):
            continue
        onset_index: int | None = None
        if before == 0 and (SEVERITY[category] >= 3.0 or fingerprint):
            onset_index = 0
        else:
            expected = (before + 0.5) / before_span * span
            for index in range(before, len(events)):
                inside = bisect.bisect_left(stamps, stamps[index] + span) - index
                if poisson_tail_at(inside, expected) < max_p:
                    onset_index = burst_start(
                        stamps, index=index, span=span, usual_rate=(before + 0.5) / before_span
                    )
                    break
        if onset_index is None:
            continue
        first = events[onset_index]
        count = len(events) - onset_index
        current = found.get(category)
        if current is None or first.ts < current[0].ts:
            found[category] = (first, count + (current[1] if current else 0))
        else:
            found[category] = (current[0], current[1] + count)
    return found


def new_slow_queries(
    *, logs: ComponentLogs, window: Window, baseline_fraction: float = 0.25
) -> tuple[LogEvent, ...]:
    """Pure: slow-query events after the window's first part whose statement was not slow in it."""
    cut = window.start + baseline_fraction * window.duration
    usual = {
        statement_fingerprint(e.slow_query.statement)
        for e in logs.events
        if e.slow_query is not None and e.ts < cut
    }
    return tuple(
        e
        for e in logs.events
        if e.slow_query is not None
        and e.ts >= cut
        and statement_fingerprint(e.slow_query.statement) not in usual
    )
