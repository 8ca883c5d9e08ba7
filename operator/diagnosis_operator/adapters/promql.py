"""An escaping PromQL builder: selectors from label maps, quoted values."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.models.querytext import QueryBuildError, label_name, matchers, quote

__all__ = ["QueryBuildError", "label_name", "quote", "selector", "series_selector"]


def selector(labels: Mapping[str, str], extra: Sequence[tuple[str, str, str]] = ()) -> str:
    """``{job="api",instance="x"}``; an empty map is refused (it would select everything)."""
    if not labels and not extra:
        raise QueryBuildError("a PromQL selector needs at least one label matcher")
    return matchers(labels, extra)


def series_selector(metric: str, labels: Mapping[str, str]) -> str:
    """``metric{labels}`` with the metric name checked like a label name (colons allowed)."""
    if not metric or not all(ch.isalnum() or ch in "_:" for ch in metric) or metric[0].isdigit():
        raise QueryBuildError(f"invalid metric name {metric!r}")
    return metric + (matchers(labels) if labels else "")
