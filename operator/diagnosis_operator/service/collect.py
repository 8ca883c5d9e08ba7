"""Collect the signals of every topology component: one bounded set of queries.

Whatever the source (Prometheus + Loki live, a bundle offline) the same
queries are issued, so both paths give the same ``SignalSet``:

per component
  * ``series``      what the engine reads, aggregated by instance over the series
                    budget (``core.series_plan``; ``aggregate=False``: raw pull);
  * ``lines``       log lines per step by instance (``count_lines``);
  * ``significant`` error/warn/slow/deadlock-ish lines per step by instance;
  * ``samples``     those significant lines themselves, at most
                    ``SAMPLE_LIMIT`` per part of the window (the window is cut
                    in ``SAMPLE_PARTS`` parts, so a long early burst cannot hide
                    a later one);
per edge component (kind proxy, or one nothing depends on)
  * ``clients``     requests per client address per step (``count_extracted``,
                    top ``CLIENT_TOP``, ``service.edge_queries``);
  * ``retries``     failed requests per client, request and agent per fine
                    step (about a second), top ``RETRY_TOP``;
  * ``networks``    requests per client network (/24, /64) per step, top
                    ``NETWORK_TOP``: a flood spread over many addresses of one
                    range, each too small for the per-address top list.

per policy signal (a ``signalOverrides`` entry rendered for a component)
  * its PromQL through the ``PromQLSource`` (``query_range``), kept in
    ``ComponentSignals.policy_series`` under the override's name.

Remote backends are asked from a thread pool; an in-process source (the bundle) one query after
the other. A failed query is recorded in ``ComponentSignals.errors`` (counted in
``asked``/``failed`` for ``core.diagnosis.coverage``) and the rest goes on.

``deadline`` (a ``time.monotonic()`` instant) bounds the whole collection: a
query without an answer by then counts as failed ("timed out"), the queries not
yet sent are cancelled, and collect returns without waiting for the threads
still blocked on a backend (their own HTTP timeout ends them).

Memory is bounded whatever the window: at most ``MAX_POINTS`` steps per series,
at most ``SAMPLE_LIMIT`` sampled lines per part, each cut to ``MAX_LINE_CHARS``,
and at most ``MAX_COUNT_SERIES`` series per log count query (a ``topk`` over a
range keeps a different top at every step; the busiest are kept).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field, replace
from typing import Any

from diagnosis_operator.core.diagnosis.collected import (
    SAMPLES,
    SIGNIFICANT_LINES,
    is_edge,
    retry_step,
)
from diagnosis_operator.core.diagnosis.logs import SIGNIFICANT_FILTER
from diagnosis_operator.core.series_plan import allowance
from diagnosis_operator.models.engine import PolicySignal
from diagnosis_operator.models.signals import (
    ComponentSignals,
    LogCount,
    LogLine,
    LogStream,
    Series,
    SignalSet,
    Window,
    policy_query_key,
)
from diagnosis_operator.models.topology import Component, Topology
from diagnosis_operator.ports import LogSource, PartialAnswer, PromQLSource, SeriesSource
from diagnosis_operator.service import metrics
from diagnosis_operator.service.edge_queries import EDGE_EXTRACTIONS
from diagnosis_operator.service.inline import DeadlineExceeded, InlineExecutor
from diagnosis_operator.service.series_collect import SeriesAnswer, component_series, describe

log = logging.getLogger(__name__)

MAX_POINTS = 480
MIN_STEP = 15.0
SAMPLE_PARTS = 4
SAMPLE_LIMIT = 250
LINES = "lines"
SERIES = "series"
WORKERS = 8
MAX_LINE_CHARS = 4096
MAX_COUNT_SERIES = 1000


def choose_step(window: Window) -> float:
    """Pure: 15 s for windows up to two hours, coarser beyond (at most ``MAX_POINTS`` points)."""
    step = max(MIN_STEP, window.duration / MAX_POINTS)
    return float(math.ceil(step / MIN_STEP) * MIN_STEP)


@dataclass
class _Pending:
    component: Component
    series: Future[SeriesAnswer] | None = None
    lines: Future[list[LogCount]] | None = None
    significant: Future[list[LogCount]] | None = None
    samples: list[Future[list[LogStream]]] = field(default_factory=list)
    # key -> (what it counts, for errors; the count_extracted answer)
    extracted: dict[str, tuple[str, Future[list[LogCount]]]] = field(default_factory=dict)
    # override name -> the answer of its PromQL (None: no PromQL source to ask)
    policy: dict[str, Future[list[Series]] | None] = field(default_factory=dict)
    queries: dict[str, str] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    asked: int = 0
    failed: int = 0
    timed_out: int = 0
    partial: int = 0
    series_failed: bool = False
    deadline: float | None = None


def collect(  # noqa: PLR0913 (keyword-only: the sources, the policy signals and the deadline)
    *,
    topology: Topology,
    window: Window,
    series: SeriesSource,
    logs: LogSource,
    step: float | None = None,
    progress: Callable[[str], None] | None = None,
    policy_signals: Sequence[PolicySignal] = (),
    promql: PromQLSource | None = None,
    deadline: float | None = None,
    aggregate: bool = True,
) -> SignalSet:
    """Run the bounded query set for every component and gather the answers.

    ``policy_signals`` (a policy's ``signalOverrides``, rendered per component)
    are asked through ``promql``; without one each becomes an error of its
    component.  ``deadline``: a ``time.monotonic()`` instant after which no
    answer is awaited (a policy signal's query included).  ``aggregate=False``
    asks every raw series of each selector (the path before series budgets).
    """
    step = step or choose_step(window)
    sources = _Sources(
        series=series,
        logs=logs,
        promql=promql,
        aggregate=aggregate,
        limit=allowance(len(topology.components)),
    )
    in_process = bool(getattr(series, "in_process", False)) and bool(
        getattr(logs, "in_process", False)
    )
    pool: ThreadPoolExecutor | InlineExecutor = (
        InlineExecutor(deadline=deadline)
        if in_process
        else ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="collect")
    )
    try:
        pending = [_Pending(component=component) for component in topology]
        # Every component's series first: theirs are the longest chains of queries.
        for item in pending:
            _submit_series(pool, sources, item=item, window=window, step=step)
        for item in pending:
            _submit(pool, sources, topology=topology, item=item, window=window, step=step)
        for item in pending:
            _submit_policy(
                pool, sources, item=item, signals=policy_signals, window=window, step=step
            )
        components: dict[str, ComponentSignals] = {}
        for item in pending:
            item.deadline = deadline
            components[item.component.name] = _gather(item, sources, progress=progress)
    finally:
        # Never wait for a query stuck on a backend: past the deadline it counts as failed.
        pool.shutdown(wait=deadline is None, cancel_futures=True)
    return SignalSet(window=window, step=step, components=components)


@dataclass(frozen=True)
class _Sources:
    series: SeriesSource
    logs: LogSource
    promql: PromQLSource | None = None
    aggregate: bool = True
    limit: int = 1

    @property
    def backends(self) -> tuple[str, str]:
        """The metrics labels of the two sources (series, logs)."""
        return backend_name(self.series), backend_name(self.logs)


def _submit_series(
    pool: ThreadPoolExecutor | InlineExecutor,
    sources: _Sources,
    *,
    item: _Pending,
    window: Window,
    step: float,
) -> None:
    """Send one component's series task; its answer arrives as a future."""
    item.queries[SERIES] = _describe(
        describe,
        source=sources.series,
        selector=dict(item.component.selector),
        aggregate=sources.aggregate,
    )
    item.series = pool.submit(
        component_series,
        sources.series,
        component=item.component,
        window=window,
        step=step,
        limit=sources.limit,
        aggregate=sources.aggregate,
    )


def _submit(
    pool: ThreadPoolExecutor | InlineExecutor,
    sources: _Sources,
    *,
    topology: Topology,
    item: _Pending,
    window: Window,
    step: float,
) -> None:
    """Send one component's log queries; their answers arrive as futures."""
    logs, component = sources.logs, item.component
    selector = dict(component.selector)
    counts: list[Future[list[LogCount]]] = []
    for key, line_filter in ((LINES, None), (SIGNIFICANT_LINES, SIGNIFICANT_FILTER)):
        item.queries[key] = _describe(
            logs.describe, selector=selector, line_filter=line_filter, by=("instance",), step=step
        )
        counts.append(
            pool.submit(
                logs.count_lines,
                selector=selector,
                window=window,
                step=step,
                line_filter=line_filter,
                by=("instance",),
            )
        )
    item.lines, item.significant = counts
    item.queries[SAMPLES] = _describe(
        logs.describe, selector=selector, line_filter=SIGNIFICANT_FILTER
    )
    item.samples = [
        pool.submit(
            logs.sample_lines,
            selector=selector,
            window=part,
            line_filter=SIGNIFICANT_FILTER,
            limit=SAMPLE_LIMIT,
        )
        for part in _parts(window)
    ]
    if is_edge(topology, component):
        _submit_extractions(pool, logs, item=item, selector=selector, window=window, step=step)


def _submit_extractions(
    pool: ThreadPoolExecutor | InlineExecutor,
    logs: LogSource,
    *,
    item: _Pending,
    selector: dict[str, str],
    window: Window,
    step: float,
) -> None:
    """An edge component's client-traffic queries (``EDGE_EXTRACTIONS``)."""
    fine = retry_step(window)
    for query in EDGE_EXTRACTIONS:
        query_step = fine if query.at_retry_step else step
        arguments: dict[str, Any] = {
            "selector": selector,
            "line_filter": query.line_filter,
            "pattern": query.pattern,
            "by": query.by,
            "step": query_step,
            "top": query.top,
        }
        item.queries[query.key] = _describe(logs.describe, **arguments)
        item.extracted[query.key] = (
            query.what,
            pool.submit(logs.count_extracted, window=window, **arguments),
        )


def _submit_policy(
    pool: ThreadPoolExecutor | InlineExecutor,
    sources: _Sources,
    *,
    item: _Pending,
    signals: Sequence[PolicySignal],
    window: Window,
    step: float,
) -> None:
    """The policy's own signals of one component, asked as PromQL."""
    for signal in signals:
        if signal.component != item.component.name:
            continue
        item.queries[policy_query_key(signal.name)] = signal.promql
        item.policy[signal.name] = (
            None
            if sources.promql is None
            else pool.submit(
                sources.promql.query_range, promql=signal.promql, window=window, step=step
            )
        )


def _gather_policy(item: _Pending, sources: _Sources) -> dict[str, tuple[Series, ...]]:
    backend = backend_name(sources.promql) if sources.promql is not None else "none"
    found: dict[str, tuple[Series, ...]] = {}
    for name, answer in item.policy.items():
        if answer is None:
            item.errors.append(
                f"{item.component.name}: policy signal {name} not collected: no PromQL source"
            )
            continue
        found[name] = tuple(_result(answer, item, f"policy signal {name}", backend=backend) or [])
    return found


def _gather(
    item: _Pending, sources: _Sources, *, progress: Callable[[str], None] | None
) -> ComponentSignals:
    """One component's answers; a failed query becomes an error of the component."""
    series_backend, logs_backend = sources.backends
    name = item.component.name
    planned: SeriesAnswer | None = _result(item.series, item, "series", backend=series_backend)
    item.series_failed = planned is None and item.series is not None
    got_series = planned.series if planned is not None else []
    if planned is not None:
        item.queries[SERIES] = "\n".join(planned.queries)
        item.errors.extend(f"{name}: series budget: {note}" for note in planned.notes)
    got_lines = _result(item.lines, item, "log line counts", backend=logs_backend) or []
    got_significant = (
        _result(item.significant, item, "significant log line counts", backend=logs_backend) or []
    )
    samples: list[LogStream] = []
    for future in item.samples:
        samples.extend(_result(future, item, "log samples", backend=logs_backend) or [])
    extracted: dict[str, tuple[LogCount, ...]] = {
        SIGNIFICANT_LINES: tuple(busiest(got_significant))
    }
    for key, (what, answer) in item.extracted.items():
        extracted[key] = tuple(busiest(_result(answer, item, what, backend=logs_backend) or []))
    # Before the counts below: a policy signal's query is asked (and may fail) like the others.
    policy_series = _gather_policy(item, sources)
    signals = ComponentSignals(
        component=name,
        series=tuple(got_series),
        log_samples=tuple(_merge_streams(samples)),
        log_counts=tuple(busiest(got_lines)),
        extracted=extracted,
        queries=dict(item.queries),
        errors=tuple(item.errors),
        asked=item.asked,
        failed=item.failed,
        series_failed=item.series_failed,
        timed_out=item.timed_out,
        partial=item.partial,
        policy_series=policy_series,
    )
    if progress is not None:
        progress(
            f"collected {name}: {len(got_series)} series, "
            f"{sum(len(s.lines) for s in signals.log_samples)} sampled lines"
            + (f", {len(item.errors)} errors" if item.errors else "")
        )
    return signals


def _parts(window: Window) -> list[Window]:
    width = window.duration / SAMPLE_PARTS
    return [
        Window(start=window.start + index * width, end=window.start + (index + 1) * width)
        for index in range(SAMPLE_PARTS)
    ]


def _describe(build: Callable[..., str], **arguments: Any) -> str:
    try:
        return build(**arguments)
    except Exception as error:  # a query text is only quoted in evidence
        return f"(query not describable: {error})"


def backend_name(source: object) -> str:
    """The metrics label of a source: its ``backend`` attribute, else its class name."""
    return str(getattr(source, "backend", "") or type(source).__name__.lower())


def _result(future: Future[Any] | None, item: _Pending, what: str, *, backend: str) -> Any:
    if future is None:
        return None
    item.asked += 1
    remaining = None if item.deadline is None else max(0.0, item.deadline - time.monotonic())
    try:
        answer = future.result(timeout=remaining)
    except (FutureTimeout, DeadlineExceeded) as error:
        future.cancel()
        item.timed_out += 1
        detail = str(error) or "no answer before the diagnosis deadline"
        return _failed(item, what, backend=backend, error=f"{backend} timed out: {detail}")
    except PartialAnswer as partial:  # kept, counted as partial (the source's own words)
        item.partial, answer = item.partial + 1, partial.answer
        item.errors.append(f"{item.component.name}: {what} partial: {partial}")
    except Exception as error:
        return _failed(item, what, backend=backend, error=str(error))
    metrics.record_query(backend, ok=True)
    return answer


def _failed(item: _Pending, what: str, *, backend: str, error: str) -> None:
    metrics.record_query(backend, ok=False)
    item.failed += 1
    message = f"{item.component.name}: {what} failed: {error}"
    log.warning("%s", message)
    item.errors.append(message)


def busiest(counts: list[LogCount]) -> list[LogCount]:
    """At most ``MAX_COUNT_SERIES`` of ``counts``: the ones with the most lines, in their order."""
    if len(counts) <= MAX_COUNT_SERIES:
        return counts
    ranked = sorted(range(len(counts)), key=lambda i: -sum(counts[i].values))
    keep = set(ranked[:MAX_COUNT_SERIES])
    return [count for index, count in enumerate(counts) if index in keep]


def _merge_streams(streams: list[LogStream]) -> list[LogStream]:
    """One stream per label set, lines in time order (parts were asked separately)."""
    by_labels: dict[Any, list[Any]] = {}
    for stream in streams:
        by_labels.setdefault(stream.labels, []).extend(stream.lines)
    merged = []
    for labels, lines in by_labels.items():
        unique = {(line.ts, line.line): line for line in lines}
        ordered = sorted(unique.values(), key=lambda x: x.ts)
        merged.append(LogStream(labels=labels, lines=tuple(map(_cut, ordered))))
    return merged


def _cut(line: LogLine) -> LogLine:
    """A sampled line cut to ``MAX_LINE_CHARS`` (a log line can be megabytes long)."""
    if len(line.line) <= MAX_LINE_CHARS:
        return line
    return replace(line, line=line.line[:MAX_LINE_CHARS])
