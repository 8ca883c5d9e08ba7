"""``BundleSource``: the ``SeriesSource`` and ``LogSource`` ports over a loaded bundle.

It answers with the semantics written in ``ports.py``, rounding like the live
backends do (Prometheus milliseconds, Loki nanoseconds), so a bundle diagnosed
in-process and the same bundle replayed into Prometheus and Loki give identical
values.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from diagnosis_operator.adapters import logql, promql
from diagnosis_operator.adapters.bundle._counting import (
    counts_per_step,
    extracted_groups,
    log_counts,
    top_counts,
)
from diagnosis_operator.adapters.bundle._line_filter import LineFilters
from diagnosis_operator.adapters.bundle.promql_eval import evaluate
from diagnosis_operator.adapters.bundle.regex_dialect import check_common_regex
from diagnosis_operator.models.bundle import Bundle, Int64Array, StoredStream
from diagnosis_operator.models.promql_subset import parse_subset
from diagnosis_operator.models.signals import (
    Labels,
    LogCount,
    LogLine,
    LogStream,
    MetricType,
    Series,
    Window,
)
from diagnosis_operator.models.timefmt import prometheus_ms, prometheus_step_ms, seconds_to_nanos
from diagnosis_operator.ports import SignalError

# Prometheus 2.x lookback delta: the newest sample in [t - 5m, t] counts.
LOOKBACK_MS = 5 * 60 * 1000


class BundleSource:
    """``SeriesSource``, ``LogSource`` and (for policy signals) ``PromQLSource`` over a bundle."""

    backend = "bundle"
    # Answers in-process: the collector asks it sequentially (threads would only
    # contend for the interpreter lock).
    in_process = True

    def __init__(self, bundle: Bundle) -> None:
        self.bundle = bundle
        self._regexps: dict[str, re.Pattern[str]] = {}
        self._line_filters = LineFilters()

    # SeriesSource ---------------------------------------------------------

    def describe_selector(self, *, selector: Mapping[str, str]) -> str:
        return promql.selector(selector)

    def range_series(
        self, *, selector: Mapping[str, str], window: Window, step: float
    ) -> list[Series]:
        query = promql.selector(selector)
        try:
            step_ms = prometheus_step_ms(step)
        except ValueError as error:
            raise self._error(query, window, str(error)) from None
        start_ms, end_ms = prometheus_ms(window.start), prometheus_ms(window.end)
        instants = start_ms + step_ms * np.arange(
            (end_ms - start_ms) // step_ms + 1, dtype=np.int64
        )
        seconds = instants / 1000.0
        found: list[Series] = []
        for stored in self.bundle.series_of(selector):
            stamps = stored.timestamps_ms
            newest = np.searchsorted(stamps, instants, side="right") - 1
            clipped = np.maximum(newest, 0)
            present = (newest >= 0) & (stamps[clipped] >= instants - LOOKBACK_MS)
            if not bool(present.any()):
                continue
            found.append(
                Series(
                    name=stored.name,
                    labels=stored.labels,
                    timestamps=tuple(seconds[present].tolist()),
                    values=tuple(stored.values[clipped[present]].tolist()),
                    type=stored.type,
                )
            )
        found.sort(key=lambda series: (series.name, tuple(series.labels.items())))
        return found

    def series_types(self, names: Sequence[str]) -> dict[str, MetricType]:
        """The type each series name was declared with in the bundle (``# TYPE``)."""
        wanted = set(names)
        types = {name: MetricType.UNKNOWN for name in names}
        for stored in self.bundle.series:
            if stored.name in wanted and stored.type is not MetricType.UNKNOWN:
                types[stored.name] = stored.type
        return types

    # PromQLSource (the subset policies may use) ---------------------------

    def query_range(self, *, promql: str, window: Window, step: float) -> list[Series]:
        """A policy signal's PromQL over the bundle (``models.promql_subset`` only)."""
        try:
            return evaluate(self.bundle, parse_subset(promql), window=window, step=step)
        except ValueError as error:  # UnsupportedQuery, a bad step
            raise self._error(promql, window, str(error)) from None

    def query_instant(self, *, promql: str, at: float) -> list[Series]:
        """The query's value at ``at``: the last point of a one-second range query."""
        found = self.query_range(promql=promql, window=Window(start=at - 1.0, end=at), step=1.0)
        return [
            Series(
                name=series.name,
                labels=series.labels,
                timestamps=series.timestamps[-1:],
                values=series.values[-1:],
                type=series.type,
            )
            for series in found
            if series.timestamps and series.timestamps[-1] == prometheus_ms(at) / 1000.0
        ]

    # LogSource ------------------------------------------------------------

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

    def sample_lines(
        self,
        *,
        selector: Mapping[str, str],
        window: Window,
        line_filter: str | None,
        limit: int,
    ) -> list[LogStream]:
        query = logql.log_query(selector=selector, line_filter=line_filter)
        if limit <= 0:
            raise self._error(query, window, f"limit must be positive, got {limit}")
        # Loki reads log queries over [start, end).
        start_ns, end_ns = seconds_to_nanos(window.start), seconds_to_nanos(window.end)
        picked_stamps: list[Int64Array] = []
        picked_streams: list[Int64Array] = []
        picked_indexes: list[Int64Array] = []
        streams = self.bundle.streams_of(selector)
        for number, stream in enumerate(streams):
            indexes = self._matching(stream, line_filter, query, window)
            stamps = stream.timestamps_ns[indexes]
            low = int(np.searchsorted(stamps, start_ns, side="left"))
            high = int(np.searchsorted(stamps, end_ns, side="left"))
            if high > low:
                high = min(high, low + limit)
                picked_stamps.append(stamps[low:high])
                picked_indexes.append(indexes[low:high])
                picked_streams.append(np.full(high - low, number, dtype=np.int64))
        if not picked_stamps:
            return []
        all_stamps = np.concatenate(picked_stamps)
        all_streams = np.concatenate(picked_streams)
        all_indexes = np.concatenate(picked_indexes)
        order = np.lexsort((all_indexes, all_streams, all_stamps))[:limit]
        grouped: dict[int, list[LogLine]] = {}
        for position in order.tolist():
            number = int(all_streams[position])
            stream = streams[number]
            grouped.setdefault(number, []).append(
                LogLine(
                    ts=int(all_stamps[position]) / 1e9,
                    line=stream.lines[int(all_indexes[position])],
                )
            )
        return [
            LogStream(labels=streams[number].labels, lines=tuple(grouped[number]))
            for number in sorted(grouped)
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
        query = logql.count_query(selector=selector, line_filter=line_filter, by=by, step=step)
        instants, step_ns = self._instants(window, step, query)
        totals: dict[Labels, Int64Array] = {}
        for stream in self.bundle.streams_of(selector):
            stamps = stream.timestamps_ns[self._matching(stream, line_filter, query, window)]
            counts = counts_per_step(stamps, instants, step_ns)
            group = Labels({name: stream.labels[name] for name in by if stream.labels.get(name)})
            previous = totals.get(group)
            totals[group] = counts if previous is None else previous + counts
        return log_counts(totals, instants)

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
        query = logql.extract_count_query(
            selector=selector, line_filter=line_filter, pattern=pattern, by=by, step=step, top=top
        )
        compiled = self._regex(pattern, query, window)
        if not compiled.groupindex:
            raise self._error(
                query, window, f"regexp {pattern!r} needs at least one named group (?P<name>...)"
            )
        instants, step_ns = self._instants(window, step, query)
        first, last = int(instants[0]) - step_ns, int(instants[-1])
        stamps_by_group: dict[Labels, list[Int64Array]] = {}
        for stream in self.bundle.streams_of(selector):
            indexes = self._matching(stream, line_filter, query, window)
            stamps = stream.timestamps_ns[indexes]
            low = int(np.searchsorted(stamps, first, side="right"))
            high = int(np.searchsorted(stamps, last, side="right"))
            if high <= low:
                continue
            for labels, part in extracted_groups(
                stream=stream,
                compiled=compiled,
                by=by,
                indexes=indexes[low:high],
                stamps=stamps[low:high],
            ):
                stamps_by_group.setdefault(labels, []).append(part)
        return top_counts(stamps_by_group, instants=instants, step_ns=step_ns, top=top)

    # helpers ---------------------------------------------------------------

    def _error(self, query: str, window: Window, reason: str) -> SignalError:
        return SignalError(backend=self.backend, query=query, window=window, reason=reason)

    def _instants(self, window: Window, step: float, query: str) -> tuple[Int64Array, int]:
        step_ns = round(step * 1e9)
        if step_ns <= 0:
            raise self._error(query, window, f"step must be positive, got {step!r}")
        start_ns, end_ns = seconds_to_nanos(window.start), seconds_to_nanos(window.end)
        count = (end_ns - start_ns) // step_ns + 1
        return start_ns + step_ns * np.arange(count, dtype=np.int64), step_ns

    def _regex(self, pattern: str, query: str, window: Window) -> re.Pattern[str]:
        compiled = self._regexps.get(pattern)
        if compiled is None:
            try:
                compiled = check_common_regex(pattern)
            except ValueError as error:
                raise self._error(query, window, str(error)) from None
            self._regexps[pattern] = compiled
        return compiled

    def _matching(
        self, stream: StoredStream, line_filter: str | None, query: str, window: Window
    ) -> Int64Array:
        """Indexes of the stream's lines the filter keeps (cached per stream and filter)."""
        if not line_filter:
            return np.arange(len(stream.lines), dtype=np.int64)
        compiled = self._regex(line_filter, query, window)
        return self._line_filters.matching(stream, line_filter, compiled)
