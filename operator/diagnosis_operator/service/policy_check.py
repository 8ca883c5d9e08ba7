"""A policy's ``signalOverrides`` checked the way the engine will use them.

Each override's PromQL is a catalog template (``catalog.signals``): it may use
``{selector}``, ``{matchers}`` and ``{range}`` and must use one of the first two,
so that it reads only its component's series.  It is rendered for every
component it applies to (the named one, or every component of ``componentKind``)
through the catalog's escaping renderer, and each rendering is put to
Prometheus once.  What Prometheus refuses is reported with its own words.

A Prometheus that cannot be asked is not the policy's fault: ``check_overrides``
lets the ``SignalError`` through so the caller can say "not checked" and retry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

from diagnosis_operator.api import DiagnosisPolicySpec, PolicyComponent, SignalOverride
from diagnosis_operator.catalog.signals import (
    DEFAULT_RATE_WINDOW,
    CatalogError,
    SignalTemplate,
    parse_template,
    render,
)

__all__ = [
    "OverrideProblem",
    "OverrideRendering",
    "QueryChecker",
    "check_overrides",
    "render_overrides",
]


class QueryChecker(Protocol):
    """What ``PrometheusAdapter.check_query`` offers: the refusal, or None if accepted.

    Raises ``adapters.ports.SignalError`` when Prometheus cannot be asked.
    """

    def check_query(self, *, promql: str) -> str | None: ...


@dataclass(frozen=True, slots=True)
class OverrideRendering:
    """One override's PromQL for one component, ready to be put to Prometheus."""

    index: int
    override: str
    component: str
    promql: str


@dataclass(frozen=True, slots=True)
class OverrideProblem:
    """An override the engine could not use: which (its index and name), for which
    component, and why."""

    index: int
    override: str
    component: str | None
    promql: str | None
    error: str
    # "template": refused before any query (placeholders, scoping, selector);
    # "prometheus": the rendered query was refused by Prometheus.
    found_by: Literal["template", "prometheus"]

    @property
    def where(self) -> str:
        return f"spec.signalOverrides[{self.index}] ({self.override})"

    def describe(self) -> str:
        target = f" for component {self.component}" if self.component is not None else ""
        if self.found_by == "prometheus":
            return f"{self.where}{target}: Prometheus rejected {self.promql}: {self.error}"
        return f"{self.where}{target}: {self.error}"


def _template(override: SignalOverride) -> SignalTemplate:
    # Override names are Kubernetes names ("slow-queries"); catalog signal names
    # are PromQL-friendly ("slow_queries").
    name = override.name.replace("-", "_")
    if not name[0].isalpha():
        name = f"signal_{name}"
    return parse_template(name=name, promql=override.promql)


def _targets(override: SignalOverride, components: Sequence[PolicyComponent]) -> list[str]:
    return [
        component.name
        for component in components
        if component.name == override.component or component.kind == override.component_kind
    ]


def render_overrides(
    *, spec: DiagnosisPolicySpec, rate_window: float = DEFAULT_RATE_WINDOW
) -> tuple[list[OverrideRendering], list[OverrideProblem]]:
    """Pure.  Every override rendered for every component it applies to.

    Overrides whose template the catalog refuses (unknown placeholder, no
    ``{selector}``/``{matchers}``, a component without selector labels) come
    back as problems instead, every one of them; an override of a kind no
    component has renders nothing.  Renderings of an override with a problem for
    one component are dropped for all: it is reported, not half-checked.
    """
    selectors = {component.name: component.selector for component in spec.components}
    renderings: list[OverrideRendering] = []
    problems: list[OverrideProblem] = []
    for index, override in enumerate(spec.signal_overrides):
        try:
            template = _template(override)
        except CatalogError as error:
            problems.append(_template_problem(index, override, None, error))
            continue
        mine: list[OverrideRendering] = []
        for component in _targets(override, spec.components):
            try:
                promql = render(template, selector=selectors[component], rate_window=rate_window)
            except CatalogError as error:
                problems.append(_template_problem(index, override, component, error))
                break
            mine.append(OverrideRendering(index, override.name, component, promql))
        else:
            renderings.extend(mine)
    return renderings, problems


def _template_problem(
    index: int, override: SignalOverride, component: str | None, error: CatalogError
) -> OverrideProblem:
    return OverrideProblem(
        index=index,
        override=override.name,
        component=component,
        promql=None,
        error=str(error),
        found_by="template",
    )


def check_overrides(
    *, renderings: Sequence[OverrideRendering], checker: QueryChecker
) -> list[OverrideProblem]:
    """Put each rendering to Prometheus; one problem per refused override.

    An override refused for one component is not asked again for the others:
    one answer is enough to fix it.  ``SignalError`` (Prometheus cannot be
    asked) propagates.
    """
    refused: dict[int, OverrideProblem] = {}
    for rendering in renderings:
        if rendering.index in refused:
            continue
        error = checker.check_query(promql=rendering.promql)
        if error is not None:
            refused[rendering.index] = OverrideProblem(
                index=rendering.index,
                override=rendering.override,
                component=rendering.component,
                promql=rendering.promql,
                error=error,
                found_by="prometheus",
            )
    return list(refused.values())
