"""A component's metric series, asked the way ``core.series_plan`` plans them.

One task per component (run in the collector's pool): count the component's
series per family (one instant query), ask the declared types of those
families, then the planned range queries (one when everything fits the
allowance, one or two aggregated by instance when it does not), and cut an
answer still over the allowance.  Live the queries go to Prometheus, offline
to the bundle's PromQL subset: the same text, the same answers.

A source that cannot evaluate PromQL (``ports.AggregatingSeriesSource``), or
a collection asked for the raw path (``aggregate=False``: every series of the
selector, as the collector did before), gets ``range_series``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from diagnosis_operator.core.series_plan import SeriesPlan, cut, discovery_query, plan_series
from diagnosis_operator.models.signals import MetricType, Series, Window
from diagnosis_operator.models.topology import Component
from diagnosis_operator.ports import AggregatingSeriesSource, PartialAnswer, SeriesSource


@dataclass
class SeriesAnswer:
    """What one component's series task brought back, and the queries it sent."""

    series: list[Series]
    queries: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def describe(source: SeriesSource, *, selector: Mapping[str, str], aggregate: bool) -> str:
    """The query quoted before the answer is in: the discovery's, or the raw selector's."""
    if aggregate and isinstance(source, AggregatingSeriesSource):
        return "(planned from the series per family) " + source.describe_selector(selector=selector)
    return source.describe_selector(selector=selector)


def component_series(
    source: SeriesSource,
    *,
    component: Component,
    window: Window,
    step: float,
    limit: int,
    aggregate: bool = True,
) -> SeriesAnswer:
    """The series of ``component`` within ``limit`` (raises like the source on a failure)."""
    selector = dict(component.selector)
    partial: list[PartialAnswer] = []
    if not aggregate or not isinstance(source, AggregatingSeriesSource):
        found = _kept(partial, source.range_series, selector=selector, window=window, step=step)
        raw = SeriesAnswer(series=found, queries=[source.describe_selector(selector=selector)])
        return _whole(raw, partial, window)
    discovery = discovery_query(selector, window)
    counted = _kept(partial, source.query_instant, promql=discovery, at=window.end)
    families = {series.name: int(series.values[-1]) for series in counted if series.values}
    types = source.series_types(sorted(families))
    plan = plan_series(component=component, families=families, types=types, limit=limit)
    answer = SeriesAnswer(series=[], queries=[query.promql for query in plan.queries])
    answer.notes.extend(plan.notes)
    for query in plan.queries:
        answer.series.extend(
            _kept(partial, source.query_range, promql=query.promql, window=window, step=step)
        )
    answer.series = _typed(answer.series, types)
    return _whole(_within(answer, plan), partial, window)


def _whole(answer: SeriesAnswer, partial: list[PartialAnswer], window: Window) -> SeriesAnswer:
    """``answer``, or a ``PartialAnswer`` carrying it when one of its queries was partial."""
    if not partial:
        return answer
    first = partial[0]
    raise PartialAnswer(
        backend=first.backend,
        query=first.query,
        window=window,
        answer=answer,
        warnings=[warning for each in partial for warning in each.warnings],
    )


def _kept(
    partial: list[PartialAnswer], ask: Callable[..., list[Series]], **query: Any
) -> list[Series]:
    """The answer of one query; a partial one is kept and remembered in ``partial``."""
    try:
        return ask(**query)
    except PartialAnswer as warned:
        partial.append(warned)
        found: list[Series] = warned.answer
        return found


def _typed(found: list[Series], types: Mapping[str, MetricType]) -> list[Series]:
    """Each series with its family's declared type, sorted like ``range_series``."""
    return sorted(
        (replace(series, type=types.get(series.name, MetricType.UNKNOWN)) for series in found),
        key=lambda series: (series.name, tuple(series.labels.items())),
    )


def _within(answer: SeriesAnswer, plan: SeriesPlan) -> SeriesAnswer:
    kept, note = cut(answer.series, plan=plan)
    answer.series = kept
    if note is not None:
        answer.notes.append(note)
    return answer
