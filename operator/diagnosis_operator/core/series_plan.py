"""Which metric queries a component gets, and how many series they may bring.  Pure.

The engine reads a component's series as they are stored, minus what it never
looks at (a histogram's ``_bucket`` series, a counter's ``_created`` time:
``core.diagnosis.signals`` skips both).  The collector first counts the
component's series per metric family (``discovery_query``, one instant query),
then asks (``plan_series``):

* **everything the engine reads**, when it fits the component's allowance:
  ``{selector, __name__!~".+_bucket|.+_created"}``.  The engine sees exactly
  what a raw pull of the selector would give it, without the series it skips;
* **aggregated by instance** otherwise: the counters summed and the gauges
  maxed ``by`` the labels the engine reads (``catalog.series_labels``: the
  instance, the answer code, a summary's quantile; the metric name is kept),
  without the exporter's self-metrics (``catalog.is_self_metric``, never
  evidence).  Per-route or per-handler series become one per instance and
  code: the RED signals (error ratio, request rate, mean latency) stay the
  same, the individual routes are no longer scored.

The allowance of a component is the per-query budget, shared out of the
per-Diagnosis budget (``allowance``).  An aggregated answer that is still too
big is cut (``cut``): the families the failure-mode catalogue names for the
component's kinds are kept first, and the cut is said in a note.

Every label value and metric name is quoted (``models.querytext``) and every
family name escaped as a regular expression.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from diagnosis_operator.catalog.failure_modes import (
    catalog_kinds,
    compiled,
    is_self_metric,
    modes_of,
)
from diagnosis_operator.catalog.series_labels import KEPT_BY_AGGREGATION
from diagnosis_operator.core.diagnosis.counters import is_counter_name
from diagnosis_operator.models.querytext import QueryBuildError, duration, grouping, matchers
from diagnosis_operator.models.signals import MetricType, Series, Window
from diagnosis_operator.models.topology import Component

# What the engine never reads of a component (``core.diagnosis.signals``).
SKIPPED_NAMES = ".+_bucket|.+_created"
MAX_QUERY_SERIES = 2000
MAX_DIAGNOSIS_SERIES = 20_000
LOOKBACK = 300.0  # Prometheus' lookback: a sample this old still answers at the window start
RAW = "series"
SUMMED = "counters by instance"
MAXED = "gauges by instance"


@dataclass(frozen=True, slots=True)
class SeriesQuery:
    """One range query of a component's series, and what it asks (quoted in errors)."""

    promql: str
    what: str


@dataclass(frozen=True, slots=True)
class SeriesPlan:
    """A component's series queries, its allowance and why it was aggregated (if it was)."""

    queries: tuple[SeriesQuery, ...]
    limit: int
    priority: tuple[str, ...] = ()  # the families kept first when an answer is cut
    notes: tuple[str, ...] = ()

    @property
    def aggregated(self) -> bool:
        return any(query.what != RAW for query in self.queries)


def allowance(
    components: int,
    *,
    per_query: int = MAX_QUERY_SERIES,
    per_diagnosis: int = MAX_DIAGNOSIS_SERIES,
) -> int:
    """Pure: the series one component may bring: the query budget, or its share of the whole."""
    return max(1, min(per_query, per_diagnosis // max(1, components)))


def discovery_query(selector: Mapping[str, str], window: Window) -> str:
    """Pure: ``count by (__name__) (last_over_time({sel}[W]))``: series per family.

    Asked at the window's end over the window and the lookback before it: the
    series a range query of the window can see, less those the engine never
    reads (``SKIPPED_NAMES``: a histogram's buckets are most of a component's
    series, and counting them cost Prometheus a third of its work).
    """
    inner = _matchers(selector, ("__name__", "!~", SKIPPED_NAMES))
    return f"count by (__name__) (last_over_time({inner}[{_range(window)}]))"


def plan_series(
    *,
    component: Component,
    families: Mapping[str, int],
    types: Mapping[str, MetricType],
    limit: int,
) -> SeriesPlan:
    """Pure: the queries of ``component``, whose series per family are ``families``."""
    selector = dict(component.selector)
    wanted = {name: n for name, n in families.items() if not re.fullmatch(SKIPPED_NAMES, name)}
    total = sum(wanted.values())
    if total <= limit:
        raw = _matchers(selector, ("__name__", "!~", SKIPPED_NAMES))
        return SeriesPlan(queries=(SeriesQuery(promql=raw, what=RAW),), limit=limit)
    kinds = catalog_kinds(component, wanted)
    kept = sorted(name for name in wanted if not is_self_metric(name, kinds[0]))
    summed = [name for name in kept if _summed(name, types.get(name, MetricType.UNKNOWN))]
    maxed = [name for name in kept if name not in set(summed)]
    queries = tuple(
        SeriesQuery(promql=_aggregated(operator, selector, names), what=what)
        for operator, names, what in (("sum", summed, SUMMED), ("max", maxed, MAXED))
        if names
    )
    note = (
        f"{total} series over the component's budget of {limit}: asked aggregated "
        f"by instance ({len(summed)} counter and {len(maxed)} gauge families; "
        f"{len(wanted) - len(kept)} exporter self-metric families left out)"
    )
    return SeriesPlan(
        queries=queries, limit=limit, priority=catalogue_first(kinds, kept), notes=(note,)
    )


def catalogue_first(kinds: Sequence[str], names: Iterable[str]) -> tuple[str, ...]:
    """Pure: ``names`` with those a failure mode of ``kinds`` names first (then by name)."""
    patterns = [pattern for mode in modes_of(kinds) for pattern in mode.metrics]

    def named(name: str) -> bool:
        return any(compiled(pattern).search(name) for pattern in patterns)

    return tuple(sorted(names, key=lambda name: (not named(name), name)))


def cut(series: Sequence[Series], *, plan: SeriesPlan) -> tuple[list[Series], str | None]:
    """Pure: at most ``plan.limit`` series, the catalogue's families first; and the note."""
    if len(series) <= plan.limit:
        return list(series), None
    rank = {name: index for index, name in enumerate(plan.priority)}
    ordered = sorted(
        series,
        key=lambda s: (rank.get(s.name, len(rank)), s.name, tuple(s.labels.items())),
    )
    kept = ordered[: plan.limit]
    dropped = sorted({s.name for s in ordered[plan.limit :]} - {s.name for s in kept})
    shown = ", ".join(dropped[:5]) + (", ..." if len(dropped) > 5 else "")
    note = (
        f"{len(series)} series over the budget of {plan.limit}: {len(series) - plan.limit} left out"
    )
    if dropped:
        note += f" (families {shown})"
    kept.sort(key=lambda s: (s.name, tuple(s.labels.items())))
    return kept, note


def _summed(name: str, declared: MetricType) -> bool:
    """Counters (and a histogram's or summary's ``_count``/``_sum``) add up; levels do not."""
    if declared is MetricType.GAUGE:
        return False
    if declared is MetricType.COUNTER:
        return True
    return is_counter_name(name)


def _aggregated(operator: str, selector: Mapping[str, str], names: Sequence[str]) -> str:
    families = "|".join(re.escape(name) for name in names)
    inner = _matchers(selector, ("__name__", "=~", families))
    return f"{operator} by ({grouping(('__name__', *KEPT_BY_AGGREGATION))}) ({inner})"


def _matchers(selector: Mapping[str, str], *extra: tuple[str, str, str]) -> str:
    if not selector:
        raise QueryBuildError("a component's series query needs at least one label matcher")
    return matchers(selector, extra)


def _range(window: Window) -> str:
    return duration(window.duration + LOOKBACK)
