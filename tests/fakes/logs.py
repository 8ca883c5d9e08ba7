"""A fake ``LogSource`` over in-memory streams, with the semantics of ``adapters/ports.py``.

It is the executable statement of the LogSource contract: the integration
test ``tests/integration/test_loki_logsource.py`` runs the same data through
this fake and through ``LokiLogSource`` on the Loki test server and expects the
same answers.  ``describe`` quotes the LogQL Loki would be sent.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from diagnosis_operator.adapters import logql
from diagnosis_operator.models.signals import Labels, LogCount, LogLine, LogStream, Window

_GO_NAMED_GROUP = re.compile(r"\(\?<(?![=!])")


def _compile(pattern: str) -> re.Pattern[str]:
    # Go (RE2) also spells named groups (?<name>...); Python 3.11 only (?P<name>...).
    return re.compile(_GO_NAMED_GROUP.sub("(?P<", pattern))


@dataclass
class FakeLogSource:
    streams: list[LogStream] = field(default_factory=list)
    calls: list[tuple[str, dict[str, object]]] = field(default_factory=list)

    def add(self, labels: Mapping[str, str], lines: Iterable[tuple[float, str]]) -> None:
        self.streams.append(
            LogStream(
                labels=Labels(labels),
                lines=tuple(
                    sorted((LogLine(ts, line) for ts, line in lines), key=lambda x: (x.ts, x.line))
                ),
            )
        )

    def _entries(
        self, selector: Mapping[str, str], line_filter: str | None
    ) -> list[tuple[Labels, LogLine]]:
        regex = _compile(line_filter) if line_filter else None
        # Loki keeps one copy of entries identical in stream, timestamp and line.
        unique: dict[tuple[Labels, float, str], LogLine] = {}
        for stream in self.streams:
            if not stream.labels.matches(selector):
                continue
            for line in stream.lines:
                if regex is None or regex.search(line.line):
                    unique.setdefault((stream.labels, line.ts, line.line), line)
        return [(labels, line) for (labels, _, _), line in unique.items()]

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]:
        self.calls.append(("sample_lines", {"selector": dict(selector), "limit": limit}))
        entries = sorted(
            (
                (line.ts, labels, line)
                for labels, line in self._entries(selector, line_filter)
                if window.contains(line.ts)
            ),
            key=lambda entry: (entry[0], entry[2].line),
        )[:limit]
        grouped: dict[Labels, list[LogLine]] = {}
        for _, labels, line in entries:
            grouped.setdefault(labels, []).append(line)
        return [
            LogStream(labels=labels, lines=tuple(lines))
            for labels, lines in sorted(grouped.items(), key=lambda item: sorted(item[0].items()))
        ]

    def _count(
        self,
        rows: list[tuple[float, Labels]],
        *,
        window: Window,
        step: float,
        top: int | None,
    ) -> list[LogCount]:
        points: dict[Labels, dict[float, float]] = {}
        for t in window.steps(step):
            per_group: dict[Labels, float] = {}
            for ts, group in rows:
                if t - step < ts <= t:
                    per_group[group] = per_group.get(group, 0.0) + 1.0
            ranked = sorted(per_group.items(), key=lambda item: (-item[1], sorted(item[0].items())))
            for group, value in ranked if top is None else ranked[:top]:
                points.setdefault(group, {})[t] = value
        return [
            LogCount(
                labels=group,
                timestamps=tuple(sorted(values)),
                values=tuple(values[t] for t in sorted(values)),
            )
            for group, values in sorted(points.items(), key=lambda item: sorted(item[0].items()))
        ]

    def count_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        by: Sequence[str],
    ) -> list[LogCount]:
        self.calls.append(("count_lines", {"selector": dict(selector), "by": tuple(by)}))
        rows = [
            (line.ts, Labels({name: labels.get(name, "") for name in by}))
            for labels, line in self._entries(selector, line_filter)
        ]
        return self._count(rows, window=window, step=step, top=None)

    def count_extracted(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        step: float,
        line_filter: str | None,
        pattern: str,
        by: Sequence[str],
        top: int,
    ) -> list[LogCount]:
        self.calls.append(("count_extracted", {"pattern": pattern, "by": tuple(by), "top": top}))
        regex = _compile(pattern)
        rows: list[tuple[float, Labels]] = []
        for labels, line in self._entries(selector, line_filter):
            merged = dict(labels)
            found = regex.search(line.line)
            if found is not None:
                for name, value in found.groupdict().items():
                    if value is not None:
                        # Loki renames an extracted label that a stream label already has.
                        merged[f"{name}_extracted" if name in labels else name] = value
            rows.append((line.ts, Labels({name: merged.get(name, "") for name in by})))
        return self._count(rows, window=window, step=step, top=top)

    def describe(
        self,
        *,
        selector: Mapping[str, str],
        line_filter: str | None,
        pattern: str | None = None,
        by: Sequence[str] = (),
        step: float | None = None,
        top: int | None = None,
    ) -> str:
        return logql.describe_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
