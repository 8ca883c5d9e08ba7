"""Paging a log query past Loki's entry limit, exactly, on integer nanoseconds."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence

from diagnosis_operator.adapters.loki.nanos import from_nanos, to_nanos
from diagnosis_operator.adapters.loki.wire import Entry
from diagnosis_operator.models.signals import Labels, LogLine, LogStream, Window

# Asks Loki for one page: the query_range parameters in, the page's entries out.
FetchPage = Callable[[Mapping[str, str]], list[Entry]]


def page_forward(
    fetch: FetchPage, *, query: str, window: Window, limit: int, page_size: int
) -> list[LogStream]:
    """Up to ``limit`` entries of ``query``, oldest first, over closed ``window``.

    Each request asks for at most ``page_size`` entries; the next one starts
    at the last timestamp seen (Loki's start is inclusive) and drops the
    entries already returned at that instant.
    """
    start_ns = to_nanos(window.start)
    # Loki's end is exclusive; the window is closed.
    end_ns = to_nanos(window.end) + 1
    collected: list[Entry] = []
    boundary_ns: int | None = None
    boundary_seen: Counter[Entry] = Counter()
    while len(collected) < limit and start_ns < end_ns:
        wanted = limit - len(collected) + sum(boundary_seen.values())
        page_limit = min(page_size, wanted)
        params = {
            "query": query,
            "start": str(start_ns),
            "end": str(end_ns),
            "limit": str(page_limit),
            "direction": "forward",
        }
        page = fetch(params)
        fresh = _unseen(page, boundary_ns=boundary_ns, boundary_seen=boundary_seen)
        collected.extend(fresh[: limit - len(collected)])
        if len(page) < page_limit:
            break
        last_ns = page[-1][1]
        if not fresh:
            # A whole page at one instant, all seen before: Loki's API
            # cannot reach further entries at this instant; move past it.
            start_ns, boundary_ns, boundary_seen = last_ns + 1, None, Counter()
            continue
        if last_ns != boundary_ns:
            boundary_seen = Counter()
        boundary_ns = last_ns
        boundary_seen.update(entry for entry in fresh if entry[1] == last_ns)
        start_ns = last_ns
    return group_streams(collected)


def _unseen(
    page: Sequence[Entry], *, boundary_ns: int | None, boundary_seen: Counter[Entry]
) -> list[Entry]:
    """The entries of ``page`` not already returned at the boundary instant."""
    fresh: list[Entry] = []
    pending = Counter(boundary_seen)
    for entry in page:
        if entry[1] == boundary_ns and pending[entry] > 0:
            pending[entry] -= 1
            continue
        fresh.append(entry)
    return fresh


def group_streams(entries: Sequence[Entry]) -> list[LogStream]:
    """Entries back into streams, each oldest first, streams in label order.  Pure."""
    grouped: dict[Labels, list[LogLine]] = {}
    for labels, ns, line in entries:
        grouped.setdefault(labels, []).append(LogLine(ts=from_nanos(ns), line=line))
    return [
        LogStream(labels=labels, lines=tuple(sorted(lines, key=lambda line: (line.ts, line.line))))
        for labels, lines in sorted(grouped.items(), key=lambda item: sorted(item[0].items()))
    ]
