"""An escaping LogQL builder.  Every query the operator sends to Loki is made here.

Input never reaches LogQL unescaped: label values and filters are quoted by
``querytext.quote``, label names checked by ``querytext.label_name``.
The templates below are the whole set the operator can emit; the grammar test
(tests/integration/test_logql_grammar.py) parses each with Grafana's own LogQL
grammar.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from diagnosis_operator.adapters.querytext import (
    QueryBuildError,
    duration,
    grouping,
    matchers,
    quote,
)


def stream_selector(selector: Mapping[str, str]) -> str:
    if not selector:
        # Loki rejects a selector without a matcher; so do we, earlier and clearer.
        raise QueryBuildError("a LogQL stream selector needs at least one label matcher")
    return matchers(selector)


def log_query(*, selector: Mapping[str, str], line_filter: str | None = None) -> str:
    """``{sel} |~ "re"``: a log query (lines)."""
    query = stream_selector(selector)
    if line_filter:
        query += f" |~ {quote(line_filter)}"
    return query


def count_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    by: Sequence[str],
    step: float,
) -> str:
    """``sum by (..) (count_over_time({sel} |~ "re" [step]))``."""
    inner = f"count_over_time({log_query(selector=selector, line_filter=line_filter)} [{duration(step)}])"
    return f"sum by ({grouping(by)}) ({inner})" if by else f"sum({inner})"


def extract_count_query(
    *,
    selector: Mapping[str, str],
    line_filter: str | None,
    pattern: str,
    by: Sequence[str],
    step: float,
    top: int,
) -> str:
    """``topk(k, sum by (..) (count_over_time({sel} |~ "re" | regexp "p" [step])))``."""
    if top <= 0:
        raise QueryBuildError(f"topk needs a positive k, got {top}")
    if not by:
        raise QueryBuildError("an extracted count needs at least one label to group by")
    logs = f"{log_query(selector=selector, line_filter=line_filter)} | regexp {quote(pattern)}"
    inner = f"sum by ({grouping(by)}) (count_over_time({logs} [{duration(step)}]))"
    return f"topk({int(top)}, {inner})"
